package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/telemetry"
)

// Options configure a Consumer. Dial, Queues, DB, Status, Logger, Tracer
// and Metrics are required.
type Options struct {
	// Name prefixes the consumer tags ("<Name>.<queue>"); default
	// "order-worker".
	Name string
	// Dial opens a broker connection (amqp.DialConfig with the URL,
	// credentials and TLS); called again after every loss.
	Dial func() (*amqp.Connection, error)
	// Queues are consumed, one channel each (orders.QueueCreated and
	// orders.QueueExpress in the platform).
	Queues []string
	// Prefetch is each channel's QoS: the most unacknowledged messages
	// the broker hands it, processed concurrently (default 16).
	Prefetch int
	// DB holds the orders schema (processed_events, orders, order_items,
	// products).
	DB *pgxpool.Pool
	// Status takes the orders.StatusChange published on
	// orders.StatusChannel after each commit (redis-state).
	Status redis.UniversalClient
	Logger *slog.Logger
	Tracer trace.Tracer
	// Metrics is NewMetrics' result on the service's registry.
	Metrics *Metrics
	// RetryWindow is how long a transient failure (PostgreSQL down) is
	// retried in process, with backoff, before the message is returned
	// to the queue (default 10s). See the package documentation.
	RetryWindow time.Duration
	// MaxBackoff caps the pause between reconnect attempts and between
	// retries (default 5s).
	MaxBackoff time.Duration
	// DepthInterval is the period of the queue depth gauge's passive
	// declares (default 15s; negative: never).
	DepthInterval time.Duration
	// StatusTimeout bounds one status publish (default 2s).
	StatusTimeout time.Duration
}

// Consumer consumes order events from RabbitMQ and applies them with a
// Processor; see the package documentation for its guarantees.
type Consumer struct {
	opt  Options
	proc *Processor
	conn atomic.Pointer[amqp.Connection] // the session's, nil between sessions
}

// New checks opt, fills its defaults and returns a Consumer.
func New(opt Options) (*Consumer, error) {
	var missing []string
	for name, ok := range map[string]bool{
		"Dial": opt.Dial != nil, "Queues": len(opt.Queues) > 0, "DB": opt.DB != nil, "Status": opt.Status != nil,
		"Logger": opt.Logger != nil, "Tracer": opt.Tracer != nil, "Metrics": opt.Metrics != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("consumer: options %v are required", missing)
	}
	if opt.Prefetch < 0 || opt.Prefetch > 65535 {
		return nil, fmt.Errorf("consumer: prefetch %d is not within 0..65535", opt.Prefetch)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opt.RetryWindow, 10*time.Second)
	def(&opt.MaxBackoff, 5*time.Second)
	def(&opt.DepthInterval, 15*time.Second)
	def(&opt.StatusTimeout, 2*time.Second)
	if opt.Prefetch == 0 {
		opt.Prefetch = 16
	}
	if opt.Name == "" {
		opt.Name = "order-worker"
	}
	return &Consumer{opt: opt, proc: NewProcessor(opt.DB)}, nil
}

// Ready is nil while the consumer holds an open broker connection (the
// readiness probe's RabbitMQ check).
func (c *Consumer) Ready(context.Context) error {
	if conn := c.conn.Load(); conn != nil && !conn.IsClosed() {
		return nil
	}
	return errors.New("not connected to RabbitMQ")
}

