package testserver

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a Redis Sentinel deployment on 127.0.0.1: three data nodes
// (one master, two replicas) and three redis-sentinel processes (quorum
// 2, down-after-milliseconds 1000, failover-timeout 5000), all with one
// password (sentinels ask it of clients, of each other and of the data
// nodes).
type Sentinel struct {
	MasterName string
	Addrs      []string // the sentinels, 127.0.0.1:<port>
	Password   string
	// Master and Replicas are the roles at start; after a failover ask
	// [Sentinel.MasterAddr] and [Sentinel.Node].
	Master   *RedisServer
	Replicas []*RedisServer

	sentinels []*process
}

// RedisSentinel starts the deployment monitoring it as master (the master
// set's name) and returns once every sentinel knows the master, both
// replicas and the other two sentinels: a failover is possible from then
// on. It takes about 3 s (sentinels find each other through hello
// messages sent every 2 s).
func RedisSentinel(t testing.TB, master string) *Sentinel {
	t.Helper()
	bin := findBinary(t, "redis-sentinel", "/usr/bin/redis-sentinel", "redis-sentinel")
	m := Redis(t)
	s := &Sentinel{MasterName: master, Password: m.Password, Master: m,
		Replicas: []*RedisServer{RedisReplica(t, m), RedisReplica(t, m)}}
	for range 3 {
		port := freePort(t)
		dir := serverDir(t, "sentinel", nil)
		conf := filepath.Join(dir, "sentinel.conf")
		writeFile(t, conf, fmt.Sprintf(`bind 127.0.0.1
port %d
daemonize no
dir %s
logfile ""
requirepass %s
sentinel sentinel-pass %[3]s
sentinel announce-ip 127.0.0.1
sentinel monitor %s 127.0.0.1 %d 2
sentinel auth-pass %[4]s %[3]s
sentinel down-after-milliseconds %[4]s 1000
sentinel failover-timeout %[4]s 5000
sentinel parallel-syncs %[4]s 1
`, port, dir, s.Password, master, m.Port), 0o600, nil)
		a := addr(port)
		s.Addrs = append(s.Addrs, a)
		s.sentinels = append(s.sentinels, start(t, procSpec{name: "redis-sentinel " + a, path: bin,
			args: []string{conf}, dir: dir, logPath: filepath.Join(dir, "sentinel.log")}))
	}
	for i, p := range s.sentinels {
		c := s.sentinelClient(s.Addrs[i])
		p.waitUntil(t, "knowing 2 replicas and 2 other sentinels", startTimeout, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			reps, err := c.Replicas(ctx, master).Result()
			if err != nil {
				return err
			}
			sens, err := c.Sentinels(ctx, master).Result()
			if err != nil {
				return err
			}
			if len(reps) != 2 || len(sens) != 2 {
				return fmt.Errorf("knows %d replicas and %d sentinels", len(reps), len(sens))
			}
			return nil
		})
		c.Close()
	}
	return s
}

func (s *Sentinel) sentinelClient(a string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: a, Password: s.Password, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
}

// FailoverOptions returns options for go-redis's NewFailoverClient on this
// deployment.
func (s *Sentinel) FailoverOptions() *redis.FailoverOptions {
	return &redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.Addrs,
		SentinelPassword: s.Password, Password: s.Password}
}

// Nodes returns the three data nodes.
func (s *Sentinel) Nodes() []*RedisServer { return append([]*RedisServer{s.Master}, s.Replicas...) }

// Node returns the data node at addr (127.0.0.1:<port>), or nil.
func (s *Sentinel) Node(addr string) *RedisServer {
	for _, n := range s.Nodes() {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// MasterAddr returns the master's address as the first sentinel that
// answers reports it.
func (s *Sentinel) MasterAddr(t testing.TB) string {
	t.Helper()
	var last error
	for _, a := range s.Addrs {
		if m, err := s.masterFrom(a); err == nil {
			return m
		} else {
			last = err
		}
	}
	t.Fatalf("testserver: no sentinel of %s names a master: %v", s.MasterName, last)
	return ""
}

func (s *Sentinel) masterFrom(a string) (string, error) {
	c := s.sentinelClient(a)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hp, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// KillMaster SIGKILLs the current master and returns it (restart it with
// Start: sentinels make it a replica of the new master).
func (s *Sentinel) KillMaster(t testing.TB) *RedisServer {
	t.Helper()
	a := s.MasterAddr(t)
	n := s.Node(a)
	if n == nil {
		t.Fatalf("testserver: sentinels name %s as master of %s, which is none of its nodes", a, s.MasterName)
	}
	n.Kill(t)
	return n
}

// WaitFailover waits until a majority (2) of the sentinels name a master
// other than old and that node reports role master, and returns its
// address. It fails the test after timeout.
func (s *Sentinel) WaitFailover(t testing.TB, old string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	votes := map[string]int{}
	for {
		clear(votes)
		for _, a := range s.Addrs {
			if m, err := s.masterFrom(a); err == nil && m != old {
				votes[m]++
			}
		}
		for m, v := range votes {
			if n := s.Node(m); v >= 2 && n != nil && n.Running() && n.Role(t) == "master" {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testserver: no failover of %s away from %s within %s (sentinels name %v)\nsentinel log %s:\n%s",
				s.MasterName, old, timeout, votes, s.sentinels[0].logPath, logTail(s.sentinels[0].logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
