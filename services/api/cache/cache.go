// Package cache is the API's response cache in Redis (the redis-cache
// instance, allkeys-lru): JSON values under a key with a TTL, deleted
// explicitly when the data they hold changes. The cache is never a reason
// to fail a request: when its Redis is down or slow, reads are misses and
// writes are skipped; each such error is logged and counted
// (api_cache_errors_total).
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Timeout bounds each cache call, so that a Redis that is down costs a
// request at most this much.
const Timeout = 300 * time.Millisecond

// Cache stores JSON values in Redis with a TTL.
type Cache struct {
	rdb                  redis.UniversalClient
	ttl                  time.Duration
	log                  *slog.Logger
	hits, misses, errors prometheus.Counter
}

// New returns a cache over rdb whose entries live ttl, and registers
// api_cache_hits_total, api_cache_misses_total and api_cache_errors_total
// with reg.
func New(rdb redis.UniversalClient, ttl time.Duration, log *slog.Logger, reg prometheus.Registerer) (*Cache, error) {
	c := &Cache{rdb: rdb, ttl: ttl, log: log,
		hits:   prometheus.NewCounter(prometheus.CounterOpts{Name: "api_cache_hits_total", Help: "Cache reads that found the entry."}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{Name: "api_cache_misses_total", Help: "Cache reads that did not find the entry (errors included)."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "api_cache_errors_total", Help: "Cache calls that failed (Redis down or slow); the request went on without the cache."}),
	}
	for _, m := range []prometheus.Collector{c.hits, c.misses, c.errors} {
		if err := reg.Register(m); err != nil {
			return nil, fmt.Errorf("register cache metrics: %w", err)
		}
	}
	return c, nil
}

// Get decodes the entry key into v and reports whether it was found. An
// error (Redis down, an entry that does not decode) is a miss.
func (c *Cache) Get(ctx context.Context, key string, v any) bool {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	b, err := c.rdb.Get(ctx, key).Bytes()
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	switch {
	case err == nil:
		c.hits.Inc()
		return true
	case errors.Is(err, redis.Nil):
	default:
		c.failed(ctx, "read", key, err)
	}
	c.misses.Inc()
	return false
}

// Set stores v (JSON) under key for the cache's TTL; an error is logged
// and counted only.
func (c *Cache) Set(ctx context.Context, key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.failed(ctx, "encode", key, err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := c.rdb.Set(ctx, key, b, c.ttl).Err(); err != nil {
		c.failed(ctx, "write", key, err)
	}
}

// Delete removes keys (an invalidation). It returns the error too: a
// writer may want to know that a stale entry may live until its TTL.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := c.rdb.Del(ctx, keys...).Err(); err != nil {
		c.failed(ctx, "invalidate", keys[0], err)
		return err
	}
	return nil
}

func (c *Cache) failed(ctx context.Context, op, key string, err error) {
	c.errors.Inc()
	c.log.WarnContext(ctx, "cache "+op+" failed; going on without the cache", "key", key, "error", err)
}
