package cloudscale.observability_test

import rego.v1

import data.cloudscale.fixtures as fx
import data.cloudscale.stackrules as st

# The monitoring tier (issue 16) as the platform renders it passes every
# rule; each failing test breaks it by hand.

workload(kind, name, ns) := {
	"apiVersion": "apps/v1", "kind": kind,
	"metadata": {"name": name, "namespace": ns},
	"spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name}]}}},
}

service(name, ns, selector) := {
	"apiVersion": "v1", "kind": "Service",
	"metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
	"spec": {"selector": selector, "ports": [{"name": "metrics", "port": 9090}]},
}

monitor(kind, name, ns, spec) := {"apiVersion": "monitoring.coreos.com/v1", "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec}

service_monitor(name, ns, spec) := monitor("ServiceMonitor", name, ns, object.union({"endpoints": [{"port": "metrics"}]}, spec))

pod_monitor(name, ns, spec) := monitor("PodMonitor", name, ns, object.union({"podMetricsEndpoints": [{"port": "metrics"}]}, spec))

test_cs_obs_001_pass if {
	count(st.cs_obs_001) == 0 with input as fx.kube(fx.monitoring_tier)
}

# The operators' pods, scraped the ways the data tier does: a PodMonitor
# per CloudNativePG cluster, a ServiceMonitor selecting the labels the
# operators put on their Services (RabbitMQ, PgBouncer), one PodMonitor for
# every Percona set (cfg and mongos too); a ServiceMonitor in the
# monitoring namespace admitting the api's through matchNames. A CronJob
# and kube-system are not judged.
test_cs_obs_001_pass_operators_and_exemptions if {
	count(st.cs_obs_001) == 0 with input as fx.kube([
		fx.prometheus, fx.monitoring_pod_monitor,
		fx.pg_cluster, fx.pooler, fx.rabbitmq, fx.psmdb,
		pod_monitor("postgres-app", "cloudscale", {"selector": {"matchLabels": {"cnpg.io/cluster": "postgres-app", "cnpg.io/podRole": "instance"}}}),
		service_monitor("pgbouncer", "cloudscale", {"selector": {"matchExpressions": [{"key": "cnpg.io/poolerName", "operator": "Exists"}]}}),
		service_monitor("rabbitmq-app", "cloudscale", {"selector": {"matchLabels": {"app.kubernetes.io/name": "rabbitmq-app", "app.kubernetes.io/component": "rabbitmq"}}}),
		pod_monitor("mongo-app", "cloudscale", {"selector": {"matchLabels": {"app.kubernetes.io/instance": "mongo-app"}}}),
		fx.deployment, fx.api_service,
		service_monitor("api", "monitoring", {"selector": {"matchLabels": {"app": "api"}}, "namespaceSelector": {"matchNames": ["shop"]}}),
		{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report", "namespace": "shop"}, "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "report"}}, "spec": {"containers": [{"name": "report"}]}}}}}},
		workload("DaemonSet", "kube-proxy", "kube-system"),
	])
}

# Without a Prometheus in the input nothing is judged.
test_cs_obs_001_pass_no_prometheus if {
	count(st.cs_obs_001) == 0 with input as fx.kube([fx.deployment, workload("DaemonSet", "node-agent", "shop"), fx.api_monitor])
}

