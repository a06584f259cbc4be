package orders_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// newPool migrates a fresh PostgreSQL (through PgBouncer in transaction
// pooling, as the API runs) and returns a pool in QueryExecModeExec.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pg := testserver.Postgres(t)
	bouncer := testserver.PgBouncer(t, pg)
	cfg, err := pgxpool.ParseConfig(bouncer.URL())
	require.NoError(t, err)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	ctx := context.Background()
	db := stdlib.OpenDB(*cfg.ConnConfig)
	require.NoError(t, orders.MigratePooled(ctx, db))
	require.NoError(t, orders.MigratePooled(ctx, db), "migrating twice changes nothing")
	require.NoError(t, db.Close())
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `INSERT INTO products (sku, name, price_cents, stock) VALUES ('a', 'A', 100, 5), ('b', 'B', 250, 1)`)
	require.NoError(t, err)
	return pool
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	s := orders.NewStore(pool)

	o, msg, err := s.CreateOrder(ctx, orders.NewOrder{Customer: "alice", Express: true,
		Lines: []orders.Line{{SKU: "a", Quantity: 2}, {SKU: "b", Quantity: 1}}, Headers: amqp.Table{"traceparent": "00-x"}})
	require.NoError(t, err)
	assert.Equal(t, orders.Pending, o.Status)
	assert.Equal(t, int64(450), o.TotalCents)
	assert.Equal(t, orders.RoutingExpress, msg.RoutingKey)
	assert.Equal(t, uint8(orders.ExpressPriority), msg.Priority)
	var ev orders.Event
	require.NoError(t, json.Unmarshal(msg.Payload, &ev))
	assert.Equal(t, msg.ID, ev.ID)
	assert.Equal(t, o.ID, ev.OrderID)
	assert.Len(t, ev.Items, 2)

	var headers string
	require.NoError(t, pool.QueryRow(ctx, `SELECT headers::text FROM outbox WHERE id = $1`, msg.ID).Scan(&headers))
	assert.JSONEq(t, `{"traceparent":"00-x"}`, headers)

	for _, c := range []struct {
		lines     []orders.Line
		sku       string
		available int
	}{
		{[]orders.Line{{SKU: "a", Quantity: 1}, {SKU: "zz", Quantity: 1}}, "zz", -1},
		{[]orders.Line{{SKU: "b", Quantity: 2}}, "b", 1},
	} {
		_, _, err := s.CreateOrder(ctx, orders.NewOrder{Customer: "alice", Lines: c.lines})
		pe, ok := orders.IsProductError(err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, c.sku, pe.SKU)
		assert.Equal(t, c.available, pe.Available)
	}
	backlog, err := s.Backlog(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), backlog, "refused orders store nothing")

	got, err := s.Order(ctx, "alice", o.ID)
	require.NoError(t, err)
	assert.Equal(t, []orders.Item{{SKU: "a", Quantity: 2, PriceCents: 100}, {SKU: "b", Quantity: 1, PriceCents: 250}}, got.Items)
	_, err = s.Order(ctx, "bob", o.ID)
	assert.ErrorIs(t, err, orders.ErrNotFound)

	require.NoError(t, s.MarkPublished(ctx, msg.ID))
	require.NoError(t, s.MarkPublished(ctx, msg.ID), "marking twice is harmless")
	got, err = s.Order(ctx, "alice", o.ID)
	require.NoError(t, err)
	assert.Equal(t, orders.Accepted, got.Status)

	// A late confirm does not undo the worker's decision.
	o2, msg2, err := s.CreateOrder(ctx, orders.NewOrder{Customer: "alice", Lines: []orders.Line{{SKU: "a", Quantity: 1}}})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE orders SET status = 'confirmed' WHERE id = $1`, o2.ID)
	require.NoError(t, err)
	require.NoError(t, s.MarkPublished(ctx, msg2.ID))
	list, err := s.Orders(ctx, "alice", 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, o2.ID, list[0].ID, "newest first")
	assert.Equal(t, orders.Confirmed, list[0].Status)
}

// TestRelayReconnects publishes a pending outbox row through the relay,
// restarts the broker, and checks that the publisher reconnects and the
// relay publishes the next row.
func TestRelayReconnects(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	rabbit := testserver.RabbitMQ(t)
	declare(t, rabbit.URL)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub, err := orders.NewPublisher(func() (*amqp.Connection, error) { return amqp.Dial(rabbit.URL) }, log, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, pub.Connect())
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pub.Run(runCtx) }()
	defer func() { stop(); require.NoError(t, <-done) }()
	relay, err := orders.NewRelay(pool, pub, log, prometheus.NewRegistry(),
		orders.RelayOptions{Grace: time.Millisecond, ConfirmTimeout: 5 * time.Second})
	require.NoError(t, err)
	s := orders.NewStore(pool)

	publishPending := func() string {
		o, _, err := s.CreateOrder(ctx, orders.NewOrder{Customer: "c", Lines: []orders.Line{{SKU: "a", Quantity: 1}}})
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond) // older than the grace
		n, err := relay.RelayOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		got, err := s.Order(ctx, "c", o.ID)
		require.NoError(t, err)
		assert.Equal(t, orders.Accepted, got.Status)
		return o.ID
	}
	first := publishPending()

	rabbit.Restart(t)
	t0 := time.Now()
	for pub.Check(ctx) != nil {
		require.Less(t, time.Since(t0), 30*time.Second, "the publisher did not reconnect within 30s")
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("publisher reconnected %.1fs after the broker was back", time.Since(t0).Seconds())
	second := publishPending()

	conn, err := amqp.Dial(rabbit.URL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	var seen []string
	for {
		d, ok, err := ch.Get(orders.QueueCreated, true)
		require.NoError(t, err)
		if !ok {
			break
		}
		var ev orders.Event
		require.NoError(t, json.Unmarshal(d.Body, &ev))
		seen = append(seen, ev.OrderID)
	}
	assert.Equal(t, []string{first, second}, seen, "both events survived the restart (quorum queue, persistent)")
}

func declare(t *testing.T, url string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDeclare(orders.Exchange, "topic", true, false, false, false, nil))
	_, err = ch.QueueDeclare(orders.QueueCreated, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(orders.QueueCreated, orders.RoutingCreated, orders.Exchange, false, nil))
}
