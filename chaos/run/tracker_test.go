package run

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/cloudscale/platform/chaos/report"
)

var (
	webComp = report.Component{Namespace: "shop", Name: "web", Replicas: 3, Needed: 1}
	dbComp  = report.Component{Namespace: "shop", Name: "db", Replicas: 3, Needed: 2}
)

func testTracker() *tracker {
	return newTracker([]report.Component{webComp, dbComp}, map[string]map[string]string{
		webComp.Key(): {"app": "web"},
		dbComp.Key():  {"app": "db"},
	})
}

// appPod is a pod of app on node; ready says Running with Ready=True.
func appPod(ns, app, name, node string, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: k8stypes.UID(ns + "/" + name), Labels: map[string]string{"app": app, "pod-template-hash": "abc"}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	if ready {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return p
}

func deleting(p *corev1.Pod) *corev1.Pod {
	q := p.DeepCopy()
	q.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	return q
}

func impactOf(t *testing.T, ims []report.Impact, key string) report.Impact {
	t.Helper()
	for _, im := range ims {
		if im.Component == key {
			return im
		}
	}
	t.Fatalf("no impact for %s in %+v", key, ims)
	return report.Impact{}
}

func TestPodReady(t *testing.T) {
	running := appPod("shop", "web", "p", "n1", true)
	notReady := running.DeepCopy()
	notReady.Status.Conditions[1].Status = corev1.ConditionFalse
	noCondition := running.DeepCopy()
	noCondition.Status.Conditions = nil
	succeeded := running.DeepCopy()
	succeeded.Status.Phase = corev1.PodSucceeded
	cases := []struct {
		name string
		p    *corev1.Pod
		want bool
	}{
		{"running and ready", running, true},
		{"ready false", notReady, false},
		{"no ready condition", noCondition, false},
		{"pending", appPod("shop", "web", "p", "", false), false},
		{"not running", succeeded, false},
		{"being deleted", deleting(running), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, podReady(tc.p)) })
	}
}

func TestTrackerCounts(t *testing.T) {
	tr := testTracker()
	w1, w2, w3 := appPod("shop", "web", "web-1", "n1", true), appPod("shop", "web", "web-2", "n1", true), appPod("shop", "web", "web-3", "n2", true)
	for _, p := range []*corev1.Pod{w1, w2, w3,
		appPod("shop", "db", "db-1", "n1", true),
		appPod("shop", "db", "db-2", "n2", false),   // not ready yet
		appPod("other", "web", "web-x", "n1", true), // same labels, another namespace
		appPod("shop", "api", "api-1", "n1", true),  // another component
	} {
		tr.put(p)
	}
	tr.put("not a pod") // ignored
	assert.Equal(t, 3, tr.readyOf(webComp.Key()))
	assert.Equal(t, 1, tr.readyOf(dbComp.Key()))
	assert.Equal(t, 0, tr.readyOf("shop/missing"))
	ok, short := tr.full()
	assert.False(t, ok)
	assert.Equal(t, []string{"shop/db 1/3"}, short)

	tr.put(appPod("shop", "db", "db-2", "n2", true))
	tr.put(appPod("shop", "db", "db-3", "n3", true))
	ok, short = tr.full()
	assert.True(t, ok)
	assert.Empty(t, short)

	// An update to the same pod replaces it: no double count.
	tr.put(appPod("shop", "db", "db-3", "n3", true))
	assert.Equal(t, 3, tr.readyOf(dbComp.Key()))

	// podsOn: pods of each component on the nodes, not being deleted.
	on := tr.podsOn(map[string]bool{"n1": true})
	assert.ElementsMatch(t, []string{"shop/web-1", "shop/web-2"}, on[webComp.Key()])
	assert.Equal(t, []string{"shop/db-1"}, on[dbComp.Key()])
	assert.Len(t, on, 2, "other namespaces and components are not listed: %v", on)
	tr.put(deleting(w1))
	on = tr.podsOn(map[string]bool{"n1": true, "n2": true})
	assert.ElementsMatch(t, []string{"shop/web-2", "shop/web-3"}, on[webComp.Key()])
	assert.Empty(t, tr.podsOn(map[string]bool{"n9": true}))

	// nodeWithMost: n1 had two web pods, one of which is now going; n1
	// and n2 tie at one and the first by name wins.
	assert.Equal(t, "n1", tr.nodeWithMost(webComp.Key()))
	tr.put(appPod("shop", "web", "web-4", "n2", true))
	assert.Equal(t, "n2", tr.nodeWithMost(webComp.Key()))
	assert.Equal(t, "", tr.nodeWithMost("shop/missing"))
	unscheduled := newTracker([]report.Component{webComp}, map[string]map[string]string{webComp.Key(): {"app": "web"}})
	unscheduled.put(appPod("shop", "web", "web-1", "", false))
	assert.Equal(t, "", unscheduled.nodeWithMost(webComp.Key()), "a pod on no node is no node's")
}