// Run waits for the schema, then consumes until ctx is done, opening the
// broker connection again (with backoff) whenever it or a channel
// closes; it never gives up on the broker. When ctx is done it stops
// consuming (basic.cancel), finishes and acknowledges the messages
// already delivered, closes the connection and returns nil.
func (c *Consumer) Run(ctx context.Context) error {
	log := c.opt.Logger
	if !c.waitSchema(ctx) {
		return nil
	}
	for attempt := 1; ; attempt++ {
		conn, err := c.opt.Dial()
		if err == nil {
			start := time.Now()
			err = c.session(ctx, conn)
			if ctx.Err() != nil {
				return nil
			}
			c.opt.Metrics.Reconnects.Inc()
			if time.Since(start) > c.opt.MaxBackoff {
				attempt = 1 // it ran: this is a new outage
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := backoff(attempt, c.opt.MaxBackoff)
		log.Warn("broker session ended; reconnecting", "error", err, "attempt", attempt, "retry_in", wait.String())
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// waitSchema polls SchemaReady until it passes (true) or ctx is done.
func (c *Consumer) waitSchema(ctx context.Context) bool {
	for attempt := 1; ; attempt++ {
		err := SchemaReady(ctx, c.opt.DB)
		if err == nil {
			return true
		}
		if attempt == 1 || attempt%30 == 0 {
			c.opt.Logger.Info("waiting for the orders schema", "error", err)
		}
		if !sleep(ctx, min(backoff(attempt, c.opt.MaxBackoff), 2*time.Second)) {
			return false
		}
	}
}

// subscription is one queue's channel and its deliveries.
type subscription struct {
	queue      string
	tag        string
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery
}

func (c *Consumer) subscribe(conn *amqp.Connection, queue string) (*subscription, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel for %s: %w", queue, err)
	}
	if err := ch.Qos(c.opt.Prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("qos %d on %s: %w", c.opt.Prefetch, queue, err)
	}
	s := &subscription{queue: queue, tag: c.opt.Name + "." + queue, ch: ch}
	s.deliveries, err = ch.Consume(queue, s.tag, false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", queue, err)
	}
	return s, nil
}

// session consumes over one connection until ctx is done (graceful stop:
// nil) or the connection or a channel closes (the error).
func (c *Consumer) session(ctx context.Context, conn *amqp.Connection) error {
	defer conn.Close()
	lost := make(chan error, len(c.opt.Queues)+1)
	go watch(lost, "connection", conn.NotifyClose(make(chan *amqp.Error, 1)))
	// Processing outlives ctx (in-flight messages finish on shutdown) but
	// not the session: an ack on a dead channel is pointless.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var loops, handlers sync.WaitGroup
	subs := make([]*subscription, 0, len(c.opt.Queues))
	for _, q := range c.opt.Queues {
		s, err := c.subscribe(conn, q)
		if err != nil {
			return err
		}
		subs = append(subs, s)
		go watch(lost, "channel "+q, s.ch.NotifyClose(make(chan *amqp.Error, 1)))
		loops.Go(func() {
			for d := range s.deliveries {
				handlers.Go(func() { c.handle(ctx, work, q, d) })
			}
		})
	}
	c.conn.Store(conn)
	c.opt.Metrics.Connected.Set(1)
	defer func() { c.conn.Store(nil); c.opt.Metrics.Connected.Set(0) }()
	depthDone := make(chan struct{})
	go c.pollDepth(conn, depthDone)
	c.opt.Logger.Info("consuming", "queues", c.opt.Queues, "prefetch", c.opt.Prefetch)

	var err error
	select {
	case <-ctx.Done():
		close(depthDone)
		for _, s := range subs {
			// Deliveries already received stay in s.deliveries until the
			// cancel-ok; the loops read them to the end.
			if cerr := s.ch.Cancel(s.tag, false); cerr != nil {
				c.opt.Logger.Warn("cancel consumer", "queue", s.queue, "error", cerr)
				_ = s.ch.Close() // ends s.deliveries; unacked messages return
			}
		}
		loops.Wait()
		c.opt.Logger.Info("consumers cancelled; finishing the messages in flight")
		handlers.Wait()
		c.opt.Logger.Info("stopped consuming; in-flight messages finished")
		return nil
	case err = <-lost:
	}
	close(depthDone)
	stopWork()
	_ = conn.Close()
	loops.Wait()
	handlers.Wait()
	return err
}

// watch turns a NotifyClose channel into one error on lost.
func watch(lost chan<- error, what string, closed <-chan *amqp.Error) {
	e, ok := <-closed
	if !ok || e == nil {
		lost <- fmt.Errorf("%s closed", what)
		return
	}
	lost <- fmt.Errorf("%s closed: %w", what, e)
}

// pollDepth sets the queue depth gauge from passive declares on a
// channel of its own (a failed passive declare closes its channel).
func (c *Consumer) pollDepth(conn *amqp.Connection, done <-chan struct{}) {
	if c.opt.DepthInterval < 0 {
		return
	}
	tick := time.NewTicker(c.opt.DepthInterval)
	defer tick.Stop()
	for {
		ch, err := conn.Channel()
		if err == nil {
			for _, q := range c.opt.Queues {
				info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
				if err != nil {
					break
				}
				c.opt.Metrics.QueueDepth.WithLabelValues(q).Set(float64(info.Messages))
			}
			_ = ch.Close()
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

// handle processes one delivery and acknowledges it: Ack after commit
// (and the status publish), Nack with requeue on any failure.
func (c *Consumer) handle(shutdown, work context.Context, queue string, d amqp.Delivery) {
	start := time.Now()
	m := c.opt.Metrics
	m.InFlight.WithLabelValues(queue).Inc()
	defer m.InFlight.WithLabelValues(queue).Dec()
	count := deliveryCount(d.Headers)
	ctx := telemetry.ExtractAMQP(work, d.Headers)
	ctx, span := c.opt.Tracer.Start(ctx, queue+" process", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "rabbitmq"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", queue),
			attribute.String("messaging.message.id", d.MessageId),
			attribute.Int64("messaging.rabbitmq.delivery_count", count),
		))
	defer span.End()
	if d.Redelivered {
		m.Redeliveries.WithLabelValues(queue).Inc()
	}
	log := c.opt.Logger.With("queue", queue, "message_id", d.MessageId, "redelivered", d.Redelivered, "delivery_count", count)

	res, err := c.process(shutdown, ctx, log, d.Body)
	result := string(res.Outcome)
	if err == nil {
		span.SetAttributes(attribute.String("order.id", res.Change.OrderID), attribute.String("order.outcome", result))
		if res.Change.OrderID != "" {
			c.publishStatus(ctx, log, res.Change)
		}
		if aerr := d.Ack(false); aerr != nil {
			// The commit stands; the broker redelivers and the
			// redelivery is a duplicate.
			log.WarnContext(ctx, "ack failed", "error", aerr)
		}
		log.DebugContext(ctx, "order event processed", "order_id", res.Change.OrderID, "result", result)
	} else {
		result = ResultError
		level := slog.LevelError
		if IsPoison(err) {
			// Returned, not rejected: the queue's delivery limit dead-
			// letters it after x-delivery-count redeliveries.
			result, level = ResultPoison, slog.LevelWarn
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, result)
		log.Log(ctx, level, "order event returned to the queue", "result", result, "error", err)
		if nerr := d.Nack(false, true); nerr != nil {
			log.WarnContext(ctx, "nack failed", "error", nerr)
		}
	}
	m.Processed.WithLabelValues(queue, result).Inc()
	m.Duration.WithLabelValues(queue).Observe(time.Since(start).Seconds())
}

// process decodes and applies one message, retrying transient failures
// with backoff for RetryWindow (or until shutdown or the session ends).
func (c *Consumer) process(shutdown, ctx context.Context, log *slog.Logger, body []byte) (Result, error) {
	ev, err := Decode(body)
	if err != nil {
		return Result{}, err
	}
	deadline := time.Now().Add(c.opt.RetryWindow)
	for attempt := 1; ; attempt++ {
		res, err := c.proc.Process(ctx, ev)
		if err == nil || IsPoison(err) || time.Now().After(deadline) || shutdown.Err() != nil {
			return res, err
		}
		wait := backoff(attempt, c.opt.MaxBackoff)
		log.WarnContext(ctx, "transient failure; retrying", "event_id", ev.ID, "attempt", attempt, "retry_in", wait.String(), "error", err)
		select {
		case <-time.After(wait):
		case <-shutdown.Done():
		case <-ctx.Done():
			return res, err
		}
	}
}

// publishStatus publishes the order's status on its Redis channel; a
// failure loses only the live update (the order is committed), so it is
// logged and counted, not retried through the broker.
func (c *Consumer) publishStatus(ctx context.Context, log *slog.Logger, change orders.StatusChange) {
	body, err := json.Marshal(change)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, c.opt.StatusTimeout)
		err = c.opt.Status.Publish(pctx, orders.StatusChannel(change.OrderID), body).Err()
		cancel()
	}
	if err != nil {
		c.opt.Metrics.StatusPublishFailures.Inc()
		log.WarnContext(ctx, "status change not published", "order_id", change.OrderID, "error", err)
	}
}

// deliveryCount is the x-delivery-count header a quorum queue sets on a
// redelivered message (0 on the first delivery).
func deliveryCount(h amqp.Table) int64 {
	switch v := h["x-delivery-count"].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	}
	return 0
}

// backoff is the pause before the attempt-th retry: 100ms doubling, at
// most maxWait.
func backoff(attempt int, maxWait time.Duration) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// sleep waits d or until ctx is done (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
