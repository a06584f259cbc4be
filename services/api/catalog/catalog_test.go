package catalog

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestSearchQuery pins the exact query Search sends: the test server
// (FerretDB) has no $text, so this is the query path's test.
func TestSearchQuery(t *testing.T) {
	filter, opts := SearchQuery("blue mug", 7)
	ext := func(v any) string {
		b, err := bson.MarshalExtJSON(v, false, false)
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, `{"$text":{"$search":"blue mug"}}`, ext(filter))
	var fo options.FindOptions
	for _, set := range opts.List() {
		require.NoError(t, set(&fo))
	}
	assert.Equal(t, `{"score":{"$meta":"textScore"}}`, ext(fo.Projection))
	assert.Equal(t, `{"score":{"$meta":"textScore"}}`, ext(fo.Sort))
	require.NotNil(t, fo.Limit)
	assert.Equal(t, int64(7), *fo.Limit)
}

func TestSKUPattern(t *testing.T) {
	for sku, ok := range map[string]bool{
		"mug-1": true, "A.b_c-9": true, "": false, "has space": false, "x/y": false,
		"0123456789012345678901234567890123456789012345678901234567890123":  true,
		"01234567890123456789012345678901234567890123456789012345678901234": false,
	} {
		assert.Equal(t, ok, SKUPattern.MatchString(sku), sku)
	}
}
