package run

import (
	"context"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/infra/local/controlplane"
)

// chaosClient is a controller-runtime fake client that knows Kubernetes'
// kinds and chaos-mesh.org's, holding objs.
func chaosClient(t *testing.T, objs ...client.Object) client.WithWatch {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, chaosv1alpha1.AddToScheme(s))
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

// chaosMeta is the metadata of a chaos object in the chaos namespace,
// made for Workflow wf (none when empty).
func chaosMeta(name, wf string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Namespace: experiments.Namespace, Labels: map[string]string{}}
	if wf != "" {
		m.Labels[chaosv1alpha1.LabelWorkflow] = wf
	}
	return m
}

func lostNode(name, runID string) *corev1.Node {
	n := simNode(name, "zone-a")
	delete(n.Labels, controlplane.KubeletLabel)
	n.Annotations = map[string]string{LostAnnotation: runID}
	return n
}

func cordonedNode(name, runID string) *corev1.Node {
	n := simNode(name, "zone-b")
	n.Annotations = map[string]string{CordonAnnotation: runID}
	n.Spec.Unschedulable = true
	return n
}

func exists(t *testing.T, c client.Client, obj client.Object, name string) bool {
	t.Helper()
	err := c.Get(context.Background(), client.ObjectKey{Namespace: experiments.Namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	require.NoError(t, err)
	return true
}

func TestCleanup(t *testing.T) {
	ctx := context.Background()
	// Someone else's cordon (no marker) is not ours to undo.
	othersCordon := simNode("n-others", "zone-c")
	othersCordon.Spec.Unschedulable = true
	kube := kubefake.NewClientset(lostNode("n-lost", "r1"), cordonedNode("n-cordoned", "r1"), simNode("n-fine", "zone-a"), othersCordon)

	ours := WorkflowPrefix + "x-abc123"
	schedule := experiments.ScheduleName + "-1700000000" // the stack's Schedule's workflow
	kill := &chaosv1alpha1.PodChaos{ObjectMeta: chaosMeta("x-fault-abc", ours)}
	kill.Finalizers = []string{"chaos-mesh/records"} // the controller never releases it
	c := chaosClient(t,
		&chaosv1alpha1.Workflow{ObjectMeta: chaosMeta(ours, "")},
		&chaosv1alpha1.WorkflowNode{ObjectMeta: chaosMeta("x-abc", ours)},
		kill,
		&chaosv1alpha1.StatusCheck{ObjectMeta: chaosMeta("x-during-abc", ours)},
		&chaosv1alpha1.Workflow{ObjectMeta: chaosMeta(schedule, "")},
		&chaosv1alpha1.WorkflowNode{ObjectMeta: chaosMeta("resilience-xyz", schedule)},
		&chaosv1alpha1.PodChaos{ObjectMeta: chaosMeta("web-pod-kill-fault-xyz", schedule)},
		// A chaos object of ours in another namespace is not the run's.
		&chaosv1alpha1.PodChaos{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "default", Labels: map[string]string{chaosv1alpha1.LabelWorkflow: ours}}},
	)

	start := time.Now()
	done, err := Cleanup(ctx, kube, c, 100*time.Millisecond)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, []string{"n-lost"}, done.Nodes)
	assert.Equal(t, []string{"n-cordoned"}, done.Cordons)
	assert.ElementsMatch(t, []string{"PodChaos/x-fault-abc", "StatusCheck/x-during-abc", "WorkflowNode/x-abc", "Workflow/" + ours}, done.Objects)
	assert.Equal(t, []string{"PodChaos/x-fault-abc"}, done.Finalizers)
	assert.False(t, done.Empty())
	assert.Contains(t, done.String(), "restored nodes n-lost")
	assert.Contains(t, done.String(), "uncordoned n-cordoned")
	assert.Contains(t, done.String(), "deleted 4 chaos objects")
	assert.Contains(t, done.String(), "removed stuck finalizers of PodChaos/x-fault-abc")

	n := getNode(t, kube, "n-lost")
	assert.Equal(t, controlplane.KubeletValue, n.Labels[controlplane.KubeletLabel])
	assert.NotContains(t, n.Annotations, LostAnnotation)
	n = getNode(t, kube, "n-cordoned")
	assert.False(t, n.Spec.Unschedulable)
	assert.NotContains(t, n.Annotations, CordonAnnotation)
	assert.True(t, getNode(t, kube, "n-others").Spec.Unschedulable, "a cordon without our marker stays")
	assert.Equal(t, controlplane.KubeletValue, getNode(t, kube, "n-fine").Labels[controlplane.KubeletLabel])

	assert.False(t, exists(t, c, &chaosv1alpha1.Workflow{}, ours))
	assert.False(t, exists(t, c, &chaosv1alpha1.WorkflowNode{}, "x-abc"))
	assert.False(t, exists(t, c, &chaosv1alpha1.PodChaos{}, "x-fault-abc"), "the finalized object goes once its finalizer is stripped")
	assert.False(t, exists(t, c, &chaosv1alpha1.StatusCheck{}, "x-during-abc"))
	assert.True(t, exists(t, c, &chaosv1alpha1.Workflow{}, schedule), "the Schedule's workflow survives")
	assert.True(t, exists(t, c, &chaosv1alpha1.WorkflowNode{}, "resilience-xyz"))
	assert.True(t, exists(t, c, &chaosv1alpha1.PodChaos{}, "web-pod-kill-fault-xyz"))
	var elsewhere chaosv1alpha1.PodChaos
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "elsewhere"}, &elsewhere))

	again, err := Cleanup(ctx, kube, c, 100*time.Millisecond)
	require.NoError(t, err)
	assert.True(t, again.Empty(), "a second cleanup finds nothing: %s", again)
	assert.Equal(t, "nothing left behind", again.String())
}