test_cs_obs_001_fail if {
	st.cs_obs_001 == {
		{"urn": "urn:node-agent", "msg": "DaemonSet shop/node-agent is scraped by nothing: no PodMonitor selects its pods and no ServiceMonitor selects a Service that selects them, in a namespace the monitor admits"},
		{"urn": "urn:api", "msg": "Deployment shop/api is selected only by ServiceMonitor shop/api, which no Prometheus loads: a Prometheus's serviceMonitorSelector must select the monitor's labels ({} selects all, unset none) and its namespace selector the monitor's namespace (unset: the Prometheus's own namespace only)"},
		{"urn": "urn:logs", "msg": "Elasticsearch monitoring/logs nodeSet default (pods labelled common.k8s.elastic.co/type=elasticsearch, elasticsearch.k8s.elastic.co/cluster-name=logs, elasticsearch.k8s.elastic.co/statefulset-name=logs-es-default) is selected only by ServiceMonitor monitoring/logs, which no Prometheus loads: a Prometheus's serviceMonitorSelector must select the monitor's labels ({} selects all, unset none) and its namespace selector the monitor's namespace (unset: the Prometheus's own namespace only)"},
		{"urn": "urn:rabbitmq-app", "msg": "RabbitmqCluster cloudscale/rabbitmq-app (pods labelled app.kubernetes.io/component=rabbitmq, app.kubernetes.io/name=rabbitmq-app, app.kubernetes.io/part-of=rabbitmq) is scraped by nothing: no PodMonitor selects its pods and no ServiceMonitor selects a Service that selects them, in a namespace the monitor admits"},
	} with input as fx.kube([
		# the Prometheus loads only ServiceMonitors labelled team: platform
		fx.with_prometheus({"serviceMonitorSelector": {"matchLabels": {"team": "platform"}}}),
		fx.monitoring_pod_monitor,
		fx.deployment, fx.api_service, fx.api_monitor,
		workload("DaemonSet", "node-agent", "shop"),
		fx.rabbitmq,
		# selects the pods of a cluster named rabbitmq
		pod_monitor("rabbitmq", "cloudscale", {"selector": {"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}}}),
		fx.elasticsearch, fx.logs_monitor,
	])
}

# Namespaces: a monitor whose matchNames leaves the workload's namespace
# out; a Prometheus whose namespace selectors admit only labelled
# namespaces (ServiceMonitors) and, unset, its own (PodMonitors); a
# Service selecting no pod (no selector); a monitor without endpoints.
test_cs_obs_001_fail_namespaces if {
	st.cs_obs_001 == {
		{"urn": "urn:api", "msg": "Deployment shop/api is scraped by nothing: no PodMonitor selects its pods and no ServiceMonitor selects a Service that selects them, in a namespace the monitor admits"},
		{"urn": "urn:orders", "msg": "Deployment orders/orders is selected only by ServiceMonitor orders/orders, which no Prometheus loads: a Prometheus's serviceMonitorSelector must select the monitor's labels ({} selects all, unset none) and its namespace selector the monitor's namespace (unset: the Prometheus's own namespace only)"},
		{"urn": "urn:node-agent", "msg": "DaemonSet shop/node-agent is selected only by PodMonitor shop/node-agent, which no Prometheus loads: a Prometheus's podMonitorSelector must select the monitor's labels ({} selects all, unset none) and its namespace selector the monitor's namespace (unset: the Prometheus's own namespace only)"},
		{"urn": "urn:cache", "msg": "StatefulSet shop/cache is scraped by nothing: no PodMonitor selects its pods and no ServiceMonitor selects a Service that selects them, in a namespace the monitor admits"},
		{"urn": "urn:worker", "msg": "Deployment shop/worker is scraped by nothing: no PodMonitor selects its pods and no ServiceMonitor selects a Service that selects them, in a namespace the monitor admits"},
	} with input as fx.kube([
		object.union(json.remove(fx.prometheus, ["spec/podMonitorNamespaceSelector"]), {"spec": {"serviceMonitorNamespaceSelector": {"matchLabels": {"monitoring": "enabled"}}}}),
		{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"monitoring": "enabled"}}},
		{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "orders"}},
		fx.monitoring_pod_monitor,
		fx.deployment, fx.api_service,
		service_monitor("api", "shop", {"selector": {"matchLabels": {"app": "api"}}, "namespaceSelector": {"matchNames": ["orders"]}}),
		workload("Deployment", "orders", "orders"), service("orders", "orders", {"app": "orders"}),
		service_monitor("orders", "orders", {"selector": {"matchLabels": {"app": "orders"}}}),
		workload("DaemonSet", "node-agent", "shop"),
		pod_monitor("node-agent", "shop", {"selector": {"matchLabels": {"app": "node-agent"}}}),
		workload("StatefulSet", "cache", "shop"), service("cache", "shop", {}),
		service_monitor("cache", "shop", {"selector": {"matchLabels": {"app": "cache"}}}),
		workload("Deployment", "worker", "shop"),
		monitor("PodMonitor", "worker", "shop", {"selector": {"matchLabels": {"app": "worker"}}}),
	])
}

