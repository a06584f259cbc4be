package promtest

import (
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/monitoring/alerting"
)

// severities are the values of an alert's severity label: slo.Page and
// slo.Ticket (slo's tests use promtest, so promtest cannot import it).
var severities = []string{"page", "ticket"}

// TierAlerts checks a tier's PrometheusRule as alerting.Rules and
// alerting.Alert write it: the platform's part-of label and one group
// named after the object (<name>-alerts holds <name>.rules); every rule an
// alert of severity page or ticket, labelled tier, with a summary and a
// description, whose expression selects only metrics among metrics (the
// names the tier's targets export); and the rules as promtool checks
// them. The object's name and namespace, and which alerts it holds, are
// the tier's own test's to check.
func TierAlerts(t testing.TB, rule *monitoringv1.PrometheusRule, tier string, metrics []string) {
	t.Helper()
	assert.Equal(t, "cloudscale", rule.Labels["app.kubernetes.io/part-of"], rule.Name)
	require.Len(t, rule.Spec.Groups, 1, rule.Name)
	assert.Equal(t, strings.TrimSuffix(rule.Name, "-alerts")+".rules", rule.Spec.Groups[0].Name, rule.Name)
	for _, r := range rule.Spec.Groups[0].Rules {
		assert.NotEmpty(t, r.Alert, "%s: a rule that is no alert", rule.Name)
		assert.Contains(t, severities, r.Labels[alerting.SeverityLabel], r.Alert)
		assert.Equal(t, tier, r.Labels[alerting.TierLabel], r.Alert)
		assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
		assert.NotEmpty(t, r.Annotations["description"], r.Alert)
		for _, m := range MetricNames(r.Expr.String()) {
			assert.True(t, slices.Contains(metrics, m), "%s uses %s, which the tier's metrics do not declare", r.Alert, m)
		}
	}
	Check(t, rule)
}
