package httpapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cloudscale/platform/services/api/catalog"
)

// productKey is a product's cache key.
func productKey(sku string) string { return "product:" + sku }

// CacheHeader tells whether a product came from the cache (hit) or the
// stores (miss).
const CacheHeader = "X-Cache"

func (a *API) getProduct(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	if !catalog.SKUPattern.MatchString(sku) {
		fieldProblem(w, r, http.StatusBadRequest, "sku", "sku: want 1-64 letters, digits, '.', '_' or '-'")
		return
	}
	var p catalog.Product
	if a.d.Cache.Get(r.Context(), productKey(sku), &p) {
		w.Header().Set(CacheHeader, "hit")
		writeJSON(w, http.StatusOK, p)
		return
	}
	p, err := a.d.Catalog.Get(r.Context(), sku)
	if errors.Is(err, catalog.ErrNotFound) {
		problem(w, r, http.StatusNotFound, fmt.Sprintf("no product has sku %q", sku))
		return
	}
	if err != nil {
		a.storeFailed(w, r, "reading the product failed", err)
		return
	}
	a.d.Cache.Set(r.Context(), productKey(sku), p)
	w.Header().Set(CacheHeader, "miss")
	writeJSON(w, http.StatusOK, p)
}

// productBody is PUT /internal/products/{sku}'s body.
type productBody struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	PriceCents  *int64         `json:"priceCents"`
	Stock       *int           `json:"stock"`
	Attributes  map[string]any `json:"attributes"`
}

func (b productBody) check() (field, detail string) {
	switch {
	case strings.TrimSpace(b.Name) == "" || len(b.Name) > 200:
		return "name", "name: want 1-200 characters"
	case len(b.Description) > 5000:
		return "description", "description: at most 5000 characters"
	case b.PriceCents == nil || *b.PriceCents < 0:
		return "priceCents", "priceCents: required, 0 or more (cents)"
	case b.Stock == nil || *b.Stock < 0:
		return "stock", "stock: required, 0 or more"
	case len(b.Attributes) > 50:
		return "attributes", "attributes: at most 50 keys"
	}
	return "", ""
}

func (a *API) putProduct(w http.ResponseWriter, r *http.Request, client string) {
	sku := r.PathValue("sku")
	if !catalog.SKUPattern.MatchString(sku) {
		fieldProblem(w, r, http.StatusBadRequest, "sku", "sku: want 1-64 letters, digits, '.', '_' or '-'")
		return
	}
	var b productBody
	if !decode(w, r, &b) {
		return
	}
	if field, detail := b.check(); field != "" {
		fieldProblem(w, r, http.StatusBadRequest, field, detail)
		return
	}
	p, err := a.d.Catalog.Upsert(r.Context(), catalog.Product{
		SKU: sku, Name: b.Name, Description: b.Description, PriceCents: *b.PriceCents, Stock: *b.Stock,
		Attributes: b.Attributes,
	})
	if err != nil {
		a.storeFailed(w, r, "writing the product failed", err)
		return
	}
	// A failed invalidation leaves a stale entry for at most the cache
	// TTL; it is logged and counted by the cache.
	_ = a.d.Cache.Delete(r.Context(), productKey(sku))
	a.d.Log.InfoContext(r.Context(), "product written", "sku", sku, "client", client)
	writeJSON(w, http.StatusOK, p)
}

// SearchPage bounds the limit of a search.
const (
	defaultSearchLimit = 20
	maxSearchLimit     = 50
)

func (a *API) searchProducts(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" || len(q) > 200 {
		fieldProblem(w, r, http.StatusBadRequest, "q", "q: want 1-200 characters of search words")
		return
	}
	limit, ok := intParam(w, r, "limit", defaultSearchLimit, maxSearchLimit)
	if !ok {
		return
	}
	list, err := a.d.Catalog.Search(r.Context(), q, limit)
	if errors.Is(err, catalog.ErrSearchUnavailable) {
		problem(w, r, http.StatusNotImplemented,
			"product search needs MongoDB's text index, which this MongoDB server refused at start (see the service's log)")
		return
	}
	if err != nil {
		a.storeFailed(w, r, "searching products failed", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"products": list})
}

// intParam reads the query parameter name, an integer within 1..maxValue
// (def when absent); otherwise it answers 400 and returns false.
func intParam(w http.ResponseWriter, r *http.Request, name string, def, maxValue int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxValue {
		fieldProblem(w, r, http.StatusBadRequest, name, fmt.Sprintf("%s: want an integer within 1..%d", name, maxValue))
		return 0, false
	}
	return n, true
}

// isConnError tells a store that did not answer (connection refused or
// lost, timeout) from other failures.
func isConnError(err error) bool {
	var (
		ne net.Error
		ce *pgconn.ConnectError
	)
	return errors.As(err, &ne) || errors.As(err, &ce) || pgconn.Timeout(err) || mongo.IsNetworkError(err) ||
		mongo.IsTimeout(err)
}
