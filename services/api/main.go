package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cloudscale/platform/services/api/cache"
	"github.com/cloudscale/platform/services/api/catalog"
	"github.com/cloudscale/platform/services/api/httpapi"
	"github.com/cloudscale/platform/services/api/session"
	"github.com/cloudscale/platform/services/config"
	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/server"
	"github.com/cloudscale/platform/services/stores"
	"github.com/cloudscale/platform/services/telemetry"
)

//go:embed openapi.json
var spec []byte

func main() {
	cfg := Config{Service: config.Service{Name: "api-service"}}
	if err := config.Load(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "api-service: configuration:", err)
		os.Exit(2)
	}
	ctx, stop := server.SignalContext()
	defer stop()
	tel, err := telemetry.New(ctx, telemetry.Options{
		Service: cfg.Name, Version: cfg.Version, OTLPEndpoint: cfg.OTLPEndpoint,
		Sampling: cfg.TraceSampling, LogLevel: cfg.LogLevel,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "api-service:", err)
		os.Exit(1)
	}
	err = run(ctx, cfg, tel)
	if serr := tel.Shutdown(context.WithoutCancel(ctx)); serr != nil {
		tel.Logger.Warn("telemetry shutdown", "error", serr)
	}
	if err != nil {
		tel.Logger.Error("api-service stopped", "error", err)
		os.Exit(1)
	}
}

// run connects the stores, migrates, builds the app and serves until ctx
// is done.
func run(ctx context.Context, cfg Config, tel *telemetry.Telemetry) error {
	log := tel.Logger
	start, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	cl, err := connect(start, cfg, log)
	if err != nil {
		return err
	}
	defer cl.close()
	db := stdlib.OpenDB(*cl.pool.Config().ConnConfig)
	err = retry(start, log, "postgresql migrations", func(ctx context.Context) error { return orders.MigratePooled(ctx, db) })
	_ = db.Close()
	if err != nil {
		return err
	}
	a, err := newApp(start, cfg, cl, tel)
	if err != nil {
		return err
	}
	return server.Run(ctx, server.Options{
		Addr: cfg.Listen, Handler: a.handler, Checks: a.checks, Registry: tel.Registry, Logger: log,
		ShutdownTimeout: cfg.ShutdownTimeout, DrainDelay: cfg.DrainDelay,
	}, a.workers...)
}

// clients are the stores' clients.
type clients struct {
	pool         *pgxpool.Pool
	state, cache redis.UniversalClient
	mongo        *mongo.Client
	dial         func() (*amqp.Connection, error)
}

func (c clients) close() {
	c.pool.Close()
	_ = c.state.Close()
	_ = c.cache.Close()
	_ = c.mongo.Disconnect(context.Background())
}

// connect opens every store's client, retrying each until ctx's deadline
// (START_TIMEOUT); the cache's Redis is not waited for (it degrades).
func connect(ctx context.Context, cfg Config, log *slog.Logger) (clients, error) {
	var cl clients
	err := retry(ctx, log, "postgresql", func(ctx context.Context) error {
		var err error
		cl.pool, err = stores.OpenPostgres(ctx, cfg.Postgres)
		return err
	})
	if err != nil {
		return cl, err
	}
	if cl.state, err = stores.OpenRedis(cfg.RedisState, stores.Timeouts{Dial: 2 * time.Second, Read: 2 * time.Second, Write: 2 * time.Second}); err != nil {
		return cl, err
	}
	if err := retry(ctx, log, "redis-state", func(ctx context.Context) error { return cl.state.Ping(ctx).Err() }); err != nil {
		return cl, err
	}
	if cl.cache, err = stores.OpenRedis(cfg.RedisCache, stores.Timeouts{Dial: cache.Timeout, Read: cache.Timeout, Write: cache.Timeout}); err != nil {
		return cl, err
	}
	err = retry(ctx, log, "mongodb", func(ctx context.Context) error {
		var err error
		cl.mongo, err = stores.OpenMongo(ctx, cfg.Mongo)
		return err
	})
	if err != nil {
		return cl, err
	}
	cl.dial, err = cfg.Rabbit.Dialer(cfg.Name)
	return cl, err
}

