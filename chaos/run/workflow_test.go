package run

import (
	"context"
	"strings"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/report"
)

func TestWorkflowName(t *testing.T) {
	cases := []struct {
		name, experiment, runID, want string
	}{
		{"short", "web-pod-kill", "abc123", WorkflowPrefix + "web-pod-kill-abc123"},
		{"exactly the room", strings.Repeat("a", 46), "abc123", WorkflowPrefix + strings.Repeat("a", 46) + "-abc123"},
		{"long", strings.Repeat("b", 80), "abc123", WorkflowPrefix + strings.Repeat("b", 46) + "-abc123"},
		{"cut at a dash", strings.Repeat("c", 45) + "-zone-a", "abc123", WorkflowPrefix + strings.Repeat("c", 45) + "-abc123"},
		{"cut at dashes", strings.Repeat("d", 43) + "----zone-a", "abc123", WorkflowPrefix + strings.Repeat("d", 43) + "-abc123"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := workflowName(tc.experiment, tc.runID)
			assert.Equal(t, tc.want, got)
			assert.LessOrEqual(t, len(got), 63)
			assert.True(t, strings.HasPrefix(got, WorkflowPrefix))
			assert.True(t, strings.HasSuffix(got, "-"+tc.runID))
			assert.NotContains(t, got, "--")
			assert.Empty(t, validation.IsDNS1123Label(got), "a label value and a DNS-1123 name")
			assert.Empty(t, validation.IsValidLabelValue(got))
		})
	}
}

func TestWorkflowFor(t *testing.T) {
	a := analyse(t, false, webDeployment, toolDeployment)
	w, err := workflowFor(a.plan, a.experiment(t, "web-pod-kill"), "abc123")
	require.NoError(t, err)
	assert.Equal(t, WorkflowPrefix+"web-pod-kill-abc123", w.Name)
	assert.Equal(t, experiments.Namespace, w.Namespace)
	assert.Equal(t, "abc123", w.Labels[RunLabel])
	assert.Equal(t, "cloudscale", w.Labels["app.kubernetes.io/part-of"], "the plan's labels are kept")
	assert.Equal(t, "web-pod-kill", w.Spec.Entry, "the entry keeps the experiment's name: FromCluster and observe look it up")

	_, err = workflowFor(a.plan, a.experiment(t, "web-node-loss"), "abc123")
	assert.Error(t, err, "node loss has no Workflow")
	_, err = workflowFor(a.plan, a.experiment(t, "tool-pod-kill"), "abc123")
	assert.ErrorContains(t, err, "outside the application namespaces")
}

func TestWorkflowTimeout(t *testing.T) {
	assert.Equal(t, 2*20*time.Second+5*time.Second+3*time.Minute, workflowTimeout(experiments.Config{Duration: "20s", Recovery: "5s"}))
	assert.NoError(t, errIfNotDone(&workflowOutcome{done: true}, "wf", time.Minute))
	assert.EqualError(t, errIfNotDone(newOutcome(), "wf", time.Minute), "workflow wf did not finish within 1m0s")
}

const testWF = WorkflowPrefix + "web-pod-kill-abc123"

func testWorkflow(conds ...chaosv1alpha1.WorkflowCondition) *chaosv1alpha1.Workflow {
	w := &chaosv1alpha1.Workflow{ObjectMeta: chaosMeta(testWF, ""), Spec: chaosv1alpha1.WorkflowSpec{Entry: "web-pod-kill"}}
	w.Status.Conditions = conds
	return w
}

func workflowNode(name, template, wf string, conds ...chaosv1alpha1.WorkflowNodeCondition) *chaosv1alpha1.WorkflowNode {
	n := &chaosv1alpha1.WorkflowNode{ObjectMeta: chaosMeta(name, wf), Spec: chaosv1alpha1.WorkflowNodeSpec{TemplateName: template, WorkflowName: wf}}
	n.Status.Conditions = conds
	return n
}

func podChaos(name, wf, controlledBy string, records ...*chaosv1alpha1.Record) *chaosv1alpha1.PodChaos {
	k := &chaosv1alpha1.PodChaos{ObjectMeta: chaosMeta(name, wf)}
	if controlledBy != "" {
		k.Labels[chaosv1alpha1.LabelControlledBy] = controlledBy
	}
	k.Status.Experiment.Records = records
	return k
}

func statusCheck(name, wf, controlledBy string, records ...chaosv1alpha1.StatusCheckRecord) *chaosv1alpha1.StatusCheck {
	sc := &chaosv1alpha1.StatusCheck{ObjectMeta: chaosMeta(name, wf)}
	if controlledBy != "" {
		sc.Labels[chaosv1alpha1.LabelControlledBy] = controlledBy
	}
	sc.Status.Records = records
	return sc
}

func checkRecord(at time.Time, outcome chaosv1alpha1.StatusCheckOutcome) chaosv1alpha1.StatusCheckRecord {
	return chaosv1alpha1.StatusCheckRecord{StartTime: &metav1.Time{Time: at}, Outcome: outcome}
}

var (
	accomplished = chaosv1alpha1.WorkflowCondition{Type: chaosv1alpha1.WorkflowConditionAccomplished, Status: corev1.ConditionTrue}
	nodeAborted  = chaosv1alpha1.WorkflowNodeCondition{Type: chaosv1alpha1.ConditionAborted, Status: corev1.ConditionTrue}
)

