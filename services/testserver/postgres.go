package testserver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PG is a PostgreSQL 15 server on 127.0.0.1: a primary from [Postgres] or
// a streaming replica from [PG.StartReplica]. The application connects as
// User (`app`, owner of Database `app`) with Password over TCP (SCRAM);
// the harness itself connects as the superuser `postgres` over the Unix
// socket in SocketDir (trust).
type PG struct {
	Host     string // always 127.0.0.1
	Port     int
	User     string // app
	Password string // random, per primary (replicas share it)
	Database string // app
	DataDir  string
	// SocketDir holds the Unix socket (.s.PGSQL.<Port>).
	SocketDir string
	// LogFile receives the server's stderr (log_destination=stderr).
	LogFile string
	// Name is the node's cluster_name: "primary" or "replica-<port>"; a
	// replica's walreceiver reports it as application_name, which is what
	// [PG.SetSynchronous] names.
	Name string

	bin          string
	acct         *account
	replPassword string
	proc         *process
}

// pgConfig is appended to the postgresql.conf initdb wrote. Port, socket
// directory and cluster_name are given per node on the command line.
const pgConfig = `
# testserver
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '256MB'
hot_standby = on
# fsync off only skips flushing to disk: a process crash (Stop) loses
# nothing the OS already has. synchronous_commit stays on.
fsync = off
synchronous_commit = on
shared_buffers = '32MB'
max_connections = 200
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
`

// pgHBA: the superuser over the socket without a password; the app role
// and replication (role replicator) over 127.0.0.1 with SCRAM.
const pgHBA = `local all all trust
host all all 127.0.0.1/32 scram-sha-256
host replication replicator 127.0.0.1/32 scram-sha-256
`

// Postgres starts a PostgreSQL 15 primary on a free port of 127.0.0.1
// (wal_level replica, up to 10 WAL senders, hot_standby, fsync off,
// synchronous_commit on), with role `app` (random password) owning
// database `app`, and role `replicator` allowed to stream from 127.0.0.1.
// The data directory is a copy of a template made once by initdb
// (see pgTemplate). Data and socket live in a fresh directory under os.TempDir() owned by
// the `postgres` user when the tests run as root. The server is stopped
// and its directory removed when the test ends. initdb, start and setup
// take about 1.5 s here.
func Postgres(t testing.TB) *PG {
	t.Helper()
	bin := pgBinDir(t)
	acct := serverAccount(t)
	root := serverDir(t, "pg", acct)
	p := &PG{
		Host: "127.0.0.1", Port: freePort(t), User: "app", Password: secret(), Database: "app",
		DataDir: filepath.Join(root, "data"), SocketDir: root, LogFile: filepath.Join(root, "postgres.log"),
		Name: "primary", bin: bin, acct: acct, replPassword: secret(),
	}
	run(t, nil, nil, time.Minute, "cp", "-a", pgTemplate(t, bin, acct), p.DataDir)
	p.Start(t)
	p.superExec(t, "postgres",
		"CREATE ROLE app LOGIN PASSWORD "+quoteLiteral(p.Password),
		"CREATE DATABASE app OWNER app",
		"CREATE ROLE replicator LOGIN REPLICATION PASSWORD "+quoteLiteral(p.replPassword))
	return p
}

var pgTemplates sync.Mutex

// pgTemplate returns a data directory fresh from initdb, with pgConfig and
// pgHBA, that Postgres copies (cp -a, 0.2 s) instead of running initdb
// (2 s) for every server. It is made once per PostgreSQL version, config
// and owner, under /tmp/cloudscale-testserver-<uid>, and never changes
// after its rename into place.
func pgTemplate(t testing.TB, bin string, acct *account) string {
	t.Helper()
	pgTemplates.Lock()
	defer pgTemplates.Unlock()
	// The postgres binary's size and time stand for its exact version.
	var version string
	if st, err := os.Stat(filepath.Join(bin, "postgres")); err == nil {
		version = fmt.Sprint(st.Size(), st.ModTime().UnixNano())
	}
	owner := "self"
	if acct != nil {
		owner = acct.name
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{bin, version, pgConfig, pgHBA, owner}, "\x00")))
	// Under the temp dir: the postgres user must reach it to run initdb,
	// and root's home is closed to it.
	base := filepath.Join(os.TempDir(), fmt.Sprintf("cloudscale-testserver-%d", os.Geteuid()))
	dir := filepath.Join(base, fmt.Sprintf("pg-%s-%x", filepath.Base(filepath.Dir(bin)), sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err == nil {
		return filepath.Join(dir, "data")
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatalf("testserver: making the PostgreSQL template directory %s: %v", base, err)
	}
	tmp, err := os.MkdirTemp(base, "pg-tmp-")
	if err != nil {
		t.Fatalf("testserver: making a PostgreSQL template under %s: %v", base, err)
	}
	defer os.RemoveAll(tmp)
	chown(t, tmp, acct)
	data := filepath.Join(tmp, "data")
	run(t, acct, nil, 2*time.Minute, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	appendFile(t, filepath.Join(data, "postgresql.conf"), pgConfig)
	writeFile(t, filepath.Join(data, "pg_hba.conf"), pgHBA, 0o600, acct)
	// Another test binary may have won the race: its template is as good.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); statErr != nil {
			t.Fatalf("testserver: moving the PostgreSQL template into %s: %v", dir, err)
		}
	}
	return filepath.Join(dir, "data")
}

