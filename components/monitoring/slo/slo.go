// Package slo writes a service's service level objectives as Prometheus
// rules: the SLIs' error ratios recorded over the windows of the SRE
// workbook's multiwindow, multi-burn-rate alerts, and those alerts, page
// and ticket. It imports no Pulumi SDK, so the stack's configuration
// checks objectives with it.
package slo

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The SLIs are read from the mesh's standard metrics, which every
// service's sidecar exports whatever language it is written in (Istio's
// "Istio Standard Metrics"): the server side's view (reporter
// "destination") of requests and their duration.
const (
	// RequestsMetric counts requests by response_code.
	RequestsMetric = "istio_requests_total"
	// DurationMetric is the requests' duration histogram, in milliseconds.
	DurationMetric = "istio_request_duration_milliseconds"
)

// DurationBuckets are the bucket boundaries (le, milliseconds) of
// DurationMetric: Istio's defaults (the stats filter's
// istio_request_duration_milliseconds buckets). A latency objective's
// threshold must be one of them, since a ratio of requests faster than a
// threshold is read from one bucket.
var DurationBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// The SLO alerts' labels, by which Alertmanager routes and inhibits and
// the policy gate finds every service's alerts.
const (
	ServiceLabel  = "service"
	SLOLabel      = "slo"
	SeverityLabel = "severity"
	// Availability and Latency are the values of SLOLabel.
	Availability = "availability"
	Latency      = "latency"
	// Page and Ticket are the values of SeverityLabel: a page wakes
	// someone now, a ticket is handled in working hours.
	Page   = "page"
	Ticket = "ticket"
)

// Objective is one service's objectives: the share of its requests that succeed
// (Availability, a percentage such as 99.9) and the share (LatencyTarget,
// a percentage such as 99) that complete within LatencyMs milliseconds,
// both over a 30-day window.
type Objective struct {
	Service, Namespace string
	Availability       float64
	LatencyMs          float64
	LatencyTarget      float64
}

// Validate checks the objectives: percentages in (0, 100) and a latency
// threshold among DurationBuckets.
func (s Objective) Validate() error {
	var errs []error
	if !dnsRe.MatchString(s.Service) || !dnsRe.MatchString(s.Namespace) {
		errs = append(errs, fmt.Errorf("service %q in namespace %q: not DNS labels", s.Service, s.Namespace))
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"availability", s.Availability}, {"latency target", s.LatencyTarget}} {
		if p.v <= 0 || p.v >= 100 {
			errs = append(errs, fmt.Errorf("%s: %s %v must be a percentage between 0 and 100, exclusive", s.Service, p.name, p.v))
		}
	}
	if !slices.Contains(DurationBuckets, s.LatencyMs) {
		errs = append(errs, fmt.Errorf("%s: latency threshold %v ms is not a bucket of %s (one of %s)", s.Service, s.LatencyMs, DurationMetric, formatBuckets()))
	}
	return errors.Join(errs...)
}

func formatBuckets() string {
	var out []string
	for _, b := range DurationBuckets {
		out = append(out, strconv.FormatFloat(b, 'f', -1, 64))
	}
	return strings.Join(out, ", ")
}

// burnWindow is one alert of the SRE workbook's multiwindow,
// multi-burn-rate method ("Alerting on SLOs", table 5-8, for a 30-day
// SLO): it fires when the error budget burns Factor times faster than
// sustainable over both the long window and the short one (1/12 of it),
// so it starts fast and stops soon after the burn does.
type burnWindow struct {
	Long, Short string
	Factor      float64
	Severity    string
}

// BurnWindows are the workbook's recommended pairs: 2% of the budget in
// an hour or 5% in six hours pages; 10% in a day or in three days opens a
// ticket.
var burnWindows = []burnWindow{
	{"1h", "5m", 14.4, Page},
	{"6h", "30m", 6, Page},
	{"1d", "2h", 3, Ticket},
	{"3d", "6h", 1, Ticket},
}

// Windows are the windows the error ratios are recorded over.
func Windows() []string {
	var out []string
	for _, w := range burnWindows {
		out = append(out, w.Short, w.Long)
	}
	slices.SortFunc(out, func(a, b string) int { return int(seconds(a) - seconds(b)) })
	return slices.Compact(out)
}

func seconds(d string) int64 {
	n, _ := strconv.ParseInt(d[:len(d)-1], 10, 64)
	switch d[len(d)-1] {
	case 'm':
		return n * 60
	case 'h':
		return n * 3600
	case 'd':
		return n * 86400
	}
	return n
}

