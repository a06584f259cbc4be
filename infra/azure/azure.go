// Package azure is the cloud tier on Azure: a VNet whose node subnet admits
// only HTTPS from the internet, AKS over zones 1-3 with a system and a user
// pool, Cilium network policy, host encryption, disks and etcd secrets
// encrypted with Key Vault keys rotated every 90 days, workload identity,
// a zone-redundant backup storage account with a customer-managed key, and
// a private Premium container registry with the same key.
package azure

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	azurenative "github.com/pulumi/pulumi-azure-native-sdk/v2"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

// KeyRotation is the guide's 90 days, as an ISO 8601 duration.
const KeyRotation = "P90D"

// Built-in Azure role definitions the tier assigns.
const (
	roleCryptoServiceEncryptionUser = "e147488a-f6f5-4113-8e2d-b22465e65bf6" // Key Vault Crypto Service Encryption User
	roleCryptoUser                  = "12338af0-0e69-4776-bea7-57ae8d297424" // Key Vault Crypto User
	roleNetworkContributor          = "4d97b98b-1d4f-4787-a291-c67834d212e7"
	roleStorageBlobDataContributor  = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
)

// ClusterArgs describe the cluster to build; Region is the Azure location.
type ClusterArgs struct {
	infra.ClusterSpec
}

// Cluster is the Azure cloud tier.
type Cluster struct {
	pulumi.ResourceState

	ResourceGroup     pulumi.StringOutput
	ClusterName       pulumi.StringOutput
	VaultURI          pulumi.StringOutput
	DiskEncryptionSet pulumi.StringOutput
	StorageAccount    pulumi.StringOutput
	BackupClientID    pulumi.StringOutput
	Out               infra.Cluster
}

// NewCluster registers the Azure cloud tier.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil {
		return nil, errors.New("azure cluster: args are required")
	}
	if err := args.Validate("azure"); err != nil {
		return nil, err
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("cloudscale:infra:AzureCluster", name, c, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, c: c, a: args, name: name}
	if err := b.build(); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"resourceGroup":     c.ResourceGroup,
		"clusterName":       c.ClusterName,
		"vaultUri":          c.VaultURI,
		"diskEncryptionSet": c.DiskEncryptionSet,
		"storageAccount":    c.StorageAccount,
		"backupClientId":    c.BackupClientID,
		"kubeconfig":        c.Out.Kubeconfig,
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
	p    *azurenative.Provider

	tenant, subscription string
	rg                   *resources.ResourceGroup
}

func (b *builder) opts(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(b.c), pulumi.Provider(b.p)}, extra...)
}

func (b *builder) cloudName(part string, max int) string {
	return naming.Resource(b.a.Stack, part, max)
}

func (b *builder) roleID(guid string) string {
	return fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", b.subscription, guid)
}

// grant assigns a built-in role to a principal on a scope.
func (b *builder) grant(part string, principal pulumi.StringInput, role string, scope pulumi.StringInput) (*authorization.RoleAssignment, error) {
	return authorization.NewRoleAssignment(b.ctx, b.name+"-"+part, &authorization.RoleAssignmentArgs{
		PrincipalId:      principal,
		PrincipalType:    pulumi.String("ServicePrincipal"),
		RoleDefinitionId: pulumi.String(b.roleID(role)),
		Scope:            scope,
	}, b.opts()...)
}

// provider is the Azure provider for the stack's region, the tenant and
// subscription it acts in, and the stack's resource group.
func (b *builder) provider() error {
	ctx, a := b.ctx, b.a
	var err error
	b.p, err = azurenative.NewProvider(ctx, b.name, &azurenative.ProviderArgs{
		Location: pulumi.String(a.Region),
	}, pulumi.Parent(b.c))
	if err != nil {
		return err
	}
	client, err := authorization.GetClientConfig(ctx, pulumi.Provider(b.p))
	if err != nil {
		return fmt.Errorf("azure cluster: client config: %w", err)
	}
	b.tenant, b.subscription = client.TenantId, client.SubscriptionId
	b.rg, err = resources.NewResourceGroup(ctx, b.name+"-rg", &resources.ResourceGroupArgs{
		ResourceGroupName: pulumi.String(b.cloudName("rg", 90)),
		Location:          pulumi.String(a.Region),
		Tags:              pulumi.StringMap{"cloudscale.io/stack": pulumi.String(a.Stack)},
	}, b.opts()...)
	return err
}

