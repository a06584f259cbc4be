package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/mockstack"
)

// run runs a repository stack under mocks.
func run(t *testing.T, stack string) mockstack.Result {
	t.Helper()
	res, err := mockstack.RunDir(".", stack, stacks.Options{})
	require.NoError(t, err, stack)
	return res
}

// one returns the single resource of a type (failing if there are more).
func one(t *testing.T, g graph.Graph, typ string) graph.Resource {
	t.Helper()
	rs := g.OfType(typ)
	require.Len(t, rs, 1, typ)
	return rs[0]
}

func named(t *testing.T, g graph.Graph, typ, name string) graph.Resource {
	t.Helper()
	r, ok := g.Named(typ, name)
	require.True(t, ok, "%s %s", typ, name)
	return r
}

func get(r graph.Resource, path string) any {
	v, _ := r.Get(path)
	return v
}

func invoked(res mockstack.Result, token string) bool {
	for _, i := range res.Invokes {
		if i.Token == token {
			return true
		}
	}
	return false
}
