package azure

import (
	"github.com/pulumi/pulumi-azure-native-sdk/containerservice/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

type azureAKS struct {
	cluster *containerservice.ManagedCluster
}

// SystemPoolNodesPerZone keeps one system node per zone: CoreDNS and the
// other critical add-ons survive a zone outage.
const SystemPoolNodesPerZone = 1

// aksPrerequisites are the cluster's identity with its grants on the node
// subnet and the key vault, and the Log Analytics workspace its monitoring
// add-on writes to (kept a year).
func (b *builder) aksPrerequisites(n *azureNetwork, k *azureKeys) (*managedidentity.UserAssignedIdentity, []pulumi.Resource, *operationalinsights.Workspace, error) {
	ctx, a := b.ctx, b.a
	identity, err := managedidentity.NewUserAssignedIdentity(ctx, b.name+"-aks-id", &managedidentity.UserAssignedIdentityArgs{
		ResourceName:      pulumi.String(b.cloudName("aks-id", 128)),
		ResourceGroupName: b.rg.Name,
		Location:          pulumi.String(a.Region),
	}, b.opts()...)
	if err != nil {
		return nil, nil, nil, err
	}
	netGrant, err := b.grant("aks-subnet", identity.PrincipalId, roleNetworkContributor, n.nodes.ID())
	if err != nil {
		return nil, nil, nil, err
	}
	kmsGrant, err := b.grant("aks-kms", identity.PrincipalId, roleCryptoUser, k.vault.ID())
	if err != nil {
		return nil, nil, nil, err
	}
	logs, err := operationalinsights.NewWorkspace(ctx, b.name+"-logs", &operationalinsights.WorkspaceArgs{
		WorkspaceName:     pulumi.String(b.cloudName("logs", 63)),
		ResourceGroupName: b.rg.Name,
		Location:          pulumi.String(a.Region),
		RetentionInDays:   pulumi.Int(365),
		Sku:               &operationalinsights.WorkspaceSkuArgs{Name: pulumi.String("PerGB2018")},
	}, b.opts()...)
	return identity, []pulumi.Resource{netGrant, kmsGrant}, logs, err
}

// agentPool is a node pool over every zone: encrypted at host, no public
// addresses, perZone nodes in each zone.
func (b *builder) agentPool(n *azureNetwork, name, mode string, perZone int, taints []string) *containerservice.ManagedClusterAgentPoolProfileArgs {
	a := b.a
	p := &containerservice.ManagedClusterAgentPoolProfileArgs{
		Name:                   pulumi.String(name),
		Mode:                   pulumi.String(mode),
		Type:                   pulumi.String("VirtualMachineScaleSets"),
		VmSize:                 pulumi.String(a.NodeSize),
		Count:                  pulumi.Int(perZone * len(a.Zones)),
		AvailabilityZones:      pulumi.ToStringArray(a.Zones),
		OsDiskSizeGB:           pulumi.Int(a.NodeDiskGiB),
		OsDiskType:             pulumi.String("Managed"), // Premium SSD on an s-series size
		OsSKU:                  pulumi.String("AzureLinux"),
		EnableEncryptionAtHost: pulumi.Bool(true),
		EnableNodePublicIP:     pulumi.Bool(false),
		VnetSubnetID:           n.nodes.ID(),
		OrchestratorVersion:    pulumi.String(a.KubernetesVersion),
		UpgradeSettings:        &containerservice.AgentPoolUpgradeSettingsArgs{MaxSurge: pulumi.String("33%")},
	}
	if len(taints) > 0 {
		p.NodeTaints = pulumi.ToStringArray(taints)
	}
	return p
}

// aks is the AKS cluster: a system pool and a user pool over the zones,
// Azure CNI overlay with Cilium network policy, secrets encrypted with the
// key vault's key (KMS), disks with the disk encryption set, Entra ID with
// Azure RBAC and no local accounts, workload identity.
func (b *builder) aks(n *azureNetwork, k *azureKeys) (*azureAKS, error) {
	a := b.a
	identity, grants, logs, err := b.aksPrerequisites(n, k)
	if err != nil {
		return nil, err
	}
	api := &containerservice.ManagedClusterAPIServerAccessProfileArgs{
		EnablePrivateCluster: pulumi.Bool(len(a.APIAllowedCIDRs) == 0),
	}
	if len(a.APIAllowedCIDRs) > 0 {
		api.AuthorizedIPRanges = pulumi.ToStringArray(a.APIAllowedCIDRs)
	}
	cluster, err := containerservice.NewManagedCluster(b.ctx, b.name+"-aks", &containerservice.ManagedClusterArgs{
		ResourceName:      pulumi.String(b.cloudName("aks", 63)),
		ResourceGroupName: b.rg.Name,
		Location:          pulumi.String(a.Region),
		DnsPrefix:         pulumi.String(b.cloudName("aks", 54)),
		KubernetesVersion: pulumi.String(a.KubernetesVersion),
		Sku:               &containerservice.ManagedClusterSKUArgs{Name: pulumi.String("Base"), Tier: pulumi.String("Standard")},
		Identity: &containerservice.ManagedClusterIdentityArgs{
			Type:                   containerservice.ResourceIdentityTypeUserAssigned,
			UserAssignedIdentities: pulumi.StringArray{identity.ID()},
		},
		AgentPoolProfiles: containerservice.ManagedClusterAgentPoolProfileArray{
			b.agentPool(n, "system", "System", SystemPoolNodesPerZone, []string{"CriticalAddonsOnly=true:NoSchedule"}),
			b.agentPool(n, "user", "User", a.NodesPerZone, nil),
		},
		NetworkProfile: &containerservice.ContainerServiceNetworkProfileArgs{
			NetworkPlugin:     pulumi.String("azure"),
			NetworkPluginMode: pulumi.String("overlay"),
			NetworkDataplane:  pulumi.String("cilium"),
			NetworkPolicy:     pulumi.String("cilium"),
			LoadBalancerSku:   pulumi.String("standard"),
			PodCidr:           pulumi.String("192.168.0.0/16"),
			ServiceCidr:       pulumi.String("172.16.0.0/16"),
			DnsServiceIP:      pulumi.String("172.16.0.10"),
		},
		ApiServerAccessProfile: api,
		DiskEncryptionSetID:    k.des.ID(),
		OidcIssuerProfile:      &containerservice.ManagedClusterOIDCIssuerProfileArgs{Enabled: pulumi.Bool(true)},
		SecurityProfile: &containerservice.ManagedClusterSecurityProfileArgs{
			WorkloadIdentity: &containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs{Enabled: pulumi.Bool(true)},
			AzureKeyVaultKms: &containerservice.AzureKeyVaultKmsArgs{
				Enabled:               pulumi.Bool(true),
				KeyId:                 k.secrets.KeyUriWithVersion,
				KeyVaultNetworkAccess: pulumi.String("Private"),
				KeyVaultResourceId:    k.vault.ID(),
			},
		},
		AadProfile:           &containerservice.ManagedClusterAADProfileArgs{Managed: pulumi.Bool(true), EnableAzureRBAC: pulumi.Bool(true)},
		DisableLocalAccounts: pulumi.Bool(true),
		EnableRBAC:           pulumi.Bool(true),
		AutoUpgradeProfile:   &containerservice.ManagedClusterAutoUpgradeProfileArgs{UpgradeChannel: pulumi.String("patch")},
		AddonProfiles: containerservice.ManagedClusterAddonProfileMap{
			"omsagent": &containerservice.ManagedClusterAddonProfileArgs{
				Enabled: pulumi.Bool(true),
				Config:  pulumi.StringMap{"logAnalyticsWorkspaceResourceID": logs.ID()},
			},
			"azurepolicy": &containerservice.ManagedClusterAddonProfileArgs{Enabled: pulumi.Bool(true)},
		},
	}, b.opts(pulumi.DependsOn(grants))...)
	if err != nil {
		return nil, err
	}
	return &azureAKS{cluster: cluster}, nil
}

// listUserCredentials asks AKS for the user kubeconfigs (base64).
func listUserCredentials(ctx *pulumi.Context, p pulumi.ProviderResource, rg, cluster string) ([]string, error) {
	format := "exec"
	res, err := containerservice.ListManagedClusterUserCredentials(ctx, &containerservice.ListManagedClusterUserCredentialsArgs{
		ResourceGroupName: rg, ResourceName: cluster, Format: &format,
	}, pulumi.Provider(p))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range res.Kubeconfigs {
		out = append(out, k.Value)
	}
	return out, nil
}