// pgBinDir finds Debian's PostgreSQL programs, preferring version 15.
func pgBinDir(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	cands := []string{"/usr/lib/postgresql/15/bin/postgres"}
	for _, d := range dirs {
		cands = append(cands, filepath.Join(d, "postgres"))
	}
	return filepath.Dir(findBinary(t, "postgresql-15", cands...))
}

func appendFile(t testing.TB, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("testserver: opening %s: %v", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatalf("testserver: appending to %s: %v", path, err)
	}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// URL returns the app's connection URL,
// postgres://app:<pw>@127.0.0.1:<port>/app?sslmode=disable.
func (p *PG) URL() string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(p.User, p.Password), Host: addr(p.Port),
		Path: "/" + p.Database, RawQuery: "sslmode=disable"}
	return u.String()
}

// MultiHostURL returns a libpq multi-host URL over nodes that pgx
// understands: postgres://app:<pw>@127.0.0.1:p1,127.0.0.1:p2/app?sslmode=disable&target_session_attrs=read-write.
// pgx tries the hosts in order and keeps the first that accepts writes, so
// a pool on it reaches a promoted replica without a restart.
func MultiHostURL(nodes ...*PG) string {
	if len(nodes) == 0 {
		panic("testserver.MultiHostURL: no nodes")
	}
	hosts := make([]string, len(nodes))
	for i, n := range nodes {
		hosts[i] = addr(n.Port)
	}
	n := nodes[0]
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&target_session_attrs=read-write",
		url.UserPassword(n.User, n.Password).String(), strings.Join(hosts, ","), n.Database)
}

// AdminDSN returns a keyword/value connection string for the superuser
// `postgres` over the Unix socket (trust), to database db.
func (p *PG) AdminDSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable connect_timeout=5", p.SocketDir, p.Port, db)
}

// Start starts the server (again) on its port with its data: after
// [PG.Stop] it runs crash recovery. It waits until the server accepts
// connections (a replica: until it is consistent and read-only).
func (p *PG) Start(t testing.TB) {
	t.Helper()
	if p.proc != nil && !p.proc.exited() {
		t.Fatalf("testserver: postgres %s is already running", addr(p.Port))
	}
	p.proc = start(t, procSpec{
		name: "postgres " + p.Name + " " + addr(p.Port), path: filepath.Join(p.bin, "postgres"),
		args: []string{"-D", p.DataDir, "-p", fmt.Sprint(p.Port), "-k", p.SocketDir, "-c", "cluster_name=" + p.Name},
		dir:  p.SocketDir, acct: p.acct, logPath: p.LogFile,
	})
	p.proc.waitUntil(t, "accepting connections", startTimeout, func() error {
		return p.query(context.Background(), "postgres", "SELECT 1", nil)
	})
}

// Stop crashes the server as `pg_ctl stop -m immediate` does (SIGQUIT to
// the postmaster: no checkpoint, crash recovery at the next Start) and
// waits until it is gone.
func (p *PG) Stop(t testing.TB) {
	t.Helper()
	if p.proc == nil || p.proc.exited() {
		t.Fatalf("testserver: postgres %s is not running", addr(p.Port))
	}
	if !p.proc.stop(syscall.SIGQUIT, 30*time.Second) {
		t.Logf("testserver: postgres %s did not end within 30 s of SIGQUIT; killed", addr(p.Port))
	}
}

