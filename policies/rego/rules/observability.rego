# Observability rules (issue 16): the monitoring tier scrapes every
# workload, alerts on the SLOs of every service the gateway routes to, and
# keeps its metrics and logs for a set time. They join the
# prometheus-operator's objects (monitoring.coreos.com/v1 Prometheus,
# PodMonitor, ServiceMonitor, PrometheusRule) with the workloads, Services,
# routes and log store they are about, so they are stack rules (this file
# adds to the package of stack.rego; its helpers are prefixed obs_).
# Mandatory in staging and prod, advisory in dev.
#
# A Prometheus in the input is what makes a stack monitored: the scraping
# and alerting rules judge only then. Without one, nothing can say which
# monitors and alert rules are loaded, and the data tier renders its
# monitors before the monitoring tier exists. (The engine evaluates the
# whole package, helpers too: theirs stay empty without a Prometheus.)
package cloudscale.stackrules

import rego.v1

import data.cloudscale.lib

obs_kind(k) := object.get(input.kinds, k, [])

obs_prometheuses := obs_kind("monitoring.coreos.com/Prometheus")

obs_monitored if count(obs_prometheuses) > 0

obs_text(r) := sprintf("%s %s/%s", [lib.kind_name(r), lib.namespace(r), lib.name(r)])

# obs_namespace_labels: a namespace's labels: its Namespace object's (when
# the input has it), and kubernetes.io/metadata.name, which the API server
# sets on every namespace.
obs_namespace_labels(ns) := object.union(obs_namespace_objects[ns], {"kubernetes.io/metadata.name": ns}) if {
	obs_namespace_objects[ns]
} else := {"kubernetes.io/metadata.name": ns}

obs_namespace_objects[name] := object.get(objs[0].inputs, ["metadata", "labels"], {}) if {
	obs_monitored
	some name in {lib.name(n) | some n in obs_kind("core/Namespace")}
	objs := [n | some n in obs_kind("core/Namespace"); lib.name(n) == name]
}

# obs_loads(p, o, field): Prometheus p loads the monitor or rule object o:
# spec.<field>Selector selects o's labels (an empty selector selects every
# object, an unset one none) and spec.<field>NamespaceSelector its
# namespace (an empty selector admits every namespace, an unset one the
# Prometheus's own). field is serviceMonitor, podMonitor or rule.
obs_loads(p, o, field) if {
	sel := object.get(p.inputs, ["spec", concat("", [field, "Selector"])], null)
	is_object(sel)
	lib.selects(sel, object.get(o.inputs, ["metadata", "labels"], {}))
	obs_namespace_admitted(p, lib.namespace(o), concat("", [field, "NamespaceSelector"]))
}

obs_namespace_admitted(p, ns, field) if {
	not is_object(object.get(p.inputs, ["spec", field], null))
	ns == lib.namespace(p)
}

obs_namespace_admitted(p, ns, field) if {
	sel := object.get(p.inputs, ["spec", field], null)
	is_object(sel)
	lib.selects(sel, obs_namespace_labels(ns))
}

# obs_monitor_admits(m, ns): a monitor's spec.namespaceSelector admits
# namespace ns: any: true admits every namespace, matchNames those it
# names, and neither the monitor's own namespace.
obs_monitor_admits(m, ns) if object.get(m.inputs, ["spec", "namespaceSelector", "any"], false) == true

obs_monitor_admits(m, ns) if {
	not object.get(m.inputs, ["spec", "namespaceSelector", "any"], false) == true
	ns in object.get(m.inputs, ["spec", "namespaceSelector", "matchNames"], [])
}

obs_monitor_admits(m, ns) if {
	not object.get(m.inputs, ["spec", "namespaceSelector", "any"], false) == true
	count(object.get(m.inputs, ["spec", "namespaceSelector", "matchNames"], [])) == 0
	ns == lib.namespace(m)
}

# A Prometheus with ignoreNamespaceSelectors ignores the monitors'
# namespaceSelector: each monitor reaches its own namespace only.
obs_admits_for(p, m, ns) if {
	p.inputs.spec.ignoreNamespaceSelectors == true
	ns == lib.namespace(m)
}

