package monitoring

import (
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
)

func exampleSLOs() []slo.Objective {
	return []slo.Objective{
		{Service: "api-service", Namespace: "cloudscale", Availability: 99.9, LatencyMs: 500, LatencyTarget: 99},
		{Service: "orders", Namespace: "cloudscale", Availability: 99.5, LatencyMs: 500, LatencyTarget: 99},
	}
}

func prodMetrics() *MetricsArgs {
	return &MetricsArgs{
		Mode: upstream.Charts, Cluster: "prod", Production: true,
		StorageClass: "cloudscale-encrypted", VolumeSize: "100Gi",
		SLOs: exampleSLOs(), Receivers: exampleReceivers(), ScrapePorts: []int{15090, 15020, 9187, 15090},
		ScrapeNamespaces: []string{"cloudscale", "istio-system"},
		Dashboards:       map[string][]byte{"platform": []byte(`{"title":"Platform"}`)},
		Resources:        workload.Resources{RequestCPU: "250m", RequestMemory: "512Mi", LimitCPU: "2", LimitMemory: "4Gi"},
	}
}

func runMetrics(t *testing.T, a *MetricsArgs) graph.Graph {
	t.Helper()
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewMetrics(ctx, "metrics", a)
		return err
	})
	require.NoError(t, err)
	return g
}

const monitoringTyp = "kubernetes:monitoring.coreos.com/v1:"

func TestMetricsPrometheus(t *testing.T) {
	g := runMetrics(t, prodMetrics())
	p := componenttest.Object[monitoringv1.Prometheus](t, g, monitoringTyp+"Prometheus", "metrics-prometheus")
	assert.Equal(t, Namespace, p.Namespace)
	assert.Equal(t, int32(2), *p.Spec.Replicas)
	assert.Equal(t, monitoringv1.Duration("15d"), p.Spec.Retention)
	assert.Equal(t, monitoringv1.ByteSize("85GiB"), p.Spec.RetentionSize, "85% of the 100Gi volume")
	assert.Equal(t, "cloudscale-encrypted", *p.Spec.Storage.VolumeClaimTemplate.Spec.StorageClassName)
	assert.Equal(t, "100Gi", p.Spec.Storage.VolumeClaimTemplate.Spec.Resources.Requests.Storage().String())
	require.NotEmpty(t, p.Spec.TopologySpreadConstraints)
	zone := p.Spec.TopologySpreadConstraints[0]
	assert.Equal(t, corev1.LabelTopologyZone, zone.TopologyKey)
	assert.Equal(t, corev1.DoNotSchedule, zone.WhenUnsatisfiable)
	assert.Equal(t, PrometheusPodLabels(), zone.LabelSelector.MatchLabels)
	require.NotNil(t, p.Spec.Affinity.PodAntiAffinity)
	assert.Len(t, p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, 1, "one replica per zone in prod")
	for what, sel := range map[string]any{
		"serviceMonitorSelector": p.Spec.ServiceMonitorSelector, "serviceMonitorNamespaceSelector": p.Spec.ServiceMonitorNamespaceSelector,
		"podMonitorSelector": p.Spec.PodMonitorSelector, "podMonitorNamespaceSelector": p.Spec.PodMonitorNamespaceSelector,
		"ruleSelector": p.Spec.RuleSelector, "ruleNamespaceSelector": p.Spec.RuleNamespaceSelector,
	} {
		assert.NotNil(t, sel, "%s: every tier's objects are read (an empty selector), not none (nil)", what)
	}
	require.Len(t, p.Spec.Alerting.Alertmanagers, 1)
	assert.Equal(t, "alertmanager-operated", p.Spec.Alerting.Alertmanagers[0].Name)
	assert.Equal(t, PrometheusName, p.Spec.ServiceAccountName)
	assert.True(t, *p.Spec.SecurityContext.RunAsNonRoot)
	assert.Equal(t, "prod", p.Spec.ExternalLabels["cluster"])
	assert.Equal(t, upstream.PrometheusVersion, p.Spec.Version)
}

func TestMetricsAlertmanager(t *testing.T) {
	g := runMetrics(t, prodMetrics())
	am := componenttest.Object[monitoringv1.Alertmanager](t, g, monitoringTyp+"Alertmanager", "metrics-alertmanager")
	assert.Equal(t, int32(3), *am.Spec.Replicas)
	assert.Equal(t, AlertmanagerConfigSecret, am.Spec.ConfigSecret)
	assert.Equal(t, []string{"alertmanager-receivers-oncall", "alertmanager-receivers-platform"}, am.Spec.Secrets)
	assert.Equal(t, "cloudscale-encrypted", *am.Spec.Storage.VolumeClaimTemplate.Spec.StorageClassName)
	assert.Equal(t, corev1.DoNotSchedule, am.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable)
	assert.Nil(t, am.Spec.AlertmanagerConfigSelector)

	sec, ok := g.Named("kubernetes:core/v1:Secret", "metrics-alertmanager-config")
	require.True(t, ok)
	data, isSecret := sec.Inputs["stringData"].(*resource.Secret)
	require.True(t, isSecret, "Secret data is a Pulumi secret")
	want, err := AlertmanagerConfig(exampleReceivers())
	require.NoError(t, err)
	assert.Equal(t, string(want), data.Element.ObjectValue()["alertmanager.yaml"].StringValue())

	for _, name := range []string{"metrics-prometheus", "metrics-alertmanager"} {
		pdb := componenttest.Object[policyv1.PodDisruptionBudget](t, g, "kubernetes:policy/v1:PodDisruptionBudget", name)
		assert.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue(), name)
	}
}

