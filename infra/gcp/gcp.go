// Package gcp is the cloud tier on GCP: a custom VPC with secondary ranges
// and flow logs, a regional GKE cluster over three zones with private
// nodes, authorized networks, Dataplane V2, secrets encrypted with Cloud
// KMS, workload identity and shielded nodes; CMEK boot disks on pd-ssd; KMS
// keys rotated every 90 days; a CMEK, versioned, never-public bucket
// for backups; and a CMEK Artifact Registry with immutable tags and
// vulnerability scanning for the services' images.
package gcp

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/compute"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/kms"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/organizations"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/storage"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

// KeyRotationPeriod is the guide's 90 days, as Cloud KMS writes it.
const KeyRotationPeriod = "7776000s"

// ClusterArgs describe the cluster to build.
type ClusterArgs struct {
	infra.ClusterSpec
	// Project is the GCP project that holds everything.
	Project string
}

// Cluster is the GCP cloud tier.
type Cluster struct {
	pulumi.ResourceState

	Network       pulumi.StringOutput
	ClusterName   pulumi.StringOutput
	SecretsKey    pulumi.StringOutput
	StorageKey    pulumi.StringOutput
	BackupBucket  pulumi.StringOutput
	BackupAccount pulumi.StringOutput
	Out           infra.Cluster
}

// NewCluster registers the GCP cloud tier.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil {
		return nil, errors.New("gcp cluster: args are required")
	}
	if err := args.Validate("gcp"); err != nil {
		return nil, err
	}
	if args.Project == "" {
		return nil, errors.New("gcp cluster: project is required")
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("cloudscale:infra:GcpCluster", name, c, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, c: c, a: args, name: name}
	if err := b.build(); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"network":       c.Network,
		"clusterName":   c.ClusterName,
		"secretsKey":    c.SecretsKey,
		"storageKey":    c.StorageKey,
		"backupBucket":  c.BackupBucket,
		"backupAccount": c.BackupAccount,
		"kubeconfig":    c.Out.Kubeconfig,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

type builder struct {
	ctx  *pulumi.Context
	c    *Cluster
	a    *ClusterArgs
	name string
	p    *gcp.Provider

	projectNumber string
}

func (b *builder) opts(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(b.c), pulumi.Provider(b.p)}, extra...)
}

func (b *builder) cloudName(part string, max int) string {
	return naming.Resource(b.a.Stack, part, max)
}

// provider is the GCP provider for the stack's project and region; it
// reads the project's number and checks the zones against the region's.
func (b *builder) provider() error {
	ctx, a := b.ctx, b.a
	var err error
	b.p, err = gcp.NewProvider(ctx, b.name, &gcp.ProviderArgs{
		Project:       pulumi.String(a.Project),
		Region:        pulumi.String(a.Region),
		DefaultLabels: pulumi.StringMap{"cloudscale-stack": pulumi.String(a.Stack)},
	}, pulumi.Parent(b.c))
	if err != nil {
		return err
	}
	invoke := pulumi.Provider(b.p)
	project, err := organizations.LookupProject(ctx, &organizations.LookupProjectArgs{ProjectId: &a.Project}, invoke)
	if err != nil {
		return fmt.Errorf("gcp cluster: project %s: %w", a.Project, err)
	}
	b.projectNumber = project.Number
	zones, err := compute.GetZones(ctx, &compute.GetZonesArgs{Region: &a.Region, Project: &a.Project}, invoke)
	if err != nil {
		return fmt.Errorf("gcp cluster: zones of %s: %w", a.Region, err)
	}
	for _, z := range a.Zones {
		if !slices.Contains(zones.Names, z) {
			return fmt.Errorf("gcp cluster: zone %s is not available in %s (available: %v)", z, a.Region, zones.Names)
		}
	}
	return nil
}

// kubernetes is the Kubernetes provider for the GKE cluster (once its
// node pool exists) and the encrypted default storage class (SSD
// persistent disks with the storage key).
func (b *builder) kubernetes(keys *gcpKeys, gke *gcpGKE) (*kubernetes.Provider, pulumi.StringOutput, error) {
	clusterName := b.cloudName("gke", 40)
	kubeconfig := pulumi.ToSecret(pulumi.All(gke.cluster.Endpoint, gke.cluster.MasterAuth.ClusterCaCertificate().Elem()).ApplyT(
		func(v []any) (string, error) {
			return Kubeconfig(clusterName, v[0].(string), v[1].(string))
		})).(pulumi.StringOutput)
	provider, err := infra.NewKubernetes(b.ctx, b.name, b.c, kubeconfig, infra.StorageClassArgs{
		Provisioner: "pd.csi.storage.gke.io",
		Parameters: pulumi.StringMap{
			"type":                    pulumi.String("pd-ssd"),
			"disk-encryption-kms-key": keys.storage.ID().ToStringOutput(),
		},
	}, []pulumi.Resource{gke.pool}, nil)
	return provider, kubeconfig, err
}

