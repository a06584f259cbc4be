package mocks

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/cloudscale/platform/stacks/spec"
)

// Identities the mocks answer with. They are documentation values (AWS's
// example account, made-up tenant ids), never real accounts.
const (
	AWSAccountID        = "123456789012"
	AzureSubscriptionID = "11111111-2222-3333-4444-555555555555"
	AzureTenantID       = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	AzureObjectID       = "99999999-8888-7777-6666-555555555555"
	GCPProjectNumber    = "987654321098"
)

// awsZoneLetters are the zones AWS offers in most regions (us-east-1 has six).
var awsZoneLetters = []string{"a", "b", "c", "d", "e", "f"}

// invoke answers a data-source call the way the cloud would for the stack's
// region.
func invoke(s spec.Spec, token string, args resource.PropertyMap) (map[string]any, bool) {
	switch token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		var names, ids []any
		for i, l := range awsZoneLetters {
			names = append(names, s.Region+l)
			ids = append(ids, fmt.Sprintf("use1-az%d", i+1))
		}
		return map[string]any{"id": s.Region, "names": names, "zoneIds": ids, "groupNames": []any{s.Region}, "state": "available"}, true
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return map[string]any{
			"accountId": AWSAccountID, "id": AWSAccountID, "userId": "AIDACLOUDSCALEEXAMPLE",
			"arn": "arn:aws:iam::" + AWSAccountID + ":role/cloudscale-deployer",
		}, true
	case "aws:index/getPartition:getPartition":
		return map[string]any{"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}, true
	case "azure-native:authorization:getClientConfig":
		return map[string]any{
			"clientId": "cccccccc-0000-0000-0000-000000000001", "objectId": AzureObjectID,
			"subscriptionId": AzureSubscriptionID, "tenantId": AzureTenantID,
		}, true
	case "azure-native:containerservice:listManagedClusterUserCredentials":
		name := ""
		if v, ok := args["resourceName"]; ok && v.IsString() {
			name = v.StringValue()
		}
		kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: " + name + "\n  cluster:\n    server: https://" + name +
			".privatelink." + s.Region + ".azmk8s.io:443\ncontexts:\n- name: " + name + "\n  context:\n    cluster: " + name +
			"\n    user: clusterUser\ncurrent-context: " + name + "\nusers:\n- name: clusterUser\n  user:\n    exec:\n      command: kubelogin\n"
		return map[string]any{"kubeconfigs": []any{map[string]any{"name": "clusterUser", "value": base64.StdEncoding.EncodeToString([]byte(kc))}}}, true
	case "gcp:organizations/getProject:getProject":
		return map[string]any{"id": "projects/" + s.GCP.Project, "projectId": s.GCP.Project, "number": GCPProjectNumber, "name": s.GCP.Project}, true
	case "gcp:compute/getZones:getZones":
		var names []any
		for _, l := range []string{"a", "b", "c", "f"} {
			names = append(names, s.Region+"-"+l)
		}
		return map[string]any{"id": s.Region, "names": names, "project": s.GCP.Project, "region": s.Region, "status": "UP"}, true
	case "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
		return map[string]any{
			"id":           "service-" + GCPProjectNumber,
			"project":      s.GCP.Project,
			"emailAddress": "service-" + GCPProjectNumber + "@gs-project-accounts.iam.gserviceaccount.com",
			"member":       "serviceAccount:service-" + GCPProjectNumber + "@gs-project-accounts.iam.gserviceaccount.com",
		}, true
	}
	return nil, false
}

