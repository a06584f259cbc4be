package azure

import (
	"github.com/pulumi/pulumi-azure-native-sdk/compute/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/keyvault/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/naming"
)

type azureKeys struct {
	vault   *keyvault.Vault
	secrets *keyvault.Key // etcd (KMS) and Vault auto-unseal
	storage *keyvault.Key // disks and the backup account
	des     *compute.DiskEncryptionSet
	// storageIdentity reads the storage key for the backup account.
	storageIdentity *managedidentity.UserAssignedIdentity
	storageGrant    pulumi.Resource
}

func (b *builder) keys() (*azureKeys, error) {
	ctx, a := b.ctx, b.a
	k := &azureKeys{}
	var err error
	k.vault, err = keyvault.NewVault(ctx, b.name+"-kv", &keyvault.VaultArgs{
		VaultName:         pulumi.String(naming.Global(a.Stack, "kv", b.subscription, 24)),
		ResourceGroupName: b.rg.Name,
		Location:          pulumi.String(a.Region),
		Properties: &keyvault.VaultPropertiesArgs{
			TenantId:                  pulumi.String(b.tenant),
			Sku:                       &keyvault.SkuArgs{Family: pulumi.String("A"), Name: keyvault.SkuNamePremium},
			EnableRbacAuthorization:   pulumi.Bool(true),
			EnableSoftDelete:          pulumi.Bool(true),
			SoftDeleteRetentionInDays: pulumi.Int(90),
			EnablePurgeProtection:     pulumi.Bool(true),
			NetworkAcls: &keyvault.NetworkRuleSetArgs{
				DefaultAction: pulumi.String("Deny"),
				Bypass:        pulumi.String("AzureServices"),
			},
		},
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	if k.secrets, err = b.key(k.vault, "secrets"); err != nil {
		return nil, err
	}
	if k.storage, err = b.key(k.vault, "storage"); err != nil {
		return nil, err
	}

	k.des, err = compute.NewDiskEncryptionSet(ctx, b.name+"-des", &compute.DiskEncryptionSetArgs{
		DiskEncryptionSetName: pulumi.String(b.cloudName("des", 80)),
		ResourceGroupName:     b.rg.Name,
		Location:              pulumi.String(a.Region),
		EncryptionType:        pulumi.String("EncryptionAtRestWithCustomerKey"),
		Identity:              &compute.EncryptionSetIdentityArgs{Type: pulumi.String("SystemAssigned")},
		ActiveKey: &compute.KeyForDiskEncryptionSetArgs{
			KeyUrl:      k.storage.KeyUriWithVersion,
			SourceVault: &compute.SourceVaultArgs{Id: k.vault.ID()},
		},
		// Follow the key's 90-day rotation without a redeploy.
		RotationToLatestKeyVersionEnabled: pulumi.Bool(true),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	if _, err := b.grant("des-key", k.des.Identity.PrincipalId().Elem(), roleCryptoServiceEncryptionUser, k.vault.ID()); err != nil {
		return nil, err
	}

	k.storageIdentity, err = managedidentity.NewUserAssignedIdentity(ctx, b.name+"-storage-id", &managedidentity.UserAssignedIdentityArgs{
		ResourceName:      pulumi.String(b.cloudName("storage-id", 128)),
		ResourceGroupName: b.rg.Name,
		Location:          pulumi.String(a.Region),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	k.storageGrant, err = b.grant("storage-key", k.storageIdentity.PrincipalId, roleCryptoServiceEncryptionUser, k.vault.ID())
	if err != nil {
		return nil, err
	}
	return k, nil
}

// key is an RSA-HSM key that Key Vault rotates every 90 days and that
// expires if rotation ever stops, so a stale key cannot linger.
func (b *builder) key(vault *keyvault.Vault, purpose string) (*keyvault.Key, error) {
	return keyvault.NewKey(b.ctx, b.name+"-"+purpose+"-key", &keyvault.KeyArgs{
		KeyName:           pulumi.String(b.cloudName(purpose, 127)),
		VaultName:         vault.Name,
		ResourceGroupName: b.rg.Name,
		Properties: &keyvault.KeyPropertiesArgs{
			Kty:     pulumi.String("RSA-HSM"),
			KeySize: pulumi.Int(3072),
			KeyOps:  pulumi.ToStringArray([]string{"encrypt", "decrypt", "wrapKey", "unwrapKey"}),
			RotationPolicy: &keyvault.RotationPolicyArgs{
				Attributes: &keyvault.KeyRotationPolicyAttributesArgs{ExpiryTime: pulumi.String("P180D")},
				LifetimeActions: keyvault.LifetimeActionArray{
					&keyvault.LifetimeActionArgs{
						Action:  &keyvault.ActionArgs{Type: keyvault.KeyRotationPolicyActionTypeRotate},
						Trigger: &keyvault.TriggerArgs{TimeAfterCreate: pulumi.String(KeyRotation)},
					},
					&keyvault.LifetimeActionArgs{
						Action:  &keyvault.ActionArgs{Type: keyvault.KeyRotationPolicyActionTypeNotify},
						Trigger: &keyvault.TriggerArgs{TimeBeforeExpiry: pulumi.String("P30D")},
					},
				},
			},
		},
	}, b.opts()...)
}
