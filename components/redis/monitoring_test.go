package redis

import (
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/promtest"
)

// The monitor selects both instances' pods as the workload helper labels
// them, in the tier's namespace, on the exporter's named port, which the
// pods' NetworkPolicies open to Prometheus (and to no one else).
func TestMonitorSelectsBothInstances(t *testing.T) {
	g, _ := run(t, prodArgs())
	m := componenttest.Object[monitoringv1.PodMonitor](t, g, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "redis-monitor")
	assert.Equal(t, MonitorName, m.Name)
	assert.Equal(t, "cloudscale", m.Namespace)
	assert.Equal(t, "cloudscale", m.Labels["app.kubernetes.io/part-of"])
	sel, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
	require.NoError(t, err)
	require.Len(t, m.Spec.PodMetricsEndpoints, 1)
	ep := m.Spec.PodMetricsEndpoints[0]
	assert.Equal(t, ExporterPortName, *ep.Port)
	for _, inst := range Topology() {
		sts := componenttest.Object[appsv1.StatefulSet](t, g, "kubernetes:apps/v1:StatefulSet", inst.Name)
		assert.Equal(t, "cloudscale", sts.Namespace)
		assert.True(t, sel.Matches(labels.Set(sts.Spec.Template.Labels)), "%s's pods %v", inst.Name, sts.Spec.Template.Labels)
		var named bool
		for _, c := range sts.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				named = named || (p.Name == *ep.Port && p.ContainerPort == ExporterPort)
			}
		}
		assert.True(t, named, "%s's pods serve %s on %d", inst.Name, ExporterPortName, ExporterPort)

		np := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", inst.Name)
		var from []string
		for _, r := range np.Spec.Ingress {
			for _, p := range r.Ports {
				if p.Port.IntValue() == ExporterPort {
					from = append(from, r.From[0].NamespaceSelector.MatchLabels[contract.NamespaceNameLabel]+"/"+r.From[0].PodSelector.MatchLabels[contract.NameLabel])
				}
			}
		}
		assert.Equal(t, []string{"monitoring/prometheus"}, from, "only Prometheus reaches %s's exporter", inst.Name)
	}
	assert.False(t, sel.Matches(labels.Set{contract.NameLabel: "api-service"}), "no other workload")
	// The instance's name becomes the "redis" label the alerts group by.
	require.Len(t, ep.RelabelConfigs, 1)
	assert.Equal(t, "redis", ep.RelabelConfigs[0].TargetLabel)
	assert.Equal(t, []monitoringv1.LabelName{"__meta_kubernetes_pod_label_app_kubernetes_io_name"}, ep.RelabelConfigs[0].SourceLabels)
}

func TestAlerts(t *testing.T) {
	a := prodArgs()
	g, _ := run(t, a)
	rule := componenttest.Object[monitoringv1.PrometheusRule](t, g, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "redis-alerts")
	assert.Equal(t, "redis-alerts", rule.Name)
	assert.Equal(t, "cloudscale", rule.Namespace)
	promtest.TierAlerts(t, rule, "redis", Metrics)
	severity := map[string]string{}
	for _, r := range rule.Spec.Groups[0].Rules {
		severity[r.Alert] = r.Labels["severity"]
	}
	assert.Equal(t, map[string]string{"RedisDown": "page", "RedisNoMaster": "page", "RedisMultipleMasters": "page",
		"RedisReplicaLinkDown": "ticket", "RedisMemoryNearLimit": "ticket", "RedisMasterWithoutReplicas": "page"}, severity)

	promtest.Test(t, "testdata/redis-alerts.test.yaml", Alerts(a))

	// Outside production a master alone is a ticket; a single member has
	// no replica to miss.
	a.Production = false
	for _, r := range Alerts(a).Spec.Groups[0].Rules {
		if r.Alert == "RedisMasterWithoutReplicas" {
			assert.Equal(t, "ticket", r.Labels["severity"])
		}
	}
	a.Replicas = 1
	for _, r := range Alerts(a).Spec.Groups[0].Rules {
		assert.NotEqual(t, "RedisMasterWithoutReplicas", r.Alert)
	}
}
