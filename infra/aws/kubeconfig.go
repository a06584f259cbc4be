package aws

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// Kubeconfig reaches an EKS cluster with a token from `aws eks get-token`,
// so it holds no long-lived credential; it is still kept as a secret.
func Kubeconfig(clusterName, region, endpoint, caData string) (string, error) {
	if endpoint == "" || caData == "" {
		return "", fmt.Errorf("kubeconfig for %s: endpoint and certificate authority are required", clusterName)
	}
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": clusterName,
		"clusters": []any{map[string]any{"name": clusterName, "cluster": map[string]any{
			"server": endpoint, "certificate-authority-data": caData,
		}}},
		"contexts": []any{map[string]any{"name": clusterName, "context": map[string]any{
			"cluster": clusterName, "user": clusterName,
		}}},
		"users": []any{map[string]any{"name": clusterName, "user": map[string]any{
			"exec": map[string]any{
				"apiVersion": "client.authentication.k8s.io/v1beta1",
				"command":    "aws",
				"args":       []string{"eks", "get-token", "--cluster-name", clusterName, "--region", region, "--output", "json"},
			},
		}}},
	}
	out, err := yaml.Marshal(cfg)
	return string(out), err
}
