package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jackc/pgx/v5/stdlib"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/server"
	"github.com/cloudscale/platform/services/stores"
	"github.com/cloudscale/platform/services/telemetry"
	"github.com/cloudscale/platform/services/testserver"
)

// loadSpec parses and validates the embedded OpenAPI document.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	require.NoError(t, err, "openapi.json does not parse")
	require.NoError(t, doc.Validate(context.Background()), "openapi.json is not a valid OpenAPI 3 document")
	return doc
}

// servers are the real stores one test's API runs on.
type servers struct {
	pg       *testserver.PG
	pgURL    string // what the API connects to (PgBouncer, or a multi-host URL)
	state    stores.Redis
	cache    stores.Redis
	rabbit   *testserver.Rabbit
	mongoURI string
}

// testConfig is the API's configuration over srv, with short relay
// intervals.
func testConfig(srv servers) Config {
	cfg := Config{
		Postgres:   stores.Postgres{URL: srv.pgURL, MaxConns: 10, Port: 5432},
		RedisState: srv.state, RedisCache: srv.cache,
		Mongo: stores.Mongo{URI: srv.mongoURI, Database: "catalog", Collection: "products",
			TextIndex: []string{"name", "description"}},
		Rabbit:   stores.Rabbit{URL: srv.rabbit.URL, Port: 5672, VHost: "/"},
		CacheTTL: time.Minute, SessionTTL: 30 * time.Minute, CartTTL: 168 * time.Hour,
		ConfirmTimeout: 5 * time.Second, RelayInterval: 200 * time.Millisecond, RelayBatch: 100,
		StartTimeout: 30 * time.Second,
	}
	cfg.Name, cfg.Version, cfg.Listen = "api-service", "test", "127.0.0.1:0"
	cfg.ShutdownTimeout, cfg.DrainDelay = 5*time.Second, 0
	return cfg
}

// declareTopology declares the platform's orders topology on the broker
// (as the stacks' definitions do, with x-arguments instead of policies).
func declareTopology(t testing.TB, url string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDeclare(orders.Exchange, "topic", true, false, false, false, nil))
	for q, key := range map[string]string{orders.QueueCreated: orders.RoutingCreated, orders.QueueExpress: orders.RoutingExpress} {
		require.NoError(t, ch.ExchangeDeclare(q+".dlx", "direct", true, false, false, false, nil))
		_, err := ch.QueueDeclare(q+".dlq", true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
		require.NoError(t, err)
		require.NoError(t, ch.QueueBind(q+".dlq", q, q+".dlx", false, nil))
		_, err = ch.QueueDeclare(q, true, false, false, false, amqp.Table{
			"x-queue-type": "quorum", "x-delivery-limit": 5, "x-dead-letter-exchange": q + ".dlx",
			"x-dead-letter-routing-key": q, "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish",
		})
		require.NoError(t, err)
		require.NoError(t, ch.QueueBind(q, key, orders.Exchange, false, nil))
	}
}

// running is one API process: its app served by server.Run on a free
// port of 127.0.0.1, and a validating client.
type running struct {
	t       testing.TB
	app     *app
	cl      clients
	tel     *telemetry.Telemetry
	spans   *tracetest.InMemoryExporter
	base    string
	client  *http.Client
	stopped chan error
	stop    context.CancelFunc
}

// start connects to srv, migrates, and serves the API until the test
// ends.
func start(t testing.TB, srv servers) *running {
	t.Helper()
	cfg := testConfig(srv)
	require.NoError(t, cfg.Validate())
	spans := tracetest.NewInMemoryExporter()
	tel, err := telemetry.New(context.Background(), telemetry.Options{Service: cfg.Name, Version: cfg.Version,
		Sampling: 1, LogOutput: testWriter{t}, SpanProcessor: sdktrace.NewSimpleSpanProcessor(spans)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	cl, err := connect(ctx, cfg, tel.Logger)
	require.NoError(t, err)
	db := stdlib.OpenDB(*cl.pool.Config().ConnConfig)
	require.NoError(t, orders.MigratePooled(ctx, db))
	require.NoError(t, db.Close())
	a, err := newApp(ctx, cfg, cl, tel)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	r := &running{t: t, app: a, cl: cl, tel: tel, spans: spans, base: "http://" + ln.Addr().String(),
		stopped: make(chan error, 1), stop: stop}
	r.client = &http.Client{Transport: &validating{t: t, doc: loadSpec(t), next: http.DefaultTransport}}
	go func() {
		r.stopped <- server.Run(runCtx, server.Options{Listener: ln, Handler: a.handler, Checks: a.checks,
			Registry: tel.Registry, Logger: tel.Logger, ShutdownTimeout: cfg.ShutdownTimeout}, a.workers...)
	}()
	t.Cleanup(func() {
		r.shutdown()
		cl.close()
	})
	return r
}

// shutdown stops the server and its workers gracefully (once).
func (r *running) shutdown() {
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	select {
	case err := <-r.stopped:
		if err != nil {
			r.t.Errorf("server.Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.t.Errorf("server.Run did not return within 30s of the shutdown")
	}
}

// testWriter sends the service's log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// request is one call of the API.
type request struct {
	method, path string
	body         any
	subject      string // x-cloudscale-subject
	client       string // x-cloudscale-client
	// invalid: the request breaks the contract on purpose (the response
	// is still validated).
	invalid bool
	header  http.Header
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (r response) problem(t testing.TB) map[string]any {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "body: %s", r.body)
	var p map[string]any
	r.json(t, &p)
	return p
}

type invalidKey struct{}

// do sends req and returns the whole response.
func (r *running) do(t testing.TB, req request) response {
	t.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		body = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), invalidKey{}, req.invalid), 30*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, req.method, r.base+req.path, body)
	require.NoError(t, err)
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.subject != "" {
		hr.Header.Set("x-cloudscale-subject", req.subject)
	}
	if req.client != "" {
		hr.Header.Set("x-cloudscale-client", req.client)
	}
	res, err := r.client.Do(hr)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// validating checks each request and response against the OpenAPI
// document (kin-openapi's openapi3filter); a violation fails the test.
// Requests to the server package's routes (/healthz, /readyz, /metrics)
// are not the API's and pass unchecked.
type validating struct {
	t    testing.TB
	doc  *openapi3.T
	next http.RoundTripper

	once   sync.Once
	router routers.Router
	err    error
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return v.next.RoundTrip(req)
	}
	v.once.Do(func() { v.router, v.err = legacy.NewRouter(v.doc) })
	if v.err != nil {
		return nil, v.err
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("contract: %s %s is not a documented operation: %v", req.Method, req.URL.Path, err)
		return v.next.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
	if invalid, _ := req.Context().Value(invalidKey{}).(bool); !invalid {
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			v.t.Errorf("contract: request %s %s: %v", req.Method, req.URL.Path, err)
		}
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := v.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode,
		Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: in.Options}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		v.t.Errorf("contract: response %d to %s %s: %v\nbody: %s", res.StatusCode, req.Method, req.URL.Path, err, body)
	}
	return res, nil
}

func init() {
	// The order status stream's body is text, as documented.
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// redisClient is a plain client of r (for the tests' own checks).
func redisClient(r stores.Redis) redis.UniversalClient {
	c, err := stores.OpenRedis(r, stores.Timeouts{Dial: time.Second, Read: time.Second, Write: time.Second})
	if err != nil {
		panic(err)
	}
	return c
}