func (b *builder) build() error {
	a := b.a
	if err := b.provider(); err != nil {
		return err
	}
	keys, err := b.keys()
	if err != nil {
		return err
	}
	net, err := b.network()
	if err != nil {
		return err
	}
	gke, err := b.gke(net, keys)
	if err != nil {
		return err
	}
	backups, err := b.backups(keys, gke)
	if err != nil {
		return err
	}
	seal, err := b.seal(keys, gke)
	if err != nil {
		return err
	}
	registry, err := b.registry(keys)
	if err != nil {
		return err
	}

	provider, kubeconfig, err := b.kubernetes(keys, gke)
	if err != nil {
		return err
	}

	c := b.c
	c.Network = net.vpc.Name
	c.ClusterName = gke.cluster.Name
	c.SecretsKey = keys.secrets.ID().ToStringOutput()
	c.StorageKey = keys.storage.ID().ToStringOutput()
	c.BackupBucket = backups.bucket.Name
	c.BackupAccount = backups.account.Email
	c.Out = infra.Cluster{
		Name:         b.cloudName("gke", 40),
		Distribution: infra.GKE,
		Provider:     provider,
		Kubeconfig:   kubeconfig,
		Zones:        a.Zones,
		StorageClass: naming.StorageClass,
		Backups: infra.BackupStore{
			Kind:     infra.GCS,
			Bucket:   backups.bucket.Name,
			Endpoint: pulumi.Sprintf("gs://%s", backups.bucket.Name),
			Region:   a.Region,
		},
		Keys:     infra.Keys{Secrets: c.SecretsKey, Storage: c.StorageKey},
		Registry: registry,
		Seal:     seal,
		Identity: infra.WorkloadIdentity{
			BackupServiceAccount: infra.BackupServiceAccount(a.Namespace),
			Annotations:          pulumi.StringMap{"iam.gke.io/gcp-service-account": backups.account.Email}.ToStringMapOutput(),
		},
	}
	return nil
}

type gcpKeys struct {
	ring             *kms.KeyRing
	secrets, storage *kms.CryptoKey
	grants           []pulumi.Resource
}

