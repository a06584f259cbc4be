// Package dashboards writes the platform's Grafana dashboards, typed in Go
// with the Grafana Foundation SDK (github.com/grafana/grafana-foundation-sdk/go
// v0.0.22: its dashboard, timeseries and stat builders and the prometheus
// query builder): one per tier (mesh, gateway, security, postgres, redis,
// mongodb, rabbitmq, monitoring) and one per service (slo-<service>). All
// renders them as the JSON model Grafana's file provisioning reads, which
// the monitoring tier writes into ConfigMaps labelled for the
// kube-prometheus-stack Grafana's dashboard sidecar
// (monitoring.MetricsArgs.Dashboards).
//
// Every query reads metrics a tier's targets export: the tiers' Metrics
// lists (mesh.Metrics, gateway.Metrics, ...), MonitoringMetrics for the
// monitoring tier's own components, and the SLO recording rules
// (slo.ErrorRatioRecord). The package's test checks each query's metric
// names against them, and runs every query through promtool. A
// histogram's series count as declared when its base name or its _bucket
// series is: a list declaring x_bucket (or x) covers x_bucket, x_sum and
// x_count.
//
// The data source: every panel and query reads the dashboard variable
// DatasourceVariable (${datasource}, of plugin type prometheus), whose
// default is DefaultDatasourceUID, the uid kube-prometheus-stack gives
// the Prometheus data source its Grafana sidecar provisions
// (grafana.sidecar.datasources.uid). A variable rather than the fixed uid
// keeps the dashboards working on a Grafana whose Prometheus data source
// has another uid (pick it in the drop-down) while they open on the
// platform's own by default.
//
// The package imports no Pulumi SDK and no tier package, so any tier or
// the stack may import it.
package dashboards

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/cloudscale/platform/components/monitoring/slo"
)

const (
	// DatasourceVariable names the dashboards' data source variable, which
	// every panel and query reads as ${datasource}.
	DatasourceVariable = "datasource"
	// DefaultDatasourceUID is the variable's default: the uid of the
	// Prometheus data source kube-prometheus-stack's Grafana sidecar
	// provisions (values grafana.sidecar.datasources.uid, "prometheus").
	DefaultDatasourceUID = "prometheus"
	// Tag is on every dashboard; each dashboard's links list the others
	// by it.
	Tag = "cloudscale"
	// SLOPrefix starts the name of a service's dashboard: slo-<service>.
	SLOPrefix = "slo-"
	// RateInterval is the range of the panels' rate()s: Grafana's
	// $__rate_interval, at least four scrape intervals and one step.
	RateInterval = "$__rate_interval"
)

// Tiers are the names of the per-tier dashboards, in the order of the
// stack's composition.
var Tiers = []string{"security", "mesh", "postgres", "redis", "mongodb", "rabbitmq", "monitoring", "gateway"}

