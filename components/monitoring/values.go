package monitoring

// The kube-prometheus-stack chart's values the platform sets (chart
// 87.0.0's values.yaml): the operator, Grafana and kube-state-metrics
// run; the chart's definitions (installed apart, before any
// tier), default rules, Prometheus and Alertmanager do not, since the
// platform writes its own.
type (
	stackValues struct {
		CRDs             enabled           `json:"crds"`
		DefaultRules     defaultRules      `json:"defaultRules"`
		Prometheus       enabled           `json:"prometheus"`
		Alertmanager     enabled           `json:"alertmanager"`
		Operator         operatorValues    `json:"prometheusOperator"`
		Grafana          grafanaValues     `json:"grafana"`
		KubeStateMetrics enabled           `json:"kubeStateMetrics"`
		NodeExporter     enabled           `json:"nodeExporter"`
		ForceNamespace   string            `json:"namespaceOverride"`
		CommonLabels     map[string]string `json:"commonLabels"`
	}
	enabled struct {
		Enabled bool `json:"enabled"`
	}
	defaultRules struct {
		Create bool `json:"create"`
	}
	operatorValues struct {
		Enabled bool `json:"enabled"`
		// Watch every namespace's objects (the default: empty).
		Namespaces map[string]any `json:"namespaces,omitempty"`
	}
	grafanaValues struct {
		Enabled  bool           `json:"enabled"`
		Replicas int            `json:"replicas"`
		Sidecar  grafanaSidecar `json:"sidecar"`
		// DefaultDashboards are the chart's own Kubernetes dashboards.
		DefaultDashboardsEnabled bool `json:"defaultDashboardsEnabled"`
	}
	grafanaSidecar struct {
		Dashboards  sidecarDashboards  `json:"dashboards"`
		Datasources sidecarDatasources `json:"datasources"`
	}
	sidecarDashboards struct {
		Enabled         bool   `json:"enabled"`
		Label           string `json:"label"`
		LabelValue      string `json:"labelValue"`
		SearchNamespace string `json:"searchNamespace"`
	}
	sidecarDatasources struct {
		Enabled bool `json:"enabled"`
		// URL is the Prometheus the default datasource points at (the
		// chart's own Prometheus is off).
		URL                      string `json:"url"`
		DefaultDatasourceEnabled bool   `json:"defaultDatasourceEnabled"`
		AlertmanagerEnabled      bool   `json:"alertmanager"`
	}
)

// StackValues are kube-prometheus-stack's values.
func StackValues() any {
	return stackValues{
		CRDs: enabled{false}, DefaultRules: defaultRules{false},
		Prometheus: enabled{false}, Alertmanager: enabled{false},
		Operator: operatorValues{Enabled: true},
		Grafana: grafanaValues{Enabled: true, Replicas: 2, DefaultDashboardsEnabled: true, Sidecar: grafanaSidecar{
			Dashboards: sidecarDashboards{Enabled: true, Label: DashboardLabel, LabelValue: "1", SearchNamespace: Namespace},
			Datasources: sidecarDatasources{Enabled: true, DefaultDatasourceEnabled: true,
				URL: "http://" + PrometheusEndpoint().Address()},
		}},
		// The node exporter runs on the host's network and PID namespace,
		// which the namespace's restricted Pod Security refuses; node
		// and container metrics come from the kubelets (cAdvisor).
		KubeStateMetrics: enabled{true}, NodeExporter: enabled{false},
		ForceNamespace: Namespace, CommonLabels: partOf(),
	}
}
