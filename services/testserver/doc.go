// Package testserver starts real servers on 127.0.0.1 for the services'
// integration and failure tests: PostgreSQL 15 (primary, streaming
// replicas, crash and promotion), PgBouncer 1.18, Redis 7.0 (replicas,
// and Sentinel with three sentinels), RabbitMQ 3.10 and a MongoDB
// wire-protocol server (FerretDB v1 embedded).
//
// Every starter takes a testing.TB, picks free ports on 127.0.0.1 (from
// 15000-31999, below the kernel's ephemeral range), keeps its data in a
// fresh directory, waits until the server answers (a deadline, then
// t.Fatal with the tail of the server's log) and registers a cleanup that
// stops the server and kills what is left of its process group. Server
// processes also die with the test binary (Pdeathsig). A missing server
// program fails the test naming its Debian package; `make tools`
// (scripts/tools.sh servers) installs them all. Nothing is skipped.
//
// Running as root (CI), PostgreSQL and PgBouncer, which refuse root, run
// as the `postgres` system user in directories it owns under os.TempDir()
// (not t.TempDir(), whose parents only root may enter). Redis, the
// sentinels and RabbitMQ run as the current user.
//
// # Start times (2 cores shared with other builds)
//
//   - Postgres: about 1.5 s (a copy of an initdb template made once per
//     machine in /tmp/cloudscale-testserver-<uid>; initdb itself takes 2 s);
//     StartReplica 0.7-1.1 s; Stop and Promote 0.15 s, and a pgx pool on
//     MultiHostURL writes again 0.2-0.3 s after the crash.
//   - PgBouncer: 0.1 s. Redis: 0.1 s; RedisReplica 0.2 s.
//   - RedisSentinel: about 2.5 s; a failover after KillMaster takes 2.3 s
//     (down-after-milliseconds 1000) until the sentinels agree and go-redis's
//     failover client writes again.
//   - RabbitMQ: 9-20 s to a first boot and 8-12 s to a restart while other
//     builds load the machine (RabbitMQ's own boot steps dominate). Tests
//     that only publish and consume share one node per test binary with
//     [SharedRabbitMQ] and a TestMain calling [Main]; tests that restart
//     or kill the broker start their own [RabbitMQ].
//   - MongoDB (FerretDB): about 1 ms.
//
// # PgBouncer in transaction mode
//
// See [Bouncer]: with pgx/v5, use QueryExecModeSimpleProtocol,
// QueryExecModeExec or QueryExecModeCacheDescribe (the URL parameter
// default_query_exec_mode=simple_protocol|exec|cache_describe); the default
// QueryExecModeCacheStatement fails once a client's statements move to
// another server connection, since PgBouncer 1.18 has no prepared-statement
// support (1.21 added max_prepared_statements).
//
// # FerretDB v1.24.2 (SQLite handler): what it refuses
//
// Measured with go.mongodb.org/mongo-driver/v2 v2.10.0
// (TestMongoDBLimits asserts each error):
//
//   - text index (Keys {name: "text"}):
//     (IndexNotFound) can't find index with key: { name: "text" }
//   - $text query: (BadValue) unknown top level operator: $text. If you
//     have a field name that starts with a '$' symbol, consider using
//     $getField or $setField.
//   - transactions (session.WithTransaction):
//     (FailedToParse) insert: unknown field "startTransaction"
//   - change streams (Watch): (NotImplemented) `aggregate` stage
//     "$changeStream" is not implemented yet
//   - $lookup: (NotImplemented) `aggregate` stage "$lookup" is not
//     implemented yet
//   - TTL index (expireAfterSeconds): (NotImplemented) Index option
//     "expireAfterSeconds" is not implemented yet
//   - partial index (partialFilterExpression): (NotImplemented) Index
//     option "partialFilterExpression" is not implemented yet
//   - 2dsphere index: (IndexNotFound) can't find index with key:
//     { loc: "2dsphere" }
//   - collation on find: (NotImplemented) find: support for field
//     "collation" ... is not implemented yet
//
// What works: ping, insert (one and many), find with filters on nested
// fields, $regex, sort, update with $inc, unique indexes (duplicate key
// errors as MongoDB reports them), $group aggregation. FerretDB here has
// no authentication. A service's text search therefore needs its query
// path kept small and tested apart from FerretDB.
//
// # RabbitMQ 3.10 (Debian) against the cluster's 4.x
//
//   - Quorum queues refuse x-max-priority: PRECONDITION_FAILED - invalid
//     arg 'x-max-priority' for queue ... of queue type rabbit_quorum_queue.
//     4.0 quorum queues have two priorities (normal, and high for message
//     priority above 4) without the argument. Priority on 3.10 needs a
//     classic queue with x-max-priority (accepted).
//   - x-delivery-limit on quorum queues is accepted but has no default on
//     3.10; 4.0 sets a default delivery limit of 20.
//   - rabbitmq.conf has no default_queue_type (4.x has it, and per-vhost
//     defaults came in 3.11): queues must say x-queue-type themselves.
//   - Stream queues (x-queue-type stream) exist on both.
//   - 3.10 stores metadata in Mnesia; 4.x may use Khepri. Classic mirrored
//     queues still exist on 3.10 and are gone in 4.0. Neither matters to
//     a single-node test.
//   - A node boots with all feature flags enabled, and default_user app
//     (administrator, full permissions on "/") from rabbitmq.conf.
package testserver