func TestTrackerWindow(t *testing.T) {
	tr := testTracker()
	web := []*corev1.Pod{appPod("shop", "web", "web-1", "n1", true), appPod("shop", "web", "web-2", "n2", true), appPod("shop", "web", "web-3", "n3", true)}
	db := []*corev1.Pod{appPod("shop", "db", "db-1", "n1", true), appPod("shop", "db", "db-2", "n2", true), appPod("shop", "db", "db-3", "n3", true)}
	for _, p := range append(append([]*corev1.Pod{}, web...), db...) {
		tr.put(p)
	}

	// Closed window: a deletion is no hit and leaves no loss time.
	tr.put(deleting(web[0]))
	tr.remove(web[0])
	assert.True(t, tr.lossAt().IsZero())
	tr.put(appPod("shop", "web", "web-1b", "n1", true))
	tr.open()
	ims := tr.impacts(nil, time.Now())
	assert.Equal(t, 0, impactOf(t, ims, webComp.Key()).Hit, "a deletion before the window is not counted")
	assert.Equal(t, 3, impactOf(t, ims, webComp.Key()).MinReady, "the minimum starts at what is ready when the window opens")

	// The fault: two db pods go, one at a time; one is replaced.
	before := time.Now()
	tr.put(deleting(db[0]))
	at := tr.lossAt()
	require.False(t, at.IsZero(), "the first deletion sets the loss time")
	assert.False(t, at.Before(before))
	tr.put(deleting(db[0])) // the same pod again: one hit
	tr.remove(db[0])
	tr.put(deleting(db[1]))
	tr.remove(db[1])
	assert.Equal(t, at, tr.lossAt(), "the loss time is the first one")
	assert.Equal(t, 1, tr.readyOf(dbComp.Key()))
	tr.put(appPod("shop", "db", "db-4", "n1", true))
	// Another namespace's pod with the same labels is no hit.
	other := appPod("other", "db", "db-x", "n1", true)
	tr.put(other)
	tr.remove(other)
	faultEnded := time.Now()

	ims = tr.impacts(nil, faultEnded)
	d := impactOf(t, ims, dbComp.Key())
	assert.Equal(t, report.Impact{Component: "shop/db", Hit: 2, Replicas: 3, Needed: 2, MinReady: 1, RecoverySeconds: -1}, d, "still short: no recovery")
	w := impactOf(t, ims, webComp.Key())
	assert.Equal(t, 0, w.Hit)
	assert.Equal(t, 3, w.MinReady)
	assert.Equal(t, 0.0, w.RecoverySeconds, "never short after the fault: recovered at once")
	ok, short := tr.full()
	assert.False(t, ok)
	assert.Equal(t, []string{"shop/db 2/3"}, short)

	// A hit map given by the fault replaces the deletions seen.
	ims = tr.impacts(map[string]int{webComp.Key(): 2}, faultEnded)
	assert.Equal(t, 2, impactOf(t, ims, webComp.Key()).Hit)
	assert.Equal(t, 0, impactOf(t, ims, dbComp.Key()).Hit)

	// Back to full strength: recovery is from the fault's end.
	time.Sleep(20 * time.Millisecond)
	tr.put(appPod("shop", "db", "db-5", "n2", true))
	d = impactOf(t, tr.impacts(nil, faultEnded), dbComp.Key())
	assert.GreaterOrEqual(t, d.RecoverySeconds, 0.02)
	assert.Less(t, d.RecoverySeconds, 5.0)
	assert.Equal(t, 1, d.MinReady, "the minimum is the lowest seen, not the current count")
	ok, _ = tr.full()
	assert.True(t, ok)

	// Once closed, deletions and dips are not measured.
	tr.close()
	tr.put(deleting(web[1]))
	tr.remove(web[1])
	ims = tr.impacts(nil, faultEnded)
	assert.Equal(t, 0, impactOf(t, ims, webComp.Key()).Hit)
	assert.Equal(t, 3, impactOf(t, ims, webComp.Key()).MinReady)
	assert.Equal(t, -1.0, impactOf(t, ims, webComp.Key()).RecoverySeconds, "short again")

	// Reopening starts afresh at what is ready now.
	tr.open()
	assert.True(t, tr.lossAt().IsZero())
	ims = tr.impacts(nil, time.Now())
	assert.Equal(t, 2, impactOf(t, ims, webComp.Key()).MinReady)
	assert.Equal(t, 0, impactOf(t, ims, dbComp.Key()).Hit, "the previous window's deletions are cleared")
}