obs_admits_for(p, m, ns) if {
	not p.inputs.spec.ignoreNamespaceSelectors == true
	obs_monitor_admits(m, ns)
}

# Monitors that scrape something: a PodMonitor with podMetricsEndpoints, a
# ServiceMonitor with endpoints; each with its index and its selector.
obs_monitors := [object.union(x, {"i": i, "sel": object.get(x.m.inputs, ["spec", "selector"], {})}) |
	obs_monitored
	some i, x in array.concat(
		[{"kind": "PodMonitor", "field": "podMonitor", "m": m} |
			some m in obs_kind("monitoring.coreos.com/PodMonitor")
			count(object.get(m.inputs, ["spec", "podMetricsEndpoints"], [])) > 0
		],
		[{"kind": "ServiceMonitor", "field": "serviceMonitor", "m": m} |
			some m in obs_kind("monitoring.coreos.com/ServiceMonitor")
			count(object.get(m.inputs, ["spec", "endpoints"], [])) > 0
		],
	)
]

# obs_loaders[i]: the Prometheuses that load monitor i.
obs_loaders[x.i] := [p | some p in obs_prometheuses; obs_loads(p, x.m, x.field)] if some x in obs_monitors

# obs_targets: the pods to scrape: those of every Deployment, StatefulSet
# and DaemonSet (by their template's labels; Jobs and CronJobs finish and
# are not scraped), and those the platform's operators run for their
# objects (lib.operator_pods), outside kube-system.
obs_targets contains {
	"urn": r.urn, "ns": lib.namespace(r), "kind": lib.kind_name(r), "name": lib.name(r), "group": "", "operator": false,
	"labels": lib.pod_labels(r), "annotations": object.get(r.inputs, ["spec", "template", "metadata", "annotations"], {}),
	"ports": {p.name | some c in object.get(lib.pod_spec(r), "containers", []); some p in object.get(c, "ports", []); is_string(p.name)},
} if {
	obs_monitored
	some k in {"apps/Deployment", "apps/StatefulSet", "apps/DaemonSet"}
	some r in obs_kind(k)
	not r.owned_by
	lib.namespace(r) != "kube-system"
}

obs_targets contains {
	"urn": r.urn, "ns": lib.namespace(r), "kind": lib.kind_name(r), "name": lib.name(r), "group": g.what, "operator": true,
	"labels": g.labels, "annotations": {}, "ports": set(),
} if {
	obs_monitored
	some k in lib.operator_kinds
	some r in obs_kind(k)
	lib.namespace(r) != "kube-system"
	some g in lib.operator_pods(r)
}

obs_target_namespaces := {t.ns | some t in obs_targets}

# The joins look at a namespace's own monitors and Services once, not at
# every monitor for every workload.
obs_ns_monitors[ns] := [x | some x in obs_monitors; obs_monitor_admits(x.m, ns)] if some ns in obs_target_namespaces

obs_ns_services[ns] := [[sel, object.get(svc.inputs, ["metadata", "labels"], {})] |
	some svc in object.get(input.by_ns, ["core/Service", ns], [])
	sel := object.get(svc.inputs, ["spec", "selector"], {})
	count(sel) > 0
] if some ns in obs_target_namespaces

# obs_selecting(t): the monitors whose selectors reach the target's pods,
# whether or not a Prometheus loads them: a PodMonitor selecting the pods,
# or a ServiceMonitor selecting a Service of their namespace whose
# spec.selector matches them (each of its keys and values is among their
# labels). The Services an operator creates are not in the input, but the
# operators put their pods' labels on them: for an operator's pods, a
# ServiceMonitor whose selector selects the pods' labels counts.
obs_selecting(t) := {x |
	some x in obs_ns_monitors[t.ns]
	obs_reaches(x, t)
}

obs_reaches(x, t) if {
	x.kind == "PodMonitor"
	lib.selects(x.sel, t.labels)
}

