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
#   input.by_target  {"<namespace>/<Kind>/<name>": [HorizontalPodAutoscaler]}
#                    by what each autoscaler scales
# and each Kubernetes resource has "kind": "<group>/<Kind>"; each workload
# has "pod": {spec, labels, containers}.
package cloudscale.lib

import rego.v1

# Every workload object, whatever its kind: the engine gives each one
# r.pod = {spec, labels, containers} (init containers included).
workloads contains r if {
	some k in workload_kinds
	some r in input.kinds[k]
}

workload_kinds := {"apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "batch/Job", "batch/CronJob", "core/Pod"}

kind_of(r) := r.kind

pod_spec(r) := r.pod.spec

pod_labels(r) := r.pod.labels

containers(r) := r.pod.containers

namespace(r) := object.get(r.inputs, ["metadata", "namespace"], "default")

name(r) := object.get(r.inputs, ["metadata", "name"], r.name)

# replicas of a workload; Kubernetes defaults a missing count to 1.
replicas(r) := object.get(r.inputs, ["spec", "replicas"], 1)

# Long-running workloads that serve traffic (Jobs and Pods are not scaled).
scalable_kinds := {"apps/Deployment", "apps/StatefulSet", "apps/ReplicaSet"}

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

# An image is pinned when it carries a digest or a tag other than latest.
image_last(img) := parts[count(parts) - 1] if parts := split(img, "/")

image_tag(img) := "digest" if contains(img, "@sha256:")

image_tag(img) := "" if {
	not contains(img, "@")
	not contains(image_last(img), ":")
}

image_tag(img) := split(image_last(img), ":")[1] if {
	not contains(img, "@")
	contains(image_last(img), ":")
}

# The registry an image is pulled from; Docker Hub when none is named.
image_registry(img) := reg if {
	parts := split(img, "/")
	count(parts) > 1
	first := parts[0]
	regex.match(`[.:]|^localhost$`, first)
	reg := first
}

image_registry(img) := "docker.io" if {
	parts := split(img, "/")
	not regex.match(`[.:]|^localhost$`, parts[0])
}

image_registry(img) := "docker.io" if {
	count(split(img, "/")) == 1
}

# image_ref is the image with its registry spelled out (docker.io/library/
# for Docker Hub's short names), so allowed prefixes compare exactly.
image_ref(img) := img if image_registry(img) != "docker.io"

image_ref(img) := img if {
	image_registry(img) == "docker.io"
	startswith(img, "docker.io/")
}

image_ref(img) := concat("", ["docker.io/", img]) if {
	image_registry(img) == "docker.io"
	not startswith(img, "docker.io/")
	contains(img, "/")
}

image_ref(img) := concat("", ["docker.io/library/", img]) if {
	image_registry(img) == "docker.io"
	not contains(img, "/")
}

# allowed_image: the image sits under one of the allowed registry prefixes.
allowed_image(img, allowed) if {
	some a in allowed
	startswith(image_ref(img), concat("", [trim_suffix(a, "/"), "/"]))
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
