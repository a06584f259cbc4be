package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cloudscale/platform/services/orders"
)

// Outcome is what processing one event did.
type Outcome string

// The outcomes of Process (the result label of the processed counter,
// with "poison" and "error" for the failures).
const (
	// Confirmed: the order's stock was reserved and the order confirmed.
	Confirmed Outcome = "confirmed"
	// Rejected: a product was short of stock; nothing was reserved.
	Rejected Outcome = "rejected"
	// Duplicate: the event (or another event of the same order) was
	// processed before; nothing changed.
	Duplicate Outcome = "duplicate"
)

// Result is the outcome of one event and the order's status after it.
// Change is empty (zero OrderID) when a duplicate's order is not yet
// decided, which cannot happen with one event per order.
type Result struct {
	Outcome Outcome
	Change  orders.StatusChange
}

// PoisonError is a message no retry can process: its body is not an
// orders.Event, its ids are not UUIDs, its order does not exist, or
// PostgreSQL rejects its data (SQLSTATE classes 22 and 23). The consumer
// returns it to the queue so the queue's delivery limit dead-letters it.
type PoisonError struct {
	Reason string
	Err    error // the cause, if any
}

func (e *PoisonError) Error() string {
	if e.Err == nil {
		return "poison message: " + e.Reason
	}
	return "poison message: " + e.Reason + ": " + e.Err.Error()
}

func (e *PoisonError) Unwrap() error { return e.Err }

// IsPoison reports whether err is a *PoisonError or a PostgreSQL error the
// message's data caused (data exception or integrity violation); every
// other error (connection refused, serialization failure, a missing
// table while the schema is being migrated) is transient.
func IsPoison(err error) bool {
	var pe *PoisonError
	if errors.As(err, &pe) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		class := pg.Code[:2]
		return class == "22" || class == "23"
	}
	return false
}

// Decode parses a message body into an orders.Event and checks that its
// id and order id are UUIDs; any problem is a *PoisonError.
func Decode(body []byte) (orders.Event, error) {
	var ev orders.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, &PoisonError{Reason: "body is not an order event", Err: err}
	}
	if uuid.Validate(ev.ID) != nil {
		return ev, &PoisonError{Reason: fmt.Sprintf("event id %q is not a UUID", ev.ID)}
	}
	if uuid.Validate(ev.OrderID) != nil {
		return ev, &PoisonError{Reason: fmt.Sprintf("order id %q is not a UUID", ev.OrderID)}
	}
	return ev, nil
}

// Processor applies order events to PostgreSQL (the schema of
// services/orders/migrations). The pool may run through PgBouncer in
// transaction pooling: every statement is one round trip with no named
// prepared statement when the pool's DefaultQueryExecMode is
// QueryExecModeExec (see NewPool).
type Processor struct {
	db *pgxpool.Pool
}

// NewProcessor returns a Processor over db.
func NewProcessor(db *pgxpool.Pool) *Processor { return &Processor{db: db} }

