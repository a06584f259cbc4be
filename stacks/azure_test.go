package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/stacks/mocks"
	"github.com/cloudscale/platform/stacks/spec"
)

func TestAzureProd(t *testing.T) {
	res := run(t, "prod-azure")
	g := res.Graph
	assert.True(t, invoked(res, "azure-native:authorization:getClientConfig"))
	assert.True(t, invoked(res, "azure-native:containerservice:listManagedClusterUserCredentials"))

	// Key Vault: purge protection, RBAC, soft delete, closed network.
	kv := one(t, g, "azure-native:keyvault:Vault")
	assert.Equal(t, true, get(kv, "properties.enablePurgeProtection"))
	assert.Equal(t, true, get(kv, "properties.enableRbacAuthorization"))
	assert.Equal(t, true, get(kv, "properties.enableSoftDelete"))
	assert.Equal(t, "Deny", get(kv, "properties.networkAcls.defaultAction"))
	assert.Equal(t, mocks.AzureTenantID, get(kv, "properties.tenantId"))
	assert.LessOrEqual(t, len(kv.String("vaultName")), 24)

	// Keys rotate every 90 days.
	keys := g.OfType("azure-native:keyvault:Key")
	require.Len(t, keys, 2)
	for _, k := range keys {
		assert.Equal(t, "RSA-HSM", get(k, "properties.kty"))
		actions := get(k, "properties.rotationPolicy.lifetimeActions").([]any)
		rotate := actions[0].(map[string]any)
		assert.Equal(t, "Rotate", rotate["action"].(map[string]any)["type"])
		assert.Equal(t, "P90D", rotate["trigger"].(map[string]any)["timeAfterCreate"])
	}
	secretsKey := res.Output(named(t, g, "azure-native:keyvault:Key", "azure-secrets-key"), "keyUriWithVersion")
	storageKey := res.Output(named(t, g, "azure-native:keyvault:Key", "azure-storage-key"), "keyUriWithVersion")
	require.NotEmpty(t, secretsKey)

	// The disk encryption set uses the storage key and follows its rotation.
	des := one(t, g, "azure-native:compute:DiskEncryptionSet")
	assert.Equal(t, storageKey, get(des, "activeKey.keyUrl"))
	assert.Equal(t, true, des.Inputs["rotationToLatestKeyVersionEnabled"])
	desID := res.Output(des, "id")

	// AKS: zones 1-3 on every pool, >= 3 nodes of >= 16 GiB, 100+ GB
	// managed (Premium SSD) OS disks, host encryption, DES, Cilium network
	// policy, authorized ranges, KMS with the secrets key, OIDC and workload identity.
	aks := one(t, g, "azure-native:containerservice:ManagedCluster")
	assert.Equal(t, "1.33", aks.Inputs["kubernetesVersion"])
	pools := aks.Inputs["agentPoolProfiles"].([]any)
	require.Len(t, pools, 2)
	modes := map[string]float64{}
	for _, p := range pools {
		pool := p.(map[string]any)
		assert.Equal(t, []any{"1", "2", "3"}, pool["availabilityZones"])
		assert.Equal(t, true, pool["enableEncryptionAtHost"])
		assert.Equal(t, 128.0, pool["osDiskSizeGB"])
		assert.Equal(t, "Managed", pool["osDiskType"])
		assert.Equal(t, "Standard_D8s_v5", pool["vmSize"])
		assert.GreaterOrEqual(t, spec.Sizes[spec.Azure][pool["vmSize"].(string)].MemoryGiB, 16)
		modes[pool["mode"].(string)] = pool["count"].(float64)
	}
	assert.Equal(t, map[string]float64{"System": 3, "User": 6}, modes)
	assert.Equal(t, desID, aks.Inputs["diskEncryptionSetID"])
	assert.Equal(t, "cilium", get(aks, "networkProfile.networkPolicy"))
	assert.Equal(t, false, get(aks, "apiServerAccessProfile.enablePrivateCluster"))
	assert.Equal(t, []any{"203.0.113.0/24"}, get(aks, "apiServerAccessProfile.authorizedIPRanges"))
	assert.Equal(t, true, get(aks, "oidcIssuerProfile.enabled"))
	assert.Equal(t, true, get(aks, "securityProfile.workloadIdentity.enabled"))
	assert.Equal(t, true, get(aks, "securityProfile.azureKeyVaultKms.enabled"))
	assert.Equal(t, secretsKey, get(aks, "securityProfile.azureKeyVaultKms.keyId"))
	assert.Equal(t, true, aks.Inputs["disableLocalAccounts"])

	// The NSG admits only 443 from the internet.
	nsg := one(t, g, "azure-native:network:NetworkSecurityGroup")
	for _, r := range nsg.Inputs["securityRules"].([]any) {
		rule := r.(map[string]any)
		if rule["sourceAddressPrefix"] == "Internet" && rule["access"] == "Allow" {
			assert.Equal(t, "443", rule["destinationPortRange"])
		}
	}

	// Backups: CMK, no public blobs, TLS 1.2 minimum, versioning, one federated identity.
	sa := one(t, g, "azure-native:storage:StorageAccount")
	assert.Equal(t, "Microsoft.Keyvault", get(sa, "encryption.keySource"))
	assert.Equal(t, res.Output(named(t, g, "azure-native:keyvault:Key", "azure-storage-key"), "name"), get(sa, "encryption.keyVaultProperties.keyName"))
	assert.Equal(t, false, sa.Inputs["allowBlobPublicAccess"])
	assert.Equal(t, false, sa.Inputs["allowSharedKeyAccess"])
	assert.Equal(t, "TLS1_2", sa.Inputs["minimumTlsVersion"])
	assert.Equal(t, "Deny", get(sa, "networkRuleSet.defaultAction"))
	assert.Regexp(t, `^[a-z0-9]{3,24}$`, sa.Inputs["accountName"])
	blob := one(t, g, "azure-native:storage:BlobServiceProperties")
	assert.Equal(t, true, blob.Inputs["isVersioningEnabled"])
	assert.Equal(t, "None", one(t, g, "azure-native:storage:BlobContainer").Inputs["publicAccess"])
	fed := named(t, g, "azure-native:managedidentity:FederatedIdentityCredential", "azure-backup-federation")
	assert.Equal(t, "system:serviceaccount:cloudscale:cloudscale-backup", fed.Inputs["subject"])
	assert.Contains(t, fed.Inputs["issuer"], ".oic.prod-aks.azure.com/")
	// Vault auto-unseals with the secrets key, as its own federated identity.
	vfed := named(t, g, "azure-native:managedidentity:FederatedIdentityCredential", "azure-vault-federation")
	assert.Equal(t, "system:serviceaccount:vault:vault", vfed.Inputs["subject"])
	assert.NotEmpty(t, named(t, g, "azure-native:authorization:RoleAssignment", "azure-vault-unseal").Inputs["principalId"])
	vault := named(t, g, "kubernetes:helm.sh/v3:Release", "vault")
	raft := get(vault, "values.server.ha.raft.config").(string)
	assert.Contains(t, raft, `seal "azurekeyvault"`)
	assert.Contains(t, raft, `key_name   = "cloudscale-prod-azure-secrets"`)
	issuer := named(t, g, "kubernetes:cert-manager.io/v1:ClusterIssuer", "certs-public-issuer")
	azureDNS := get(issuer, "spec.acme.solvers").([]any)[0].(map[string]any)["dns01"].(map[string]any)["azureDNS"].(map[string]any)
	assert.Equal(t, "cloudscale-dns", azureDNS["resourceGroupName"])
	assert.Equal(t, "00000000-0000-0000-0000-000000000000", azureDNS["subscriptionID"])

	sc := one(t, g, "kubernetes:storage.k8s.io/v1:StorageClass")
	assert.Equal(t, desID, get(sc, "parameters.diskEncryptionSetID"))
	assert.Equal(t, graph.SecretValue, one(t, g, "pulumi:providers:kubernetes").Inputs["kubeconfig"])

	// The services' images: a Premium ACR with the storage key (versionless,
	// it follows rotation) through its own identity, admin user, export and
	// public access only from the operators' CIDRs that may reach the API
	// (prod-azure allows 203.0.113.0/24: pushes come from there), the nodes
	// through a private endpoint; the kubelet identity may pull from it only.
	acr := one(t, g, "azure-native:containerregistry:Registry")
	assert.Equal(t, "Premium", get(acr, "sku.name"))
	assert.Regexp(t, `^cloudscaleprodazureacr[0-9a-f]{8}$`, acr.Inputs["registryName"])
	assert.Equal(t, false, acr.Inputs["adminUserEnabled"])
	assert.Equal(t, "Enabled", acr.Inputs["publicNetworkAccess"])
	assert.Equal(t, "Deny", get(acr, "networkRuleSet.defaultAction"))
	assert.Equal(t, []any{map[string]any{"action": "Allow", "iPAddressOrRange": "203.0.113.0/24"}}, get(acr, "networkRuleSet.ipRules"))
	assert.Equal(t, "None", acr.Inputs["networkRuleBypassOptions"])
	assert.Equal(t, "disabled", get(acr, "policies.exportPolicy.status"))
	assert.Equal(t, "UserAssigned", get(acr, "identity.type"))
	assert.Equal(t, "enabled", get(acr, "encryption.status"))
	assert.Equal(t, res.Output(named(t, g, "azure-native:keyvault:Key", "azure-storage-key"), "keyUri"), get(acr, "encryption.keyVaultProperties.keyIdentifier"))
	assert.NotEmpty(t, get(acr, "encryption.keyVaultProperties.identity"))
	assert.Nil(t, acr.Inputs["anonymousPullEnabled"])
	acrKey := named(t, g, "azure-native:authorization:RoleAssignment", "azure-acr-key")
	assert.Contains(t, acrKey.String("roleDefinitionId"), "/e147488a-f6f5-4113-8e2d-b22465e65bf6", "Key Vault Crypto Service Encryption User")
	acrPull := named(t, g, "azure-native:authorization:RoleAssignment", "azure-acr-pull")
	assert.Contains(t, acrPull.String("roleDefinitionId"), "/7f951dda-4ed3-4680-a7ca-43fe172d538d", "AcrPull")
	assert.Equal(t, res.Output(acr, "id"), acrPull.Inputs["scope"])
	pe := named(t, g, "azure-native:network:PrivateEndpoint", "azure-acr-pe")
	assert.Equal(t, []any{"registry"}, get(pe, "privateLinkServiceConnections").([]any)[0].(map[string]any)["groupIds"])
	assert.Equal(t, "privatelink.azurecr.io", one(t, g, "azure-native:network:PrivateZone").Inputs["privateZoneName"])
	one(t, g, "azure-native:network:PrivateDnsZoneGroup")
}
