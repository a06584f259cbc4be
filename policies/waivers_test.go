package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeWaivers(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "waivers.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestWaiverInputErrors(t *testing.T) {
	e := newEngine(t)
	cases := []struct{ name, body, want string }{
		{"no expiry", "waivers:\n  - rule: CS-NET-006\n    resource: '*'\n    reason: r\n    owner: o\n",
			"waivers[0] (CS-NET-006): missing expires; a waiver needs rule, resource, reason, owner and expires (YYYY-MM-DD)"},
		{"bad date", "waivers:\n  - {rule: CS-NET-006, resource: '*', reason: r, owner: o, expires: next year}\n",
			`waivers[0] (CS-NET-006): expires "next year" is not a date (YYYY-MM-DD)`},
		{"unknown rule", "waivers:\n  - {rule: CS-NOPE-001, resource: '*', reason: r, owner: o, expires: '2030-01-01'}\n",
			`waivers[0] (CS-NOPE-001): unknown rule "CS-NOPE-001"`},
		{"unknown field", "waivers:\n  - {rule: CS-NET-006, resource: '*', reason: r, owner: o, expires: '2030-01-01', until: x}\n",
			`unknown field "until"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadWaivers(writeWaivers(t, tc.body), e)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestWaiversWaiveUntilTheyExpire(t *testing.T) {
	e := newEngine(t)
	g, err := LoadManifests("testdata/multi.yaml")
	require.NoError(t, err)
	ws, err := LoadWaivers(writeWaivers(t, `waivers:
  - rule: CS-NET-006
    resource: "shop/web"
    reason: the demo's NodePort is how the lab reaches it
    owner: demo-team
    expires: "2026-12-31"
`), e)
	require.NoError(t, err)

	check := func(now time.Time) *Report {
		rep, err := e.Check(context.Background(), g, "prod")
		require.NoError(t, err)
		rep.Apply(ws, now)
		return rep
	}
	before := check(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
	var net006 []Finding
	for _, f := range before.Findings {
		if f.RuleID == "CS-NET-006" {
			net006 = append(net006, f)
		}
	}
	require.Len(t, net006, 1)
	assert.True(t, net006[0].Waived, "waived on its last day")
	assert.Len(t, before.ActiveWaivers, 1)
	assert.Empty(t, before.ExpiredWaivers)

	after := check(time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC))
	for _, f := range after.Findings {
		if f.RuleID == "CS-NET-006" {
			assert.False(t, f.Waived, "an expired waiver waives nothing")
		}
	}
	assert.Empty(t, after.ActiveWaivers)
	require.Len(t, after.ExpiredWaivers, 1)
	assert.Equal(t, before.Mandatory()+1, after.Mandatory())

	var buf bytes.Buffer
	require.NoError(t, Write(&buf, "table", []*Report{after}, e.Rules()))
	assert.Contains(t, buf.String(), "EXPIRED waiver (no longer waives): CS-NET-006 on shop/web, owner demo-team, expired 2026-12-31")
}

func TestFormats(t *testing.T) {
	e := newEngine(t)
	g, err := LoadManifests("testdata/multi.yaml")
	require.NoError(t, err)
	rep, err := e.Check(context.Background(), g, "prod")
	require.NoError(t, err)
	reports := []*Report{rep}
	mandatory := rep.Mandatory()
	require.Positive(t, mandatory)

	var js bytes.Buffer
	require.NoError(t, Write(&js, "json", reports, e.Rules()))
	var doc struct {
		Summary Summary `json:"summary"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	assert.Equal(t, mandatory, doc.Summary.Mandatory)

	var sarif bytes.Buffer
	require.NoError(t, Write(&sarif, "sarif", reports, e.Rules()))
	var s struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					Physical struct {
						Artifact struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(sarif.Bytes(), &s))
	assert.Equal(t, "2.1.0", s.Version)
	assert.Len(t, s.Runs[0].Tool.Driver.Rules, len(e.Rules()))
	assert.Len(t, s.Runs[0].Results, len(rep.Findings))
	assert.Equal(t, "error", s.Runs[0].Results[0].Level)
	assert.Equal(t, "testdata/multi.yaml", s.Runs[0].Results[0].Locations[0].Physical.Artifact.URI)

	var junit bytes.Buffer
	require.NoError(t, Write(&junit, "junit", reports, e.Rules()))
	var j junitSuites
	require.NoError(t, xml.Unmarshal(junit.Bytes(), &j))
	assert.Equal(t, len(e.Rules()), j.Tests)
	assert.Positive(t, j.Failures)

	var table bytes.Buffer
	require.NoError(t, Write(&table, "table", reports, e.Rules()))
	assert.Contains(t, table.String(), "FAIL: 1 sources, 3 resources")
	assert.Contains(t, table.String(), "fix:")

	assert.EqualError(t, Write(&table, "xml", reports, e.Rules()), `unknown format "xml"; want one of table, json, sarif, junit`)
}
