package stacks_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/mockstack"
	"github.com/cloudscale/platform/stacks/spec"
)

// await reads an output's value under mocks.
func await[T any](o pulumi.Output) T {
	ch := make(chan T, 1)
	o.ApplyT(func(v T) T { ch <- v; return v })
	return <-ch
}

// Every cloud tier hands the Kubernetes tiers the same contract: the
// kubeconfig's content (never a path), one service-account type, a typed
// backup-store kind, the distribution, and load-balancer annotations
// only where the cloud needs them.
func TestClusterMeansTheSameOnEveryTarget(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600))
	want := map[spec.Cloud]struct {
		dist   infra.Distribution
		backup infra.BackupKind
		lb     bool
	}{
		spec.AWS: {infra.EKS, infra.S3, true}, spec.Azure: {infra.AKS, infra.AzureBlob, false},
		spec.GCP: {infra.GKE, infra.GCS, false}, spec.Local: {infra.Local, infra.S3, false},
	}
	names, err := spec.Discover(".")
	require.NoError(t, err)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := spec.LoadFile(spec.FilePath(".", name))
			require.NoError(t, err)
			var c infra.Cluster
			var content string
			err = pulumi.RunErr(func(ctx *pulumi.Context) error {
				p, err := stacks.NewPlatform(ctx, s, stacks.Options{Kubeconfig: kubeconfig})
				if err != nil {
					return err
				}
				c = p.Cluster
				content = await[string](c.Kubeconfig)
				return nil
			}, pulumi.WithMocks(mockstack.Project, name, mockstack.Monitor(s)))
			require.NoError(t, err)
			w := want[s.Cloud]
			assert.Equal(t, w.dist, c.Distribution)
			assert.Equal(t, w.backup, c.Backups.Kind)
			assert.Equal(t, infra.ServiceAccount{Namespace: s.Namespace, Name: infra.BackupServiceAccountName}, c.Identity.BackupServiceAccount)
			assert.Equal(t, w.lb, len(c.LoadBalancerAnnotations) > 0)
			assert.Contains(t, content, "kind: Config", "the kubeconfig's content, not a path")
		})
	}
}