func TestObserveState(t *testing.T) {
	cases := []struct {
		name          string
		objs          []client.Object
		done, aborted bool
	}{
		{"running", []client.Object{testWorkflow(), workflowNode("entry", "web-pod-kill", testWF)}, false, false},
		{"accomplished", []client.Object{testWorkflow(accomplished), workflowNode("entry", "web-pod-kill", testWF, chaosv1alpha1.WorkflowNodeCondition{Type: chaosv1alpha1.ConditionAccomplished, Status: corev1.ConditionTrue})}, true, false},
		{"accomplished not yet true", []client.Object{testWorkflow(chaosv1alpha1.WorkflowCondition{Type: chaosv1alpha1.WorkflowConditionAccomplished, Status: corev1.ConditionFalse})}, false, false},
		{"a check aborted, the entry not yet", []client.Object{testWorkflow(), workflowNode("entry", "web-pod-kill", testWF), workflowNode("during", "web-pod-kill-during", testWF, nodeAborted)}, false, true},
		{"an aborted condition not true", []client.Object{testWorkflow(), workflowNode("during", "web-pod-kill-during", testWF, chaosv1alpha1.WorkflowNodeCondition{Type: chaosv1alpha1.ConditionAborted, Status: corev1.ConditionFalse})}, false, false},
		{"the entry aborted", []client.Object{testWorkflow(), workflowNode("entry", "web-pod-kill", testWF, nodeAborted), workflowNode("during", "web-pod-kill-during", testWF, nodeAborted)}, true, true},
		{"another workflow's aborted entry", []client.Object{testWorkflow(), workflowNode("entry", "web-pod-kill", WorkflowPrefix+"other", nodeAborted)}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := chaosClient(t, tc.objs...)
			o := newOutcome()
			require.NoError(t, o.observe(context.Background(), c, testWF))
			assert.Equal(t, tc.done, o.done, "done")
			assert.Equal(t, tc.aborted, o.aborted, "aborted")
		})
	}
	t.Run("no workflow", func(t *testing.T) {
		err := newOutcome().observe(context.Background(), chaosClient(t), testWF)
		assert.True(t, apierrors.IsNotFound(err), "%v", err)
	})
}

func TestObserveRecords(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	kill := podChaos("web-pod-kill-fault-x", testWF, "fault-node",
		&chaosv1alpha1.Record{Id: "cloudscale/web-2", InjectedCount: 1},
		&chaosv1alpha1.Record{Id: "cloudscale/web-1", InjectedCount: 1})
	c := chaosClient(t,
		testWorkflow(),
		kill,
		// Another workflow's kill is not ours.
		podChaos("other-fault", WorkflowPrefix+"other", "", &chaosv1alpha1.Record{Id: "cloudscale/api-1", InjectedCount: 5}),
		statusCheck("during-x", testWF, "during-node", checkRecord(t0.Add(10*time.Second), chaosv1alpha1.StatusCheckOutcomeSuccess), checkRecord(t0.Add(5*time.Second), chaosv1alpha1.StatusCheckOutcomeFailure)),
		statusCheck("before-x", testWF, "before-node", checkRecord(t0, chaosv1alpha1.StatusCheckOutcomeSuccess), chaosv1alpha1.StatusCheckRecord{Outcome: chaosv1alpha1.StatusCheckOutcomeSuccess}),
		statusCheck("unlabelled", testWF, "", checkRecord(t0.Add(5*time.Second), chaosv1alpha1.StatusCheckOutcomeSuccess)),
	)
	o := newOutcome()
	require.NoError(t, o.observe(ctx, c, testWF))
	assert.Equal(t, 2, o.totalInjected())
	assert.Equal(t, []string{"cloudscale/web-1", "cloudscale/web-2"}, o.targetList())
	want := []report.StatusCheckRecord{
		{Check: "before-node", Time: t0, Outcome: "Success"},
		{Check: "during-node", Time: t0.Add(5 * time.Second), Outcome: "Failure"},
		{Check: "unlabelled", Time: t0.Add(5 * time.Second), Outcome: "Success"}, // same time: by check
		{Check: "during-node", Time: t0.Add(10 * time.Second), Outcome: "Success"},
	}
	assert.Equal(t, want, o.records(), "sorted by time, a record without a start time left out, an unlabelled check named after itself")

	// Observing again adds nothing.
	require.NoError(t, o.observe(ctx, c, testWF))
	assert.Equal(t, want, o.records())
	assert.Equal(t, 2, o.totalInjected())

	// The controller lowers a count (a record recovered and rewritten):
	// the most seen stays.
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(kill), kill))
	kill.Status.Experiment.Records = kill.Status.Experiment.Records[:1]
	require.NoError(t, c.Update(ctx, kill))
	require.NoError(t, o.observe(ctx, c, testWF))
	assert.Equal(t, 2, o.totalInjected())

	// Deleted by the controller when its node ends: what was seen stays.
	require.NoError(t, c.Delete(ctx, kill))
	require.NoError(t, c.Delete(ctx, statusCheck("during-x", testWF, "")))
	require.NoError(t, o.observe(ctx, c, testWF))
	assert.Equal(t, 2, o.totalInjected())
	assert.Equal(t, []string{"cloudscale/web-1", "cloudscale/web-2"}, o.targetList())
	assert.Equal(t, want, o.records())

	// A second chaos object of the workflow adds its own count.
	require.NoError(t, c.Create(ctx, podChaos("web-pod-kill-fault-y", testWF, "fault-node-2", &chaosv1alpha1.Record{Id: "cloudscale/web-3", InjectedCount: 1})))
	require.NoError(t, o.observe(ctx, c, testWF))
	assert.Equal(t, 3, o.totalInjected())
	assert.Equal(t, []string{"cloudscale/web-1", "cloudscale/web-2", "cloudscale/web-3"}, o.targetList())
}
