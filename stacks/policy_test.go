package stacks_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/policies"
	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/mockstack"
	"github.com/cloudscale/platform/stacks/spec"
)

// The policy gate on every stack, with the repository's waivers: no
// mandatory violation anywhere, and staging and prod need no waiver.
func TestPolicyGateOnEveryStack(t *testing.T) {
	e, err := policies.New()
	require.NoError(t, err)
	waivers, err := policies.LoadWaivers("../policies/waivers.yaml", e)
	require.NoError(t, err)
	names, err := spec.Discover(".")
	require.NoError(t, err)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			res := run(t, name)
			rep, err := e.Check(context.Background(), res.Graph, string(res.Spec.Environment))
			require.NoError(t, err)
			rep.Apply(waivers, time.Now())
			for _, f := range rep.Findings {
				if !f.Waived {
					t.Logf("%s %s %s: %s", f.Enforcement, f.RuleID, f.Name, f.Message)
				}
			}
			assert.Zero(t, rep.Mandatory(), "mandatory violations")
			assert.Empty(t, rep.ExpiredWaivers)
			// The local stack rehearses staging on simulated nodes, whose
			// storage class has nothing to encrypt (its one waiver).
			if res.Spec.Environment.Production() && res.Spec.Cloud != spec.Local {
				assert.Zero(t, rep.Waived(), "staging and prod pass without waivers")
			}
		})
	}
}

// The gate catches a misconfigured stack: the same program with the API
// opened to the internet and a node size below the guide fails.
func TestPolicyGateCatchesAMisconfiguredStack(t *testing.T) {
	e, err := policies.New()
	require.NoError(t, err)
	res := run(t, "prod")
	for i, r := range res.Graph.Resources {
		switch r.Type {
		case "aws:eks/cluster:Cluster":
			vpc := r.Inputs["vpcConfig"].(map[string]any)
			vpc["endpointPublicAccess"] = true
			delete(vpc, "publicAccessCidrs")
		case "aws:kms/key:Key":
			res.Graph.Resources[i].Inputs["rotationPeriodInDays"] = 365.0
		}
	}
	rep, err := e.Check(context.Background(), res.Graph, "prod")
	require.NoError(t, err)
	ids := map[string]int{}
	for _, f := range rep.Findings {
		ids[f.RuleID]++
	}
	assert.Equal(t, 1, ids["CS-NET-001"])
	assert.Equal(t, 2, ids["CS-ENC-002"])
	assert.Equal(t, 3, rep.Mandatory())
}

// BenchmarkPolicyGateAllStacks is the gate on every stack, end to end: the
// program under mocks, then every rule.
func BenchmarkPolicyGateAllStacks(b *testing.B) {
	e, err := policies.New()
	if err != nil {
		b.Fatal(err)
	}
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
			if _, err := e.Check(context.Background(), res.Graph, string(res.Spec.Environment)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
