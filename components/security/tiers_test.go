package security

import (
	"strings"
	"testing"
	"time"

	acmev1 "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	esv1 "github.com/cloudscale/platform/components/security/externalsecrets"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

const (
	certificateType   = "kubernetes:cert-manager.io/v1:Certificate"
	clusterIssuerType = "kubernetes:cert-manager.io/v1:ClusterIssuer"
	release           = "kubernetes:helm.sh/v3:Release"
	crdType           = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
	networkPolicy     = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
)

var resources = workload.Resources{RequestCPU: "500m", RequestMemory: "1Gi", LimitCPU: "2", LimitMemory: "4Gi"}

func TestCertsPublicAndPrivate(t *testing.T) {
	route53 := &acmev1.ACMEChallengeSolverDNS01{Route53: &acmev1.ACMEIssuerDNS01ProviderRoute53{Region: "us-east-1"}}
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewCerts(ctx, "certs", &CertsArgs{
			Mode: upstream.Charts,
			ACME: &ACME{Email: "ops@example.com", Server: "https://acme.example/dir", DNS01: route53},
			Certificates: []contract.Certificate{
				{Name: "production-cert", Namespace: "istio-ingress", DNSNames: []string{"api.example.com"}, Public: true},
				VaultCertificate(),
			},
		})
		return err
	})
	require.NoError(t, err)
	r, ok := g.Named(release, "cert-manager")
	require.True(t, ok)
	assert.Equal(t, upstream.CertManager.Version, r.Inputs["version"])
	values := componenttest.Decode[CertManagerValues](t, r.Inputs["values"], "cert-manager values")
	assert.Equal(t, 3, values.Webhook.ReplicaCount)
	assert.True(t, values.CRDs.Keep)

	acme := componenttest.Object[certmanagerv1.ClusterIssuer](t, g, clusterIssuerType, "certs-public-issuer").Spec.ACME
	require.NotNil(t, acme)
	assert.Equal(t, []acmev1.ACMEChallengeSolver{{DNS01: route53}}, acme.Solvers)
	assert.Equal(t, "ops@example.com", acme.Email)
	assert.Equal(t, &certmanagerv1.CAIssuer{SecretName: IssuerName + "-ca"}, componenttest.Object[certmanagerv1.ClusterIssuer](t, g, clusterIssuerType, "certs-issuer").Spec.CA)

	gw := componenttest.Object[certmanagerv1.Certificate](t, g, certificateType, "certs-istio-ingress-production-cert").Spec
	assert.Equal(t, "production-cert", gw.SecretName)
	assert.Equal(t, PublicIssuerName, gw.IssuerRef.Name)
	assert.Equal(t, 90*24*time.Hour, gw.Duration.Duration, "certificates and keys rotate every 90 days")
	assert.Equal(t, certmanagerv1.RotationPolicyAlways, gw.PrivateKey.RotationPolicy)
	vault := componenttest.Object[certmanagerv1.Certificate](t, g, certificateType, "certs-vault-vault-tls").Spec
	assert.Equal(t, IssuerName, vault.IssuerRef.Name, "in-cluster TLS comes from the private CA")
	assert.Equal(t, []string{"127.0.0.1"}, vault.IPAddresses)
	ca := componenttest.Object[certmanagerv1.Certificate](t, g, certificateType, "certs-ca").Spec
	assert.True(t, ca.IsCA)
	assert.Equal(t, 365*24*time.Hour, ca.Duration.Duration)
}

func TestCertsWithoutACMEUseThePrivateCA(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewCerts(ctx, "certs", &CertsArgs{Mode: upstream.CRDsOnly,
			Certificates: []contract.Certificate{{Name: "production-cert", Namespace: "istio-ingress", DNSNames: []string{"api.local"}, Public: true}}})
		return err
	})
	require.NoError(t, err)
	assert.Empty(t, g.OfType(release))
	crd := componenttest.Object[apiextensionsv1.CustomResourceDefinition](t, g, crdType, "certificates.cert-manager.io")
	assert.NotContains(t, crd.Labels, upstream.OpenSchemaLabel, "generated from cert-manager's own types")
	schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	assert.Contains(t, schema.Properties["spec"].Required, "issuerRef", "the API server checks objects against cert-manager's schema")
	assert.Equal(t, IssuerName, componenttest.Object[certmanagerv1.Certificate](t, g, certificateType, "certs-istio-ingress-production-cert").Spec.IssuerRef.Name)
	_, public := g.Named(clusterIssuerType, "certs-public-issuer")
	assert.False(t, public)
}

