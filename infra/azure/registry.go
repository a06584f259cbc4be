package azure

import (
	"github.com/pulumi/pulumi-azure-native-sdk/containerregistry/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/network/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

// roleAcrPull lets the kubelet identity pull images.
const roleAcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d"

// UntaggedManifestDays is how long ACR keeps an untagged manifest.
const UntaggedManifestDays = 14

// registry is a Premium ACR, <name>.azurecr.io/cloudscale-<stack>/<service>,
// encrypted with the storage key through its own user-assigned identity,
// admin user and export off, untagged manifests expired, zone-redundant.
// The nodes reach it through a private endpoint in their subnet (with the
// privatelink.azurecr.io zone linked to the VNet) and pull as the kubelet
// identity (AcrPull on this registry only). Public access follows the
// cluster's API: off when the API is private, else limited to the
// operators' CIDRs (APIAllowedCIDRs), from where images are pushed.
//
// What ACR does not offer here: registry-wide immutable tags (the stack
// deploys by digest, so a moved tag never changes a running workload, and
// `cloudscale images build --push` pushes by digest), and scanning on push,
// which is Microsoft Defender for Containers, a subscription-wide plan
// (Microsoft.Security/pricings "Containers") that one stack must not
// switch for its neighbours: the subscription's owner enables it.
// Anonymous pull is off (the API version's default: it has no such
// switch).
func (b *builder) registry(k *azureKeys, n *azureNetwork, aks *azureAKS) (infra.Registry, error) {
	ctx, a := b.ctx, b.a
	id, err := managedidentity.NewUserAssignedIdentity(ctx, b.name+"-acr-id", &managedidentity.UserAssignedIdentityArgs{
		ResourceName:      pulumi.String(b.cloudName("acr-id", 128)),
		ResourceGroupName: b.rg.Name,
		Location:          pulumi.String(a.Region),
	}, b.opts()...)
	if err != nil {
		return infra.Registry{}, err
	}
	keyGrant, err := b.grant("acr-key", id.PrincipalId, roleCryptoServiceEncryptionUser, k.vault.ID())
	if err != nil {
		return infra.Registry{}, err
	}
	name := naming.CompactGlobal(a.Stack, "acr", b.subscription, 50)
	public := pulumi.String("Disabled")
	var rules *containerregistry.NetworkRuleSetArgs
	if len(a.APIAllowedCIDRs) > 0 {
		public = pulumi.String("Enabled")
		ips := containerregistry.IPRuleArray{}
		for _, cidr := range a.APIAllowedCIDRs {
			ips = append(ips, &containerregistry.IPRuleArgs{Action: pulumi.String("Allow"), IPAddressOrRange: pulumi.String(cidr)})
		}
		rules = &containerregistry.NetworkRuleSetArgs{DefaultAction: pulumi.String("Deny"), IpRules: ips}
	}
	acr, err := containerregistry.NewRegistry(ctx, b.name+"-acr", &containerregistry.RegistryArgs{
		RegistryName:             pulumi.String(name),
		ResourceGroupName:        b.rg.Name,
		Location:                 pulumi.String(a.Region),
		Sku:                      &containerregistry.SkuArgs{Name: pulumi.String("Premium")},
		AdminUserEnabled:         pulumi.Bool(false),
		PublicNetworkAccess:      public,
		NetworkRuleSet:           rules,
		NetworkRuleBypassOptions: pulumi.String("None"),
		ZoneRedundancy:           pulumi.String("Enabled"),
		Identity: &containerregistry.IdentityPropertiesArgs{
			Type: containerregistry.ResourceIdentityTypeUserAssigned,
			// ACR's API keys its user-assigned identities by resource id.
			UserAssignedIdentities: id.ID().ApplyT(func(i pulumi.ID) map[string]containerregistry.UserIdentityProperties {
				return map[string]containerregistry.UserIdentityProperties{string(i): {}}
			}).(containerregistry.UserIdentityPropertiesMapOutput),
		},
		Encryption: &containerregistry.EncryptionPropertyArgs{
			Status: pulumi.String("enabled"),
			KeyVaultProperties: &containerregistry.KeyVaultPropertiesArgs{
				// Versionless: ACR follows the key's rotation.
				KeyIdentifier: k.storage.KeyUri,
				Identity:      id.ClientId,
			},
		},
		Policies: &containerregistry.PoliciesArgs{
			ExportPolicy:    &containerregistry.ExportPolicyArgs{Status: pulumi.String("disabled")},
			RetentionPolicy: &containerregistry.RetentionPolicyArgs{Status: pulumi.String("enabled"), Days: pulumi.Int(UntaggedManifestDays)},
		},
	}, b.opts(pulumi.DependsOn([]pulumi.Resource{keyGrant}))...)
	if err != nil {
		return infra.Registry{}, err
	}
	private, err := b.registryEndpoint(acr, n)
	if err != nil {
		return infra.Registry{}, err
	}
	kubelet := aks.cluster.IdentityProfile.MapIndex(pulumi.String("kubeletidentity")).ObjectId().Elem()
	pull, err := b.grant("acr-pull", kubelet, roleAcrPull, acr.ID())
	if err != nil {
		return infra.Registry{}, err
	}
	return infra.Registry{
		Prefix:    name + ".azurecr.io/" + naming.ImageNamespace(a.Stack),
		Resources: append([]pulumi.Resource{id, keyGrant, acr, pull}, private...),
	}, nil
}

// registryEndpoint is the registry's private endpoint in the node subnet
// and the private DNS zone that resolves <name>.azurecr.io (and its data
// endpoint) to it inside the VNet.
func (b *builder) registryEndpoint(acr *containerregistry.Registry, n *azureNetwork) ([]pulumi.Resource, error) {
	ctx, a := b.ctx, b.a
	const zoneName = "privatelink.azurecr.io"
	zone, err := network.NewPrivateZone(ctx, b.name+"-acr-zone", &network.PrivateZoneArgs{
		PrivateZoneName:   pulumi.String(zoneName),
		ResourceGroupName: b.rg.Name,
		Location:          pulumi.String("global"),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	link, err := network.NewVirtualNetworkLink(ctx, b.name+"-acr-zone-link", &network.VirtualNetworkLinkArgs{
		VirtualNetworkLinkName: pulumi.String(b.cloudName("acr-link", 80)),
		PrivateZoneName:        zone.Name,
		ResourceGroupName:      b.rg.Name,
		Location:               pulumi.String("global"),
		RegistrationEnabled:    pulumi.Bool(false),
		VirtualNetwork:         &network.SubResourceArgs{Id: n.vnet.ID()},
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	pe, err := network.NewPrivateEndpoint(ctx, b.name+"-acr-pe", &network.PrivateEndpointArgs{
		PrivateEndpointName: pulumi.String(b.cloudName("acr-pe", 80)),
		ResourceGroupName:   b.rg.Name,
		Location:            pulumi.String(a.Region),
		Subnet:              &network.SubnetTypeArgs{Id: n.nodes.ID()},
		PrivateLinkServiceConnections: network.PrivateLinkServiceConnectionArray{&network.PrivateLinkServiceConnectionArgs{
			Name:                 pulumi.String("registry"),
			PrivateLinkServiceId: acr.ID(),
			GroupIds:             pulumi.StringArray{pulumi.String("registry")},
		}},
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	group, err := network.NewPrivateDnsZoneGroup(ctx, b.name+"-acr-dns", &network.PrivateDnsZoneGroupArgs{
		PrivateDnsZoneGroupName: pulumi.String("registry"),
		PrivateEndpointName:     pe.Name,
		ResourceGroupName:       b.rg.Name,
		PrivateDnsZoneConfigs: network.PrivateDnsZoneConfigArray{&network.PrivateDnsZoneConfigArgs{
			Name:             pulumi.String("azurecr"),
			PrivateDnsZoneId: zone.ID(),
		}},
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{zone, link, pe, group}, nil
}
