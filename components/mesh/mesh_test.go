package mesh

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
)

const (
	peerAuthentication  = "kubernetes:security.istio.io/v1:PeerAuthentication"
	authorizationPolicy = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
	destinationRule     = "kubernetes:networking.istio.io/v1:DestinationRule"
	virtualService      = "kubernetes:networking.istio.io/v1:VirtualService"
	telemetry           = "kubernetes:telemetry.istio.io/v1:Telemetry"
	release             = "kubernetes:helm.sh/v3:Release"
)

var collector = contract.Endpoint{Host: "jaeger-collector.monitoring.svc.cluster.local", Port: 4317}

func args(mode upstream.Mode) Args {
	return Args{
		Mode: mode, IstiodReplicas: 3, TracingSampling: 1, Tracing: collector,
		AppNamespaces: []string{"cloudscale", "istio-ingress"},
		Services: []Service{
			{Name: "api-service", Namespace: "cloudscale", Port: 8080, Callers: []string{"istio-ingress/ingress-gateway"}, CanaryWeight: 10,
				CircuitBreaker: &CircuitBreaker{MaxConnections: 100, ConsecutiveErrors: 3, EjectionSeconds: 60}},
			{Name: "billing", Namespace: "cloudscale", Port: 9090},
		},
		Resources: workload.Resources{RequestCPU: "500m", RequestMemory: "1Gi", LimitCPU: "2", LimitMemory: "4Gi"},
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
		r, ok := g.Named(release, rel.name)
		require.True(t, ok, rel.name)
		assert.Equal(t, rel.chart, r.Inputs["chart"])
		assert.Equal(t, upstream.IstioVersion, r.Inputs["version"])
		assert.Equal(t, "https://istio-release.storage.googleapis.com/charts", r.String("repositoryOpts.repo"))
	}
	istiod, _ := g.Named(release, "istiod")
	values := componenttest.Decode[IstiodValues](t, istiod.Inputs["values"], "istiod values")
	assert.False(t, values.ConfigMap)
	assert.Equal(t, 3, values.Pilot.ReplicaCount)
	assert.Equal(t, 3, values.Pilot.AutoscaleMin)
	assert.Equal(t, 3, values.ReplicaCount, "also at the top level, where charts since 1.24 read it")
	assert.True(t, values.Global.DefaultPodDisruptionBudget.Enabled)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, values.Pilot.SeccompProfile.Type)
	assert.True(t, values.Pilot.Resources.Limits.Memory().Equal(resource.MustParse("4Gi")))
	cni, _ := g.Named(release, "istio-cni")
	assert.Equal(t, "", componenttest.Decode[CNIValues](t, cni.Inputs["values"], "cni values").Global.Platform)

	cm, ok := g.Named("kubernetes:core/v1:ConfigMap", "mesh-config")
	require.True(t, ok)
	// Stated, not left to a default: istiod's is ALLOW_ANY.
	assert.Contains(t, cm.String("data.mesh"), "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n")
	js, err := yaml.YAMLToJSON([]byte(cm.String("data.mesh")))
	require.NoError(t, err)
	var mc meshv1alpha1.MeshConfig
	require.NoError(t, protojson.Unmarshal(js, &mc), "istiod's own type reads the mesh config")
	assert.Equal(t, meshv1alpha1.MeshConfig_OutboundTrafficPolicy_REGISTRY_ONLY, mc.GetOutboundTrafficPolicy().GetMode())
	assert.Equal(t, meshv1alpha1.MeshConfig_TLSConfig_TLSV1_3, mc.GetMeshMTLS().GetMinProtocolVersion())
	assert.Equal(t, meshv1alpha1.MeshConfig_TLSConfig_TLSV1_3, mc.GetTlsDefaults().GetMinProtocolVersion())
	assert.Equal(t, "/dev/stdout", mc.GetAccessLogFile())
	otel := mc.GetExtensionProviders()[0].GetOpentelemetry()
	assert.Equal(t, "jaeger-collector.monitoring.svc.cluster.local", otel.GetService())
	assert.Equal(t, uint32(4317), otel.GetPort())

	tel := componenttest.Object[telemetryv1.Telemetry](t, g, telemetry, "mesh-telemetry")
	assert.Equal(t, 1.0, tel.Spec.Tracing[0].GetRandomSamplingPercentage().GetValue())
	pa := componenttest.Object[securityv1.PeerAuthentication](t, g, peerAuthentication, "mesh-mtls")
	assert.Equal(t, RootNamespace, pa.Namespace)
	assert.Equal(t, securityapi.PeerAuthentication_MutualTLS_STRICT, pa.Spec.GetMtls().GetMode())
	assert.Nil(t, pa.Spec.GetSelector(), "mesh-wide")
}

