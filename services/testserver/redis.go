package testserver

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server 7.0 on 127.0.0.1 with a password
// (requirepass, and masterauth with the same password so any node can
// replicate from any other), append-only persistence (fsync every second)
// and its data in Dir. The type is not named Redis because the starter
// [Redis] is.
type RedisServer struct {
	Addr     string // 127.0.0.1:<port>
	Port     int
	Password string
	Dir      string
	LogFile  string

	bin       string
	replicaOf string // "127.0.0.1 <port>" at first start, or ""
	proc      *process
}

// Redis starts a redis-server on a free port of 127.0.0.1 with a random
// password, and stops it when the test ends.
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	return startRedis(t, secret(), "")
}

// RedisReplica starts a redis-server replicating from master (same
// password) and returns once its link to master is up and the initial
// sync is done.
func RedisReplica(t testing.TB, master *RedisServer) *RedisServer {
	t.Helper()
	r := startRedis(t, master.Password, master.Addr)
	r.proc.waitUntil(t, "replicating from "+master.Addr, startTimeout, func() error {
		info, err := r.info("replication")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") || strings.Contains(info, "master_sync_in_progress:1") {
			return fmt.Errorf("replication not up: %s", strings.ReplaceAll(strings.TrimSpace(info), "\r\n", " "))
		}
		return nil
	})
	return r
}

func startRedis(t testing.TB, password, masterAddr string) *RedisServer {
	t.Helper()
	bin := findBinary(t, "redis-server", "/usr/bin/redis-server", "redis-server")
	dir := serverDir(t, "redis", nil)
	port := freePort(t)
	r := &RedisServer{Addr: addr(port), Port: port, Password: password, Dir: dir,
		LogFile: filepath.Join(dir, "redis.log"), bin: bin}
	if masterAddr != "" {
		r.replicaOf = strings.Replace(masterAddr, ":", " ", 1)
	}
	r.Start(t)
	return r
}

// Start starts the server (again) on its port with its data directory.
// A node that sentinels moved under another master keeps that setting:
// redis-server is started with the replicaof it had at first, and
// sentinels correct it within a second.
func (r *RedisServer) Start(t testing.TB) {
	t.Helper()
	if r.proc != nil && !r.proc.exited() {
		t.Fatalf("testserver: redis %s is already running", r.Addr)
	}
	args := []string{
		"--bind", "127.0.0.1", "--port", fmt.Sprint(r.Port), "--dir", r.Dir,
		"--requirepass", r.Password, "--masterauth", r.Password,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		"--daemonize", "no", "--logfile", "", "--protected-mode", "yes",
		// A replica's full sync starts at once, not 5 s later (the default
		// waits for more replicas to share one transfer).
		"--repl-diskless-sync-delay", "0",
	}
	if r.replicaOf != "" {
		args = append(args, "--replicaof", r.replicaOf)
	}
	r.proc = start(t, procSpec{name: "redis " + r.Addr, path: r.bin, args: args, dir: r.Dir, logPath: r.LogFile})
	r.proc.waitUntil(t, "answering PING", startTimeout, func() error {
		c := r.Client()
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	})
}

// Kill SIGKILLs the server (a crash: what the last second of appendfsync
// did not write is lost) and waits until it is gone.
func (r *RedisServer) Kill(t testing.TB) {
	t.Helper()
	if r.proc == nil || r.proc.exited() {
		t.Fatalf("testserver: redis %s is not running", r.Addr)
	}
	r.proc.stop(syscall.SIGKILL, 10*time.Second)
}

// Running reports whether the server process is alive.
func (r *RedisServer) Running() bool { return r.proc != nil && !r.proc.exited() }

// Client returns a go-redis client for the server (the caller closes it).
func (r *RedisServer) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
}

// Role returns the server's INFO replication role: "master" or "slave".
func (r *RedisServer) Role(t testing.TB) string {
	t.Helper()
	info, err := r.info("replication")
	if err != nil {
		t.Fatalf("testserver: INFO replication of redis %s: %v", r.Addr, err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "role:"); ok {
			return v
		}
	}
	t.Fatalf("testserver: INFO replication of redis %s has no role line", r.Addr)
	return ""
}

func (r *RedisServer) info(section string) (string, error) {
	c := r.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Info(ctx, section).Result()
}
