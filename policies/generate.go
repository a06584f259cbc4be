package policies

import (
	"fmt"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/load"
)

// Generate builds n Kubernetes objects of mixed kinds over 50 namespaces,
// for benchmarks: Deployments and StatefulSets (some compliant, some not),
// Services, ConfigMaps, NetworkPolicies, PodDisruptionBudgets and
// HorizontalPodAutoscalers. The same n always gives the same objects.
func Generate(n int) []map[string]any {
	out := make([]map[string]any, 0, n)
	for i := 0; len(out) < n; i++ {
		ns := fmt.Sprintf("team-%02d", i%50)
		app := fmt.Sprintf("svc-%05d", i)
		labels := map[string]any{"app": app}
		var obj map[string]any
		switch i % 8 {
		case 0, 1:
			obj = workload("Deployment", ns, app, labels, i)
		case 2:
			obj = workload("StatefulSet", ns, app, labels, i)
		case 3:
			obj = map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta(ns, app),
				"spec": map[string]any{"type": []string{"ClusterIP", "ClusterIP", "ClusterIP", "NodePort"}[i%4/3*3], "selector": labels,
					"ports": []any{map[string]any{"port": 80, "targetPort": 8080}}}}
		case 4:
			data := map[string]any{"LOG_LEVEL": "info", "FEATURE_X": "on"}
			if i%16 == 4 {
				data["db_password"] = "changeme"
			}
			obj = map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(ns, app), "data": data}
		case 5:
			obj = map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(ns, app),
				"spec": map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": fmt.Sprintf("svc-%05d", i-5)}},
					"policyTypes": []any{"Ingress"}, "ingress": []any{map[string]any{"ports": []any{map[string]any{"port": 8080}}}}}}
		case 6:
			obj = map[string]any{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(ns, app),
				"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": fmt.Sprintf("svc-%05d", i-6)}}, "maxUnavailable": 1}}
		case 7:
			obj = map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(ns, app),
				"spec": map[string]any{"minReplicas": 2 + i%3, "maxReplicas": 10,
					"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": fmt.Sprintf("svc-%05d", i-7)}}}
		}
		out = append(out, obj)
	}
	return out
}

func meta(ns, name string) map[string]any {
	return map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app": name}}
}

func workload(kind, ns, app string, labels map[string]any, i int) map[string]any {
	sc := map[string]any{"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
		"capabilities": map[string]any{"drop": []any{"ALL"}}}
	image := fmt.Sprintf("ghcr.io/cloudscale/%s:1.%d.0", app, i%10)
	if i%7 == 0 {
		sc["readOnlyRootFilesystem"] = false
		image = "nginx:latest"
	}
	c := map[string]any{"name": "app", "image": image, "securityContext": sc,
		"resources":      map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]any{"cpu": "1", "memory": "512Mi"}},
		"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/ready", "port": 8080}},
		"livenessProbe":  map[string]any{"httpGet": map[string]any{"path": "/live", "port": 8080}},
		"env":            []any{map[string]any{"name": "PORT", "value": "8080"}}}
	spec := map[string]any{"containers": []any{c}, "securityContext": map[string]any{"runAsNonRoot": true},
		"topologySpreadConstraints": []any{
			map[string]any{"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": map[string]any{"matchLabels": labels}},
			map[string]any{"topologyKey": "kubernetes.io/hostname", "maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": map[string]any{"matchLabels": labels}},
		}}
	return map[string]any{"apiVersion": "apps/v1", "kind": kind, "metadata": meta(ns, app),
		"spec": map[string]any{"replicas": 2 + i%3, "selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": spec}}}
}

// GenerateGraph is Generate as a resource graph, as LoadManifests would
// read it.
func GenerateGraph(n int) graph.Graph {
	g := graph.Graph{Source: fmt.Sprintf("generated:%d", n)}
	for i, obj := range Generate(n) {
		r, _ := load.Object(obj)
		r.URN = fmt.Sprintf("generated#%d:%s:%s", i, KindKey(r.Type), r.Name)
		g.Resources = append(g.Resources, r)
	}
	return g
}