func TestVaultHAWithAutoUnseal(t *testing.T) {
	seal := "seal \"awskms\" {\n  region     = \"us-east-1\"\n  kms_key_id = \"arn:aws:kms:us-east-1:1:key/k\"\n}\n"
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewVault(ctx, "vault", &VaultArgs{
			Mode: upstream.Charts, Replicas: 3, Seal: pulumi.String(seal),
			ServiceAccountAnnotations: pulumi.StringMap{"eks.amazonaws.com/role-arn": pulumi.String("arn:aws:iam::1:role/vault")},
			StorageClass:              "cloudscale-encrypted", VolumeSize: "10Gi", Resources: resources,
		})
		return err
	})
	require.NoError(t, err)
	r, ok := g.Named(release, "vault")
	require.True(t, ok)
	assert.Equal(t, upstream.Vault.Version, r.Inputs["version"])
	// The outputs folded into the typed values: the raft config and the
	// service account's annotations.
	config := r.String("values.server.ha.raft.config")
	assert.Contains(t, config, seal)
	assert.Contains(t, config, `tls_min_version = "tls13"`)
	assert.Contains(t, config, `storage "raft"`)
	assert.Equal(t, 3, strings.Count(config, "retry_join"))
	annotations, _ := r.Get("values.server.serviceAccount.annotations")
	assert.Equal(t, map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/vault"}, annotations)

	values := componenttest.Decode[VaultValues](t, r.Inputs["values"], "vault values")
	assert.Equal(t, config, values.Server.HA.Raft.Config)
	assert.True(t, values.Server.HA.Enabled)
	assert.Equal(t, 3, values.Server.HA.Replicas)
	assert.True(t, values.Server.HA.Raft.Enabled)
	assert.Equal(t, "cloudscale-encrypted", values.Server.DataStorage.StorageClass)
	assert.False(t, values.Injector.Enabled)
	assert.Equal(t, corev1.DoNotSchedule, values.Server.TopologySpreadConstraints[0].WhenUnsatisfiable)
	assert.Equal(t, VaultEndpoint().Peer.PodLabels, values.Server.TopologySpreadConstraints[0].LabelSelector.MatchLabels)
}

func TestVaultRefusesWhatIsNotHA(t *testing.T) {
	_, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewVault(ctx, "vault", &VaultArgs{Mode: upstream.Charts, Replicas: 1, Resources: resources})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "replicas 1: raft needs at least 3")
	assert.Contains(t, err.Error(), "a storage class and volume size are required")

	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewVault(ctx, "vault", &VaultArgs{Mode: upstream.Charts, Replicas: 3, StorageClass: "sc", VolumeSize: "10Gi", Resources: resources})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vault vault: a KMS seal stanza is required (auto-unseal)")
	assert.Empty(t, g.Resources)
}

func TestExternalSecretsFromVault(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewSecrets(ctx, "secrets", &SecretsArgs{Mode: upstream.Charts, Vault: VaultEndpoint(), Secrets: []contract.VaultSecret{
			{Name: "gateway-api-keys", Namespace: "istio-ingress", VaultPath: "gateway/api-keys", Keys: map[string]string{"htpasswd": "htpasswd"}},
		}})
		return err
	})
	require.NoError(t, err)
	_, ok := g.Named(release, "external-secrets")
	assert.True(t, ok)
	store := componenttest.Object[esv1.ClusterSecretStore](t, g, "kubernetes:external-secrets.io/v1:ClusterSecretStore", "secrets-store")
	v := store.Spec.Provider.Vault
	assert.Equal(t, "https://vault.vault.svc:8200", v.Server)
	assert.Equal(t, "external-secrets", v.Auth.Kubernetes.Role)
	assert.Equal(t, VaultTLSSecret, v.CAProvider.Name)
	es := componenttest.Object[esv1.ExternalSecret](t, g, "kubernetes:external-secrets.io/v1:ExternalSecret", "secrets-istio-ingress-gateway-api-keys").Spec
	assert.Equal(t, []esv1.ExternalSecretData{{SecretKey: "htpasswd", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: "gateway/api-keys", Property: "htpasswd"}}}, es.Data)
	assert.Equal(t, RefreshInterval, es.RefreshInterval.Duration)
	assert.Equal(t, esv1.CreatePolicyOwner, es.Target.CreationPolicy)
	assert.Empty(t, g.OfType("kubernetes:core/v1:Secret"), "no secret value passes through the program")

	_, err = componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewSecrets(ctx, "secrets", &SecretsArgs{Vault: VaultEndpoint(), Secrets: []contract.VaultSecret{{Name: "x", Namespace: "y"}}})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secret 0: a name, a namespace, a Vault path and at least one key are required")
}

