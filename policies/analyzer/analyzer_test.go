package analyzer_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPulumiPreviewEnforcesThePolicyPack builds the analyzer binary and has
// the real Pulumi CLI load it with `--policy-pack <binary>`: a preview that
// creates a NodePort Service fails on CS-NET-006 (mandatory in prod), and
// the same program with a ClusterIP Service passes. `make tools` builds the
// CLI and the Kubernetes provider into .cloudscale/bin.
func TestPulumiPreviewEnforcesThePolicyPack(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := filepath.Join(root, ".cloudscale", "bin")
	for _, tool := range []string{"pulumi", "pulumi-resource-kubernetes"} {
		_, err := os.Stat(filepath.Join(bin, tool))
		require.NoError(t, err, "%s is missing: run `make tools` (the README's `make test` does)", tool)
	}
	pack := filepath.Join(t.TempDir(), "cloudscale-policy")
	build := exec.Command("go", "build", "-o", pack, "./cmd/cloudscale-policy")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	render := t.TempDir()
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Join(root, ".cloudscale")})
	require.NoError(t, err)
	env := map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + t.TempDir(),
		"PULUMI_CONFIG_PASSPHRASE": "analyzer-test",
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		"PATH":                     bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	preview := func(serviceType string) (string, error) {
		program := func(ctx *pulumi.Context) error {
			p, err := kubernetes.NewProvider(ctx, "render", &kubernetes.ProviderArgs{RenderYamlToDirectory: pulumi.String(render)})
			if err != nil {
				return err
			}
			_, err = corev1.NewService(ctx, "web", &corev1.ServiceArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("web"), Namespace: pulumi.String("shop")},
				Spec: &corev1.ServiceSpecArgs{
					Type:     pulumi.String(serviceType),
					Selector: pulumi.StringMap{"app": pulumi.String("web")},
					Ports:    corev1.ServicePortArray{&corev1.ServicePortArgs{Port: pulumi.Int(80)}},
				},
			}, pulumi.Provider(p))
			return err
		}
		stack, err := auto.UpsertStackInlineSource(ctx, "prod", "analyzertest", program,
			auto.WorkDir(t.TempDir()), auto.Pulumi(cmd), auto.EnvVars(env))
		require.NoError(t, err)
		require.NoError(t, stack.SetConfig(ctx, "cloudscale:environment", auto.ConfigValue{Value: "prod"}))
		var buf bytes.Buffer
		_, err = stack.Preview(ctx, optpreview.PolicyPacks(pack), optpreview.ProgressStreams(&buf), optpreview.ErrorProgressStreams(&buf))
		return buf.String(), err
	}

	out1, err := preview("NodePort")
	require.Error(t, err, out1)
	all := out1 + err.Error()
	assert.Contains(t, all, "CS-NET-006")
	assert.Contains(t, all, "Service shop/web is of type NodePort")
	assert.True(t, strings.Contains(all, "mandatory"), all)

	out2, err := preview("ClusterIP")
	require.NoError(t, err, out2)
	assert.Contains(t, out2, "cloudscale")
}
