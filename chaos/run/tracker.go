package run

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/cloudscale/platform/chaos/report"
)

// tracker follows every pod of the watched components through a pod
// informer: each event recounts the ready replicas, so the fewest seen
// during a fault is exact, not what a poll happened to catch. Ready means
// what the API server says: Running, the Ready condition true, not being
// deleted (the node lifecycle controller turns Ready false on a node
// that stopped reporting).
type tracker struct {
	mu    sync.Mutex
	comps []*watched
	pods  map[types.UID]*corev1.Pod
	// window is open while a fault's impact is measured; firstLoss is
	// when it first saw a watched pod go (a kill's moment).
	window    bool
	firstLoss time.Time
}

type watched struct {
	c     report.Component
	sel   labels.Selector
	ready int
	// full is its full strength: every replica, or those a required
	// anti-affinity lets run.
	full int
	min  int
	// fullSince is when it last got back to full strength (zero while
	// it is short).
	fullSince time.Time
	deleted   map[types.UID]bool
}

func newTracker(comps []report.Component, podLabels map[string]map[string]string) *tracker {
	t := &tracker{pods: map[types.UID]*corev1.Pod{}}
	for _, c := range comps {
		t.comps = append(t.comps, &watched{c: c, sel: labels.SelectorFromSet(podLabels[c.Key()]), full: c.Replicas, deleted: map[types.UID]bool{}})
	}
	return t
}

// start runs the informer until ctx ends and waits for its first list.
func (t *tracker) start(ctx context.Context, kube kubernetes.Interface) error {
	factory := informers.NewSharedInformerFactory(kube, 0)
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.put(obj) },
		UpdateFunc: func(_, obj any) { t.put(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				t.remove(p)
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("pod informer did not sync")
	}
	return nil
}

func (t *tracker) put(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.DeletionTimestamp != nil {
		t.markDeleted(p)
	}
	t.pods[p.UID] = p
	t.recount()
}

// remove forgets a pod the API server deleted.
func (t *tracker) remove(p *corev1.Pod) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.markDeleted(p)
	delete(t.pods, p.UID)
	t.recount()
}

// markDeleted counts a pod of a component going away while the window is
// open (a kill, an eviction, a node's pods evicted).
func (t *tracker) markDeleted(p *corev1.Pod) {
	if !t.window {
		return
	}
	for _, w := range t.comps {
		if w.c.Namespace == p.Namespace && w.sel.Matches(labels.Set(p.Labels)) {
			w.deleted[p.UID] = true
			if t.firstLoss.IsZero() {
				t.firstLoss = time.Now()
			}
		}
	}
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (t *tracker) recount() {
	for _, w := range t.comps {
		w.ready = 0
		for _, p := range t.pods {
			if p.Namespace == w.c.Namespace && w.sel.Matches(labels.Set(p.Labels)) && podReady(p) {
				w.ready++
			}
		}
		if t.window && w.ready < w.min {
			w.min = w.ready
		}
		switch {
		case w.ready < w.full:
			w.fullSince = time.Time{}
		case w.fullSince.IsZero():
			w.fullSince = time.Now()
		}
	}
}

// open starts measuring: the minimum starts at what is ready now.
func (t *tracker) open() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.window = true
	t.firstLoss = time.Time{}
	for _, w := range t.comps {
		w.min = w.ready
		clear(w.deleted)
	}
}

// close stops measuring.
func (t *tracker) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.window = false
}

// full reports whether every component has all its replicas ready, and
// which do not.
func (t *tracker) full() (bool, []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var short []string
	for _, w := range t.comps {
		if w.ready < w.full {
			short = append(short, fmt.Sprintf("%s %d/%d", w.c.Key(), w.ready, w.full))
		}
	}
	return len(short) == 0, short
}

// lossAt is when the window first saw a watched pod go (zero: none yet).
func (t *tracker) lossAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.firstLoss
}

// ready is the ready count of one component.
func (t *tracker) readyOf(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.comps {
		if w.c.Key() == key {
			return w.ready
		}
	}
	return 0
}

// podsOn are the pods of each component on the given nodes (not being
// deleted), keyed by component.
func (t *tracker) podsOn(nodes map[string]bool) map[string][]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string][]string{}
	for _, w := range t.comps {
		for _, p := range t.pods {
			if p.DeletionTimestamp == nil && nodes[p.Spec.NodeName] && p.Namespace == w.c.Namespace && w.sel.Matches(labels.Set(p.Labels)) {
				out[w.c.Key()] = append(out[w.c.Key()], p.Namespace+"/"+p.Name)
			}
		}
	}
	return out
}

// nodeWithMost is the node holding the most pods of a component.
func (t *tracker) nodeWithMost(key string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	count := map[string]int{}
	best := ""
	for _, w := range t.comps {
		if w.c.Key() != key {
			continue
		}
		for _, p := range t.pods {
			if p.DeletionTimestamp == nil && p.Spec.NodeName != "" && p.Namespace == w.c.Namespace && w.sel.Matches(labels.Set(p.Labels)) {
				count[p.Spec.NodeName]++
				if n := p.Spec.NodeName; best == "" || count[n] > count[best] || (count[n] == count[best] && n < best) {
					best = n
				}
			}
		}
	}
	return best
}

// impacts are what each component went through in the window; hit gives
// the pods a fault took per component (nil: count the deletions seen).
// Recovery is from faultEnded until the component was last back to full
// strength (0 when it never fell short after the fault; -1 when it is
// still short).
func (t *tracker) impacts(hit map[string]int, faultEnded time.Time) []report.Impact {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []report.Impact
	for _, w := range t.comps {
		h := len(w.deleted)
		if hit != nil {
			h = hit[w.c.Key()]
		}
		rec := -1.0
		if !w.fullSince.IsZero() {
			rec = max(w.fullSince.Sub(faultEnded).Seconds(), 0)
		}
		out = append(out, report.Impact{
			Component: w.c.Key(), Hit: h, Replicas: w.c.Replicas, Needed: w.c.Needed, MinReady: w.min, RecoverySeconds: rec,
		})
	}
	return out
}

// waitFull waits until every component is at full strength or the
// limit passes (then the components short of it are judged by impacts).
func (t *tracker) waitFull(ctx context.Context, limit time.Duration) (bool, error) {
	deadline := time.Now().Add(limit)
	for {
		if ok, _ := t.full(); ok {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
