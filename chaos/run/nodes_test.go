package run

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/cloudscale/platform/infra/local/controlplane"
)

// simNode is a node kwok plays, in zone.
func simNode(name, zone string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		controlplane.KubeletLabel: controlplane.KubeletValue,
		corev1.LabelTopologyZone:  zone,
		corev1.LabelHostname:      name,
	}}}
}

func getNode(t *testing.T, kube kubernetes.Interface, name string) *corev1.Node {
	t.Helper()
	n, err := kube.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return n
}

func TestNodeMarkers(t *testing.T) {
	ctx := context.Background()
	kube := kubefake.NewClientset(simNode("n1", "zone-a"))

	require.NoError(t, loseNode(ctx, kube, "n1", "run1"))
	n := getNode(t, kube, "n1")
	assert.NotContains(t, n.Labels, controlplane.KubeletLabel, "kwok must stop playing the lost node's kubelet")
	assert.Equal(t, "run1", n.Annotations[LostAnnotation])
	assert.Equal(t, "zone-a", n.Labels[corev1.LabelTopologyZone], "other labels are kept")
	assert.False(t, n.Spec.Unschedulable)

	require.NoError(t, restoreNode(ctx, kube, "n1"))
	n = getNode(t, kube, "n1")
	assert.Equal(t, controlplane.KubeletValue, n.Labels[controlplane.KubeletLabel])
	assert.NotContains(t, n.Annotations, LostAnnotation)
	assert.Equal(t, "zone-a", n.Labels[corev1.LabelTopologyZone])

	require.NoError(t, cordon(ctx, kube, "n1", "run2"))
	n = getNode(t, kube, "n1")
	assert.True(t, n.Spec.Unschedulable)
	assert.Equal(t, "run2", n.Annotations[CordonAnnotation])
	assert.Equal(t, controlplane.KubeletValue, n.Labels[controlplane.KubeletLabel], "a cordon leaves the kubelet")

	require.NoError(t, uncordon(ctx, kube, "n1"))
	n = getNode(t, kube, "n1")
	assert.False(t, n.Spec.Unschedulable)
	assert.NotContains(t, n.Annotations, CordonAnnotation)

	// A node that is not there is an error, not a silent success.
	assert.True(t, apierrors.IsNotFound(loseNode(ctx, kube, "missing", "run1")))
}

func TestZoneNodes(t *testing.T) {
	kube := kubefake.NewClientset(simNode("b2", "zone-b"), simNode("a2", "zone-a"), simNode("a1", "zone-a"))
	nodes, err := zoneNodes(context.Background(), kube, "zone-a")
	require.NoError(t, err)
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	assert.Equal(t, []string{"a1", "a2"}, names)
}

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// withNodeNameSelector makes the fake clientset honour the
// spec.nodeName field selector on pod lists, as the API server does (the
// fake's own List filters by labels only).
func withNodeNameSelector(kube *kubefake.Clientset) {
	kube.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		la := a.(k8stesting.ListAction)
		sel := la.GetListRestrictions().Fields
		if sel == nil || sel.Empty() {
			return false, nil, nil
		}
		obj, err := kube.Tracker().List(podsGVR, corev1.SchemeGroupVersion.WithKind("Pod"), la.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		list := obj.(*corev1.PodList)
		out := &corev1.PodList{}
		for _, p := range list.Items {
			if sel.Matches(fields.Set{"spec.nodeName": p.Spec.NodeName}) {
				out.Items = append(out.Items, p)
			}
		}
		return true, out, nil
	})
}

func pod(ns, name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: k8stypes.UID(ns + "-" + name), Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// evictions records the eviction calls and answers them: refused names
// are refused with a 429 always, once names the first time only, fail
// names with a 500; the others are evicted (the pod deleted, as the API
// server does).
type evictions struct {
	mu            sync.Mutex
	calls         map[string]int
	refused, once map[string]bool
	fail          map[string]bool
}

func (e *evictions) install(kube *kubefake.Clientset) {
	e.calls = map[string]int{}
	kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		key := ev.Namespace + "/" + ev.Name
		e.mu.Lock()
		e.calls[key]++
		n := e.calls[key]
		e.mu.Unlock()
		gr := schema.GroupResource{Resource: "pods"}
		switch {
		case e.fail[key]:
			return true, nil, apierrors.NewInternalError(errors.New("etcd is down"))
		case e.refused[key] || (e.once[key] && n == 1):
			return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		}
		if err := kube.Tracker().Delete(podsGVR, ev.Namespace, ev.Name); err != nil {
			return true, nil, apierrors.NewNotFound(gr, ev.Name)
		}
		return true, nil, nil
	})
}

func shortBackoff(t *testing.T, b ...time.Duration) {
	t.Helper()
	old := evictionBackoff
	evictionBackoff = b
	t.Cleanup(func() { evictionBackoff = old })
}

