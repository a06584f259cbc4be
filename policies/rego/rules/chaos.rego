# Resilience rules: the chaos experiments themselves are safe to run. They
# read Chaos Mesh's objects (chaos-mesh.org/v1alpha1): its fault kinds,
# Schedules and Workflows. Mandatory everywhere.
package cloudscale.rules.chaos

import rego.v1

import data.cloudscale.lib

# fault_kinds are Chaos Mesh's kinds that inject a fault into pods.
fault_kinds := {
	"PodChaos", "NetworkChaos", "StressChaos", "IOChaos", "DNSChaos", "TimeChaos",
	"HTTPChaos", "KernelChaos", "JVMChaos", "BlockChaos",
}

# fault_fields are where a Schedule or a Workflow template embeds a fault.
fault_fields := {
	"podChaos", "networkChaos", "stressChaos", "ioChaos", "dnsChaos", "timeChaos",
	"httpChaos", "kernelChaos", "jvmChaos", "blockChaos",
}

chaos_objects contains r if {
	some k, rs in input.kinds
	startswith(k, "chaos-mesh.org/")
	some r in rs
}

# faults: every fault spec of an object, with where it is ("spec",
# "spec.podChaos", "spec.templates[2].podChaos", and a workflow's
# Schedule template's "spec.templates[3].schedule.podChaos").
faults(r) := {"spec": r.inputs.spec} if r.inputs.kind in fault_kinds

faults(r) := object.union(
	{sprintf("spec.%s", [f]): spec |
		some f in fault_fields
		spec := r.inputs.spec[f]
	},
	template_faults(r, "spec.workflow.templates"),
) if r.inputs.kind == "Schedule"

faults(r) := template_faults(r, "spec.templates") if r.inputs.kind == "Workflow"

template_faults(r, path) := object.union(
	{sprintf("%s[%d].%s", [path, i, f]): spec |
		some i, t in workflow_templates(r)
		some f in fault_fields
		spec := t[f]
	},
	{sprintf("%s[%d].schedule.%s", [path, i, f]): spec |
		some i, t in workflow_templates(r)
		some f in fault_fields
		spec := t.schedule[f]
	},
)

# selected_namespaces: the namespaces a pod selector picks from: its
# namespaces, the namespaces its pods map names, or, when it names
# neither, the object's own (Chaos Mesh's webhook default).
selected_namespaces(sel, _) := {ns | some ns in sel.namespaces} if count(object.get(sel, "namespaces", [])) > 0

selected_namespaces(sel, _) := {ns | some ns, _ in sel.pods} if {
	count(object.get(sel, "namespaces", [])) == 0
	count(object.get(sel, "pods", {})) > 0
}

selected_namespaces(sel, own) := {own} if {
	count(object.get(sel, "namespaces", [])) == 0
	count(object.get(sel, "pods", {})) == 0
}

protected := {ns | some ns in data.cloudscale.config.protectedNamespaces}

# selectors: the pod selectors a fault injects into: its own, and a
# NetworkChaos target's (a partition sets rules on the target's pods too,
# whatever the direction).
selectors(spec) := [object.get(spec, "selector", {})] if not spec.target.selector

selectors(spec) := [object.get(spec, "selector", {}), spec.target.selector] if spec.target.selector

# METADATA
# title: Chaos experiments stay out of system and operator namespaces
# description: A fault in kube-system, the chaos controller's namespace or an operator's namespace can take down what every workload depends on, or the means to stop the experiment; experiments select only application namespaces (an empty selector means the experiment's own namespace; a NetworkChaos target counts too, since a partition changes the target's pods whatever the direction).
# custom:
#   id: CS-CHAOS-001
#   severity: critical
#   category: resilience
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "Select application namespaces only (selector.namespaces), and run the controller with enableFilterNamespace so only annotated namespaces can be injected."
cs_chaos_001 contains f if {
	some r in chaos_objects
	some where, spec in faults(r)
	some sel in selectors(spec)
	hit := selected_namespaces(sel, lib.namespace(r)) & protected
	count(hit) > 0
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s selects pods in %s (%s)", [r.inputs.kind, lib.namespace(r), lib.name(r), concat(", ", sort(hit)), where])}
}

