package policies

// ConftestWrapper is a conftest policy (package main) that runs the same
// rules on the one Kubernetes document conftest hands it: it builds the
// input shape the engine builds (kind, pod facts, indexes) for that
// document and turns every finding into a deny message. Rules over several
// objects (the stack rules) therefore see one document at a time there.
const ConftestWrapper = `package main

import rego.v1

import data.cloudscale.rules
import data.cloudscale.stackrules

gv := input.apiVersion if contains(input.apiVersion, "/")

gv := concat("/", ["core", input.apiVersion]) if not contains(input.apiVersion, "/")

kind := concat("/", [split(gv, "/")[0], input.kind])

ns := object.get(input, ["metadata", "namespace"], "default")

paths := {
	"apps/Deployment": ["spec", "template"], "apps/StatefulSet": ["spec", "template"],
	"apps/DaemonSet": ["spec", "template"], "apps/ReplicaSet": ["spec", "template"],
	"batch/Job": ["spec", "template"], "batch/CronJob": ["spec", "jobTemplate", "spec", "template"],
	"core/ReplicationController": ["spec", "template"], "core/PodTemplate": ["template"], "core/Pod": [],
}

tmpl := object.get(input, paths[kind], {})

pod := {
	"spec": object.get(tmpl, "spec", {}),
	"labels": object.get(tmpl, ["metadata", "labels"], {}),
	"containers": array.concat(object.get(tmpl, ["spec", "containers"], []), object.get(tmpl, ["spec", "initContainers"], [])),
}

extra := {"pod": pod} if paths[kind]

extra := {} if not paths[kind]

res := object.union({
	"type": sprintf("kubernetes:%s:%s", [gv, input.kind]), "name": input.metadata.name,
	"urn": input.metadata.name, "kind": kind, "inputs": input,
}, extra)

doc := {
	"env": "prod", "resources": [res], "by_type": {res.type: [res]}, "kinds": {kind: [res]},
	"by_ns": {kind: {ns: [res]}}, "by_selector": {kind: {ns: {"*": [res]}}}, "by_target": {},
}

deny contains msg if {
	some _, pkg in rules with input as doc
	some name, findings in pkg
	startswith(name, "cs_")
	some f in findings
	msg := sprintf("%s: %s", [name, f.msg])
}

deny contains msg if {
	some name, findings in stackrules with input as doc
	startswith(name, "cs_")
	some f in findings
	msg := sprintf("%s: %s", [name, f.msg])
}
`
