package mesh

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	k8smeta "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/upstream"
)

// The mesh's telemetry, as Istio documents it ("Prometheus" integration,
// samples/addons/extras/prometheus-operator.yaml): every proxy (sidecar or
// gateway) serves Envoy's own and Istio's standard metrics on
// EnvoyMetricsPort at EnvoyMetricsPath, a container port the injection
// templates (sidecar and gateway alike) name "http-envoy-prom"; istiod
// serves its own on MonitoringPort, the port its chart's Service names
// "http-monitoring".
const (
	EnvoyMetricsPath = "/stats/prometheus"
	// EnvoyMetricsPortName matches the name the injection templates give
	// EnvoyMetricsPort (http-envoy-prom), as Istio's envoy-stats-monitor
	// selects it.
	EnvoyMetricsPortName = ".*-envoy-prom"
	// IstiodMonitoringPortName is MonitoringPort's name on the istiod
	// Service (the istiod chart's templates/service.yaml).
	IstiodMonitoringPortName = "http-monitoring"
	// IgnoreLabel opts a pod out of the proxies' scrape (Istio's
	// istio-prometheus-ignore).
	IgnoreLabel = "istio-prometheus-ignore"
)

// IstiodServiceLabels are the labels the istiod chart (1.27,
// templates/service.yaml) gives the istiod Service; IstiodMonitor selects
// them.
var IstiodServiceLabels = map[string]string{"app": "istiod", "istio": "pilot"}

// Metrics are the metric names the mesh's targets export that its alerts
// use and dashboards query. The proxies' are Istio's standard metrics
// (istio.io "Istio Standard Metrics": requests, durations, TCP bytes and
// connections); istiod's are from pilot/pkg/xds/monitoring.go and
// pkg/kube/inject (Istio exports them without a _total suffix added);
// up is Prometheus' own per-target series.
var Metrics = []string{
	"istio_requests_total",
	"istio_request_duration_milliseconds_bucket",
	"istio_request_bytes_bucket",
	"istio_response_bytes_bucket",
	"istio_tcp_sent_bytes_total",
	"istio_tcp_received_bytes_total",
	"istio_tcp_connections_opened_total",
	"istio_tcp_connections_closed_total",
	"pilot_xds",
	"pilot_xds_pushes",
	"pilot_total_xds_rejects",
	"pilot_total_xds_internal_errors",
	"pilot_proxy_convergence_time_bucket",
	"sidecar_injection_requests_total",
	"sidecar_injection_failure_total",
	"up",
}

// tierName is the tier label of the mesh's alerts.
const tierName = "mesh"

// IstiodJob is the job label of istiod's targets: a ServiceMonitor's
// targets are labelled with their Service's name.
const IstiodJob = "istiod"

// monitorMeta is the metadata of the mesh's monitoring objects.
func monitorMeta(name string) k8smeta.ObjectMeta {
	return k8smeta.ObjectMeta{Namespace: RootNamespace, Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}}
}

// ProxyMonitor scrapes every Envoy proxy of the mesh, sidecars and
// gateways, in every namespace: Istio's envoy-stats-monitor, keeping the
// container port named like EnvoyMetricsPortName and leaving out pods
// labelled IgnoreLabel. The proxies admit the scraper on their metrics
// ports (Sidecar).
func ProxyMonitor() *monitoringv1.PodMonitor {
	return &monitoringv1.PodMonitor{
		TypeMeta:   k8smeta.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
		ObjectMeta: monitorMeta("envoy-stats"),
		Spec: monitoringv1.PodMonitorSpec{
			Selector: k8smeta.LabelSelector{MatchExpressions: []k8smeta.LabelSelectorRequirement{
				{Key: IgnoreLabel, Operator: k8smeta.LabelSelectorOpDoesNotExist},
			}},
			NamespaceSelector: monitoringv1.NamespaceSelector{Any: true},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{
				Path: EnvoyMetricsPath,
				RelabelConfigs: []monitoringv1.RelabelConfig{{
					Action: "keep", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_container_port_name"}, Regex: EnvoyMetricsPortName,
				}},
			}},
		},
	}
}

// IstiodMonitor scrapes istiod on its Service's monitoring port.
func IstiodMonitor() *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   k8smeta.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: monitorMeta(IstiodJob),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:  k8smeta.LabelSelector{MatchLabels: IstiodServiceLabels},
			Endpoints: []monitoringv1.Endpoint{{Port: IstiodMonitoringPortName}},
		},
	}
}

// Alerts are the mesh's health alerts: istiod down (page), proxies
// rejecting configuration or pushes failing (ticket), and sidecar
// injection failing (ticket). istiod runs only where the charts do
// (upstream.Charts), so only there is its absence an alert.
func Alerts(a *Args) *monitoringv1.PrometheusRule {
	var rules []monitoringv1.Rule
	if a.Mode == upstream.Charts {
		rules = append(rules, alerting.Alert(tierName, "IstiodDown", slo.Page, fmt.Sprintf(`absent(up{job=%q, namespace=%q} == 1)`, IstiodJob, RootNamespace), "5m",
			"No istiod is up",
			"No istiod target in "+RootNamespace+" has been up for 5 minutes: new pods get no sidecar (injection fails) and no certificates, and configuration changes reach no proxy."))
	}
	rules = append(rules,
		alerting.Alert(tierName, "MeshXDSRejected", slo.Ticket, `sum by (type) (rate(pilot_total_xds_rejects[5m])) > 0`, "15m",
			"Proxies reject istiod's configuration",
			"Proxies have rejected {{ $labels.type }} configuration from istiod for 15 minutes (pilot_total_xds_rejects): they keep serving their last accepted configuration; look for an invalid EnvoyFilter, VirtualService or DestinationRule (istioctl analyze)."),
		alerting.Alert(tierName, "MeshXDSPushErrors", slo.Ticket, `sum by (type) (rate(pilot_xds_pushes{type=~".+_senderr"}[5m])) > 0`, "15m",
			"istiod fails to push configuration",
			"istiod has failed to send {{ $labels.type }} pushes to proxies for 15 minutes (pilot_xds_pushes): some proxies run stale configuration."),
		alerting.Alert(tierName, "MeshSidecarInjectionFailures", slo.Ticket, `sum(increase(sidecar_injection_failure_total[15m])) > 0`, "5m",
			"Sidecar injection fails",
			"istiod failed sidecar injection requests in the last 15 minutes (sidecar_injection_failure_total): pods in injected namespaces may not be created; see istiod's log."),
	)
	return alerting.Rules(tierName, RootNamespace, rules...)
}

// MonitoringObjects are the mesh's monitors and alerts, which New
// registers as its children (their kinds come with the stack).
func MonitoringObjects(name string, a *Args) []upstream.NamedObject {
	return []upstream.NamedObject{
		{Name: name + "-proxies-monitor", Object: ProxyMonitor()},
		{Name: name + "-istiod-monitor", Object: IstiodMonitor()},
		{Name: name + "-alerts", Object: Alerts(a)},
	}
}
