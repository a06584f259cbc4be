// Package httpapi is the API's HTTP layer: the handlers of every
// operation of the OpenAPI document (services/api/openapi.json, the
// contract; the tests route every documented operation to Routes and
// validate real requests and responses against it), the gateway's
// identity headers, and RFC 9457 problem answers.
//
// Identity comes from the gateway only: it verifies the JWT and sets
// x-cloudscale-subject (the token's sub) on /api/v1/account routes, and
// x-cloudscale-client (the API key's caller) on /internal routes, and
// strips both elsewhere. A route whose header is absent answers 401.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/cloudscale/platform/services/api/cache"
	"github.com/cloudscale/platform/services/api/catalog"
	"github.com/cloudscale/platform/services/api/session"
	"github.com/cloudscale/platform/services/orders"
)

// The identity headers the gateway sets.
const (
	SubjectHeader = "x-cloudscale-subject"
	ClientHeader  = "x-cloudscale-client"
)

// Deps are the API's stores and settings.
type Deps struct {
	// Spec is the OpenAPI document served at GET /openapi.json.
	Spec      []byte
	Catalog   *catalog.Catalog
	Cache     *cache.Cache
	Sessions  *session.Store
	Orders    *orders.Store
	Publisher *orders.Publisher
	// Status is the redis-state client whose pub/sub carries the orders'
	// status changes (orders.StatusChannel).
	Status redis.UniversalClient
	Log    *slog.Logger
	// Registry receives the API's own metrics (SSE streams in flight).
	Registry prometheus.Registerer
	// ConfirmTimeout bounds the wait for the broker's confirm of a new
	// order's event (default 5s); Heartbeat is the SSE comment interval
	// (default 15s).
	ConfirmTimeout, Heartbeat time.Duration
}

// API serves the operations.
type API struct {
	d       Deps
	streams prometheus.Gauge
}

// Route is one operation: Method and Pattern as in the OpenAPI document
// (Pattern is also a net/http ServeMux pattern) and its handler, identity
// check included.
type Route struct {
	Method, Pattern string
	Handler         http.Handler
}

// New returns the API over d and registers api_sse_streams_in_flight.
func New(d Deps) (*API, error) {
	if d.ConfirmTimeout <= 0 {
		d.ConfirmTimeout = 5 * time.Second
	}
	if d.Heartbeat <= 0 {
		d.Heartbeat = 15 * time.Second
	}
	a := &API{d: d, streams: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "api_sse_streams_in_flight", Help: "Order status streams (server-sent events) open now.",
	})}
	if err := d.Registry.Register(a.streams); err != nil {
		return nil, err
	}
	return a, nil
}

// Routes lists every operation of the API.
func (a *API) Routes() []Route {
	subject := func(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
		return requireHeader(SubjectHeader, "the customer", h)
	}
	client := func(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
		return requireHeader(ClientHeader, "the API-key caller", h)
	}
	return []Route{
		{"GET", "/openapi.json", http.HandlerFunc(a.spec)},
		{"GET", "/api/v1/products", http.HandlerFunc(a.searchProducts)},
		{"GET", "/api/v1/products/{sku}", http.HandlerFunc(a.getProduct)},
		{"PUT", "/internal/products/{sku}", client(a.putProduct)},
		{"POST", "/api/v1/account/sessions", subject(a.createSession)},
		{"GET", "/api/v1/account/sessions/{id}", subject(a.getSession)},
		{"DELETE", "/api/v1/account/sessions/{id}", subject(a.deleteSession)},
		{"GET", "/api/v1/account/cart", subject(a.getCart)},
		{"PUT", "/api/v1/account/cart", subject(a.putCart)},
		{"POST", "/api/v1/account/orders", subject(a.createOrder)},
		{"GET", "/api/v1/account/orders", subject(a.listOrders)},
		{"GET", "/api/v1/account/orders/{id}", subject(a.getOrder)},
		{"GET", "/api/v1/account/orders/{id}/events", subject(a.orderEvents)},
	}
}

// requireHeader answers 401 when the identity header is absent, and
// passes its value to h.
func requireHeader(header, who string, h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(header)
		if v == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cloudscale"`)
			problem(w, r, http.StatusUnauthorized,
				"this route needs "+who+" identified by the gateway (header "+header+" is absent)")
			return
		}
		h(w, r, v)
	})
}

func (a *API) spec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.d.Spec)
}

// storeFailed answers a store's error: 503 when the store did not answer
// in time or the request was cancelled, 500 otherwise.
func (a *API) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isConnError(err) {
		unavailable(w, r, a.d.Log, what, err)
		return
	}
	internalError(w, r, a.d.Log, what, err)
}
