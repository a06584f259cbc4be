package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the migrations
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/telemetry"
	"github.com/cloudscale/platform/services/testserver"
	"github.com/cloudscale/platform/services/worker/internal/brokertest"
)

// TestRabbitMQRestartLosesNothing restarts the broker twice while orders
// flow through the real path: the API's store commits each order with its
// outbox row, the API's publisher publishes it with confirms and marks it
// published, the outbox relay republishes what was not confirmed, and the
// worker (this command's run, configured from the environment, through
// PgBouncer) consumes both queues. At the end every order the broker
// confirmed is settled, and no order took its stock twice.
func TestRabbitMQRestartLosesNothing(t *testing.T) {
	s := startStack(t)
	w := s.startWorker(t)
	// The API migrates the schema; until then the worker is not ready.
	code, body := w.get(t, "/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "does not exist yet")
	s.migrate(t)
	require.Eventually(t, func() bool { code, _ := w.get(t, "/readyz"); return code == http.StatusOK }, 60*time.Second,
		100*time.Millisecond, "the worker never became ready")
	p := s.startProducer(t)

	const restarts = 2
	var recoveries []time.Duration
	for i := range restarts {
		time.Sleep(3 * time.Second) // orders flow
		t0 := time.Now()
		s.rabbit.Restart(t)
		up := time.Now()
		// Recovered: an order created after the broker is back is settled
		// end to end (API publish or relay, worker, commit).
		marker := p.created.Load()
		require.Eventually(t, func() bool { return s.settledAfter(t, marker) }, 120*time.Second, 100*time.Millisecond,
			"restart %d: no order created after the broker came back was settled", i+1)
		recoveries = append(recoveries, time.Since(up))
		t.Logf("restart %d: broker down and up again in %.1fs; orders settled again %.1fs after it was up",
			i+1, up.Sub(t0).Seconds(), time.Since(up).Seconds())
	}
	time.Sleep(3 * time.Second)
	p.stop()

	// Bounded wait: the relay drains the outbox and the worker catches up.
	require.Eventually(t, func() bool {
		var unpublished, unsettled int
		s.scalar(t, `SELECT count(*) FROM outbox WHERE published_at IS NULL`, &unpublished)
		s.scalar(t, `SELECT count(*) FROM orders WHERE status NOT IN ('confirmed', 'rejected')`, &unsettled)
		return unpublished == 0 && unsettled == 0
	}, 180*time.Second, 250*time.Millisecond, "the outbox did not drain or the worker did not catch up")

	var created, brokerConfirmed, processed, settled, rejected, lost, deadLettered int
	s.scalar(t, `SELECT count(*) FROM orders`, &created)
	s.scalar(t, `SELECT count(*) FROM outbox WHERE published_at IS NOT NULL`, &brokerConfirmed)
	s.scalar(t, `SELECT count(*) FROM processed_events`, &processed)
	s.scalar(t, `SELECT count(*) FROM orders WHERE status IN ('confirmed', 'rejected')`, &settled)
	s.scalar(t, `SELECT count(*) FROM orders WHERE status = 'rejected'`, &rejected)
	s.scalar(t, `SELECT count(*) FROM outbox b JOIN orders o ON o.id = b.order_id
		WHERE b.published_at IS NOT NULL AND o.status NOT IN ('confirmed', 'rejected')`, &lost)
	for q := range brokertest.Queues {
		deadLettered += s.queueMessages(t, brokertest.DLQ(q))
	}
	taken, ordered, twice := s.stockArithmetic(t)
	duplicates := w.metric(t, `worker_messages_processed_total\{queue="[^"]+",result="duplicate"\}`)
	redelivered := w.metric(t, `worker_message_redeliveries_total\{queue="[^"]+"\}`)
	reconnects := w.metric(t, `worker_broker_reconnects_total`)

	t.Logf("created %d orders; confirmed by the broker %d (%d at once by the API, the rest by the relay)",
		created, brokerConfirmed, p.confirmedAtOnce.Load())
	t.Logf("processed %d events (%d orders settled, %d rejected); redelivered %.0f, of which deduplicated %.0f; worker reconnects %.0f",
		processed, settled, rejected, redelivered, duplicates, reconnects)
	t.Logf("lost %d; processed twice %d (products whose stock moved more than their confirmed orders: %d; stock taken %d units = confirmed orders' items %d units); dead-lettered %d",
		lost, twice, twice, taken, ordered, deadLettered)
	for i, r := range recoveries {
		t.Logf("restart %d: recovery %.1fs", i+1, r.Seconds())
	}
	assert.Equal(t, 0, lost, "orders the broker confirmed but the worker never settled")
	assert.Equal(t, 0, twice, "orders whose stock was taken twice")
	assert.Equal(t, ordered, taken, "stock arithmetic")
	assert.Equal(t, created, brokerConfirmed, "the outbox published every order")
	assert.Equal(t, settled, processed, "one processed event per settled order")
	assert.Equal(t, 0, deadLettered)
	assert.Positive(t, created)
}

// stack is the servers of the test, the API's side (pool through
// PgBouncer, store, publisher, relay) and the worker's environment.
type stack struct {
	pg     *testserver.PG
	rabbit *testserver.Rabbit
	pool   *pgxpool.Pool
	store  *orders.Store
	skus   []string
	stock  int
}

func startStack(t *testing.T) *stack {
	ctx := context.Background()
	s := &stack{pg: testserver.Postgres(t), rabbit: testserver.RabbitMQ(t), stock: 1_000_000}
	redis := testserver.Redis(t)
	bouncer := testserver.PgBouncer(t, s.pg)
	cfg, err := pgxpool.ParseConfig(bouncer.URL())
	require.NoError(t, err)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(s.pool.Close)
	s.store = orders.NewStore(s.pool)
	brokertest.Declare(t, s.rabbit.URL)

	// The worker's environment, secrets in files as Kubernetes mounts them.
	dir := t.TempDir()
	secret := func(name, value string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(value+"\n"), 0o600))
		return path
	}
	pgURL, err := url.Parse(bouncer.URL())
	require.NoError(t, err)
	pgPassword, _ := pgURL.User.Password()
	pgURL.User = url.User(pgURL.User.Username())
	for k, v := range map[string]string{
		"LOG_LEVEL": "WARN", "DRAIN_DELAY": "0s", "SHUTDOWN_TIMEOUT": "30s",
		"POSTGRES_URL": pgURL.String(), "POSTGRES_PASSWORD_FILE": secret("pg-password", pgPassword),
		"RABBITMQ_HOST": s.rabbit.Host, "RABBITMQ_PORT": strconv.Itoa(s.rabbit.Port),
		"RABBITMQ_USERNAME_FILE": secret("rmq-user", s.rabbit.User), "RABBITMQ_PASSWORD_FILE": secret("rmq-password", s.rabbit.Password),
		"REDIS_STATE_ADDR": redis.Addr, "REDIS_STATE_PASSWORD_FILE": secret("redis-password", redis.Password),
		"PREFETCH": "16", "START_TIMEOUT": "30s",
	} {
		t.Setenv(k, v)
	}
	return s
}

