package cloudscale.rules.chaos_test

import rego.v1

import data.cloudscale.fixtures as fx
import data.cloudscale.rules.chaos

settings := {"protectedNamespaces": ["kube-system", "chaos-mesh", "vault"]}

meta(kind, name, ns) := {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": ns}}

pod_kill(ns, sel) := object.union(meta("PodChaos", "kill", ns), {"spec": {"action": "pod-kill", "mode": "one", "selector": sel}})

guarded := [
	{"name": "entry", "templateType": "Parallel", "children": ["fault", "check"]},
	{"name": "fault", "templateType": "PodChaos", "deadline": "2m", "podChaos": {"action": "pod-failure", "mode": "all", "selector": {"namespaces": ["shop"]}}},
	{"name": "check", "templateType": "StatusCheck", "deadline": "2m", "abortWithStatusCheck": true, "statusCheck": {"mode": "Continuous", "type": "HTTP"}},
]

test_cs_chaos_001_pass if {
	count(chaos.cs_chaos_001) == 0 with input as fx.kube([
		pod_kill("chaos", {"namespaces": ["shop"], "labelSelectors": {"app": "web"}}),
		pod_kill("shop", {"labelSelectors": {"app": "web"}}),
		# A partition between two application namespaces.
		object.union(meta("NetworkChaos", "shop-web", "shop"), {"spec": {
			"action": "partition", "mode": "all", "direction": "to", "selector": {"namespaces": ["shop"]},
			"target": {"mode": "all", "selector": {"namespaces": ["web"]}},
		}}),
		object.union(meta("Workflow", "wf", "chaos"), {"spec": {"entry": "entry", "templates": guarded}}),
	])
		with data.cloudscale.config as settings
}

test_cs_chaos_001_fail if {
	chaos.cs_chaos_001 == {
		{"urn": "urn:kill", "msg": "PodChaos kube-system/kill selects pods in kube-system (spec)"},
		{"urn": "urn:net", "msg": "NetworkChaos chaos/net selects pods in vault (spec)"},
		{"urn": "urn:sched", "msg": "Schedule chaos/sched selects pods in chaos-mesh (spec.podChaos)"},
		{"urn": "urn:wf", "msg": "Workflow chaos/wf selects pods in kube-system (spec.templates[1].podChaos)"},
	} with input as fx.kube([
		# No namespaces: the experiment's own (Chaos Mesh's default).
		pod_kill("kube-system", {"labelSelectors": {"k8s-app": "kube-dns"}}),
		# The target of a partition counts too, whatever the direction.
		object.union(meta("NetworkChaos", "net", "chaos"), {"spec": {
			"action": "partition", "mode": "all", "direction": "to", "selector": {"namespaces": ["shop"]},
			"target": {"mode": "all", "selector": {"namespaces": ["vault"]}},
		}}),
		# Pods named by namespace.
		object.union(meta("Schedule", "sched", "chaos"), {"spec": {
			"schedule": "@every 1h", "type": "PodChaos",
			"podChaos": {"action": "pod-kill", "mode": "one", "selector": {"pods": {"chaos-mesh": ["controller-0"]}}},
		}}),
		object.union(meta("Workflow", "wf", "chaos"), {"spec": {"entry": "entry", "templates": array.concat(
			[{"name": "entry", "templateType": "Serial", "children": ["fault"]}],
			[{"name": "fault", "templateType": "PodChaos", "podChaos": {"action": "pod-kill", "mode": "one", "selector": {"namespaces": ["kube-system"]}}}],
		)}}),
	])
		with data.cloudscale.config as settings
}

test_cs_chaos_002_pass if {
	count(chaos.cs_chaos_002) == 0 with input as fx.kube([
		object.union(meta("Schedule", "forbid", "chaos"), {"spec": {"schedule": "0 10 * * 1-5", "concurrencyPolicy": "Forbid"}}),
		object.union(meta("Schedule", "default", "chaos"), {"spec": {"schedule": "0 10 * * 1-5"}}),
	])
}

test_cs_chaos_002_fail if {
	chaos.cs_chaos_002 == {
		{"urn": "urn:allow", "msg": "Schedule chaos/allow allows concurrent runs"},
		{"urn": "urn:wf", "msg": "Workflow chaos/wf template kills schedules with concurrent runs allowed"},
	} with input as fx.kube([
		object.union(meta("Schedule", "allow", "chaos"), {"spec": {"schedule": "@every 30s", "concurrencyPolicy": "Allow"}}),
		# A workflow's Schedule template (Chaos Mesh's serial example).
		object.union(meta("Workflow", "wf", "chaos"), {"spec": {"entry": "kills", "templates": [{
			"name": "kills", "templateType": "Schedule", "deadline": "40s",
			"schedule": {"schedule": "@every 2s", "concurrencyPolicy": "Allow", "type": "PodChaos", "podChaos": {"action": "pod-kill", "mode": "one", "selector": {"namespaces": ["shop"]}}},
		}]}}),
	])
}

test_cs_chaos_003_pass if {
	count(chaos.cs_chaos_003) == 0 with input as fx.kube([
		object.union(meta("Workflow", "wf", "chaos"), {"spec": {"entry": "entry", "templates": guarded}}),
		object.union(meta("Schedule", "sched", "chaos"), {"spec": {"schedule": "0 10 * * 1-5", "type": "Workflow", "workflow": {"entry": "entry", "templates": guarded}}}),
		# A workflow without a fault needs no guard.
		object.union(meta("Workflow", "wait", "chaos"), {"spec": {"entry": "entry", "templates": [{"name": "entry", "templateType": "Suspend", "deadline": "1m"}]}}),
	])
}

test_cs_chaos_003_fail if {
	unguarded := [t | some t in guarded; t.templateType != "StatusCheck"]
	observing := array.concat(unguarded, [{"name": "check", "templateType": "StatusCheck", "statusCheck": {"mode": "Continuous", "type": "HTTP"}}])
	chaos.cs_chaos_003 == {
		{"urn": "urn:wf", "msg": "Workflow chaos/wf injects faults with no status check that aborts"},
		{"urn": "urn:sched", "msg": "Schedule chaos/sched injects faults with no status check that aborts"},
		{"urn": "urn:nested", "msg": "Workflow chaos/nested injects faults with no status check that aborts"},
	} with input as fx.kube([
		# A fault in a Schedule template counts.
		object.union(meta("Workflow", "nested", "chaos"), {"spec": {"entry": "kills", "templates": [{
			"name": "kills", "templateType": "Schedule",
			"schedule": {"schedule": "@every 2s", "type": "PodChaos", "podChaos": {"action": "pod-kill", "mode": "one", "selector": {"namespaces": ["shop"]}}},
		}]}}),
		object.union(meta("Workflow", "wf", "chaos"), {"spec": {"entry": "entry", "templates": unguarded}}),
		# A status check that only observes does not stop the fault.
		object.union(meta("Schedule", "sched", "chaos"), {"spec": {"schedule": "0 10 * * 1-5", "type": "Workflow", "workflow": {"entry": "entry", "templates": observing}}}),
	])
}

chaos_mesh(name, values) := fx.res("kubernetes:helm.sh/v3:Release", name, {
	"chart": "chaos-mesh", "version": "2.7.3", "namespace": "chaos",
	"repositoryOpts": {"repo": "https://charts.chaos-mesh.org"}, "values": values,
})

test_cs_chaos_004_pass if {
	count(chaos.cs_chaos_004) == 0 with input as fx.cloud([
		chaos_mesh("confined", {"controllerManager": {"enableFilterNamespace": true}, "dashboard": {"securityMode": true}}),
		# securityMode is on by the chart's default.
		chaos_mesh("default-dashboard", {"controllerManager": {"enableFilterNamespace": true}}),
		# Another chart's values are not read.
		fx.res("kubernetes:helm.sh/v3:Release", "vault", {"chart": "vault", "values": {}}),
	])
}

test_cs_chaos_004_fail if {
	chaos.cs_chaos_004 == {
		{"urn": "urn:unfiltered", "msg": "Chaos Mesh release unfiltered: controllerManager.enableFilterNamespace is unset (the chart's default false), so every namespace can be injected"},
		{"urn": "urn:off", "msg": "Chaos Mesh release off: controllerManager.enableFilterNamespace is false, so every namespace can be injected"},
		{"urn": "urn:open-dashboard", "msg": "Chaos Mesh release open-dashboard: dashboard.securityMode is false, so the dashboard acts without the user's token"},
	} with input as fx.cloud([
		chaos_mesh("unfiltered", {}),
		chaos_mesh("off", {"controllerManager": {"enableFilterNamespace": false}}),
		chaos_mesh("open-dashboard", {"controllerManager": {"enableFilterNamespace": true}, "dashboard": {"securityMode": false}}),
	])
}

namespace(name, annotations) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "annotations": annotations}}

test_cs_chaos_005_pass if {
	count(chaos.cs_chaos_005) == 0 with input as fx.kube([
		namespace("shop", {"chaos-mesh.org/inject": "enabled"}),
		namespace("vault", {}),
		# Explicitly not enabled.
		namespace("kube-system", {"chaos-mesh.org/inject": "disabled"}),
	])
		with data.cloudscale.config as settings
}

test_cs_chaos_005_fail if {
	chaos.cs_chaos_005 == {
		{"urn": "urn:kube-system", "msg": "namespace kube-system is protected but annotated chaos-mesh.org/inject=enabled"},
		{"urn": "urn:vault", "msg": "namespace vault is protected but annotated chaos-mesh.org/inject=enabled"},
	} with input as fx.kube([
		namespace("shop", {"chaos-mesh.org/inject": "enabled"}),
		namespace("kube-system", {"chaos-mesh.org/inject": "enabled"}),
		namespace("vault", {"chaos-mesh.org/inject": "enabled"}),
	])
		with data.cloudscale.config as settings
}