obs_reaches(x, t) if {
	x.kind == "ServiceMonitor"
	some [sel, labels] in obs_ns_services[t.ns]
	object.subset(t.labels, sel)
	lib.selects(x.sel, labels)
}

obs_reaches(x, t) if {
	x.kind == "ServiceMonitor"
	t.operator
	lib.selects(x.sel, t.labels)
}

obs_scraped(t, monitors) if {
	some x in monitors
	some p in obs_loaders[x.i]
	obs_admits_for(p, x.m, t.ns)
}

# obs_keeps(x, t): an endpoint of monitor x keeps a target of the pods:
# its keep and drop relabelings hold for one of their ports. Prometheus
# discovers a target per container port; the input declares the pod
# template's named ports, and the injected proxy's http-envoy-prom when
# Istio injects a sidecar (obs_injected); an operator's pods declare none
# here. A relabeling reads the port name, the namespace, and the pod's
# labels and annotations; one that reads anything else is not judged.
obs_keeps(x, t) if {
	some ep in object.get(x.m.inputs, ["spec", obs_endpoints[x.kind]], [])
	some port in obs_ports(t)
	every rc in object.get(ep, "relabelings", []) {
		obs_relabel_holds(rc, t, port)
	}
}

obs_endpoints := {"PodMonitor": "podMetricsEndpoints", "ServiceMonitor": "endpoints"}

obs_ports(t) := ports if {
	ports := t.ports | {"http-envoy-prom" | obs_injected(t)}
	count(ports) > 0
} else := {""}

# obs_injected(t): Istio injects its proxy into the pods: their label (or
# annotation) sidecar.istio.io/inject is "true", or unset in a namespace
# labelled istio-injection: enabled or istio.io/rev (without
# istio-injection: disabled).
obs_injected(t) if {
	obs_inject_setting(t) == "true"
	object.get(obs_namespace_labels(t.ns), "istio-injection", "") != "disabled"
}

obs_injected(t) if {
	obs_inject_setting(t) == ""
	labels := obs_namespace_labels(t.ns)
	obs_injection_namespace(labels)
}

obs_injection_namespace(labels) if labels["istio-injection"] == "enabled"

obs_injection_namespace(labels) if {
	labels["istio.io/rev"]
	not labels["istio-injection"]
}

obs_inject_setting(t) := v if {
	v := t.labels["sidecar.istio.io/inject"]
} else := v if {
	v := t.annotations["sidecar.istio.io/inject"]
} else := ""

obs_relabel_holds(rc, _, _) if not lower(object.get(rc, "action", "replace")) in {"keep", "drop"}

obs_relabel_holds(rc, t, port) if {
	lower(object.get(rc, "action", "replace")) in {"keep", "drop"}
	not obs_relabel_known(rc, t, port)
}

obs_relabel_holds(rc, t, port) if {
	lower(rc.action) == "keep"
	obs_relabel_matches(rc, t, port)
}

obs_relabel_holds(rc, t, port) if {
	lower(rc.action) == "drop"
	obs_relabel_known(rc, t, port)
	not obs_relabel_matches(rc, t, port)
}

obs_relabel_known(rc, t, port) if {
	every l in object.get(rc, "sourceLabels", []) {
		obs_meta(l, t, port)
	}
}

obs_relabel_matches(rc, t, port) if {
	obs_relabel_known(rc, t, port)
	value := concat(object.get(rc, "separator", ";"), [obs_meta(l, t, port) | some l in object.get(rc, "sourceLabels", [])])
	regex.match(concat("", ["^(?:", object.get(rc, "regex", "(.*)"), ")$"]), value)
}

# obs_meta(l, t, port): the value of discovery label l on the target, as
# Prometheus's Kubernetes discovery sets it (label and annotation names
# sanitized to [a-zA-Z0-9_]); undefined for labels not read here.
obs_meta("__meta_kubernetes_pod_container_port_name", _, port) := port

obs_meta("__meta_kubernetes_namespace", t, _) := t.ns

obs_meta(l, t, _) := obs_sanitized_value(t.labels, trim_prefix(l, "__meta_kubernetes_pod_label_")) if startswith(l, "__meta_kubernetes_pod_label_")

