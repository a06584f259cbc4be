# Helpers every rule shares. The engine hands rules
#   input.env        "dev" | "staging" | "prod"
#   input.resources  [{type, name, urn, parent, inputs}]
#   input.by_type    {type token: [resource]}
#   input.kinds      {"<group>/<Kind>": [resource]} for Kubernetes objects
#                    (group "core" for the core API), whatever their version
#   input.by_ns      {"<group>/<Kind>": {namespace: [resource]}}
#   input.by_selector {"<group>/<Kind>": {namespace: {"key=value" or "*": [resource]}}}
#                    for NetworkPolicies and PodDisruptionBudgets, by their
#                    selector's matchLabels ("*" when it has none)
#   input.by_target  {"<namespace>/<Kind>/<name>": [autoscaler]} by what each
#                    HorizontalPodAutoscaler or KEDA ScaledObject scales
# and each Kubernetes resource has "kind": "<group>/<Kind>". Each object that
# carries a pod template has "pod": {spec, labels, containers}; one whose
# controlling owner is in the same input has "owned_by" ("<Kind>/<name>");
# a replicated workload has "replicas", its replica floor (below).
package cloudscale.lib

import rego.v1

# Every workload object, whatever its kind: the engine gives each one
# r.pod = {spec, labels, containers} (init and ephemeral containers
# included). An object whose controlling owner is in the input (a
# ReplicaSet of a Deployment, a Job of a CronJob, their Pods) is judged
# through that owner, not again on its own.
workloads contains r if {
	some k in workload_kinds
	some r in input.kinds[k]
	not r.owned_by
}

# workload_kinds carry a pod template (policies.workloadKinds in Go).
workload_kinds := {
	"apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "batch/Job", "batch/CronJob",
	"core/Pod", "core/ReplicationController", "core/PodTemplate",
}

# replicated_workloads are the workloads that keep a replica count (the HA
# rules judge them), whatever their kind.
replicated_workloads contains r if {
	some k in scalable_kinds
	some r in input.kinds[k]
	not r.owned_by
}

kind_of(r) := r.kind

# kind_name: an object's Kind ("Deployment"): inputs.kind, or the Kind of
# its "<group>/<Kind>" key when the inputs leave it out.
kind_name(r) := k if {
	k := r.inputs.kind
	is_string(k)
} else := k if {
	parts := split(r.kind, "/")
	k := parts[count(parts) - 1]
}

pod_spec(r) := r.pod.spec

pod_labels(r) := r.pod.labels

containers(r) := r.pod.containers

namespace(r) := object.get(r.inputs, ["metadata", "namespace"], "default")

name(r) := object.get(r.inputs, ["metadata", "name"], r.name)

# replicas is a workload's replica floor: the lowest count it runs at. The
# engine computes it (policies.replicaFloors): the smallest floor of the
# autoscalers that scale it (an HPA's minReplicas, default 1; a KEDA
# ScaledObject's minReplicaCount, default 0), or else spec.replicas, which
# Kubernetes defaults to 1. Without the engine (conftest), spec.replicas.
replicas(r) := r.replicas

replicas(r) := object.get(r.inputs, ["spec", "replicas"], 1) if not r.replicas

# Long-running workloads that keep a replica count (Jobs and Pods do not).
scalable_kinds := {"apps/Deployment", "apps/StatefulSet", "apps/ReplicaSet", "core/ReplicationController"}

# selects(selector, labels): a label selector (matchLabels and
# matchExpressions) selects a label set. An empty selector selects all.
selects(sel, labels) if {
	object.subset(labels, object.get(sel, "matchLabels", {}))
	count(object.get(sel, "matchExpressions", [])) == 0
}

selects(sel, labels) if {
	object.subset(labels, object.get(sel, "matchLabels", {}))
	count(sel.matchExpressions) > 0
	every e in sel.matchExpressions {
		expression_holds(e, labels)
	}
}

# selects_all: an empty selector ({}, matchLabels {}, no expressions)
# selects every pod of its namespace.
selects_all(sel) if {
	count(object.get(sel, "matchLabels", {})) == 0
	count(object.get(sel, "matchExpressions", [])) == 0
}

expression_holds(e, labels) if {
	e.operator == "In"
	labels[e.key] in e.values
}

expression_holds(e, labels) if {
	e.operator == "NotIn"
	not labels[e.key] in e.values
}