func TestGKEPlatformForTheCNI(t *testing.T) {
	a := args(upstream.Charts)
	a.Distribution = "gke"
	g, err := run(t, a)
	require.NoError(t, err)
	cni, _ := g.Named(release, "istio-cni")
	assert.Equal(t, "gke", componenttest.Decode[CNIValues](t, cni.Inputs["values"], "cni values").Global.Platform)
}

func TestDenyByDefaultAndCanaries(t *testing.T) {
	g, err := run(t, args(upstream.CRDsOnly))
	require.NoError(t, err)
	// No charts when only CRDs are installed, but the kinds the mesh writes are defined.
	assert.Empty(t, g.OfType(release))
	crd := componenttest.Object[apiextensionsv1.CustomResourceDefinition](t, g, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "peerauthentications.security.istio.io")
	assert.Equal(t, "true", crd.Labels[upstream.OpenSchemaLabel], "Istio's protobuf types carry no schema markers")

	for _, ns := range []string{"cloudscale", "istio-ingress"} {
		r, ok := g.Named(authorizationPolicy, "mesh-deny-"+ns)
		require.True(t, ok, ns)
		assert.Equal(t, map[string]any{}, r.Inputs["spec"], "an ALLOW policy without rules denies everything")
	}
	allow := componenttest.Object[securityv1.AuthorizationPolicy](t, g, authorizationPolicy, "mesh-cloudscale-api-service-allow")
	require.Len(t, allow.Spec.Rules, 1)
	assert.Equal(t, []string{"cluster.local/ns/istio-ingress/sa/ingress-gateway"}, allow.Spec.Rules[0].From[0].GetSource().GetPrincipals())
	assert.Equal(t, []string{"8080"}, allow.Spec.Rules[0].To[0].GetOperation().GetPorts())
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "api-service"}, allow.Spec.GetSelector().GetMatchLabels())
	// A service nobody may call gets an allow policy with no rules: denied.
	assert.Empty(t, componenttest.Object[securityv1.AuthorizationPolicy](t, g, authorizationPolicy, "mesh-cloudscale-billing-allow").Spec.Rules)

	dr := componenttest.Object[networkingv1.DestinationRule](t, g, destinationRule, "mesh-cloudscale-api-service")
	require.Len(t, dr.Spec.Subsets, 2)
	assert.Equal(t, "canary", dr.Spec.Subsets[1].GetName())
	tp := dr.Spec.GetTrafficPolicy()
	assert.Equal(t, networkingapi.ClientTLSSettings_ISTIO_MUTUAL, tp.GetTls().GetMode())
	assert.Equal(t, int32(100), tp.GetConnectionPool().GetTcp().GetMaxConnections())
	assert.Equal(t, time.Minute, tp.GetOutlierDetection().GetBaseEjectionTime().AsDuration())
	vs := componenttest.Object[networkingv1.VirtualService](t, g, virtualService, "mesh-cloudscale-api-service")
	weights := vs.Spec.Http[0].Route
	assert.Equal(t, int32(90), weights[0].GetWeight())
	assert.Equal(t, int32(10), weights[1].GetWeight())
	assert.Equal(t, "canary", weights[1].GetDestination().GetSubset())
	_, hasVS := g.Named(virtualService, "mesh-cloudscale-billing")
	assert.False(t, hasVS, "no canary, no mesh route")
	billing := componenttest.Object[networkingv1.DestinationRule](t, g, destinationRule, "mesh-cloudscale-billing")
	assert.Equal(t, uint32(5), billing.Spec.GetTrafficPolicy().GetOutlierDetection().GetConsecutive_5XxErrors().GetValue())
}

func TestSidecarPeers(t *testing.T) {
	sc := Sidecar(collector, contract.Peer{PodLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}})
	assert.Equal(t, []int{XDSPort}, sc.ControlPlane.Ports)
	assert.Equal(t, map[string]string{"app": "istiod"}, sc.ControlPlane.PodLabels)
	assert.Equal(t, []int{ProxyMergedMetricsPort, EnvoyMetricsPort}, sc.Metrics.Ports)
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "prometheus"}, sc.Metrics.PodLabels)
}

func TestBadArgs(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Args)
		want string
	}{
		{"one istiod", func(a *Args) { a.IstiodReplicas = 1 }, "istiod replicas 1: at least 2"},
		{"sampling", func(a *Args) { a.TracingSampling = 101 }, "tracing sampling 101: a percentage from 0 to 100"},
		{"no tracing backend", func(a *Args) { a.Tracing = contract.Endpoint{} }, "a tracing service and port are required"},
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
