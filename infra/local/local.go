// Package local is the cloud tier of the local stack: a Kubernetes API
// server on this machine whose nodes are simulated (see `cloudscale cluster
// start`), or a directory that the Kubernetes provider renders YAML into.
package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

// SimulatedBucket is the local stack's backup store: a name in API objects
// only (like the simulated pods' addresses), never reached.
const SimulatedBucket = "cloudscale-local-backups.simulated"

// ClusterArgs say where the local stack deploys.
type ClusterArgs struct {
	// Kubeconfig is the path of the simulated cluster's kubeconfig.
	Kubeconfig string
	// RenderDir, when set, makes the provider write YAML there instead of
	// calling a cluster. It must be absolute.
	RenderDir string
	// Zones are the zone labels of the simulated nodes.
	Zones []string
	// Namespace is the platform's namespace (where backup jobs would run).
	Namespace string
	// Volumes is how many PersistentVolumes the pool holds (0:
	// DefaultVolumes); see newVolumes.
	Volumes int
}

// DefaultVolumes is the pool's default size: the data tier's two sets of
// 3 (a CloudNativePG Cluster's instances and the Valkey StatefulSet's
// servers) take 6, and the other 6 are headroom for the claims a set makes
// again (a replaced instance gets a new claim, and a released volume is
// not bound again, see newVolumes) or for a WAL volume per instance. A
// stack with more databases sets ClusterArgs.Volumes.
const DefaultVolumes = 12

// The pool's volumes.
const (
	// VolumeCapacity is each volume's size: at least any single claim of
	// the stacks (persistence.size is 100Gi, a Valkey server's 10Gi). The
	// binder gives a claim a volume at least as large as it asks for.
	VolumeCapacity = "200Gi"
	// VolumeDriver is the CSI driver the volumes name: none runs, and the
	// name says so. The simulated nodes' kubelets (kwok) mount nothing,
	// and they do not ask the attach/detach controller to attach (no
	// controller-managed-attach-detach annotation), so no VolumeAttachment
	// waits for a driver.
	VolumeDriver = "simulated.cloudscale.io"
)

// Cluster is the local cloud tier.
type Cluster struct {
	pulumi.ResourceState

	Provider     *kubernetes.Provider
	StorageClass pulumi.StringOutput
	// Out is what the Kubernetes tiers receive.
	Out infra.Cluster
}

