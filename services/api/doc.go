// Command api-service is the platform's order service: products, sessions
// and carts, orders and their live status, behind the gateway
// (/api/v1/*, /account/* rewritten to /api/v1/account/*, /internal/*).
// Its contract is openapi.json (served at GET /openapi.json); the handlers
// are in package httpapi, the stores' use in catalog, cache, session and
// ../orders.
//
// Stores, used as the architecture guide describes:
//   - PostgreSQL (through PgBouncer, transaction pooling): products' price
//     and stock, orders, items and the transactional outbox; migrations
//     (goose, ../orders/migrations) run at start.
//   - MongoDB catalog.products: names, descriptions, free-form attributes
//     and the text index searched by GET /api/v1/products (created at
//     start; a server without text indexes, such as FerretDB, leaves search
//     answering 501 and the rest working).
//   - Redis redis-state (Sentinel): sessions, carts, order status pub/sub.
//   - Redis redis-cache: product responses, TTL CACHE_TTL, invalidated by
//     PUT /internal/products/{sku}; when it is down reads are misses.
//   - RabbitMQ: order events on exchange orders with publisher confirms
//     (201 once confirmed, else 202 and the outbox relay retries).
//
// Start: configuration, telemetry, stores (each retried until
// START_TIMEOUT), migrations, indexes, then the server (/healthz, /readyz
// over PostgreSQL, redis-state, RabbitMQ and MongoDB, /metrics) with the
// RabbitMQ reconnector and the outbox relay beside it.
//
// Configuration (environment; *_FILE variables name mounted Secret files):
//
//	SERVICE_NAME, SERVICE_VERSION, LISTEN_ADDR, LOG_LEVEL,
//	OTEL_EXPORTER_OTLP_ENDPOINT, TRACE_SAMPLING, SHUTDOWN_TIMEOUT, DRAIN_DELAY
//	                           see package config (defaults api-service, dev,
//	                           :8080, INFO, none, 1, 20s, 5s)
//	POSTGRES_URL               postgres:// URL, may be multi-host with
//	                           target_session_attrs=read-write (a promoted
//	                           replica is found without restart); or:
//	POSTGRES_HOST              host (instead of POSTGRES_URL)
//	POSTGRES_PORT              port (5432)
//	POSTGRES_DATABASE          database (orders)
//	POSTGRES_USER              user (with POSTGRES_HOST)
//	POSTGRES_PASSWORD_FILE     file holding the password (optional; replaces
//	                           a password in POSTGRES_URL)
//	POSTGRES_SSLMODE           sslmode with POSTGRES_HOST (prefer)
//	POSTGRES_MAX_CONNS         pool size (10)
//	REDIS_STATE_ADDR           host:port of redis-state; or:
//	REDIS_STATE_SENTINELS      comma list of sentinel host:port, with
//	REDIS_STATE_MASTER         the Sentinel master set (redis-state)
//	REDIS_STATE_PASSWORD_FILE  file holding the password (Redis and sentinels)
//	REDIS_STATE_CA_FILE        CA bundle (PEM): TLS on (optional)
//	REDIS_STATE_DB             database number (0)
//	REDIS_CACHE_ADDR, REDIS_CACHE_SENTINELS, REDIS_CACHE_MASTER,
//	REDIS_CACHE_PASSWORD_FILE, REDIS_CACHE_CA_FILE, REDIS_CACHE_DB
//	                           the same for redis-cache
//	MONGODB_URI                mongodb:// or mongodb+srv:// URI (TLS options
//	                           such as tls=true&tlsCAFile=... go here)
//	MONGODB_USER               user (optional), with
//	MONGODB_PASSWORD_FILE      file holding the password
//	MONGODB_DATABASE           database (catalog)
//	MONGODB_COLLECTION         collection (products)
//	MONGODB_TEXT_INDEX         comma list of the text index's fields
//	                           (name,description)
//	RABBITMQ_URL               amqp:// or amqps:// URL; or:
//	RABBITMQ_HOST              host (instead of RABBITMQ_URL), with
//	RABBITMQ_PORT              port (5672)
//	RABBITMQ_VHOST             virtual host (/)
//	RABBITMQ_USERNAME_FILE     file holding the user name (with RABBITMQ_HOST)
//	RABBITMQ_PASSWORD_FILE     file holding the password (with RABBITMQ_HOST)
//	RABBITMQ_CA_FILE           CA bundle (PEM): amqps (optional)
//	CACHE_TTL                  product cache entries' lifetime (60s)
//	SESSION_TTL                session lifetime after its last use (30m)
//	CART_TTL                   cart lifetime after its last use (168h)
//	CONFIRM_TIMEOUT            wait for the broker's confirm of a new order (5s)
//	OUTBOX_RELAY_INTERVAL      outbox relay poll interval (1s)
//	OUTBOX_RELAY_BATCH         outbox rows per relay transaction (100)
//	START_TIMEOUT              how long the stores are retried at start (2m)
//
// Metrics beyond the RED metrics of every route: pgx_pool_acquired_conns,
// pgx_pool_idle_conns, pgx_pool_total_conns, orders_outbox_backlog,
// orders_outbox_published_total, orders_outbox_confirmed_total,
// orders_outbox_nacked_total, api_cache_hits_total, api_cache_misses_total,
// api_cache_errors_total, api_sse_streams_in_flight.
package main
