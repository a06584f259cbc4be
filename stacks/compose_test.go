package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/stacks/spec"
)

// Every stack composes under mocks, and every stack hands the Kubernetes
// tiers the same contract: a provider, the encrypted default storage class
// and the baseline namespace with its default-deny policy.
func TestAllStacksCompose(t *testing.T) {
	names, err := spec.Discover(".")
	require.NoError(t, err)
	require.Len(t, names, 6)
	clusterType := map[spec.Cloud]string{
		spec.Local: "cloudscale:infra:LocalCluster", spec.AWS: "cloudscale:infra:AwsCluster",
		spec.Azure: "cloudscale:infra:AzureCluster", spec.GCP: "cloudscale:infra:GcpCluster",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			res := run(t, name)
			g := res.Graph
			root := named(t, g, "cloudscale:stack:Platform", name)
			cluster := one(t, g, clusterType[res.Spec.Cloud])
			assert.Equal(t, root.URN, cluster.Parent)
			sc := one(t, g, "kubernetes:storage.k8s.io/v1:StorageClass")
			assert.Equal(t, "cloudscale-encrypted", sc.String("metadata.name"))
			assert.Equal(t, cluster.URN, sc.Parent)
			ns := one(t, g, "kubernetes:core/v1:Namespace")
			assert.Equal(t, "cloudscale", ns.String("metadata.name"))
			one(t, g, "pulumi:providers:kubernetes")
			for _, r := range g.Resources {
				if r.URN != root.URN {
					assert.NotEmpty(t, r.Parent, "%s %s has no parent", r.Type, r.Name)
				}
			}
			if res.Spec.Cloud != spec.Local {
				k8s := one(t, g, "pulumi:providers:kubernetes")
				assert.Equal(t, graph.SecretValue, k8s.Inputs["kubeconfig"], "a cloud kubeconfig is a secret")
			}
		})
	}
}
