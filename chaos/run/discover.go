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
	add := func(apiVersion, kind string, obj runtime.Object) error {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		m["apiVersion"], m["kind"] = apiVersion, kind
		delete(m, "status")
		if md, ok := m["metadata"].(map[string]any); ok {
			for _, k := range []string{"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp"} {
				delete(md, k)
			}
		}
		r, err := load.Object(m)
		if err != nil {
			return err
		}
		g.Resources = append(g.Resources, r)
		return nil
	}
	for _, ns := range namespaces {
		list := metav1.ListOptions{}
		deps, err := kube.AppsV1().Deployments(ns).List(ctx, list)
		if err != nil {
			return g, nil, fmt.Errorf("list deployments in %s: %w", ns, err)
		}
		for i := range deps.Items {
			if err := add("apps/v1", "Deployment", &deps.Items[i]); err != nil {
				return g, nil, err
			}
		}
		sts, err := kube.AppsV1().StatefulSets(ns).List(ctx, list)
		if err != nil {
			return g, nil, fmt.Errorf("list statefulsets in %s: %w", ns, err)
		}
		for i := range sts.Items {
			if err := add("apps/v1", "StatefulSet", &sts.Items[i]); err != nil {
				return g, nil, err
			}
		}
		dss, err := kube.AppsV1().DaemonSets(ns).List(ctx, list)
		if err != nil {
			return g, nil, fmt.Errorf("list daemonsets in %s: %w", ns, err)
		}
		for i := range dss.Items {
			if err := add("apps/v1", "DaemonSet", &dss.Items[i]); err != nil {
				return g, nil, err
			}
		}
		pdbs, err := kube.PolicyV1().PodDisruptionBudgets(ns).List(ctx, list)
		if err != nil {
			return g, nil, fmt.Errorf("list poddisruptionbudgets in %s: %w", ns, err)
		}
		for i := range pdbs.Items {
			if err := add("policy/v1", "PodDisruptionBudget", &pdbs.Items[i]); err != nil {
				return g, nil, err
			}
		}
		hpas, err := kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, list)
		if err != nil {
			return g, nil, fmt.Errorf("list horizontalpodautoscalers in %s: %w", ns, err)
		}
		for i := range hpas.Items {
			if err := add("autoscaling/v2", "HorizontalPodAutoscaler", &hpas.Items[i]); err != nil {
				return g, nil, err
			}
		}
		svcs, err := kube.CoreV1().Services(ns).List(ctx, list)
		if err != nil {
			return g, nil, fmt.Errorf("list services in %s: %w", ns, err)
		}
		for i := range svcs.Items {
			if err := add("v1", "Service", &svcs.Items[i]); err != nil {
				return g, nil, err
			}
		}
		nps, err := kube.NetworkingV1().NetworkPolicies(ns).List(ctx, list)
		if err != nil {
			return g, nil, fmt.Errorf("list networkpolicies in %s: %w", ns, err)
		}
		for i := range nps.Items {
			if err := add("networking.k8s.io/v1", "NetworkPolicy", &nps.Items[i]); err != nil {
				return g, nil, err
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
