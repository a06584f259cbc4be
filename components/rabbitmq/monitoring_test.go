package rabbitmq

import (
	"regexp"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/monitoring/promtest"
)

// The labels and port the cluster operator gives the RabbitmqCluster's
// client Service (cluster-operator v2.20.0 internal/metadata/label.go,
// GetLabels, and internal/resource/service.go: named after the cluster,
// the Prometheus plugin's TLS port 15691 "prometheus-tls"); the headless
// Service <cluster>-nodes carries the same labels but no such port.
var operatorServiceLabels = map[string]string{
	"app.kubernetes.io/name": ClusterName, "app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/part-of": "rabbitmq",
}

func TestServiceMonitorSelectsTheClientService(t *testing.T) {
	sm := componenttest.Object[monitoringv1.ServiceMonitor](t, run(t, prodArgs()), "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "rabbitmq-monitor")
	assert.Equal(t, "cloudscale", sm.Namespace)
	assert.Equal(t, "cloudscale", sm.Labels["app.kubernetes.io/part-of"])
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	require.NoError(t, err)
	assert.True(t, sel.Matches(labels.Set(operatorServiceLabels)))
	assert.False(t, sel.Matches(labels.Set{"app.kubernetes.io/name": "other", "app.kubernetes.io/component": "rabbitmq"}))
	require.Len(t, sm.Spec.Endpoints, 2)
	assert.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
	assert.Empty(t, sm.Spec.Endpoints[0].MetricRelabelConfigs, "the node's metrics, all of them")
	perObject := sm.Spec.Endpoints[1]
	assert.Equal(t, "/metrics/per-object", perObject.Path)
	for _, ep := range sm.Spec.Endpoints {
		assert.Equal(t, "prometheus-tls", ep.Port)
		assert.EqualValues(t, MetricsPort, 15691)
	}
	// Only the per-queue families are kept from the per-object endpoint
	// (Prometheus anchors the expression).
	require.Len(t, perObject.MetricRelabelConfigs, 1)
	keep := perObject.MetricRelabelConfigs[0]
	assert.Equal(t, "keep", keep.Action)
	assert.Equal(t, []monitoringv1.LabelName{"__name__"}, keep.SourceLabels)
	re := regexp.MustCompile("^(?:" + keep.Regex + ")$")
	for name, kept := range map[string]bool{
		"rabbitmq_queue_messages_ready": true, "rabbitmq_queue_messages": true, "rabbitmq_queue_messages_unacked": true,
		"rabbitmq_identity_info": false, "rabbitmq_queues": false, "rabbitmq_alarms_memory_used_watermark": false, "rabbitmq_build_info": false,
	} {
		assert.Equal(t, kept, re.MatchString(name), name)
	}
	// The alerts' per-queue metrics are kept; the node's come from /metrics.
	for _, r := range Alerts(prodArgs()).Spec.Groups[0].Rules {
		for _, m := range promtest.MetricNames(r.Expr.String()) {
			if re.MatchString(m) {
				assert.Contains(t, r.Expr.String(), `queue`, "%s reads %s per queue", r.Alert, m)
			}
		}
	}
}

func TestAlerts(t *testing.T) {
	a := prodArgs()
	rule := componenttest.Object[monitoringv1.PrometheusRule](t, run(t, a), "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "rabbitmq-alerts")
	assert.Equal(t, "rabbitmq-alerts", rule.Name)
	assert.Equal(t, "cloudscale", rule.Namespace)
	promtest.TierAlerts(t, rule, "rabbitmq", Metrics)
	severity := map[string]string{}
	for _, r := range rule.Spec.Groups[0].Rules {
		severity[r.Alert] = r.Labels["severity"]
	}
	assert.Equal(t, map[string]string{"RabbitMQNodeDown": "page", "RabbitMQQuorumLost": "page", "RabbitMQMemoryAlarm": "page",
		"RabbitMQDiskAlarm": "page", "RabbitMQQueueDepth": "ticket", "RabbitMQDeadLettersGrowing": "ticket", "RabbitMQUnackedGrowing": "ticket"}, severity)
	promtest.Test(t, "testdata/rabbitmq-alerts.test.yaml", Alerts(a))
}

// Quorum is lost when a quorum queue's majority is down: with 3 nodes (a
// replica on each) two nodes down; with 5 nodes (3 replicas per queue) two
// down may take a queue's majority; with 1 node, the node.
func TestQuorumThreshold(t *testing.T) {
	for replicas, want := range map[int]string{1: "<= 0", 3: "<= 1", 5: "<= 3", 7: "<= 5"} {
		a := prodArgs()
		a.Replicas = replicas
		for _, r := range Alerts(a).Spec.Groups[0].Rules {
			if r.Alert == "RabbitMQQuorumLost" {
				assert.Regexp(t, regexp.QuoteMeta(want)+"$", r.Expr.String(), "replicas %d", replicas)
			}
		}
	}
}