func TestDrainNodes(t *testing.T) {
	shortBackoff(t, time.Millisecond, 2*time.Millisecond, 3*time.Millisecond)
	ctrl := true
	ds := pod("kube-system", "agent-n1", "n1")
	ds.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "ds", Controller: &ctrl}}
	mirror := pod("kube-system", "static-n2", "n2")
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
	terminating := pod("app", "old-n1", "n1")
	terminating.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	terminating.Finalizers = []string{"example.com/hold"}
	// A DaemonSet owner reference that is not the controller does not
	// keep a pod: it is drained.
	notCtrl := false
	weakDS := pod("app", "weak-n2", "n2")
	weakDS.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "other", UID: "ds2", Controller: &notCtrl}}
	objs := []runtime.Object{
		ds, mirror, terminating, weakDS,
		pod("app", "web-n1", "n1"),
		pod("app", "api-n2", "n2"),
		pod("app", "db-n1", "n1"),      // its budget never allows it
		pod("other", "cache-n2", "n2"), // refused once, then evicted
		pod("app", "web-n3", "n3"),     // on a node not drained
		pod("app", "db-n3", "n3"),
	}
	kube := kubefake.NewClientset(objs...)
	withNodeNameSelector(kube)
	ev := &evictions{refused: map[string]bool{"app/db-n1": true}, once: map[string]bool{"other/cache-n2": true}}
	ev.install(kube)
	var progress []string
	evicted, blocked, err := drainNodes(context.Background(), kube, []string{"n1", "n2"}, func(f string, a ...any) {
		progress = append(progress, fmt.Sprintf(f, a...))
	})
	require.NoError(t, err)
	sort.Strings(evicted)
	assert.Equal(t, []string{"app/api-n2", "app/weak-n2", "app/web-n1", "other/cache-n2"}, evicted)
	assert.Equal(t, []string{"app/db-n1"}, blocked)

	// Every pod refused is asked again after each wait; the blocked one
	// once per attempt: the first and one per backoff.
	assert.Equal(t, 1+len(evictionBackoff), ev.calls["app/db-n1"])
	assert.Equal(t, 2, ev.calls["other/cache-n2"])
	for _, untouched := range []string{"kube-system/agent-n1", "kube-system/static-n2", "app/old-n1", "app/web-n3", "app/db-n3"} {
		assert.Zero(t, ev.calls[untouched], "%s must not be evicted", untouched)
	}
	require.Len(t, progress, len(evictionBackoff), "one progress line per retry: %v", progress)
	assert.Contains(t, progress[0], "2 eviction(s) refused by a PodDisruptionBudget; retrying in 1ms")
	assert.Contains(t, progress[1], "1 eviction(s) refused by a PodDisruptionBudget; retrying in 2ms")

	// What is left: the pods a drain keeps, the blocked one, the other node's.
	left, err := kube.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, p := range left.Items {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	assert.ElementsMatch(t, []string{"kube-system/agent-n1", "kube-system/static-n2", "app/old-n1", "app/db-n1", "app/web-n3", "app/db-n3"}, names)
}

func TestDrainNodesErrors(t *testing.T) {
	shortBackoff(t, time.Millisecond)
	t.Run("a refusal other than 429 is an error", func(t *testing.T) {
		kube := kubefake.NewClientset(pod("app", "web", "n1"))
		withNodeNameSelector(kube)
		ev := &evictions{fail: map[string]bool{"app/web": true}}
		ev.install(kube)
		evicted, blocked, err := drainNodes(context.Background(), kube, []string{"n1"}, func(string, ...any) {})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "evict app/web")
		assert.True(t, apierrors.IsInternalError(err), "the API error is wrapped: %v", err)
		assert.Empty(t, evicted)
		assert.Empty(t, blocked)
	})
	t.Run("a pod already gone is neither evicted nor blocked", func(t *testing.T) {
		kube := kubefake.NewClientset(pod("app", "web", "n1"))
		withNodeNameSelector(kube)
		kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != "eviction" {
				return false, nil, nil
			}
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "web")
		})
		evicted, blocked, err := drainNodes(context.Background(), kube, []string{"n1"}, func(string, ...any) {})
		require.NoError(t, err)
		assert.Empty(t, evicted)
		assert.Empty(t, blocked)
	})
	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		shortBackoff(t, time.Hour)
		kube := kubefake.NewClientset(pod("app", "db", "n1"))
		withNodeNameSelector(kube)
		ev := &evictions{refused: map[string]bool{"app/db": true}}
		ev.install(kube)
		ctx, cancel := context.WithCancel(context.Background())
		_, _, err := drainNodes(ctx, kube, []string{"n1"}, func(string, ...any) { cancel() })
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestDaemonPod(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name string
		p    corev1.Pod
		want bool
	}{
		{"plain", corev1.Pod{}, false},
		{"mirror", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}}}, true},
		{"DaemonSet controller", corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Controller: &yes}}}}, true},
		{"DaemonSet not controller", corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Controller: &no}}}}, false},
		{"DaemonSet controller unset", corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet"}}}}, false},
		{"ReplicaSet controller", corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Controller: &yes}}}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, daemonPod(tc.p)) })
	}
}

func TestNodeReady(t *testing.T) {
	ready := simNode("ready", "zone-a")
	ready.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	notReady := simNode("not-ready", "zone-a")
	notReady.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}
	kube := kubefake.NewClientset(ready, notReady, simNode("no-conditions", "zone-a"))
	ctx := context.Background()
	assert.True(t, nodeReady(ctx, kube, "ready"))
	assert.False(t, nodeReady(ctx, kube, "not-ready"))
	assert.False(t, nodeReady(ctx, kube, "no-conditions"))
	assert.False(t, nodeReady(ctx, kube, "missing"))
}