obs_meta(l, t, _) := obs_sanitized_present(t.labels, trim_prefix(l, "__meta_kubernetes_pod_labelpresent_")) if startswith(l, "__meta_kubernetes_pod_labelpresent_")

obs_meta(l, t, _) := obs_sanitized_value(t.annotations, trim_prefix(l, "__meta_kubernetes_pod_annotation_")) if startswith(l, "__meta_kubernetes_pod_annotation_")

obs_meta(l, t, _) := obs_sanitized_present(t.annotations, trim_prefix(l, "__meta_kubernetes_pod_annotationpresent_")) if startswith(l, "__meta_kubernetes_pod_annotationpresent_")

obs_sanitized_value(m, name) := v if {
	vs := [sprintf("%v", [v]) | some k, v in m; regex.replace(k, `[^a-zA-Z0-9_]`, "_") == name]
	count(vs) > 0
	v := vs[0]
} else := ""

obs_sanitized_present(m, name) := "true" if {
	some k, _ in m
	regex.replace(k, `[^a-zA-Z0-9_]`, "_") == name
} else := ""

# METADATA
# title: Every workload is scraped by Prometheus
# description: "Where the input has a Prometheus, the pods of every Deployment, StatefulSet and DaemonSet (outside kube-system; Jobs and CronJobs are not scraped), and those the platform's operators run (CloudNativePG Cluster: cnpg.io/cluster <name>, cnpg.io/podRole instance; Pooler: cnpg.io/poolerName <name>; RabbitmqCluster: app.kubernetes.io/name <name>, app.kubernetes.io/component rabbitmq; PerconaServerMongoDB: app.kubernetes.io/instance <name> with app.kubernetes.io/replset and app.kubernetes.io/component per replica set, cfg and mongos; Prometheus: app.kubernetes.io/name prometheus, prometheus <name>; Alertmanager: app.kubernetes.io/name alertmanager, alertmanager <name>; Elasticsearch: elasticsearch.k8s.elastic.co/cluster-name <name>, per nodeSet; OpenTelemetryCollector: app.kubernetes.io/name <name>-collector; not Kibana, which serves no Prometheus metrics), are scraped: a PodMonitor selects them, or a ServiceMonitor selects a Service whose spec.selector matches them (for an operator's pods, whose Services the operator creates, a ServiceMonitor selecting their labels), in a namespace the monitor's namespaceSelector admits (any: true, matchNames, or else its own namespace); an endpoint of the monitor keeps one of their targets (its keep and drop relabelings on the container port name, the namespace, and the pods' labels and annotations are applied: the ports are those the pod template names, and the injected proxy's http-envoy-prom when Istio injects one, which the namespace's istio-injection: enabled or istio.io/rev label or the pod's sidecar.istio.io/inject: \"true\" decides; an operator's pods name none here; relabelings on other labels are not judged); and a Prometheus loads the monitor (its serviceMonitorSelector or podMonitorSelector selects the monitor's labels, {} selects all and unset none, and the matching namespace selector its namespace, {} all and unset the Prometheus's own namespace only). Without a Prometheus in the input nothing is judged."
# custom:
#   id: CS-OBS-001
#   severity: medium
#   category: observability
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Add a ServiceMonitor selecting the workload's Service (or a PodMonitor selecting its pods) with an endpoint on its metrics port, in its namespace or with namespaceSelector.matchNames naming it, and give the Prometheus serviceMonitorSelector {}, serviceMonitorNamespaceSelector {}, podMonitorSelector {} and podMonitorNamespaceSelector {} (or selectors that match the monitors)."
cs_obs_001 contains f if {
	obs_monitored
	some t in obs_targets
	selecting := obs_selecting(t)
	kept := {x | some x in selecting; obs_keeps(x, t)}
	not obs_scraped(t, kept)
	f := {"urn": t.urn, "msg": sprintf("%s %s", [obs_target_text(t), obs_unscraped_text(t, selecting, kept)])}
}