// An object the controller releases within the wait is not reported as a
// stuck finalizer.
func TestCleanupFinalizerReleased(t *testing.T) {
	ours := WorkflowPrefix + "y-def456"
	kill := &chaosv1alpha1.PodChaos{ObjectMeta: chaosMeta("y-fault", ours)}
	kill.Finalizers = []string{"chaos-mesh/records"}
	c := chaosClient(t, kill)
	// The "controller": once the object is being deleted, it releases it.
	released := make(chan struct{})
	go func() {
		defer close(released)
		for range 200 {
			var k chaosv1alpha1.PodChaos
			if err := c.Get(context.Background(), client.ObjectKey{Namespace: experiments.Namespace, Name: "y-fault"}, &k); err == nil && k.DeletionTimestamp != nil {
				k.Finalizers = nil
				if err := c.Update(context.Background(), &k); err == nil {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	done, err := Cleanup(context.Background(), kubefake.NewClientset(), c, 5*time.Second)
	<-released
	require.NoError(t, err)
	assert.Equal(t, []string{"PodChaos/y-fault"}, done.Objects)
	assert.Empty(t, done.Finalizers)
	assert.False(t, exists(t, c, &chaosv1alpha1.PodChaos{}, "y-fault"))
}

func TestCleanupNodesOnly(t *testing.T) {
	kube := kubefake.NewClientset(lostNode("n-lost", "r1"), cordonedNode("n-cordoned", "r1"), simNode("n-fine", "zone-a"))
	done, err := Cleanup(context.Background(), kube, nil, time.Second)
	require.NoError(t, err)
	assert.Equal(t, Cleaned{Nodes: []string{"n-lost"}, Cordons: []string{"n-cordoned"}}, done)
	assert.Equal(t, controlplane.KubeletValue, getNode(t, kube, "n-lost").Labels[controlplane.KubeletLabel])
	assert.False(t, getNode(t, kube, "n-cordoned").Spec.Unschedulable)
}

// Without the chaos-mesh.org definitions there is nothing to clean, and
// that is no error.
func TestCleanupWithoutChaosKinds(t *testing.T) {
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	c := fake.NewClientBuilder().WithScheme(s).Build()
	done, err := Cleanup(context.Background(), kubefake.NewClientset(simNode("n1", "zone-a")), c, time.Second)
	require.NoError(t, err)
	assert.True(t, done.Empty())
}