// StartReplica takes a base backup of p (pg_basebackup -R -X stream as
// role replicator over 127.0.0.1) and starts it as a hot standby on its
// own port, streaming from p. It returns once the replica's WAL receiver
// streams.
func (p *PG) StartReplica(t testing.TB) *PG {
	t.Helper()
	root := serverDir(t, "pgr", p.acct)
	port := freePort(t)
	r := &PG{
		Host: "127.0.0.1", Port: port, User: p.User, Password: p.Password, Database: p.Database,
		DataDir: filepath.Join(root, "data"), SocketDir: root, LogFile: filepath.Join(root, "postgres.log"),
		Name: fmt.Sprintf("replica-%d", port), bin: p.bin, acct: p.acct, replPassword: p.replPassword,
	}
	env := append(os.Environ(), "PGPASSWORD="+p.replPassword)
	run(t, p.acct, env, 2*time.Minute, filepath.Join(p.bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", fmt.Sprint(p.Port),
		"-U", "replicator", "-D", r.DataDir, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	r.Start(t)
	r.waitStreaming(t, startTimeout)
	return r
}

func (p *PG) waitStreaming(t testing.TB, timeout time.Duration) {
	t.Helper()
	p.proc.waitUntil(t, "streaming from its primary", timeout, func() error {
		var status string
		if err := p.query(context.Background(), "postgres", "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')", &status); err != nil {
			return err
		}
		if status != "streaming" {
			return fmt.Errorf("WAL receiver status %q", status)
		}
		return nil
	})
}

// Promote promotes a replica (pg_promote(), as `pg_ctl promote` does) and
// waits until it is out of recovery and the app role can write to it.
func (p *PG) Promote(t testing.TB) {
	t.Helper()
	var ok bool
	if err := p.query(context.Background(), "postgres", "SELECT pg_promote(true, 60)", &ok); err != nil || !ok {
		t.Fatalf("testserver: promoting %s %s: promoted=%v, %v\nlog %s:\n%s", p.Name, addr(p.Port), ok, err, p.LogFile, logTail(p.LogFile))
	}
	p.proc.waitUntil(t, "accepting writes after promotion", startTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, p.URL()+"&target_session_attrs=read-write")
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
}

// IsPrimary reports whether the server is out of recovery (accepts writes).
func (p *PG) IsPrimary(t testing.TB) bool {
	t.Helper()
	var inRecovery bool
	if err := p.query(context.Background(), "postgres", "SELECT pg_is_in_recovery()", &inRecovery); err != nil {
		t.Fatalf("testserver: asking %s whether it is in recovery: %v", addr(p.Port), err)
	}
	return !inRecovery
}

// SetSynchronous makes commits on p wait until one of replicas has
// flushed them (synchronous_standby_names = 'ANY 1 (...)', synchronous_commit
// on), so a promoted replica holds every commit a client saw: what a
// zero-loss failover test needs. It returns once a replica reports sync.
// The setting lives in p's postgresql.auto.conf: a replica promoted later
// does not inherit it.
func (p *PG) SetSynchronous(t testing.TB, replicas ...*PG) {
	t.Helper()
	names := make([]string, len(replicas))
	for i, r := range replicas {
		names[i] = `"` + r.Name + `"`
	}
	p.superExec(t, "postgres",
		"ALTER SYSTEM SET synchronous_standby_names = "+quoteLiteral("ANY 1 ("+strings.Join(names, ",")+")"),
		"SELECT pg_reload_conf()")
	p.proc.waitUntil(t, "a synchronous standby", 30*time.Second, func() error {
		var n int
		if err := p.query(context.Background(), "postgres", "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync','quorum')", &n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no standby in sync_state sync or quorum")
		}
		return nil
	})
}

// WaitReplayed waits until replica has replayed everything p has written
// so far (its replay LSN reached p's current WAL LSN).
func (p *PG) WaitReplayed(t testing.TB, replica *PG, timeout time.Duration) {
	t.Helper()
	var lsn string
	if err := p.query(context.Background(), "postgres", "SELECT pg_current_wal_lsn()::text", &lsn); err != nil {
		t.Fatalf("testserver: reading the WAL position of %s: %v", addr(p.Port), err)
	}
	replica.proc.waitUntil(t, "replay of "+lsn, timeout, func() error {
		var done bool
		if err := replica.query(context.Background(), "postgres", "SELECT pg_last_wal_replay_lsn() >= "+quoteLiteral(lsn)+"::pg_lsn", &done); err != nil {
			return err
		}
		if !done {
			return fmt.Errorf("not replayed yet")
		}
		return nil
	})
}

// query runs sql as the superuser over the socket; dest (if not nil)
// receives the single value of the single row.
func (p *PG) query(ctx context.Context, db, sql string, dest any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.AdminDSN(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if dest == nil {
		_, err = conn.Exec(ctx, sql)
		return err
	}
	return conn.QueryRow(ctx, sql).Scan(dest)
}

func (p *PG) superExec(t testing.TB, db string, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if err := p.query(context.Background(), db, s, nil); err != nil {
			t.Fatalf("testserver: postgres %s: %s: %v", addr(p.Port), redactPassword(s), err)
		}
	}
}

// redactPassword hides the literal after PASSWORD in a statement for
// failure messages.
func redactPassword(s string) string {
	if i := strings.Index(s, "PASSWORD '"); i >= 0 {
		return s[:i] + "PASSWORD '***'"
	}
	return s
}