// A pod whose Ready condition turns false (its node stopped reporting)
// lowers the minimum without a deletion.
func TestTrackerNotReadyDip(t *testing.T) {
	tr := testTracker()
	p := appPod("shop", "web", "web-1", "n1", true)
	tr.put(p)
	tr.put(appPod("shop", "web", "web-2", "n2", true))
	tr.open()
	down := p.DeepCopy()
	down.Status.Conditions[1].Status = corev1.ConditionFalse
	tr.put(down)
	tr.put(p)
	im := impactOf(t, tr.impacts(nil, time.Now()), webComp.Key())
	assert.Equal(t, 1, im.MinReady)
	assert.Equal(t, 0, im.Hit)
	assert.True(t, tr.lossAt().IsZero())
}

// The pod informer feeds the tracker: adds, updates and deletes from the
// API server (here a fake clientset) reach the counts.
func TestTrackerInformer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kube := kubefake.NewClientset(appPod("shop", "web", "web-1", "n1", true), appPod("shop", "web", "web-2", "n2", true))
	tr := testTracker()
	require.NoError(t, tr.start(ctx, kube))
	assert.Equal(t, 2, tr.readyOf(webComp.Key()), "the first list is in before start returns")
	tr.open()
	_, err := kube.CoreV1().Pods("shop").Create(ctx, appPod("shop", "web", "web-3", "n3", true), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return tr.readyOf(webComp.Key()) == 3 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, kube.CoreV1().Pods("shop").Delete(ctx, "web-1", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return tr.readyOf(webComp.Key()) == 2 }, 5*time.Second, 10*time.Millisecond)
	assert.False(t, tr.lossAt().IsZero())
	im := impactOf(t, tr.impacts(nil, time.Now()), webComp.Key())
	assert.Equal(t, 1, im.Hit)
	assert.Equal(t, 2, im.MinReady)
}

func TestWaitFull(t *testing.T) {
	tr := testTracker()
	for _, p := range []*corev1.Pod{
		appPod("shop", "web", "web-1", "n1", true), appPod("shop", "web", "web-2", "n2", true), appPod("shop", "web", "web-3", "n3", true),
		appPod("shop", "db", "db-1", "n1", true), appPod("shop", "db", "db-2", "n2", true),
	} {
		tr.put(p)
	}
	ok, err := tr.waitFull(context.Background(), 50*time.Millisecond)
	require.NoError(t, err)
	assert.False(t, ok, "db is short")
	go func() {
		time.Sleep(50 * time.Millisecond)
		tr.put(appPod("shop", "db", "db-3", "n3", true))
	}()
	ok, err = tr.waitFull(context.Background(), 5*time.Second)
	require.NoError(t, err)
	assert.True(t, ok)
	tr.remove(appPod("shop", "db", "db-3", "n3", true))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ok, err = tr.waitFull(ctx, time.Minute)
	assert.False(t, ok)
	assert.ErrorIs(t, err, context.Canceled)
}
