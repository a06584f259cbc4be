package consumer_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the migrations
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/telemetry"
	"github.com/cloudscale/platform/services/testserver"
	"github.com/cloudscale/platform/services/worker/consumer"
	"github.com/cloudscale/platform/services/worker/internal/brokertest"
)

// harness holds the real servers the consumer tests share: PostgreSQL
// (reached through PgBouncer in transaction pooling, the schema migrated
// directly), Redis, RabbitMQ with the orders topology, and the API's
// store and publisher to create and publish orders.
type harness struct {
	pg     *testserver.PG
	pool   *pgxpool.Pool // through PgBouncer
	direct *pgxpool.Pool // to PostgreSQL itself
	rdb    *redis.Client
	rabbit *testserver.Rabbit
	store  *orders.Store
	pub    *orders.Publisher
	tel    *telemetry.Telemetry
	spans  *tracetest.InMemoryExporter
	logs   *syncBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{pg: testserver.Postgres(t), rabbit: testserver.RabbitMQ(t), logs: &syncBuffer{}, spans: tracetest.NewInMemoryExporter()}
	db, err := sql.Open("pgx", h.pg.URL())
	require.NoError(t, err)
	require.NoError(t, orders.Migrate(ctx, db))
	require.NoError(t, db.Close())

	h.pool = openPool(t, testserver.PgBouncer(t, h.pg).URL())
	h.direct = openPool(t, h.pg.URL())
	h.store = orders.NewStore(h.pool)

	h.rdb = testserver.Redis(t).Client()
	t.Cleanup(func() { _ = h.rdb.Close() })

	h.tel, err = telemetry.New(ctx, telemetry.Options{
		Service: "order-worker", Version: "test", Sampling: 1, LogLevel: slog.LevelDebug, LogOutput: h.logs,
		SpanProcessor: sdktrace.NewSimpleSpanProcessor(h.spans),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker logs:\n%s", h.logs.String())
		}
	})

	brokertest.Declare(t, h.rabbit.URL)
	h.pub, err = orders.NewPublisher(h.dial, h.tel.Logger, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, h.pub.Connect())
	t.Cleanup(h.pub.Close)
	return h
}

// openPool opens a pgx pool the way the worker does through PgBouncer
// 1.18's transaction pooling: no named prepared statements.
func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func (h *harness) dial() (*amqp.Connection, error) { return amqp.Dial(h.rabbit.URL) }

// worker is one running consumer.
type worker struct {
	c       *consumer.Consumer
	metrics *consumer.Metrics
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
}

// start runs a consumer of both order queues until the test ends (or
// stop), and waits until it is connected.
func (h *harness) start(t *testing.T, tune func(*consumer.Options)) *worker {
	t.Helper()
	m, err := consumer.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	opt := consumer.Options{
		Dial: h.dial, Queues: []string{orders.QueueCreated, orders.QueueExpress}, DB: h.pool, Status: h.rdb,
		Logger: h.tel.Logger, Tracer: h.tel.Tracer, Metrics: m, DepthInterval: 200 * time.Millisecond,
	}
	if tune != nil {
		tune(&opt)
	}
	c, err := consumer.New(opt)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{c: c, metrics: m, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- c.Run(ctx) }()
	t.Cleanup(func() { w.stop(t) })
	eventually(t, 60*time.Second, "consumer connected", func() error { return c.Ready(ctx) })
	return w
}

// stop cancels the consumer and waits (bounded) for Run to return.
func (w *worker) stop(t *testing.T) {
	w.once.Do(func() {
		w.cancel()
		select {
		case err := <-w.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("Run did not return within 60s of the cancel")
		}
	})
}

// product inserts a product with stock units.
func (h *harness) product(t *testing.T, sku string, stock int) {
	t.Helper()
	_, err := h.pool.Exec(context.Background(),
		`INSERT INTO products (sku, name, price_cents, stock) VALUES ($1, $1, 100, $2)`, sku, stock)
	require.NoError(t, err)
}

