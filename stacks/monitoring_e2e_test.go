package stacks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// monitoringDeployed reads back the monitoring tier on the simulated
// cluster: Prometheus and Alertmanager, the SLO rules, every tier's
// monitors, Elasticsearch and Kibana, the Jaeger collector (accepted
// under the definitions generated from the operators' own types, which
// also refuse what the operators would), Fluentd running over the zones
// with its buffer volumes bound, and the dashboards.
func monitoringDeployed(t *testing.T, ctx context.Context, client *kubernetes.Clientset, kubeconfig string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	resource := func(group, version, plural string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: group, Version: version, Resource: plural}
	}
	get := func(gvr schema.GroupVersionResource, name string) *unstructured.Unstructured {
		t.Helper()
		obj, err := dyn.Resource(gvr).Namespace("monitoring").Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, "%s %s", gvr.Resource, name)
		return obj
	}
	field := func(obj *unstructured.Unstructured, path ...string) any {
		v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
		return v
	}
	prom := get(resource("monitoring.coreos.com", "v1", "prometheuses"), "prometheus")
	assert.EqualValues(t, 2, field(prom, "spec", "replicas"))
	assert.Equal(t, "15d", field(prom, "spec", "retention"))
	assert.Equal(t, "cloudscale-encrypted", field(prom, "spec", "storage", "volumeClaimTemplate", "spec", "storageClassName"))
	assert.Equal(t, map[string]any{}, field(prom, "spec", "serviceMonitorNamespaceSelector"), "every namespace's monitors")
	am := get(resource("monitoring.coreos.com", "v1", "alertmanagers"), "main")
	assert.EqualValues(t, 3, field(am, "spec", "replicas"))
	assert.Equal(t, "alertmanager-main-config", field(am, "spec", "configSecret"))
	cfgSecret, err := client.CoreV1().Secrets("monitoring").Get(ctx, "alertmanager-main-config", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, string(cfgSecret.Data["alertmanager.yaml"]), "inhibit_rules")

	rule := get(resource("monitoring.coreos.com", "v1", "prometheusrules"), "slo-api-service")
	groups := field(rule, "spec", "groups").([]any)
	require.Len(t, groups, 1)
	severities := map[string]bool{}
	for _, r := range groups[0].(map[string]any)["rules"].([]any) {
		if labels, ok := r.(map[string]any)["labels"].(map[string]any); ok && r.(map[string]any)["alert"] != nil {
			severities[labels["slo"].(string)+"/"+labels["severity"].(string)] = true
		}
	}
	assert.Len(t, severities, 4, "availability and latency, page and ticket")

	// Every tier declares its monitors, in its own namespace.
	var monitors []string
	for _, plural := range []string{"servicemonitors", "podmonitors"} {
		list, err := dyn.Resource(resource("monitoring.coreos.com", "v1", plural)).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, m := range list.Items {
			monitors = append(monitors, m.GetNamespace()+"/"+m.GetName())
		}
	}
	for _, want := range []string{"istio-system/envoy-stats", "istio-system/istiod", "vault/vault", "cloudscale/postgres-orders",
		"cloudscale/redis", "cloudscale/mongodb", "cloudscale/rabbitmq", "monitoring/prometheus", "monitoring/alertmanager",
		"monitoring/elasticsearch", "monitoring/fluentd", "monitoring/jaeger", "chaos/slo-gate"} {
		assert.Contains(t, monitors, want)
	}
	rules, err := dyn.Resource(resource("monitoring.coreos.com", "v1", "prometheusrules")).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(rules.Items), 9, "every tier's health alerts and the SLO rules")

	es := get(resource("elasticsearch.k8s.elastic.co", "v1", "elasticsearches"), "logs")
	sets := field(es, "spec", "nodeSets").([]any)
	require.Len(t, sets, 1)
	assert.EqualValues(t, 3, sets[0].(map[string]any)["count"])
	assert.Contains(t, sets[0], "zoneAwareness")
	// ECK finds the data volume by its claim template's name: the
	// definition keeps embedded metadata (the API server pruned it before).
	claim := sets[0].(map[string]any)["volumeClaimTemplates"].([]any)[0].(map[string]any)
	assert.Equal(t, "elasticsearch-data", claim["metadata"].(map[string]any)["name"])
	assert.Equal(t, "logs-es-http-tls", field(es, "spec", "http", "tls", "certificate", "secretName"))
	kb := get(resource("kibana.k8s.elastic.co", "v1", "kibanas"), "logs")
	assert.EqualValues(t, 2, field(kb, "spec", "count"))
	col := get(resource("opentelemetry.io", "v1beta1", "opentelemetrycollectors"), "jaeger")
	assert.EqualValues(t, 2, field(col, "spec", "replicas"))
	assert.True(t, strings.HasPrefix(field(col, "spec", "image").(string), "docker.io/jaegertracing/jaeger:2."))

	// The operators' schemas refuse what the operators would.
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": map[string]any{"name": "bad"},
		"spec": map[string]any{"retention": "two weeks"},
	}}
	_, err = dyn.Resource(resource("monitoring.coreos.com", "v1", "prometheuses")).Namespace("monitoring").Create(ctx, bad, metav1.CreateOptions{})
	require.Error(t, err, "the operator's schema checks a retention's form")
	assert.Contains(t, err.Error(), "spec.retention")

	// Fluentd runs on the simulated nodes, one replica per zone, each
	// buffering on its own encrypted volume.
	sts, err := client.AppsV1().StatefulSets("monitoring").Get(ctx, "fluentd", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(3), sts.Status.ReadyReplicas, "fluentd's ready replicas (the up waits for them)")
	pods, err := client.CoreV1().Pods("monitoring").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=fluentd"})
	require.NoError(t, err)
	zones := map[string]bool{}
	for _, p := range pods.Items {
		node, err := client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		require.NoError(t, err)
		zones[node.Labels[corev1.LabelTopologyZone]] = true
	}
	assert.Len(t, zones, int(*sts.Spec.Replicas), "one replica per zone")
	// No operator runs here, so Fluentd's are the namespace's only claims.
	claims, err := client.CoreV1().PersistentVolumeClaims("monitoring").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, claims.Items, 3)
	for _, c := range claims.Items {
		assert.Equal(t, "cloudscale-encrypted", *c.Spec.StorageClassName)
		assert.Equal(t, corev1.ClaimBound, c.Status.Phase, c.Name)
	}

	boards, err := client.CoreV1().ConfigMaps("monitoring").List(ctx, metav1.ListOptions{LabelSelector: "grafana_dashboard=1"})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(boards.Items), 9, "a dashboard per tier and per service")
}
