package run

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/cloudscale/platform/infra/local/controlplane"
)

// Markers a run leaves on what it changes, so that cleanup (this run's, or
// the next run's after an interruption) undoes exactly that: the change
// and its marker go in one patch.
const (
	// RunLabel carries the run's ID on every chaos object it creates.
	RunLabel = "chaos.cloudscale.io/run"
	// LostAnnotation marks a node whose kubelet the run took away.
	LostAnnotation = "chaos.cloudscale.io/lost"
	// CordonAnnotation marks a node the run cordoned (one that was
	// schedulable before).
	CordonAnnotation = "chaos.cloudscale.io/cordoned"
)

func patchNode(ctx context.Context, kube kubernetes.Interface, name string, patch map[string]any) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = kube.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: "cloudscale-chaos"})
	return err
}

// loseNode stops the node's kubelet: kwok no longer plays it (its label
// is taken away), so its lease expires, the node lifecycle controller
// marks it NotReady and unreachable and evicts its pods, as in a real
// node loss.
func loseNode(ctx context.Context, kube kubernetes.Interface, name, runID string) error {
	return patchNode(ctx, kube, name, map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{LostAnnotation: runID},
		"labels":      map[string]any{controlplane.KubeletLabel: nil},
	}})
}

// restoreNode gives a lost node its kubelet back.
func restoreNode(ctx context.Context, kube kubernetes.Interface, name string) error {
	return patchNode(ctx, kube, name, map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{LostAnnotation: nil},
		"labels":      map[string]any{controlplane.KubeletLabel: controlplane.KubeletValue},
	}})
}

// cordon marks a schedulable node unschedulable (kubectl cordon).
func cordon(ctx context.Context, kube kubernetes.Interface, name, runID string) error {
	return patchNode(ctx, kube, name, map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{CordonAnnotation: runID}},
		"spec":     map[string]any{"unschedulable": true},
	})
}

// uncordon undoes cordon.
func uncordon(ctx context.Context, kube kubernetes.Interface, name string) error {
	return patchNode(ctx, kube, name, map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{CordonAnnotation: nil}},
		"spec":     map[string]any{"unschedulable": nil},
	})
}

// zoneNodes are the nodes of a zone, sorted.
func zoneNodes(ctx context.Context, kube kubernetes.Interface, zone string) ([]corev1.Node, error) {
	list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: corev1.LabelTopologyZone + "=" + zone})
	if err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

// Eviction retries: a PodDisruptionBudget that refuses an eviction (429)
// is asked again with doubling waits; after the last it is a finding.
var evictionBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// drainNodes evicts every pod on nodes through the Eviction API (as
// kubectl drain does: DaemonSet pods and mirror pods stay), honouring
// PodDisruptionBudgets. It returns the pods evicted and those a budget
// still refused after every retry.
func drainNodes(ctx context.Context, kube kubernetes.Interface, nodes []string, progress func(string, ...any)) (evicted, blocked []string, err error) {
	var pending []corev1.Pod
	for _, n := range nodes {
		pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n})
		if err != nil {
			return nil, nil, err
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || daemonPod(p) {
				continue
			}
			pending = append(pending, p)
		}
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		var refused []corev1.Pod
		for _, p := range pending {
			err := kube.PolicyV1().Evictions(p.Namespace).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
			switch {
			case err == nil:
				evicted = append(evicted, p.Namespace+"/"+p.Name)
			case apierrors.IsNotFound(err):
			case apierrors.IsTooManyRequests(err):
				refused = append(refused, p)
			default:
				return evicted, blocked, fmt.Errorf("evict %s/%s: %w", p.Namespace, p.Name, err)
			}
		}
		pending = refused
		if len(pending) == 0 {
			break
		}
		if attempt >= len(evictionBackoff) {
			for _, p := range pending {
				blocked = append(blocked, p.Namespace+"/"+p.Name)
			}
			break
		}
		progress("%d eviction(s) refused by a PodDisruptionBudget; retrying in %s", len(pending), evictionBackoff[attempt])
		select {
		case <-ctx.Done():
			return evicted, blocked, ctx.Err()
		case <-time.After(evictionBackoff[attempt]):
		}
	}
	return evicted, blocked, nil
}

func daemonPod(p corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return true
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// nodeReady reports whether the node's Ready condition is true (an error
// reading it counts as not ready).
func nodeReady(ctx context.Context, kube kubernetes.Interface, name string) bool {
	n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