# Istio's proxy monitor (the mesh tier's envoy-stats): every pod without
# istio-prometheus-ignore, in any namespace, keeping the container port
# named like *-envoy-prom, which only an injected proxy has.
envoy_stats := pod_monitor("envoy-stats", "istio-system", {
	"selector": {"matchExpressions": [{"key": "istio-prometheus-ignore", "operator": "DoesNotExist"}]},
	"namespaceSelector": {"any": true},
	"podMetricsEndpoints": [{"path": "/stats/prometheus", "relabelings": [
		{"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_container_port_name"], "regex": ".*-envoy-prom"},
	]}],
})

namespace(name, labels) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}

# Pods Istio injects (a namespace labelled istio-injection: enabled or
# istio.io/rev, or the pod's sidecar.istio.io/inject: "true") are scraped
# through their proxy; a keep on a pod label and a drop that does not
# match keep their targets.
test_cs_obs_001_pass_mesh_proxies if {
	count(st.cs_obs_001) == 0 with input as fx.kube([
		fx.prometheus, fx.monitoring_pod_monitor, envoy_stats,
		namespace("shop", {"istio-injection": "enabled"}), namespace("orders", {"istio.io/rev": "default"}),
		fx.deployment, workload("Deployment", "orders", "orders"),
		object.union(workload("Deployment", "edge", "edge"), {"spec": {"template": {"metadata": {"labels": {"sidecar.istio.io/inject": "true"}}}}}),
		workload("DaemonSet", "agent", "edge"),
		pod_monitor("agent", "edge", {"selector": {}, "podMetricsEndpoints": [{"port": "metrics", "relabelings": [
			{"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_label_app"], "regex": "agent|exporter"},
			{"action": "drop", "sourceLabels": ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_label_app"], "regex": "edge;edge"},
			{"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
		]}]}),
	])
}

# The proxy monitor selects every pod but keeps only proxies: a pod that
# opts out of injection, one in a namespace without injection, and an
# operator's pods (opted out by their template's label) are not scraped;
# a drop relabeling matching the pods drops them.
test_cs_obs_001_fail_relabelings if {
	st.cs_obs_001 == {
		{"urn": "urn:api", "msg": "Deployment shop/api is selected only by PodMonitor istio-system/envoy-stats, whose relabelings keep none of its targets (a keep or drop on the container port name, the namespace or the pod's labels and annotations; the input gives its pods no named container port and no Istio sidecar)"},
		{"urn": "urn:batch", "msg": "Deployment batch/batch is selected only by PodMonitor istio-system/envoy-stats, whose relabelings keep none of its targets (a keep or drop on the container port name, the namespace or the pod's labels and annotations; the input gives its pods the container ports http)"},
		{"urn": "urn:rabbitmq-app", "msg": "RabbitmqCluster cloudscale/rabbitmq-app (pods labelled app.kubernetes.io/component=rabbitmq, app.kubernetes.io/name=rabbitmq-app, app.kubernetes.io/part-of=rabbitmq, sidecar.istio.io/inject=false) is selected only by PodMonitor istio-system/envoy-stats, whose relabelings keep none of its targets (a keep or drop on the container port name, the namespace or the pod's labels and annotations; the input gives its pods no named container port and no Istio sidecar)"},
		{"urn": "urn:agent", "msg": "DaemonSet shop/agent is selected only by PodMonitor shop/agent, whose relabelings keep none of its targets (a keep or drop on the container port name, the namespace or the pod's labels and annotations; the input gives its pods the container ports http-envoy-prom)"},
	} with input as fx.kube([
		fx.prometheus, fx.monitoring_pod_monitor, envoy_stats,
		namespace("shop", {"istio-injection": "enabled"}), namespace("cloudscale", {"istio-injection": "enabled"}), namespace("batch", {}),
		object.union(fx.deployment, {"spec": {"template": {"metadata": {"annotations": {"sidecar.istio.io/inject": "false"}}}}}),
		object.union(workload("Deployment", "batch", "batch"), {"spec": {"template": {"spec": {"containers": [{"name": "batch", "ports": [{"name": "http", "containerPort": 8080}]}]}}}}),
		object.union(fx.rabbitmq, {"spec": {"override": {"statefulSet": {"spec": {"template": {"metadata": {"labels": {"sidecar.istio.io/inject": "false"}}}}}}}}),
		# injected, but opted out of the proxy scrape, and dropped by its own monitor
		object.union(workload("DaemonSet", "agent", "shop"), {"spec": {"template": {"metadata": {"labels": {"istio-prometheus-ignore": "true"}}}}}),
		pod_monitor("agent", "shop", {"selector": {"matchLabels": {"app": "agent"}}, "podMetricsEndpoints": [{"relabelings": [
			{"action": "drop", "sourceLabels": ["__meta_kubernetes_pod_labelpresent_istio_prometheus_ignore"], "regex": "true"},
		]}]}),
	])
}

test_cs_obs_002_pass if {
	count(st.cs_obs_002) == 0 with input as fx.kube(fx.monitoring_tier)
}

# A short host names a Service of the route's namespace; a Gateway API
# route attached to a Gateway; a mesh-only VirtualService and a host
# outside the cluster need no SLO alerts.
test_cs_obs_002_pass_short_names_and_gateway_api if {
	count(st.cs_obs_002) == 0 with input as fx.kube([
		fx.prometheus, fx.slo_rule("api-service", fx.slo_pairs), fx.slo_rule("checkout", fx.slo_pairs),
		object.union(fx.gateway_routes(["api-service", "payments.example.com"]), {"metadata": {"namespace": "shop"}}),
		{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "internal", "namespace": "shop"}, "spec": {"hosts": ["internal"], "http": [{"route": [{"destination": {"host": "internal"}}]}]}},
		{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "checkout", "namespace": "shop"}, "spec": {
			"parentRefs": [{"name": "gateway", "namespace": "ingress"}],
			"rules": [{"backendRefs": [{"name": "checkout", "port": 8080}]}],
		}},
	])
}

