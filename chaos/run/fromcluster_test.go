package run

import (
	"context"
	"fmt"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/report"
)

var (
	nodeAccomplished = chaosv1alpha1.WorkflowNodeCondition{Type: chaosv1alpha1.ConditionAccomplished, Status: corev1.ConditionTrue}
	success          = chaosv1alpha1.StatusCheckOutcomeSuccess
	failure          = chaosv1alpha1.StatusCheckOutcomeFailure
)

// clusterWorkflow builds the objects Chaos Mesh leaves for one Workflow.
type clusterWorkflow struct {
	name, tag string
	at        time.Time
	objs      []client.Object
}

func newClusterWorkflow(name, tag string, at time.Time) *clusterWorkflow {
	w := &chaosv1alpha1.Workflow{ObjectMeta: chaosMeta(name, ""), Spec: chaosv1alpha1.WorkflowSpec{Entry: "resilience"}}
	w.CreationTimestamp = metav1.NewTime(at)
	return &clusterWorkflow{name: name, tag: tag, at: at, objs: []client.Object{w}}
}

// node adds a WorkflowNode of template, created at the workflow's time
// plus after, and returns its name.
func (cw *clusterWorkflow) node(template string, after time.Duration, conds ...chaosv1alpha1.WorkflowNodeCondition) string {
	name := fmt.Sprintf("%s-%s%d", template, cw.tag, len(cw.objs)) // as unique as Chaos Mesh's random suffix
	n := workflowNode(name, template, cw.name, conds...)
	n.CreationTimestamp = metav1.NewTime(cw.at.Add(after))
	cw.objs = append(cw.objs, n)
	return name
}

// check adds the StatusCheck a "<experiment>-during" node controls, with
// one record per outcome, five seconds apart from at.
func (cw *clusterWorkflow) check(experiment string, at time.Duration, outcomes ...chaosv1alpha1.StatusCheckOutcome) {
	node := cw.node(experiment+"-during", at)
	var recs []chaosv1alpha1.StatusCheckRecord
	for i, o := range outcomes {
		recs = append(recs, checkRecord(cw.at.Add(at+time.Duration(i)*5*time.Second), o))
	}
	cw.objs = append(cw.objs, statusCheck(node+"-sc", cw.name, node, recs...))
}

// kill adds the PodChaos a "<experiment>-fault" node controls.
func (cw *clusterWorkflow) kill(experiment string, at time.Duration, pods ...string) {
	node := cw.node(experiment+"-fault", at)
	var recs []*chaosv1alpha1.Record
	for _, p := range pods {
		recs = append(recs, &chaosv1alpha1.Record{Id: p, InjectedCount: 1})
	}
	cw.objs = append(cw.objs, podChaos(node+"-pc", cw.name, node, recs...))
}

func experimentNamed(t *testing.T, run *report.Run, name string) report.Experiment {
	t.Helper()
	var names []string
	for _, e := range run.Experiments {
		if e.Name == name {
			return e
		}
		names = append(names, e.Name)
	}
	t.Fatalf("no experiment %q in %q", name, names)
	return report.Experiment{}
}

