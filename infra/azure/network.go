package azure

import (
	"github.com/pulumi/pulumi-azure-native-sdk/network/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
)

type azureNetwork struct {
	vnet  *network.VirtualNetwork
	nodes *network.Subnet
	nsg   *network.NetworkSecurityGroup
}

// network is one VNet with a node subnet (pods get overlay addresses, so a
// /20 of nodes is plenty) guarded by an NSG that admits only HTTPS from
// the internet, to the gateway's load balancer.
func (b *builder) network() (*azureNetwork, error) {
	ctx, a := b.ctx, b.a
	n := &azureNetwork{}
	var err error
	n.nsg, err = network.NewNetworkSecurityGroup(ctx, b.name+"-nodes-nsg", &network.NetworkSecurityGroupArgs{
		NetworkSecurityGroupName: pulumi.String(b.cloudName("nodes-nsg", 80)),
		ResourceGroupName:        b.rg.Name,
		Location:                 pulumi.String(a.Region),
		SecurityRules: network.SecurityRuleTypeArray{
			&network.SecurityRuleTypeArgs{
				Name: pulumi.String("allow-https-to-gateway"), Priority: pulumi.Int(100),
				Direction: pulumi.String("Inbound"), Access: pulumi.String("Allow"), Protocol: pulumi.String("Tcp"),
				SourceAddressPrefix: pulumi.String("Internet"), SourcePortRange: pulumi.String("*"),
				DestinationAddressPrefix: pulumi.String("VirtualNetwork"), DestinationPortRange: pulumi.String("443"),
				Description: pulumi.String("HTTPS (TLS 1.3) to the API gateway's load balancer"),
			},
			&network.SecurityRuleTypeArgs{
				Name: pulumi.String("deny-internet-inbound"), Priority: pulumi.Int(4096),
				Direction: pulumi.String("Inbound"), Access: pulumi.String("Deny"), Protocol: pulumi.String("*"),
				SourceAddressPrefix: pulumi.String("Internet"), SourcePortRange: pulumi.String("*"),
				DestinationAddressPrefix: pulumi.String("*"), DestinationPortRange: pulumi.String("*"),
				Description: pulumi.String("nothing else from the internet"),
			},
		},
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	n.vnet, err = network.NewVirtualNetwork(ctx, b.name+"-vnet", &network.VirtualNetworkArgs{
		VirtualNetworkName: pulumi.String(b.cloudName("vnet", 64)),
		ResourceGroupName:  b.rg.Name,
		Location:           pulumi.String(a.Region),
		AddressSpace:       &network.AddressSpaceArgs{AddressPrefixes: pulumi.StringArray{pulumi.String(a.NetworkCIDR)}},
	}, b.opts(pulumi.IgnoreChanges([]string{"subnets"}))...)
	if err != nil {
		return nil, err
	}
	n.nodes, err = network.NewSubnet(ctx, b.name+"-nodes", &network.SubnetArgs{
		SubnetName:           pulumi.String("nodes"),
		ResourceGroupName:    b.rg.Name,
		VirtualNetworkName:   n.vnet.Name,
		AddressPrefix:        pulumi.String(infra.MustSubnet(a.NetworkCIDR, 4, 0)),
		NetworkSecurityGroup: &network.NetworkSecurityGroupTypeArgs{Id: n.nsg.ID()},
		// Backups and keys are reached over the Azure backbone, and their
		// firewalls admit this subnet only.
		ServiceEndpoints: network.ServiceEndpointPropertiesFormatArray{
			&network.ServiceEndpointPropertiesFormatArgs{Service: pulumi.String("Microsoft.Storage")},
			&network.ServiceEndpointPropertiesFormatArgs{Service: pulumi.String("Microsoft.KeyVault")},
		},
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	return n, nil
}
