package mesh

import (
	"regexp"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	k8smeta "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/promtest"
	"github.com/cloudscale/platform/components/upstream"
)

const (
	podMonitorType     = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
	serviceMonitorType = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
	ruleType           = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
)

func selects(t *testing.T, sel k8smeta.LabelSelector, set map[string]string) bool {
	t.Helper()
	s, err := k8smeta.LabelSelectorAsSelector(&sel)
	require.NoError(t, err)
	return s.Matches(labels.Set(set))
}

// keeps reports whether a keep relabeling keeps value, anchored as
// Prometheus anchors its regular expressions.
func keeps(t *testing.T, r monitoringv1.RelabelConfig, value string) bool {
	t.Helper()
	require.Equal(t, "keep", r.Action)
	return regexp.MustCompile("^(?:" + r.Regex + ")$").MatchString(value)
}

// The proxies' monitor selects every injected pod in any namespace, on
// the port the injection templates name http-envoy-prom (sidecar and
// gateway template alike, Istio 1.27), unless the pod opts out.
func TestProxyMonitorSelectsEveryProxy(t *testing.T) {
	g, err := run(t, args(upstream.Charts))
	require.NoError(t, err)
	pm := componenttest.Object[monitoringv1.PodMonitor](t, g, podMonitorType, "mesh-proxies-monitor")
	assert.Equal(t, RootNamespace, pm.Namespace)
	assert.Equal(t, "cloudscale", pm.Labels["app.kubernetes.io/part-of"])
	assert.True(t, pm.Spec.NamespaceSelector.Any, "proxies run in every namespace")

	injected := map[string]string{"app.kubernetes.io/name": "api-service", "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": "api-service"}
	gateway := map[string]string{"app.kubernetes.io/name": "ingress-gateway", "istio": "ingressgateway", "sidecar.istio.io/inject": "true"}
	optedOut := map[string]string{"app.kubernetes.io/name": "batch", IgnoreLabel: "true"}
	assert.True(t, selects(t, pm.Spec.Selector, injected))
	assert.True(t, selects(t, pm.Spec.Selector, gateway))
	assert.False(t, selects(t, pm.Spec.Selector, optedOut))

	require.Len(t, pm.Spec.PodMetricsEndpoints, 1)
	ep := pm.Spec.PodMetricsEndpoints[0]
	assert.Equal(t, "/stats/prometheus", ep.Path)
	require.Len(t, ep.RelabelConfigs, 1)
	assert.Equal(t, []monitoringv1.LabelName{"__meta_kubernetes_pod_container_port_name"}, ep.RelabelConfigs[0].SourceLabels)
	assert.True(t, keeps(t, ep.RelabelConfigs[0], "http-envoy-prom"), "the proxies' 15090")
	for _, other := range []string{"status-port", "https", "http", "http-envoy-prom-x", "metrics"} {
		assert.False(t, keeps(t, ep.RelabelConfigs[0], other), other)
	}
	// The proxies admit the scraper on that port.
	assert.Contains(t, Sidecar(collector, contract.Peer{PodLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}}).Metrics.Ports, EnvoyMetricsPort)
}

// istiod's monitor selects the Service the istiod chart writes, on its
// monitoring port, which the baseline opens in istio-system.
func TestIstiodMonitorSelectsTheChartsService(t *testing.T) {
	g, err := run(t, args(upstream.Charts))
	require.NoError(t, err)
	sm := componenttest.Object[monitoringv1.ServiceMonitor](t, g, serviceMonitorType, "mesh-istiod-monitor")
	assert.Equal(t, RootNamespace, sm.Namespace)
	// The labels of the istiod Service (istiod chart 1.27, templates/service.yaml).
	chartService := map[string]string{"istio.io/rev": "default", "install.operator.istio.io/owning-resource": "unknown",
		"operator.istio.io/component": "Pilot", "app": "istiod", "istio": "pilot", "release": "istiod"}
	assert.True(t, selects(t, sm.Spec.Selector, chartService))
	assert.False(t, selects(t, sm.Spec.Selector, map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}))
	require.Len(t, sm.Spec.Endpoints, 1)
	assert.Equal(t, "http-monitoring", sm.Spec.Endpoints[0].Port)
	assert.Contains(t, OperatorNamespace().IngressPorts, MonitoringPort, "Prometheus reaches istiod's 15014 through the baseline")
	// The Service's pods are istiod's (its chart selects app=istiod, istio=pilot).
	assert.Equal(t, "istiod", ControlPlane().Peer.PodLabels["app"])
}

func TestAlerts(t *testing.T) {
	a := args(upstream.Charts)
	rule := Alerts(&a)
	assert.Equal(t, "mesh-alerts", rule.Name)
	assert.Equal(t, RootNamespace, rule.Namespace)
	promtest.TierAlerts(t, rule, "mesh", Metrics)
	var names []string
	for _, r := range rule.Spec.Groups[0].Rules {
		names = append(names, r.Alert)
	}
	assert.Equal(t, []string{"IstiodDown", "MeshXDSRejected", "MeshXDSPushErrors", "MeshSidecarInjectionFailures"}, names)
	promtest.Test(t, "testdata/mesh-alerts.test.yaml", rule)

	// The component registers them.
	g, err := run(t, a)
	require.NoError(t, err)
	assert.Equal(t, rule.Spec, componenttest.Object[monitoringv1.PrometheusRule](t, g, ruleType, "mesh-alerts").Spec)

	// Where only the kinds are installed no istiod runs: its absence is no alert.
	local := args(upstream.CRDsOnly)
	for _, r := range Alerts(&local).Spec.Groups[0].Rules {
		assert.NotEqual(t, "IstiodDown", r.Alert)
	}
}
