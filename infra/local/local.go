// Package local is the cloud tier of the local stack: a Kubernetes API
// server on this machine whose nodes are simulated (see `cloudscale cluster
// start`), or a directory that the Kubernetes provider renders YAML into.
package local

import (
	"errors"
	"io/fs"
	"os"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

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
}

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
	// on every target, and says plainly that it is simulated.
	sc, err := infra.NewStorageClass(ctx, name+"-storage", infra.StorageClassArgs{
		Provisioner: "kubernetes.io/no-provisioner",
		Annotations: map[string]string{"cloudscale.io/encryption": "simulated"},
	}, c, provider)
	if err != nil {
		return nil, err
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
		Keys: infra.Keys{
			Secrets: pulumi.String("").ToStringOutput(),
			Storage: pulumi.String("").ToStringOutput(),
		},
		Backups: infra.BackupStore{
			Kind:     infra.NoBackups,
			Bucket:   pulumi.String("").ToStringOutput(),
			Endpoint: pulumi.String("").ToStringOutput(),
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