obs_target_text(t) := sprintf("%s %s/%s%s (pods labelled %s)", [t.kind, t.ns, t.name, obs_group_text(t.group), concat(", ", sort([sprintf("%s=%v", [k, v]) | some k, v in t.labels]))]) if {
	t.operator
} else := sprintf("%s %s/%s", [t.kind, t.ns, t.name])

obs_group_text("") := ""

obs_group_text(g) := concat(" ", ["", g]) if g != ""

obs_unscraped_text(t, selecting, kept) := sprintf("is selected only by %s, which no Prometheus loads: a Prometheus's %s must select the monitor's labels ({} selects all, unset none) and its namespace selector the monitor's namespace (unset: the Prometheus's own namespace only)", [
	concat(", ", sort([obs_text(x.m) | some x in kept])),
	concat(" or ", sort({concat("", [x.field, "Selector"]) | some x in kept})),
]) if {
	count(kept) > 0
} else := sprintf("is selected only by %s, whose relabelings keep none of its targets (a keep or drop on the container port name, the namespace or the pod's labels and annotations; the input gives its pods %s)", [
	concat(", ", sort([obs_text(x.m) | some x in selecting])),
	obs_ports_text(obs_ports(t)),
]) if {
	count(selecting) > 0
} else := "is scraped by nothing: no PodMonitor selects its pods and no ServiceMonitor selects a Service that selects them, in a namespace the monitor admits"

obs_ports_text({""}) := "no named container port and no Istio sidecar"

obs_ports_text(ports) := concat("", ["the container ports ", concat(", ", sort(ports))]) if ports != {""}

# The services the gateway routes to: the destinations of every
# VirtualService bound to a gateway (spec.gateways names one besides the
# sidecars' "mesh"; without spec.gateways it is mesh-only), in its http,
# tls and tcp routes; and the Service backends of the Gateway API routes
# attached to a Gateway. A destination host without a dot is a Service of
# the route's namespace (Istio's short names); <service>.<namespace>.svc.cluster.local
# names one in another; other hosts are outside the cluster.
obs_routed contains {"ns": ns, "name": name, "urn": vs.urn, "by": obs_text(vs)} if {
	obs_monitored
	some vs in obs_kind("networking.istio.io/VirtualService")
	obs_gateway_bound(vs)
	some proto in ["http", "tls", "tcp"]
	some route in object.get(vs.inputs, ["spec", proto], [])
	some d in object.get(route, "route", [])
	[ns, name] := obs_destination(object.get(d, ["destination", "host"], ""), lib.namespace(vs))
}

obs_routed contains {"ns": ns, "name": b.name, "urn": rt.urn, "by": obs_text(rt)} if {
	obs_monitored
	some k in ["gateway.networking.k8s.io/HTTPRoute", "gateway.networking.k8s.io/GRPCRoute"]
	some rt in obs_kind(k)
	some parent in object.get(rt.inputs, ["spec", "parentRefs"], [])
	object.get(parent, "kind", "Gateway") == "Gateway"
	some rule in object.get(rt.inputs, ["spec", "rules"], [])
	some b in object.get(rule, "backendRefs", [])
	object.get(b, "kind", "Service") == "Service"
	object.get(b, "group", "") in {"", "core"}
	ns := object.get(b, "namespace", lib.namespace(rt))
}

obs_gateway_bound(vs) if {
	some g in object.get(vs.inputs, ["spec", "gateways"], [])
	g != "mesh"
}

obs_destination(host, ns) := [ns, host] if {
	host != ""
	not contains(host, ".")
	host != "*"
}

obs_destination(host, _) := [parts[1], parts[0]] if {
	regex.match(`^[^.]+\.[^.]+\.svc\.cluster\.local\.?$`, host)
	parts := split(host, ".")
}

