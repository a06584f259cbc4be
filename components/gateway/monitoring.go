package gateway

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/upstream"
)

// The rate-limit service's Prometheus endpoint, which it serves itself
// (envoyproxy/ratelimit src/settings: USE_PROMETHEUS, PROMETHEUS_ADDR,
// PROMETHEUS_PATH, defaults :9090 and /metrics).
const (
	RateLimitMetricsPort     = 9090
	RateLimitMetricsPath     = "/metrics"
	RateLimitMetricsPortName = "metrics"
)

// Metrics are the metric names the gateway's targets export that its
// alerts use and dashboards query. The ingress pods are Envoy proxies the
// mesh's proxy monitor scrapes: Istio's standard request metrics. The
// rate-limit service's come from its Prometheus sink's mapping
// (src/stats/prom/default_mapper.yaml: per domain and descriptor key,
// counters named without a _total suffix). up is Prometheus' own
// per-target series.
var Metrics = []string{
	"istio_requests_total",
	"istio_request_duration_milliseconds_bucket",
	"ratelimit_service_rate_limit_total_hits",
	"ratelimit_service_rate_limit_over_limit",
	"ratelimit_service_rate_limit_near_limit",
	"ratelimit_service_rate_limit_within_limit",
	"ratelimit_service_should_rate_limit_error",
	"ratelimit_service_config_load_success",
	"ratelimit_service_config_load_error",
	"up",
}

// tierName is the tier label of the gateway's alerts.
const tierName = "gateway"

// The gateway's alert thresholds.
const (
	// ServerErrorPercent pages: the share of the gateway's responses that
	// are 5xx over 5 minutes.
	ServerErrorPercent = 5
	// OverLimitPercent opens a ticket: the share of rate-limit decisions
	// that were over the limit over 10 minutes.
	OverLimitPercent = 10
)

func monitorMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}}
}

// rateLimited reports whether the gateway runs the rate-limit service (a
// route has a global limit).
func (a *Args) rateLimited() bool { return a.Document.Needs().GlobalLimits >= 0 }

// RateLimitMonitor scrapes the rate-limit service's pods through its
// Service (the workload helper labels it app.kubernetes.io/name:
// ratelimit and names its ports as rateLimitArgs does). The ingress pods
// need none of their own: the mesh's proxy monitor scrapes them.
func RateLimitMonitor(a *Args) *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: monitorMeta(a.Namespace, RateLimitName),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:  metav1.LabelSelector{MatchLabels: map[string]string{contract.NameLabel: RateLimitName}},
			Endpoints: []monitoringv1.Endpoint{{Port: RateLimitMetricsPortName, Path: RateLimitMetricsPath}},
		},
	}
}

// Alerts are the gateway's health alerts: a high share of 5xx answers
// (page), and, where the rate-limit service runs, its being down and a
// high share of over-limit decisions (tickets).
func Alerts(a *Args) *monitoringv1.PrometheusRule {
	gw := fmt.Sprintf(`reporter="source", source_workload=%q, source_workload_namespace=%q`, IngressName, a.Namespace)
	rules := []monitoringv1.Rule{alerting.Alert(tierName, "GatewayHighServerErrorRatio", slo.Page,
		fmt.Sprintf(`sum(rate(istio_requests_total{%s, response_code=~"5.."}[5m])) / sum(rate(istio_requests_total{%s}[5m])) > %g`, gw, gw, ServerErrorPercent/100.0),
		"5m", "The gateway answers with server errors",
		fmt.Sprintf("{{ $value | humanizePercentage }} of the requests through the ingress gateway in %s were answered 5xx over the last 5 minutes (over %d%%): clients see failures; check the backends' health and the gateway's routes.", a.Namespace, ServerErrorPercent))}
	if a.rateLimited() {
		rl := fmt.Sprintf(`namespace=%q, domain=%q`, a.Namespace, RateLimitScope)
		rules = append(rules,
			alerting.Alert(tierName, "GatewayRateLimitServiceDown", slo.Ticket, fmt.Sprintf(`absent(up{job=%q, namespace=%q} == 1)`, RateLimitName, a.Namespace), "5m",
				"The rate-limit service is down",
				fmt.Sprintf("No rate-limit service in %s has been up for 5 minutes: the gateway fails open, so the global limits are not enforced (the local limits still hold).", a.Namespace)),
			alerting.Alert(tierName, "GatewayRateLimitOverLimitHigh", slo.Ticket,
				fmt.Sprintf(`sum(rate(ratelimit_service_rate_limit_over_limit{%s}[10m])) / sum(rate(ratelimit_service_rate_limit_total_hits{%s}[10m])) > %g`, rl, rl, OverLimitPercent/100.0),
				"15m", "Many requests are over the global rate limits",
				fmt.Sprintf("{{ $value | humanizePercentage }} of the global rate-limit decisions in %s were over the limit for 15 minutes (over %d%%): a client may be abusive, or the limits too low for real traffic.", a.Namespace, OverLimitPercent)),
		)
	}
	return alerting.Rules(tierName, a.Namespace, rules...)
}

// MonitoringObjects are the gateway's monitor (where the rate-limit
// service runs) and alerts, which New registers as its children (their
// kinds come with the stack).
func MonitoringObjects(name string, a *Args) []upstream.NamedObject {
	var objs []upstream.NamedObject
	if a.rateLimited() {
		objs = append(objs, upstream.NamedObject{Name: name + "-ratelimit-monitor", Object: RateLimitMonitor(a)})
	}
	return append(objs, upstream.NamedObject{Name: name + "-alerts", Object: Alerts(a)})
}

// withPorts is p on ports.
func withPorts(p contract.Peer, ports ...int) contract.Peer {
	p.Ports = ports
	return p
}
