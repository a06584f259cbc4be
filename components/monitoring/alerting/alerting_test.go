package alerting_test

import (
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/promtest"
	"github.com/cloudscale/platform/components/monitoring/slo"
)

func TestAlert(t *testing.T) {
	r := alerting.Alert("redis", "RedisDown", slo.Page, "redis_up == 0", "5m", "Redis is down", "No member answers.")
	assert.Equal(t, "RedisDown", r.Alert)
	assert.Equal(t, "redis_up == 0", r.Expr.String())
	assert.Equal(t, ptr.To(monitoringv1.Duration("5m")), r.For)
	assert.Equal(t, map[string]string{"severity": "page", "tier": "redis"}, r.Labels)
	assert.Equal(t, map[string]string{"summary": "Redis is down", "description": "No member answers."}, r.Annotations)

	// Without a pending duration the alert fires at once: no for at all.
	r = alerting.Alert("redis", "RedisDown", slo.Ticket, "redis_up == 0", "", "Redis is down", "No member answers.")
	assert.Nil(t, r.For)
	b, err := yaml.Marshal(r)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "for:")
}

func TestRules(t *testing.T) {
	down := alerting.Alert("security", "VaultSealed", slo.Page, "vault_core_unsealed == 0", "5m", "A Vault server is sealed", "It serves nothing.")
	r := alerting.Rules("vault", "vault", down)
	assert.Equal(t, "monitoring.coreos.com/v1", r.APIVersion)
	assert.Equal(t, "PrometheusRule", r.Kind)
	assert.Equal(t, "vault-alerts", r.Name)
	assert.Equal(t, "vault", r.Namespace)
	assert.Equal(t, map[string]string{"app.kubernetes.io/part-of": "cloudscale"}, r.Labels)
	require.Len(t, r.Spec.Groups, 1)
	assert.Equal(t, "vault.rules", r.Spec.Groups[0].Name)
	assert.Equal(t, []monitoringv1.Rule{down}, r.Spec.Groups[0].Rules)
	promtest.TierAlerts(t, r, "security", []string{"vault_core_unsealed"})
}

func TestSelector(t *testing.T) {
	sel := alerting.Selector("db", "db/redis")
	assert.Equal(t, `redis_up{namespace="db", job="db/redis"}`, sel("redis_up"))
	assert.Equal(t, `redis_instance_info{namespace="db", job="db/redis", role="master"}`, sel("redis_instance_info", `role="master"`))
}
