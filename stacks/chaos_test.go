package stacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/load"
	"github.com/cloudscale/platform/policies"
	"github.com/cloudscale/platform/services/slogate/gate"
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
		// The data tier adds a CloudNativePG Cluster, its two poolers and two
		// Redis sets, MongoDB's two shards, config servers and routers, and
		// the RabbitMQ cluster; the stacks whose Gateway document has a global limit
		// (all but prod-azure and prod-gcp, which read the guide's example)
		// also run the rate-limit service. The services add api-service
		// and order-worker, and api-service's canary where the stack sets
		// a canaryWeight (all but prod, prod-azure and prod-gcp).
		{"prod", 28, 0}, {"prod-azure", 27, 0}, {"prod-gcp", 27, 0}, {"staging", 29, 0},
		// ingress-gateway, slo-gate, Chaos Mesh's controller, the
		// rate-limit service, the services, the poolers, the Redis sets
		// and Fluentd: node and zone, from preferred spreads (advisory)
		{"dev", 29, 24},
		// The charts are CRDs only on the simulated cluster; the local
		// stack rehearses staging, so its spread is hard (what the chaos
		// runs prove on it).
		{"local", 20, 0},
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
				assert.Contains(t, []string{"ingress-gateway", "slo-gate", "chaos-mesh-controller-manager", "ratelimit",
					"api-service", "api-service-canary", "order-worker",
					"postgres-orders-pooler-rw", "postgres-orders-pooler-ro", "redis-state", "redis-cache", "fluentd"}, f.Component)
				assert.Regexp(t, "ScheduleAnyway|preferred", f.Reason)
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
		stacks.ForgetChaosPlans()
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

// Every stack installs the Schedule of its own plan: the one `cloudscale
// chaos plan --stack` derives from the stack's graph, object for object;
// the gate answers for the components the experiments ask about; only the
// application namespaces accept injection; the chaos namespace is
// privileged only where chaos-daemon runs.
func TestStacksScheduleTheirOwnPlan(t *testing.T) {
	names, err := spec.Discover(".")
	require.NoError(t, err)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			res, err := mockstack.RunDir(".", name, stacks.Options{})
			require.NoError(t, err)
			rep, err := spof.Analyze(res.Graph, string(res.Spec.Environment), stacks.ChaosTopology(res.Spec))
			require.NoError(t, err)
			plan, err := experiments.New(res.Graph, rep, stacks.ChaosConfig(res.Spec))
			require.NoError(t, err)

			installed, ok := res.Graph.Named("kubernetes:chaos-mesh.org/v1alpha1:Schedule", "chaos-schedule")
			want := plan.Schedule()
			require.Equal(t, want != nil, ok, "a Schedule exactly when the plan has one (chaos.enabled %v)", res.Spec.Chaos.Enabled)
			if ok {
				raw, err := json.Marshal(want)
				require.NoError(t, err)
				var wantObj map[string]any
				require.NoError(t, json.Unmarshal(raw, &wantObj))
				assert.Equal(t, wantObj["spec"], installed.Inputs["spec"])
			}

			cm, ok := res.Graph.Named("kubernetes:core/v1:ConfigMap", "chaos-slo-gate")
			require.True(t, ok)
			var c gate.Config
			require.NoError(t, yaml.UnmarshalStrict([]byte(mapAt(cm, "data")["config.yaml"].(string)), &c))
			require.NoError(t, c.Validate())
			wantGate, err := stacks.GateConfig(res.Graph, rep, plan.Config.Namespaces)
			require.NoError(t, err)
			assert.Equal(t, wantGate, c)
			assert.Contains(t, c.Components, "ingress-gateway")

			for _, ns := range plan.Config.Namespaces {
				n, ok := res.Graph.Named("kubernetes:core/v1:Namespace", ns)
				require.True(t, ok, ns)
				assert.Equal(t, "enabled", mapAt(n, "metadata.annotations")["chaos-mesh.org/inject"], ns)
			}
			for _, ns := range []string{"chaos", "vault", "istio-system"} {
				n, ok := res.Graph.Named("kubernetes:core/v1:Namespace", ns)
				require.True(t, ok, ns)
				_, annotated := n.Get("metadata.annotations")
				assert.False(t, annotated, "%s accepts no chaos", ns)
			}
			chaosNS, _ := res.Graph.Named("kubernetes:core/v1:Namespace", "chaos")
			level := "restricted"
			if res.Spec.Cloud != spec.Local {
				level = "privileged"
			}
			assert.Equal(t, level, mapAt(chaosNS, "metadata.labels")["pod-security.kubernetes.io/enforce"])
		})
	}
}

// mapAt is the object at path (keys with dots, such as annotations, are
// read from it).
func mapAt(r graph.Resource, path string) map[string]any {
	v, _ := r.Get(path)
	m, _ := v.(map[string]any)
	return m
}
