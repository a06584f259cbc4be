package telemetry

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
)

// Route wraps h, served at the mux pattern route (such as
// "GET /api/v1/orders/{id}"), with
//   - a server span named route, child of the caller's traceparent, whose
//     context reaches h (so h's logs carry its trace_id);
//   - the RED metrics, labelled route, method and code:
//     http_server_requests_total, http_server_request_duration_seconds
//     (DurationBuckets; exemplars hold the trace_id of sampled requests)
//     and http_server_requests_in_flight.
//
// The ResponseWriter h gets keeps http.Flusher and Unwrap
// (http.ResponseController), so server-sent events stream through it; a
// stream's duration is observed when it ends.
func (t *Telemetry) Route(route string, h http.Handler) http.Handler {
	labels := prometheus.Labels{"route": route}
	red := promhttp.InstrumentHandlerInFlight(t.inFlight,
		promhttp.InstrumentHandlerDuration(t.duration.MustCurryWith(labels),
			promhttp.InstrumentHandlerCounter(t.requests.MustCurryWith(labels), h),
			promhttp.WithExemplarFromContext(traceExemplar)))
	return otelhttp.NewHandler(red, route,
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(operation string, _ *http.Request) string { return operation }))
}

// traceExemplar links a duration sample to its trace, when sampled.
func traceExemplar(ctx context.Context) prometheus.Labels {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		return prometheus.Labels{"trace_id": sc.TraceID().String()}
	}
	return nil
}
