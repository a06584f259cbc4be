package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTest is a Telemetry whose logs go to a buffer and whose spans are
// recorded in memory.
func newTest(t *testing.T) (*Telemetry, *bytes.Buffer, *tracetest.InMemoryExporter) {
	t.Helper()
	var logs bytes.Buffer
	spans := tracetest.NewInMemoryExporter()
	tel, err := New(context.Background(), Options{
		Service: "api-service", Version: "1.2.3", Sampling: 1, LogOutput: &logs,
		SpanProcessor: sdktrace.NewSimpleSpanProcessor(spans),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, &logs, spans
}

func decodeLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

// TestLogCarriesTraceID: a record logged with a span's context carries
// its trace and span ids, and every record the service and version.
func TestLogCarriesTraceID(t *testing.T) {
	tel, logs, _ := newTest(t)
	ctx, span := tel.Tracer.Start(context.Background(), "work")
	tel.Logger.InfoContext(ctx, "order placed", "order", 42)
	span.End()
	tel.Logger.Info("no span")
	tel.Logger.Debug("below the level")

	lines := decodeLines(t, logs)
	require.Len(t, lines, 2)
	assert.Equal(t, span.SpanContext().TraceID().String(), lines[0]["trace_id"])
	assert.Equal(t, span.SpanContext().SpanID().String(), lines[0]["span_id"])
	assert.Equal(t, "order placed", lines[0]["msg"])
	assert.Equal(t, "api-service", lines[0]["service"])
	assert.Equal(t, "1.2.3", lines[0]["version"])
	assert.NotContains(t, lines[1], "trace_id")
}

// TestRouteCountsAndParents: Route counts requests per route, method and
// code, and its server span, named after the route, is the child of the
// caller's traceparent.
func TestRouteCountsAndParents(t *testing.T) {
	tel, logs, spans := newTest(t)
	mux := http.NewServeMux()
	const orders = "GET /api/v1/orders/{id}"
	mux.Handle(orders, tel.Route(orders, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tel.Logger.InfoContext(r.Context(), "order read", "id", r.PathValue("id"))
		if r.PathValue("id") == "missing" {
			http.NotFound(w, r)
		}
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	const parentTrace, parentSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, id := range []string{"1", "2", "missing"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/orders/"+id, nil)
		require.NoError(t, err)
		req.Header.Set("traceparent", "00-"+parentTrace+"-"+parentSpan+"-01")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}

	ok := map[string]string{"route": orders, "method": "get", "code": "200"}
	missing := map[string]string{"route": orders, "method": "get", "code": "404"}
	assert.InDelta(t, 2, value(t, tel, "http_server_requests_total", ok), 0)
	assert.InDelta(t, 1, value(t, tel, "http_server_requests_total", missing), 0)
	assert.InDelta(t, 2, value(t, tel, "http_server_request_duration_seconds", ok), 0)
	assert.InDelta(t, 1, value(t, tel, "http_server_request_duration_seconds", missing), 0)
	assert.Len(t, gather(t, tel)["http_server_request_duration_seconds"].GetMetric(), 2, "one histogram per route, method and code")
	assert.InDelta(t, 0, value(t, tel, "http_server_requests_in_flight", nil), 0)

	got := spans.GetSpans()
	require.Len(t, got, 3)
	for _, s := range got {
		assert.Equal(t, orders, s.Name)
		assert.Equal(t, trace.SpanKindServer, s.SpanKind)
		assert.Equal(t, parentTrace, s.SpanContext.TraceID().String())
		assert.Equal(t, parentSpan, s.Parent.SpanID().String())
		assert.True(t, s.Parent.IsRemote())
	}
	for _, l := range decodeLines(t, logs) {
		assert.Equal(t, parentTrace, l["trace_id"], "the handler's logs carry the caller's trace")
	}
}

// TestRouteStreams: a server-sent event flushed through Route reaches the
// client while the handler is still running.
func TestRouteStreams(t *testing.T) {
	tel, _, _ := newTest(t)
	release := make(chan struct{})
	h := tel.Route("GET /events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		assert.NoError(t, http.NewResponseController(w).Flush())
		<-release
		_, _ = io.WriteString(w, "data: last\n\n")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "data: first\n", line, "read before the handler was released")
	assert.InDelta(t, 1, value(t, tel, "http_server_requests_in_flight", nil), 0, "the stream is in flight")
	close(release)
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "\ndata: last\n\n", string(rest))
}

// TestHTTPClientPropagates: the client carries the caller's trace out.
func TestHTTPClientPropagates(t *testing.T) {
	tel, _, _ := newTest(t)
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
	}))
	defer srv.Close()
	ctx, span := tel.Tracer.Start(context.Background(), "call")
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := tel.HTTPClient().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, <-got, span.SpanContext().TraceID().String())
}

