package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/chaos/report"
)

// Bad flags and inputs of `chaos run` and `chaos report` are usage
// errors (exit 2) that name what is wrong, before anything is touched.
func TestChaosRunAndReportUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"run without a stack", []string{"chaos", "run"}, "--stack is required"},
		{"unknown domain", []string{"chaos", "run", "--stack", "local", "--domain", "rack"}, `--domain "rack": want one of pod, node, zone, drain`},
		{"experiment with a domain", []string{"chaos", "run", "--stack", "local", "--experiment", "x", "--domain", "zone"}, "--experiment names one experiment"},
		{"too short a fault", []string{"chaos", "run", "--stack", "local", "--duration", "1s"}, "--duration must be at least 5s"},
		{"unknown stack", []string{"chaos", "run", "--stack", "nope"}, `unknown stack "nope"`},
		{"a cloud stack", []string{"chaos", "run", "--stack", "prod"}, "stack prod is on aws: chaos runs drive the simulated cluster's nodes"},
		{"unknown zone", []string{"chaos", "run", "--stack", "local", "--zone", "zone-z"}, `--zone "zone-z": stack local has zones zone-a, zone-b, zone-c`},
		{"report format", []string{"chaos", "report", "--format", "pdf"}, `--format "pdf": want one of table, json, junit, html`},
		{"report of nothing", []string{"chaos", "report", "--run", "/nonexistent/run"}, "--run /nonexistent/run"},
		{"from-cluster without a stack", []string{"chaos", "report", "--from-cluster"}, "--from-cluster needs --stack"},
		{"stack without from-cluster", []string{"chaos", "report", "--stack", "local"}, "--stack goes with --from-cluster"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := run(t, tc.args...)
			assert.Equal(t, 2, code, out)
			assert.Contains(t, out, tc.want)
		})
	}
}

// `chaos report` judges a recorded run: exit 1 on a breach, with the
// breach named in the table and failing by name in JUnit.
func TestChaosReportOfARecordedRun(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rec := &report.Run{Stack: "local", Env: "staging", Source: "test", Zones: []string{"zone-a"}, Nodes: 6, Started: start, Finished: start.Add(time.Minute),
		Components: []report.Component{
			{Name: "gw", Namespace: "istio-ingress", Kind: "Deployment", Replicas: 3, Needed: 1, Weight: 2, Predicted: map[string]string{"zone": "survives"}},
			{Name: "weak", Namespace: "istio-ingress", Kind: "Deployment", Replicas: 2, Needed: 1, Weight: 2, Predicted: map[string]string{"zone": "spof"}},
		},
		Experiments: []report.Experiment{{
			Name: "zone-outage-zone-a", Fault: "zone-outage", Domain: "zone", Zone: "zone-a", Executor: "cloudscale", Status: report.Ran,
			Started: start, FaultStarted: start, FaultEnded: start.Add(30 * time.Second), Finished: start.Add(31 * time.Second), Injected: 3,
			Impacts: []report.Impact{
				{Component: "istio-ingress/gw", Hit: 1, Replicas: 3, Needed: 1, MinReady: 2, RecoverySeconds: 0.1},
				{Component: "istio-ingress/weak", Hit: 2, Replicas: 2, Needed: 1, MinReady: 0, RecoverySeconds: 0.1},
			},
		}},
	}
	require.NoError(t, rec.Save(dir))

	code, out := run(t, "chaos", "report", "--run", dir)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "BREACHED istio-ingress/weak zone")
	assert.Contains(t, out, "score 50.0")

	junit := filepath.Join(dir, "chaos.junit.xml")
	code, out = run(t, "chaos", "report", "--run", dir, "--format", "junit", "--output", junit)
	assert.Equal(t, 1, code, out)
	raw, err := os.ReadFile(junit)
	require.NoError(t, err)
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(raw, &doc))
	failing := map[string]bool{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			failing[c.Name] = c.Failure != nil
		}
	}
	assert.Equal(t, map[string]bool{"istio-ingress/gw holds a zone fault": false, "istio-ingress/weak holds a zone fault": true}, failing)
}