# METADATA
# title: Chaos Schedules forbid concurrent runs
# description: A Schedule that allows a new run while the last one is still injecting stacks faults on top of each other, beyond any blast radius the experiment declared.
# custom:
#   id: CS-CHAOS-002
#   severity: high
#   category: resilience
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "Set spec.concurrencyPolicy: Forbid (Chaos Mesh's default when the field is left out)."
cs_chaos_002 contains f if {
	some r in input.kinds["chaos-mesh.org/Schedule"]
	r.inputs.spec.concurrencyPolicy == "Allow"
	f := {"urn": r.urn, "msg": sprintf("Schedule %s/%s allows concurrent runs", [lib.namespace(r), lib.name(r)])}
}

cs_chaos_002 contains f if {
	some r in chaos_objects
	some t in workflow_templates(r)
	t.templateType == "Schedule"
	t.schedule.concurrencyPolicy == "Allow"
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s template %s schedules with concurrent runs allowed", [r.inputs.kind, lib.namespace(r), lib.name(r), t.name])}
}

# METADATA
# title: Chaos Workflows with a fault abort on a failed status check
# description: A Workflow that injects a fault keeps injecting it while the service it hurts is down unless a StatusCheck with abortWithStatusCheck stops it; the check is the experiment's guard rail.
# custom:
#   id: CS-CHAOS-003
#   severity: high
#   category: resilience
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "Run the fault in a Parallel node beside a StatusCheck template (mode: Continuous) with abortWithStatusCheck: true."
cs_chaos_003 contains f if {
	some r in chaos_objects
	r.inputs.kind in {"Workflow", "Schedule"}
	count(template_faults(r, "")) > 0
	not aborts(workflow_templates(r))
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s injects faults with no status check that aborts", [r.inputs.kind, lib.namespace(r), lib.name(r)])}
}

workflow_templates(r) := object.get(r.inputs.spec, "templates", []) if r.inputs.kind == "Workflow"

workflow_templates(r) := object.get(r.inputs.spec, ["workflow", "templates"], []) if r.inputs.kind == "Schedule"

workflow_templates(r) := [] if not r.inputs.kind in {"Workflow", "Schedule"}

aborts(templates) if {
	some t in templates
	t.templateType == "StatusCheck"
	t.abortWithStatusCheck == true
}

# METADATA
# title: Chaos Mesh is confined and its dashboard secured
# description: "A Chaos Mesh release whose controller does not filter namespaces can inject into any namespace, the operators' and kube-system included, whatever an experiment's author intended; a dashboard without security mode lets anyone who reaches it create experiments with the controller's cluster-wide rights."
# custom:
#   id: CS-CHAOS-004
#   severity: critical
#   category: resilience
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "Set the chaos-mesh chart's controllerManager.enableFilterNamespace: true (and annotate only application namespaces chaos-mesh.org/inject=enabled) and leave dashboard.securityMode true."
cs_chaos_004 contains f if {
	some r in chaos_mesh_releases
	not object.get(r.inputs, ["values", "controllerManager", "enableFilterNamespace"], false) == true
	f := {"urn": r.urn, "msg": sprintf("Chaos Mesh release %s: controllerManager.enableFilterNamespace is %v, so every namespace can be injected", [r.name, object.get(r.inputs, ["values", "controllerManager", "enableFilterNamespace"], "unset (the chart's default false)")])}
}

cs_chaos_004 contains f if {
	some r in chaos_mesh_releases
	object.get(r.inputs, ["values", "dashboard", "securityMode"], true) == false
	f := {"urn": r.urn, "msg": sprintf("Chaos Mesh release %s: dashboard.securityMode is false, so the dashboard acts without the user's token", [r.name])}
}

chaos_mesh_releases contains r if {
	some r in input.by_type["kubernetes:helm.sh/v3:Release"]
	r.inputs.chart == "chaos-mesh"
}

# METADATA
# title: Only application namespaces accept chaos injection
# description: "With enableFilterNamespace, Chaos Mesh injects into a namespace only when it is annotated chaos-mesh.org/inject=enabled; the annotation on kube-system, the chaos controller's or an operator's namespace reopens what the filter closes, for every experiment at once."
# custom:
#   id: CS-CHAOS-005
#   severity: critical
#   category: resilience
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "Remove the chaos-mesh.org/inject annotation from the namespace (protectedNamespaces in the settings lists the namespaces chaos may not touch); annotate application namespaces only."
cs_chaos_005 contains f if {
	some r in input.kinds["core/Namespace"]
	ns := lib.name(r)
	ns in protected
	object.get(r.inputs, ["metadata", "annotations", "chaos-mesh.org/inject"], "") == "enabled"
	f := {"urn": r.urn, "msg": sprintf("namespace %s is protected but annotated chaos-mesh.org/inject=enabled", [ns])}
}
