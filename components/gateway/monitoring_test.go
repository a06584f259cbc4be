package gateway

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/monitoring/promtest"
	"github.com/cloudscale/platform/components/upstream"
)

const (
	serviceMonitorType = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
	ruleType           = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
	networkPolicyType  = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
)

// limitedArgs are base with a route the rate-limit service counts.
func limitedArgs(t *testing.T) (Args, string) {
	t.Helper()
	args := base()
	args.Counters = &contract.Redis{Mode: contract.RedisSingle, URL: "redis.cloudscale:6379", Namespace: "cloudscale"}
	src := first(limitedRoute)
	d, errs := gatewaydoc.Parse([]byte(src), field.NewPath("document"))
	require.Empty(t, errs)
	args.Document = d
	return args, src
}

func selects(t *testing.T, sel metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(&sel)
	require.NoError(t, err)
	return s.Matches(labels.Set(set))
}

// admits reports whether an ingress rule of np admits pods labelled pod
// in namespace ns on port.
func admits(np *networkingv1.NetworkPolicy, ns string, pod map[string]string, port int) bool {
	for _, r := range np.Spec.Ingress {
		for _, from := range r.From {
			nsOK := from.NamespaceSelector == nil && ns == np.Namespace ||
				from.NamespaceSelector != nil && labels.SelectorFromSet(from.NamespaceSelector.MatchLabels).Matches(labels.Set{contract.NamespaceNameLabel: ns})
			podOK := from.PodSelector != nil && labels.SelectorFromSet(from.PodSelector.MatchLabels).Matches(labels.Set(pod))
			if nsOK && podOK && slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port.IntValue() == port }) {
				return true
			}
		}
	}
	return false
}

var prometheusPod = map[string]string{contract.NameLabel: "prometheus"}

// The rate-limit service serves Prometheus metrics itself on a port its
// Service names, outside the sidecar's capture; the monitor selects that
// Service, and Prometheus may reach the port.
func TestRateLimitServiceIsScraped(t *testing.T) {
	args, src := limitedArgs(t)
	g, err := build(t, src, args)
	require.NoError(t, err)

	dep := componenttest.Object[appsv1.Deployment](t, g, deploymentType, RateLimitName)
	pod := dep.Spec.Template
	c := pod.Spec.Containers[0]
	assert.Equal(t, upstream.RateLimitImage, c.Image)
	assert.NotContains(t, c.Image, "6f5de117", "the 2021 build has no Prometheus sink")
	for _, env := range []corev1.EnvVar{{Name: "USE_PROMETHEUS", Value: "true"}, {Name: "PROMETHEUS_ADDR", Value: ":9090"},
		{Name: "PROMETHEUS_PATH", Value: "/metrics"}, {Name: "USE_STATSD", Value: "false"}} {
		assert.Contains(t, c.Env, env)
	}
	assert.Contains(t, c.Ports, corev1.ContainerPort{Name: "metrics", ContainerPort: RateLimitMetricsPort})
	assert.Equal(t, "9090", pod.Annotations["traffic.sidecar.istio.io/excludeInboundPorts"],
		"Prometheus is outside the STRICT mesh: the metrics port bypasses the sidecar")

	svc := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", RateLimitName)
	sm := componenttest.Object[monitoringv1.ServiceMonitor](t, g, serviceMonitorType, "main-ratelimit-monitor")
	assert.Equal(t, args.Namespace, sm.Namespace)
	assert.Equal(t, svc.Namespace, sm.Namespace)
	assert.True(t, selects(t, sm.Spec.Selector, svc.Labels), "the monitor selects the rate-limit Service")
	ingress := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", IngressName)
	assert.False(t, selects(t, sm.Spec.Selector, ingress.Labels), "and not the ingress Service")
	require.Len(t, sm.Spec.Endpoints, 1)
	assert.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
	assert.Contains(t, svc.Spec.Ports, corev1.ServicePort{Name: sm.Spec.Endpoints[0].Port, Port: RateLimitMetricsPort, TargetPort: intstr.FromInt32(RateLimitMetricsPort)})
	assert.True(t, selects(t, metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, pod.Labels), "the Service's endpoints are the rate-limit pods")

	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, networkPolicyType, RateLimitName)
	assert.True(t, admits(np, "monitoring", prometheusPod, RateLimitMetricsPort), "the scraper reaches the metrics port")
	assert.False(t, admits(np, "monitoring", prometheusPod, RateLimitPort), "but not the gRPC port")
	assert.False(t, admits(np, "cloudscale", map[string]string{contract.NameLabel: "api-service"}, RateLimitMetricsPort))
}

