package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudscale/platform/chaos/experiments"
)

// WorkflowPrefix starts the name of every Workflow a run creates; the
// chaos objects Chaos Mesh makes for it carry that name in their
// chaos-mesh.org/workflow label, so they are found even once the
// Workflow itself is gone.
const WorkflowPrefix = "chaos-run-"

// chaosKinds are the kinds a run's Workflows make, children first.
var chaosKinds = []string{"PodChaos", "StatusCheck", "WorkflowNode", "Workflow"}

// Cleaned is what Cleanup undid.
type Cleaned struct {
	Nodes      []string `json:"nodes,omitempty"`
	Cordons    []string `json:"cordons,omitempty"`
	Objects    []string `json:"objects,omitempty"`
	Finalizers []string `json:"finalizers,omitempty"`
}

// Empty is true when nothing was left behind.
func (c Cleaned) Empty() bool {
	return len(c.Nodes)+len(c.Cordons)+len(c.Objects)+len(c.Finalizers) == 0
}

func (c Cleaned) String() string {
	if c.Empty() {
		return "nothing left behind"
	}
	var parts []string
	if len(c.Nodes) > 0 {
		parts = append(parts, "restored nodes "+strings.Join(c.Nodes, ", "))
	}
	if len(c.Cordons) > 0 {
		parts = append(parts, "uncordoned "+strings.Join(c.Cordons, ", "))
	}
	if len(c.Objects) > 0 {
		parts = append(parts, fmt.Sprintf("deleted %d chaos objects", len(c.Objects)))
	}
	if len(c.Finalizers) > 0 {
		parts = append(parts, "removed stuck finalizers of "+strings.Join(c.Finalizers, ", "))
	}
	return strings.Join(parts, "; ")
}

// Cleanup undoes whatever any run left on the cluster: lost nodes get
// their kubelet back, cordoned nodes are uncordoned, and the run's chaos
// objects are deleted; an object whose finalizer nobody removes within
// finalizerWait (the controller is gone, or it cannot recover a target)
// has it removed, so nothing stays stuck. It is safe to call at any
// time: a run calls it first and last, and `cluster status` calls it.
func Cleanup(ctx context.Context, kube kubernetes.Interface, c client.Client, finalizerWait time.Duration) (Cleaned, error) {
	var out Cleaned
	errs := cleanNodes(ctx, kube, &out)
	if c == nil {
		return out, errors.Join(errs...)
	}
	errs = append(errs, cleanObjects(ctx, c, finalizerWait, &out)...)
	return out, errors.Join(errs...)
}

// cleanNodes gives lost nodes their kubelet back and uncordons the nodes
// a run cordoned.
func cleanNodes(ctx context.Context, kube kubernetes.Interface, out *Cleaned) []error {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, n := range nodes.Items {
		if _, ok := n.Annotations[LostAnnotation]; ok {
			if err := restoreNode(ctx, kube, n.Name); err != nil {
				errs = append(errs, fmt.Errorf("restore node %s: %w", n.Name, err))
			} else {
				out.Nodes = append(out.Nodes, n.Name)
			}
		}
		if _, ok := n.Annotations[CordonAnnotation]; ok {
			if err := uncordon(ctx, kube, n.Name); err != nil {
				errs = append(errs, fmt.Errorf("uncordon %s: %w", n.Name, err))
			} else {
				out.Cordons = append(out.Cordons, n.Name)
			}
		}
	}
	return errs
}

// cleanObjects deletes the runs' chaos objects, waits up to finalizerWait
// for the controller to release them, and strips what it did not.
func cleanObjects(ctx context.Context, c client.Client, finalizerWait time.Duration, out *Cleaned) []error {
	objs, err := leftovers(ctx, c)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, o := range objs {
		if o.GetDeletionTimestamp() == nil {
			if err := c.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s %s: %w", o.GetKind(), o.GetName(), err))
				continue
			}
		}
		out.Objects = append(out.Objects, o.GetKind()+"/"+o.GetName())
	}
	// The controller recovers and releases its own objects; give it time.
	deadline := time.Now().Add(finalizerWait)
	for len(objs) > 0 {
		if objs, err = leftovers(ctx, c); err != nil {
			return append(errs, err)
		}
		if len(objs) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return append(errs, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, o := range objs {
		if len(o.GetFinalizers()) == 0 {
			continue
		}
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if err := c.Patch(ctx, o, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("finalizers of %s %s: %w", o.GetKind(), o.GetName(), err))
			continue
		}
		out.Finalizers = append(out.Finalizers, o.GetKind()+"/"+o.GetName())
	}
	return errs
}

// leftovers are the chaos objects of runs in the chaos namespace: the
// Workflows named with WorkflowPrefix and what Chaos Mesh made for them.
func leftovers(ctx context.Context, c client.Client) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, kind := range chaosKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: chaosv1alpha1.SchemeGroupVersion.Group, Version: chaosv1alpha1.SchemeGroupVersion.Version, Kind: kind + "List"})
		if err := c.List(ctx, list, client.InNamespace(experiments.Namespace)); err != nil {
			if apierrors.IsNotFound(err) || strings.Contains(err.Error(), "no matches for kind") {
				continue // the definitions are not installed: nothing to clean
			}
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			owner := o.GetLabels()[chaosv1alpha1.LabelWorkflow]
			if kind == "Workflow" {
				owner = o.GetName()
			}
			if strings.HasPrefix(owner, WorkflowPrefix) {
				o.SetGroupVersionKind(schema.GroupVersionKind{Group: chaosv1alpha1.SchemeGroupVersion.Group, Version: chaosv1alpha1.SchemeGroupVersion.Version, Kind: kind})
				out = append(out, o)
			}
		}
	}
	return out, nil
}
