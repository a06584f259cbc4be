package gcp

import (
	"fmt"

	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/container"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
)

type gcpGKE struct {
	cluster *container.Cluster
	pool    *container.NodePool
}

// nodeRoles are the least a node's service account needs (logs, metrics,
// image pulls); workloads use their own identities.
var nodeRoles = []string{
	"roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer",
	"roles/stackdriver.resourceMetadata.writer", "roles/artifactregistry.reader",
}

// masterCIDR is the control plane's private /28, outside the VPC's plan.
const masterCIDR = "172.16.0.32/28"

// nodeAccount is the nodes' own service account with only nodeRoles.
func (b *builder) nodeAccount() (*serviceaccount.Account, error) {
	ctx, a := b.ctx, b.a
	nodeSA, err := serviceaccount.NewAccount(ctx, b.name+"-nodes", &serviceaccount.AccountArgs{
		AccountId:   pulumi.String(b.cloudName("nodes", 30)),
		DisplayName: pulumi.String("CloudScale " + a.Stack + " GKE nodes"),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	for _, role := range nodeRoles {
		if _, err := projects.NewIAMMember(ctx, fmt.Sprintf("%s-nodes-%s", b.name, role[len("roles/"):]), &projects.IAMMemberArgs{
			Project: pulumi.String(a.Project),
			Role:    pulumi.String(role),
			Member:  pulumi.Sprintf("serviceAccount:%s", nodeSA.Email),
		}, b.opts()...); err != nil {
			return nil, err
		}
	}
	return nodeSA, nil
}

// gke is the regional GKE cluster (private nodes and, without allowed
// CIDRs, a private endpoint; Dataplane V2; secrets encrypted with the
// secrets key; workload identity) and its node pool over the zones.
func (b *builder) gke(n *gcpNetwork, k *gcpKeys) (*gcpGKE, error) {
	ctx, a := b.ctx, b.a
	nodeSA, err := b.nodeAccount()
	if err != nil {
		return nil, err
	}

	authorized := container.ClusterMasterAuthorizedNetworksConfigCidrBlockArray{}
	for _, cidr := range a.APIAllowedCIDRs {
		authorized = append(authorized, &container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs{
			CidrBlock: pulumi.String(cidr), DisplayName: pulumi.String("allowed " + cidr),
		})
	}
	cluster, err := container.NewCluster(ctx, b.name+"-gke", &container.ClusterArgs{
		Name:             pulumi.String(b.cloudName("gke", 40)),
		Location:         pulumi.String(a.Region), // regional: the control plane spans the zones too
		NodeLocations:    pulumi.ToStringArray(a.Zones),
		MinMasterVersion: pulumi.String(a.KubernetesVersion),
		ReleaseChannel:   &container.ClusterReleaseChannelArgs{Channel: pulumi.String("REGULAR")},
		Network:          n.vpc.ID(),
		Subnetwork:       n.subnet.ID(),
		NetworkingMode:   pulumi.String("VPC_NATIVE"),
		IpAllocationPolicy: &container.ClusterIpAllocationPolicyArgs{
			ClusterSecondaryRangeName:  pulumi.String(podsRange),
			ServicesSecondaryRangeName: pulumi.String(servicesRange),
		},
		PrivateClusterConfig: &container.ClusterPrivateClusterConfigArgs{
			EnablePrivateNodes:    pulumi.Bool(true),
			EnablePrivateEndpoint: pulumi.Bool(len(a.APIAllowedCIDRs) == 0),
			MasterIpv4CidrBlock:   pulumi.String(masterCIDR),
		},
		MasterAuthorizedNetworksConfig: &container.ClusterMasterAuthorizedNetworksConfigArgs{
			CidrBlocks:                  authorized,
			GcpPublicCidrsAccessEnabled: pulumi.Bool(false),
		},
		MasterAuth: &container.ClusterMasterAuthArgs{
			ClientCertificateConfig: &container.ClusterMasterAuthClientCertificateConfigArgs{IssueClientCertificate: pulumi.Bool(false)},
		},
		DatapathProvider: pulumi.String("ADVANCED_DATAPATH"), // Dataplane V2: network policy built in
		DatabaseEncryption: &container.ClusterDatabaseEncryptionArgs{
			State:   pulumi.String("ENCRYPTED"),
			KeyName: k.secrets.ID(),
		},
		WorkloadIdentityConfig: &container.ClusterWorkloadIdentityConfigArgs{
			WorkloadPool: pulumi.String(a.Project + ".svc.id.goog"),
		},
		EnableShieldedNodes:   pulumi.Bool(true),
		EnableLegacyAbac:      pulumi.Bool(false),
		RemoveDefaultNodePool: pulumi.Bool(true),
		InitialNodeCount:      pulumi.Int(1),
		DeletionProtection:    pulumi.Bool(true),
		LoggingConfig: &container.ClusterLoggingConfigArgs{EnableComponents: pulumi.ToStringArray([]string{
			"SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS",
		})},
		// The default pool GKE creates and removes must meet the same bar.
		NodeConfig: &container.ClusterNodeConfigArgs{
			ServiceAccount: nodeSA.Email,
			DiskType:       pulumi.String("pd-ssd"),
			DiskSizeGb:     pulumi.Int(a.NodeDiskGiB),
			BootDiskKmsKey: k.storage.ID(),
			ShieldedInstanceConfig: &container.ClusterNodeConfigShieldedInstanceConfigArgs{
				EnableSecureBoot: pulumi.Bool(true), EnableIntegrityMonitoring: pulumi.Bool(true),
			},
		},
	}, b.opts(pulumi.DependsOn(k.grants), pulumi.IgnoreChanges([]string{"nodeConfig"}))...)
	if err != nil {
		return nil, err
	}

	pool, err := b.nodePool(cluster, nodeSA, k)
	if err != nil {
		return nil, err
	}
	return &gcpGKE{cluster: cluster, pool: pool}, nil
}

// nodePool is the general pool: NodesPerZone in each zone, autoscaled up to
// three times that, shielded COS nodes with encrypted SSD boot disks and
// the GKE metadata server (workload identity).
func (b *builder) nodePool(cluster *container.Cluster, nodeSA *serviceaccount.Account, k *gcpKeys) (*container.NodePool, error) {
	a := b.a
	return container.NewNodePool(b.ctx, b.name+"-nodes", &container.NodePoolArgs{
		Name:          pulumi.String("general"),
		Cluster:       cluster.ID(),
		Location:      pulumi.String(a.Region),
		NodeLocations: pulumi.ToStringArray(a.Zones),
		NodeCount:     pulumi.Int(a.NodesPerZone), // per zone
		Autoscaling: &container.NodePoolAutoscalingArgs{
			MinNodeCount: pulumi.Int(a.NodesPerZone), MaxNodeCount: pulumi.Int(a.NodesPerZone * 3),
			LocationPolicy: pulumi.String("BALANCED"),
		},
		Management: &container.NodePoolManagementArgs{AutoRepair: pulumi.Bool(true), AutoUpgrade: pulumi.Bool(true)},
		UpgradeSettings: &container.NodePoolUpgradeSettingsArgs{
			MaxSurge: pulumi.Int(1), MaxUnavailable: pulumi.Int(0),
		},
		NodeConfig: &container.NodePoolNodeConfigArgs{
			MachineType:    pulumi.String(a.NodeSize),
			DiskType:       pulumi.String("pd-ssd"),
			DiskSizeGb:     pulumi.Int(a.NodeDiskGiB),
			BootDiskKmsKey: k.storage.ID(),
			ImageType:      pulumi.String("COS_CONTAINERD"),
			ServiceAccount: nodeSA.Email,
			OauthScopes:    pulumi.StringArray{pulumi.String("https://www.googleapis.com/auth/cloud-platform")},
			ShieldedInstanceConfig: &container.NodePoolNodeConfigShieldedInstanceConfigArgs{
				EnableSecureBoot: pulumi.Bool(true), EnableIntegrityMonitoring: pulumi.Bool(true),
			},
			WorkloadMetadataConfig: &container.NodePoolNodeConfigWorkloadMetadataConfigArgs{Mode: pulumi.String("GKE_METADATA")},
			Metadata:               pulumi.StringMap{"disable-legacy-endpoints": pulumi.String("true")},
			Tags:                   pulumi.StringArray{pulumi.String(GatewayTag)},
			Labels:                 pulumi.StringMap{"cloudscale.io/pool": pulumi.String("general")},
		},
	}, b.opts()...)
}

// Kubeconfig reaches a GKE cluster through gke-gcloud-auth-plugin.
func Kubeconfig(clusterName, endpoint, caData string) (string, error) {
	return infra.ExecKubeconfig(clusterName, "https://"+endpoint, caData, "gke-gcloud-auth-plugin", nil, true)
}
