package azure

import (
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/storage/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

type azureBackups struct {
	account   *storage.StorageAccount
	container *storage.BlobContainer
	identity  *managedidentity.UserAssignedIdentity
}

// backups is a zone-redundant storage account encrypted with the storage
// key, reachable only from the node subnet, TLS 1.2 minimum (Azure
// Storage's highest setting), no shared keys and no public blobs, with blob
// versioning; one workload identity may write to it.
func (b *builder) backups(k *azureKeys, n *azureNetwork, aks *azureAKS) (*azureBackups, error) {
	ctx, a := b.ctx, b.a
	out := &azureBackups{}
	var err error
	out.account, err = storage.NewStorageAccount(ctx, b.name+"-backups", &storage.StorageAccountArgs{
		AccountName:            pulumi.String(naming.CompactGlobal(a.Stack, "bk", b.subscription, 24)),
		ResourceGroupName:      b.rg.Name,
		Location:               pulumi.String(a.Region),
		Kind:                   pulumi.String("StorageV2"),
		Sku:                    &storage.SkuArgs{Name: pulumi.String("Standard_ZRS")},
		MinimumTlsVersion:      pulumi.String("TLS1_2"),
		EnableHttpsTrafficOnly: pulumi.Bool(true),
		AllowBlobPublicAccess:  pulumi.Bool(false),
		AllowSharedKeyAccess:   pulumi.Bool(false),
		PublicNetworkAccess:    pulumi.String("Enabled"), // firewalled below to the node subnet
		NetworkRuleSet: &storage.NetworkRuleSetArgs{
			DefaultAction: storage.DefaultActionDeny,
			Bypass:        pulumi.String("AzureServices"),
			VirtualNetworkRules: storage.VirtualNetworkRuleArray{&storage.VirtualNetworkRuleArgs{
				VirtualNetworkResourceId: n.nodes.ID(),
			}},
		},
		Identity: &storage.IdentityArgs{
			Type:                   pulumi.String("UserAssigned"),
			UserAssignedIdentities: pulumi.StringArray{k.storageIdentity.ID()},
		},
		Encryption: &storage.EncryptionArgs{
			KeySource: pulumi.String("Microsoft.Keyvault"),
			KeyVaultProperties: &storage.KeyVaultPropertiesArgs{
				KeyName:     k.storage.Name,
				KeyVaultUri: k.vault.Properties.VaultUri(),
			},
			EncryptionIdentity:              &storage.EncryptionIdentityArgs{EncryptionUserAssignedIdentity: k.storageIdentity.ID()},
			RequireInfrastructureEncryption: pulumi.Bool(true),
			Services: &storage.EncryptionServicesArgs{
				Blob: &storage.EncryptionServiceArgs{Enabled: pulumi.Bool(true), KeyType: pulumi.String("Account")},
			},
		},
	}, b.opts(pulumi.DependsOn([]pulumi.Resource{k.storageGrant}))...)
	if err != nil {
		return nil, err
	}
	if _, err := storage.NewBlobServiceProperties(ctx, b.name+"-backups-blob", &storage.BlobServicePropertiesArgs{
		AccountName:                    out.account.Name,
		ResourceGroupName:              b.rg.Name,
		BlobServicesName:               pulumi.String("default"),
		IsVersioningEnabled:            pulumi.Bool(true),
		DeleteRetentionPolicy:          &storage.DeleteRetentionPolicyArgs{Enabled: pulumi.Bool(true), Days: pulumi.Int(30)},
		ContainerDeleteRetentionPolicy: &storage.DeleteRetentionPolicyArgs{Enabled: pulumi.Bool(true), Days: pulumi.Int(30)},
	}, b.opts()...); err != nil {
		return nil, err
	}
	out.container, err = storage.NewBlobContainer(ctx, b.name+"-backups", &storage.BlobContainerArgs{
		ContainerName:     pulumi.String("database-backups"),
		AccountName:       out.account.Name,
		ResourceGroupName: b.rg.Name,
		PublicAccess:      storage.PublicAccessNone,
	}, b.opts()...)
	if err != nil {
		return nil, err
	}

	out.identity, err = b.workloadIdentity("backup", aks, infra.BackupServiceAccount(a.Namespace))
	if err != nil {
		return nil, err
	}
	if _, err := b.grant("backup-blob", out.identity.PrincipalId, roleStorageBlobDataContributor, out.account.ID()); err != nil {
		return nil, err
	}
	return out, nil
}
