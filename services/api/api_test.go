package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services/api/catalog"
	"github.com/cloudscale/platform/services/api/httpapi"
	"github.com/cloudscale/platform/services/api/session"
	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/stores"
	"github.com/cloudscale/platform/services/testserver"
)

// TestContract checks that the handlers implement exactly the documented
// operations: every operation of openapi.json has a route, and every
// route is documented.
func TestContract(t *testing.T) {
	doc := loadSpec(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	api, err := httpapi.New(httpapi.Deps{Spec: spec, Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	var routed []string
	for _, r := range api.Routes() {
		routed = append(routed, r.Method+" "+r.Pattern)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	assert.Equal(t, documented, routed, "documented operations (left) and routes (right) differ")
}

// TestAPI drives the API over real stores: PostgreSQL behind PgBouncer
// (transaction pooling), redis-state behind Sentinel, a Redis for the
// cache, RabbitMQ with the orders topology, and FerretDB for MongoDB. The
// subtests share the servers (RabbitMQ is slow to start); the one that
// stops the broker runs last.
func TestAPI(t *testing.T) {
	pg := testserver.Postgres(t)
	bouncer := testserver.PgBouncer(t, pg)
	sentinel := testserver.RedisSentinel(t, "redis-state")
	cacheRedis := testserver.Redis(t)
	rabbit := testserver.RabbitMQ(t)
	declareTopology(t, rabbit.URL)
	mongo := testserver.MongoDB(t)
	srv := servers{pg: pg, pgURL: bouncer.URL(), rabbit: rabbit, mongoURI: mongo.URI,
		state: stores.Redis{Sentinels: sentinel.Addrs, Master: sentinel.MasterName, Password: sentinel.Password},
		cache: stores.Redis{Addr: cacheRedis.Addr, Password: cacheRedis.Password}}
	api := start(t, srv)

	t.Run("identity headers are required", func(t *testing.T) { testIdentity(t, api) })
	t.Run("products are cached and invalidated", func(t *testing.T) { testProducts(t, api, srv) })
	t.Run("search is unavailable on FerretDB", func(t *testing.T) { testSearchUnavailable(t, api) })
	t.Run("sessions and carts expire", func(t *testing.T) { testSessionsAndCarts(t, api, srv) })
	t.Run("orders are published with confirms", func(t *testing.T) { testOrders(t, api, srv) })
	t.Run("order status streams", func(t *testing.T) { testOrderEvents(t, api, srv) })
	t.Run("orders wait in the outbox while the broker is down", func(t *testing.T) { testBrokerDown(t, api, srv) })
}

func testIdentity(t *testing.T, api *running) {
	for _, req := range []request{
		{method: "POST", path: "/api/v1/account/sessions"},
		{method: "GET", path: "/api/v1/account/cart"},
		{method: "GET", path: "/api/v1/account/orders"},
		{method: "POST", path: "/api/v1/account/orders", body: map[string]any{"items": []any{map[string]any{"sku": "a", "quantity": 1}}}},
		{method: "PUT", path: "/internal/products/sku-1", body: map[string]any{"name": "x", "priceCents": 1, "stock": 1}},
		// A subject does not open /internal routes.
		{method: "PUT", path: "/internal/products/sku-1", subject: "alice", body: map[string]any{"name": "x", "priceCents": 1, "stock": 1}},
	} {
		req.invalid = true
		res := api.do(t, req)
		assert.Equal(t, http.StatusUnauthorized, res.status, "%s %s", req.method, req.path)
		p := res.problem(t)
		assert.Contains(t, p["detail"], "x-cloudscale-", "%s %s", req.method, req.path)
	}
}

// putProduct writes a product through the internal route.
func putProduct(t testing.TB, api *running, sku string, price int64, stock int) catalog.Product {
	t.Helper()
	res := api.do(t, request{method: "PUT", path: "/internal/products/" + sku, client: "catalog-import",
		body: map[string]any{"name": "Product " + sku, "description": "a fine " + sku, "priceCents": price, "stock": stock,
			"attributes": map[string]any{"colour": "blue", "sizes": []any{"S", "M"}, "weight": map[string]any{"grams": 250}}}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var p catalog.Product
	res.json(t, &p)
	return p
}

func testProducts(t *testing.T, api *running, srv servers) {
	ctx := context.Background()
	p := putProduct(t, api, "mug-1", 1250, 10)
	assert.Equal(t, int64(1250), p.PriceCents)

	first := api.do(t, request{method: "GET", path: "/api/v1/products/mug-1"})
	require.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, "miss", first.header.Get(httpapi.CacheHeader))
	var got catalog.Product
	first.json(t, &got)
	assert.Equal(t, "Product mug-1", got.Name)
	assert.Equal(t, "a fine mug-1", got.Description)
	assert.Equal(t, "blue", got.Attributes["colour"])
	assert.Equal(t, []any{"S", "M"}, got.Attributes["sizes"])
	assert.Equal(t, map[string]any{"grams": float64(250)}, got.Attributes["weight"])

	second := api.do(t, request{method: "GET", path: "/api/v1/products/mug-1"})
	assert.Equal(t, "hit", second.header.Get(httpapi.CacheHeader))
	assert.JSONEq(t, string(first.body), string(second.body))
	rc := redisClient(srv.cache)
	defer rc.Close()
	ttl, err := rc.TTL(ctx, "product:mug-1").Result()
	require.NoError(t, err)
	assert.True(t, ttl > 55*time.Second && ttl <= time.Minute, "cache TTL %v, want about CACHE_TTL (60s)", ttl)

	putProduct(t, api, "mug-1", 1400, 8) // invalidates
	n, err := rc.Exists(ctx, "product:mug-1").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "PUT did not invalidate the cache entry")
	third := api.do(t, request{method: "GET", path: "/api/v1/products/mug-1"})
	assert.Equal(t, "miss", third.header.Get(httpapi.CacheHeader))
	third.json(t, &got)
	assert.Equal(t, int64(1400), got.PriceCents)
	assert.Equal(t, 8, got.Stock)

	res := api.do(t, request{method: "GET", path: "/api/v1/products/nope"})
	assert.Equal(t, http.StatusNotFound, res.status)
	res.problem(t)

	for _, c := range []struct {
		body  string
		field string
	}{
		{`{"name":"x","priceCents":1,"stock":1,"colour":"red"}`, "colour"},
		{`{"name":"x","priceCents":-1,"stock":1}`, "priceCents"},
		{`{"name":"x","priceCents":"12","stock":1}`, "priceCents"},
		{`{"name":"","priceCents":1,"stock":1}`, "name"},
		{`{"name":"x","priceCents":1}`, "stock"},
	} {
		res := api.do(t, request{method: "PUT", path: "/internal/products/bad-1", client: "import", body: c.body, invalid: true})
		assert.Equal(t, http.StatusBadRequest, res.status, c.body)
		assert.Equal(t, c.field, res.problem(t)["field"], c.body)
	}
	res = api.do(t, request{method: "PUT", path: "/internal/products/bad-1", client: "import", body: `{"name":`, invalid: true})
	assert.Equal(t, http.StatusBadRequest, res.status)
}

func testSearchUnavailable(t *testing.T, api *running) {
	require.False(t, api.app.catalog.SearchAvailable(), "FerretDB accepted a text index: the test's premise changed")
	res := api.do(t, request{method: "GET", path: "/api/v1/products?q=fine+mug&limit=5"})
	assert.Equal(t, http.StatusNotImplemented, res.status)
	assert.Contains(t, res.problem(t)["detail"], "text index")
	res = api.do(t, request{method: "GET", path: "/api/v1/products?q=", invalid: true})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "q", res.problem(t)["field"])
}

func testSessionsAndCarts(t *testing.T, api *running, srv servers) {
	ctx := context.Background()
	rc := redisClient(srv.state)
	defer rc.Close()

	res := api.do(t, request{method: "POST", path: "/api/v1/account/sessions", subject: "alice"})
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	var s session.Session
	res.json(t, &s)
	assert.Equal(t, "alice", s.Subject)
	ttl, err := rc.TTL(ctx, session.SessionKey(s.ID)).Result()
	require.NoError(t, err)
	assert.True(t, ttl > 29*time.Minute && ttl <= 30*time.Minute, "session TTL %v, want about 30m", ttl)

	require.NoError(t, rc.Expire(ctx, session.SessionKey(s.ID), time.Minute).Err())
	res = api.do(t, request{method: "GET", path: "/api/v1/account/sessions/" + s.ID, subject: "alice"})
	require.Equal(t, http.StatusOK, res.status)
	ttl, err = rc.TTL(ctx, session.SessionKey(s.ID)).Result()
	require.NoError(t, err)
	assert.True(t, ttl > 29*time.Minute, "the session's TTL did not slide on use: %v", ttl)

	res = api.do(t, request{method: "GET", path: "/api/v1/account/sessions/" + s.ID, subject: "mallory"})
	assert.Equal(t, http.StatusNotFound, res.status)
	res = api.do(t, request{method: "DELETE", path: "/api/v1/account/sessions/" + s.ID, subject: "alice"})
	assert.Equal(t, http.StatusNoContent, res.status)
	res = api.do(t, request{method: "GET", path: "/api/v1/account/sessions/" + s.ID, subject: "alice"})
	assert.Equal(t, http.StatusNotFound, res.status)

	res = api.do(t, request{method: "GET", path: "/api/v1/account/cart", subject: "alice"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), `"items":[]`)
	res = api.do(t, request{method: "PUT", path: "/api/v1/account/cart", subject: "alice",
		body: map[string]any{"items": []any{map[string]any{"sku": "mug-1", "quantity": 2}}}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	ttl, err = rc.TTL(ctx, session.CartKey("alice")).Result()
	require.NoError(t, err)
	assert.True(t, ttl > 167*time.Hour && ttl <= 168*time.Hour, "cart TTL %v, want about 7 days", ttl)
	var cart session.Cart
	api.do(t, request{method: "GET", path: "/api/v1/account/cart", subject: "alice"}).json(t, &cart)
	assert.Equal(t, []session.CartItem{{SKU: "mug-1", Quantity: 2}}, cart.Items)
	var other session.Cart
	api.do(t, request{method: "GET", path: "/api/v1/account/cart", subject: "bob"}).json(t, &other)
	assert.Empty(t, other.Items)

	for _, c := range []struct{ body, field string }{
		{`{"items":[{"sku":"mug-1","quantity":0}]}`, "items[0].quantity"},
		{`{"items":[{"sku":"mug-1","quantity":1},{"sku":"mug-1","quantity":1}]}`, "items[1].sku"},
		{`{"items":[{"sku":"mug 1","quantity":1}]}`, "items[0].sku"},
		{`{"items":[{"sku":"mug-1","quantity":1,"gift":true}]}`, "gift"},
	} {
		res := api.do(t, request{method: "PUT", path: "/api/v1/account/cart", subject: "alice", body: c.body, invalid: true})
		assert.Equal(t, http.StatusBadRequest, res.status, c.body)
		assert.Equal(t, c.field, res.problem(t)["field"], c.body)
	}
}

// consumer reads one queue of the test broker.
type consumer struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

func newConsumer(t testing.TB, url string) *consumer {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &consumer{conn: conn, ch: ch}
}

// next returns the message of queue whose event is orderID's, waiting up
// to timeout; other messages are acknowledged and skipped.
func (c *consumer) next(t testing.TB, queue, orderID string, timeout time.Duration) (amqp.Delivery, orders.Event) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		d, ok, err := c.ch.Get(queue, true)
		require.NoError(t, err)
		if !ok {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var ev orders.Event
		require.NoError(t, json.Unmarshal(d.Body, &ev), "body: %s", d.Body)
		if ev.OrderID == orderID {
			return d, ev
		}
	}
	t.Fatalf("no event of order %s on %s within %v", orderID, queue, timeout)
	return amqp.Delivery{}, orders.Event{}
}

// orderBody is an order request.
func orderBody(express bool, lines ...any) map[string]any {
	items := []any{}
	for i := 0; i+1 < len(lines); i += 2 {
		items = append(items, map[string]any{"sku": lines[i], "quantity": lines[i+1]})
	}
	return map[string]any{"items": items, "express": express}
}

func testOrders(t *testing.T, api *running, srv servers) {
	putProduct(t, api, "pen-1", 199, 100)
	putProduct(t, api, "ink-1", 550, 3)
	c := newConsumer(t, srv.rabbit.URL)

	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	res := api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "carol",
		header: http.Header{"Traceparent": {"00-" + traceID + "-00f067aa0ba902b7-01"}},
		body:   orderBody(false, "pen-1", 3, "ink-1", 1)})
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	var o orders.Order
	res.json(t, &o)
	assert.Equal(t, orders.Accepted, o.Status)
	assert.Equal(t, int64(3*199+550), o.TotalCents)
	assert.Equal(t, "/api/v1/account/orders/"+o.ID, res.header.Get("Location"))

	d, ev := c.next(t, orders.QueueCreated, o.ID, 10*time.Second)
	assert.Equal(t, ev.ID, d.MessageId, "message id = event id")
	assert.Equal(t, "application/json", d.ContentType)
	assert.Equal(t, amqp.Persistent, d.DeliveryMode)
	assert.Equal(t, orders.RoutingCreated, d.RoutingKey)
	assert.Equal(t, "carol", ev.Customer)
	assert.Equal(t, o.TotalCents, ev.TotalCents)
	assert.Contains(t, d.Headers["traceparent"], traceID, "the event carries the request's trace")

	res = api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "carol",
		body: orderBody(true, "pen-1", 1)})
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	var express orders.Order
	res.json(t, &express)
	d, ev = c.next(t, orders.QueueExpress, express.ID, 10*time.Second)
	assert.Equal(t, uint8(orders.ExpressPriority), d.Priority)
	assert.True(t, ev.Express)
	assert.Contains(t, d.Headers, "traceparent")

	// Both outbox rows are marked published.
	conn, err := pgx.Connect(context.Background(), srv.pg.URL())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var unpublished int
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE order_id IN ($1, $2) AND published_at IS NULL`, o.ID, express.ID).Scan(&unpublished))
	assert.Zero(t, unpublished)

	var got orders.Order
	api.do(t, request{method: "GET", path: "/api/v1/account/orders/" + o.ID, subject: "carol"}).json(t, &got)
	assert.Equal(t, orders.Accepted, got.Status)
	assert.Len(t, got.Items, 2)
	res = api.do(t, request{method: "GET", path: "/api/v1/account/orders/" + o.ID, subject: "dave"})
	assert.Equal(t, http.StatusNotFound, res.status, "another customer's order")
	res = api.do(t, request{method: "GET", path: "/api/v1/account/orders/not-a-uuid", subject: "carol"})
	assert.Equal(t, http.StatusNotFound, res.status)

	var list struct{ Orders []orders.Order }
	api.do(t, request{method: "GET", path: "/api/v1/account/orders?limit=10", subject: "carol"}).json(t, &list)
	require.Len(t, list.Orders, 2)
	assert.Equal(t, express.ID, list.Orders[0].ID, "newest first")

	res = api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "carol", body: orderBody(false, "ink-1", 4)})
	assert.Equal(t, http.StatusConflict, res.status)
	assert.Equal(t, "items[0].quantity", res.problem(t)["field"])
	res = api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "carol", body: orderBody(false, "pen-1", 1, "ghost-1", 1)})
	assert.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Equal(t, "items[1].sku", res.problem(t)["field"])
	res = api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "carol", body: orderBody(false, "pen-1", -2), invalid: true})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "items[0].quantity", res.problem(t)["field"])
	res = api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "carol", body: `{"items":[]}`, invalid: true})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "items", res.problem(t)["field"])
}

func testOrderEvents(t *testing.T, api *running, srv servers) {
	putProduct(t, api, "cup-1", 300, 10)
	var o orders.Order
	res := api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "erin", body: orderBody(false, "cup-1", 1)})
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	res.json(t, &o)

	rc := redisClient(srv.state)
	defer rc.Close()
	channel := orders.StatusChannel(o.ID)
	published := make(chan error, 1)
	go func() {
		// Publish once the stream has subscribed, as the worker would.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for {
			n, err := rc.PubSubNumSub(ctx, channel).Result()
			if err != nil {
				published <- err
				return
			}
			if n[channel] > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, st := range []orders.StatusChange{
			{OrderID: o.ID, Status: orders.Confirmed, At: time.Now().UTC()},
		} {
			b, _ := json.Marshal(st)
			if err := rc.Publish(ctx, channel, b).Err(); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	res = api.do(t, request{method: "GET", path: "/api/v1/account/orders/" + o.ID + "/events", subject: "erin"})
	require.NoError(t, <-published)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "text/event-stream", res.header.Get("Content-Type"))
	var statuses []orders.Status
	for _, block := range strings.Split(strings.TrimSpace(string(res.body)), "\n\n") {
		lines := strings.Split(block, "\n")
		require.Len(t, lines, 2, "event %q", block)
		assert.Equal(t, "event: status", lines[0])
		var sc orders.StatusChange
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &sc))
		assert.Equal(t, o.ID, sc.OrderID)
		statuses = append(statuses, sc.Status)
	}
	assert.Equal(t, []orders.Status{orders.Accepted, orders.Confirmed}, statuses,
		"the current status, then the change; the stream ends at a final status")

	res = api.do(t, request{method: "GET", path: "/api/v1/account/orders/" + o.ID + "/events", subject: "frank"})
	assert.Equal(t, http.StatusNotFound, res.status)
}

func testBrokerDown(t *testing.T, api *running, srv servers) {
	putProduct(t, api, "lamp-1", 4200, 5)
	srv.rabbit.Stop(t)
	res := api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "gina", body: orderBody(false, "lamp-1", 1)})
	require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
	var o orders.Order
	res.json(t, &o)
	assert.Equal(t, orders.Pending, o.Status)

	ready := getStatus(t, api.base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, ready, "readyz while the broker is down")

	srv.rabbit.Start(t)
	t0 := time.Now()
	deadline := t0.Add(60 * time.Second)
	var got orders.Order
	for time.Now().Before(deadline) {
		api.do(t, request{method: "GET", path: "/api/v1/account/orders/" + o.ID, subject: "gina"}).json(t, &got)
		if got.Status == orders.Accepted {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.Equal(t, orders.Accepted, got.Status, "the relay did not publish the pending order within 60s")
	t.Logf("the relay published the pending order %.1fs after the broker came back", time.Since(t0).Seconds())
	_, ev := newConsumer(t, srv.rabbit.URL).next(t, orders.QueueCreated, o.ID, 10*time.Second)
	assert.Equal(t, "gina", ev.Customer)
	assert.Equal(t, http.StatusOK, getStatus(t, api.base+"/readyz"), "readyz after the broker came back")
}

// getStatus is the status of a plain GET.
func getStatus(t testing.TB, url string) int {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	_ = res.Body.Close()
	return res.StatusCode
}