// nameRe is the dashboards' names: short DNS labels, as
// monitoring.MetricsArgs validates them (they name ConfigMaps
// dashboard-<name> and their key <name>.json).
var nameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$`)

// All returns every dashboard, name -> JSON model: one per tier (Tiers)
// and one per service, slo-<service>, whose error budget panels start
// from the platform's default objectives (DefaultObjective), which the
// dashboard's objective variables change. ForObjectives does the same
// from the services' own objectives.
func All(services []string) (map[string][]byte, error) {
	objs := make([]slo.Objective, 0, len(services))
	for _, s := range services {
		o := DefaultObjective
		o.Service = s
		objs = append(objs, o)
	}
	return ForObjectives(objs)
}

// DefaultObjective is the objective the SLO dashboards of All assume: the
// guide's default (99.9% of requests succeed, 99% within 250 ms, over 30
// days), as stacks/spec's DefaultSLO.
var DefaultObjective = slo.Objective{Availability: 99.9, LatencyMs: 250, LatencyTarget: 99}

// ForObjectives returns every dashboard as All does, each service's SLO
// dashboard from its objective: the objective variables default to its
// targets, the latency panels name its threshold, and its queries select
// its namespace when the objective names one.
func ForObjectives(objectives []slo.Objective) (map[string][]byte, error) {
	builders := map[string]*dashboard.DashboardBuilder{
		"mesh":       meshDashboard(),
		"gateway":    gatewayDashboard(),
		"security":   securityDashboard(),
		"postgres":   postgresDashboard(),
		"redis":      redisDashboard(),
		"mongodb":    mongodbDashboard(),
		"rabbitmq":   rabbitmqDashboard(),
		"monitoring": monitoringDashboard(),
	}
	for _, o := range objectives {
		name := SLOPrefix + o.Service
		if !nameRe.MatchString(name) {
			return nil, fmt.Errorf("service %q: dashboard name %q must be a DNS label of at most 42 characters", o.Service, name)
		}
		if _, dup := builders[name]; dup {
			return nil, fmt.Errorf("service %q: dashboard %q twice", o.Service, name)
		}
		b, err := sloDashboard(o)
		if err != nil {
			return nil, err
		}
		builders[name] = b
	}
	out := make(map[string][]byte, len(builders))
	for name, b := range builders {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", name, err)
		}
		j, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", name, err)
		}
		out[name] = j
	}
	return out, nil
}

// UID is a dashboard's uid: cloudscale-<name>, which Grafana limits to 40
// characters; a longer one keeps its first 31 and a hash of the whole.
func UID(name string) string {
	uid := Tag + "-" + name
	if len(uid) <= 40 {
		return uid
	}
	sum := sha256.Sum256([]byte(uid))
	return uid[:31] + "-" + hex.EncodeToString(sum[:])[:8]
}

// newDashboard starts a dashboard: its uid, title, tags, the data source
// variable, a drop-down of the platform's other dashboards, a refresh of
// a minute and a crosshair shared by its panels.
func newDashboard(name, title, description, from string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(UID(name)).
		Description(description).
		Tags([]string{Tag, name}).
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("1m").
		Time(from, "now").
		WithVariable(dashboard.NewDatasourceVariableBuilder(DatasourceVariable).
			Label("Data source").
			Type("prometheus").
			Current(dashboard.VariableOption{
				Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr("Prometheus")},
				Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(DefaultDatasourceUID)},
			})).
		Link(dashboard.NewDashboardLinkBuilder("CloudScale").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).
			AsDropdown(true).
			IncludeVars(false).
			KeepTime(true))
}

// datasource is the reference every panel and query carries.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + DatasourceVariable + "}")}
}

// q is one query: expr, and the legend of its series.
type q struct{ expr, legend string }

// targets builds the queries of a panel, refIds A, B, ...; instant ones
// for stat panels, which show the latest value (a range query of a long
// window would evaluate it at every step).
func targets(instant bool, qs []q) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(qs))
	for i, x := range qs {
		b := prometheus.NewDataqueryBuilder().
			Datasource(datasource()).
			RefId(string(rune('A' + i))).
			Expr(x.expr).
			LegendFormat(x.legend)
		if instant {
			b.Instant()
		} else {
			b.Range()
		}
		out = append(out, b)
	}
	return out
}

// series is a time series panel, width w of the grid's 24, 8 high.
func series(title, description, unit string, w uint32, qs ...q) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Span(w).Height(8).
		FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Targets(targets(false, qs))
}

// single is a stat panel, width w, 4 high, coloured by thresholds: base
// colour, then each step's colour from its value up.
func single(title, description, unit string, w uint32, base string, steps []step, qs ...q) *stat.PanelBuilder {
	ts := []dashboard.Threshold{{Value: nil, Color: base}}
	for _, s := range steps {
		ts = append(ts, dashboard.Threshold{Value: cog.ToPtr(s.from), Color: s.color})
	}
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Span(w).Height(4).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)).
		Targets(targets(true, qs))
}

// step is a threshold: from value up, the panel takes color.
type step struct {
	from  float64
	color string
}

// The thresholds' colours.
const (
	green  = "green"
	yellow = "yellow"
	red    = "red"
)

// valueText maps values to texts (a state's name).
func valueText(texts map[string]string) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for v, t := range texts {
		opts[v] = dashboard.ValueMappingResult{Text: cog.ToPtr(t)}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// rate is rate(selector[$__rate_interval]).
func rate(selector string) string { return "rate(" + selector + "[" + RateInterval + "])" }

// sumBy is sum by (labels) (expr); with no labels, sum (expr).
func sumBy(labels, expr string) string {
	if labels == "" {
		return "sum (" + expr + ")"
	}
	return "sum by (" + labels + ") (" + expr + ")"
}

// quantile is the q-quantile of histogram bucket series selector, by
// labels.
func quantile(q float64, labels, selector string) string {
	by := "le"
	if labels != "" {
		by = labels + ", le"
	}
	return fmt.Sprintf("histogram_quantile(%g, %s)", q, sumBy(by, rate(selector)))
}

// legend is a legend of labels: {{a}}/{{b}}.
func legend(labels ...string) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = "{{" + l + "}}"
	}
	return strings.Join(parts, "/")
}
