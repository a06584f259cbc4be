package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cloudscale/platform/components/gateway"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/monitoring/promtest"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/redis"
	"github.com/cloudscale/platform/components/security"
)

// catalogue is every metric name some tier declares its targets export,
// and the SLO recording rules' names.
func catalogue() map[string]bool {
	out := map[string]bool{}
	for _, list := range [][]string{
		mesh.Metrics, gateway.Metrics, security.Metrics, postgres.Metrics, redis.Metrics,
		mongodb.Metrics, rabbitmq.Metrics, MonitoringMetrics,
	} {
		for _, m := range list {
			out[m] = true
		}
	}
	for _, w := range slo.Windows() {
		out[slo.ErrorRatioRecord(w)] = true
	}
	return out
}

// histogramSuffixes are the series a classic histogram (or summary)
// exports besides its buckets.
var histogramSuffixes = []string{"_bucket", "_sum", "_count"}

// declared is the metric-name rule: name is covered when the catalogue
// lists it, or when it is a histogram's (or summary's) _bucket, _sum or
// _count series and the catalogue lists the histogram's base name or its
// _bucket series (a tier declaring x_bucket covers x_sum and x_count,
// one declaring x covers all three).
func declared(name string, cat map[string]bool) bool {
	if cat[name] {
		return true
	}
	for _, s := range histogramSuffixes {
		if base, ok := strings.CutSuffix(name, s); ok && (cat[base] || cat[base+"_bucket"]) {
			return true
		}
	}
	return false
}

