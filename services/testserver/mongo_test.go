package testserver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestMongoDBCRUD: the official driver v2 inserts, finds, updates and
// builds a unique index on FerretDB.
func TestMongoDBCRUD(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	m := MongoDB(t)
	t.Logf("FerretDB on %s ready in %s", m.URI, time.Since(t0).Round(time.Microsecond))
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI))
	require.NoError(t, err)
	defer func() { _ = c.Disconnect(ctx) }()
	require.NoError(t, c.Ping(ctx, nil))
	products := c.Database("shop").Collection("products")

	_, err = products.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "sku", Value: 1}}, Options: options.Index().SetUnique(true)})
	require.NoError(t, err)
	_, err = products.InsertMany(ctx, []any{
		bson.D{{Key: "sku", Value: "A1"}, {Key: "name", Value: "red kettle"}, {Key: "attrs", Value: bson.D{{Key: "color", Value: "red"}}}, {Key: "price", Value: 30}},
		bson.D{{Key: "sku", Value: "B2"}, {Key: "name", Value: "blue mug"}, {Key: "attrs", Value: bson.D{{Key: "color", Value: "blue"}}}, {Key: "price", Value: 8}},
	})
	require.NoError(t, err)
	_, err = products.InsertOne(ctx, bson.D{{Key: "sku", Value: "A1"}})
	assert.True(t, mongo.IsDuplicateKeyError(err), "a second A1 must break the unique index: %v", err)

	var got bson.M
	require.NoError(t, products.FindOne(ctx, bson.D{{Key: "attrs.color", Value: "blue"}}).Decode(&got))
	assert.Equal(t, "B2", got["sku"])
	res, err := products.UpdateOne(ctx, bson.D{{Key: "sku", Value: "A1"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "price", Value: 5}}}})
	require.NoError(t, err)
	assert.EqualValues(t, 1, res.ModifiedCount)
	cur, err := products.Find(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$regex", Value: "kettle|mug"}}}}, options.Find().SetSort(bson.D{{Key: "price", Value: -1}}))
	require.NoError(t, err)
	var all []bson.M
	require.NoError(t, cur.All(ctx, &all))
	require.Len(t, all, 2)
	assert.EqualValues(t, 35, all[0]["price"])
}

// TestMongoDBLimits records, exactly, what FerretDB v1.24.2 refuses that a
// MongoDB client might use; the package documentation lists the same.
func TestMongoDBLimits(t *testing.T) {
	ctx := context.Background()
	m := MongoDB(t)
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI))
	require.NoError(t, err)
	defer func() { _ = c.Disconnect(ctx) }()
	db := c.Database("shop")
	products := db.Collection("products")
	_, err = products.InsertOne(ctx, bson.D{{Key: "name", Value: "red kettle"}, {Key: "sku", Value: "A1"}})
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		try  func() error
		want string // "" means it works
	}{
		{"text index", func() error {
			_, err := products.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "name", Value: "text"}}})
			return err
		}, "(IndexNotFound) can't find index with key: { name: \"text\" }"},
		{"$text query", func() error {
			return products.FindOne(ctx, bson.D{{Key: "$text", Value: bson.D{{Key: "$search", Value: "kettle"}}}}).Err()
		}, "(BadValue) unknown top level operator: $text."},
		{"transaction", func() error {
			s, err := c.StartSession()
			if err != nil {
				return err
			}
			defer s.EndSession(ctx)
			_, err = s.WithTransaction(ctx, func(ctx context.Context) (any, error) {
				return products.InsertOne(ctx, bson.D{{Key: "sku", Value: "T1"}})
			})
			return err
		}, "(FailedToParse) insert: unknown field \"startTransaction\""},
		{"change stream", func() error {
			cs, err := products.Watch(ctx, mongo.Pipeline{})
			if err == nil {
				cs.Close(ctx)
			}
			return err
		}, "(NotImplemented) `aggregate` stage \"$changeStream\" is not implemented yet"},
		{"$lookup", func() error {
			cur, err := products.Aggregate(ctx, mongo.Pipeline{{{Key: "$lookup", Value: bson.D{{Key: "from", Value: "orders"}, {Key: "localField", Value: "sku"}, {Key: "foreignField", Value: "sku"}, {Key: "as", Value: "orders"}}}}})
			if err == nil {
				cur.Close(ctx)
			}
			return err
		}, "(NotImplemented) `aggregate` stage \"$lookup\" is not implemented yet"},
		{"TTL index", func() error {
			_, err := products.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(60)})
			return err
		}, "(NotImplemented) Index option \"expireAfterSeconds\" is not implemented yet"},
		{"partial index", func() error {
			_, err := products.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "price", Value: 1}}, Options: options.Index().SetPartialFilterExpression(bson.D{{Key: "price", Value: bson.D{{Key: "$gt", Value: 0}}}})})
			return err
		}, "(NotImplemented) Index option \"partialFilterExpression\" is not implemented yet"},
		{"2dsphere index", func() error {
			_, err := products.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "loc", Value: "2dsphere"}}})
			return err
		}, "(IndexNotFound) can't find index with key: { loc: \"2dsphere\" }"},
		{"collation", func() error {
			return products.FindOne(ctx, bson.D{{Key: "name", Value: "RED KETTLE"}}, options.FindOne().SetCollation(&options.Collation{Locale: "en", Strength: 2})).Err()
		}, "(NotImplemented) find: support for field \"collation\""},
		{"$group aggregation", func() error {
			cur, err := products.Aggregate(ctx, mongo.Pipeline{{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$sku"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}}})
			if err == nil {
				cur.Close(ctx)
			}
			return err
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.try()
			t.Logf("%s: %v", tc.name, err)
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
}