# obs_slo_alerts: the alerting rules of every PrometheusRule (an alert name
# and an expression), by their labels, and whether a Prometheus loads
# their PrometheusRule (ruleSelector and ruleNamespaceSelector, read like
# the monitors' selectors).
obs_slo_alerts contains {"service": l.service, "slo": l.slo, "severity": l.severity, "loaded": obs_rule_loaded(pr), "rule": obs_text(pr)} if {
	obs_monitored
	some pr in obs_kind("monitoring.coreos.com/PrometheusRule")
	some g in object.get(pr.inputs, ["spec", "groups"], [])
	some rule in object.get(g, "rules", [])
	object.get(rule, "alert", "") != ""
	sprintf("%v", [object.get(rule, "expr", "")]) != ""
	l := object.get(rule, "labels", {})
	is_string(l.service)
	is_string(l.slo)
	is_string(l.severity)
}

obs_rule_loaded(pr) if {
	some p in obs_prometheuses
	obs_loads(p, pr, "rule")
} else := false

obs_slos := [["availability", "page"], ["availability", "ticket"], ["latency", "page"], ["latency", "ticket"]]

obs_missing_slos(name) := [sprintf("%s (%s)", [slo, sev]) |
	some [slo, sev] in obs_slos
	not obs_slo_alert(name, slo, sev)
]

obs_slo_alert(name, slo, sev) if {
	some a in obs_slo_alerts
	a.loaded
	a.service == name
	a.slo == slo
	a.severity == sev
}

# METADATA
# title: Every service the gateway routes to has SLO alerts
# description: "Where the input has a Prometheus, every Service the gateway routes to (a destination of a VirtualService bound to a gateway, not only to the mesh, in its http, tls or tcp routes, or a Service backend of a Gateway API HTTPRoute or GRPCRoute attached to a Gateway) has alerting rules on its availability and latency SLOs, each paging on a fast error-budget burn and opening a ticket on a slow one: alerts (an alert name and an expr) labelled service <Service name>, slo availability or latency, and severity page or ticket, all four pairs, in PrometheusRules a Prometheus loads (its ruleSelector selects their labels, {} all and unset none, and its ruleNamespaceSelector their namespace, {} all and unset its own only)."
# custom:
#   id: CS-OBS-002
#   severity: medium
#   category: observability
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Add a PrometheusRule slo-<service> whose alerts carry labels {service: <service>, slo: availability, severity: page}, {service: <service>, slo: availability, severity: ticket}, and the same for slo: latency (multi-window burn-rate alerts), and give the Prometheus ruleSelector {} and ruleNamespaceSelector {} (or selectors that match the rule)."
cs_obs_002 contains f if {
	obs_monitored
	some [ns, name] in {[s.ns, s.name] | some s in obs_routed}
	missing := obs_missing_slos(name)
	count(missing) > 0
	routes := [s | some s in obs_routed; s.ns == ns; s.name == name]
	f := {"urn": obs_service_urn(ns, name, routes), "msg": sprintf("Service %s/%s, which the gateway routes to (%s), has no alert labelled service %s for %s%s", [
		ns, name, concat(", ", sort({s.by | some s in routes})), name,
		concat(", ", missing), obs_unloaded_slos_text(name),
	])}
}

# obs_service_urn: the Service's, when the input has it, else a route's.
obs_service_urn(ns, name, routes) := svcs[0].urn if {
	svcs := [s | some s in object.get(input.by_ns, ["core/Service", ns], []); lib.name(s) == name]
	count(svcs) > 0
} else := sort({s.urn | some s in routes})[0]

obs_unloaded_slos_text(name) := sprintf(" that a Prometheus loads (%s has some, but no Prometheus's ruleSelector and ruleNamespaceSelector select it)", [concat(", ", rules)]) if {
	rules := sort({a.rule | some a in obs_slo_alerts; a.service == name; not a.loaded})
	count(rules) > 0
} else := ""

