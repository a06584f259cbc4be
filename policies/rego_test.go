package policies

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRego runs every Rego unit test (rego/**/*_test.rego) through the OPA
// tester, as `opa test policies/rego` does, and checks that every rule has
// a passing and a failing test.
func TestRego(t *testing.T) {
	mods, err := Modules(true)
	require.NoError(t, err)
	parsed := map[string]*ast.Module{}
	for name, src := range mods {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		require.NoError(t, err, name)
		parsed[name] = m
	}
	ch, err := tester.NewRunner().SetModules(parsed).RunTests(context.Background(), nil)
	require.NoError(t, err)
	ran := map[string]bool{}
	for r := range ch {
		ran[r.Name] = true
		if r.Error != nil {
			t.Errorf("%s.%s: %v", r.Package, r.Name, r.Error)
		} else if r.Fail {
			t.Errorf("%s.%s failed (%s)", r.Package, r.Name, r.Location)
		}
	}
	require.NotEmpty(t, ran)

	e := newEngine(t)
	var missing []string
	for _, rule := range e.Rules() {
		name := ruleName(rule)
		for _, kind := range []string{"pass", "fail"} {
			if !ran["test_"+name+"_"+kind] {
				missing = append(missing, "test_"+name+"_"+kind)
			}
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "every rule needs a passing and a failing Rego test")
}

var lastSegment = regexp.MustCompile(`[^.]+$`)

func ruleName(r Rule) string { return strings.ToLower(lastSegment.FindString(r.Path)) }
