package stacks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// servicesDeployed reads the services back from the simulated cluster:
// api-service's stable and canary Deployments and order-worker's ready
// (the simulated nodes run their pods), labelled with the versions the
// mesh's canary subsets select; the Service api-service:8080 that the
// gateway's VirtualService routes /api/v1/* to, selecting both versions;
// and each service's monitor and alert.
func servicesDeployed(t *testing.T, ctx context.Context, client *kubernetes.Clientset, kubeconfig string) {
	t.Helper()
	const ns = "cloudscale"
	deployments := map[string]string{"api-service": "stable", "api-service-canary": "canary", "order-worker": "stable"}
	require.Eventually(t, func() bool {
		for name := range deployments {
			d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || d.Spec.Replicas == nil || d.Status.ReadyReplicas != *d.Spec.Replicas {
				return false
			}
		}
		return true
	}, 3*time.Minute, time.Second, "the services' Deployments are ready")
	for name, version := range deployments {
		d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, name)
		assert.EqualValues(t, 3, d.Status.ReadyReplicas, "%s: staging's floor", name)
		assert.Equal(t, version, d.Spec.Template.Labels["version"], name)
		assert.Equal(t, version, d.Spec.Selector.MatchLabels["version"], name)
		image := d.Spec.Template.Spec.Containers[0].Image
		assert.Regexp(t, `^ghcr\.io/cloudscale/[a-z-]+@sha256:[0-9a-f]{64}$`, image, "%s by digest", name)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	get := func(group, resource, namespace, name string) *unstructured.Unstructured {
		t.Helper()
		obj, err := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource}).
			Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, "%s/%s %s/%s", group, resource, namespace, name)
		return obj
	}

	// The gateway routes /api/v1/* to api-service:8080, split between the
	// subsets stable and canary.
	vs := get("networking.istio.io", "virtualservices", "istio-ingress", "main-gateway-routes")
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	var dests []map[string]any
	for _, r := range routes {
		route := r.(map[string]any)
		match := route["match"].([]any)[0].(map[string]any)
		prefix, _, _ := unstructured.NestedString(match, "uri", "prefix")
		if prefix != "/api/v1/" {
			continue
		}
		for _, d := range route["route"].([]any) {
			dests = append(dests, d.(map[string]any)["destination"].(map[string]any))
		}
	}
	require.NotEmpty(t, dests, "a route for /api/v1/*")
	subsets := map[string]bool{}
	for _, d := range dests {
		assert.Equal(t, "api-service.cloudscale.svc.cluster.local", d["host"])
		port, _, _ := unstructured.NestedInt64(d, "port", "number")
		assert.EqualValues(t, 8080, port)
		if s, ok := d["subset"].(string); ok {
			subsets[s] = true
		}
	}
	assert.Equal(t, map[string]bool{"stable": true, "canary": true}, subsets)
	svc, err := client.CoreV1().Services(ns).Get(ctx, "api-service", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "api-service"}, svc.Spec.Selector, "every version behind one Service")
	require.Len(t, svc.Spec.Ports, 1)
	assert.EqualValues(t, 8080, svc.Spec.Ports[0].Port)

	// The mesh's subsets select ready pods of the matching Deployment.
	dr := get("networking.istio.io", "destinationrules", ns, "api-service")
	drSubsets, _, _ := unstructured.NestedSlice(dr.Object, "spec", "subsets")
	require.Len(t, drSubsets, 2)
	for _, s := range drSubsets {
		sub := s.(map[string]any)
		sel := labels.Set{"app.kubernetes.io/name": "api-service"}
		for k, v := range sub["labels"].(map[string]any) {
			sel[k] = v.(string)
		}
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		require.NoError(t, err)
		ready := 0
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == "Ready" && c.Status == "True" {
					ready++
				}
			}
			owner := "api-service"
			if sub["name"] == "canary" {
				owner = "api-service-canary"
			}
			assert.True(t, strings.HasPrefix(p.Name, owner+"-"), "subset %s selects %s", sub["name"], p.Name)
		}
		assert.Equal(t, 3, ready, "subset %s: ready pods", sub["name"])
	}

	// Each service's monitor and health alert.
	for _, name := range []string{"api-service", "order-worker"} {
		pm := get("monitoring.coreos.com", "podmonitors", ns, name)
		sel, _, _ := unstructured.NestedStringMap(pm.Object, "spec", "selector", "matchLabels")
		assert.Equal(t, map[string]string{"app.kubernetes.io/name": name}, sel)
		rule := get("monitoring.coreos.com", "prometheusrules", ns, name+"-alerts")
		groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
		require.Len(t, groups, 1, name)
	}
	pols, err := client.NetworkingV1().NetworkPolicies(ns).Get(ctx, "order-worker", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, pols.Spec.Egress, "order-worker reaches its stores")
}
