package testserver

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedisKillAndReplica: a replica receives the master's writes; a
// killed server refuses connections and comes back with its data.
func TestRedisKillAndReplica(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	m := Redis(t)
	t.Logf("redis on %s ready in %s", m.Addr, time.Since(t0).Round(time.Millisecond))
	r := RedisReplica(t, m)
	assert.Equal(t, "master", m.Role(t))
	assert.Equal(t, "slave", r.Role(t))

	noAuth := redis.NewClient(&redis.Options{Addr: m.Addr, MaxRetries: -1})
	assert.ErrorContains(t, noAuth.Ping(ctx).Err(), "NOAUTH")
	noAuth.Close()

	mc, rc := m.Client(), r.Client()
	defer mc.Close()
	defer rc.Close()
	require.NoError(t, mc.Set(ctx, "cart:1", "3 items", time.Hour).Err())
	require.Eventually(t, func() bool { return rc.Get(ctx, "cart:1").Val() == "3 items" }, 5*time.Second, 10*time.Millisecond)

	// WAIT for the append-only file's fsync (everysec) before the crash.
	time.Sleep(1100 * time.Millisecond)
	m.Kill(t)
	assert.Error(t, mc.Ping(ctx).Err())
	m.Start(t)
	assert.Equal(t, "3 items", mc.Get(ctx, "cart:1").Val())
}

// TestRedisSentinelFailover: the sentinels promote a replica when the
// master is killed, and go-redis's failover client writes again.
func TestRedisSentinelFailover(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	s := RedisSentinel(t, "cache")
	t.Logf("3 redis + 3 sentinels ready in %s", time.Since(t0).Round(time.Millisecond))
	assert.Equal(t, s.Master.Addr, s.MasterAddr(t))

	c := redis.NewFailoverClient(s.FailoverOptions())
	defer c.Close()
	require.NoError(t, c.Set(ctx, "session:1", "alice", time.Hour).Err())

	t1 := time.Now()
	old := s.KillMaster(t)
	next := s.WaitFailover(t, old.Addr, 30*time.Second)
	t.Logf("failover from %s to %s: sentinels agree after %.2f s", old.Addr, next, time.Since(t1).Seconds())
	assert.NotEqual(t, old.Addr, next)

	require.Eventually(t, func() bool { return c.Set(ctx, "session:2", "bob", time.Hour).Err() == nil },
		20*time.Second, 50*time.Millisecond, "the failover client never wrote to the new master")
	t.Logf("failover client writing again %.2f s after the kill", time.Since(t1).Seconds())
	assert.Equal(t, "alice", c.Get(ctx, "session:1").Val())

	// The old master comes back as a replica of the new one.
	t2 := time.Now()
	old.Start(t)
	require.Eventually(t, func() bool { return old.Role(t) == "slave" }, 30*time.Second, 100*time.Millisecond)
	t.Logf("restarted old master turned into a replica after %.2f s", time.Since(t2).Seconds())
}
