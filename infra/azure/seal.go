package azure

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
)

// workloadIdentity is a managed identity only one Kubernetes service
// account can use, federated through the cluster's OIDC issuer.
func (b *builder) workloadIdentity(part string, aks *azureAKS, sa infra.ServiceAccount) (*managedidentity.UserAssignedIdentity, error) {
	id, err := managedidentity.NewUserAssignedIdentity(b.ctx, b.name+"-"+part+"-id", &managedidentity.UserAssignedIdentityArgs{
		ResourceName:      pulumi.String(b.cloudName(part+"-id", 128)),
		ResourceGroupName: b.rg.Name,
		Location:          pulumi.String(b.a.Region),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	_, err = managedidentity.NewFederatedIdentityCredential(b.ctx, b.name+"-"+part+"-federation", &managedidentity.FederatedIdentityCredentialArgs{
		FederatedIdentityCredentialResourceName: pulumi.String("cloudscale-" + part),
		ResourceName:                            id.Name,
		ResourceGroupName:                       b.rg.Name,
		Issuer:                                  aks.cluster.OidcIssuerProfile.IssuerURL().Elem(),
		Subject:                                 pulumi.String(sa.Subject()),
		Audiences:                               pulumi.StringArray{pulumi.String("api://AzureADTokenExchange")},
	}, b.opts()...)
	return id, err
}

// seal gives Vault a managed identity, federated to Vault's Kubernetes
// service account only, with Key Vault Crypto User on the key vault: Vault
// auto-unseals with the secrets key.
func (b *builder) seal(k *azureKeys, aks *azureAKS) (*infra.VaultSeal, error) {
	id, err := b.workloadIdentity("vault", aks, infra.VaultServiceAccount)
	if err != nil {
		return nil, err
	}
	if _, err := b.grant("vault-unseal", id.PrincipalId, roleCryptoUser, k.vault.ID()); err != nil {
		return nil, err
	}
	return &infra.VaultSeal{
		Stanza: pulumi.All(k.vault.Name, k.secrets.Name).ApplyT(func(v []any) string {
			return fmt.Sprintf("seal \"azurekeyvault\" {\n  tenant_id  = %q\n  vault_name = %q\n  key_name   = %q\n}\n",
				b.tenant, v[0].(string), v[1].(string))
		}).(pulumi.StringOutput),
		Annotations: pulumi.StringMap{
			"azure.workload.identity/client-id": id.ClientId,
			"azure.workload.identity/tenant-id": pulumi.String(b.tenant),
		}.ToStringMapOutput(),
		Labels: map[string]string{"azure.workload.identity/use": "true"},
	}, nil
}