// kubernetes is the Kubernetes provider for the AKS cluster and the
// encrypted default storage class (zone-redundant Premium SSD with the
// customer-managed key).
func (b *builder) kubernetes(keys *azureKeys, aks *azureAKS) (*kubernetes.Provider, pulumi.StringOutput, error) {
	kubeconfig := pulumi.ToSecret(listKubeconfig(b.ctx, b.p, b.rg.Name, aks.cluster.Name)).(pulumi.StringOutput)
	provider, err := infra.NewKubernetes(b.ctx, b.name, b.c, kubeconfig, infra.StorageClassArgs{
		Provisioner: "disk.csi.azure.com",
		Parameters: pulumi.StringMap{
			"skuName":             pulumi.String("Premium_ZRS"),
			"diskEncryptionSetID": keys.des.ID().ToStringOutput(),
			"diskEncryptionType":  pulumi.String("EncryptionAtRestWithCustomerKey"),
			"networkAccessPolicy": pulumi.String("DenyAll"),
		},
	}, nil, nil)
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
	aks, err := b.aks(net, keys)
	if err != nil {
		return err
	}
	backups, err := b.backups(keys, net, aks)
	if err != nil {
		return err
	}
	seal, err := b.seal(keys, aks)
	if err != nil {
		return err
	}
	registry, err := b.registry(keys, net, aks)
	if err != nil {
		return err
	}

	provider, kubeconfig, err := b.kubernetes(keys, aks)
	if err != nil {
		return err
	}

	c := b.c
	c.ResourceGroup = b.rg.Name
	c.ClusterName = aks.cluster.Name
	c.VaultURI = keys.vault.Properties.VaultUri()
	c.DiskEncryptionSet = keys.des.ID().ToStringOutput()
	c.StorageAccount = backups.account.Name
	c.BackupClientID = backups.identity.ClientId
	c.Out = infra.Cluster{
		Name:         b.cloudName("aks", 63),
		Distribution: infra.AKS,
		Provider:     provider,
		Kubeconfig:   kubeconfig,
		Zones:        a.Zones,
		StorageClass: naming.StorageClass,
		Backups: infra.BackupStore{
			Kind:     infra.AzureBlob,
			Bucket:   backups.container.Name,
			Endpoint: pulumi.Sprintf("https://%s.blob.core.windows.net/%s", backups.account.Name, backups.container.Name),
			Region:   a.Region,
		},
		Keys:     infra.Keys{Secrets: keys.secrets.KeyUriWithVersion, Storage: keys.storage.KeyUriWithVersion},
		Registry: registry,
		Seal:     seal,
		Identity: infra.WorkloadIdentity{
			BackupServiceAccount: infra.BackupServiceAccount(a.Namespace),
			Annotations: pulumi.StringMap{
				"azure.workload.identity/client-id": backups.identity.ClientId,
				"azure.workload.identity/tenant-id": pulumi.String(b.tenant),
			}.ToStringMapOutput(),
			Labels: map[string]string{"azure.workload.identity/use": "true"},
		},
	}
	return nil
}

// listKubeconfig reads the AKS user kubeconfig (Entra ID via kubelogin, as
// local accounts are disabled).
func listKubeconfig(ctx *pulumi.Context, p *azurenative.Provider, rg, cluster pulumi.StringOutput) pulumi.StringOutput {
	return pulumi.All(rg, cluster).ApplyT(func(v []any) (string, error) {
		res, err := listUserCredentials(ctx, p, v[0].(string), v[1].(string))
		if err != nil {
			return "", err
		}
		if len(res) == 0 {
			return "", fmt.Errorf("aks %s: no kubeconfig returned", v[1])
		}
		raw, err := base64.StdEncoding.DecodeString(res[0])
		if err != nil {
			return "", fmt.Errorf("aks %s: kubeconfig is not base64: %w", v[1], err)
		}
		return string(raw), nil
	}).(pulumi.StringOutput)
}
