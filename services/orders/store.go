package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNotFound is returned when an order does not exist or belongs to
// another customer (the caller cannot tell the two apart).
var ErrNotFound = errors.New("order not found")

// ProductError says which product of an order cannot be sold: unknown
// (Available < 0) or short of stock (Available is the stock on hand).
type ProductError struct {
	SKU       string
	Wanted    int
	Available int
}

func (e *ProductError) Error() string {
	if e.Available < 0 {
		return fmt.Sprintf("product %q does not exist", e.SKU)
	}
	return fmt.Sprintf("product %q: %d wanted, %d in stock", e.SKU, e.Wanted, e.Available)
}

// Line is one line of an order as the customer asks for it.
type Line struct {
	SKU      string
	Quantity int
}

// NewOrder is what CreateOrder stores: the customer (the gateway's
// subject), the lines (distinct SKUs, quantities > 0), whether the order is
// express, and the AMQP headers its event carries (the W3C trace context).
type NewOrder struct {
	Customer string
	Express  bool
	Lines    []Line
	Headers  amqp.Table
}

// Order is an order as stored.
type Order struct {
	ID         string    `json:"id"`
	Customer   string    `json:"customer"`
	Status     Status    `json:"status"`
	Express    bool      `json:"express"`
	TotalCents int64     `json:"totalCents"`
	Reason     string    `json:"reason,omitempty"`
	Items      []Item    `json:"items"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Message is an outbox row: an event to publish on Exchange with its
// routing key, priority (0-9), JSON payload (an Event) and headers. ID is
// the event id and the AMQP message id.
type Message struct {
	ID         string
	OrderID    string
	RoutingKey string
	Priority   uint8
	Payload    []byte
	Headers    amqp.Table
}

// Store keeps orders, their items and the outbox in PostgreSQL (the schema
// of migrations/). The pool may run through PgBouncer in transaction
// pooling: every statement is a single round trip (no named prepared
// statements), which pgx's QueryExecModeExec or SimpleProtocol give.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// CreateOrder stores an order (status pending), its items at the current
// prices and its outbox row in one transaction, and returns the order and
// the message to publish. A product that does not exist or has too little
// stock fails the order with a *ProductError and stores nothing.
func (s *Store) CreateOrder(ctx context.Context, n NewOrder) (Order, Message, error) {
	if n.Customer == "" || len(n.Lines) == 0 {
		return Order{}, Message{}, errors.New("an order needs a customer and at least one line")
	}
	var (
		order Order
		msg   Message
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		items, total, err := price(ctx, tx, n.Lines)
		if err != nil {
			return err
		}
		order = Order{
			ID: uuid.NewString(), Customer: n.Customer, Status: Pending, Express: n.Express,
			TotalCents: total, Items: items,
		}
		if err := tx.QueryRow(ctx,
			`INSERT INTO orders (id, customer, status, express, total_cents) VALUES ($1, $2, $3, $4, $5)
			 RETURNING created_at, updated_at`,
			order.ID, order.Customer, string(Pending), order.Express, total,
		).Scan(&order.CreatedAt, &order.UpdatedAt); err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		for _, it := range items {
			if _, err := tx.Exec(ctx,
				`INSERT INTO order_items (order_id, sku, quantity, price_cents) VALUES ($1, $2, $3, $4)`,
				order.ID, it.SKU, it.Quantity, it.PriceCents); err != nil {
				return fmt.Errorf("insert order item %q: %w", it.SKU, err)
			}
		}
		msg, err = outboxMessage(order, n.Headers)
		if err != nil {
			return err
		}
		headers, err := json.Marshal(msg.Headers)
		if err != nil {
			return fmt.Errorf("outbox headers: %w", err)
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO outbox (id, order_id, routing_key, priority, payload, headers) VALUES ($1, $2, $3, $4, $5, $6)`,
			msg.ID, msg.OrderID, msg.RoutingKey, int16(msg.Priority), string(msg.Payload), string(headers))
		if err != nil {
			return fmt.Errorf("insert outbox row: %w", err)
		}
		return nil
	})
	if err != nil {
		return Order{}, Message{}, err
	}
	return order, msg, nil
}