// The JSON model, as much of it as the checks read.
type (
	model struct {
		UID        string  `json:"uid"`
		Title      string  `json:"title"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []variable `json:"list"`
		} `json:"templating"`
	}
	panel struct {
		Type       string   `json:"type"`
		Title      string   `json:"title"`
		Datasource *ref     `json:"datasource"`
		Panels     []panel  `json:"panels"`
		Targets    []target `json:"targets"`
	}
	target struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource *ref   `json:"datasource"`
	}
	ref struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	variable struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Current struct {
			Value string `json:"value"`
		} `json:"current"`
	}
)

func parse(t testing.TB, raw []byte) model {
	t.Helper()
	var m model
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// leaves are the dashboard's panels other than rows, rows' nested panels
// (a collapsed row's) included.
func leaves(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		if p.Type != "row" {
			out = append(out, p)
		}
		out = append(out, leaves(p.Panels)...)
	}
	return out
}

var leftover = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)

// interpolate does what Grafana does to an expression before it queries
// Prometheus: $__rate_interval becomes a duration (5m, as for a 15s
// scrape and step), each of the dashboard's variables its current value.
// A variable left over fails the test.
func interpolate(t testing.TB, m model, expr string) string {
	t.Helper()
	out := strings.ReplaceAll(expr, RateInterval, "5m")
	for _, v := range m.Templating.List {
		out = strings.ReplaceAll(out, "${"+v.Name+"}", v.Current.Value)
		out = strings.ReplaceAll(out, "$"+v.Name, v.Current.Value)
	}
	if l := leftover.FindString(out); l != "" {
		t.Errorf("%s: %q names no variable of the dashboard", expr, l)
	}
	return out
}

// exprs are every target's expression, interpolated, by panel title.
func exprs(t testing.TB, m model) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range leaves(m.Panels) {
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], interpolate(t, m, tg.Expr))
		}
	}
	return out
}

// unknownMetrics are the metric names the dashboard's queries select
// that declared does not cover, sorted and unique.
func unknownMetrics(t testing.TB, raw []byte, cat map[string]bool) []string {
	t.Helper()
	var out []string
	for _, es := range exprs(t, parse(t, raw)) {
		for _, e := range es {
			for _, n := range promtest.MetricNames(e) {
				if !declared(n, cat) {
					out = append(out, n)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// recordingRules renders every query of the dashboards as a recording
// rule, a group per dashboard, for promtool to check.
func recordingRules(t testing.TB, all map[string][]byte) *monitoringv1.PrometheusRule {
	t.Helper()
	r := &monitoringv1.PrometheusRule{}
	for _, name := range slices.Sorted(maps.Keys(all)) {
		g := monitoringv1.RuleGroup{Name: "dashboard-" + name}
		m := parse(t, all[name])
		es := exprs(t, m)
		for _, title := range slices.Sorted(maps.Keys(es)) {
			for _, e := range es[title] {
				g.Rules = append(g.Rules, monitoringv1.Rule{
					Record: fmt.Sprintf("dashboard:%s:expr%d", strings.ReplaceAll(name, "-", "_"), len(g.Rules)),
					Expr:   intstr.FromString(e),
				})
			}
		}
		r.Spec.Groups = append(r.Spec.Groups, g)
	}
	return r
}

// check asserts what every dashboard must be: Grafana's model (the SDK
// reads it back strictly), a uid within Grafana's 40 characters, a
// title, panels each with a title and queries, all on the data source
// variable, and every query selecting only metrics a tier declares. It
// returns the metric names the queries select.
func check(t testing.TB, raw []byte, cat map[string]bool) []string {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	require.NoError(t, strict(d.UnmarshalJSONStrict(raw)))

	m := parse(t, raw)
	assert.NotEmpty(t, m.UID, "no uid")
	assert.LessOrEqual(t, len(m.UID), 40, "Grafana's uid limit")
	assert.NotEmpty(t, m.Title, "no title")
	ps := leaves(m.Panels)
	require.NotEmpty(t, ps, "no panel")

	var used []string
	for _, p := range ps {
		assert.NotEmpty(t, p.Title, "a panel without a title")
		assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		assert.Equal(t, &ref{"prometheus", "${datasource}"}, p.Datasource, "panel %q", p.Title)
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			assert.NotEmpty(t, tg.Expr, "panel %q: a query without an expression", p.Title)
			assert.Equal(t, &ref{"prometheus", "${datasource}"}, tg.Datasource, "panel %q", p.Title)
			assert.False(t, refs[tg.RefID], "panel %q: refId %s twice", p.Title, tg.RefID)
			refs[tg.RefID] = true
			for _, n := range promtest.MetricNames(interpolate(t, m, tg.Expr)) {
				used = append(used, n)
				assert.True(t, declared(n, cat), "panel %q queries %s, which no tier declares it exports:\n%s", p.Title, n, tg.Expr)
			}
		}
	}
	return used
}

// strict is the error of the SDK's UnmarshalJSONStrict, which returns
// its cog.BuildErrors even when empty (a non-nil error of no error).
func strict(err error) error {
	if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
		return nil
	}
	return err
}

func TestDashboards(t *testing.T) {
	all, err := All([]string{"api-service"})
	require.NoError(t, err)
	cat := catalogue()

	for _, c := range []struct {
		name string
		// must are metrics the dashboard must query (what it is for).
		must []string
	}{
		{"mesh", []string{"istio_requests_total", "istio_request_duration_milliseconds_bucket", "pilot_xds_pushes"}},
		{"gateway", []string{"istio_requests_total", "ratelimit_service_rate_limit_over_limit", "ratelimit_service_rate_limit_total_hits"}},
		{"security", []string{"vault_core_unsealed", "certmanager_certificate_expiration_timestamp_seconds", "externalsecret_sync_calls_error"}},
		{"postgres", []string{"cnpg_pg_replication_lag", "cnpg_pg_stat_archiver_failed_count", "cnpg_pgbouncer_stats_total_xact_count", "cnpg_pgbouncer_pools_sv_active"}},
		{"redis", []string{"redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes", "redis_keyspace_hits_total", "redis_connected_slaves"}},
		{"mongodb", []string{"mongodb_members_state", "mongodb_mongod_replset_member_replication_lag"}},
		{"rabbitmq", []string{"rabbitmq_queue_messages_ready", "rabbitmq_queue_messages_unacked", "rabbitmq_queue_messages", "rabbitmq_global_messages_received_total", "rabbitmq_global_messages_delivered_total"}},
		{"monitoring", []string{"up", "prometheus_rule_evaluation_failures_total", "fluentd_output_status_buffer_queue_length", "fluentd_output_status_retry_count", "elasticsearch_cluster_health_status", "otelcol_receiver_accepted_spans_total", "otelcol_receiver_refused_spans_total"}},
		{"slo-api-service", []string{slo.ErrorRatioRecord("5m"), slo.ErrorRatioRecord("1h"), slo.ErrorRatioRecord("1d"), "istio_requests_total", "istio_request_duration_milliseconds_bucket"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, ok := all[c.name]
			require.True(t, ok, "no dashboard %s", c.name)
			assert.Equal(t, UID(c.name), parse(t, raw).UID)
			used := check(t, raw, cat)
			for _, n := range c.must {
				assert.Contains(t, used, n)
			}
		})
	}

	t.Run("no other dashboard", func(t *testing.T) {
		want := append(slices.Clone(Tiers), SLOPrefix+"api-service")
		assert.ElementsMatch(t, want, slices.Collect(maps.Keys(all)))
	})

	t.Run("promtool", func(t *testing.T) {
		promtest.Check(t, recordingRules(t, all))
	})
}

func TestUnknownMetricIsReported(t *testing.T) {
	cat := catalogue()
	raw := render(t, newDashboard("test", "Test", "", "now-1h").
		WithPanel(series("known", "", "short", 12, q{sumBy("", rate(`istio_requests_total`)), ""})).
		WithRow(dashboard.NewRowBuilder("collapsed").Collapsed(true).
			WithPanel(series("unknown", "", "short", 12,
				q{sumBy("", rate(`no_such_metric_total`)), ""},
				// a _bucket of a counter is no histogram a tier declares
				q{quantile(0.99, "", `istio_requests_bucket`), ""},
				// a declared histogram's _count is covered
				q{sumBy("", rate(`istio_request_duration_milliseconds_count`)), ""}))))
	assert.Equal(t, []string{"istio_requests_bucket", "no_such_metric_total"}, unknownMetrics(t, raw, cat))

	// The check every dashboard passes fails on it: run it on a recorder.
	ft := &recorder{TB: t}
	check(ft, raw, cat)
	assert.Equal(t, 2, ft.errors, "check reported %d unknown metrics, want 2", ft.errors)
	assert.False(t, ft.fatal)
}

func TestDeclared(t *testing.T) {
	cat := map[string]bool{"a_bucket": true, "b": true, "c_total": true}
	for _, c := range []struct {
		name string
		want bool
	}{
		{"a_bucket", true}, {"a_sum", true}, {"a_count", true}, {"a", false},
		{"b", true}, {"b_bucket", true}, {"b_count", true},
		{"c_total", true}, {"c_total_count", true}, {"c_count", false}, {"c", false},
		{"d", false}, {"d_bucket", false},
	} {
		assert.Equal(t, c.want, declared(c.name, cat), c.name)
	}
}

func TestPromtoolRefusesABadQuery(t *testing.T) {
	raw := render(t, newDashboard("bad", "Bad", "", "now-1h").
		WithPanel(series("bad", "", "short", 12, q{`sum(rate(up[5m])`, ""})))
	ft := &recorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		promtest.Check(ft, recordingRules(t, map[string][]byte{"bad": raw}))
	}()
	assert.True(t, ft.fatal, "promtool accepted an unbalanced expression")
}

// The names the queries select by are the tiers'.
func TestNamesAgreeWithTiers(t *testing.T) {
	assert.Equal(t, gateway.IngressName, gatewayWorkload)
	assert.Equal(t, gateway.RateLimitName, rateLimitJob)
	assert.Equal(t, mesh.IstiodJob, istiodJob)
	assert.Equal(t, security.VaultJob, vaultJob)
	assert.Equal(t, security.CertManagerJob, certManagerJob)
	assert.Equal(t, security.ExternalSecretsJob, externalSecretsJob)
	assert.Equal(t, slo.DurationMetric+"_bucket", "istio_request_duration_milliseconds_bucket")
	assert.Equal(t, slo.RequestsMetric, "istio_requests_total")
}

func TestSLODashboardFollowsTheObjective(t *testing.T) {
	all, err := ForObjectives([]slo.Objective{{Service: "orders", Namespace: "apps", Availability: 99.5, LatencyMs: 250, LatencyTarget: 95}})
	require.NoError(t, err)
	m := parse(t, all["slo-orders"])
	vars := map[string]string{}
	for _, v := range m.Templating.List {
		vars[v.Name] = v.Current.Value
	}
	assert.Equal(t, map[string]string{DatasourceVariable: DefaultDatasourceUID, AvailabilityObjectiveVariable: "99.5", LatencyObjectiveVariable: "95"}, vars)
	es := strings.Join(slices.Concat(slices.Collect(maps.Values(exprs(t, m)))...), "\n")
	assert.Contains(t, es, `destination_service_name="orders", destination_service_namespace="apps"`)
	assert.Contains(t, es, `slo:sli_error:ratio_rate1h{service="orders", slo="latency"}`)
	assert.Contains(t, es, `/ (1 - 95 / 100)`)
	assert.Contains(t, string(all["slo-orders"]), "250 ms")
}

func TestAllRefusesBadServices(t *testing.T) {
	for _, c := range []struct {
		services []string
		err      string
	}{
		{[]string{"Bad_Name"}, "DNS label"},
		{[]string{strings.Repeat("a", 40)}, "at most 42"},
		{[]string{"api", "api"}, "twice"},
	} {
		_, err := All(c.services)
		assert.ErrorContains(t, err, c.err, c.services)
	}
	all, err := All(nil)
	require.NoError(t, err)
	assert.Len(t, all, len(Tiers))
}

func TestAllIsDeterministic(t *testing.T) {
	a, err := All([]string{"api-service", "web"})
	require.NoError(t, err)
	b, err := All([]string{"web", "api-service"})
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestUID(t *testing.T) {
	assert.Equal(t, "cloudscale-mesh", UID("mesh"))
	long := UID("slo-" + strings.Repeat("x", 38))
	assert.Len(t, long, 40)
	assert.NotEqual(t, long, UID("slo-"+strings.Repeat("x", 37)+"y"))
}

func render(t testing.TB, b *dashboard.DashboardBuilder) []byte {
	t.Helper()
	d, err := b.Build()
	require.NoError(t, err)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	return raw
}

// recorder records failures instead of ending the test.
type recorder struct {
	testing.TB
	errors int
	fatal  bool
}

func (r *recorder) Errorf(string, ...any) { r.errors++ }
func (r *recorder) Fatalf(string, ...any) { r.fatal = true; panic("fatal") }
func (r *recorder) Fatal(...any)          { r.fatal = true; panic("fatal") }
func (r *recorder) FailNow()              { r.fatal = true; panic("fatal") }
func (r *recorder) Helper()               {}