func TestSystemNamespacesGetOperatorAccessNotSidecars(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewBaseline(ctx, "baseline", &BaselineArgs{Namespaces: []string{"cloudscale"}, Mesh: true,
			System: []contract.OperatorNamespace{VaultOperatorNamespace(), {Name: "quiet"}}})
		return err
	})
	require.NoError(t, err)
	app := componenttest.Object[corev1.Namespace](t, g, "kubernetes:core/v1:Namespace", "cloudscale")
	assert.Equal(t, "enabled", app.Labels["istio-injection"])
	sys := componenttest.Object[corev1.Namespace](t, g, "kubernetes:core/v1:Namespace", "vault")
	assert.NotContains(t, sys.Labels, "istio-injection")
	assert.Equal(t, "restricted", sys.Labels["pod-security.kubernetes.io/enforce"])
	quiet := componenttest.Object[networkingv1.NetworkPolicy](t, g, networkPolicy, "quiet-operator-access").Spec
	assert.Len(t, quiet.Ingress, 1, "no ports: only the namespace's own pods")
	assert.Len(t, quiet.Egress, 1)
	_, deny := g.Named(networkPolicy, "vault-default-deny")
	assert.True(t, deny)
	access := componenttest.Object[networkingv1.NetworkPolicy](t, g, networkPolicy, "vault-operator-access").Spec
	require.Len(t, access.Ingress, 2)
	var ports []int32
	for _, p := range access.Ingress[1].Ports {
		ports = append(ports, p.Port.IntVal)
		assert.Equal(t, corev1.ProtocolTCP, *p.Protocol)
	}
	assert.Equal(t, []int32{VaultPort, VaultClusterPort}, ports)
	for _, rule := range access.Ingress {
		assert.True(t, len(rule.Ports) > 0 || len(rule.From) > 0, "no rule admits everything: %v", rule)
	}
}

// An operator namespace may ask for a Pod Security level above
// restricted (Chaos Mesh's node agent is privileged): enforce, warn and
// audit follow it there and nowhere else; the annotations go on the
// workload namespaces only; an unknown level is refused.
func TestOperatorNamespacePodSecurityAndAnnotations(t *testing.T) {
	args := &BaselineArgs{Namespaces: []string{"cloudscale"}, Mesh: true,
		System:      []contract.OperatorNamespace{VaultOperatorNamespace(), {Name: "chaos", PodSecurity: "privileged"}},
		Annotations: map[string]string{"chaos-mesh.org/inject": "enabled"}}
	g, err := componenttest.Run(func(ctx *pulumi.Context) error { _, err := NewBaseline(ctx, "baseline", args); return err })
	require.NoError(t, err)
	for ns, level := range map[string]string{"chaos": "privileged", "vault": "restricted", "cloudscale": "restricted"} {
		n := componenttest.Object[corev1.Namespace](t, g, "kubernetes:core/v1:Namespace", ns)
		for _, mode := range []string{"enforce", "warn", "audit"} {
			assert.Equal(t, level, n.Labels["pod-security.kubernetes.io/"+mode], "%s %s", ns, mode)
		}
		if ns == "cloudscale" {
			assert.Equal(t, map[string]string{"chaos-mesh.org/inject": "enabled"}, n.Annotations)
		} else {
			assert.Empty(t, n.Annotations, ns)
		}
	}
	args.System[1].PodSecurity = "root"
	assert.EqualError(t, args.Validate(), `namespace chaos: pod security level "root" is not restricted, baseline or privileged`)
}