// ErrorRatioRecord is the name of the recorded error ratio over window
// (e.g. "5m"): slo:sli_error:ratio_rate5m, labelled service and slo.
func ErrorRatioRecord(window string) string { return "slo:sli_error:ratio_rate" + window }

// The alerts' names.
const (
	AvailabilityAlert = "AvailabilityBudgetBurn"
	LatencyAlert      = "LatencyBudgetBurn"
)

// Rules returns the service's SLO as a PrometheusRule named
// slo-<service> in namespace ns (the monitoring tier's): recording rules
// of both SLIs' error ratios over every window, then the burn-rate alerts
// (page and ticket) of each, labelled service, slo and severity.
func (s Objective) Rules(ns string) *monitoringv1.PrometheusRule {
	sel := fmt.Sprintf(`reporter="destination", destination_service_name=%q, destination_service_namespace=%q`, s.Service, s.Namespace)
	errorsExpr := func(w string) string {
		// "or vector(0)": a service that never failed has no 5xx series,
		// and its ratio is 0, not absent (a real Prometheus showed it).
		return fmt.Sprintf(`(sum(rate(%s{%s, response_code=~"5.."}[%s])) or vector(0))
/
sum(rate(%s{%s}[%s]))`, RequestsMetric, sel, w, RequestsMetric, sel, w)
	}
	le := strconv.FormatFloat(s.LatencyMs, 'f', -1, 64)
	slowExpr := func(w string) string {
		return fmt.Sprintf(`1 - (
  sum(rate(%s_bucket{%s, le=%q}[%s]))
  /
  sum(rate(%s_count{%s}[%s]))
)`, DurationMetric, sel, le, w, DurationMetric, sel, w)
	}
	var records []monitoringv1.Rule
	for _, sli := range []struct {
		slo  string
		expr func(string) string
	}{{Availability, errorsExpr}, {Latency, slowExpr}} {
		for _, w := range Windows() {
			records = append(records, monitoringv1.Rule{
				Record: ErrorRatioRecord(w), Expr: intstr.FromString(sli.expr(w)),
				Labels: map[string]string{ServiceLabel: s.Service, SLOLabel: sli.slo},
			})
		}
	}
	var alerts []monitoringv1.Rule
	for _, a := range []struct {
		name, slo string
		objective float64
		what      string
	}{
		{AvailabilityAlert, Availability, s.Availability, "of its requests fail (5xx)"},
		{LatencyAlert, Latency, s.LatencyTarget, fmt.Sprintf("of its requests take longer than %s ms", le)},
	} {
		budget := 1 - a.objective/100
		for _, sev := range []string{Page, Ticket} {
			var terms []string
			for _, w := range burnWindows {
				if w.Severity != sev {
					continue
				}
				threshold := strconv.FormatFloat(w.Factor*budget, 'g', 6, 64)
				terms = append(terms, fmt.Sprintf(`(%s{%s="%s", %s="%s"} > %s and %s{%s="%s", %s="%s"} > %s)`,
					ErrorRatioRecord(w.Long), ServiceLabel, s.Service, SLOLabel, a.slo, threshold,
					ErrorRatioRecord(w.Short), ServiceLabel, s.Service, SLOLabel, a.slo, threshold))
			}
			alerts = append(alerts, monitoringv1.Rule{
				Alert: a.name, Expr: intstr.FromString(strings.Join(terms, "\nor\n")),
				Labels: map[string]string{ServiceLabel: s.Service, SLOLabel: a.slo, SeverityLabel: sev, "namespace": s.Namespace},
				Annotations: map[string]string{
					"summary": fmt.Sprintf("%s is burning its %s error budget (%s)", s.Service, a.slo, sev),
					"description": fmt.Sprintf("{{ $value | humanizePercentage }} %s against an objective of %s%% over 30 days: at this rate the budget is gone early.",
						a.what, strconv.FormatFloat(a.objective, 'f', -1, 64)),
				},
			})
		}
	}
	return &monitoringv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PrometheusRuleKind},
		ObjectMeta: metav1.ObjectMeta{Name: "slo-" + s.Service, Namespace: ns, Labels: partOf()},
		// One group: a group's rules run in order, so the alerts read the
		// ratios recorded in the same evaluation (groups run concurrently).
		Spec: monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{
			{Name: "slo-" + s.Service, Rules: append(records, alerts...)},
		}},
	}
}

// partOf is the label every monitoring object of the platform carries.
func partOf() map[string]string { return map[string]string{"app.kubernetes.io/part-of": "cloudscale"} }

var dnsRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