expression_holds(e, labels) if {
	e.operator == "Exists"
	labels[e.key]
}

expression_holds(e, labels) if {
	e.operator == "DoesNotExist"
	not labels[e.key]
}

open_cidrs := {"0.0.0.0/0", "::/0", "*", "Internet", "Any", "any"}

# ISO 8601 durations as Key Vault writes them: P90D, P3M, P1Y.
iso_days(d) := to_number(trim_suffix(trim_prefix(d, "P"), "D")) if endswith(d, "D")

iso_days(d) := to_number(trim_suffix(trim_prefix(d, "P"), "M")) * 30 if endswith(d, "M")

iso_days(d) := to_number(trim_suffix(trim_prefix(d, "P"), "Y")) * 365 if endswith(d, "Y")

# Image references, read the way the container runtime reads them
# (github.com/distribution/reference's ParseNormalizedNamed, which
# TestImageRefMatchesDistributionReference checks these against): the first
# path component is a registry only when it has a "." or a ":" or is
# "localhost"; otherwise the image is on Docker Hub, spelled docker.io
# (index.docker.io is the same registry), and a one-component Docker Hub
# name lives under library/. So redis, docker.io/redis,
# index.docker.io/library/redis and docker.io/library/redis are one image.

# image_name is the image without its tag and digest.
image_name(img) := name if {
	base := split(img, "@")[0]
	parts := split(base, "/")
	last := parts[count(parts) - 1]
	name := concat("/", array.concat(array.slice(parts, 0, count(parts) - 1), [split(last, ":")[0]]))
}

# image_ref is the fully qualified name: registry/repository
# (docker.io/library/redis).
image_ref(img) := concat("/", [reg, library(reg, rest)]) if {
	[reg, rest] := registry_and_path(split(image_name(img), "/"))
}

registry_and_path(parts) := [registry_name(parts[0]), array.slice(parts, 1, count(parts))] if {
	count(parts) > 1
	regex.match(`[.:]|^localhost$`, parts[0])
} else := ["docker.io", parts]

registry_name(r) := "docker.io" if r == "index.docker.io"

registry_name(r) := r if r != "index.docker.io"

library(reg, rest) := concat("/", array.concat(["library"], rest)) if {
	reg == "docker.io"
	count(rest) == 1
} else := concat("/", rest)

# image_registry is the registry an image is pulled from.
image_registry(img) := split(image_ref(img), "/")[0]

# image_tag: "digest" when the reference carries one (a digest pins the
# image whatever tag precedes it), else the tag, "" when there is none.
image_tag(img) := "digest" if contains(img, "@")

