package stacks_test

import (
	"testing"

	acmev1 "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/security"
	esv1 "github.com/cloudscale/platform/components/security/externalsecrets"
	"github.com/cloudscale/platform/stacks/spec"
)

// The Kubernetes tiers as composed from the committed stack files.
func TestKubernetesTiersInStaging(t *testing.T) {
	res := run(t, "staging")
	g := res.Graph

	// The gateway document comes from the file the stack names.
	vs := componenttest.Object[networkingv1.VirtualService](t, g, "kubernetes:networking.istio.io/v1:VirtualService", "gateway-routes")
	routes := vs.Spec.Http
	require.Len(t, routes, 4)
	assert.Equal(t, int32(95), routes[0].Route[0].GetWeight(), "5% canary from cloudscale:services")
	assert.Equal(t, "always", routes[0].Match[0].GetHeaders()["x-canary"].GetExact())

	// Mesh: deny by default, the gateway admitted to api-service, canary subsets.
	allow := componenttest.Object[securityv1.AuthorizationPolicy](t, g, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "mesh-cloudscale-api-service-allow")
	assert.Equal(t, []string{"cluster.local/ns/istio-ingress/sa/ingress-gateway"}, allow.Spec.Rules[0].From[0].GetSource().GetPrincipals())
	dr := componenttest.Object[networkingv1.DestinationRule](t, g, "kubernetes:networking.istio.io/v1:DestinationRule", "mesh-cloudscale-api-service")
	assert.Len(t, dr.Spec.Subsets, 2)
	assert.Equal(t, uint32(5), dr.Spec.GetTrafficPolicy().GetOutlierDetection().GetConsecutive_5XxErrors().GetValue(),
		"the circuit breaker of the gateway's first route that sets one")
	tel := componenttest.Object[telemetryv1.Telemetry](t, g, "kubernetes:telemetry.istio.io/v1:Telemetry", "mesh-telemetry")
	assert.Equal(t, 10.0, tel.Spec.Tracing[0].GetRandomSamplingPercentage().GetValue(), "staging samples 10%")

	// Gateway: 3+ replicas with HPA, LB with firewall, rate limits, token and API-key checks.
	svc := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", "ingress-gateway")
	assert.Equal(t, corev1.ServiceTypeLoadBalancer, svc.Spec.Type)
	assert.Equal(t, []string{"0.0.0.0/0"}, svc.Spec.LoadBalancerSourceRanges)
	assert.Equal(t, "nlb", svc.Annotations["service.beta.kubernetes.io/aws-load-balancer-type"], "the AWS tier's load balancer")
	hpa := componenttest.Object[autoscalingv2.HorizontalPodAutoscaler](t, g, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "ingress-gateway")
	assert.Equal(t, int32(3), *hpa.Spec.MinReplicas)
	for _, f := range []string{"gateway-local-ratelimit", "gateway-api-keys"} {
		named(t, g, "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter", f)
	}
	// The account route's global limit counts in the data tier's Redis:
	// the rate-limit service reaches its state instance through Sentinel,
	// over TLS, with the password from Vault.
	var deployments []string
	for _, d := range g.OfType("kubernetes:apps/v1:Deployment") {
		deployments = append(deployments, componenttest.Decode[appsv1.Deployment](t, d.Inputs, "deployment").Name)
	}
	assert.ElementsMatch(t, []string{"ingress-gateway", "ratelimit", "slo-gate", "api-service", "api-service-canary", "order-worker"}, deployments)
	rl := componenttest.Object[appsv1.Deployment](t, g, "kubernetes:apps/v1:Deployment", "ratelimit").Spec.Template.Spec.Containers[0]
	assert.Contains(t, rl.Env, corev1.EnvVar{Name: "REDIS_TYPE", Value: "SENTINEL"})
	assert.Contains(t, rl.Env, corev1.EnvVar{Name: "REDIS_URL", Value: "redis-state,redis-state-0.redis-state.cloudscale.svc.cluster.local:26379," +
		"redis-state-1.redis-state.cloudscale.svc.cluster.local:26379,redis-state-2.redis-state.cloudscale.svc.cluster.local:26379"})
	assert.Contains(t, rl.Env, corev1.EnvVar{Name: "REDIS_TLS", Value: "true"})
	named(t, g, "kubernetes:external-secrets.io/v1:ExternalSecret", "secrets-istio-ingress-ratelimit-redis-auth")
	named(t, g, "kubernetes:cert-manager.io/v1:Certificate", "certs-cloudscale-redis-tls")
	ra := componenttest.Object[securityv1.RequestAuthentication](t, g, "kubernetes:security.istio.io/v1:RequestAuthentication", "gateway-jwt")
	assert.Equal(t, "https://id.cloudscale.example.com", ra.Spec.JwtRules[0].GetIssuer())
	es := componenttest.Object[esv1.ExternalSecret](t, g, "kubernetes:external-secrets.io/v1:ExternalSecret", "secrets-istio-ingress-gateway-api-keys")
	assert.Equal(t, "vault", es.Spec.SecretStoreRef.Name)
	assert.Equal(t, esv1.CreatePolicyMerge, es.Spec.Target.CreationPolicy, "into the gateway's placeholder Secret")

	// The public certificate comes from ACME (DNS-01 in the stack's cloud).
	issuer := componenttest.Object[certmanagerv1.ClusterIssuer](t, g, "kubernetes:cert-manager.io/v1:ClusterIssuer", "certs-public-issuer")
	assert.Equal(t, &acmev1.ACMEChallengeSolverDNS01{Route53: &acmev1.ACMEIssuerDNS01ProviderRoute53{Region: "us-west-2"}}, issuer.Spec.ACME.Solvers[0].DNS01)

	// Vault: HA raft, auto-unsealed by the secrets key through its own IRSA role.
	vault := named(t, g, "kubernetes:helm.sh/v3:Release", "vault")
	values := componenttest.Decode[security.VaultValues](t, vault.Inputs["values"], "vault values")
	assert.Equal(t, 3, values.Server.HA.Replicas)
	assert.Contains(t, values.Server.HA.Raft.Config, `seal "awskms"`)
	assert.Contains(t, values.Server.HA.Raft.Config, `kms_key_id = "arn:aws:kms:`)
	vaultCert := componenttest.Object[certmanagerv1.Certificate](t, g, "kubernetes:cert-manager.io/v1:Certificate", "certs-vault-vault-tls")
	assert.Equal(t, []string{"127.0.0.1"}, vaultCert.Spec.IPAddresses)
	role := named(t, g, "aws:iam/role:Role", "aws-vault")
	assert.Contains(t, role.String("assumeRolePolicy"), "system:serviceaccount:vault:vault")

	// The mesh config the gate reads, in istiod's own type.
	cm := componenttest.Object[corev1.ConfigMap](t, g, "kubernetes:core/v1:ConfigMap", "mesh-config")
	js, err := yaml.YAMLToJSON([]byte(cm.Data["mesh"]))
	require.NoError(t, err)
	var mc meshv1alpha1.MeshConfig
	require.NoError(t, protojson.Unmarshal(js, &mc))
	assert.Equal(t, meshv1alpha1.MeshConfig_OutboundTrafficPolicy_REGISTRY_ONLY, mc.GetOutboundTrafficPolicy().GetMode())
	assert.Equal(t, "jaeger-collector.monitoring.svc.cluster.local", mc.GetExtensionProviders()[0].GetOpentelemetry().GetService(),
		"the monitoring tier's collector")
}

func TestGuideExampleFileWorksVerbatim(t *testing.T) {
	s, err := spec.LoadFile("Pulumi.prod-azure.yaml")
	require.NoError(t, err)
	assert.Contains(t, s.Gateway.DocumentSource, "gateway/guide-example.yaml")
	res := run(t, "prod-azure")
	vs := componenttest.Object[networkingv1.VirtualService](t, res.Graph, "kubernetes:networking.istio.io/v1:VirtualService", "gateway-routes")
	require.Len(t, vs.Spec.Http, 1)
	assert.Equal(t, "/api/v1/", vs.Spec.Http[0].Match[0].GetUri().GetPrefix())
	svc := componenttest.Object[corev1.Service](t, res.Graph, "kubernetes:core/v1:Service", "ingress-gateway")
	assert.Empty(t, svc.Annotations, "Azure's default load balancer")
}
