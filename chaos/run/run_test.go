package run

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/report"
	"github.com/cloudscale/platform/chaos/spof"
)

// runner is a Runner for the stack of web (cloudscale), etcd (a quorum in
// cloudscale) and tool (ops, outside the application namespaces), with
// no cluster behind it.
func runner(t *testing.T, o Options) *Runner {
	t.Helper()
	a := analyse(t, false, webDeployment, etcdStatefulSet, toolDeployment)
	return &Runner{o: o, plan: a.plan, run: &report.Run{Components: a.components()}}
}

func names(steps []step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.rec.Name)
	}
	return out
}

func TestSteps(t *testing.T) {
	r := runner(t, Options{})
	steps, err := r.steps()
	require.NoError(t, err)

	// What runs, in domain order, then what is recorded as not run.
	var run []step
	notRun := map[string]report.Experiment{}
	for i, s := range steps {
		if s.rec.Status == report.NotRun {
			notRun[s.rec.Name] = s.rec
			continue
		}
		require.Empty(t, s.rec.Status, "%s: a step to run has no status yet", s.rec.Name)
		require.Len(t, notRun, 0, "%s (step %d) comes after a not-run step", s.rec.Name, i)
		run = append(run, s)
	}
	assert.Equal(t, []string{
		"web-pod-kill", "etcd-pod-kill", // pod, in plan order
		"etcd-pod-kill-all-but-quorum",                      // quorum
		"web-node-loss", "etcd-node-loss", "tool-node-loss", // node: the run drives nodes, whatever the namespace
		"zone-outage-zone-a", "zone-outage-zone-b", "zone-outage-zone-c", // zone: the stack's, not the components'
		"zone-drain-zone-a", "zone-drain-zone-b", "zone-drain-zone-c", // drain: one per zone
	}, names(run))
	for _, s := range run {
		switch s.rec.Domain {
		case "pod", "quorum":
			require.NotNil(t, s.plan, s.rec.Name)
			assert.Equal(t, s.rec.Name, s.plan.Name, "the step points at its own experiment")
			assert.Equal(t, experiments.ChaosMesh, s.rec.Executor)
			assert.Equal(t, "cloudscale/"+strings.Split(s.rec.Name, "-")[0], s.rec.Component)
		case "node":
			assert.Nil(t, s.plan)
			assert.Equal(t, experiments.ClusterRunner, s.rec.Executor)
			assert.Equal(t, string(experiments.NodeLoss), s.rec.Fault)
			assert.NotEmpty(t, s.rec.Component)
		case "zone":
			assert.Nil(t, s.plan, "the run loses the zone's nodes; no Workflow")
			assert.Equal(t, experiments.ClusterRunner, s.rec.Executor, "the plan says chaos-mesh; the run drives it")
			assert.Equal(t, string(experiments.ZoneOutage), s.rec.Fault)
			assert.Equal(t, strings.TrimPrefix(s.rec.Name, "zone-outage-"), s.zone)
			assert.Equal(t, s.zone, s.rec.Zone)
			assert.Empty(t, s.rec.Component)
		case "drain":
			assert.Nil(t, s.plan)
			assert.Equal(t, "zone-drain", s.rec.Fault)
			assert.Equal(t, experiments.ClusterRunner, s.rec.Executor)
			assert.Equal(t, strings.TrimPrefix(s.rec.Name, "zone-drain-"), s.zone)
			assert.Equal(t, s.zone, s.rec.Zone)
		default:
			t.Errorf("%s: unexpected domain %s", s.rec.Name, s.rec.Domain)
		}
	}

	// The faults chaos-daemon would inject, for every component.
	for _, c := range []string{"web", "etcd", "tool"} {
		for _, f := range []struct{ fault, domain string }{{"network-delay", "network"}, {"cpu-stress", "stress"}, {"memory-stress", "stress"}, {"dns-failure", "dns"}} {
			e, ok := notRun[c+"-"+f.fault]
			if assert.True(t, ok, "%s-%s is recorded", c, f.fault) {
				assert.Equal(t, notRunDaemon, e.NotRunReason)
				assert.Equal(t, f.domain, e.Domain)
			}
		}
	}
	// One container kill per component, whatever its namespace.
	var kills []string
	for name, e := range notRun {
		if e.Fault == "container-kill" {
			kills = append(kills, name)
			assert.Equal(t, "container", e.Domain)
			assert.Equal(t, strings.TrimSuffix(name, "-container-kill"), strings.Split(e.Component, "/")[1])
			assert.Contains(t, e.NotRunReason, "needs a node agent")
		}
	}
	assert.ElementsMatch(t, []string{"web-container-kill", "etcd-container-kill", "tool-container-kill"}, kills)
	// A Workflow outside the application namespaces is not run.
	if e, ok := notRun["tool-pod-kill"]; assert.True(t, ok) {
		assert.Contains(t, e.NotRunReason, "ops is outside the application namespaces the controller injects into (cloudscale)")
	}
	// Every experiment is accounted for, once.
	assert.Len(t, run, 12)
	assert.Len(t, notRun, 3*4+3+1)
	assert.Len(t, steps, len(run)+len(notRun), "no name twice")
	// A component's own zone outages are dropped.
	for _, n := range names(steps) {
		assert.False(t, strings.Contains(n, "-zone-outage-"), "%s: a component's zone outage is the stack's", n)
	}
}