// The ingress pods are Envoy proxies: the mesh's proxy monitor scrapes
// them, so the gateway writes no monitor of its own for them. Istio's
// gateway injection template (inject.istio.io/templates: gateway) fills
// the istio-proxy container and adds port 15090 named http-envoy-prom;
// that port is added at admission, so the Deployment the gateway writes
// shows the injection request, not the port.
func TestIngressProxiesAreScrapedByTheMesh(t *testing.T) {
	g, err := build(t, gatewaydoc.GuideExample, base())
	require.NoError(t, err)
	dep := componenttest.Object[appsv1.Deployment](t, g, deploymentType, IngressName)
	pod := dep.Spec.Template
	assert.Equal(t, "gateway", pod.Annotations["inject.istio.io/templates"])
	assert.Equal(t, "true", pod.Labels["sidecar.istio.io/inject"])
	assert.Equal(t, "istio-proxy", pod.Spec.Containers[0].Name, "the container the template fills")

	pm := mesh.ProxyMonitor()
	assert.True(t, pm.Spec.NamespaceSelector.Any)
	assert.True(t, selects(t, pm.Spec.Selector, pod.Labels), "the mesh's proxy monitor selects the ingress pods")
	keep := pm.Spec.PodMetricsEndpoints[0].RelabelConfigs[0]
	assert.Regexp(t, regexp.MustCompile("^(?:"+keep.Regex+")$"), "http-envoy-prom")

	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, networkPolicyType, IngressName)
	assert.True(t, admits(np, "monitoring", prometheusPod, mesh.EnvoyMetricsPort), "the scraper reaches the proxies' 15090")

	// Without a global limit there is no rate-limit service to watch.
	_, has := g.Named(serviceMonitorType, "main-ratelimit-monitor")
	assert.False(t, has)
	rule := componenttest.Object[monitoringv1.PrometheusRule](t, g, ruleType, "main-alerts")
	require.Len(t, rule.Spec.Groups[0].Rules, 1)
	assert.Equal(t, "GatewayHighServerErrorRatio", rule.Spec.Groups[0].Rules[0].Alert)
}

func TestAlerts(t *testing.T) {
	args, src := limitedArgs(t)
	rule := Alerts(&args)
	assert.Equal(t, "gateway-alerts", rule.Name)
	assert.Equal(t, args.Namespace, rule.Namespace)
	promtest.TierAlerts(t, rule, "gateway", Metrics)
	var names []string
	for _, r := range rule.Spec.Groups[0].Rules {
		names = append(names, r.Alert)
	}
	assert.Equal(t, []string{"GatewayHighServerErrorRatio", "GatewayRateLimitServiceDown", "GatewayRateLimitOverLimitHigh"}, names)
	assert.Contains(t, rule.Spec.Groups[0].Rules[0].Expr.String(), fmt.Sprintf(`source_workload=%q`, IngressName),
		"the workload name Istio reports is the ingress Deployment's")
	promtest.Test(t, "testdata/gateway-alerts.test.yaml", rule)

	g, err := build(t, src, args)
	require.NoError(t, err)
	assert.Equal(t, rule.Spec, componenttest.Object[monitoringv1.PrometheusRule](t, g, ruleType, "main-alerts").Spec)
}
