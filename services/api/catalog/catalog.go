// Package catalog holds the product catalog, split the way the guide
// splits it: price and stock (what orders need, transactionally) in
// PostgreSQL's products table, and name, description and free-form
// attributes in MongoDB (database catalog, collection products), searched
// with the collection's text index.
//
// Search runs MongoDB's $text query, which the test server (FerretDB v1)
// does not implement. The query path is therefore one small function,
// SearchQuery, unit-tested for the exact BSON it sends; everything else is
// tested against FerretDB. When the server refuses the text index at start
// (FerretDB does), EnsureIndexes logs a warning and Search answers
// ErrSearchUnavailable instead of failing every query.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrNotFound is returned for a SKU the catalog does not hold.
var ErrNotFound = errors.New("product not found")

// ErrSearchUnavailable is returned by Search when the MongoDB server
// refused the text index (see EnsureIndexes).
var ErrSearchUnavailable = errors.New("text search is not available on this MongoDB server")

// SKUPattern is what a SKU looks like: 1-64 letters, digits, '-', '_', '.'.
var SKUPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Product is a product as the API shows it.
type Product struct {
	SKU         string         `json:"sku"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	PriceCents  int64          `json:"priceCents"`
	Stock       int            `json:"stock"`
	Attributes  map[string]any `json:"attributes"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

// document is a product's MongoDB document (_id is the SKU).
type document struct {
	SKU         string         `bson:"sku"`
	Name        string         `bson:"name"`
	Description string         `bson:"description"`
	Attributes  map[string]any `bson:"attributes"`
	UpdatedAt   time.Time      `bson:"updatedAt"`
}

// Catalog reads and writes products in PostgreSQL and MongoDB.
type Catalog struct {
	pool     *pgxpool.Pool
	coll     *mongo.Collection
	log      *slog.Logger
	noSearch atomic.Bool
}

// New returns a catalog over pool (table products) and coll.
func New(pool *pgxpool.Pool, coll *mongo.Collection, log *slog.Logger) *Catalog {
	return &Catalog{pool: pool, coll: coll, log: log}
}

// EnsureIndexes creates the collection's indexes: sku unique, and the
// text index over textFields (the tier's declared collection). A server
// that refuses the text index with a command error (FerretDB: no text
// indexes) does not fail the start: a warning is logged and Search answers
// ErrSearchUnavailable. A text index that exists with other fields is
// kept (logged) and serves searches. Other errors are returned.
func (c *Catalog) EnsureIndexes(ctx context.Context, textFields []string) error {
	_, err := c.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "sku", Value: 1}}, Options: options.Index().SetUnique(true).SetName("sku_unique"),
	})
	if err != nil {
		return fmt.Errorf("mongodb: create the sku index: %w", err)
	}
	keys := bson.D{}
	for _, f := range textFields {
		keys = append(keys, bson.E{Key: strings.TrimSpace(f), Value: "text"})
	}
	if len(keys) == 0 {
		c.noSearch.Store(true)
		c.log.Warn("MONGODB_TEXT_INDEX is empty: product search is unavailable")
		return nil
	}
	_, err = c.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys, Options: options.Index().SetName("text")})
	var ce mongo.CommandError
	switch {
	case err == nil:
		c.noSearch.Store(false)
	case errors.As(err, &ce) && (ce.Code == 85 || ce.Code == 86):
		// IndexOptionsConflict, IndexKeySpecsConflict: a text index with
		// other fields exists (a collection has at most one).
		c.log.Error("a different text index exists; searches use it", "error", err)
	case errors.As(err, &ce):
		c.noSearch.Store(true)
		c.log.Warn("MongoDB refused the text index: product search is unavailable", "error", err,
			"code", ce.Code, "fields", textFields)
	default:
		return fmt.Errorf("mongodb: create the text index: %w", err)
	}
	return nil
}

// SearchAvailable reports whether Search can run (the text index exists).
func (c *Catalog) SearchAvailable() bool { return !c.noSearch.Load() }

// Ping asks MongoDB (readiness).
func (c *Catalog) Ping(ctx context.Context) error {
	return c.coll.Database().Client().Ping(ctx, nil)
}

