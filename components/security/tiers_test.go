package security

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/upstream"
)

const (
	certificate   = "kubernetes:cert-manager.io/v1:Certificate"
	clusterIssuer = "kubernetes:cert-manager.io/v1:ClusterIssuer"
	release       = "kubernetes:helm.sh/v3:Release"
)

func TestCertsPublicAndPrivate(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewCerts(ctx, "certs", &CertsArgs{
			Mode: upstream.Charts,
			ACME: &ACME{Email: "ops@example.com", Server: "https://acme.example/dir", DNS01: map[string]any{"route53": map[string]any{"region": "us-east-1"}}},
			Certificates: []Certificate{
				{Name: "production-cert", Namespace: "istio-ingress", DNSNames: []string{"api.example.com"}, Public: true},
				{Name: VaultTLSSecret, Namespace: VaultNamespace, DNSNames: []string{"vault.vault.svc"}},
			},
		})
		return err
	})
	require.NoError(t, err)
	r, ok := g.Named(release, "cert-manager")
	require.True(t, ok)
	assert.Equal(t, upstream.CertManager.Version, r.Inputs["version"])

	acme := componenttest.Spec(t, g, clusterIssuer, "certs-public-issuer")["acme"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"dns01": map[string]any{"route53": map[string]any{"region": "us-east-1"}}}}, acme["solvers"])
	assert.Equal(t, map[string]any{"secretName": IssuerName + "-ca"}, componenttest.Spec(t, g, clusterIssuer, "certs-issuer")["ca"])

	gw := componenttest.Spec(t, g, certificate, "certs-istio-ingress-production-cert")
	assert.Equal(t, "production-cert", gw["secretName"])
	assert.Equal(t, PublicIssuerName, gw["issuerRef"].(map[string]any)["name"])
	assert.Equal(t, "2160h", gw["duration"], "certificates and keys rotate every 90 days")
	assert.Equal(t, "Always", gw["privateKey"].(map[string]any)["rotationPolicy"])
	vault := componenttest.Spec(t, g, certificate, "certs-vault-vault-tls")
	assert.Equal(t, IssuerName, vault["issuerRef"].(map[string]any)["name"], "in-cluster TLS comes from the private CA")
}

func TestCertsWithoutACMEUseThePrivateCA(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewCerts(ctx, "certs", &CertsArgs{Mode: upstream.StandIns,
			Certificates: []Certificate{{Name: "production-cert", Namespace: "istio-ingress", DNSNames: []string{"api.local"}, Public: true}}})
		return err
	})
	require.NoError(t, err)
	assert.Empty(t, g.OfType(release))
	_, ok := g.Named("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "certificates.cert-manager.io")
	assert.True(t, ok)
	assert.Equal(t, IssuerName, componenttest.Spec(t, g, certificate, "certs-istio-ingress-production-cert")["issuerRef"].(map[string]any)["name"])
	_, public := g.Named(clusterIssuer, "certs-public-issuer")
	assert.False(t, public)
}

func TestVaultHAWithAutoUnseal(t *testing.T) {
	seal := "seal \"awskms\" {\n  region     = \"us-east-1\"\n  kms_key_id = \"arn:aws:kms:us-east-1:1:key/k\"\n}\n"
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewVault(ctx, "vault", &VaultArgs{
			Mode: upstream.Charts, Replicas: 3, Seal: pulumi.String(seal),
			ServiceAccountAnnotations: pulumi.StringMap{"eks.amazonaws.com/role-arn": pulumi.String("arn:aws:iam::1:role/vault")},
			StorageClass:              "cloudscale-encrypted", VolumeSize: "10Gi",
			RequestCPU: "500m", RequestMemory: "1Gi", LimitCPU: "2", LimitMemory: "4Gi",
		})
		return err
	})
	require.NoError(t, err)
	r, ok := g.Named(release, "vault")
	require.True(t, ok)
	assert.Equal(t, upstream.Vault.Version, r.Inputs["version"])
	server := r.Inputs["values"].(map[string]any)["server"].(map[string]any)
	ha := server["ha"].(map[string]any)
	assert.Equal(t, true, ha["enabled"])
	assert.Equal(t, 3.0, ha["replicas"])
	raft := ha["raft"].(map[string]any)
	assert.Equal(t, true, raft["enabled"])
	config := raft["config"].(string)
	assert.Contains(t, config, seal)
	assert.Contains(t, config, `tls_min_version = "tls13"`)
	assert.Contains(t, config, `storage "raft"`)
	assert.Equal(t, 3, strings.Count(config, "retry_join"))
	assert.Equal(t, "arn:aws:iam::1:role/vault", server["serviceAccount"].(map[string]any)["annotations"].(map[string]any)["eks.amazonaws.com/role-arn"])
	assert.Equal(t, "cloudscale-encrypted", server["dataStorage"].(map[string]any)["storageClass"])
	assert.Equal(t, false, r.Inputs["values"].(map[string]any)["injector"].(map[string]any)["enabled"])
}

