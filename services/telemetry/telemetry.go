// Package telemetry gives a service its logs, metrics and traces, the same
// way in every Go service of the platform:
//
//   - logs: JSON lines (log/slog) on stderr with service and version, and
//     trace_id/span_id when the context logged with holds a span;
//   - metrics: a Prometheus registry with the Go and process collectors,
//     RED metrics per route (Route) and gauges over pools and queues (Gauge);
//   - traces: the OpenTelemetry SDK, exported over OTLP/gRPC to the
//     collector, with W3C trace context carried through HTTP (Route,
//     HTTPClient) and RabbitMQ message headers (InjectAMQP, ExtractAMQP).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Options are what New needs; config.Service holds them all.
type Options struct {
	// Service and Version name the service in logs (service, version) and
	// traces (service.name, service.version).
	Service, Version string
	// OTLPEndpoint is the OTLP/gRPC collector, "host:port" or
	// "http://host:port" (plaintext: the mesh's sidecar does mTLS), or
	// "https://host:port" (TLS). Empty: spans are not exported, but still
	// get ids so logs correlate.
	OTLPEndpoint string
	// Sampling is the ratio of new traces sampled, 0..1; a caller's
	// sampling decision is always followed (parent-based).
	Sampling float64
	// LogLevel is the lowest level logged.
	LogLevel slog.Level
	// LogOutput receives the JSON log lines (default os.Stderr).
	LogOutput io.Writer
	// SpanProcessor, when set, also receives every span; tests pass
	// sdktrace.NewSimpleSpanProcessor(tracetest.NewInMemoryExporter()).
	SpanProcessor sdktrace.SpanProcessor
}

// Telemetry is a service's logger, metrics registry and tracer.
type Telemetry struct {
	// Logger writes JSON lines; it is not made slog's default (callers
	// may slog.SetDefault(t.Logger)).
	Logger *slog.Logger
	// Registry holds the service's metrics, served at /metrics.
	Registry *prometheus.Registry
	// TracerProvider is the SDK's provider (also set as otel's global).
	TracerProvider trace.TracerProvider
	// Tracer is the service's tracer, named after it.
	Tracer trace.Tracer
	// Propagator is W3C TraceContext + Baggage (also otel's global).
	Propagator propagation.TextMapPropagator

	sdk      *sdktrace.TracerProvider
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// DurationBuckets are the request duration histogram's upper bounds in
// seconds; they hold the SLO latency bounds 0.1, 0.25, 0.5 and 1 s.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New builds the service's telemetry and sets otel's global tracer
// provider and propagator (W3C TraceContext + Baggage). It does not call
// slog.SetDefault. The OTLP exporter connects lazily: an unreachable
// collector is no error here (spans are dropped and retried in the
// background). Shutdown flushes the spans.
func New(ctx context.Context, o Options) (*Telemetry, error) {
	out := o.LogOutput
	if out == nil {
		out = os.Stderr
	}
	json := slog.NewJSONHandler(out, &slog.HandlerOptions{Level: o.LogLevel})
	logger := slog.New(traceHandler{json}).With("service", o.Service, "version", o.Version)

	reg := prometheus.NewRegistry()
	t := &Telemetry{
		Logger:   logger,
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_server_requests_total", Help: "HTTP requests served, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_server_request_duration_seconds", Help: "Time to serve an HTTP request (until the handler returned), by route, method and status code.",
			Buckets: DurationBuckets,
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_server_requests_in_flight", Help: "HTTP requests being served now.",
		}),
	}
	if err := registerAll(reg, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		t.requests, t.duration, t.inFlight); err != nil {
		return nil, err
	}

	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(o.Service), semconv.ServiceVersion(o.Version)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.Sampling))),
	}
	if o.OTLPEndpoint != "" {
		exp, err := otlptracegrpc.New(ctx, endpointOptions(o.OTLPEndpoint)...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter to %q: %w", o.OTLPEndpoint, err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	if o.SpanProcessor != nil {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(o.SpanProcessor))
	}
	t.sdk = sdktrace.NewTracerProvider(tpOpts...)
	t.TracerProvider = t.sdk
	t.Tracer = t.sdk.Tracer(o.Service)
	t.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	otel.SetTracerProvider(t.sdk)
	otel.SetTextMapPropagator(t.Propagator)
	return t, nil
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("telemetry: registering a collector: %w", err)
		}
	}
	return nil
}

// endpointOptions reads "host:port" (plaintext) or a URL, whose scheme
// decides: http is plaintext, https is TLS.
func endpointOptions(endpoint string) []otlptracegrpc.Option {
	if strings.Contains(endpoint, "://") {
		return []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
	}
	return []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure()}
}

// Shutdown flushes the spans not yet exported and stops the exporter;
// ctx bounds it.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("telemetry: flushing spans: %w", err)
	}
	return nil
}

// HTTPClient is an http.Client whose requests carry the caller's trace
// context (traceparent) out and get a client span each. It sets no
// timeout: bound calls with the request's context.
func (t *Telemetry) HTTPClient() *http.Client {
	return &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport,
		otelhttp.WithTracerProvider(t.TracerProvider), otelhttp.WithPropagators(t.Propagator))}
}

// Gauge registers in reg a gauge named name whose value is f() at each
// scrape (a pool's connections, a queue's depth). f must be safe to call
// concurrently and quick.
func Gauge(reg prometheus.Registerer, name, help string, f func() float64) error {
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)); err != nil {
		return fmt.Errorf("telemetry: gauge %s: %w", name, err)
	}
	return nil
}

// traceHandler adds the trace_id and span_id of the span in the logging
// context to each record. (Under a WithGroup, they land in the group.)
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