// Process applies ev once, in one transaction: it records ev.ID in
// processed_events (a second delivery finds it there and changes
// nothing: Duplicate), locks the order, then either reserves the stock of
// every item (Confirmed) or, if any product is short, reserves nothing
// and records the reason (Rejected). The order's items come from
// order_items, the order's stored truth, not from the message.
//
// An unknown order is a *PoisonError; the transaction is rolled back on
// every error, so a retry starts afresh.
func (p *Processor) Process(ctx context.Context, ev orders.Event) (Result, error) {
	var res Result
	err := pgx.BeginFunc(ctx, p.db, func(tx pgx.Tx) error {
		var err error
		res, err = apply(ctx, tx, ev)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

func apply(ctx context.Context, tx pgx.Tx, ev orders.Event) (Result, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO processed_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING`, ev.ID)
	if err != nil {
		return Result{}, fmt.Errorf("record event %s: %w", ev.ID, err)
	}
	if tag.RowsAffected() == 0 {
		change, err := current(ctx, tx, ev.OrderID)
		return Result{Outcome: Duplicate, Change: change}, err
	}
	var status orders.Status
	err = tx.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1 FOR NO KEY UPDATE`, ev.OrderID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return Result{}, &PoisonError{Reason: fmt.Sprintf("order %s of event %s does not exist", ev.OrderID, ev.ID)}
	}
	if err != nil {
		return Result{}, fmt.Errorf("lock order %s: %w", ev.OrderID, err)
	}
	if status == orders.Confirmed || status == orders.Rejected {
		// Decided by another event of the same order: the order's stock
		// must not move twice.
		change, err := current(ctx, tx, ev.OrderID)
		return Result{Outcome: Duplicate, Change: change}, err
	}
	shortfalls, err := reserve(ctx, tx, ev.OrderID)
	if err != nil {
		return Result{}, err
	}
	res := Result{Outcome: Confirmed, Change: orders.StatusChange{OrderID: ev.OrderID, Status: orders.Confirmed}}
	if len(shortfalls) > 0 {
		res.Outcome = Rejected
		res.Change.Status = orders.Rejected
		res.Change.Reason = "insufficient stock: " + strings.Join(shortfalls, "; ")
	}
	err = tx.QueryRow(ctx,
		`UPDATE orders SET status = $2, reason = NULLIF($3, ''), updated_at = now() WHERE id = $1 RETURNING updated_at`,
		ev.OrderID, string(res.Change.Status), res.Change.Reason).Scan(&res.Change.At)
	if err != nil {
		return Result{}, fmt.Errorf("set order %s %s: %w", ev.OrderID, res.Change.Status, err)
	}
	res.Change.At = res.Change.At.UTC()
	return res, nil
}

// reserve takes every item's quantity from its product's stock, or
// nothing: it locks the order's products in SKU order (two orders sharing
// products lock them in the same order, so they cannot deadlock; NO KEY
// UPDATE, so the API's new orders, whose foreign keys take KEY SHARE on
// the same products, do not wait for it), and
// returns the shortfalls ("sku: 3 wanted, 1 in stock") without changing
// anything if there is any.
func reserve(ctx context.Context, tx pgx.Tx, orderID string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT i.sku, i.quantity, p.stock
		FROM order_items i JOIN products p ON p.sku = i.sku
		WHERE i.order_id = $1
		ORDER BY i.sku
		FOR NO KEY UPDATE OF p`, orderID)
	if err != nil {
		return nil, fmt.Errorf("lock products of order %s: %w", orderID, err)
	}
	var (
		sku             string
		quantity, stock int
		items           int
		shortfalls      []string
	)
	_, err = pgx.ForEachRow(rows, []any{&sku, &quantity, &stock}, func() error {
		items++
		if stock < quantity {
			shortfalls = append(shortfalls, fmt.Sprintf("%s: %d wanted, %d in stock", sku, quantity, stock))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock products of order %s: %w", orderID, err)
	}
	if len(shortfalls) > 0 || items == 0 {
		return shortfalls, nil
	}
	tag, err := tx.Exec(ctx, `
		UPDATE products p SET stock = p.stock - i.quantity, updated_at = now()
		FROM order_items i
		WHERE i.order_id = $1 AND p.sku = i.sku AND p.stock >= i.quantity`, orderID)
	if err != nil {
		return nil, fmt.Errorf("reserve stock of order %s: %w", orderID, err)
	}
	if int(tag.RowsAffected()) != items {
		// Cannot happen while the rows are locked; never commit half.
		return nil, fmt.Errorf("reserve stock of order %s: %d of %d products updated", orderID, tag.RowsAffected(), items)
	}
	return nil, nil
}

// current is an order's status as stored, as a StatusChange (zero when
// the order is missing or not yet decided).
func current(ctx context.Context, tx pgx.Tx, orderID string) (orders.StatusChange, error) {
	var (
		c      orders.StatusChange
		reason *string
	)
	err := tx.QueryRow(ctx, `SELECT status, reason, updated_at FROM orders WHERE id = $1`, orderID).
		Scan(&c.Status, &reason, &c.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return orders.StatusChange{}, nil
	}
	if err != nil {
		return orders.StatusChange{}, fmt.Errorf("read order %s: %w", orderID, err)
	}
	if c.Status != orders.Confirmed && c.Status != orders.Rejected {
		return orders.StatusChange{}, nil
	}
	c.OrderID, c.At = orderID, c.At.UTC()
	if reason != nil {
		c.Reason = *reason
	}
	return c, nil
}

// SchemaReady reports whether the tables the worker uses exist (the
// API's migrations create them); the error names the first one missing.
func SchemaReady(ctx context.Context, db *pgxpool.Pool) error {
	for _, table := range []string{"orders", "order_items", "products", "processed_events"} {
		var ok bool
		if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, "public."+table).Scan(&ok); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		if !ok {
			return fmt.Errorf("schema: table %s does not exist yet (the API's migrations create it)", table)
		}
	}
	return nil
}