// NewCluster registers the local cloud tier.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil || (args.Kubeconfig == "" && args.RenderDir == "") {
		return nil, errors.New("local cluster: a kubeconfig path or a render directory is required")
	}
	if len(args.Zones) == 0 {
		return nil, errors.New("local cluster: at least one zone is required")
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("cloudscale:infra:LocalCluster", name, c, opts...); err != nil {
		return nil, err
	}

	pargs := &kubernetes.ProviderArgs{
		// The simulated cluster can be wiped with `cluster start --fresh`;
		// destroy must still succeed then.
		DeleteUnreachable: pulumi.Bool(true),
	}
	if args.RenderDir != "" {
		pargs.RenderYamlToDirectory = pulumi.String(args.RenderDir)
	} else {
		pargs.Kubeconfig = pulumi.String(args.Kubeconfig)
	}
	provider, err := kubernetes.NewProvider(ctx, name, pargs, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}

	// Simulated nodes have no disks, so nothing provisions or encrypts
	// volumes here; the class exists so that every tier binds the same name
	// on every target, and says plainly that it is simulated. Its claims
	// bind the pool of volumes registered with it (newVolumes).
	sc, err := infra.NewStorageClass(ctx, name+"-storage", infra.StorageClassArgs{
		Provisioner: "kubernetes.io/no-provisioner",
		Annotations: map[string]string{"cloudscale.io/encryption": "simulated"},
	}, c, provider)
	if err != nil {
		return nil, err
	}
	pvs, err := newVolumes(ctx, name, args.Volumes, c, provider, sc)
	if err != nil {
		return nil, err
	}
	var volumes []pulumi.Resource
	for _, pv := range pvs {
		volumes = append(volumes, pv)
	}

	c.Provider = provider
	c.StorageClass = sc.Metadata.Name().Elem()
	c.Out = infra.Cluster{
		Name:         name,
		Distribution: infra.Local,
		Provider:     provider,
		Kubeconfig:   kubeconfigContent(args),
		Zones:        args.Zones,
		StorageClass: naming.StorageClass,
		Volumes:      volumes,
		Keys: infra.Keys{
			Secrets: pulumi.String("").ToStringOutput(),
			Storage: pulumi.String("").ToStringOutput(),
		},
		// A simulated S3 bucket: the local stack rehearses staging's
		// backups (WAL archiving, schedules, retention) as objects the
		// policy gate judges; nothing runs to write to it, and the name
		// resolves nowhere.
		Backups: infra.BackupStore{
			Kind:     infra.S3,
			Bucket:   pulumi.String(SimulatedBucket).ToStringOutput(),
			Endpoint: pulumi.String("s3://" + SimulatedBucket).ToStringOutput(),
		},
		Identity: infra.WorkloadIdentity{
			BackupServiceAccount: infra.BackupServiceAccount(args.Namespace),
			Annotations:          pulumi.StringMap{}.ToStringMapOutput(),
		},
		Rendering: args.RenderDir != "",
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"storageClass": c.StorageClass,
		"zones":        pulumi.ToStringArray(args.Zones),
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// newVolumes registers the pool of statically provisioned volumes of the
// storage class: nothing provisions a claim's volume here, so without them
// a StatefulSet's (or a CloudNativePG instance's) claims stay Pending and
// its pods are never scheduled. The class binds WaitForFirstConsumer: the
// scheduler picks a free volume of the class, as large as the claim asks,
// when it places the claim's first pod, and the volume controller binds
// them. The volumes have no node affinity, so a pod can go to any zone
// (the nodes hold nothing that a volume would tie a pod to).
//
// They are Retain, like the class: when a claim goes, its volume is
// Released and kept, not bound again, as a real disk would be. Delete
// would not free it either: no driver deletes the disk, and the volume
// controller marks the volume Failed. So the pool is used up by the
// claims made over the stack's life, and a destroy and up refill it.
//
// The Kubernetes tiers depend on them (infra.Cluster.Volumes), so a
// destroy deletes the namespaces, and with them the claims that hold the
// volumes, before the volumes: a bound volume cannot go before its claim.
//
// Rendered YAML holds them too: it shows what deploys.
func newVolumes(ctx *pulumi.Context, name string, count int, parent pulumi.Resource, provider *kubernetes.Provider, class pulumi.Resource) ([]*corev1.PersistentVolume, error) {
	if count < 0 {
		return nil, fmt.Errorf("local cluster: %d volumes", count)
	}
	if count == 0 {
		count = DefaultVolumes
	}
	var out []*corev1.PersistentVolume
	for i := range count {
		volume := fmt.Sprintf("%s-simulated-%02d", naming.Project, i)
		pv, err := corev1.NewPersistentVolume(ctx, fmt.Sprintf("%s-volume-%02d", name, i), &corev1.PersistentVolumeArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:   pulumi.String(volume),
				Labels: pulumi.StringMap{"cloudscale.io/simulated": pulumi.String("true")},
				Annotations: pulumi.StringMap{
					"cloudscale.io/encryption": pulumi.String("simulated"),
					"pulumi.com/skipAwait":     pulumi.String("true"),
				},
			},
			Spec: &corev1.PersistentVolumeSpecArgs{
				StorageClassName:              pulumi.String(naming.StorageClass),
				Capacity:                      pulumi.StringMap{"storage": pulumi.String(VolumeCapacity)},
				AccessModes:                   pulumi.StringArray{pulumi.String("ReadWriteOnce")},
				VolumeMode:                    pulumi.String("Filesystem"),
				PersistentVolumeReclaimPolicy: pulumi.String("Retain"),
				Csi: &corev1.CSIPersistentVolumeSourceArgs{
					Driver:       pulumi.String(VolumeDriver),
					VolumeHandle: pulumi.String(volume),
				},
			},
		}, pulumi.Parent(parent), pulumi.Provider(provider), pulumi.DependsOn([]pulumi.Resource{class}))
		if err != nil {
			return nil, err
		}
		out = append(out, pv)
	}
	return out, nil
}

// kubeconfigContent is the simulated cluster's kubeconfig, read when the
// outputs resolve: empty while rendering, or before `cloudscale cluster
// start` has written it (a preview or the policy gate needs no cluster).
func kubeconfigContent(args *ClusterArgs) pulumi.StringOutput {
	path := args.Kubeconfig
	if args.RenderDir != "" {
		path = ""
	}
	content := pulumi.String(path).ToStringOutput().ApplyT(func(p string) (string, error) {
		if p == "" {
			return "", nil
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return string(data), err
	}).(pulumi.StringOutput)
	return pulumi.ToSecret(content).(pulumi.StringOutput)
}