func TestMetricsSLORulesAndDashboards(t *testing.T) {
	g := runMetrics(t, prodMetrics())
	for _, s := range exampleSLOs() {
		r := componenttest.Object[monitoringv1.PrometheusRule](t, g, monitoringTyp+"PrometheusRule", "metrics-slo-"+s.Service)
		assert.Equal(t, s.Rules(Namespace).Spec, r.Spec)
	}
	cm := componenttest.Object[corev1.ConfigMap](t, g, "kubernetes:core/v1:ConfigMap", "metrics-dashboard-platform")
	assert.Equal(t, "1", cm.Labels[DashboardLabel])
	assert.JSONEq(t, `{"title":"Platform"}`, cm.Data["platform.json"])
}

func TestMetricsNetworkPolicies(t *testing.T) {
	g := runMetrics(t, prodMetrics())
	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "metrics-prometheus")
	assert.Equal(t, PrometheusPodLabels(), np.Spec.PodSelector.MatchLabels)
	scrape := map[string][]int{}
	for _, e := range np.Spec.Egress {
		for _, to := range e.To {
			if to.NamespaceSelector != nil {
				ns := to.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
				for _, p := range e.Ports {
					scrape[ns] = append(scrape[ns], p.Port.IntValue())
				}
			}
		}
	}
	assert.Equal(t, map[string][]int{"cloudscale": {9187, 15020, 15090}, "istio-system": {9187, 15020, 15090}}, scrape,
		"every tier's metrics port, once, in the tiers' namespaces")
	am := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "metrics-alertmanager")
	var webhook bool
	for _, e := range am.Spec.Egress {
		for _, to := range e.To {
			if to.NamespaceSelector != nil && to.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "tools" {
				webhook = e.Ports[0].Port.IntValue() == 8080
			}
		}
	}
	assert.True(t, webhook, "the in-cluster webhook receiver is reachable")
}

func TestMetricsChartValues(t *testing.T) {
	g := runMetrics(t, prodMetrics())
	r, ok := g.Named("kubernetes:helm.sh/v3:Release", "metrics-stack")
	require.True(t, ok)
	b, err := yaml.Marshal(r.Inputs["values"])
	require.NoError(t, err)
	v := componenttest.Decode[stackValues](t, r.Inputs["values"], "values")
	assert.False(t, v.CRDs.Enabled, "the definitions are installed before every tier")
	assert.False(t, v.Prometheus.Enabled)
	assert.False(t, v.Alertmanager.Enabled)
	assert.False(t, v.DefaultRules.Create)
	assert.True(t, v.Grafana.Sidecar.Dashboards.Enabled, string(b))
	assert.Equal(t, DashboardLabel, v.Grafana.Sidecar.Dashboards.Label)
	assert.Equal(t, "http://prometheus-operated.monitoring.svc.cluster.local:9090", v.Grafana.Sidecar.Datasources.URL)
	assert.Equal(t, upstream.KubePrometheusStack.Version, r.Inputs["version"])
}

// TestMetricsSelfMonitoring: Prometheus scrapes itself and the
// Alertmanagers, on each pod's web port.
func TestMetricsSelfMonitoring(t *testing.T) {
	g := runMetrics(t, prodMetrics())
	for name, labels := range map[string]map[string]string{"metrics-prometheus": PrometheusPodLabels(), "metrics-alertmanager": AlertmanagerPodLabels()} {
		pm := componenttest.Object[monitoringv1.PodMonitor](t, g, monitoringTyp+"PodMonitor", name)
		assert.Equal(t, labels, pm.Spec.Selector.MatchLabels, name)
		assert.Equal(t, "web", *pm.Spec.PodMetricsEndpoints[0].Port, name)
		assert.Equal(t, Namespace, pm.Namespace)
	}
}

func TestMetricsPassesPolicies(t *testing.T) {
	componenttest.PassesPolicies(t, runMetrics(t, prodMetrics()), "prod", Namespace)
}

func TestMetricsArgsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*MetricsArgs)
		want string
	}{
		{"one prometheus in prod", func(a *MetricsArgs) { a.PrometheusReplicas = 1 }, "staging and prod run 2 or more"},
		{"retention", func(a *MetricsArgs) { a.Retention = "2 weeks" }, `retention "2 weeks" is not a Prometheus duration`},
		{"retention zero", func(a *MetricsArgs) { a.Retention = "0" }, `retention "0"`},
		{"retention size", func(a *MetricsArgs) { a.RetentionSize = "40G" }, `retentionSize "40G"`},
		{"volume", func(a *MetricsArgs) { a.VolumeSize = "lots" }, `volumeSize "lots"`},
		{"class", func(a *MetricsArgs) { a.StorageClass = "" }, "storageClass is required"},
		{"slo", func(a *MetricsArgs) { a.SLOs[0].LatencyMs = 300 }, "latency threshold 300 ms"},
		{"two slos", func(a *MetricsArgs) { a.SLOs = append(a.SLOs, a.SLOs[0]) }, "has two objectives"},
		{"receiver", func(a *MetricsArgs) { a.Receivers[0].Type = "sms" }, `type "sms"`},
		{"scrape port", func(a *MetricsArgs) { a.ScrapePorts = []int{70000} }, "scrape port 70000"},
		{"scrape namespace", func(a *MetricsArgs) { a.ScrapeNamespaces = []string{"Apps"} }, `scrape namespace "Apps"`},
		{"dashboard", func(a *MetricsArgs) { a.Dashboards = map[string][]byte{"Bad Name": nil} }, `dashboard "Bad Name"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := prodMetrics()
			c.edit(a)
			g, err := componenttest.Run(func(ctx *pulumi.Context) error {
				_, err := NewMetrics(ctx, "metrics", a)
				return err
			})
			assert.ErrorContains(t, err, c.want)
			assert.Empty(t, g.Resources, "nothing is registered")
		})
	}
}
