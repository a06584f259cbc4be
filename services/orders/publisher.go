package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNotConnected is returned by Publish while the publisher has no open
// connection to the broker (it is reconnecting).
var ErrNotConnected = errors.New("not connected to RabbitMQ")

// ErrNotConfirmed is returned by Publish when the broker answered with a
// negative acknowledgement or the channel closed before it confirmed.
var ErrNotConfirmed = errors.New("RabbitMQ did not confirm the message")

// Publisher publishes outbox messages to Exchange on one AMQP channel in
// confirm mode, and reconnects (Run) when the connection drops. Its
// methods are safe for concurrent use.
type Publisher struct {
	dial func() (*amqp.Connection, error)
	log  *slog.Logger

	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel

	published, confirmed, nacked prometheus.Counter
}

// NewPublisher returns a Publisher that connects with dial (e.g. a
// closure over amqp.DialConfig) and registers its counters
// (orders_outbox_published_total, _confirmed_total, _nacked_total) with
// reg. It does not connect: call Connect, then Run.
func NewPublisher(dial func() (*amqp.Connection, error), log *slog.Logger, reg prometheus.Registerer) (*Publisher, error) {
	p := &Publisher{
		dial: dial, log: log,
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orders_outbox_published_total", Help: "Order events sent to RabbitMQ (each attempt).",
		}),
		confirmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orders_outbox_confirmed_total", Help: "Order events RabbitMQ confirmed.",
		}),
		nacked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orders_outbox_nacked_total",
			Help: "Order events not confirmed: negative acknowledgement, channel closed or timeout.",
		}),
	}
	for _, c := range []prometheus.Collector{p.published, p.confirmed, p.nacked} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register publisher metrics: %w", err)
		}
	}
	return p, nil
}

// Connect dials the broker and opens a channel in confirm mode, replacing
// a closed connection. It is what Run does after a drop, once.
func (p *Publisher) Connect() error {
	conn, err := p.dial()
	if err != nil {
		return fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("open a confirm-mode channel: %w", err)
	}
	p.mu.Lock()
	old := p.conn
	p.conn, p.ch = conn, ch
	p.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// Check returns nil while the connection and channel are open (the
// readiness probe).
func (p *Publisher) Check(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil || p.conn.IsClosed() || p.ch == nil || p.ch.IsClosed() {
		return ErrNotConnected
	}
	return nil
}

// Run keeps the publisher connected until ctx is done: when the connection
// or the channel closes it reconnects with exponential backoff (0.5s to
// 5s). It closes the connection and returns nil when ctx is done.
func (p *Publisher) Run(ctx context.Context) error {
	defer p.Close()
	backoff := newBackoff(500*time.Millisecond, 5*time.Second)
	for {
		p.mu.Lock()
		conn, ch := p.conn, p.ch
		p.mu.Unlock()
		if conn != nil && !conn.IsClosed() && ch != nil && !ch.IsClosed() {
			connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
			chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
			select {
			case <-ctx.Done():
				return nil
			case err := <-connClosed:
				p.log.Warn("RabbitMQ connection closed, reconnecting", "error", err)
			case err := <-chClosed:
				p.log.Warn("RabbitMQ channel closed, reconnecting", "error", err)
			}
			backoff.reset()
		}
		if err := p.Connect(); err != nil {
			wait := backoff.next()
			p.log.Warn("RabbitMQ reconnect failed", "error", err, "retry_in", wait.String())
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		p.log.Info("connected to RabbitMQ")
	}
}

// Close closes the connection.
func (p *Publisher) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		_ = p.conn.Close()
	}
}

// send publishes m (persistent, application/json, message id m.ID, its
// priority and headers) and returns its deferred confirmation.
func (p *Publisher) send(ctx context.Context, m Message) (*amqp.DeferredConfirmation, error) {
	p.mu.Lock()
	ch := p.ch
	p.mu.Unlock()
	if ch == nil || ch.IsClosed() {
		return nil, ErrNotConnected
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, Exchange, m.RoutingKey, false, false, amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    m.ID,
		Priority:     m.Priority,
		Type:         m.RoutingKey,
		Timestamp:    time.Now().UTC(),
		Headers:      m.Headers,
		Body:         m.Payload,
	})
	if err != nil {
		return nil, fmt.Errorf("publish event %s: %w", m.ID, err)
	}
	p.published.Inc()
	return dc, nil
}

// wait waits for a deferred confirmation until ctx is done.
func (p *Publisher) wait(ctx context.Context, id string, dc *amqp.DeferredConfirmation) error {
	ok, err := dc.WaitContext(ctx)
	switch {
	case err != nil:
		p.nacked.Inc()
		return fmt.Errorf("event %s: waiting for the confirm: %w", id, err)
	case !ok:
		p.nacked.Inc()
		return fmt.Errorf("event %s: %w", id, ErrNotConfirmed)
	}
	p.confirmed.Inc()
	return nil
}

// Publish publishes m and waits (until ctx is done) for the broker's
// confirm. A nil error means the broker took responsibility for the
// message; otherwise it may or may not have it (publish again: the worker
// dedups by event id).
func (p *Publisher) Publish(ctx context.Context, m Message) error {
	dc, err := p.send(ctx, m)
	if err != nil {
		return err
	}
	return p.wait(ctx, m.ID, dc)
}

// backoff is an exponential backoff between min and max.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(minWait, maxWait time.Duration) *backoff {
	return &backoff{min: minWait, max: maxWait}
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
