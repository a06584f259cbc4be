package infra

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/naming"
)

// StorageClassArgs are what differs between clouds: the CSI driver and its
// encryption parameters.
type StorageClassArgs struct {
	Provisioner string
	Parameters  pulumi.StringMapInput
	// Annotations are added to the default-class annotation.
	Annotations map[string]string
}

// NewKubernetes is the Kubernetes provider for a cloud's cluster, from its
// kubeconfig (a secret), created once providerDeps exist (the node pools,
// so the tiers find nodes), and the encrypted default storage class on it,
// once scDeps exist (the CSI driver that provisions its volumes).
func NewKubernetes(ctx *pulumi.Context, name string, parent pulumi.Resource, kubeconfig pulumi.StringOutput, sc StorageClassArgs, providerDeps, scDeps []pulumi.Resource) (*kubernetes.Provider, error) {
	provider, err := kubernetes.NewProvider(ctx, name+"-k8s", &kubernetes.ProviderArgs{
		Kubeconfig: kubeconfig,
	}, pulumi.Parent(parent), pulumi.DependsOn(providerDeps))
	if err != nil {
		return nil, err
	}
	if _, err := NewStorageClass(ctx, name+"-storage", sc, parent, provider, scDeps...); err != nil {
		return nil, err
	}
	return provider, nil
}

// NewStorageClass registers the platform's default StorageClass, the same
// on every target: bound where the pod lands (volumes are zonal), retained
// when a claim goes, expandable.
func NewStorageClass(ctx *pulumi.Context, name string, args StorageClassArgs, parent pulumi.Resource, provider *kubernetes.Provider, deps ...pulumi.Resource) (*storagev1.StorageClass, error) {
	annotations := pulumi.StringMap{"storageclass.kubernetes.io/is-default-class": pulumi.String("true")}
	for k, v := range args.Annotations {
		annotations[k] = pulumi.String(v)
	}
	return storagev1.NewStorageClass(ctx, name, &storagev1.StorageClassArgs{
		Metadata:             &metav1.ObjectMetaArgs{Name: pulumi.String(naming.StorageClass), Annotations: annotations},
		Provisioner:          pulumi.String(args.Provisioner),
		Parameters:           args.Parameters,
		VolumeBindingMode:    pulumi.String("WaitForFirstConsumer"),
		ReclaimPolicy:        pulumi.String("Retain"),
		AllowVolumeExpansion: pulumi.Bool(true),
	}, pulumi.Parent(parent), pulumi.Provider(provider), pulumi.DependsOn(deps))
}