func TestStepsSelection(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"one experiment", Options{Experiment: "etcd-pod-kill"}, []string{"etcd-pod-kill"}},
		{"a not-run experiment by name", Options{Experiment: "tool-dns-failure"}, []string{"tool-dns-failure"}},
		{"drain only", Options{Domains: []string{"drain"}}, []string{"zone-drain-zone-a", "zone-drain-zone-b", "zone-drain-zone-c"}},
		{"zone and drain of zone-b", Options{Domains: []string{"zone", "drain"}, Zones: []string{"zone-b"}}, []string{"zone-outage-zone-b", "zone-drain-zone-b"}},
		{"quorum", Options{Domains: []string{"quorum"}}, []string{"etcd-pod-kill-all-but-quorum"}},
		{"container", Options{Domains: []string{"container"}}, []string{"etcd-container-kill", "web-container-kill", "tool-container-kill"}}, // in component key order,
		{"a domain with nothing", Options{Domains: []string{"route"}}, nil},
		{"two zones", Options{Domains: []string{"zone"}, Zones: []string{"zone-c", "zone-a"}}, []string{"zone-outage-zone-a", "zone-outage-zone-c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			steps, err := runner(t, tc.o).steps()
			require.NoError(t, err)
			assert.Equal(t, tc.want, names(steps))
		})
	}
	t.Run("zones keep what has no zone", func(t *testing.T) {
		steps, err := runner(t, Options{Zones: []string{"zone-b"}}).steps()
		require.NoError(t, err)
		got := names(steps)
		assert.Contains(t, got, "web-pod-kill")
		assert.Contains(t, got, "web-node-loss")
		assert.Contains(t, got, "zone-outage-zone-b")
		assert.Contains(t, got, "zone-drain-zone-b")
		for _, s := range steps {
			assert.NotContains(t, []string{"zone-a", "zone-c"}, s.rec.Zone, s.rec.Name)
		}
	})
}

func TestStepsUnknownExperiment(t *testing.T) {
	for _, name := range []string{"no-such-experiment", "web-zone-outage-zone-a"} {
		t.Run(name, func(t *testing.T) {
			steps, err := runner(t, Options{Experiment: name}).steps()
			assert.Nil(t, steps)
			var se *SelectError
			require.True(t, errors.As(err, &se), "a usage error: %v", err)
			msg := se.Error()
			assert.True(t, strings.HasPrefix(msg, `no experiment "`+name+`"; experiments: `), msg)
			listed := strings.Split(strings.TrimPrefix(msg, `no experiment "`+name+`"; experiments: `), ", ")
			for _, n := range []string{"web-pod-kill", "etcd-pod-kill-all-but-quorum", "zone-outage-zone-c", "zone-drain-zone-a", "tool-dns-failure", "web-container-kill"} {
				assert.Contains(t, listed, n)
			}
			assert.False(t, slices.Contains(listed, name))
		})
	}
}

func TestFaultDomain(t *testing.T) {
	cases := []struct {
		e    experiments.Experiment
		want string
	}{
		{experiments.Experiment{Fault: experiments.PodKill, Domain: spof.Pod}, "pod"},
		{experiments.Experiment{Fault: experiments.PodKillAllButQuorum, Domain: spof.Quorum}, "quorum"},
		{experiments.Experiment{Fault: experiments.NodeLoss, Domain: spof.Node}, "node"},
		{experiments.Experiment{Fault: experiments.ZoneOutage, Domain: spof.Zone}, "zone"},
		{experiments.Experiment{Fault: experiments.NetworkDelay, Domain: spof.Pod}, "network"},
		{experiments.Experiment{Fault: experiments.NetworkPartition, Domain: spof.Pod}, "network"},
		{experiments.Experiment{Fault: experiments.CPUStress, Domain: spof.Pod}, "stress"},
		{experiments.Experiment{Fault: experiments.MemoryStress, Domain: spof.Pod}, "stress"},
		{experiments.Experiment{Fault: experiments.DNSFailure, Domain: spof.Pod}, "dns"},
		{experiments.Experiment{Fault: "http-abort", Domain: spof.Pod, Route: &experiments.RouteFault{}}, "route"},
	}
	for _, tc := range cases {
		t.Run(string(tc.e.Fault), func(t *testing.T) {
			got := faultDomain(tc.e)
			assert.Equal(t, tc.want, got)
			assert.Contains(t, Domains, got, "--domain accepts it")
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	var o Options
	o.defaults()
	assert.Equal(t, 30*time.Second, o.FaultDuration)
	assert.Equal(t, 2*time.Minute, o.RecoveryLimit)
	assert.Equal(t, "20s", o.WorkflowDuration)
	assert.Equal(t, "5s", o.WorkflowRecovery)
	assert.Len(t, o.ID, 6)
	assert.NotNil(t, o.Progress)
	kept := Options{ID: "mine", WorkflowDuration: "1m"}
	kept.defaults()
	assert.Equal(t, "mine", kept.ID)
	assert.Equal(t, "1m", kept.WorkflowDuration)
}