// price reads the lines' prices and stock and returns the items and the
// total in cents.
func price(ctx context.Context, tx pgx.Tx, lines []Line) ([]Item, int64, error) {
	skus := make([]string, len(lines))
	for i, l := range lines {
		skus[i] = l.SKU
	}
	rows, err := tx.Query(ctx, `SELECT sku, price_cents, stock FROM products WHERE sku = ANY($1)`, skus)
	if err != nil {
		return nil, 0, fmt.Errorf("read prices: %w", err)
	}
	type product struct {
		price int64
		stock int
	}
	found := map[string]product{}
	for rows.Next() {
		var (
			sku string
			p   product
		)
		if err := rows.Scan(&sku, &p.price, &p.stock); err != nil {
			return nil, 0, fmt.Errorf("read prices: %w", err)
		}
		found[sku] = p
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read prices: %w", err)
	}
	items := make([]Item, 0, len(lines))
	var total int64
	for _, l := range lines {
		p, ok := found[l.SKU]
		if !ok {
			return nil, 0, &ProductError{SKU: l.SKU, Wanted: l.Quantity, Available: -1}
		}
		if p.stock < l.Quantity {
			return nil, 0, &ProductError{SKU: l.SKU, Wanted: l.Quantity, Available: p.stock}
		}
		items = append(items, Item{SKU: l.SKU, Quantity: l.Quantity, PriceCents: p.price})
		total += p.price * int64(l.Quantity)
	}
	return items, total, nil
}

// outboxMessage builds the event of a new order.
func outboxMessage(o Order, headers amqp.Table) (Message, error) {
	ev := Event{
		ID: uuid.NewString(), Type: RoutingKey(o.Express), OrderID: o.ID, Customer: o.Customer,
		Express: o.Express, Items: o.Items, TotalCents: o.TotalCents, OccurredAt: o.CreatedAt.UTC(),
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return Message{}, fmt.Errorf("event payload: %w", err)
	}
	if headers == nil {
		headers = amqp.Table{}
	}
	m := Message{ID: ev.ID, OrderID: o.ID, RoutingKey: ev.Type, Payload: payload, Headers: headers}
	if o.Express {
		m.Priority = ExpressPriority
	}
	return m, nil
}

// Order returns the customer's order id with its items, or ErrNotFound.
func (s *Store) Order(ctx context.Context, customer, id string) (Order, error) {
	if uuid.Validate(id) != nil {
		return Order{}, ErrNotFound
	}
	list, err := s.query(ctx, `WHERE id = $1 AND customer = $2`, id, customer)
	if err != nil {
		return Order{}, err
	}
	if len(list) == 0 {
		return Order{}, ErrNotFound
	}
	return list[0], nil
}

// Orders returns the customer's newest orders (at most limit), newest
// first, with their items.
func (s *Store) Orders(ctx context.Context, customer string, limit int) ([]Order, error) {
	return s.query(ctx, `WHERE customer = $1 ORDER BY created_at DESC, id LIMIT $2`, customer, limit)
}

// query reads the orders a WHERE (and ORDER/LIMIT) clause selects, and
// their items.
func (s *Store) query(ctx context.Context, where string, args ...any) ([]Order, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT id::text, customer, status, express, total_cents, coalesce(reason, ''), created_at, updated_at
		 FROM orders `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) {
		var o Order
		err := r.Scan(&o.ID, &o.Customer, &o.Status, &o.Express, &o.TotalCents, &o.Reason, &o.CreatedAt, &o.UpdatedAt)
		o.Items = []Item{}
		return o, err
	})
	if err != nil || len(list) == 0 {
		if err != nil {
			err = fmt.Errorf("read orders: %w", err)
		}
		return list, err
	}
	index := make(map[string]int, len(list))
	ids := make([]string, len(list))
	for i, o := range list {
		index[o.ID], ids[i] = i, o.ID
	}
	rows, err = s.pool.Query(ctx,
		`SELECT order_id::text, sku, quantity, price_cents FROM order_items WHERE order_id = ANY($1) ORDER BY sku`, ids)
	if err != nil {
		return nil, fmt.Errorf("read order items: %w", err)
	}
	var (
		id string
		it Item
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &it.SKU, &it.Quantity, &it.PriceCents}, func() error {
		o := &list[index[id]]
		o.Items = append(o.Items, it)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read order items: %w", err)
	}
	return list, nil
}

// MarkPublished records that the broker confirmed the outbox rows ids:
// their published_at is set and their orders, if still pending, become
// accepted. The outcome is the same when run twice.
func (s *Store) MarkPublished(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return markPublished(ctx, tx, ids)
	})
}

func markPublished(ctx context.Context, tx pgx.Tx, ids []string) error {
	_, err := tx.Exec(ctx, `
		WITH published AS (
			UPDATE outbox SET published_at = coalesce(published_at, now()), attempts = attempts + 1
			WHERE id = ANY($1) RETURNING order_id
		)
		UPDATE orders SET status = 'accepted', updated_at = now()
		WHERE id IN (SELECT order_id FROM published) AND status = 'pending'`, ids)
	if err != nil {
		return fmt.Errorf("mark outbox rows published: %w", err)
	}
	return nil
}

// Backlog returns the number of outbox rows not yet published.
func (s *Store) Backlog(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count outbox backlog: %w", err)
	}
	return n, nil
}

// IsProductError reports whether err is a *ProductError, and returns it.
func IsProductError(err error) (*ProductError, bool) {
	var pe *ProductError
	ok := errors.As(err, &pe)
	return pe, ok
}