// outputsFor adds the outputs a provider computes on create (ARNs, ids,
// endpoints) so that wiring between resources is exercised.
func outputsFor(s spec.Spec, typ, name, id string, in resource.PropertyMap) map[resource.PropertyKey]resource.PropertyValue {
	str := func(k string) string {
		if v, ok := in[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	var out map[string]any
	switch {
	case strings.HasPrefix(typ, "aws:"):
		out = awsOutputs(s, typ, id, str)
	case strings.HasPrefix(typ, "azure-native:"):
		out = azureOutputs(s, typ, name, id, in, str)
	case strings.HasPrefix(typ, "gcp:"):
		out = gcpOutputs(s, typ, id, str)
	}
	if len(out) == 0 {
		return nil
	}
	return resource.NewPropertyMapFromMap(out)
}

// awsOutputs are AWS resources' ARNs, ids and endpoints.
func awsOutputs(s spec.Spec, typ, id string, str func(string) string) map[string]any {
	out := map[string]any{}
	switch {
	case typ == "aws:kms/key:Key":
		out["arn"] = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.Region, AWSAccountID, id)
		out["keyId"] = id
	case typ == "aws:eks/cluster:Cluster":
		out["arn"] = fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", s.Region, AWSAccountID, str("name"))
		out["endpoint"] = fmt.Sprintf("https://%X.gr7.%s.eks.amazonaws.com", len(id)*7919, s.Region)
		out["certificateAuthority"] = map[string]any{"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTkJna3Foa2lHOXcwQkFRc0ZBREFWTVJNd0VRWURWUVFERXdwcmRXSmwKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="}
		out["identities"] = []any{map[string]any{"oidcs": []any{map[string]any{
			"issuer": fmt.Sprintf("https://oidc.eks.%s.amazonaws.com/id/%s", s.Region, strings.ToUpper(fmt.Sprintf("%032x", len(id)*104729))),
		}}}}
	case typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		out["arn"] = fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", AWSAccountID, strings.TrimPrefix(str("url"), "https://"))
	case typ == "aws:iam/role:Role":
		n := str("name")
		if n == "" {
			n = id
		}
		out["arn"] = fmt.Sprintf("arn:aws:iam::%s:role/%s", AWSAccountID, n)
		out["name"] = n
	case typ == "aws:s3/bucketV2:BucketV2":
		out["arn"] = "arn:aws:s3:::" + str("bucket")
		out["bucketRegionalDomainName"] = str("bucket") + ".s3." + s.Region + ".amazonaws.com"
	case typ == "aws:cloudwatch/logGroup:LogGroup":
		out["arn"] = fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", s.Region, AWSAccountID, str("name"))
	case typ == "aws:ec2/launchTemplate:LaunchTemplate":
		out["latestVersion"] = 1
		out["arn"] = fmt.Sprintf("arn:aws:ec2:%s:%s:launch-template/%s", s.Region, AWSAccountID, id)
	case strings.HasPrefix(typ, "aws:"):
		svc := strings.SplitN(strings.TrimPrefix(typ, "aws:"), "/", 2)[0]
		out["arn"] = fmt.Sprintf("arn:aws:%s:%s:%s:%s", svc, s.Region, AWSAccountID, id)
	}
	return out
}

// azureOutputs are Azure resources' names, ids and service endpoints.
func azureOutputs(s spec.Spec, typ, name, id string, in resource.PropertyMap, str func(string) string) map[string]any {
	out := map[string]any{}
	n := azureName(typ, in)
	if n == "" {
		n = id
	}
	out["name"] = n
	out["id"] = azureID(typ, n, str("resourceGroupName"))
	if typ == "azure-native:containerservice:ManagedCluster" {
		out["oidcIssuerProfile"] = map[string]any{"enabled": true, "issuerURL": "https://" + s.Region + ".oic.prod-aks.azure.com/" + AzureTenantID + "/" + id + "/"}
		out["fqdn"] = id + ".hcp." + s.Region + ".azmk8s.io"
	}
	if typ == "azure-native:keyvault:Vault" {
		out["properties"] = map[string]any{"vaultUri": "https://" + str("vaultName") + ".vault.azure.net/"}
	}
	if typ == "azure-native:keyvault:Key" {
		vault := "https://" + str("vaultName") + ".vault.azure.net/keys/" + str("keyName")
		out["keyUri"] = vault
		out["keyUriWithVersion"] = vault + "/0123456789abcdef0123456789abcdef"
	}
	if typ == "azure-native:managedidentity:UserAssignedIdentity" {
		out["clientId"] = "c1c1c1c1-0000-4000-8000-" + fmt.Sprintf("%012d", len(name))
		out["principalId"] = "p1p1p1p1-0000-4000-8000-" + fmt.Sprintf("%012d", len(name))
		out["tenantId"] = AzureTenantID
	}
	if typ == "azure-native:compute:DiskEncryptionSet" {
		out["identity"] = map[string]any{"type": "SystemAssigned", "principalId": "d1d1d1d1-0000-4000-8000-000000000001", "tenantId": AzureTenantID}
	}
	if typ == "azure-native:storage:StorageAccount" {
		out["primaryEndpoints"] = map[string]any{"blob": "https://" + str("accountName") + ".blob.core.windows.net/"}
	}
	return out
}

// gcpOutputs are GCP resources' ids, endpoints and emails.
func gcpOutputs(s spec.Spec, typ, id string, str func(string) string) map[string]any {
	out := map[string]any{}
	switch {
	case typ == "gcp:kms/cryptoKey:CryptoKey":
		if ring := str("keyRing"); ring != "" {
			out["id"] = ring + "/cryptoKeys/" + str("name")
		}
	case typ == "gcp:kms/keyRing:KeyRing":
		out["id"] = fmt.Sprintf("projects/%s/locations/%s/keyRings/%s", s.GCP.Project, str("location"), str("name"))
	case typ == "gcp:container/cluster:Cluster":
		out["endpoint"] = "10.0.0.2"
		out["masterAuth"] = map[string]any{"clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTkJna3Foa2lHOXcwQkFRc0ZBREFWTVJNd0VRWURWUVFERXdwcmRXSmwKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="}
	case typ == "gcp:serviceaccount/account:Account":
		out["email"] = str("accountId") + "@" + s.GCP.Project + ".iam.gserviceaccount.com"
		out["name"] = "projects/" + s.GCP.Project + "/serviceAccounts/" + str("accountId") + "@" + s.GCP.Project + ".iam.gserviceaccount.com"
	case typ == "gcp:storage/bucket:Bucket":
		out["url"] = "gs://" + str("name")
	case strings.HasPrefix(typ, "gcp:"):
		out["selfLink"] = fmt.Sprintf("https://www.googleapis.com/compute/v1/projects/%s/%s/%s", s.GCP.Project, s.Region, id)
	}
	return out
}

// azureName is the resource's own name input: azure-native names it
// <kind>Name (vaultName, keyName), or resourceName, or accountName.
func azureName(typ string, in resource.PropertyMap) string {
	parts := strings.Split(typ, ":")
	kind := parts[len(parts)-1]
	candidates := []string{strings.ToLower(kind[:1]) + kind[1:] + "Name", "resourceName", "accountName",
		"containerName", "federatedIdentityCredentialResourceName", "blobServicesName"}
	if kind == "ResourceGroup" {
		candidates = []string{"resourceGroupName"}
	}
	for _, c := range candidates {
		if v, ok := in[resource.PropertyKey(c)]; ok && v.IsString() && v.StringValue() != "" {
			return v.StringValue()
		}
	}
	return ""
}

// azureID builds an ARM resource id from the type token, the way ARM names
// them: /subscriptions/<sub>/resourceGroups/<rg>/providers/<ns>/<types>/<name>.
func azureID(typ, name, group string) string {
	parts := strings.Split(typ, ":")
	kind := parts[len(parts)-1]
	base := "/subscriptions/" + AzureSubscriptionID + "/resourceGroups/"
	if kind == "ResourceGroup" {
		return base + name
	}
	ns := map[string]string{
		"network": "Microsoft.Network", "containerservice": "Microsoft.ContainerService", "keyvault": "Microsoft.KeyVault",
		"compute": "Microsoft.Compute", "managedidentity": "Microsoft.ManagedIdentity", "storage": "Microsoft.Storage",
		"authorization": "Microsoft.Authorization", "operationalinsights": "Microsoft.OperationalInsights",
	}[parts[1]]
	return fmt.Sprintf("%s%s/providers/%s/%ss/%s", base, group, ns, strings.ToLower(kind[:1])+kind[1:], name)
}
