package slo

import (
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/monitoring/promtest"
)

func exampleSLOs() []Objective {
	return []Objective{
		{Service: "api-service", Namespace: "cloudscale", Availability: 99.9, LatencyMs: 500, LatencyTarget: 99},
		{Service: "orders", Namespace: "cloudscale", Availability: 99.5, LatencyMs: 500, LatencyTarget: 99},
	}
}

func sloRules(slos []Objective) []*monitoringv1.PrometheusRule {
	var out []*monitoringv1.PrometheusRule
	for _, s := range slos {
		out = append(out, s.Rules("monitoring"))
	}
	return out
}

func TestSLORulesPassPromtool(t *testing.T) {
	rules := sloRules(exampleSLOs())
	promtest.Check(t, rules...)
	promtest.Test(t, "testdata/slo.test.yaml", rules...)
}

func TestSLORulesShape(t *testing.T) {
	r := exampleSLOs()[0].Rules("monitoring")
	assert.Equal(t, "slo-api-service", r.Name)
	assert.Equal(t, "monitoring", r.Namespace)
	require.Len(t, r.Spec.Groups, 1)
	// Two SLIs over the windows of the four burn-rate pairs, then 2 x 2 alerts.
	assert.Equal(t, []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}, Windows())
	require.Len(t, r.Spec.Groups[0].Rules, 2*7+4)
	records, alerts := r.Spec.Groups[0].Rules[:14], r.Spec.Groups[0].Rules[14:]
	seen := map[string]bool{}
	for _, a := range alerts {
		seen[a.Alert+"/"+a.Labels[SLOLabel]+"/"+a.Labels[SeverityLabel]] = a.Labels[ServiceLabel] == "api-service"
		for _, m := range promtest.MetricNames(a.Expr.String()) {
			assert.Regexp(t, `^slo:sli_error:ratio_rate`, m, "alerts read the recorded ratios only")
		}
	}
	assert.Equal(t, map[string]bool{
		"AvailabilityBudgetBurn/availability/page": true, "AvailabilityBudgetBurn/availability/ticket": true,
		"LatencyBudgetBurn/latency/page": true, "LatencyBudgetBurn/latency/ticket": true,
	}, seen)
	for _, rec := range records {
		assert.NotEmpty(t, rec.Record)
		for _, m := range promtest.MetricNames(rec.Expr.String()) {
			assert.Contains(t, []string{RequestsMetric, DurationMetric + "_bucket", DurationMetric + "_count"}, m)
		}
	}
}

func TestSLOValidate(t *testing.T) {
	good := exampleSLOs()[0]
	assert.NoError(t, good.Validate())
	for _, c := range []struct {
		name string
		edit func(*Objective)
		want string
	}{
		{"availability 100", func(s *Objective) { s.Availability = 100 }, "availability 100 must be a percentage"},
		{"availability 0", func(s *Objective) { s.Availability = 0 }, "availability 0 must be a percentage"},
		{"latency target", func(s *Objective) { s.LatencyTarget = 120 }, "latency target 120"},
		{"threshold off the buckets", func(s *Objective) { s.LatencyMs = 300 }, "latency threshold 300 ms is not a bucket of istio_request_duration_milliseconds (one of 0.5, 1, 5"},
		{"service name", func(s *Objective) { s.Service = "Api" }, `service "Api"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := good
			c.edit(&s)
			assert.ErrorContains(t, s.Validate(), c.want)
		})
	}
}
