package promtest

import (
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (destination_service_name) (rate(istio_requests_total{response_code=~"5..", reporter="destination"}[5m]))`, []string{"istio_requests_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket[5m]))) > 1e3`, []string{"istio_request_duration_milliseconds_bucket"}},
		{`slo:sli_error:ratio_rate1h{service="api"} > (14.4 * 0.001) and slo:sli_error:ratio_rate5m > on (service) 0`, []string{"slo:sli_error:ratio_rate1h", "slo:sli_error:ratio_rate5m"}},
		{`vault_core_unsealed == 0 or absent(vault_core_unsealed)`, []string{"vault_core_unsealed"}},
		{`{__name__="redis_up"} offset 5m`, []string{"redis_up"}},
		{`count without (instance) (a) / ignoring (x) group_left (y) b`, []string{"a", "b"}},
	} {
		assert.Equal(t, c.want, MetricNames(c.expr), c.expr)
	}
}

func TestCheckFindsABadExpression(t *testing.T) {
	// Check must fail on what promtool refuses: run it in a sub-test whose
	// failure is the expected outcome.
	bad := &monitoringv1.PrometheusRule{Spec: monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{{
		Name: "bad", Rules: []monitoringv1.Rule{{Record: "x:y", Expr: intstr.FromString("sum(rate(x[5m])")}},
	}}}}
	ft := &fakeT{TB: t}
	func() {
		defer func() { _ = recover() }()
		Check(ft, bad)
	}()
	assert.True(t, ft.failed, "promtool accepted an unbalanced expression")

	good := bad.DeepCopy()
	good.Spec.Groups[0].Rules[0].Expr = intstr.FromString("sum(rate(x[5m]))")
	Check(t, good)
}

func TestRuleFileRefusesRepeatedGroups(t *testing.T) {
	r := &monitoringv1.PrometheusRule{Spec: monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{{Name: "g"}}}}
	_, err := RuleFile(r, r)
	assert.ErrorContains(t, err, `group "g"`)
}

// fakeT records a failure instead of ending the test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Fatalf(format string, args ...any) { f.failed = true; panic("fatal") }
func (f *fakeT) Fatal(args ...any)                 { f.failed = true; panic("fatal") }
func (f *fakeT) Errorf(format string, args ...any) { f.failed = true }
func (f *fakeT) FailNow()                          { f.failed = true; panic("fatal") }
func (f *fakeT) Helper()                           {}
func (f *fakeT) TempDir() string                   { return f.TB.TempDir() }
