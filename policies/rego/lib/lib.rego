# Helpers every rule shares. The engine hands rules
#   input.env        "dev" | "staging" | "prod"
#   input.resources  [{type, name, urn, parent, inputs}]
#   input.by_type    {type token: [resource]}
#   input.kinds      {"<group>/<Kind>": [resource]} for Kubernetes objects
#                    (group "core" for the core API), whatever their version
package cloudscale.lib

import rego.v1

workload_kinds := {"apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "batch/Job", "batch/CronJob", "core/Pod"}

# Every workload object, whatever its kind.
workloads contains r if {
	some k in workload_kinds
	some r in input.kinds[k]
}

kind_of(r) := k if {
	parts := split(r.type, ":")
	gv := split(parts[1], "/")
	k := sprintf("%s/%s", [gv[0], parts[2]])
}

# pod_spec is where a workload's pod template keeps its spec.
pod_spec(r) := r.inputs.spec if kind_of(r) == "core/Pod"

pod_spec(r) := r.inputs.spec.jobTemplate.spec.template.spec if kind_of(r) == "batch/CronJob"

pod_spec(r) := r.inputs.spec.template.spec if not kind_of(r) in {"core/Pod", "batch/CronJob"}

pod_labels(r) := object.get(r.inputs, ["metadata", "labels"], {}) if kind_of(r) == "core/Pod"

pod_labels(r) := object.get(r.inputs, ["spec", "jobTemplate", "spec", "template", "metadata", "labels"], {}) if kind_of(r) == "batch/CronJob"

pod_labels(r) := object.get(r.inputs, ["spec", "template", "metadata", "labels"], {}) if not kind_of(r) in {"core/Pod", "batch/CronJob"}

# containers of a workload, init containers included.
containers(r) := array.concat(object.get(pod_spec(r), "containers", []), object.get(pod_spec(r), "initContainers", []))

namespace(r) := object.get(r.inputs, ["metadata", "namespace"], "default")

name(r) := object.get(r.inputs, ["metadata", "name"], r.name)

# replicas of a workload; Kubernetes defaults a missing count to 1.
replicas(r) := object.get(r.inputs, ["spec", "replicas"], 1)

# Long-running workloads that serve traffic (Jobs and Pods are not scaled).
scalable_kinds := {"apps/Deployment", "apps/StatefulSet", "apps/ReplicaSet"}

# selects(selector, labels): a label selector (matchLabels and
# matchExpressions) selects a label set. An empty selector selects all.
selects(sel, labels) if {
	every k, v in object.get(sel, "matchLabels", {}) {
		labels[k] == v
	}
	every e in object.get(sel, "matchExpressions", []) {
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
image_tag(img) := "" if {
	not contains(img, "@")
	last := regex.split("/", img)[count(regex.split("/", img)) - 1]
	not contains(last, ":")
}

image_tag(img) := tag if {
	not contains(img, "@")
	last := regex.split("/", img)[count(regex.split("/", img)) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}

image_tag(img) := "digest" if contains(img, "@sha256:")

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
