package slo

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/monitoring/promtest"
)

// mesh is a process's metrics endpoint exporting the mesh's standard
// request metrics, as a sidecar's does: the SLIs' input.
type mesh struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMesh(reg *prometheus.Registry) *mesh {
	labels := []string{"reporter", "destination_service_name", "destination_service_namespace"}
	m := &mesh{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "istio_requests_total", Help: "Requests."},
			append(labels, "response_code")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "istio_request_duration_milliseconds",
			Help: "Request duration.", Buckets: DurationBuckets}, labels),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// serve records n requests to service, failing every failEvery-th with a
// 503 and taking slowMs for every slowEvery-th (fastMs otherwise).
func (m *mesh) serve(service string, n, failEvery, slowEvery int, fastMs, slowMs float64) {
	for i := 1; i <= n; i++ {
		code, ms := "200", fastMs
		if failEvery > 0 && i%failEvery == 0 {
			code = "503"
		}
		if slowEvery > 0 && i%slowEvery == 0 {
			ms = slowMs
		}
		m.requests.WithLabelValues("destination", service, "cloudscale", code).Inc()
		m.duration.WithLabelValues("destination", service, "cloudscale").Observe(ms)
		// The client side's view of the same requests, which the SLI
		// must not count.
		m.requests.WithLabelValues("source", service, "cloudscale", "503").Inc()
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestRulesOnARealPrometheus runs Debian's Prometheus on 127.0.0.1,
// scraping a real metrics endpoint every second and evaluating the SLO
// rules this package writes: the recorded ratios and the alerts come
// from real samples, not from promtool's fixtures. api-service fails 10%
// of its requests and is slower than its 500 ms threshold for 20%;
// orders is healthy.
func TestRulesOnARealPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "prometheus not found on PATH (`make tools` installs Debian's prometheus)")
	reg := prometheus.NewRegistry()
	m := newMesh(reg)
	target := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: time.Second}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = target.Serve(l) }()
	defer target.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				m.serve("api-service", 100, 10, 5, 40, 1200)
				m.serve("orders", 100, 0, 0, 40, 0)
			}
		}
	}()
	defer wg.Wait()
	defer cancel()

	dir := t.TempDir()
	var rules []string
	for _, o := range []Objective{
		{Service: "api-service", Namespace: "cloudscale", Availability: 99.9, LatencyMs: 500, LatencyTarget: 99},
		{Service: "orders", Namespace: "cloudscale", Availability: 99.9, LatencyMs: 500, LatencyTarget: 99},
	} {
		b, err := promtest.RuleFile(o.Rules("monitoring"))
		require.NoError(t, err)
		f := filepath.Join(dir, o.Service+".rules.yaml")
		require.NoError(t, os.WriteFile(f, b, 0o600))
		rules = append(rules, f)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: mesh
    static_configs:
      - targets: [%q]
`, strings.Join(rules, ", "), l.Addr().String())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600))
	addr := freePort(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=1h")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", logs.String())
		}
	}()

	client, err := promapi.NewClient(promapi.Config{Address: "http://" + addr})
	require.NoError(t, err)
	api := promv1.NewAPI(client)
	value := func(query string) (float64, bool) {
		v, _, _, err := api.Query(ctx, query, time.Now())
		if err != nil {
			return 0, false
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) != 1 {
			return 0, false
		}
		return float64(vec[0].Value), true
	}
	// Until both windows hold enough samples: the ratios converge on the
	// traffic's shape.
	want := map[string]float64{
		`slo:sli_error:ratio_rate5m{service="api-service", slo="availability"}`: 0.1,
		`slo:sli_error:ratio_rate1h{service="api-service", slo="availability"}`: 0.1,
		`slo:sli_error:ratio_rate5m{service="api-service", slo="latency"}`:      0.2,
		`slo:sli_error:ratio_rate5m{service="orders", slo="availability"}`:      0,
		`slo:sli_error:ratio_rate5m{service="orders", slo="latency"}`:           0,
	}
	got := map[string]float64{}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && len(got) < len(want) {
		time.Sleep(time.Second)
		for q, w := range want {
			if v, ok := value(q); ok && v >= w-0.01 && v <= w+0.01 {
				got[q] = v
			}
		}
	}
	for q, w := range want {
		v, ok := got[q]
		assert.True(t, ok, "%s never settled at %v (last: %v)", q, w, func() any { v, _ := value(q); return v }())
		assert.InDelta(t, w, v, 0.01, q)
	}

	// The alerts the burn rates imply: api-service pages and tickets for
	// both objectives (10% and 20% are far beyond 14.4x their budgets);
	// orders fires nothing.
	firing := map[string]bool{}
	for time.Now().Before(deadline.Add(30*time.Second)) && len(firing) < 4 {
		time.Sleep(time.Second)
		res, err := api.Alerts(ctx)
		if err != nil {
			continue
		}
		for _, a := range res.Alerts {
			if a.State == promv1.AlertStateFiring {
				firing[fmt.Sprintf("%s/%s/%s/%s", a.Labels["alertname"], a.Labels[ServiceLabel], a.Labels[SLOLabel], a.Labels[SeverityLabel])] = true
			}
		}
	}
	assert.Equal(t, map[string]bool{
		"AvailabilityBudgetBurn/api-service/availability/page": true, "AvailabilityBudgetBurn/api-service/availability/ticket": true,
		"LatencyBudgetBurn/api-service/latency/page": true, "LatencyBudgetBurn/api-service/latency/ticket": true,
	}, firing)
	t.Logf("recorded on a real Prometheus: %v", got)
}
