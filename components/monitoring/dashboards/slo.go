package dashboards

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cloudscale/platform/components/monitoring/slo"
)

// SLIWindows are the windows the SLO dashboards plot each SLI over: the
// recorded error ratios' (slo.Windows) shortest, an hour and a day.
var SLIWindows = []string{"5m", "1h", "1d"}

// BudgetWindow is the window of the error budget, the objectives' 30
// days. No ratio is recorded over it: the budget panels average the
// hourly ratio (BudgetSampleWindow) over it, hour by hour, leaving out
// hours without requests; Prometheus keeps DefaultRetention (15d) of
// samples, so on a stack keeping less the budget covers what it keeps.
const (
	BudgetWindow       = "30d"
	BudgetSampleWindow = "1h"
)

// The SLO dashboards' variables: each objective, a percentage, which the
// error budget and burn rate panels divide by.
const (
	AvailabilityObjectiveVariable = "availability_objective"
	LatencyObjectiveVariable      = "latency_objective"
)

// objectiveChoices are the objectives the variables offer besides the
// service's own.
var objectiveChoices = []float64{95, 99, 99.5, 99.9, 99.95, 99.99}

// sloDashboard is a service's SLO dashboard: its two SLIs (availability:
// the share of requests not answered 5xx; latency: the share answered
// within the objective's threshold) over SLIWindows from the recorded
// error ratios, the error budget left over BudgetWindow and the burn
// rate, and the raw traffic: request rate by code, p50 and p99 latency.
func sloDashboard(o slo.Objective) (*dashboard.DashboardBuilder, error) {
	windows := slo.Windows()
	for _, w := range append(slices.Clone(SLIWindows), BudgetSampleWindow) {
		if !slices.Contains(windows, w) {
			return nil, fmt.Errorf("service %s: no error ratio is recorded over %s (slo.Windows: %v)", o.Service, w, windows)
		}
	}
	svc := o.Service
	record := func(w, sli string) string {
		return fmt.Sprintf(`%s{%s=%q, %s=%q}`, slo.ErrorRatioRecord(w), slo.ServiceLabel, svc, slo.SLOLabel, sli)
	}
	budget := func(sli, variable string) string {
		return fmt.Sprintf(`1 - avg_over_time((%s >= 0)[%s:%s]) / (1 - $%s / 100)`, record(BudgetSampleWindow, sli), BudgetWindow, BudgetSampleWindow, variable)
	}
	burn := func(w, sli, variable string) string {
		return fmt.Sprintf(`%s / (1 - $%s / 100)`, record(w, sli), variable)
	}
	sliSeries := func(sli string) []q {
		var qs []q
		for _, w := range SLIWindows {
			qs = append(qs, q{"1 - " + record(w, sli), w})
		}
		return qs
	}
	sel := fmt.Sprintf(`reporter="destination", destination_service_name=%q`, svc)
	if o.Namespace != "" {
		sel += fmt.Sprintf(`, destination_service_namespace=%q`, o.Namespace)
	}
	threshold := strconv.FormatFloat(o.LatencyMs, 'f', -1, 64)
	latencySLI := fmt.Sprintf("the share of its requests answered within %s ms", threshold)
	budgetSteps := []step{{0, yellow}, {0.25, green}}

	b := newDashboard(SLOPrefix+svc, "CloudScale / SLO / "+svc,
		fmt.Sprintf("Service level objectives of %s: availability (requests not answered 5xx) and latency (%s), from the SLO recording rules; its traffic from the mesh's metrics.", svc, latencySLI), "now-7d").
		WithVariable(objectiveVariable(AvailabilityObjectiveVariable, "Availability objective (%)", o.Availability)).
		WithVariable(objectiveVariable(LatencyObjectiveVariable, fmt.Sprintf("Latency objective (%% within %s ms)", threshold), o.LatencyTarget)).
		WithPanel(single("Availability (1d)", "Share of the last day's requests not answered 5xx.", "percentunit", 6, red, []step{{o.Availability / 100, green}},
			q{"1 - " + record("1d", slo.Availability), "availability"}).Decimals(3)).
		WithPanel(single(fmt.Sprintf("Within %s ms (1d)", threshold), "Share of the last day's requests answered within the latency threshold.", "percentunit", 6, red, []step{{o.LatencyTarget / 100, green}},
			q{"1 - " + record("1d", slo.Latency), "latency"}).Decimals(3)).
		WithPanel(single("Availability budget left ("+BudgetWindow+")", "Share of the availability error budget not yet spent over "+BudgetWindow+" (negative: overspent).", "percentunit", 6, red, budgetSteps,
			q{budget(slo.Availability, AvailabilityObjectiveVariable), "budget left"})).
		WithPanel(single("Latency budget left ("+BudgetWindow+")", "Share of the latency error budget not yet spent over "+BudgetWindow+" (negative: overspent).", "percentunit", 6, red, budgetSteps,
			q{budget(slo.Latency, LatencyObjectiveVariable), "budget left"})).
		WithPanel(series("Availability SLI", "Share of requests not answered 5xx, over "+joinWindows()+".", "percentunit", 12, sliSeries(slo.Availability)...).Decimals(3)).
		WithPanel(series("Latency SLI", "Share of requests answered within "+threshold+" ms, over "+joinWindows()+".", "percentunit", 12, sliSeries(slo.Latency)...).Decimals(3)).
		WithPanel(series("Burn rate (1h)", "How many times faster than sustainable each error budget burned over the last hour: 1 spends it exactly in 30 days; 14.4 pages.", "short", 12,
			q{burn("1h", slo.Availability, AvailabilityObjectiveVariable), "availability"},
			q{burn("1h", slo.Latency, LatencyObjectiveVariable), "latency"})).
		WithPanel(series("Requests by code", "Requests per second the service's sidecar served, by response code.", "reqps", 12,
			q{sumBy("response_code", rate(`istio_requests_total{`+sel+`}`)), legend("response_code")})).
		WithPanel(series("Latency", "Median and 99th percentile of the service's request duration.", "ms", 24,
			q{quantile(0.5, "", `istio_request_duration_milliseconds_bucket{`+sel+`}`), "p50"},
			q{quantile(0.99, "", `istio_request_duration_milliseconds_bucket{`+sel+`}`), "p99"}))
	return b, nil
}

// objectiveVariable is a custom variable offering objectiveChoices and
// the objective, which it selects.
func objectiveVariable(name, label string, objective float64) *dashboard.CustomVariableBuilder {
	choices := slices.Clone(objectiveChoices)
	if !slices.Contains(choices, objective) {
		choices = append(choices, objective)
		slices.Sort(choices)
	}
	values := ""
	var options []dashboard.VariableOption
	current := strconv.FormatFloat(objective, 'f', -1, 64)
	for i, c := range choices {
		v := strconv.FormatFloat(c, 'f', -1, 64)
		if i > 0 {
			values += ","
		}
		values += v
		options = append(options, dashboard.VariableOption{
			Selected: cog.ToPtr(v == current),
			Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr(v)},
			Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr(v)},
		})
	}
	return dashboard.NewCustomVariableBuilder(name).
		Label(label).
		Values(dashboard.StringOrMap{String: cog.ToPtr(values)}).
		Options(options).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(current)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(current)},
		})
}

func joinWindows() string {
	out := ""
	for i, w := range SLIWindows {
		switch {
		case i == 0:
		case i == len(SLIWindows)-1:
			out += " and "
		default:
			out += ", "
		}
		out += w
	}
	return out
}
