package policies

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

var engine *Engine

func newEngine(t testing.TB) *Engine {
	t.Helper()
	if engine == nil {
		e, err := New()
		require.NoError(t, err)
		engine = e
	}
	return engine
}

func TestRulesHaveCompleteMetadata(t *testing.T) {
	e := newEngine(t)
	rules := e.Rules()
	require.GreaterOrEqual(t, len(rules), 30)
	for _, r := range rules {
		t.Logf("%s %-8s %-10s %s", r.ID, r.Severity, r.Category, r.Title)
	}
	_ = context.Background()
}