// retry calls f until it succeeds or ctx is done (backoff 0.5s to 5s).
func retry(ctx context.Context, log *slog.Logger, what string, f func(context.Context) error) error {
	wait := 500 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		log.Warn(what+" not ready; retrying", "error", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready within START_TIMEOUT: %w", what, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// app is the API wired to its stores: the routes (each in telemetry.Route),
// the readiness checks and the background workers.
type app struct {
	handler   http.Handler
	checks    []server.Check
	workers   []func(context.Context) error
	publisher *orders.Publisher
	relay     *orders.Relay
	catalog   *catalog.Catalog
}

// newApp builds the app over connected clients: the catalog's indexes,
// the publisher's first connection (retried until ctx is done), the
// relay, the handlers and the metrics.
func newApp(ctx context.Context, cfg Config, cl clients, tel *telemetry.Telemetry) (*app, error) {
	log, reg := tel.Logger, tel.Registry
	cat := catalog.New(cl.pool, cl.mongo.Database(cfg.Mongo.Database).Collection(cfg.Mongo.Collection), log)
	if err := retry(ctx, log, "mongodb indexes", func(ctx context.Context) error {
		return cat.EnsureIndexes(ctx, cfg.Mongo.TextIndex)
	}); err != nil {
		return nil, err
	}
	c, err := cache.New(cl.cache, cfg.CacheTTL, log, reg)
	if err != nil {
		return nil, err
	}
	pub, err := orders.NewPublisher(cl.dial, log, reg)
	if err != nil {
		return nil, err
	}
	if err := retry(ctx, log, "rabbitmq", func(context.Context) error { return pub.Connect() }); err != nil {
		return nil, err
	}
	relay, err := orders.NewRelay(cl.pool, pub, log, reg, orders.RelayOptions{
		Interval: cfg.RelayInterval, Batch: cfg.RelayBatch, Grace: cfg.ConfirmTimeout, ConfirmTimeout: cfg.ConfirmTimeout,
	})
	if err != nil {
		return nil, err
	}
	api, err := httpapi.New(httpapi.Deps{
		Spec: spec, Catalog: cat, Cache: c, Sessions: session.New(cl.state, cfg.SessionTTL, cfg.CartTTL),
		Orders: orders.NewStore(cl.pool), Publisher: pub, Status: cl.state, Log: log, Registry: reg,
		ConfirmTimeout: cfg.ConfirmTimeout,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, r := range api.Routes() {
		pattern := r.Method + " " + r.Pattern
		mux.Handle(pattern, tel.Route(pattern, r.Handler))
	}
	if err := poolGauges(tel, cl.pool); err != nil {
		return nil, err
	}
	return &app{
		handler: mux, publisher: pub, relay: relay, catalog: cat,
		checks: []server.Check{
			{Name: "postgresql", Probe: cl.pool.Ping},
			{Name: "redis-state", Probe: func(ctx context.Context) error { return cl.state.Ping(ctx).Err() }},
			{Name: "rabbitmq", Probe: pub.Check},
			{Name: "mongodb", Probe: cat.Ping},
		},
		workers: []func(context.Context) error{func(ctx context.Context) error {
			// The publisher outlives the relay, so that the relay's last
			// batch (and requests in flight) get their confirms.
			pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
			done := make(chan error, 1)
			go func() { done <- pub.Run(pctx) }()
			err := relay.Run(ctx)
			stop()
			return errors.Join(err, <-done)
		}},
	}, nil
}

// poolGauges registers the pgx pool's connection gauges.
func poolGauges(tel *telemetry.Telemetry, pool *pgxpool.Pool) error {
	for _, g := range []struct {
		name, help string
		f          func(*pgxpool.Stat) int32
	}{
		{"pgx_pool_acquired_conns", "PostgreSQL connections in use.", (*pgxpool.Stat).AcquiredConns},
		{"pgx_pool_idle_conns", "PostgreSQL connections idle in the pool.", (*pgxpool.Stat).IdleConns},
		{"pgx_pool_total_conns", "PostgreSQL connections open (in use, idle, being opened).", (*pgxpool.Stat).TotalConns},
	} {
		if err := telemetry.Gauge(tel.Registry, g.name, g.help, func() float64 { return float64(g.f(pool.Stat())) }); err != nil {
			return err
		}
	}
	return nil
}