# obs_ilm_problem: why an Elasticsearch ILM policy (the JSON body of
# PUT _ilm/policy, {"policy": {"phases": ...}}, or its "policy" object)
# keeps indices forever or deletes them at once.
obs_ilm_problem(text) := "is not a JSON string" if {
	not is_string(text)
} else := "is not valid JSON" if {
	not json.is_valid(text)
} else := "has no delete phase (policy.phases.delete), so the indices it manages are never deleted and fill the cluster's volumes" if {
	not obs_delete_phase(json.unmarshal(text))
} else := "has a delete phase without a delete action (actions.delete), so the indices it manages are never deleted" if {
	not obs_delete_action(json.unmarshal(text))
} else := sprintf("has a delete phase whose min_age %v is not a positive age (30d, 720h), so an index is deleted as soon as it enters the phase", [object.get(obs_delete_phase(json.unmarshal(text)), "min_age", "(unset, 0ms)")]) if {
	not obs_positive_age(object.get(obs_delete_phase(json.unmarshal(text)), "min_age", ""))
}

obs_delete_phase(doc) := p if {
	p := doc.policy.phases.delete
	is_object(p)
} else := p if {
	p := doc.phases.delete
	is_object(p)
}

obs_delete_action(doc) if is_object(obs_delete_phase(doc).actions.delete)

obs_positive_age(v) if {
	is_string(v)
	[[_, n, _]] := regex.find_all_string_submatch_n(`^([0-9]+)(d|h|m|s|ms|micros|nanos)$`, v, 1)
	to_number(n) > 0
}

obs_fluentd_configs := [cm |
	some cm in obs_kind("core/ConfigMap")
	object.get(cm.inputs, ["metadata", "labels", "app.kubernetes.io/name"], "") == "fluentd"
	"ilm-policy.json" in object.keys(object.get(cm.inputs, "data", {}))
]

# METADATA
# title: Metrics and logs are kept for a set time
# description: "Every Prometheus sets spec.retention or spec.retentionSize (left unset, the operator keeps 24h of metrics, whatever the incidents to look back on and whatever its volume holds). Where the input has an Elasticsearch, the logs' index lifecycle is set: a ConfigMap labelled app.kubernetes.io/name fluentd has the key ilm-policy.json, the Elasticsearch ILM policy Fluentd installs, which is valid JSON with a delete phase ({\"policy\": {\"phases\": {\"delete\": {\"min_age\": \"30d\", \"actions\": {\"delete\": {}}}}}}) whose min_age is a positive age and which has the delete action; without it the indices are never deleted and fill the cluster's volumes until Elasticsearch stops writing."
# custom:
#   id: CS-OBS-003
#   severity: medium
#   category: observability
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Set spec.retention (e.g. 15d) and spec.retentionSize (below the volume's size) on the Prometheus, and give the fluentd ConfigMap (labelled app.kubernetes.io/name: fluentd) the key ilm-policy.json: {\"policy\": {\"phases\": {\"hot\": {\"actions\": {\"rollover\": {\"max_age\": \"1d\", \"max_primary_shard_size\": \"50gb\"}}}, \"delete\": {\"min_age\": \"30d\", \"actions\": {\"delete\": {}}}}}}."
cs_obs_003 contains f if {
	some p in obs_prometheuses
	not obs_retention_set(object.get(p.inputs, "spec", {}))
	f := {"urn": p.urn, "msg": sprintf("%s sets no spec.retention or spec.retentionSize, so the operator keeps its metrics for 24h only", [obs_text(p)])}
}

cs_obs_003 contains f if {
	some es in obs_kind("elasticsearch.k8s.elastic.co/Elasticsearch")
	count(obs_fluentd_configs) == 0
	f := {"urn": es.urn, "msg": sprintf("%s stores the logs, and no ConfigMap labelled app.kubernetes.io/name: fluentd has an ilm-policy.json, so no lifecycle policy deletes its indices and they fill its volumes", [obs_text(es)])}
}

cs_obs_003 contains f if {
	count(obs_kind("elasticsearch.k8s.elastic.co/Elasticsearch")) > 0
	some cm in obs_fluentd_configs
	msg := obs_ilm_problem(cm.inputs.data["ilm-policy.json"])
	f := {"urn": cm.urn, "msg": sprintf("%s ilm-policy.json %s", [obs_text(cm), msg])}
}

obs_retention_set(spec) if {
	some k in ["retention", "retentionSize"]
	is_string(spec[k])
	spec[k] != ""
}
