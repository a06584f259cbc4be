package infra

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// ExecKubeconfig is a kubeconfig whose user runs a credential plugin (aws
// eks get-token, gke-gcloud-auth-plugin, kubelogin), so it holds no
// long-lived credential. Callers still keep it as a Pulumi secret: it names
// the private endpoint and the cluster CA.
func ExecKubeconfig(name, server, caData, command string, args []string, provideClusterInfo bool) (string, error) {
	if server == "" || caData == "" {
		return "", fmt.Errorf("kubeconfig for %s: endpoint and certificate authority are required", name)
	}
	exec := map[string]any{"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command}
	if len(args) > 0 {
		exec["args"] = args
	}
	if provideClusterInfo {
		exec["provideClusterInfo"] = true
	}
	out, err := yaml.Marshal(map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": name,
		"clusters":        []any{map[string]any{"name": name, "cluster": map[string]any{"server": server, "certificate-authority-data": caData}}},
		"contexts":        []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
		"users":           []any{map[string]any{"name": name, "user": map[string]any{"exec": exec}}},
	})
	return string(out), err
}
