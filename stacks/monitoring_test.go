package stacks_test

import (
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/security/externalsecrets"
)

// TestMonitoringInProd: prod's receivers page through PagerDuty and open
// tickets in Slack with credentials the secrets tier delivers from Vault,
// which the Alertmanager mounts; every declared service has its SLO
// rules; the SLO gate reads the platform's Prometheus.
func TestMonitoringInProd(t *testing.T) {
	g := run(t, "prod").Graph
	am := componenttest.Object[monitoringv1.Alertmanager](t, g, "kubernetes:monitoring.coreos.com/v1:Alertmanager", "metrics-alertmanager")
	assert.Equal(t, []string{"alertmanager-receivers-oncall", "alertmanager-receivers-platform"}, am.Spec.Secrets)
	for receiver, path := range map[string]string{"oncall": "monitoring/pagerduty", "platform": "monitoring/slack"} {
		es := componenttest.Object[externalsecrets.ExternalSecret](t, g, "kubernetes:external-secrets.io/v1:ExternalSecret",
			"secrets-monitoring-alertmanager-receivers-"+receiver)
		require.Len(t, es.Spec.Data, 1)
		assert.Equal(t, path, es.Spec.Data[0].RemoteRef.Key)
		assert.Equal(t, "monitoring", es.Namespace)
	}
	rule := componenttest.Object[monitoringv1.PrometheusRule](t, g, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "metrics-slo-api-service")
	assert.NotEmpty(t, rule.Spec.Groups[0].Rules)
	gate := componenttest.Object[appsv1.Deployment](t, g, "kubernetes:apps/v1:Deployment", "slo-gate")
	var url string
	for _, e := range gate.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "SLOGATE_PROMETHEUS_URL" {
			url = e.Value
		}
	}
	assert.True(t, strings.HasPrefix(url, "http://prometheus-operated.monitoring.svc"), url)
}
