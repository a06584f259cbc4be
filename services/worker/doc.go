// Command order-worker consumes the order events the API publishes to
// RabbitMQ and settles each order once: it reserves the order's stock in
// PostgreSQL (or rejects the order when a product is short), sets the
// order confirmed or rejected, and publishes the status change on Redis
// pub/sub (redis-state) for the API's live updates. Package consumer holds
// the logic and its guarantees (once per event, dead-lettering after the
// queues' delivery limit, reconnects, graceful shutdown).
//
// It serves /healthz, /readyz (PostgreSQL answers and holds the orders
// schema, which the API migrates; RabbitMQ connected; Redis answers) and
// /metrics (worker_messages_processed_total{queue,result},
// worker_message_processing_seconds, worker_message_redeliveries_total,
// worker_messages_in_flight, worker_queue_messages,
// worker_status_publish_failures_total, worker_broker_reconnects_total,
// worker_broker_connected, and the API's pgx_pool_acquired_conns,
// pgx_pool_idle_conns and pgx_pool_total_conns).
// SIGTERM stops consuming, finishes and acknowledges the messages in
// flight, then exits.
//
// # Configuration
//
// The environment, read by services/config; a variable ending in _FILE
// names a file holding a secret (a mounted Secret), never the secret. The
// store variables are the API's (services/stores), with the same
// meaning. Defaults in brackets.
//
// The service (config.Service):
//
//	SERVICE_NAME                 the service's name in logs, traces and consumer tags [order-worker]
//	SERVICE_VERSION              the running build [dev]
//	LISTEN_ADDR                  /healthz, /readyz and /metrics, host:port [:8080]
//	LOG_LEVEL                    DEBUG, INFO, WARN or ERROR [INFO]
//	OTEL_EXPORTER_OTLP_ENDPOINT  the OTLP/gRPC collector, host:port or http(s)://host:port (empty: no export)
//	TRACE_SAMPLING               ratio of new traces sampled, 0..1 [1]
//	SHUTDOWN_TIMEOUT             bound of the graceful shutdown, in-flight messages included [20s]
//	DRAIN_DELAY                  how long /readyz answers 503 before the shutdown [5s]
//
// PostgreSQL (through PgBouncer in transaction pooling; pgx runs every
// statement in one round trip without named prepared statements):
//
//	POSTGRES_URL            a connection string (may list several hosts with target_session_attrs=read-write); or:
//	POSTGRES_HOST           the host, with POSTGRES_PORT, POSTGRES_DATABASE and POSTGRES_USER
//	POSTGRES_PORT           [5432]
//	POSTGRES_DATABASE       [orders]
//	POSTGRES_USER           the role
//	POSTGRES_PASSWORD_FILE  file holding the password (replaces one in POSTGRES_URL)
//	POSTGRES_SSLMODE        libpq sslmode with POSTGRES_HOST [prefer]
//	POSTGRES_MAX_CONNS      the pool's size [10]
//
// RabbitMQ:
//
//	RABBITMQ_URL            an amqp:// or amqps:// URI; or:
//	RABBITMQ_HOST           the host, with RABBITMQ_PORT, RABBITMQ_VHOST and the credential files
//	RABBITMQ_PORT           [5672]
//	RABBITMQ_VHOST          [/]
//	RABBITMQ_USERNAME_FILE  file holding the user name
//	RABBITMQ_PASSWORD_FILE  file holding the password
//	RABBITMQ_CA_FILE        PEM CA bundle; set, the connection uses TLS (amqps)
//
// Redis (redis-state: the status changes' pub/sub):
//
//	REDIS_STATE_ADDR           host:port of one Redis; or:
//	REDIS_STATE_SENTINELS      comma-separated host:port of the Sentinels, with REDIS_STATE_MASTER
//	REDIS_STATE_MASTER         the Sentinel master set's name
//	REDIS_STATE_PASSWORD_FILE  file holding the password (Redis and Sentinels)
//	REDIS_STATE_CA_FILE        PEM CA bundle; set, the connection uses TLS
//	REDIS_STATE_DB             the database number [0]
//
// The worker:
//
//	QUEUES           comma-separated queues to consume, one channel each [orders.created,orders.express]
//	PREFETCH         each channel's QoS: unacknowledged messages processed at once, 1..65535 [16]
//	RETRY_WINDOW     how long a transient failure (PostgreSQL down) is retried before the message returns to the queue [10s]
//	START_TIMEOUT    how long the stores are retried at start before the worker exits [2m]
package main
