package mesh

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/graph"
)

func args(mode upstream.Mode) Args {
	return Args{
		Mode: mode, IstiodReplicas: 3, TracingSampling: 1, TracingService: "jaeger-collector.monitoring.svc.cluster.local", TracingPort: 4317,
		AppNamespaces: []string{"cloudscale", "istio-ingress"},
		Services: []Service{
			{Name: "api-service", Namespace: "cloudscale", Port: 8080, Callers: []string{"istio-ingress/ingress-gateway"}, CanaryWeight: 10,
				CircuitBreaker: &CircuitBreaker{MaxConnections: 100, ConsecutiveErrors: 3, EjectionSeconds: 60}},
			{Name: "billing", Namespace: "cloudscale", Port: 9090},
		},
		RequestCPU: "500m", RequestMemory: "1Gi", LimitCPU: "2", LimitMemory: "4Gi",
	}
}

func run(t *testing.T, a Args) (graph.Graph, error) {
	t.Helper()
	return componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, "mesh", &a)
		return err
	})
}

func TestChartsAndMeshConfig(t *testing.T) {
	g, err := run(t, args(upstream.Charts))
	require.NoError(t, err)
	// Pinned charts; istiod with 3 replicas, a PDB, the CNI and no chart-written config.
	for _, rel := range []struct{ name, chart string }{{"istio-base", "base"}, {"istio-cni", "cni"}, {"istiod", "istiod"}} {
		r, ok := g.Named("kubernetes:helm.sh/v3:Release", rel.name)
		require.True(t, ok, rel.name)
		assert.Equal(t, rel.chart, r.Inputs["chart"])
		assert.Equal(t, upstream.IstioVersion, r.Inputs["version"])
		assert.Equal(t, "https://istio-release.storage.googleapis.com/charts", r.Inputs["repositoryOpts"].(map[string]any)["repo"])
	}
	istiod, _ := g.Named("kubernetes:helm.sh/v3:Release", "istiod")
	values := istiod.Inputs["values"].(map[string]any)
	assert.Equal(t, false, values["configMap"])
	assert.Equal(t, 3.0, values["pilot"].(map[string]any)["replicaCount"])
	assert.Equal(t, 3.0, values["pilot"].(map[string]any)["autoscaleMin"])
	assert.Equal(t, true, values["global"].(map[string]any)["defaultPodDisruptionBudget"].(map[string]any)["enabled"])

	cm, ok := g.Named("kubernetes:core/v1:ConfigMap", "mesh-config")
	require.True(t, ok)
	var mc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cm.Inputs["data"].(map[string]any)["mesh"].(string)), &mc))
	assert.Equal(t, map[string]any{"mode": "REGISTRY_ONLY"}, mc["outboundTrafficPolicy"])
	assert.Equal(t, map[string]any{"minProtocolVersion": "TLSV1_3"}, mc["meshMTLS"])
	assert.Equal(t, map[string]any{"minProtocolVersion": "TLSV1_3"}, mc["tlsDefaults"])
	assert.Equal(t, "/dev/stdout", mc["accessLogFile"])
	assert.Equal(t, map[string]any{"service": "jaeger-collector.monitoring.svc.cluster.local", "port": 4317.0},
		mc["extensionProviders"].([]any)[0].(map[string]any)["opentelemetry"])

	tel := componenttest.Spec(t, g, "kubernetes:telemetry.istio.io/v1:Telemetry", "mesh-telemetry")
	assert.Equal(t, 1.0, tel["tracing"].([]any)[0].(map[string]any)["randomSamplingPercentage"])
	assert.Equal(t, map[string]any{"mtls": map[string]any{"mode": "STRICT"}}, componenttest.Spec(t, g, "kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-mtls"))
}

func TestDenyByDefaultAndCanaries(t *testing.T) {
	g, err := run(t, args(upstream.StandIns))
	require.NoError(t, err)
	// No charts on stand-ins, but the kinds the mesh writes are defined.
	assert.Empty(t, g.OfType("kubernetes:helm.sh/v3:Release"))
	_, ok := g.Named("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "peerauthentications.security.istio.io")
	assert.True(t, ok)

	for _, ns := range []string{"cloudscale", "istio-ingress"} {
		r, ok := g.Named("kubernetes:security.istio.io/v1:AuthorizationPolicy", "mesh-deny-"+ns)
		require.True(t, ok, ns)
		assert.Equal(t, map[string]any{}, r.Inputs["spec"], "an ALLOW policy without rules denies everything")
	}
	allow := componenttest.Spec(t, g, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "mesh-cloudscale-api-service-allow")
	rule := allow["rules"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{"cluster.local/ns/istio-ingress/sa/ingress-gateway"}, rule["from"].([]any)[0].(map[string]any)["source"].(map[string]any)["principals"])
	assert.Equal(t, []any{"8080"}, rule["to"].([]any)[0].(map[string]any)["operation"].(map[string]any)["ports"])
	// A service nobody may call gets an allow policy with no rules: denied.
	assert.NotContains(t, componenttest.Spec(t, g, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "mesh-cloudscale-billing-allow"), "rules")

	dr := componenttest.Spec(t, g, "kubernetes:networking.istio.io/v1:DestinationRule", "mesh-cloudscale-api-service")
	assert.Equal(t, Subsets(), dr["subsets"])
	tp := dr["trafficPolicy"].(map[string]any)
	assert.Equal(t, "ISTIO_MUTUAL", tp["tls"].(map[string]any)["mode"])
	assert.Equal(t, 100.0, tp["connectionPool"].(map[string]any)["tcp"].(map[string]any)["maxConnections"])
	assert.Equal(t, "60s", tp["outlierDetection"].(map[string]any)["baseEjectionTime"])
	vs := componenttest.Spec(t, g, "kubernetes:networking.istio.io/v1:VirtualService", "mesh-cloudscale-api-service")
	weights := vs["http"].([]any)[0].(map[string]any)["route"].([]any)
	assert.Equal(t, 90.0, weights[0].(map[string]any)["weight"])
	assert.Equal(t, 10.0, weights[1].(map[string]any)["weight"])
	_, hasVS := g.Named("kubernetes:networking.istio.io/v1:VirtualService", "mesh-cloudscale-billing")
	assert.False(t, hasVS, "no canary, no mesh route")
	billing := componenttest.Spec(t, g, "kubernetes:networking.istio.io/v1:DestinationRule", "mesh-cloudscale-billing")
	assert.Equal(t, 5.0, billing["trafficPolicy"].(map[string]any)["outlierDetection"].(map[string]any)["consecutive5xxErrors"])
}

func TestBadArgs(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Args)
		want string
	}{
		{"one istiod", func(a *Args) { a.IstiodReplicas = 1 }, "istiod replicas 1: at least 2"},
		{"sampling", func(a *Args) { a.TracingSampling = 101 }, "tracing sampling 101: a percentage from 0 to 100"},
		{"no tracing backend", func(a *Args) { a.TracingService = "" }, "a tracing service and port are required"},
		{"canary weight", func(a *Args) { a.Services[0].CanaryWeight = -1 }, "service api-service: canary weight -1 is not a percentage"},
		{"duplicate", func(a *Args) { a.Services[1] = a.Services[0] }, "service cloudscale/api-service is listed twice"},
		{"caller", func(a *Args) { a.Services[1].Callers = []string{"web"} }, `service billing: caller "web" is not namespace/serviceaccount`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := args(upstream.Charts)
			tc.edit(&a)
			g, err := run(t, a)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, g.Resources)
		})
	}
}
