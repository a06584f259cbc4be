package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/stacks/spec"
)

// The Kubernetes tiers as composed from the committed stack files.
func TestKubernetesTiersInStaging(t *testing.T) {
	res := run(t, "staging")
	g := res.Graph

	// The gateway document comes from the file the stack names.
	vs := named(t, g, "kubernetes:networking.istio.io/v1:VirtualService", "gateway-routes")
	routes := get(vs, "spec.http").([]any)
	require.Len(t, routes, 4)
	first := routes[0].(map[string]any)["route"].([]any)
	assert.Equal(t, 95.0, first[0].(map[string]any)["weight"], "5% canary from cloudscale:services")
	header := routes[0].(map[string]any)["match"].([]any)[0].(map[string]any)["headers"]
	assert.Equal(t, map[string]any{"x-canary": map[string]any{"exact": "always"}}, header)

	// Mesh: deny by default, the gateway admitted to api-service, canary subsets.
	allow := named(t, g, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "mesh-cloudscale-api-service-allow")
	assert.Equal(t, []any{"cluster.local/ns/istio-ingress/sa/ingress-gateway"},
		get(allow, "spec.rules").([]any)[0].(map[string]any)["from"].([]any)[0].(map[string]any)["source"].(map[string]any)["principals"])
	dr := named(t, g, "kubernetes:networking.istio.io/v1:DestinationRule", "mesh-cloudscale-api-service")
	assert.Len(t, get(dr, "spec.subsets"), 2)
	tel := named(t, g, "kubernetes:telemetry.istio.io/v1:Telemetry", "mesh-telemetry")
	assert.Equal(t, 10.0, get(tel, "spec.tracing").([]any)[0].(map[string]any)["randomSamplingPercentage"], "staging samples 10%")

	// Gateway: 3+ replicas with HPA, LB with firewall, rate limits, token and API-key checks.
	svc := named(t, g, "kubernetes:core/v1:Service", "ingress-gateway")
	assert.Equal(t, "LoadBalancer", get(svc, "spec.type"))
	assert.Equal(t, []any{"0.0.0.0/0"}, get(svc, "spec.loadBalancerSourceRanges"))
	assert.Equal(t, 3.0, get(named(t, g, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "ingress-gateway"), "spec.minReplicas"))
	for _, f := range []string{"gateway-local-ratelimit", "gateway-api-keys"} {
		named(t, g, "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter", f)
	}
	// No Redis is named for global limits, so no route has one and no
	// rate-limit service runs.
	deployments := g.OfType("kubernetes:apps/v1:Deployment")
	require.Len(t, deployments, 1)
	assert.Equal(t, "ingress-gateway", deployments[0].Name)
	assert.Equal(t, "nlb", get(named(t, g, "kubernetes:core/v1:Service", "ingress-gateway"), "metadata.annotations").(map[string]any)["service.beta.kubernetes.io/aws-load-balancer-type"])
	ra := named(t, g, "kubernetes:security.istio.io/v1:RequestAuthentication", "gateway-jwt")
	assert.Equal(t, "https://id.cloudscale.example.com", get(ra, "spec.jwtRules").([]any)[0].(map[string]any)["issuer"])
	es := named(t, g, "kubernetes:external-secrets.io/v1:ExternalSecret", "secrets-istio-ingress-gateway-api-keys")
	assert.Equal(t, "vault", get(es, "spec.secretStoreRef.name"))
	assert.Equal(t, "Merge", get(es, "spec.target.creationPolicy"), "into the gateway's placeholder Secret")

	// The public certificate comes from ACME (DNS-01 in the stack's cloud).
	issuer := named(t, g, "kubernetes:cert-manager.io/v1:ClusterIssuer", "certs-public-issuer")
	assert.Equal(t, map[string]any{"route53": map[string]any{"region": "us-west-2"}},
		get(issuer, "spec.acme.solvers").([]any)[0].(map[string]any)["dns01"])

	// Vault: HA raft, auto-unsealed by the secrets key through its own IRSA role.
	vault := named(t, g, "kubernetes:helm.sh/v3:Release", "vault")
	assert.Equal(t, 3.0, get(vault, "values.server.ha.replicas"))
	raft := get(vault, "values.server.ha.raft.config").(string)
	assert.Contains(t, raft, `seal "awskms"`)
	assert.Contains(t, raft, `kms_key_id = "arn:aws:kms:`)
	vaultCert := named(t, g, "kubernetes:cert-manager.io/v1:Certificate", "certs-vault-vault-tls")
	assert.Equal(t, []any{"127.0.0.1"}, get(vaultCert, "spec.ipAddresses"))
	role := named(t, g, "aws:iam/role:Role", "aws-vault")
	assert.Contains(t, role.String("assumeRolePolicy"), "system:serviceaccount:vault:vault")

	// The mesh config the gate reads.
	cm := named(t, g, "kubernetes:core/v1:ConfigMap", "mesh-config")
	var mc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(get(cm, "data.mesh").(string)), &mc))
	assert.Equal(t, "REGISTRY_ONLY", mc["outboundTrafficPolicy"].(map[string]any)["mode"])
}

func TestGuideExampleFileWorksVerbatim(t *testing.T) {
	s, err := spec.LoadFile("Pulumi.prod-azure.yaml")
	require.NoError(t, err)
	assert.Contains(t, s.Gateway.DocumentSource, "gateway/guide-example.yaml")
	res := run(t, "prod-azure")
	routes := get(named(t, res.Graph, "kubernetes:networking.istio.io/v1:VirtualService", "gateway-routes"), "spec.http").([]any)
	require.Len(t, routes, 1)
	assert.Equal(t, map[string]any{"prefix": "/api/v1/"}, routes[0].(map[string]any)["match"].([]any)[0].(map[string]any)["uri"])
}