test_cs_obs_002_fail if {
	st.cs_obs_002 == {
		{"urn": "urn:api-service", "msg": "Service shop/api-service, which the gateway routes to (VirtualService ingress/gateway-routes), has no alert labelled service api-service for latency (ticket)"},
		{"urn": "urn:gateway-routes", "msg": "Service ingress/orders, which the gateway routes to (VirtualService ingress/gateway-routes), has no alert labelled service orders for availability (page), availability (ticket), latency (page), latency (ticket)"},
		{"urn": "urn:checkout", "msg": "Service shop/checkout, which the gateway routes to (HTTPRoute shop/checkout), has no alert labelled service checkout for availability (page), availability (ticket), latency (page), latency (ticket) that a Prometheus loads (PrometheusRule shop/slo-checkout has some, but no Prometheus's ruleSelector and ruleNamespaceSelector select it)"},
	} with input as fx.kube([
		# rules are loaded from the Prometheus's own namespace only
		json.remove(fx.prometheus, ["spec/ruleNamespaceSelector"]),
		fx.api_service,
		fx.slo_rule("api-service", array.slice(fx.slo_pairs, 0, 3)),
		object.union(fx.slo_rule("checkout", fx.slo_pairs), {"metadata": {"namespace": "shop"}}),
		fx.gateway_routes(["api-service.shop.svc.cluster.local", "orders"]),
		{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "checkout", "namespace": "shop"}, "spec": {
			"parentRefs": [{"name": "gateway", "namespace": "ingress"}],
			"rules": [{"backendRefs": [{"name": "checkout", "port": 8080}]}],
		}},
	])
}

