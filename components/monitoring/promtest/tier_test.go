package promtest

import (
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"

	"github.com/cloudscale/platform/components/monitoring/alerting"
)

func TestTierAlerts(t *testing.T) {
	good := alerting.Rules("db", "data",
		alerting.Alert("db", "DBDown", "page", `up{job="db"} == 0`, "5m", "The database is down", "No database answers."))
	TierAlerts(t, good, "db", []string{"up"})

	alert := func(r *monitoringv1.PrometheusRule) *monitoringv1.Rule { return &r.Spec.Groups[0].Rules[0] }
	for name, bad := range map[string]func(*monitoringv1.PrometheusRule){
		"an undeclared metric":  func(r *monitoringv1.PrometheusRule) { alert(r).Expr.StrVal = "db_up == 0" },
		"another tier":          func(r *monitoringv1.PrometheusRule) { alert(r).Labels[alerting.TierLabel] = "cache" },
		"an unknown severity":   func(r *monitoringv1.PrometheusRule) { alert(r).Labels[alerting.SeverityLabel] = "info" },
		"no summary":            func(r *monitoringv1.PrometheusRule) { delete(alert(r).Annotations, "summary") },
		"another group":         func(r *monitoringv1.PrometheusRule) { r.Spec.Groups[0].Name = "cache.rules" },
		"an invalid expression": func(r *monitoringv1.PrometheusRule) { alert(r).Expr.StrVal = "sum(up" },
	} {
		r := good.DeepCopy()
		bad(r)
		ft := &fakeT{TB: t}
		func() {
			defer func() { _ = recover() }()
			TierAlerts(ft, r, "db", []string{"up"})
		}()
		assert.True(t, ft.failed, name)
	}
}
