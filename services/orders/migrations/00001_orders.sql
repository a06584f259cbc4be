-- +goose Up
-- Products: price and stock, the source of truth for orders (their names,
-- descriptions and free-form attributes live in MongoDB's catalog).
CREATE TABLE products (
    sku         text PRIMARY KEY,
    name        text NOT NULL,
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    stock       integer NOT NULL CHECK (stock >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id          uuid PRIMARY KEY,
    customer    text NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'accepted', 'confirmed', 'rejected')),
    express     boolean NOT NULL DEFAULT false,
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_created ON orders (customer, created_at DESC);

CREATE TABLE order_items (
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku         text NOT NULL REFERENCES products (sku),
    quantity    integer NOT NULL CHECK (quantity > 0),
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    PRIMARY KEY (order_id, sku)
);

-- The transactional outbox: an order's event commits with the order and
-- is published (with publisher confirms) afterwards; published_at stays
-- NULL until the broker confirmed it.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    routing_key  text NOT NULL,
    priority     smallint NOT NULL DEFAULT 0,
    payload      jsonb NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;

-- The worker's idempotency record: one row per event processed, written in
-- the transaction that changes the order.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE processed_events;
DROP TABLE outbox;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE products;