// migrate creates the schema (the API's job at its start) and the
// products.
func (s *stack) migrate(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", s.pg.URL())
	require.NoError(t, err)
	require.NoError(t, orders.Migrate(ctx, db))
	require.NoError(t, db.Close())
	for i := range 8 {
		sku := fmt.Sprintf("sku-%d", i)
		s.skus = append(s.skus, sku)
		_, err := s.pool.Exec(ctx, `INSERT INTO products (sku, name, price_cents, stock) VALUES ($1, $1, 250, $2)`, sku, s.stock)
		require.NoError(t, err)
	}
}

// runningWorker is the command's run, serving on a test listener.
type runningWorker struct{ addr string }

func (s *stack) startWorker(t *testing.T) *runningWorker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "run")
		case <-time.After(60 * time.Second):
			t.Error("run did not return within 60s of the cancel")
		}
	})
	w := &runningWorker{addr: ln.Addr().String()}
	require.Eventually(t, func() bool { code, _ := w.get(t, "/healthz"); return code == http.StatusOK }, 60*time.Second,
		100*time.Millisecond, "the worker never served /healthz")
	return w
}

// get returns the status code and body of GET path (0 if unreachable).
func (w *runningWorker) get(t *testing.T, path string) (int, string) {
	resp, err := http.Get("http://" + w.addr + path)
	if err != nil {
		t.Logf("GET %s: %v", path, err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// metric sums the /metrics samples whose name and labels match series.
func (w *runningWorker) metric(t *testing.T, series string) float64 {
	resp, err := http.Get("http://" + w.addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var sum float64
	for _, m := range regexp.MustCompile(`(?m)^`+series+` (\S+)$`).FindAllSubmatch(body, -1) {
		v, err := strconv.ParseFloat(string(m[1]), 64)
		require.NoError(t, err)
		sum += v
	}
	return sum
}

// producer creates orders continuously the way the API does: commit the
// order and its outbox row, publish with confirms, mark it published when
// confirmed (else the relay retries it).
type producer struct {
	created, confirmedAtOnce atomic.Int64
	stop                     func()
}

func (s *stack) startProducer(t *testing.T) *producer {
	ctx, cancel := context.WithCancel(context.Background())
	tel, err := telemetry.New(ctx, telemetry.Options{Service: "api-service", Version: "test", Sampling: 1, LogOutput: io.Discard})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	pub, err := orders.NewPublisher(func() (*amqp.Connection, error) { return amqp.Dial(s.rabbit.URL) }, tel.Logger, reg)
	require.NoError(t, err)
	require.NoError(t, pub.Connect())
	relay, err := orders.NewRelay(s.pool, pub, tel.Logger, reg, orders.RelayOptions{
		Interval: 250 * time.Millisecond, Grace: time.Second, ConfirmTimeout: 5 * time.Second, MaxBackoff: 2 * time.Second,
	})
	require.NoError(t, err)
	p := &producer{}
	var wg sync.WaitGroup
	wg.Go(func() { _ = pub.Run(ctx) })
	wg.Go(func() { _ = relay.Run(ctx) })
	produce, stopProducing := context.WithCancel(ctx)
	wg.Go(func() { s.produce(t, produce, pub, p) })
	var once sync.Once
	p.stop = func() { once.Do(func() { stopProducing() }) }
	t.Cleanup(func() { p.stop(); cancel(); wg.Wait() })
	return p
}

func (s *stack) produce(t *testing.T, ctx context.Context, pub *orders.Publisher, p *producer) {
	rng := rand.New(rand.NewPCG(17, 7))
	for ctx.Err() == nil {
		lines := []orders.Line{{SKU: s.skus[rng.IntN(4)], Quantity: 1 + rng.IntN(3)}}
		if rng.IntN(2) == 0 {
			lines = append(lines, orders.Line{SKU: s.skus[4+rng.IntN(4)], Quantity: 1 + rng.IntN(3)})
		}
		_, m, err := s.store.CreateOrder(ctx, orders.NewOrder{Customer: "load", Express: rng.IntN(4) == 0, Lines: lines, Headers: amqp.Table{}})
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("create order: %v", err)
			}
			return
		}
		p.created.Add(1)
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if pub.Publish(pctx, m) == nil && s.store.MarkPublished(pctx, m.ID) == nil {
			p.confirmedAtOnce.Add(1)
		}
		cancel()
		time.Sleep(20 * time.Millisecond)
	}
}

// settledAfter reports whether an order created after the first n orders
// is confirmed or rejected.
func (s *stack) settledAfter(t *testing.T, n int64) bool {
	var settled bool
	s.scalar(t, `SELECT EXISTS (SELECT 1 FROM (SELECT status FROM orders ORDER BY created_at, id OFFSET $1) o
		WHERE o.status IN ('confirmed', 'rejected'))`, &settled, n)
	return settled
}

// stockArithmetic returns the units taken from stock, the units of the
// confirmed orders' items, and how many products lost more than their
// confirmed orders account for.
func (s *stack) stockArithmetic(t *testing.T) (taken, ordered, twice int) {
	rows, err := s.pool.Query(context.Background(), `
		SELECT p.sku, $1 - p.stock,
			coalesce((SELECT sum(i.quantity) FROM order_items i JOIN orders o ON o.id = i.order_id
				WHERE i.sku = p.sku AND o.status = 'confirmed'), 0)
		FROM products p ORDER BY p.sku`, s.stock)
	require.NoError(t, err)
	var (
		sku        string
		took, want int
	)
	_, err = pgx.ForEachRow(rows, []any{&sku, &took, &want}, func() error {
		taken, ordered = taken+took, ordered+want
		if took != want {
			twice++
			t.Logf("%s: %d units taken, confirmed orders hold %d", sku, took, want)
		}
		return nil
	})
	require.NoError(t, err)
	return taken, ordered, twice
}

func (s *stack) scalar(t *testing.T, query string, dest any, args ...any) {
	require.NoError(t, s.pool.QueryRow(context.Background(), query, args...).Scan(dest))
}

func (s *stack) queueMessages(t *testing.T, queue string) int {
	conn, err := amqp.Dial(s.rabbit.URL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	return q.Messages
}
