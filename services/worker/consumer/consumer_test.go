package consumer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/worker/consumer"
	"github.com/cloudscale/platform/services/worker/internal/brokertest"
)

// TestConsumer runs the worker's consumer against real PostgreSQL (through
// PgBouncer), Redis and RabbitMQ 3.10 with the platform's queues.
func TestConsumer(t *testing.T) {
	h := newHarness(t)
	t.Run("confirms an order, reserves its stock and publishes the change", func(t *testing.T) { testConfirm(t, h) })
	t.Run("rejects an order short of stock and reserves nothing", func(t *testing.T) { testReject(t, h) })
	t.Run("a message delivered twice is processed once", func(t *testing.T) { testDuplicate(t, h) })
	t.Run("poison messages are dead-lettered after the delivery limit", func(t *testing.T) { testPoison(t, h) })
	t.Run("shutdown finishes the message in flight and stops consuming", func(t *testing.T) { testShutdown(t, h) })
	t.Run("a database outage is retried in process, not dead-lettered", func(t *testing.T) { testDatabaseOutage(t, h) })
}

func testConfirm(t *testing.T, h *harness) {
	ctx := context.Background()
	h.product(t, "confirm-a", 10)
	h.product(t, "confirm-b", 5)
	w := h.start(t, nil)

	// The API's request span: its trace continues in the worker.
	ctx, span := h.tel.Tracer.Start(ctx, "POST /api/v1/orders")
	o, m := h.order(t, ctx, true, orders.Line{SKU: "confirm-b", Quantity: 1}, orders.Line{SKU: "confirm-a", Quantity: 2})
	span.End()
	changes := h.subscribe(t, o.ID)
	h.publish(t, m)

	c := receive(t, changes)
	assert.Equal(t, o.ID, c.OrderID)
	assert.Equal(t, orders.Confirmed, c.Status)
	assert.Empty(t, c.Reason)
	assert.WithinDuration(t, time.Now(), c.At, time.Minute)
	status, _ := h.status(t, o.ID)
	assert.Equal(t, orders.Confirmed, status)
	assert.Equal(t, 8, h.stock(t, "confirm-a"))
	assert.Equal(t, 4, h.stock(t, "confirm-b"))
	var processed int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM processed_events WHERE event_id = $1`, m.ID).Scan(&processed))
	assert.Equal(t, 1, processed)
	eventually(t, 10*time.Second, "counted", func() error {
		if n := value(w.metrics.Processed.WithLabelValues(orders.QueueExpress, "confirmed")); n != 1 {
			return fmt.Errorf("confirmed %v", n)
		}
		return nil
	})

	// The consumer span is the API span's child, and its logs carry the
	// trace id.
	traceID := span.SpanContext().TraceID()
	var found bool
	for _, s := range h.spans.GetSpans() {
		if s.Name == orders.QueueExpress+" process" && s.SpanKind == trace.SpanKindConsumer && s.SpanContext.TraceID() == traceID {
			found = true
			assert.Equal(t, span.SpanContext().SpanID(), s.Parent.SpanID())
		}
	}
	assert.True(t, found, "no consumer span in the API's trace %s", traceID)
	var logged bool
	for _, l := range h.logs.lines("order event processed") {
		if l["message_id"] == m.ID {
			logged = true
			assert.Equal(t, traceID.String(), l["trace_id"])
			assert.Equal(t, o.ID, l["order_id"])
		}
	}
	assert.True(t, logged, "no log line of the processed message %s", m.ID)
}

func testReject(t *testing.T, h *harness) {
	h.product(t, "short-a", 4)
	h.product(t, "short-b", 5)
	h.start(t, nil)

	// Two orders of 3 units each, created while 4 were in stock: one is
	// confirmed, the other rejected.
	o1, m1 := h.order(t, context.Background(), false, orders.Line{SKU: "short-a", Quantity: 3})
	o2, m2 := h.order(t, context.Background(), false, orders.Line{SKU: "short-a", Quantity: 3})
	h.publish(t, m1)
	h.publish(t, m2)
	got := []orders.Status{h.decided(t, o1.ID), h.decided(t, o2.ID)}
	assert.ElementsMatch(t, []orders.Status{orders.Confirmed, orders.Rejected}, got)
	assert.Equal(t, 1, h.stock(t, "short-a"))

	// An order with one line short reserves none of its lines.
	o3, m3 := h.order(t, context.Background(), false, orders.Line{SKU: "short-b", Quantity: 2})
	_, err := h.pool.Exec(context.Background(), `UPDATE products SET stock = 1 WHERE sku = 'short-b'`)
	require.NoError(t, err)
	o4, m4 := h.order(t, context.Background(), false, orders.Line{SKU: "short-a", Quantity: 1}, orders.Line{SKU: "short-b", Quantity: 1})
	_, err = h.pool.Exec(context.Background(), `UPDATE products SET stock = 0 WHERE sku = 'short-b'`)
	require.NoError(t, err)
	changes := h.subscribe(t, o4.ID)
	h.publish(t, m3)
	h.publish(t, m4)
	c := receive(t, changes)
	assert.Equal(t, orders.Rejected, c.Status)
	assert.Equal(t, "insufficient stock: short-b: 1 wanted, 0 in stock", c.Reason)
	status, reason := h.status(t, o4.ID)
	assert.Equal(t, orders.Rejected, status)
	assert.Equal(t, c.Reason, reason)
	assert.Equal(t, orders.Rejected, h.decided(t, o3.ID))
	assert.Equal(t, 1, h.stock(t, "short-a"), "the line in stock was not reserved")
	assert.Equal(t, 0, h.stock(t, "short-b"))
}

func testDuplicate(t *testing.T, h *harness) {
	h.product(t, "twice", 10)
	w := h.start(t, nil)
	o, m := h.order(t, context.Background(), false, orders.Line{SKU: "twice", Quantity: 3})
	// The relay publishes a row again when its confirm was lost: the same
	// message id twice.
	h.publish(t, m)
	h.publish(t, m)
	eventually(t, 30*time.Second, "both deliveries handled", func() error {
		c := value(w.metrics.Processed.WithLabelValues(orders.QueueCreated, "confirmed"))
		d := value(w.metrics.Processed.WithLabelValues(orders.QueueCreated, "duplicate"))
		if c+d < 2 {
			return fmt.Errorf("confirmed %v, duplicate %v", c, d)
		}
		return nil
	})
	assert.Equal(t, 1.0, value(w.metrics.Processed.WithLabelValues(orders.QueueCreated, "confirmed")))
	assert.Equal(t, 1.0, value(w.metrics.Processed.WithLabelValues(orders.QueueCreated, "duplicate")))
	assert.Equal(t, 7, h.stock(t, "twice"), "stock taken once")
	status, _ := h.status(t, o.ID)
	assert.Equal(t, orders.Confirmed, status)
	assert.Equal(t, 0, h.queueMessages(t, orders.QueueCreated), "both acknowledged")
}

func testPoison(t *testing.T, h *harness) {
	h.product(t, "around", 10)
	w := h.start(t, nil)
	var good []orders.Order
	publishGood := func() {
		o, m := h.order(t, context.Background(), false, orders.Line{SKU: "around", Quantity: 1})
		good = append(good, o)
		h.publish(t, m)
	}
	badJSON := uuid.NewString()
	unknown := orders.Event{ID: uuid.NewString(), Type: orders.RoutingCreated, OrderID: uuid.NewString(), Customer: "nobody"}
	body, err := jsonBody(unknown)
	require.NoError(t, err)

	publishGood()
	h.publish(t, raw(badJSON, orders.RoutingCreated, []byte(`{"id": "not json`)))
	publishGood()
	h.publish(t, raw(unknown.ID, orders.RoutingCreated, body))
	publishGood()

	dlq := brokertest.DLQ(orders.QueueCreated)
	eventually(t, 60*time.Second, "both poison messages in "+dlq, func() error {
		if n := h.queueMessages(t, dlq); n != 2 {
			return fmt.Errorf("%d messages", n)
		}
		return nil
	})
	for _, o := range good {
		assert.Equal(t, orders.Confirmed, h.decided(t, o.ID))
	}
	assert.Equal(t, 7, h.stock(t, "around"))

	dead := drain(t, h, dlq)
	require.Len(t, dead, 2)
	ids := []string{dead[0].MessageId, dead[1].MessageId}
	assert.ElementsMatch(t, []string{badJSON, unknown.ID}, ids)
	for _, d := range dead {
		assert.Equal(t, "delivery_limit", deathReason(d.Headers), "message %s", d.MessageId)
	}
	// Each was delivered once and redelivered until its count passed the
	// limit, and every attempt logged the count.
	poison := value(w.metrics.Processed.WithLabelValues(orders.QueueCreated, consumer.ResultPoison))
	t.Logf("poison deliveries: %v for 2 messages (delivery limit %d)", poison, brokertest.DeliveryLimit)
	assert.Equal(t, float64(2*(brokertest.DeliveryLimit+1)), poison)
	var counts []float64
	for _, l := range h.logs.lines("order event returned to the queue") {
		if l["message_id"] == badJSON {
			counts = append(counts, l["delivery_count"].(float64))
		}
	}
	assert.Equal(t, []float64{0, 1, 2, 3, 4, 5}, counts, "x-delivery-count of the bad message's deliveries")
	assert.Equal(t, 0, h.queueMessages(t, orders.QueueCreated))
}

func testShutdown(t *testing.T, h *harness) {
	ctx := context.Background()
	h.product(t, "inflight", 5)
	w := h.start(t, nil)
	o, m := h.order(t, ctx, false, orders.Line{SKU: "inflight", Quantity: 2})

	// Hold the product's row lock: the worker's transaction waits on it
	// (the API's inserts, which take KEY SHARE, do not).
	lock, err := h.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = lock.Rollback(ctx) }()
	_, err = lock.Exec(ctx, `SELECT 1 FROM products WHERE sku = 'inflight' FOR NO KEY UPDATE`)
	require.NoError(t, err)
	// Published, not marked published: the API's update of the order
	// would wait for the worker's lock on it, which waits for ours.
	require.NoError(t, h.pub.Publish(ctx, m))
	eventually(t, 30*time.Second, "message in flight", func() error {
		if n := value(w.metrics.InFlight.WithLabelValues(orders.QueueCreated)); n != 1 {
			return fmt.Errorf("in flight %v", n)
		}
		return nil
	})

	stopped := make(chan struct{})
	go func() { w.stop(t); close(stopped) }()
	eventually(t, 10*time.Second, "consumers cancelled", func() error {
		if len(h.logs.lines("consumers cancelled; finishing the messages in flight")) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	// Cancelled consumers receive nothing more: this order stays queued.
	later, lm := h.order(t, ctx, false, orders.Line{SKU: "inflight", Quantity: 1})
	h.publish(t, lm)
	select {
	case <-stopped:
		t.Fatal("Run returned while a message was in flight")
	case <-time.After(time.Second):
	}
	require.NoError(t, lock.Rollback(ctx))
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the in-flight message finished")
	}
	status, _ := h.status(t, o.ID)
	assert.Equal(t, orders.Confirmed, status, "the in-flight message was processed")
	assert.Equal(t, 3, h.stock(t, "inflight"))
	status, _ = h.status(t, later.ID)
	assert.Equal(t, orders.Accepted, status, "the order published after the cancel was not consumed")
	assert.Equal(t, 1, h.queueMessages(t, orders.QueueCreated), "the in-flight message was acknowledged; the later one waits")
	assert.Equal(t, 0.0, value(w.metrics.Processed.WithLabelValues(orders.QueueCreated, consumer.ResultError)))
}

func testDatabaseOutage(t *testing.T, h *harness) {
	ctx := context.Background()
	h.product(t, "outage", 5)
	// Straight to PostgreSQL: through PgBouncer an outage does not fail
	// statements, it queues them (query_wait_timeout), and the message
	// simply stays in flight until the database is back.
	w := h.start(t, func(o *consumer.Options) {
		o.DB = h.direct
		o.RetryWindow = 2 * time.Minute
		o.MaxBackoff = time.Second
	})
	// The previous test left one order queued; it is processed first.
	eventually(t, 30*time.Second, "queue empty", func() error {
		if n := h.queueMessages(t, orders.QueueCreated); n != 0 {
			return fmt.Errorf("%d messages", n)
		}
		return nil
	})
	o, m := h.order(t, ctx, false, orders.Line{SKU: "outage", Quantity: 2})
	h.pg.Stop(t)
	require.NoError(t, h.pub.Publish(ctx, m))
	eventually(t, 30*time.Second, "the worker retries", func() error {
		for _, l := range h.logs.lines("transient failure; retrying") {
			if l["event_id"] == m.ID && l["attempt"].(float64) >= 2 {
				return nil
			}
		}
		return fmt.Errorf("no retry logged")
	})
	h.pg.Start(t)
	assert.Equal(t, orders.Confirmed, h.decided(t, o.ID))
	assert.Equal(t, 3, h.stock(t, "outage"))
	assert.Equal(t, 0.0, value(w.metrics.Processed.WithLabelValues(orders.QueueCreated, consumer.ResultError)))
	assert.Equal(t, 0.0, value(w.metrics.Redeliveries.WithLabelValues(orders.QueueCreated)), "never returned to the queue")
	assert.Equal(t, 0, h.queueMessages(t, brokertest.DLQ(orders.QueueCreated)))
}
