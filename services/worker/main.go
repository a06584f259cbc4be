package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/cloudscale/platform/services/config"
	"github.com/cloudscale/platform/services/server"
	"github.com/cloudscale/platform/services/stores"
	"github.com/cloudscale/platform/services/telemetry"
	"github.com/cloudscale/platform/services/worker/consumer"
)

func main() {
	ctx, stop := server.SignalContext()
	defer stop()
	if err := run(ctx, nil); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("order-worker stopped", "service", "order-worker", "error", err)
		os.Exit(1)
	}
}

// run loads the configuration from the environment, sets up telemetry and
// serves until ctx is done; ln, when set, is listened on instead of
// LISTEN_ADDR (tests).
func run(ctx context.Context, ln net.Listener) error {
	cfg := Config{Service: config.Service{Name: "order-worker"}}
	if err := config.Load(&cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	tel, err := telemetry.New(ctx, telemetry.Options{
		Service: cfg.Name, Version: cfg.Version, OTLPEndpoint: cfg.OTLPEndpoint,
		Sampling: cfg.TraceSampling, LogLevel: cfg.LogLevel,
	})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			tel.Logger.Warn("telemetry shutdown", "error", err)
		}
	}()
	return serve(ctx, cfg, tel, ln)
}

// serve connects PostgreSQL, Redis and RabbitMQ (retrying each for
// cfg.StartTimeout), then consumes and serves /healthz, /readyz and
// /metrics until ctx is done.
func serve(ctx context.Context, cfg Config, tel *telemetry.Telemetry, ln net.Listener) error {
	log := tel.Logger
	pcfg, err := cfg.Postgres.PoolConfig()
	if err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg) // connects lazily
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	defer pool.Close()
	if err := retry(ctx, log, cfg.StartTimeout, "postgresql", pool.Ping); err != nil {
		return err
	}
	rdb, err := stores.OpenRedis(cfg.Redis, stores.Timeouts{Dial: 5 * time.Second, Read: 3 * time.Second, Write: 3 * time.Second})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer rdb.Close()
	if err := retry(ctx, log, cfg.StartTimeout, "redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }); err != nil {
		return err
	}
	dial, err := cfg.RabbitMQ.Dialer(cfg.Name)
	if err != nil {
		return fmt.Errorf("rabbitmq: %w", err)
	}
	if err := retry(ctx, log, cfg.StartTimeout, "rabbitmq", func(context.Context) error {
		conn, err := dial()
		if err == nil {
			_ = conn.Close()
		}
		return err
	}); err != nil {
		return err
	}

	metrics, err := consumer.NewMetrics(tel.Registry)
	if err == nil {
		err = poolGauges(tel.Registry, pool)
	}
	if err != nil {
		return err
	}
	c, err := consumer.New(consumer.Options{
		Name: cfg.Name, Dial: dial, Queues: cfg.Queues, Prefetch: cfg.Prefetch, DB: pool, Status: rdb,
		Logger: log, Tracer: tel.Tracer, Metrics: metrics, RetryWindow: cfg.RetryWindow,
	})
	if err != nil {
		return err
	}
	return server.Run(ctx, server.Options{
		Addr: cfg.Listen, Listener: ln, Registry: tel.Registry, Logger: log,
		ShutdownTimeout: cfg.ShutdownTimeout, DrainDelay: cfg.DrainDelay,
		Checks: checks(pool, rdb, c),
	}, c.Run)
}

// checks are /readyz's: PostgreSQL answers and holds the schema (the
// API migrates it), the consumer is connected to RabbitMQ, Redis answers.
func checks(pool *pgxpool.Pool, rdb redis.UniversalClient, c *consumer.Consumer) []server.Check {
	return []server.Check{
		{Name: "postgresql", Probe: func(ctx context.Context) error { return consumer.SchemaReady(ctx, pool) }},
		{Name: "rabbitmq", Probe: c.Ready},
		{Name: "redis", Probe: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
	}
}

// poolGauges exports the PostgreSQL pool's connections under the API's
// names.
func poolGauges(reg prometheus.Registerer, pool *pgxpool.Pool) error {
	for _, g := range []struct {
		name, help string
		f          func(*pgxpool.Stat) int32
	}{
		{"pgx_pool_acquired_conns", "PostgreSQL connections in use.", (*pgxpool.Stat).AcquiredConns},
		{"pgx_pool_idle_conns", "PostgreSQL connections idle in the pool.", (*pgxpool.Stat).IdleConns},
		{"pgx_pool_total_conns", "PostgreSQL connections open (POSTGRES_MAX_CONNS at most).", (*pgxpool.Stat).TotalConns},
	} {
		if err := telemetry.Gauge(reg, g.name, g.help, func() float64 { return float64(g.f(pool.Stat())) }); err != nil {
			return err
		}
	}
	return nil
}

// retry calls f until it succeeds, ctx is done or timeout passed
// (backoff 0.5s doubling to 5s); the error names what.
func retry(ctx context.Context, log *slog.Logger, timeout time.Duration, what string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := 500 * time.Millisecond
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(actx)
		acancel()
		if err == nil {
			return nil
		}
		log.Warn("waiting for a store", "store", what, "error", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no answer within %v: %w", what, timeout, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
