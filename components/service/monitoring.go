package service

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/upstream"
)

// tierName is the tier label of the services' alerts.
const tierName = "services"

// Metrics are the metric names a service exports (services/telemetry:
// per route rate, errors and duration) that its alert and dashboards use;
// up is Prometheus' own per-target series.
var Metrics = []string{"http_server_requests_total", "http_server_request_duration_seconds_bucket", "up"}

// Monitor scrapes every version of service name: a PodMonitor on its
// pods, read where the sidecar merges the service's /metrics
// (MetricsAnnotations) on mesh.ProxyMergedMetricsPort, one target per
// pod (the pod's service port, rewritten to the merged port). The
// sidecar's own Envoy and agent series (envoy_*, istio_*) are dropped:
// the mesh's proxy monitor already collects them, and twice would double
// every request count of the SLOs.
func Monitor(name string, a *ServiceArgs) *monitoringv1.PodMonitor {
	return &monitoringv1.PodMonitor{
		TypeMeta: metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: name,
			Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale", contract.NameLabel: name}},
		Spec: monitoringv1.PodMonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{contract.NameLabel: name}},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{
				Path: MergedMetricsPath,
				RelabelConfigs: []monitoringv1.RelabelConfig{
					{Action: "keep", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_container_port_name"}, Regex: PortName},
					{Action: "replace", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_ip"}, Regex: "(.+)",
						TargetLabel: "__address__", Replacement: ptr.To(fmt.Sprintf("$1:%d", mesh.ProxyMergedMetricsPort))},
					// The stable and canary pods' series stay apart.
					{Action: "replace", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_label_version"}, TargetLabel: "version"},
				},
				MetricRelabelConfigs: []monitoringv1.RelabelConfig{
					{Action: "drop", SourceLabels: []monitoringv1.LabelName{"__name__"}, Regex: "(envoy|istio)_.*"},
				},
			}},
		},
	}
}

// Job is the scrape job of service name's targets: the
// prometheus-operator names a PodMonitor's <namespace>/<name>.
func Job(ns, name string) string { return ns + "/" + name }

// Alerts are the service's health alert: no pod of it scraped up for 5
// minutes pages. It holds for every service, including one that serves
// no requests (a queue consumer), whose request SLO would be empty.
func Alerts(name string, a *ServiceArgs) *monitoringv1.PrometheusRule {
	sel := alerting.Selector(a.Namespace, Job(a.Namespace, name))
	down := alerting.Alert(tierName, "ServiceDown", slo.Page, fmt.Sprintf("absent(%s == 1)", sel("up")), "5m",
		fmt.Sprintf("No %s pod is up", name),
		fmt.Sprintf("No pod of %s in %s has been scraped up for 5 minutes: it is down, or its pods cannot start (see its Deployments' events and the pods' logs).", name, a.Namespace))
	down.Labels["service"] = name
	return alerting.Rules(name, a.Namespace, down)
}

// MonitoringObjects are the service's monitor and alert, which
// NewService registers as its children (their kinds come with the
// stack).
func MonitoringObjects(name string, a *ServiceArgs) []upstream.NamedObject {
	return []upstream.NamedObject{
		{Name: name + "-monitor", Object: Monitor(name, a)},
		{Name: name + "-alerts", Object: Alerts(name, a)},
	}
}
