package run

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/load"
)

// Discover reads what runs in namespaces (Deployments, StatefulSets,
// DaemonSets, their PodDisruptionBudgets, autoscalers, Services and
// NetworkPolicies) from the API server and analyses it as the gates
// analyse a stack: the prediction of a run is made from the objects that
// are really there, so a workload changed by hand is judged as it is.
func Discover(ctx context.Context, kube kubernetes.Interface, namespaces []string, env string, topo spof.Topology) (graph.Graph, *spof.Report, error) {
	g := graph.Graph{Source: "cluster"}
	for _, ns := range namespaces {
		for _, l := range listers(kube) {
			objs, err := l.list(ctx, ns)
			if err != nil {
				return g, nil, fmt.Errorf("list %s in %s: %w", l.kind, ns, err)
			}
			for _, obj := range objs {
				r, err := resource(l.apiVersion, l.kind, obj)
				if err != nil {
					return g, nil, err
				}
				g.Resources = append(g.Resources, r)
			}
		}
	}
	sort.SliceStable(g.Resources, func(i, j int) bool { return g.Resources[i].URN < g.Resources[j].URN })
	rep, err := spof.Analyze(g, env, topo)
	if err != nil {
		return g, nil, err
	}
	return g, rep, nil
}

// lister lists one kind in a namespace.
type lister struct {
	apiVersion, kind string
	list             func(ctx context.Context, ns string) ([]runtime.Object, error)
}

// listers are the kinds the analysis reads.
func listers(kube kubernetes.Interface) []lister {
	opts := metav1.ListOptions{}
	return []lister{
		{"apps/v1", "Deployment", func(ctx context.Context, ns string) ([]runtime.Object, error) {
			l, err := kube.AppsV1().Deployments(ns).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return items(l.Items), nil
		}},
		{"apps/v1", "StatefulSet", func(ctx context.Context, ns string) ([]runtime.Object, error) {
			l, err := kube.AppsV1().StatefulSets(ns).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return items(l.Items), nil
		}},
		{"apps/v1", "DaemonSet", func(ctx context.Context, ns string) ([]runtime.Object, error) {
			l, err := kube.AppsV1().DaemonSets(ns).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return items(l.Items), nil
		}},
		{"policy/v1", "PodDisruptionBudget", func(ctx context.Context, ns string) ([]runtime.Object, error) {
			l, err := kube.PolicyV1().PodDisruptionBudgets(ns).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return items(l.Items), nil
		}},
		{"autoscaling/v2", "HorizontalPodAutoscaler", func(ctx context.Context, ns string) ([]runtime.Object, error) {
			l, err := kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return items(l.Items), nil
		}},
		{"v1", "Service", func(ctx context.Context, ns string) ([]runtime.Object, error) {
			l, err := kube.CoreV1().Services(ns).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return items(l.Items), nil
		}},
		{"networking.k8s.io/v1", "NetworkPolicy", func(ctx context.Context, ns string) ([]runtime.Object, error) {
			l, err := kube.NetworkingV1().NetworkPolicies(ns).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return items(l.Items), nil
		}},
	}
}

// items are a list's items as objects (pointers into the list).
func items[T any, P interface {
	*T
	runtime.Object
}](list []T) []runtime.Object {
	out := make([]runtime.Object, 0, len(list))
	for i := range list {
		out = append(out, P(&list[i]))
	}
	return out
}

// resource is a live object in the shape every reader takes (its status
// and server-set metadata dropped: the analysis reads what was asked for).
func resource(apiVersion, kind string, obj runtime.Object) (graph.Resource, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return graph.Resource{}, err
	}
	m["apiVersion"], m["kind"] = apiVersion, kind
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		for _, k := range []string{"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp"} {
			delete(md, k)
		}
	}
	return load.Object(m)
}
