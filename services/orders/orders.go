// Package orders is the order domain the API and the worker share: the
// PostgreSQL schema (migrations run at start with goose), the events the
// API publishes to RabbitMQ through its outbox, and the status changes the
// worker publishes on Redis pub/sub for the API's live updates.
//
// Flow: the API stores an order, its items and an outbox row in one
// transaction (status pending); it publishes the outbox row to the
// exchange Exchange with publisher confirms and marks the order accepted
// once the broker confirmed it (a row left unpublished is retried by the
// outbox relay). The worker consumes the queues bound to the exchange,
// reserves stock once per event (processed_events), sets the order
// confirmed or rejected, and publishes a StatusChange on
// StatusChannel(order).
package orders

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// The RabbitMQ topology the stacks declare (stacks/Pulumi.*.yaml,
// cloudscale:rabbitmq.queues): one topic exchange, a routing key per kind
// of order, each bound to its queue.
const (
	// Exchange is the topic exchange order events are published to.
	Exchange = "orders"
	// RoutingCreated and RoutingExpress are the routing keys of standard
	// and express orders (queues QueueCreated and QueueExpress).
	RoutingCreated = "order.created"
	RoutingExpress = "order.express"
	QueueCreated   = "orders.created"
	QueueExpress   = "orders.express"
	// ExpressPriority is an express order's message priority (5 or more is
	// high for RabbitMQ 4's quorum queues; 3.10 ignores it on quorum queues).
	ExpressPriority = 9
)

// Status is an order's state.
type Status string

// The order states, in order.
const (
	// Pending: stored, its event not yet confirmed by the broker.
	Pending Status = "pending"
	// Accepted: the broker confirmed the event.
	Accepted Status = "accepted"
	// Confirmed: the worker reserved its stock.
	Confirmed Status = "confirmed"
	// Rejected: the worker could not reserve its stock.
	Rejected Status = "rejected"
)

// Item is one line of an order: quantity units of a product at its price
// when ordered (cents).
type Item struct {
	SKU        string `json:"sku"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"priceCents"`
}

// Event is the message published for an order (JSON body, content type
// application/json; the AMQP message id is ID and the W3C trace context
// travels in the message headers).
type Event struct {
	// ID is the event's id (a UUID, the outbox row's id): the worker
	// processes each id once.
	ID         string    `json:"id"`
	Type       string    `json:"type"` // RoutingCreated or RoutingExpress
	OrderID    string    `json:"orderId"`
	Customer   string    `json:"customer"`
	Express    bool      `json:"express"`
	Items      []Item    `json:"items"`
	TotalCents int64     `json:"totalCents"`
	OccurredAt time.Time `json:"occurredAt"`
}

// RoutingKey is the event's routing key: express orders go to the
// priority queue.
func RoutingKey(express bool) string {
	if express {
		return RoutingExpress
	}
	return RoutingCreated
}

// StatusChange is published (JSON) on StatusChannel(OrderID) when the
// worker changes an order's status.
type StatusChange struct {
	OrderID string    `json:"orderId"`
	Status  Status    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// StatusChannel is the Redis pub/sub channel of one order's status
// changes.
func StatusChannel(orderID string) string { return "order-status:" + orderID }

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate brings the schema to the newest version (goose, the migrations
// embedded from migrations/). It is safe to run from every replica at
// start: goose takes a PostgreSQL advisory lock.
func Migrate(ctx context.Context, db *sql.DB) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	return migrate(ctx, db, goose.WithSessionLocker(locker))
}

// MigratePooled is Migrate for a database reached through PgBouncer in
// transaction pooling (the API's pooler): a session advisory lock would
// be taken on whichever server connection ran the statement and stay held
// there, so replicas serialise on a row of goose's lock table instead
// (goose_lock, released by the holder or after its heartbeat stops).
func MigratePooled(ctx context.Context, db *sql.DB) error {
	locker, err := lock.NewPostgresTableLocker()
	if err != nil {
		return err
	}
	return migrate(ctx, db, goose.WithLocker(locker))
}

func migrate(ctx context.Context, db *sql.DB, lockOpt goose.ProviderOption) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir, lockOpt)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}