// order creates an order through the API's store (order, items and
// outbox row in one transaction) and returns it and its message.
func (h *harness) order(t *testing.T, ctx context.Context, express bool, lines ...orders.Line) (orders.Order, orders.Message) {
	t.Helper()
	o, m, err := h.store.CreateOrder(ctx, orders.NewOrder{
		Customer: "customer-1", Express: express, Lines: lines, Headers: telemetry.AMQPHeaders(ctx),
	})
	require.NoError(t, err)
	return o, m
}

// publish publishes m with confirms (the API's publisher) and marks it
// published.
func (h *harness) publish(t *testing.T, m orders.Message) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, h.pub.Publish(ctx, m))
	if m.OrderID != "" {
		require.NoError(t, h.store.MarkPublished(ctx, m.ID))
	}
}

// raw is a message with an arbitrary body on queue's routing key.
func raw(id, routingKey string, body []byte) orders.Message {
	return orders.Message{ID: id, RoutingKey: routingKey, Payload: body, Headers: amqp.Table{}}
}

// status reads an order's status and reason.
func (h *harness) status(t *testing.T, id string) (orders.Status, string) {
	t.Helper()
	var (
		s      orders.Status
		reason *string
	)
	require.NoError(t, h.pool.QueryRow(context.Background(), `SELECT status, reason FROM orders WHERE id = $1`, id).Scan(&s, &reason))
	if reason == nil {
		return s, ""
	}
	return s, *reason
}

// stock reads a product's stock.
func (h *harness) stock(t *testing.T, sku string) int {
	t.Helper()
	var n int
	require.NoError(t, h.pool.QueryRow(context.Background(), `SELECT stock FROM products WHERE sku = $1`, sku).Scan(&n))
	return n
}

// decided waits until the order is confirmed or rejected.
func (h *harness) decided(t *testing.T, id string) orders.Status {
	t.Helper()
	var s orders.Status
	eventually(t, 30*time.Second, "order "+id+" decided", func() error {
		s, _ = h.status(t, id)
		if s == orders.Confirmed || s == orders.Rejected {
			return nil
		}
		return fmt.Errorf("status %s", s)
	})
	return s
}

// queueMessages is the number of messages in queue (ready, or
// unacknowledged once their consumer is gone).
func (h *harness) queueMessages(t *testing.T, queue string) int {
	t.Helper()
	conn, err := h.dial()
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	return q.Messages
}

// subscribe subscribes to an order's status channel and returns the
// changes received.
func (h *harness) subscribe(t *testing.T, orderID string) <-chan orders.StatusChange {
	t.Helper()
	ctx := context.Background()
	sub := h.rdb.Subscribe(ctx, orders.StatusChannel(orderID))
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx) // the subscription's confirmation
	require.NoError(t, err)
	out := make(chan orders.StatusChange, 8)
	go func() {
		for msg := range sub.Channel() {
			var c orders.StatusChange
			if json.Unmarshal([]byte(msg.Payload), &c) == nil {
				out <- c
			}
		}
	}()
	return out
}

func receive(t *testing.T, changes <-chan orders.StatusChange) orders.StatusChange {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no status change on Redis within 30s")
		return orders.StatusChange{}
	}
}

// eventually polls f every 50ms until it returns nil, failing t after
// timeout with f's last error.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines are the JSON log lines whose msg is msg.
func (b *syncBuffer) lines(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range bytes.Split([]byte(b.String()), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(l, &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// drain takes every message of queue (auto-ack).
func drain(t *testing.T, h *harness, queue string) []amqp.Delivery {
	t.Helper()
	conn, err := h.dial()
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, true)
		require.NoError(t, err)
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// deathReason is the reason of a dead-lettered message's latest x-death
// entry ("delivery_limit", "rejected", ...).
func deathReason(h amqp.Table) string {
	deaths, _ := h["x-death"].([]any)
	if len(deaths) == 0 {
		return ""
	}
	d, _ := deaths[0].(amqp.Table)
	r, _ := d["reason"].(string)
	return r
}

func jsonBody(v any) ([]byte, error) { return json.Marshal(v) }

// value is a counter's or gauge's current value (prometheus/testutil
// would pull a module the repository does not require).
func value(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		return -1
	}
	switch {
	case out.Counter != nil:
		return out.Counter.GetValue()
	case out.Gauge != nil:
		return out.Gauge.GetValue()
	}
	return -1
}
