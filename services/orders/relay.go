package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// RelayOptions tune the outbox relay.
type RelayOptions struct {
	// Interval between polls when the outbox is drained (default 1s).
	Interval time.Duration
	// Batch is the most rows published per transaction (default 100).
	Batch int
	// Grace leaves rows younger than this to the request that created them
	// (it publishes right after its commit), so that the relay rarely
	// publishes a message twice (default 5s).
	Grace time.Duration
	// ConfirmTimeout bounds the wait for a batch's confirms (default 5s).
	ConfirmTimeout time.Duration
	// MaxBackoff is the longest wait after failed batches (default 10s).
	MaxBackoff time.Duration
}

func (o *RelayOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.ConfirmTimeout <= 0 {
		o.ConfirmTimeout = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
}

// Relay publishes the outbox rows left unpublished (the broker was down or
// did not confirm in time when the order was created) and marks them
// published once confirmed. Several replicas may run it: rows are claimed
// with FOR UPDATE SKIP LOCKED.
type Relay struct {
	pool    *pgxpool.Pool
	pub     *Publisher
	log     *slog.Logger
	opts    RelayOptions
	backlog prometheus.Gauge
}

// NewRelay returns a relay over pool and pub, and registers the
// orders_outbox_backlog gauge (unpublished rows, as of the last poll) with
// reg.
func NewRelay(pool *pgxpool.Pool, pub *Publisher, log *slog.Logger, reg prometheus.Registerer, opts RelayOptions) (*Relay, error) {
	opts.defaults()
	r := &Relay{pool: pool, pub: pub, log: log, opts: opts, backlog: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "orders_outbox_backlog", Help: "Outbox rows not yet confirmed by RabbitMQ, as of the relay's last poll.",
	})}
	if err := reg.Register(r.backlog); err != nil {
		return nil, fmt.Errorf("register relay metrics: %w", err)
	}
	return r, nil
}

// Run polls the outbox until ctx is done. A batch in progress when ctx is
// done is finished (its own deadline is the confirm timeout plus the
// database's), then Run returns nil. Failed batches back off
// exponentially up to MaxBackoff.
func (r *Relay) Run(ctx context.Context) error {
	failures := newBackoff(r.opts.Interval, r.opts.MaxBackoff)
	wait := r.opts.Interval
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.ConfirmTimeout+10*time.Second)
		n, err := r.RelayOnce(bctx)
		if backlog, berr := NewStore(r.pool).Backlog(bctx); berr == nil {
			r.backlog.Set(float64(backlog))
		}
		cancel()
		switch {
		case errors.Is(err, ErrNotConnected):
			// The publisher is reconnecting: poll at the usual pace so
			// that the backlog goes out as soon as it is back.
			wait = r.opts.Interval
		case err != nil:
			wait = failures.next()
			r.log.Warn("outbox relay failed", "error", err, "retry_in", wait.String())
		case n == r.opts.Batch:
			failures.reset()
			wait = 0 // more rows are waiting
		default:
			failures.reset()
			wait = r.opts.Interval
		}
	}
}

// RelayOnce publishes one batch of unpublished outbox rows older than the
// grace period, in one transaction that holds their row locks, and marks
// the confirmed ones published (their orders accepted). It returns how
// many rows it published, and an error if any was not confirmed.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	if err := r.pub.Check(ctx); err != nil {
		return 0, err
	}
	var published, unconfirmed int
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		msgs, err := claim(ctx, tx, r.opts.Batch, r.opts.Grace)
		if err != nil || len(msgs) == 0 {
			return err
		}
		confirmed, failed := r.publish(ctx, msgs)
		if len(failed) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1)`, failed); err != nil {
				return fmt.Errorf("count outbox attempts: %w", err)
			}
		}
		if err := markPublished(ctx, tx, confirmed); err != nil {
			return err
		}
		published, unconfirmed = len(confirmed), len(failed)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if published > 0 {
		r.log.Info("outbox rows published", "rows", published)
	}
	if unconfirmed > 0 {
		return published, fmt.Errorf("%d outbox rows: %w", unconfirmed, ErrNotConfirmed)
	}
	return published, nil
}

// publish sends msgs, then waits for their confirms (bounded by the
// confirm timeout), and splits their ids into confirmed and failed.
func (r *Relay) publish(ctx context.Context, msgs []Message) (confirmed, failed []string) {
	wctx, cancel := context.WithTimeout(ctx, r.opts.ConfirmTimeout)
	defer cancel()
	pending := make([]*amqp.DeferredConfirmation, len(msgs))
	for i, m := range msgs {
		dc, err := r.pub.send(wctx, m)
		if err != nil {
			r.log.Warn("outbox publish failed", "event", m.ID, "error", err)
			continue
		}
		pending[i] = dc
	}
	for i, m := range msgs {
		if pending[i] == nil || r.pub.wait(wctx, m.ID, pending[i]) != nil {
			failed = append(failed, m.ID)
			continue
		}
		confirmed = append(confirmed, m.ID)
	}
	return confirmed, failed
}

// claim locks up to batch unpublished rows older than grace, oldest
// first, skipping rows another relay holds.
func claim(ctx context.Context, tx pgx.Tx, batch int, grace time.Duration) ([]Message, error) {
	rows, err := tx.Query(ctx, `
		SELECT id::text, order_id::text, routing_key, priority, payload::text, headers::text FROM outbox
		WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $2)
		ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`, batch, grace.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Message, error) {
		var (
			m                Message
			priority         int16
			payload, headers string
		)
		if err := row.Scan(&m.ID, &m.OrderID, &m.RoutingKey, &priority, &payload, &headers); err != nil {
			return m, err
		}
		m.Priority, m.Payload = uint8(priority), []byte(payload)
		if err := json.Unmarshal([]byte(headers), &m.Headers); err != nil {
			return m, fmt.Errorf("outbox row %s: headers: %w", m.ID, err)
		}
		return m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	return msgs, nil
}