// keys are HSM-backed Cloud KMS keys rotated every 90 days. The Google
// service agents that use them (GKE for etcd, Compute Engine for disks,
// Cloud Storage for the bucket) get encrypt/decrypt on their key only.
func (b *builder) keys() (*gcpKeys, error) {
	ctx, a := b.ctx, b.a
	k := &gcpKeys{}
	var err error
	k.ring, err = kms.NewKeyRing(ctx, b.name+"-keyring", &kms.KeyRingArgs{
		Name:     pulumi.String(b.cloudName("keys", 63)),
		Location: pulumi.String(a.Region),
		Project:  pulumi.String(a.Project),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	key := func(purpose string) (*kms.CryptoKey, error) {
		return kms.NewCryptoKey(ctx, b.name+"-"+purpose+"-key", &kms.CryptoKeyArgs{
			Name:           pulumi.String(purpose),
			KeyRing:        k.ring.ID(),
			Purpose:        pulumi.String("ENCRYPT_DECRYPT"),
			RotationPeriod: pulumi.String(KeyRotationPeriod),
			VersionTemplate: &kms.CryptoKeyVersionTemplateArgs{
				Algorithm:       pulumi.String("GOOGLE_SYMMETRIC_ENCRYPTION"),
				ProtectionLevel: pulumi.String("HSM"),
			},
		}, b.opts(pulumi.Protect(false))...)
	}
	if k.secrets, err = key("secrets"); err != nil {
		return nil, err
	}
	if k.storage, err = key("storage"); err != nil {
		return nil, err
	}
	gcsAgent, err := storage.GetProjectServiceAccount(ctx, &storage.GetProjectServiceAccountArgs{Project: &a.Project}, pulumi.Provider(b.p))
	if err != nil {
		return nil, fmt.Errorf("gcp cluster: Cloud Storage service agent: %w", err)
	}
	agents := []struct {
		part, member string
		key          *kms.CryptoKey
	}{
		{"gke-secrets", "serviceAccount:service-" + b.projectNumber + "@container-engine-robot.iam.gserviceaccount.com", k.secrets},
		{"compute-disks", "serviceAccount:service-" + b.projectNumber + "@compute-system.iam.gserviceaccount.com", k.storage},
		{"gcs-bucket", "serviceAccount:" + gcsAgent.EmailAddress, k.storage},
	}
	for _, ag := range agents {
		g, err := kms.NewCryptoKeyIAMMember(ctx, b.name+"-"+ag.part, &kms.CryptoKeyIAMMemberArgs{
			CryptoKeyId: ag.key.ID(),
			Role:        pulumi.String("roles/cloudkms.cryptoKeyEncrypterDecrypter"),
			Member:      pulumi.String(ag.member),
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		k.grants = append(k.grants, g)
	}
	return k, nil
}

type gcpNetwork struct {
	vpc    *compute.Network
	subnet *compute.Subnetwork
}

// Secondary range names GKE allocates pods and services from.
const (
	podsRange     = "pods"
	servicesRange = "services"
)

// network is a custom-mode VPC: nodes in a /20, pods and services in
// secondary ranges, flow logs on, egress through Cloud NAT (nodes have no
// public address), and a firewall that admits only HTTPS to the gateway.
func (b *builder) network() (*gcpNetwork, error) {
	ctx, a := b.ctx, b.a
	n := &gcpNetwork{}
	var err error
	n.vpc, err = compute.NewNetwork(ctx, b.name+"-vpc", &compute.NetworkArgs{
		Name:                  pulumi.String(b.cloudName("vpc", 63)),
		AutoCreateSubnetworks: pulumi.Bool(false),
		RoutingMode:           pulumi.String("REGIONAL"),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	n.subnet, err = compute.NewSubnetwork(ctx, b.name+"-nodes", &compute.SubnetworkArgs{
		Name:                  pulumi.String(b.cloudName("nodes", 63)),
		Network:               n.vpc.ID(),
		Region:                pulumi.String(a.Region),
		IpCidrRange:           pulumi.String(infra.MustSubnet(a.NetworkCIDR, 4, 0)),
		PrivateIpGoogleAccess: pulumi.Bool(true),
		SecondaryIpRanges: compute.SubnetworkSecondaryIpRangeArray{
			&compute.SubnetworkSecondaryIpRangeArgs{RangeName: pulumi.String(podsRange), IpCidrRange: pulumi.String(infra.MustSubnet(a.NetworkCIDR, 1, 1))},
			&compute.SubnetworkSecondaryIpRangeArgs{RangeName: pulumi.String(servicesRange), IpCidrRange: pulumi.String(infra.MustSubnet(a.NetworkCIDR, 4, 1))},
		},
		LogConfig: &compute.SubnetworkLogConfigArgs{
			AggregationInterval: pulumi.String("INTERVAL_5_SEC"),
			FlowSampling:        pulumi.Float64(0.5),
			Metadata:            pulumi.String("INCLUDE_ALL_METADATA"),
		},
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	router, err := compute.NewRouter(ctx, b.name+"-router", &compute.RouterArgs{
		Name: pulumi.String(b.cloudName("router", 63)), Network: n.vpc.ID(), Region: pulumi.String(a.Region),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	if _, err := compute.NewRouterNat(ctx, b.name+"-nat", &compute.RouterNatArgs{
		Name:                          pulumi.String(b.cloudName("nat", 63)),
		Router:                        router.Name,
		Region:                        pulumi.String(a.Region),
		NatIpAllocateOption:           pulumi.String("AUTO_ONLY"),
		SourceSubnetworkIpRangesToNat: pulumi.String("ALL_SUBNETWORKS_ALL_IP_RANGES"),
		LogConfig:                     &compute.RouterNatLogConfigArgs{Enable: pulumi.Bool(true), Filter: pulumi.String("ERRORS_ONLY")},
	}, b.opts()...); err != nil {
		return nil, err
	}
	// The gateway's load balancer is the only thing the internet reaches.
	if _, err := compute.NewFirewall(ctx, b.name+"-allow-https-gateway", &compute.FirewallArgs{
		Name:         pulumi.String(b.cloudName("allow-https-gateway", 63)),
		Network:      n.vpc.ID(),
		Direction:    pulumi.String("INGRESS"),
		Priority:     pulumi.Int(1000),
		SourceRanges: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
		TargetTags:   pulumi.StringArray{pulumi.String(GatewayTag)},
		Allows:       compute.FirewallAllowArray{&compute.FirewallAllowArgs{Protocol: pulumi.String("tcp"), Ports: pulumi.StringArray{pulumi.String("443")}}},
		Description:  pulumi.String("HTTPS (TLS 1.3) to the API gateway"),
		LogConfig:    &compute.FirewallLogConfigArgs{Metadata: pulumi.String("INCLUDE_ALL_METADATA")},
	}, b.opts()...); err != nil {
		return nil, err
	}
	if _, err := compute.NewFirewall(ctx, b.name+"-deny-internet", &compute.FirewallArgs{
		Name:         pulumi.String(b.cloudName("deny-internet", 63)),
		Network:      n.vpc.ID(),
		Direction:    pulumi.String("INGRESS"),
		Priority:     pulumi.Int(65000),
		SourceRanges: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
		Denies:       compute.FirewallDenyArray{&compute.FirewallDenyArgs{Protocol: pulumi.String("all")}},
		Description:  pulumi.String("nothing else from the internet"),
		LogConfig:    &compute.FirewallLogConfigArgs{Metadata: pulumi.String("INCLUDE_ALL_METADATA")},
	}, b.opts()...); err != nil {
		return nil, err
	}
	return n, nil
}

// GatewayTag marks the nodes that serve the gateway's load balancer.
const GatewayTag = "cloudscale-gateway"
