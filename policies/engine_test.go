package policies

import (
	"bytes"
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

// Every rule names a known category; the monitoring tier's rules bring
// observability, which reaches the findings, the SARIF rule properties
// and the JUnit class names like the others.
func TestRuleCategories(t *testing.T) {
	e := newEngine(t)
	byCategory := map[string][]string{}
	for _, r := range e.Rules() {
		require.True(t, categories[r.Category], "%s: category %q", r.ID, r.Category)
		byCategory[r.Category] = append(byCategory[r.Category], r.ID)
	}
	require.Equal(t, []string{"CS-OBS-001", "CS-OBS-002", "CS-OBS-003"}, byCategory["observability"])

	g, err := LoadManifests("testdata/cases/x40-prometheus-single-replica-default-retention.yaml")
	require.NoError(t, err)
	rep, err := e.Check(context.Background(), g, "prod")
	require.NoError(t, err)
	found := false
	for _, f := range rep.Findings {
		found = found || (f.RuleID == "CS-OBS-003" && f.Category == "observability")
	}
	require.True(t, found, "a CS-OBS-003 finding in category observability")
	for format, want := range map[string]string{
		"json":  `"category": "observability"`,
		"sarif": `"category": "observability"`,
		"junit": `classname="cloudscale.policy.observability"`,
	} {
		var buf bytes.Buffer
		require.NoError(t, Write(&buf, format, []*Report{rep}, e.Rules()))
		require.Contains(t, buf.String(), want, format)
	}
}
