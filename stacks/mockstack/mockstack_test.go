package mockstack

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/stacks"
)

const stackDir = ".."

func TestLocalStackResources(t *testing.T) {
	res, err := RunDir(stackDir, "local", stacks.Options{})
	require.NoError(t, err)
	g := res.Graph

	root, ok := g.Named("cloudscale:stack:Platform", "local")
	require.True(t, ok, "root component")
	cluster, ok := g.Named("cloudscale:infra:LocalCluster", "local")
	require.True(t, ok)
	assert.Equal(t, root.URN, cluster.Parent, "the cloud tier is a child of the stack's root")

	provider, ok := g.Named("pulumi:providers:kubernetes", "local")
	require.True(t, ok)
	assert.Equal(t, cluster.URN, provider.Parent)
	assert.Equal(t, ".cloudscale/cluster/kubeconfig", provider.Inputs["kubeconfig"])
	assert.Equal(t, true, provider.Inputs["deleteUnreachable"])

	sc, ok := g.Named("kubernetes:storage.k8s.io/v1:StorageClass", "local-storage")
	require.True(t, ok)
	assert.Equal(t, "cloudscale-encrypted", sc.String("metadata.name"))
	annotations, _ := sc.Get("metadata.annotations")
	assert.Equal(t, map[string]any{
		"storageclass.kubernetes.io/is-default-class": "true",
		"cloudscale.io/encryption":                    "simulated",
	}, annotations)
	assert.Equal(t, "WaitForFirstConsumer", sc.Inputs["volumeBindingMode"])

	ns, ok := g.Named("kubernetes:core/v1:Namespace", "cloudscale")
	require.True(t, ok)
	labels, _ := ns.Get("metadata.labels")
	assert.Equal(t, "restricted", labels.(map[string]any)["pod-security.kubernetes.io/enforce"])

	deny, ok := g.Named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "cloudscale-default-deny")
	require.True(t, ok)
	assert.Equal(t, "cloudscale", deny.String("metadata.namespace"))
	assert.Equal(t, []any{"Ingress", "Egress"}, deny.Inputs["spec"].(map[string]any)["policyTypes"])
	assert.Equal(t, map[string]any{}, deny.Inputs["spec"].(map[string]any)["podSelector"], "selects every pod")

	for _, r := range g.Resources {
		if r.Type != "cloudscale:stack:Platform" {
			assert.NotEmpty(t, r.Parent, "%s %s has no parent", r.Type, r.Name)
		}
	}
}

func TestRenderDirReachesTheProvider(t *testing.T) {
	dir := t.TempDir()
	res, err := RunDir(stackDir, "local", stacks.Options{RenderDir: dir})
	require.NoError(t, err)
	provider, ok := res.Graph.Named("pulumi:providers:kubernetes", "local")
	require.True(t, ok)
	assert.Equal(t, dir, provider.Inputs["renderYamlToDirectory"])
	assert.NotContains(t, provider.Inputs, "kubeconfig")
}

func TestBadConfigStopsBeforeAnyResource(t *testing.T) {
	res, err := Run("local", map[string]string{"cloudscale:cloud": "local", "cloudscale:environment": "dev", "cloudscale:replicaCount": "0"}, stacks.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cloudscale:replicaCount: Invalid value: 0: out of range")
	assert.Empty(t, res.Graph.Resources)
}
