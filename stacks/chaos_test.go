package stacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/load"
	"github.com/cloudscale/platform/policies"
	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/mockstack"
	"github.com/cloudscale/platform/stacks/spec"
)

// Every committed stack under the failure-domain analysis: staging and
// prod have no single point of failure (istiod, cert-manager and External
// Secrets spread over zones by their tiers), dev's ScheduleAnyway gateway
// is reported, and every stack's plan has a zone outage per zone.
func TestStacksHaveNoSinglePointOfFailure(t *testing.T) {
	cases := []struct {
		stack      string
		components int
		spof       int
	}{
		{"prod", 9, 0}, {"prod-azure", 9, 0}, {"prod-gcp", 9, 0}, {"staging", 9, 0},
		{"dev", 9, 2},   // ingress-gateway: node and zone (advisory)
		{"local", 1, 2}, // the charts are CRDs only on the simulated cluster
	}
	for _, tc := range cases {
		t.Run(tc.stack, func(t *testing.T) {
			res, err := mockstack.RunDir(".", tc.stack, stacks.Options{})
			require.NoError(t, err)
			rep, err := spof.Analyze(res.Graph, string(res.Spec.Environment), stacks.ChaosTopology(res.Spec))
			require.NoError(t, err)
			assert.Equal(t, tc.components, rep.Components)
			assert.Equal(t, tc.spof, rep.Count(spof.SPOF), "%v", rep.Failing())
			for _, f := range rep.Failing() {
				assert.Equal(t, "ingress-gateway", f.Component)
				assert.Contains(t, f.Reason, "ScheduleAnyway")
			}
			plan, err := experiments.New(res.Graph, rep, stacks.ChaosConfig(res.Spec))
			require.NoError(t, err)
			outages := map[string]bool{}
			for _, e := range plan.Experiments {
				if e.Fault == experiments.ZoneOutage && e.Namespace == "" {
					outages[e.Zone] = true
					assert.NotEmpty(t, e.Targets)
				}
			}
			assert.Len(t, outages, len(res.Spec.Zones))
			if res.Spec.Environment == spec.Prod {
				assert.True(t, plan.Config.BusinessHoursOnly)
				require.NotNil(t, plan.Schedule())
			}
		})
	}
}

// The chaos catalogue is born under the policy gate: the prod Schedule and
// every Workflow pass the CS-CHAOS rules (and every other rule that reads
// them).
func TestChaosObjectsPassThePolicyGate(t *testing.T) {
	res, err := mockstack.RunDir(".", "prod", stacks.Options{})
	require.NoError(t, err)
	rep, err := spof.Analyze(res.Graph, "prod", stacks.ChaosTopology(res.Spec))
	require.NoError(t, err)
	plan, err := experiments.New(res.Graph, rep, stacks.ChaosConfig(res.Spec))
	require.NoError(t, err)
	objects := []any{plan.Schedule()}
	for _, e := range plan.Experiments {
		if w, err := plan.Workflow(e); err == nil {
			objects = append(objects, w)
		}
	}
	g := graph.Graph{Source: "chaos-plan:prod"}
	for i, o := range objects {
		raw, err := json.Marshal(o)
		require.NoError(t, err)
		var obj map[string]any
		require.NoError(t, json.Unmarshal(raw, &obj))
		r, err := load.Object(obj)
		require.NoError(t, err)
		r.URN = fmt.Sprintf("plan#%d", i)
		g.Resources = append(g.Resources, r)
	}
	require.Greater(t, len(g.Resources), 10)
	e, err := policies.New()
	require.NoError(t, err)
	pr, err := e.Check(context.Background(), g, "prod")
	require.NoError(t, err)
	assert.Empty(t, pr.Findings)
}

// BenchmarkChaosGateAndPlanAllStacks is `chaos spof` and `chaos plan` on
// every stack, end to end: the program under mocks once per stack (both
// commands read the same graph), the analysis and the catalogue.
func BenchmarkChaosGateAndPlanAllStacks(b *testing.B) {
	names, err := spec.Discover(".")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, name := range names {
			res, err := mockstack.RunDir(".", name, stacks.Options{})
			if err != nil {
				b.Fatal(err)
			}
			rep, err := spof.Analyze(res.Graph, string(res.Spec.Environment), stacks.ChaosTopology(res.Spec))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := experiments.New(res.Graph, rep, stacks.ChaosConfig(res.Spec)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
