package testserver

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Bouncer is a PgBouncer 1.18 on 127.0.0.1 in front of one PostgreSQL
// server, pooling the app role's database.
//
// In transaction pooling mode (the default here, and the cluster's),
// consecutive statements of one client outside a transaction may run on
// different server connections, and PgBouncer 1.18 does not track
// prepared statements (1.21 does, with max_prepared_statements). With
// pgx/v5 this works (TestPgBouncerTransactionMode proves each):
//   - QueryExecModeSimpleProtocol (no prepared statements at all);
//   - QueryExecModeExec and QueryExecModeCacheDescribe (the unnamed
//     statement is parsed, bound and executed in one message batch);
//   - anything inside an explicit transaction.
//
// And this does not: pgx's default QueryExecModeCacheStatement (named
// statements prepared on one server connection, executed later on
// another: "prepared statement \"stmtcache_...\" does not exist"), and
// QueryExecModeDescribeExec (describe and execute are two round trips).
// Session state (SET, LISTEN, advisory locks, temporary tables) does not
// survive a transaction either.
type Bouncer struct {
	Host     string // always 127.0.0.1
	Port     int
	User     string // the backend's app role
	Password string
	Database string
	// ConfigFile is pgbouncer.ini; LogFile its log (stderr).
	ConfigFile, LogFile string

	cfg  bouncerConfig
	dir  string
	acct *account
	proc *process
}

type bouncerConfig struct {
	poolMode      string
	poolSize      int
	maxClientConn int
	backend       *PG
}

// BouncerOption changes PgBouncer's configuration.
type BouncerOption func(*bouncerConfig)

// BouncerPoolMode sets pool_mode: "transaction" (the default), "session"
// or "statement".
func BouncerPoolMode(mode string) BouncerOption {
	return func(c *bouncerConfig) { c.poolMode = mode }
}

// BouncerPoolSize sets default_pool_size, the server connections per
// database and user (default 10).
func BouncerPoolSize(n int) BouncerOption {
	return func(c *bouncerConfig) { c.poolSize = n }
}

// BouncerMaxClientConn sets max_client_conn (default 200).
func BouncerMaxClientConn(n int) BouncerOption {
	return func(c *bouncerConfig) { c.maxClientConn = n }
}

// PgBouncer starts PgBouncer on a free port of 127.0.0.1 in front of
// backend's database, in transaction pooling mode unless an option says
// otherwise. Clients authenticate with SCRAM-SHA-256 as backend's app
// role (userlist holds its password, which PgBouncer also uses towards
// the server). The app role is also an admin of the console (database
// `pgbouncer`: SHOW POOLS, RECONNECT). It runs as the `postgres` user
// under root (PgBouncer refuses root) and stops when the test ends.
func PgBouncer(t testing.TB, backend *PG, opts ...BouncerOption) *Bouncer {
	t.Helper()
	bin := findBinary(t, "pgbouncer", "/usr/sbin/pgbouncer", "pgbouncer")
	acct := serverAccount(t)
	dir := serverDir(t, "pgb", acct)
	b := &Bouncer{
		Host: "127.0.0.1", Port: freePort(t), User: backend.User, Password: backend.Password, Database: backend.Database,
		ConfigFile: filepath.Join(dir, "pgbouncer.ini"), LogFile: filepath.Join(dir, "pgbouncer.log"),
		cfg: bouncerConfig{poolMode: "transaction", poolSize: 10, maxClientConn: 200, backend: backend},
		dir: dir, acct: acct,
	}
	for _, o := range opts {
		o(&b.cfg)
	}
	writeFile(t, filepath.Join(dir, "userlist.txt"), fmt.Sprintf("%q %q\n", b.User, b.Password), 0o600, acct)
	b.writeConfig(t)
	b.proc = start(t, procSpec{
		name: "pgbouncer " + addr(b.Port), path: bin, args: []string{b.ConfigFile},
		dir: dir, acct: acct, logPath: b.LogFile,
	})
	b.proc.waitUntil(t, "passing a query to "+addr(backend.Port), startTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, b.URL()+"&default_query_exec_mode=simple_protocol")
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "SELECT 1")
		return err
	})
	return b
}

func (b *Bouncer) writeConfig(t testing.TB) {
	t.Helper()
	c := b.cfg
	ini := fmt.Sprintf(`[databases]
%s = host=127.0.0.1 port=%d dbname=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
admin_users = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = %d
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
log_connections = 0
log_disconnections = 0
`, b.Database, c.backend.Port, c.backend.Database, b.Port, filepath.Join(b.dir, "userlist.txt"), b.User,
		c.poolMode, c.poolSize, c.maxClientConn)
	writeFile(t, b.ConfigFile, ini, 0o600, b.acct)
}

// URL returns postgres://app:<pw>@127.0.0.1:<port>/app?sslmode=disable.
func (b *Bouncer) URL() string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(b.User, b.Password), Host: addr(b.Port),
		Path: "/" + b.Database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Retarget points the pool at another server (a promoted replica) and
// reloads PgBouncer (SIGHUP): new server connections go to backend, idle
// ones to the old server are closed. Clients keep their connections.
func (b *Bouncer) Retarget(t testing.TB, backend *PG) {
	t.Helper()
	b.cfg.backend = backend
	b.writeConfig(t)
	if err := b.proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("testserver: reloading pgbouncer %s: %v", addr(b.Port), err)
	}
	b.proc.waitUntil(t, "using "+addr(backend.Port), startTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, b.URL()+"&default_query_exec_mode=simple_protocol")
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var port int
		if err := conn.QueryRow(ctx, "SELECT inet_server_port()").Scan(&port); err != nil {
			return err
		}
		if port != backend.Port {
			return fmt.Errorf("still served by port %d", port)
		}
		return nil
	})
}