func TestFromCluster(t *testing.T) {
	a := analyse(t, true, webDeployment, toolDeployment)
	t0 := time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)
	sched := newClusterWorkflow(experiments.ScheduleName+"-1", "s", t0)
	sched.node("resilience", 0) // the Schedule's entry: no experiment
	sched.node("web-pod-kill", time.Minute, nodeAccomplished)
	sched.check("web-pod-kill", time.Minute+10*time.Second, success, success)
	sched.kill("web-pod-kill", time.Minute+10*time.Second, "cloudscale/web-7d9f-abcde")
	sched.node("zone-outage-zone-a", 3*time.Minute, nodeAborted)
	sched.check("zone-outage-zone-a", 3*time.Minute+10*time.Second, success, failure)
	// A run's Workflow still running: not reported yet.
	running := newClusterWorkflow(WorkflowPrefix+"web-pod-kill-abc123", "r", t0.Add(time.Hour))
	running.node("web-pod-kill", 0)
	running.check("web-pod-kill", 10*time.Second, success)
	c := chaosClient(t, append(sched.objs, running.objs...)...)

	run, err := FromCluster(context.Background(), c, ClusterSource{Stack: "staging", Env: "staging", Source: "cluster", Report: a.rep, Plan: a.plan})
	require.NoError(t, err)
	assert.Equal(t, "staging", run.Stack)
	assert.Equal(t, testZones, run.Zones)
	assert.Equal(t, 6, run.Nodes)
	require.Len(t, run.Components, 2)
	comps := map[string]report.Component{}
	for _, c := range run.Components {
		comps[c.Key()] = c
	}
	assert.Equal(t, 2, comps["cloudscale/web"].Weight, "in the application namespaces")
	assert.Equal(t, 1, comps["ops/tool"].Weight)
	assert.Equal(t, "survives", comps["cloudscale/web"].Predicted["pod"])
	assert.Equal(t, "spof", comps["ops/tool"].Predicted["pod"])

	require.Len(t, run.Experiments, 2, "the entry and running nodes are not experiments")
	kill := experimentNamed(t, run, "web-pod-kill ("+sched.name+")")
	assert.Equal(t, report.Ran, kill.Status)
	assert.Equal(t, "pod-kill", kill.Fault)
	assert.Equal(t, "pod", kill.Domain)
	assert.Equal(t, "cloudscale/web", kill.Component)
	assert.False(t, kill.Aborted)
	assert.Equal(t, t0.Add(time.Minute), kill.Started)
	assert.Equal(t, t0.Add(time.Minute+15*time.Second), kill.Finished, "the last check")
	assert.Equal(t, 1, kill.Injected)
	assert.Equal(t, []string{"cloudscale/web-7d9f-abcde"}, kill.Targets)
	assert.Equal(t, []report.StatusCheckRecord{
		{Check: "web-pod-kill-during", Time: t0.Add(time.Minute + 10*time.Second), Outcome: "Success"},
		{Check: "web-pod-kill-during", Time: t0.Add(time.Minute + 15*time.Second), Outcome: "Success"},
	}, kill.StatusChecks)
	assert.Equal(t, []report.Impact{{Component: "cloudscale/web", Hit: 1, Replicas: 3, Needed: 1, MinReady: 1, RecoverySeconds: 0, Basis: report.BasisStatusChecks}}, kill.Impacts)

	zone := experimentNamed(t, run, "zone-outage-zone-a ("+sched.name+")")
	assert.True(t, zone.Aborted)
	assert.Equal(t, "zone", zone.Domain)
	assert.Equal(t, "zone-a", zone.Zone)
	assert.Empty(t, zone.Component)
	assert.Len(t, zone.StatusChecks, 2)
	assert.Equal(t, 0, zone.Injected)
	assert.Contains(t, zone.Evidence, "the injected count is not known")
	assert.Equal(t, []report.Impact{{Component: "cloudscale/web", Hit: 1, Replicas: 3, Needed: 1, MinReady: 0, RecoverySeconds: -1, Basis: report.BasisStatusChecks}}, zone.Impacts,
		"a stack-wide experiment judges the application namespaces' components only")

	assert.Equal(t, t0.Add(time.Minute), run.Started)
	assert.Equal(t, t0.Add(3*time.Minute+15*time.Second), run.Finished)

	judged := report.Judge(run)
	p, ok := judged.Pair("cloudscale/web", "pod")
	require.True(t, ok)
	assert.Equal(t, report.VerdictHeld, p.Verdict, p.Reason)
	assert.Equal(t, report.MatchConfirmed, p.Match)
	p, ok = judged.Pair("cloudscale/web", "zone")
	require.True(t, ok)
	assert.Equal(t, report.VerdictBreached, p.Verdict, p.Reason)
	assert.Contains(t, p.Reason, "StatusChecks failed or aborted")
	p, ok = judged.Pair("ops/tool", "zone")
	require.True(t, ok)
	assert.Equal(t, report.VerdictNotHit, p.Verdict, p.Reason)
}

// One experiment's name can start another's: etcd-pod-kill and
// etcd-pod-kill-all-but-quorum run in the same Schedule, and the first
// must not take the second's checks and kills.
func TestFromClusterExperimentNamePrefix(t *testing.T) {
	a := analyse(t, true, etcdStatefulSet)
	t0 := time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)
	sched := newClusterWorkflow(experiments.ScheduleName+"-2", "q", t0)
	sched.node("etcd-pod-kill", time.Minute, nodeAccomplished)
	sched.check("etcd-pod-kill", time.Minute+10*time.Second, success)
	sched.kill("etcd-pod-kill", time.Minute+10*time.Second, "cloudscale/etcd-0")
	sched.node("etcd-pod-kill-all-but-quorum", 3*time.Minute, nodeAborted)
	sched.check("etcd-pod-kill-all-but-quorum", 3*time.Minute+10*time.Second, failure)
	sched.kill("etcd-pod-kill-all-but-quorum", 3*time.Minute+10*time.Second, "cloudscale/etcd-1")
	c := chaosClient(t, sched.objs...)

	run, err := FromCluster(context.Background(), c, ClusterSource{Stack: "staging", Env: "staging", Report: a.rep, Plan: a.plan})
	require.NoError(t, err)
	kill := experimentNamed(t, run, "etcd-pod-kill ("+sched.name+")")
	assert.Equal(t, 1, kill.Injected)
	assert.Equal(t, []string{"cloudscale/etcd-0"}, kill.Targets)
	require.Len(t, kill.StatusChecks, 1)
	assert.Equal(t, "etcd-pod-kill-during", kill.StatusChecks[0].Check)
	quorum := experimentNamed(t, run, "etcd-pod-kill-all-but-quorum ("+sched.name+")")
	assert.Equal(t, "quorum", quorum.Domain)
	assert.Equal(t, []string{"cloudscale/etcd-1"}, quorum.Targets)

	judged := report.Judge(run)
	p, _ := judged.Pair("cloudscale/etcd", "pod")
	assert.Equal(t, report.VerdictHeld, p.Verdict, p.Reason)
	p, _ = judged.Pair("cloudscale/etcd", "quorum")
	assert.Equal(t, report.VerdictBreached, p.Verdict, p.Reason)
}

func TestFromClusterEmpty(t *testing.T) {
	a := analyse(t, true, webDeployment)
	before := time.Now().UTC()
	run, err := FromCluster(context.Background(), chaosClient(t), ClusterSource{Stack: "staging", Report: a.rep, Plan: a.plan})
	require.NoError(t, err)
	assert.Empty(t, run.Experiments)
	assert.False(t, run.Started.Before(before), "no experiment: the run is dated now")
	assert.Equal(t, run.Started, run.Finished)
}
