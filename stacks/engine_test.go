package stacks_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/cmd/cloudscale/engine"
	"github.com/cloudscale/platform/stacks"
)

// TestRealEngineRendersTheLocalStack runs the local stack through the real
// Pulumi engine and Kubernetes provider (Automation API, inline program) in
// render mode: no cluster, but the same program, engine and provider as
// `cloudscale up`. `make tools` builds both into .cloudscale/bin.
func TestRealEngineRendersTheLocalStack(t *testing.T) {
	project, err := filepath.Abs("..")
	require.NoError(t, err)
	for _, tool := range []string{"pulumi", "pulumi-resource-kubernetes"} {
		_, err := os.Stat(filepath.Join(engine.BinDir(project), tool))
		require.NoError(t, err, "%s is missing: run `make tools` (the README's `make test` does)", tool)
	}
	stackFile := filepath.Join(project, "stacks", "Pulumi.local.yaml")
	before, err := os.ReadFile(stackFile)
	require.NoError(t, err)

	t.Setenv("PULUMI_BACKEND_URL", "file://"+t.TempDir())
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "")
	render := t.TempDir()
	// Four runs of the engine over the local stack's 240 resources (about
	// 75 s each here): the deadline only stops a hung engine.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	var out bytes.Buffer
	op := func(op engine.Op) engine.Summary {
		t.Helper()
		sum, err := engine.Run(ctx, engine.Request{
			Op: op, Stack: "local", ProjectDir: project, Out: &out,
			Program: stacks.Program(stacks.Options{RenderDir: render, StacksDir: project + "/stacks"}),
		})
		require.NoError(t, err, out.String())
		assert.Equal(t, "succeeded", sum.Result)
		return sum
	}

	first := op(engine.Up)
	assert.Greater(t, first.Changes["create"], 5, out.String())
	assert.Contains(t, out.String(), "kubernetes:networking.k8s.io/v1:NetworkPolicy")

	// What the provider wrote is the program's objects, as the cluster
	// would receive them.
	kinds := map[string]map[string]any{}
	files, err := filepath.Glob(filepath.Join(render, "1-manifest", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var obj map[string]any
		require.NoError(t, yaml.Unmarshal(data, &obj), f)
		md := obj["metadata"].(map[string]any)
		kinds[obj["kind"].(string)+"/"+md["name"].(string)] = obj
	}
	ns := kinds["Namespace/cloudscale"]
	require.NotNil(t, ns, "rendered: %v", keys(kinds))
	labels := ns["metadata"].(map[string]any)["labels"].(map[string]any)
	assert.Equal(t, "restricted", labels["pod-security.kubernetes.io/enforce"])
	require.NotNil(t, kinds["StorageClass/cloudscale-encrypted"])
	deny := kinds["NetworkPolicy/default-deny"]
	require.NotNil(t, deny)
	assert.Equal(t, []any{"Ingress", "Egress"}, deny["spec"].(map[string]any)["policyTypes"])

	// The stores' credentials are generated in the cluster: no Secret of
	// theirs is rendered, every container reads them by reference, and no
	// rendered file holds a password setting.
	for name, obj := range kinds {
		if obj["kind"] == "Secret" {
			// The gateway's API keys Secret is a placeholder Vault fills.
			assert.NotRegexp(t, `^Secret/(redis|postgres|mongodb|rabbitmq)-`, name, "the stores' Secrets are the operators'")
		}
	}
	require.NotNil(t, kinds["PerconaServerMongoDB/mongodb"])
	require.NotNil(t, kinds["RabbitmqCluster/rabbitmq"])
	for name, obj := range kinds {
		switch obj["kind"] {
		case "PerconaServerMongoDB":
			for _, u := range obj["spec"].(map[string]any)["users"].([]any) {
				assert.NotContains(t, u, "passwordSecretRef", "%s: the operator generates the password", name)
			}
		case "User":
			assert.NotContains(t, obj["spec"], "importCredentialsSecret", "%s: the operator generates the credentials", name)
		}
	}
	// No connection string with credentials, no key or password value.
	leak := regexp.MustCompile(`(?i)(mongodb(\+srv)?|amqps?|redis|postgres(ql)?)://[^/\s:@"]+:[^@\s"]+@|-----BEGIN [A-Z ]*PRIVATE KEY|"?(password|encryptionKey|apiKey)"?:\s*"?[A-Za-z0-9+/=]{12,}`)
	require.NotNil(t, kinds["StatefulSet/redis-state"])
	require.NotNil(t, kinds["Cluster/postgres-orders"])
	// Every password setting names the variable the container reads
	// from the Secret, never a value.
	setting := regexp.MustCompile(`(requirepass|masterauth|auth-pass \S+|sentinel-pass)[\s\\"]+([^\s\\"]+)`)
	settings := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range setting.FindAllStringSubmatch(string(data), -1) {
			settings++
			assert.Equal(t, "${REDIS_PASSWORD}", m[2], "%s: %s", f, m[0])
		}
	}
	assert.Positive(t, settings, "the scripts set the password from the environment")
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Empty(t, leak.FindAllString(string(data), -1), f)
	}
	var sts struct {
		Spec struct {
			Template struct {
				Spec corev1.PodSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	data, err := yaml.Marshal(kinds["StatefulSet/redis-state"])
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &sts))
	for _, c := range sts.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == "REDIS_PASSWORD" {
				assert.Empty(t, e.Value, c.Name)
				assert.Equal(t, "redis-auth", e.ValueFrom.SecretKeyRef.Name, c.Name)
			}
		}
	}

	// A second up changes nothing.
	second := op(engine.Up)
	assert.Zero(t, second.Changes["create"]+second.Changes["update"]+second.Changes["replace"]+second.Changes["delete"], out.String())
	assert.Greater(t, second.Changes["same"], 5)

	op(engine.Destroy)

	// Rendering with a throwaway state writes every object again, even into
	// an emptied directory that a kept state would call unchanged.
	require.NoError(t, os.RemoveAll(render))
	sum, err := engine.Run(ctx, engine.Request{Op: engine.Up, Stack: "local", ProjectDir: project, Out: &out, Ephemeral: true,
		Program: stacks.Program(stacks.Options{RenderDir: render, StacksDir: project + "/stacks"})})
	require.NoError(t, err, out.String())
	assert.Equal(t, first.Changes["create"], sum.Changes["create"])
	again, err := filepath.Glob(filepath.Join(render, "1-manifest", "*.yaml"))
	require.NoError(t, err)
	assert.Len(t, again, len(files))

	after, err := os.ReadFile(stackFile)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the engine must not rewrite the committed stack file")
}

func keys(m map[string]map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, ", ")
}