// Upsert writes p: its price and stock to PostgreSQL, then its name,
// description and attributes to MongoDB (PUT semantics: every field
// replaced). Writing twice gives the same result, so a failed upsert is
// retried by the caller.
func (c *Catalog) Upsert(ctx context.Context, p Product) (Product, error) {
	if p.Attributes == nil {
		p.Attributes = map[string]any{}
	}
	err := c.pool.QueryRow(ctx, `
		INSERT INTO products (sku, name, price_cents, stock) VALUES ($1, $2, $3, $4)
		ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents,
			stock = excluded.stock, updated_at = now()
		RETURNING updated_at`, p.SKU, p.Name, p.PriceCents, p.Stock).Scan(&p.UpdatedAt)
	if err != nil {
		return Product{}, fmt.Errorf("postgresql: upsert product %q: %w", p.SKU, err)
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	doc := document{SKU: p.SKU, Name: p.Name, Description: p.Description, Attributes: p.Attributes, UpdatedAt: p.UpdatedAt}
	_, err = c.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: p.SKU}}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return Product{}, fmt.Errorf("mongodb: upsert product %q: %w", p.SKU, err)
	}
	return p, nil
}

// Get reads one product from both stores, or ErrNotFound when PostgreSQL
// does not hold it (MongoDB's part may be missing: empty name).
func (c *Catalog) Get(ctx context.Context, sku string) (Product, error) {
	p := Product{SKU: sku}
	err := c.pool.QueryRow(ctx, `SELECT name, price_cents, stock, updated_at FROM products WHERE sku = $1`, sku).
		Scan(&p.Name, &p.PriceCents, &p.Stock, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Product{}, ErrNotFound
	}
	if err != nil {
		return Product{}, fmt.Errorf("postgresql: read product %q: %w", sku, err)
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	var doc document
	err = c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: sku}}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		p.Attributes = map[string]any{}
	case err != nil:
		return Product{}, fmt.Errorf("mongodb: read product %q: %w", sku, err)
	default:
		p.Name, p.Description, p.Attributes = doc.Name, doc.Description, doc.Attributes
		if p.Attributes == nil {
			p.Attributes = map[string]any{}
		}
	}
	return p, nil
}

// SearchQuery is the whole text search sent to MongoDB: the $text filter
// over words, projected with its textScore, sorted by that score, at most
// limit documents. Kept apart (and tested for its exact BSON) because the
// test server cannot run it.
func SearchQuery(words string, limit int) (bson.D, *options.FindOptionsBuilder) {
	score := bson.D{{Key: "score", Value: bson.D{{Key: "$meta", Value: "textScore"}}}}
	filter := bson.D{{Key: "$text", Value: bson.D{{Key: "$search", Value: words}}}}
	return filter, options.Find().SetProjection(score).SetSort(score).SetLimit(int64(limit))
}

// Search returns up to limit products matching words, best first, with
// their prices and stock from PostgreSQL (a product MongoDB holds but
// PostgreSQL does not is left out).
func (c *Catalog) Search(ctx context.Context, words string, limit int) ([]Product, error) {
	if c.noSearch.Load() {
		return nil, ErrSearchUnavailable
	}
	filter, opts := SearchQuery(words, limit)
	cur, err := c.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: search %q: %w", words, err)
	}
	var docs []document
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongodb: search %q: %w", words, err)
	}
	skus := make([]string, len(docs))
	for i, d := range docs {
		skus[i] = d.SKU
	}
	rows, err := c.pool.Query(ctx, `SELECT sku, price_cents, stock, updated_at FROM products WHERE sku = ANY($1)`, skus)
	if err != nil {
		return nil, fmt.Errorf("postgresql: search prices: %w", err)
	}
	type stock struct {
		price   int64
		stock   int
		updated time.Time
	}
	found := map[string]stock{}
	var (
		sku string
		s   stock
	)
	if _, err := pgx.ForEachRow(rows, []any{&sku, &s.price, &s.stock, &s.updated}, func() error {
		found[sku] = s
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgresql: search prices: %w", err)
	}
	out := make([]Product, 0, len(docs))
	for _, d := range docs {
		st, ok := found[d.SKU]
		if !ok {
			continue
		}
		out = append(out, Product{SKU: d.SKU, Name: d.Name, Description: d.Description, Attributes: d.Attributes,
			PriceCents: st.price, Stock: st.stock, UpdatedAt: st.updated.UTC()})
	}
	return out, nil
}