// TestAMQPRoundTrip: a trace injected into message headers is extracted
// on the other side, whether the header arrives as string or []byte.
func TestAMQPRoundTrip(t *testing.T) {
	tel, _, _ := newTest(t)
	ctx, span := tel.Tracer.Start(context.Background(), "publish")
	defer span.End()
	headers := amqp.Table{"x-priority": int32(5)}
	InjectAMQP(ctx, headers)
	require.IsType(t, "", headers["traceparent"])

	for name, h := range map[string]amqp.Table{
		"string": headers,
		"bytes":  {"traceparent": []byte(headers["traceparent"].(string))},
		"new":    AMQPHeaders(ctx),
	} {
		sc := trace.SpanContextFromContext(ExtractAMQP(context.Background(), h))
		assert.Equal(t, span.SpanContext().TraceID(), sc.TraceID(), name)
		assert.Equal(t, span.SpanContext().SpanID(), sc.SpanID(), name)
		assert.True(t, sc.IsRemote(), name)
	}
	assert.False(t, trace.SpanContextFromContext(ExtractAMQP(context.Background(), nil)).IsValid())
	InjectAMQP(ctx, nil) // no panic
}

// TestGaugeAndRegistry: a GaugeFunc reads its value at scrape; the
// registry holds the Go and process collectors; a second gauge of the
// same name is an error naming it.
func TestGaugeAndRegistry(t *testing.T) {
	tel, _, _ := newTest(t)
	depth := 3.0
	require.NoError(t, Gauge(tel.Registry, "orders_queue_depth", "Messages ready in the orders queue.", func() float64 { return depth }))
	depth = 7
	assert.InDelta(t, 7, value(t, tel, "orders_queue_depth", nil), 0)
	families := gather(t, tel)
	assert.Contains(t, families, "go_goroutines")
	assert.Contains(t, families, "process_start_time_seconds")
	err := Gauge(tel.Registry, "orders_queue_depth", "again", func() float64 { return 0 })
	require.ErrorContains(t, err, "orders_queue_depth")
}

// gather is the registry's metric families by name.
func gather(t *testing.T, tel *Telemetry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := tel.Registry.Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value is the gathered value of the series of name with exactly labels:
// a counter's or gauge's value, a histogram's sample count.
func value(t *testing.T, tel *Telemetry, name string, labels map[string]string) float64 {
	t.Helper()
	mf, ok := gather(t, tel)[name]
	require.True(t, ok, "no metric %s", name)
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// TestSamplingAndEndpoint: with sampling 0 a new trace is not sampled but
// has ids (logs still correlate); an OTLP endpoint is accepted as
// host:port or URL without connecting.
func TestSamplingAndEndpoint(t *testing.T) {
	for _, endpoint := range []string{"127.0.0.1:4317", "http://127.0.0.1:4317"} {
		tel, err := New(context.Background(), Options{Service: "w", OTLPEndpoint: endpoint, Sampling: 0, LogOutput: io.Discard, LogLevel: slog.LevelWarn})
		require.NoError(t, err, endpoint)
		_, span := tel.Tracer.Start(context.Background(), "x")
		assert.True(t, span.SpanContext().IsValid())
		assert.False(t, span.SpanContext().IsSampled())
		span.End()
		require.NoError(t, tel.Shutdown(context.Background()))
	}
}
