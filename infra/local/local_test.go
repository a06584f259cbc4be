package local_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/infra/local"
	"github.com/cloudscale/platform/naming"
)

const (
	pvType = "kubernetes:core/v1:PersistentVolume"
	scType = "kubernetes:storage.k8s.io/v1:StorageClass"
)

func run(t *testing.T, args local.ClusterArgs) ([]corev1.PersistentVolume, *storagev1.StorageClass) {
	t.Helper()
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := local.NewCluster(ctx, "local", &args)
		return err
	})
	require.NoError(t, err)
	var pvs []corev1.PersistentVolume
	for _, r := range g.OfType(pvType) {
		pvs = append(pvs, *componenttest.Decode[corev1.PersistentVolume](t, r.Inputs, r.Name))
	}
	return pvs, componenttest.Object[storagev1.StorageClass](t, g, scType, "local-storage")
}

// The simulated nodes have no disks and nothing provisions volumes, so the
// local cluster holds a pool of volumes of its class that a StatefulSet's
// claims bind, wherever its pods are scheduled; rendering shows them too.
func TestStaticallyProvisionedVolumes(t *testing.T) {
	for _, args := range []local.ClusterArgs{
		{Kubeconfig: "/nonexistent/kubeconfig", Zones: []string{"zone-a", "zone-b", "zone-c"}},
		{RenderDir: t.TempDir(), Zones: []string{"zone-a", "zone-b", "zone-c"}},
	} {
		pvs, sc := run(t, args)
		assert.Equal(t, storagev1.VolumeBindingWaitForFirstConsumer, *sc.VolumeBindingMode, "a free volume is chosen where the pod is scheduled")
		assert.Equal(t, "kubernetes.io/no-provisioner", sc.Provisioner)
		require.Len(t, pvs, local.DefaultVolumes)
		names := map[string]bool{}
		for _, pv := range pvs {
			names[pv.Name] = true
			assert.Equal(t, naming.StorageClass, pv.Spec.StorageClassName, pv.Name)
			assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pv.Spec.AccessModes, pv.Name)
			assert.Equal(t, corev1.PersistentVolumeReclaimRetain, pv.Spec.PersistentVolumeReclaimPolicy, pv.Name)
			size := pv.Spec.Capacity[corev1.ResourceStorage]
			assert.GreaterOrEqual(t, size.Cmp(resource.MustParse("100Gi")), 0, "%s holds the stacks' largest claim", pv.Name)
			require.NotNil(t, pv.Spec.CSI, pv.Name)
			assert.Equal(t, local.VolumeDriver, pv.Spec.CSI.Driver, pv.Name)
			assert.Equal(t, pv.Name, pv.Spec.CSI.VolumeHandle)
			assert.Nil(t, pv.Spec.HostPath, "%s: the policy gate forbids host paths", pv.Name)
			assert.Nil(t, pv.Spec.NodeAffinity, "%s: a pod that claims it can go to any zone", pv.Name)
			assert.Equal(t, "true", pv.Annotations["pulumi.com/skipAwait"], "%s: destroy does not wait for its claim to go", pv.Name)
		}
		assert.Len(t, names, local.DefaultVolumes, "every volume has a name of its own")
	}

	pvs, _ := run(t, local.ClusterArgs{RenderDir: t.TempDir(), Zones: []string{"zone-a"}, Volumes: 3})
	assert.Len(t, pvs, 3)
	_, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := local.NewCluster(ctx, "local", &local.ClusterArgs{RenderDir: t.TempDir(), Zones: []string{"zone-a"}, Volumes: -1})
		return err
	})
	assert.ErrorContains(t, err, "local cluster: -1 volumes")
}