func TestVaultRefusesWhatIsNotHA(t *testing.T) {
	_, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewVault(ctx, "vault", &VaultArgs{Mode: upstream.Charts, Replicas: 1})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "replicas 1: raft needs at least 3")
	assert.Contains(t, err.Error(), "a storage class and volume size are required")

	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewVault(ctx, "vault", &VaultArgs{Mode: upstream.Charts, Replicas: 3, StorageClass: "sc", VolumeSize: "10Gi"})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vault vault: a KMS seal stanza is required (auto-unseal)")
	assert.Empty(t, g.Resources)
}

func TestExternalSecretsFromVault(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewSecrets(ctx, "secrets", &SecretsArgs{Mode: upstream.Charts, Secrets: []AppSecret{
			{Name: "gateway-api-keys", Namespace: "istio-ingress", VaultPath: "gateway/api-keys", Keys: map[string]string{"htpasswd": "htpasswd"}},
		}})
		return err
	})
	require.NoError(t, err)
	_, ok := g.Named(release, "external-secrets")
	assert.True(t, ok)
	store := componenttest.Spec(t, g, "kubernetes:external-secrets.io/v1:ClusterSecretStore", "secrets-store")
	v := store["provider"].(map[string]any)["vault"].(map[string]any)
	assert.Equal(t, VaultAddress, v["server"])
	assert.Equal(t, "external-secrets", v["auth"].(map[string]any)["kubernetes"].(map[string]any)["role"])
	es := componenttest.Spec(t, g, "kubernetes:external-secrets.io/v1:ExternalSecret", "secrets-istio-ingress-gateway-api-keys")
	assert.Equal(t, []any{map[string]any{"secretKey": "htpasswd", "remoteRef": map[string]any{"key": "gateway/api-keys", "property": "htpasswd"}}}, es["data"])
	assert.Equal(t, RefreshInterval, es["refreshInterval"])
	assert.Equal(t, "Owner", es["target"].(map[string]any)["creationPolicy"])
	assert.Empty(t, g.OfType("kubernetes:core/v1:Secret"), "no secret value passes through the program")

	_, err = componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewSecrets(ctx, "secrets", &SecretsArgs{Secrets: []AppSecret{{Name: "x", Namespace: "y"}}})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secret 0: a name, a namespace, a Vault path and at least one key are required")
}

func TestSystemNamespacesGetOperatorAccessNotSidecars(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewBaseline(ctx, "baseline", &BaselineArgs{Namespaces: []string{"cloudscale"}, Mesh: true,
			System: []SystemNamespace{{Name: "vault", IngressPorts: []int{8200, 8201}, EgressPorts: []int{443}}, {Name: "quiet"}}})
		return err
	})
	require.NoError(t, err)
	app, _ := g.Named("kubernetes:core/v1:Namespace", "cloudscale")
	assert.Equal(t, "enabled", app.Inputs["metadata"].(map[string]any)["labels"].(map[string]any)["istio-injection"])
	sys, ok := g.Named("kubernetes:core/v1:Namespace", "vault")
	require.True(t, ok)
	labels := sys.Inputs["metadata"].(map[string]any)["labels"].(map[string]any)
	assert.NotContains(t, labels, "istio-injection")
	assert.Equal(t, "restricted", labels["pod-security.kubernetes.io/enforce"])
	quiet := componenttest.Spec(t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "quiet-operator-access")
	assert.Len(t, quiet["ingress"], 1, "no ports: only the namespace's own pods")
	assert.Len(t, quiet["egress"], 1)
	_, deny := g.Named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "vault-default-deny")
	assert.True(t, deny)
	access := componenttest.Spec(t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "vault-operator-access")
	assert.Equal(t, []any{map[string]any{"protocol": "TCP", "port": 8200.0}, map[string]any{"protocol": "TCP", "port": 8201.0}},
		access["ingress"].([]any)[1].(map[string]any)["ports"])
	for _, rule := range access["ingress"].([]any) {
		r := rule.(map[string]any)
		assert.True(t, r["ports"] != nil || r["from"] != nil, "no rule admits everything: %v", r)
	}
}