image_tag(img) := tag if {
	not contains(img, "@")
	parts := split(img, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}

image_tag(img) := "" if {
	not contains(img, "@")
	parts := split(img, "/")
	not contains(parts[count(parts) - 1], ":")
}

# allowed_image: the image's fully qualified name sits under one of the
# allowed prefixes (a registry, or a registry and a path: docker.io/library),
# each read with the same normalisation (index.docker.io is docker.io).
# prefixes are allowed_prefixes(...) of the settings, computed once.
allowed_image(img, prefixes) if {
	# Fast path: the name as written starts with a normalised prefix (whose
	# first component is a registry), so its normalised form does too.
	some p in prefixes
	startswith(img, p)
} else if {
	ref := concat("", [image_ref(img), "/"])
	some p in prefixes
	startswith(ref, p)
}

# allowed_prefixes: each allowed registry prefix normalised, with a
# trailing "/" so that ghcr.io/acme does not admit ghcr.io/acme-evil.
allowed_prefixes(allowed) := {concat("", [allowed_prefix(a), "/"]) | some a in allowed}

allowed_prefix(a) := concat("/", array.concat([registry_name(parts[0])], array.slice(parts, 1, count(parts)))) if {
	parts := split(trim_suffix(a, "/"), "/")
}

# selecting(kind, ns, labels): the objects of kind in ns whose pod selector
# selects labels, looked up through input.by_selector.
selecting(kind, ns, labels) := {p |
	slots := object.get(input.by_selector, [kind, ns], {})
	some key in array.concat(["*"], [sprintf("%s=%s", [k, v]) | some k, v in labels])
	some p in object.get(slots, key, [])
	selects(object.get(p.inputs.spec, selector_field[kind], {}), labels)
}

selector_field := {"networking.k8s.io/NetworkPolicy": "podSelector", "policy/PodDisruptionBudget": "selector"}

# Redis, and Valkey (its BSD-licensed fork), read from the pods that run
# them. A container whose image's repository basename is redis or valkey
# (docker.io/valkey/valkey:8.1.4, redis:7.2, bitnami/redis) runs Redis; one
# named "sentinel", or whose command or args mention sentinel, or whose
# image is a -sentinel one, is its Sentinel; the others are servers. The
# pod's containers count, not its init containers.
redis_images := {"redis", "valkey", "redis-sentinel", "valkey-sentinel"}

image_basename(img) := parts[count(parts) - 1] if parts := split(image_name(img), "/")

redis_container(c) if {
	is_string(c.image)
	some n in ["redis", "valkey"]
	contains(c.image, n)
	image_basename(c.image) in redis_images
}

redis_sentinel(c) if c.name == "sentinel"

redis_sentinel(c) if {
	some w in command_line(c)
	contains(lower(w), "sentinel")
}

redis_sentinel(c) if endswith(image_basename(c.image), "-sentinel")

redis_servers(r) := [c |
	some c in object.get(pod_spec(r), "containers", [])
	redis_container(c)
	not redis_sentinel(c)
]

redis_sentinels(r) := [c |
	some c in object.get(pod_spec(r), "containers", [])
	redis_container(c)
	redis_sentinel(c)
]

# redis_workloads are the replicated workloads (Deployments, StatefulSets)
# that run a Redis server.
redis_workloads contains r if {
	some r in replicated_workloads
	count(redis_servers(r)) > 0
}

# command_line: a container's command and args as words; a shell string
# ("redis-server --port 0") splits into its words.
command_line(c) := [w |
	some a in array.concat(object.get(c, "command", []), object.get(c, "args", []))
	some w in regex.split(`\s+`, trim_space(sprintf("%v", [a])))
	w != ""
]

# flag_value(words, name): the word after the last occurrence of name (a
# later flag overrides an earlier one, as redis-server reads them).
flag_value(words, name) := words[max(at) + 1] if {
	at := [i | some i, w in words; w == name]
	count(at) > 0
}

# env_named(c, name): the container's env entry called name (the last
# one, which the kubelet uses, when it repeats).
env_named(c, name) := es[count(es) - 1] if {
	es := [e | some e in object.get(c, "env", []); e.name == name]
	count(es) > 0
}

# RabbitMQ messaging topology (rabbitmq.com/v1beta1 Queue, Exchange,
# Binding, Policy), read the way the messaging-topology-operator and
# RabbitMQ read them.

# rabbit_cluster: the RabbitmqCluster an object is declared in,
# "<namespace>/<name>": rabbitmqClusterReference.namespace defaults to the
# object's own namespace; a reference through a connection Secret names
# the Secret instead.
rabbit_cluster(r) := concat("/", [ns, name]) if {
	ref := object.get(r.inputs, ["spec", "rabbitmqClusterReference"], {})
	ns := non_empty(object.get(ref, "namespace", ""), namespace(r))
	name := non_empty(object.get(ref, "name", ""), concat("", ["secret:", object.get(ref, ["connectionSecret", "name"], "")]))
}

# rabbit_vhost: the object's vhost; the CRDs default it to "/".
rabbit_vhost(r) := non_empty(object.get(r.inputs, ["spec", "vhost"], "/"), "/")

non_empty(v, _) := v if v != ""

non_empty("", d) := d

# rabbit_args: a queue's (or binding's) arguments object.
rabbit_args(r) := a if {
	a := object.get(r.inputs, ["spec", "arguments"], {})
	is_object(a)
} else := {}

# rabbit_queue_type: the type RabbitMQ declares a Queue with. spec.type,
# when set, is sent as x-queue-type and wins over the argument; "" when
# neither is set (the vhost's default queue type applies).
rabbit_queue_type(r) := lower(t) if {
	t := object.get(r.inputs, ["spec", "type"], "")
	t != ""
} else := lower(t) if {
	t := sprintf("%v", [rabbit_args(r)["x-queue-type"]])
} else := ""

# Percona Server for MongoDB (psmdb.percona.com/v1 PerconaServerMongoDB,
# operator 1.22), read the way the operator builds it.

psmdb_sharded(spec) if spec.sharding.enabled == true

# psmdb_sets: the mongod replica sets the operator builds, each as
# {"what": how messages name it, "set": its spec, "arbiter": whether an
# arbiter may vote in it}: every spec.replsets entry (named rs<index> when
# it has no name), and, when sharding is enabled, the config server set
# (always named cfg; the operator turns its arbiter off).
psmdb_sets(spec) := array.concat(
	[{"what": sprintf("replica set %v", [object.get(rs, "name", sprintf("rs%d", [i]))]), "set": rs, "arbiter": true} |
		some i, rs in object.get(spec, "replsets", [])
	],
	psmdb_config_set(spec),
)

psmdb_config_set(spec) := [{"what": "config server replica set cfg", "set": spec.sharding.configsvrReplSet, "arbiter": false}] if {
	psmdb_sharded(spec)
	is_object(spec.sharding.configsvrReplSet)
} else := []

# psmdb_members: every group of mongod pods the operator configures on its
# own: the sets above, and their enabled non-voting and hidden members,
# each with its own configuration and volumeSpec (without one they take
# the set's, which is judged on the set).
psmdb_members(spec) := array.concat(
	[{"what": s.what, "member": s.set} | some s in psmdb_sets(spec)],
	[{"what": sprintf("%s %s members", [s.what, kind]), "member": m} |
		some s in psmdb_sets(spec)
		some kind in ["nonvoting", "hidden"]
		m := object.get(s.set, kind, {})
		m.enabled == true
	],
)

# rabbit_pod_labels: the labels of a RabbitmqCluster's pods: the cluster
# object's, the operator's own (which win over those), and the override
# template's (copied over all of them).
rabbit_pod_labels(r) := object.union_n([
	object.get(r.inputs, ["metadata", "labels"], {}),
	{"app.kubernetes.io/name": name(r), "app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/part-of": "rabbitmq"},
	object.get(r.inputs, ["spec", "override", "statefulSet", "spec", "template", "metadata", "labels"], {}),
])

# The monitoring tier (issue 16). The pods the operators run for their
# objects carry labels the operators set; monitors (PodMonitor,
# ServiceMonitor) and spread constraints select those pods by them.

# prometheus_pod_labels: a Prometheus's pods (prometheus-operator,
# pkg/prometheus/server/statefulset.go): spec.podMetadata's labels under
# the operator's own (app.kubernetes.io/version, which depends on the
# operator's default version, is left out; the shard label is shard 0's).
prometheus_pod_labels(r) := object.union(object.get(r.inputs, ["spec", "podMetadata", "labels"], {}), {
	"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "prometheus-operator",
	"app.kubernetes.io/instance": name(r), "prometheus": name(r),
	"operator.prometheus.io/name": name(r), "operator.prometheus.io/shard": "0",
})

# alertmanager_pod_labels: an Alertmanager's pods (pkg/alertmanager
# makeSelectorLabels under spec.podMetadata's labels).
alertmanager_pod_labels(r) := object.union(object.get(r.inputs, ["spec", "podMetadata", "labels"], {}), {
	"app.kubernetes.io/name": "alertmanager", "app.kubernetes.io/managed-by": "prometheus-operator",
	"app.kubernetes.io/instance": name(r), "alertmanager": name(r),
})

# es_nodeset_labels: the pods of one nodeSet of an ECK Elasticsearch: the
# operator's labels (label.NewPodLabels: the cluster's name, the
# StatefulSet <cluster>-es-<nodeSet>, the type) under the podTemplate's
# own (which win, as ECK's PodTemplateBuilder merges them).
es_nodeset_labels(r, set) := object.union(
	{
		"elasticsearch.k8s.elastic.co/cluster-name": name(r),
		"elasticsearch.k8s.elastic.co/statefulset-name": concat("-", [name(r), "es", object.get(set, "name", "")]),
		"common.k8s.elastic.co/type": "elasticsearch",
	},
	object.get(set, ["podTemplate", "metadata", "labels"], {}),
)

# operator_pods(r): the groups of pods an operator runs for r, each as
# {"what": how messages name the group ("" for the whole object),
# "labels": the labels every pod of the group carries}; undefined for
# kinds no operator of the platform runs pods for.
operator_pods(r) := [{"what": "", "labels": object.union(
	object.get(r.inputs, ["spec", "inheritedMetadata", "labels"], {}),
	{"cnpg.io/cluster": name(r), "cnpg.io/podRole": "instance"},
)}] if r.kind == "postgresql.cnpg.io/Cluster"

operator_pods(r) := [{"what": "", "labels": object.union(
	object.get(r.inputs, ["spec", "template", "metadata", "labels"], {}),
	{"cnpg.io/poolerName": name(r), "cnpg.io/cluster": object.get(r.inputs, ["spec", "cluster", "name"], ""), "cnpg.io/podRole": "pooler"},
)}] if r.kind == "postgresql.cnpg.io/Pooler"

operator_pods(r) := [{"what": "", "labels": rabbit_pod_labels(r)}] if r.kind == "rabbitmq.com/RabbitmqCluster"

# Percona's pods (pkg/naming/labels.go): the cluster's labels, with the
# replica set and component of each StatefulSet (mongod, cfg, mongos).
operator_pods(r) := array.concat(
	[{"what": sprintf("replica set %v", [object.get(rs, "name", sprintf("rs%d", [i]))]), "labels": object.union(object.get(rs, "labels", {}), object.union(psmdb_labels(r), {
		"app.kubernetes.io/replset": object.get(rs, "name", sprintf("rs%d", [i])), "app.kubernetes.io/component": "mongod",
	}))} |
		some i, rs in object.get(r.inputs, ["spec", "replsets"], [])
	],
	psmdb_sharded_pods(r),
) if r.kind == "psmdb.percona.com/PerconaServerMongoDB"

operator_pods(r) := [{"what": "", "labels": prometheus_pod_labels(r)}] if r.kind == "monitoring.coreos.com/Prometheus"

operator_pods(r) := [{"what": "", "labels": alertmanager_pod_labels(r)}] if r.kind == "monitoring.coreos.com/Alertmanager"

operator_pods(r) := [{"what": sprintf("nodeSet %v", [object.get(set, "name", i)]), "labels": es_nodeset_labels(r, set)} |
	some i, set in object.get(r.inputs, ["spec", "nodeSets"], [])
	object.get(set, "count", 0) > 0
] if r.kind == "elasticsearch.k8s.elastic.co/Elasticsearch"

# An OpenTelemetryCollector in sidecar mode runs no pods of its own.
operator_pods(r) := [{"what": "", "labels": {
	"app.kubernetes.io/name": concat("", [name(r), "-collector"]), "app.kubernetes.io/instance": concat(".", [namespace(r), name(r)]),
	"app.kubernetes.io/managed-by": "opentelemetry-operator", "app.kubernetes.io/component": "opentelemetry-collector",
	"app.kubernetes.io/part-of": "opentelemetry",
}}] if {
	r.kind == "opentelemetry.io/OpenTelemetryCollector"
	object.get(r.inputs, ["spec", "mode"], "deployment") != "sidecar"
} else := [] if r.kind == "opentelemetry.io/OpenTelemetryCollector"

operator_kinds := {
	"postgresql.cnpg.io/Cluster", "postgresql.cnpg.io/Pooler", "rabbitmq.com/RabbitmqCluster",
	"psmdb.percona.com/PerconaServerMongoDB", "monitoring.coreos.com/Prometheus", "monitoring.coreos.com/Alertmanager",
	"elasticsearch.k8s.elastic.co/Elasticsearch", "opentelemetry.io/OpenTelemetryCollector",
}

# Kibana is not among them: it serves no Prometheus metrics (no exporter
# is maintained for it); its pods' readiness reaches Prometheus through
# kube-state-metrics like every pod's.

psmdb_labels(r) := {
	"app.kubernetes.io/name": "percona-server-mongodb", "app.kubernetes.io/managed-by": "percona-server-mongodb-operator",
	"app.kubernetes.io/part-of": "percona-server-mongodb", "app.kubernetes.io/instance": name(r),
}

psmdb_sharded_pods(r) := [
	{"what": "config server replica set cfg", "labels": object.union(psmdb_labels(r), {"app.kubernetes.io/replset": "cfg", "app.kubernetes.io/component": "cfg"})},
	{"what": "mongos", "labels": object.union(psmdb_labels(r), {"app.kubernetes.io/component": "mongos"})},
] if {
	psmdb_sharded(object.get(r.inputs, "spec", {}))
} else := []
