package telemetry

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// AMQPCarrier is a propagation.TextMapCarrier over a message's headers.
// Values are written as strings and read as string or []byte (how other
// clients may send them).
type AMQPCarrier amqp.Table

var _ propagation.TextMapCarrier = AMQPCarrier{}

// Get is the header key as a string ("" when absent or of another type).
func (c AMQPCarrier) Get(key string) string {
	switch v := c[key].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// Set sets the header key.
func (c AMQPCarrier) Set(key, value string) { c[key] = value }

// Keys lists the header keys.
func (c AMQPCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// InjectAMQP writes ctx's trace context (traceparent, tracestate, baggage)
// into headers with otel's global propagator (set by New). headers must
// not be nil (a nil table cannot be written; see AMQPHeaders).
func InjectAMQP(ctx context.Context, headers amqp.Table) {
	if headers == nil {
		return
	}
	otel.GetTextMapPropagator().Inject(ctx, AMQPCarrier(headers))
}

// AMQPHeaders is a new header table holding ctx's trace context, for a
// Publishing with no other headers.
func AMQPHeaders(ctx context.Context) amqp.Table {
	h := amqp.Table{}
	InjectAMQP(ctx, h)
	return h
}

// ExtractAMQP is ctx with the remote trace context found in a delivery's
// headers (nil headers: ctx unchanged); a consumer starts its span from it.
func ExtractAMQP(ctx context.Context, headers amqp.Table) context.Context {
	if headers == nil {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, AMQPCarrier(headers))
}