test_cs_obs_003_pass if {
	count(st.cs_obs_003) == 0 with input as fx.kube(fx.monitoring_tier)
}

# retentionSize alone, and the policy object without its "policy" wrapper
# with an age in hours.
test_cs_obs_003_pass_size_and_bare_policy if {
	count(st.cs_obs_003) == 0 with input as fx.kube([
		json.remove(fx.prometheus, ["spec/retention"]),
		fx.elasticsearch,
		fx.fluentd_config(json.marshal({"phases": {"delete": {"min_age": "720h", "actions": {"delete": {}}}}})),
	])
}

test_cs_obs_003_fail if {
	st.cs_obs_003 == {
		{"urn": "urn:prometheus", "msg": "Prometheus monitoring/prometheus sets no spec.retention or spec.retentionSize, so the operator keeps its metrics for 24h only"},
		{"urn": "urn:logs", "msg": "Elasticsearch monitoring/logs stores the logs, and no ConfigMap labelled app.kubernetes.io/name: fluentd has an ilm-policy.json, so no lifecycle policy deletes its indices and they fill its volumes"},
	} with input as fx.kube([
		json.remove(fx.prometheus, ["spec/retention", "spec/retentionSize"]),
		fx.elasticsearch,
		# not fluentd's
		object.union(fx.fluentd_config(json.marshal(fx.ilm_policy)), {"metadata": {"labels": {"app.kubernetes.io/name": "fluent-bit"}}}),
	])
}

test_cs_obs_003_fail_policies if {
	st.cs_obs_003 == {
		{"urn": "urn:not-json", "msg": "ConfigMap monitoring/not-json ilm-policy.json is not valid JSON"},
		{"urn": "urn:hot-only", "msg": "ConfigMap monitoring/hot-only ilm-policy.json has no delete phase (policy.phases.delete), so the indices it manages are never deleted and fill the cluster's volumes"},
		{"urn": "urn:no-action", "msg": "ConfigMap monitoring/no-action ilm-policy.json has a delete phase without a delete action (actions.delete), so the indices it manages are never deleted"},
		{"urn": "urn:no-age", "msg": "ConfigMap monitoring/no-age ilm-policy.json has a delete phase whose min_age (unset, 0ms) is not a positive age (30d, 720h), so an index is deleted as soon as it enters the phase"},
		{"urn": "urn:zero-age", "msg": "ConfigMap monitoring/zero-age ilm-policy.json has a delete phase whose min_age 0d is not a positive age (30d, 720h), so an index is deleted as soon as it enters the phase"},
	} with input as fx.kube([
		fx.elasticsearch,
		named_config("not-json", "{\"policy\": {"),
		named_config("hot-only", json.marshal({"policy": {"phases": {"hot": {"actions": {"rollover": {"max_age": "1d"}}}}}})),
		named_config("no-action", json.marshal({"policy": {"phases": {"delete": {"min_age": "30d", "actions": {"wait_for_snapshot": {"policy": "daily"}}}}}})),
		named_config("no-age", json.marshal({"policy": {"phases": {"delete": {"actions": {"delete": {}}}}}})),
		named_config("zero-age", json.marshal({"policy": {"phases": {"delete": {"min_age": "0d", "actions": {"delete": {}}}}}})),
	])
}

named_config(name, policy) := object.union(fx.fluentd_config(policy), {"metadata": {"name": name}})
