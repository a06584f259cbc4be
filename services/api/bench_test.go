package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudscale/platform/services/stores"
	"github.com/cloudscale/platform/services/testserver"
)

// loadRates are the request rates (per second) BenchmarkAPILoad offers,
// each for loadDuration.
var (
	loadRates    = []int{100, 200, 400}
	loadDuration = 20 * time.Second
)

// BenchmarkAPILoad offers the API, wired to every real store (PostgreSQL
// behind PgBouncer, Redis for state and for the cache, RabbitMQ with
// publisher confirms, FerretDB), a mix of requests at fixed rates with
// vegeta: per 4 requests, 2 GET product (the cache), 1 POST order
// (PostgreSQL transaction + outbox + broker confirm) and 1 GET cart
// (Redis). Each rate is one sub-benchmark run once (b.N is not used: the
// figures are the attack's), reporting the achieved throughput, the
// latency percentiles and the success ratio, overall and per operation.
// docs/services-bench.md holds a run's results.
//
//	nice go test -run '^$' -bench BenchmarkAPILoad -benchtime 1x ./services/api/
func BenchmarkAPILoad(b *testing.B) {
	pg := testserver.Postgres(b)
	bouncer := testserver.PgBouncer(b, pg)
	state, cache := testserver.Redis(b), testserver.Redis(b)
	rabbit := testserver.SharedRabbitMQ(b)
	declareTopology(b, rabbit.URL)
	api := start(b, servers{pg: pg, pgURL: bouncer.URL(), rabbit: rabbit, mongoURI: testserver.MongoDB(b).URI,
		state: stores.Redis{Addr: state.Addr, Password: state.Password},
		cache: stores.Redis{Addr: cache.Addr, Password: cache.Password}})
	putProduct(b, api, "bench-1", 999, 1_000_000_000)
	api.do(b, request{method: "PUT", path: "/api/v1/account/cart", subject: "bench",
		body: map[string]any{"items": []any{map[string]any{"sku": "bench-1", "quantity": 1}}}})

	subject := http.Header{"X-Cloudscale-Subject": {"bench"}, "Content-Type": {"application/json"}}
	product := vegeta.Target{Method: "GET", URL: api.base + "/api/v1/products/bench-1"}
	targets := []vegeta.Target{
		product,
		{Method: "POST", URL: api.base + "/api/v1/account/orders", Header: subject,
			Body: []byte(`{"items":[{"sku":"bench-1","quantity":1}]}`)},
		product,
		{Method: "GET", URL: api.base + "/api/v1/account/cart", Header: subject},
	}
	for _, rate := range loadRates {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			attacker := vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.MaxWorkers(2000))
			all := &vegeta.Metrics{}
			per := map[string]*vegeta.Metrics{}
			for res := range attacker.Attack(vegeta.NewStaticTargeter(targets...),
				vegeta.Rate{Freq: rate, Per: time.Second}, loadDuration, fmt.Sprintf("rate-%d", rate)) {
				all.Add(res)
				op := res.Method + " " + strings.TrimPrefix(res.URL, api.base)
				if per[op] == nil {
					per[op] = &vegeta.Metrics{}
				}
				per[op].Add(res)
			}
			all.Close()
			report(b, "", all)
			ops := make([]string, 0, len(per))
			for op := range per {
				ops = append(ops, op)
			}
			sort.Strings(ops)
			for _, op := range ops {
				m := per[op]
				m.Close()
				b.Logf("%-32s requests %5d  success %.4f  p50 %6.1fms  p95 %6.1fms  p99 %6.1fms  codes %v",
					op, m.Requests, m.Success, ms(m.Latencies.P50), ms(m.Latencies.P95), ms(m.Latencies.P99), m.StatusCodes)
			}
		})
	}
}

// report logs and reports an attack's figures.
func report(b *testing.B, prefix string, m *vegeta.Metrics) {
	b.ReportMetric(m.Rate, prefix+"offered_req/s")
	b.ReportMetric(m.Throughput, prefix+"ok_req/s")
	b.ReportMetric(ms(m.Latencies.P50), prefix+"p50_ms")
	b.ReportMetric(ms(m.Latencies.P95), prefix+"p95_ms")
	b.ReportMetric(ms(m.Latencies.P99), prefix+"p99_ms")
	b.ReportMetric(m.Success, prefix+"success_ratio")
	b.Logf("all: requests %d, offered %.1f/s, ok %.1f/s, success %.4f, p50 %.1fms p95 %.1fms p99 %.1fms max %.1fms, codes %v, errors %v",
		m.Requests, m.Rate, m.Throughput, m.Success, ms(m.Latencies.P50), ms(m.Latencies.P95), ms(m.Latencies.P99),
		ms(m.Latencies.Max), m.StatusCodes, m.Errors)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
