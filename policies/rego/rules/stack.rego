# Rules over the whole resource set: a resource is compliant only together
# with another (a bucket with its encryption, a workload with its policy).
# The engine evaluates this package once per stack, not per chunk.
package cloudscale.stackrules

import rego.v1

import data.cloudscale.lib

# METADATA
# title: Every S3 bucket and storage account is encrypted with a platform key and versioned
# description: S3 and Azure keep encryption and versioning in separate resources; each bucket must have both.
# custom:
#   id: CS-ENC-011
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "Add aws.s3.BucketServerSideEncryptionConfigurationV2 (aws:kms with a key) and BucketVersioningV2 (Enabled) for the bucket; for Azure, BlobServiceProperties with isVersioningEnabled."
cs_enc_011 contains f if {
	some b in input.by_type["aws:s3/bucketV2:BucketV2"]
	not s3_sse(b.inputs.bucket)
	f := {"urn": b.urn, "msg": sprintf("bucket %s has no SSE-KMS configuration", [b.inputs.bucket])}
}

cs_enc_011 contains f if {
	some b in input.by_type["aws:s3/bucketV2:BucketV2"]
	not s3_versioned(b.inputs.bucket)
	f := {"urn": b.urn, "msg": sprintf("bucket %s is not versioned", [b.inputs.bucket])}
}

s3_sse(bucket) if {
	some c in input.by_type["aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"]
	c.inputs.bucket == bucket
	some rule in c.inputs.rules
	rule.applyServerSideEncryptionByDefault.sseAlgorithm in {"aws:kms", "aws:kms:dsse"}
}

s3_versioned(bucket) if {
	some v in input.by_type["aws:s3/bucketVersioningV2:BucketVersioningV2"]
	v.inputs.bucket == bucket
	v.inputs.versioningConfiguration.status == "Enabled"
}

cs_enc_011 contains f if {
	some a in input.by_type["azure-native:storage:StorageAccount"]
	not azure_versioned(a.inputs.accountName)
	f := {"urn": a.urn, "msg": sprintf("storage account %s has no blob versioning", [a.inputs.accountName])}
}

azure_versioned(account) if {
	some p in input.by_type["azure-native:storage:BlobServiceProperties"]
	p.inputs.accountName == account
	p.inputs.isVersioningEnabled == true
}

istio_in_use if {
	some k, rs in input.kinds
	startswith(k, "networking.istio.io/")
	count(rs) > 0
}

# METADATA
# title: Mesh-wide mTLS is STRICT
# description: Where the Istio mesh runs, a PeerAuthentication in the mesh's root namespace (settings meshRootNamespace, Istio's default istio-system) that selects no workload must set STRICT; left unset, the mesh runs Istio's default, PERMISSIVE.
# custom:
#   id: CS-ENC-012
#   severity: critical
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Add PeerAuthentication "default" in istio-system with spec.mtls.mode STRICT and no selector.
cs_enc_012 contains f if {
	istio_in_use
	not mesh_wide_strict
	f := {"urn": "", "msg": sprintf("the mesh has no mesh-wide STRICT PeerAuthentication in %s", [mesh_root])}
}

default mesh_root := "istio-system"

mesh_root := data.cloudscale.config.meshRootNamespace

mesh_wide_strict if {
	some p in object.get(input.by_ns, ["security.istio.io/PeerAuthentication", mesh_root], [])
	lib.selects_all(object.get(p.inputs.spec, "selector", {}))
	p.inputs.spec.mtls.mode == "STRICT"
}

# METADATA
# title: EKS enforces network policy
# description: The VPC CNI enforces NetworkPolicies only with enableNetworkPolicy set.
# custom:
#   id: CS-NET-103
#   severity: high
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Add the vpc-cni EKS add-on with configurationValues {"enableNetworkPolicy":"true"}.
cs_net_103 contains f if {
	some c in input.by_type["aws:eks/cluster:Cluster"]
	not vpc_cni_policy
	f := {"urn": c.urn, "msg": sprintf("EKS cluster %s has no vpc-cni add-on enforcing network policy", [c.name])}
}

vpc_cni_policy if {
	some a in input.by_type["aws:eks/addon:Addon"]
	a.inputs.addonName == "vpc-cni"
	json.unmarshal(a.inputs.configurationValues).enableNetworkPolicy in {"true", true}
}

workload_namespaces contains lib.namespace(r) if some r in lib.workloads

# The joins below look only at a workload's own namespace (input.by_ns),
# not at every object in the stack.
netpols_by_ns[ns] := object.get(input.by_ns, ["networking.k8s.io/NetworkPolicy", ns], []) if some ns in workload_namespaces

# NetworkPolicy semantics, as the API server and the dataplane apply them:
# a policy isolates the pods it selects for each of its policyTypes (when
# policyTypes is omitted the API server sets Ingress, plus Egress when the
# policy has egress rules); an empty selector selects every pod of the
# namespace; what a pod may do is the union of every policy that selects
# it, so one rule that admits every peer on every port opens the direction
# for all of that policy's pods.
directions := {"Ingress", "Egress"}

policy_types(spec) := {t | some t in spec.policyTypes} if {
	count(object.get(spec, "policyTypes", [])) > 0
} else := {"Ingress", "Egress"} if {
	count(object.get(spec, "egress", [])) > 0
} else := {"Ingress"}

rules_of(spec, "Ingress") := object.get(spec, "ingress", [])

rules_of(spec, "Egress") := object.get(spec, "egress", [])

peers_of(rule, "Ingress") := object.get(rule, "from", [])

peers_of(rule, "Egress") := object.get(rule, "to", [])

# allows_all(spec, dir): a rule of the policy admits every peer on every
# port in dir: no ports, and no peers or a peer that is everything (every
# namespace, or an IP block of the whole internet without exceptions).
allows_all(spec, dir) if {
	dir in policy_types(spec)
	some rule in rules_of(spec, dir)
	count(object.get(rule, "ports", [])) == 0
	every_peer(peers_of(rule, dir))
}

every_peer(peers) if count(peers) == 0

every_peer(peers) if {
	some p in peers
	lib.selects_all(object.get(p, "namespaceSelector", {"matchLabels": {"none": "none"}}))
	lib.selects_all(object.get(p, "podSelector", {}))
}

every_peer(peers) if {
	some p in peers
	p.ipBlock.cidr in lib.open_cidrs
	count(object.get(p.ipBlock, "except", [])) == 0
}

namespace_wide(p) if lib.selects_all(object.get(p.inputs.spec, "podSelector", {}))

# default_deny(ns, dir): namespace-wide policies isolate every pod in dir,
# and no namespace-wide policy admits everything in dir again (the deny can
# be split over several policies, one per direction).
default_deny(ns, dir) if {
	some p in netpols_by_ns[ns]
	namespace_wide(p)
	dir in policy_types(p.inputs.spec)
	not namespace_opens(ns, dir)
}

namespace_opens(ns, dir) if {
	some p in netpols_by_ns[ns]
	namespace_wide(p)
	allows_all(p.inputs.spec, dir)
}

# METADATA
# title: Every workload namespace denies by default
# description: Each namespace that runs workloads isolates every pod for Ingress and Egress through namespace-wide NetworkPolicies (one policy or one per direction), and no namespace-wide policy admits all traffic again.
# custom:
#   id: CS-NET-004
#   severity: high
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no rules in the namespace (or one per direction), and remove namespace-wide allow-all policies.
cs_net_004 contains f if {
	some ns in workload_namespaces
	open := [d | some d in ["Ingress", "Egress"]; not default_deny(ns, d)]
	count(open) > 0
	f := {"urn": "", "msg": sprintf("namespace %s runs workloads but denies no %s traffic by default%s", [ns, concat(" or ", [lower(d) | some d in open]), opened_by(ns, open)])}
}

opened_by(ns, dirs) := sprintf(" (NetworkPolicy %s admits all of it)", [concat(", ", sort({lib.name(p) | some p in netpols_by_ns[ns]; namespace_wide(p); some d in dirs; allows_all(p.inputs.spec, d)}))]) if {
	some d in dirs
	namespace_opens(ns, d)
} else := ""

# METADATA
# title: Every workload has its own NetworkPolicy
# description: Beyond the default deny, each workload is selected by a policy of its own (a non-empty pod selector; a namespace-wide policy is not one) that admits exactly its peers, and no policy selecting it admits every peer on every port.
# custom:
#   id: CS-NET-005
#   severity: medium
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Add a NetworkPolicy whose podSelector matches the workload's pod labels and whose rules name its peers and ports.
cs_net_005 contains f if {
	some r in lib.workloads
	pols := lib.selecting("networking.k8s.io/NetworkPolicy", lib.namespace(r), lib.pod_labels(r))
	some msg in isolation_problems(pols)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s %s", [r.inputs.kind, lib.namespace(r), lib.name(r), msg])}
}

# isolation_problems: what is wrong with the isolation the policies that
# select a pod give it. The policies are looked up once per workload.
isolation_problems(pols) := own_problems(pols) | opening_problems(pols) | direction_problems(pols)

own_problems(pols) := {"is selected by no NetworkPolicy of its own"} if {
	not has_own(pols)
} else := set()

has_own(pols) if {
	some p in pols
	not namespace_wide(p)
}

opening_problems(pols) := {sprintf("admits all %s traffic (NetworkPolicy %s)", [lower(dir), concat(", ", sort(names))]) |
	some dir in directions
	names := {lib.name(p) | some p in pols; allows_all(p.inputs.spec, dir)}
	count(names) > 0
}

# A pod no policy isolates in a direction accepts (or sends) anything there,
# whatever its own policy says about the other direction. (Without a policy
# of its own, the finding above and CS-NET-004 already say so.)
direction_problems(pols) := {sprintf("is not isolated for %s: no NetworkPolicy selecting it has policyType %s", [lower(dir), dir]) |
	has_own(pols)
	some dir in directions
	not isolated(pols, dir)
}

isolated(pols, dir) if {
	some p in pols
	dir in policy_types(p.inputs.spec)
}

# METADATA
# title: Every S3 bucket blocks public access
# description: Each bucket needs a public access block; without one, a policy or ACL can make it public.
# custom:
#   id: CS-NET-107
#   severity: critical
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Add aws.s3.BucketPublicAccessBlock for the bucket with all four settings true.
cs_net_107 contains f if {
	some b in input.by_type["aws:s3/bucketV2:BucketV2"]
	not public_access_blocked(b.inputs.bucket)
	f := {"urn": b.urn, "msg": sprintf("bucket %s has no public access block", [b.inputs.bucket])}
}

public_access_blocked(bucket) if {
	some p in input.by_type["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
	p.inputs.bucket == bucket
}

# METADATA
# title: Workloads and stores run at least 3 replicas
# description: Every stateless workload (or its autoscaler's floor) and every operator-managed store keeps 3 copies, one per zone.
# custom:
#   id: CS-HA-004
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Set spec.replicas (instances, members) to 3 or more.
cs_ha_004 contains f if {
	some r in lib.replicated_workloads
	lib.replicas(r) < 3
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s runs %s", [r.inputs.kind, lib.namespace(r), lib.name(r), replica_text(r)])}
}

# replica_text says where a workload's floor comes from.
replica_text(r) := sprintf("as few as %v replicas (%s)", [lib.replicas(r), concat(", ", sort({sprintf("%s %s", [h.inputs.kind, lib.name(h)]) | some h in autoscalers(r)}))]) if {
	autoscaled(r)
} else := sprintf("%v replicas", [lib.replicas(r)])

autoscalers(r) := object.get(input.by_target, concat("/", [lib.namespace(r), r.inputs.kind, lib.name(r)]), [])

autoscaled(r) if count(autoscalers(r)) > 0

cs_ha_004 contains f if {
	some k, field in {
		"postgresql.cnpg.io/Cluster": "instances",
		"rabbitmq.com/RabbitmqCluster": "replicas",
		"mongodbcommunity.mongodb.com/MongoDBCommunity": "members",
	}
	some r in input.kinds[k]
	n := object.get(r.inputs, ["spec", field], 1)
	n < 3
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s has %v %s", [r.inputs.kind, lib.namespace(r), lib.name(r), n, field])}
}

# METADATA
# title: EKS nodes span 3 zones
# description: At least 3 nodes over node groups in at least 3 subnets (one per zone).
# custom:
#   id: CS-HA-101
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Create a managed node group per zone (or one over 3 zonal subnets) with 3 or more nodes in all.
cs_ha_101 contains f if {
	count(input.by_type["aws:eks/cluster:Cluster"]) > 0
	groups := input.by_type["aws:eks/nodeGroup:NodeGroup"]
	subnets := {s | some g in groups; some s in g.inputs.subnetIds}
	nodes := sum([object.get(g.inputs, ["scalingConfig", "desiredSize"], 0) | some g in groups])
	not spread_ok(count(subnets), nodes)
	f := {"urn": "", "msg": sprintf("EKS node groups run %v nodes over %v subnets", [nodes, count(subnets)])}
}

spread_ok(subnets, nodes) if {
	subnets >= 3
	nodes >= 3
}

# Disruption budgets, computed the way the disruption controller does
# (pkg/controller/disruption): with n pods expected and all healthy,
#   maxUnavailable m: allowed = m, a percentage rounded up (ceil(m% * n));
#   minAvailable m:   allowed = n - m, a percentage rounded up as well;
#   neither:          nothing may go (a policy/v1 budget without a bound
#                     expects no pod, so the controller allows none).
# n is the replica floor of the workloads the budget selects.
disruptions_allowed(spec, n) := min([scaled(spec.maxUnavailable, n), n]) if {
	spec.maxUnavailable != null
} else := max([n - scaled(spec.minAvailable, n), 0]) if {
	spec.minAvailable != null
} else := 0

scaled(v, _) := v if is_number(v)

scaled(v, n) := ceil((to_number(trim_suffix(v, "%")) * n) / 100) if {
	is_string(v)
	regex.match(`^[0-9]+%$`, v)
}

# budget_value: which field a budget sets, with its value, for messages.
budget_value(spec) := sprintf("maxUnavailable %v", [spec.maxUnavailable]) if {
	spec.maxUnavailable != null
} else := sprintf("minAvailable %v", [spec.minAvailable]) if {
	spec.minAvailable != null
} else := "neither minAvailable nor maxUnavailable"

# invalid_budget: an IntOrString the API server refuses ("1" as a string, a
# percentage over 100, a negative number).
invalid_budget(spec) := {sprintf("%s is %v, not a non-negative integer or a percentage up to 100%%", [k, v]) |
	some k in ["minAvailable", "maxUnavailable"]
	v := spec[k]
	v != null
	not valid_int_or_percent(v)
}

valid_int_or_percent(v) if {
	is_number(v)
	v >= 0
}

valid_int_or_percent(v) if {
	is_string(v)
	regex.match(`^[0-9]+%$`, v)
	to_number(trim_suffix(v, "%")) <= 100
}

# pdb_selects(p): the budget selects pods; in policy/v1 an empty selector
# selects every pod of the namespace (in v1beta1, none).
pdb_selects(p, labels) if {
	sel := object.get(p.inputs.spec, "selector", {})
	not lib.selects_all(sel)
	lib.selects(sel, labels)
}

pdb_selects(p, _) if {
	lib.selects_all(object.get(p.inputs.spec, "selector", {}))
	not contains(p.type, "v1beta1")
}

budgets(ns, labels) := {p | some p in lib.selecting("policy/PodDisruptionBudget", ns, labels); pdb_selects(p, labels)}

# METADATA
# title: Replicated workloads have a PodDisruptionBudget
# description: A workload whose replica floor is 2 or more (its autoscaler's floor when it has one) needs a PDB that, at that floor, still allows one disruption, so drains proceed without taking it down.
# custom:
#   id: CS-HA-005
#   severity: medium
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Add a PodDisruptionBudget selecting the pods with maxUnavailable 1 (or a minAvailable below the replica floor).
cs_ha_005 contains f if {
	some r in lib.replicated_workloads
	n := lib.replicas(r)
	n >= 2
	msg := budget_problem(budgets(lib.namespace(r), lib.pod_labels(r)), n)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s runs %s and %s", [r.inputs.kind, lib.namespace(r), lib.name(r), replica_text(r), msg])}
}

# budget_problem: why the budgets selecting a workload (looked up once)
# do not let a drain evict one of its n pods; undefined when they do.
budget_problem(bs, n) := "no PodDisruptionBudget selects it" if {
	count(bs) == 0
} else := sprintf("no PodDisruptionBudget selecting it allows a disruption (%s)", [concat(", ", sort({sprintf("%s: %s", [lib.name(p), budget_value(p.inputs.spec)]) | some p in bs}))]) if {
	not some_budget_allows_one(bs, n)
}

# Every budget that selects a pod must allow its eviction; the eviction API
# refuses when any one of them does not.
some_budget_allows_one(bs, n) if {
	every p in bs {
		disruptions_allowed(p.inputs.spec, n) >= 1
	}
}

# covers: what a budget covers, {workloads, pods} (the pods are the sum of
# the replica floors of the workloads it selects). The engine computes it in
# Go (policies.budgetCovers: one pass per namespace, not a join of every
# budget with every workload); without the engine (conftest), nothing.
covers(p) := p.covers

covers(p) := {"workloads": 0, "pods": 0} if not p.covers

# METADATA
# title: Disruption budgets allow a disruption
# description: A PodDisruptionBudget that allows no disruption (maxUnavailable 0 or 0%, minAvailable 100% or at least the replicas it covers) blocks every node drain, so node upgrades and zone drains stall; an invalid value is refused by the API server.
# custom:
#   id: CS-HA-011
#   severity: medium
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Use maxUnavailable 1 (or a minAvailable below the workload's replica floor); run at least 2 replicas of anything a budget protects.
cs_ha_011 contains f if {
	some p in input.kinds["policy/PodDisruptionBudget"]
	covers(p).workloads > 0
	n := covers(p).pods
	n > 0
	disruptions_allowed(p.inputs.spec, n) < 1
	f := {"urn": p.urn, "msg": sprintf("PodDisruptionBudget %s/%s (%s) allows no disruption of the %v pods it covers, so it blocks every drain", [lib.namespace(p), lib.name(p), budget_value(p.inputs.spec), n])}
}

# With no workload in the input, only what blocks at any size is certain.
cs_ha_011 contains f if {
	some p in input.kinds["policy/PodDisruptionBudget"]
	covers(p).workloads == 0
	blocks_always(p.inputs.spec)
	f := {"urn": p.urn, "msg": sprintf("PodDisruptionBudget %s/%s (%s) allows no disruption at any size, so it blocks every drain", [lib.namespace(p), lib.name(p), budget_value(p.inputs.spec)])}
}

blocks_always(spec) if spec.maxUnavailable in {0, "0%"}

blocks_always(spec) if {
	object.get(spec, "maxUnavailable", null) == null
	spec.minAvailable == "100%"
}

cs_ha_011 contains f if {
	some p in input.kinds["policy/PodDisruptionBudget"]
	some msg in invalid_budget(p.inputs.spec)
	f := {"urn": p.urn, "msg": sprintf("PodDisruptionBudget %s/%s: %s", [lib.namespace(p), lib.name(p), msg])}
}

# METADATA
# title: Database backups are scheduled
# description: Every CloudNativePG cluster has a ScheduledBackup, and each ScheduledBackup can run against its cluster; with WAL archiving (CS-HA-009) that gives point-in-time recovery. A ScheduledBackup with method plugin names the plugin (pluginConfiguration.name), one the cluster loads; one with method barmanObjectStore (the default) backs up a cluster with spec.backup.barmanObjectStore.
# custom:
#   id: CS-HA-110
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Add a ScheduledBackup whose spec.cluster.name is the cluster; for a cluster archiving through the Barman Cloud plugin, method: plugin with pluginConfiguration.name: barman-cloud.cloudnative-pg.io."
cs_ha_110 contains f if {
	some c in input.kinds["postgresql.cnpg.io/Cluster"]
	not scheduled(lib.namespace(c), lib.name(c))
	f := {"urn": c.urn, "msg": sprintf("Cluster %s/%s has no ScheduledBackup", [lib.namespace(c), lib.name(c)])}
}

scheduled(ns, name) if {
	some s in input.kinds["postgresql.cnpg.io/ScheduledBackup"]
	lib.namespace(s) == ns
	s.inputs.spec.cluster.name == name
}

cs_ha_110 contains f if {
	some s in input.kinds["postgresql.cnpg.io/ScheduledBackup"]
	msg := backup_method_problem(s, object.get(s.inputs, ["spec", "method"], "barmanObjectStore"))
	f := {"urn": s.urn, "msg": sprintf("ScheduledBackup %s/%s %s", [lib.namespace(s), lib.name(s), msg])}
}

backup_method_problem(s, "plugin") := "uses method plugin but names no plugin (spec.pluginConfiguration.name), so it takes no backup" if {
	object.get(s.inputs, ["spec", "pluginConfiguration", "name"], "") == ""
}

backup_method_problem(s, "plugin") := sprintf("backs up Cluster %s through plugin %s, which the cluster does not load (spec.plugins)", [c.inputs.metadata.name, plugin]) if {
	plugin := object.get(s.inputs, ["spec", "pluginConfiguration", "name"], "")
	plugin != ""
	some c in backup_target(s)
	not plugin in {p.name | some p in object.get(c.inputs, ["spec", "plugins"], [])}
}

backup_method_problem(s, "barmanObjectStore") := sprintf("backs up Cluster %s with method barmanObjectStore (the default), but the cluster has no spec.backup.barmanObjectStore (use method plugin)", [c.inputs.metadata.name]) if {
	some c in backup_target(s)
	not c.inputs.spec.backup.barmanObjectStore
}

# backup_target: the cluster a ScheduledBackup names, when it is in the input.
backup_target(s) := [c |
	some c in object.get(input.by_ns, ["postgresql.cnpg.io/Cluster", lib.namespace(s)], [])
	lib.name(c) == object.get(s.inputs, ["spec", "cluster", "name"], "")
]

# METADATA
# title: Databases are replicated with automatic failover and point-in-time recovery
# description: A CloudNativePG cluster needs replicas to fail over to and WAL archiving for point-in-time recovery, through a CNPG-I plugin (a spec.plugins entry with isWALArchiver true; for the Barman Cloud plugin, parameters.barmanObjectName names an ObjectStore, which must be in the cluster's namespace when the input has ObjectStores) or the in-tree spec.backup.barmanObjectStore (deprecated since CloudNativePG 1.26). Only one plugin may archive WAL.
# custom:
#   id: CS-HA-009
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Set spec.instances >= 2 (3, CS-HA-004) and archive WAL through the Barman Cloud plugin: spec.plugins [{name: barman-cloud.cloudnative-pg.io, isWALArchiver: true, parameters: {barmanObjectName: <ObjectStore>}}] with a barmancloud.cnpg.io/v1 ObjectStore of that name in the namespace (not spec.backup.barmanObjectStore, deprecated); schedule backups (CS-HA-110)."
cs_ha_009 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	object.get(r.inputs, ["spec", "instances"], 1) < 2
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s has no replica to fail over to", [lib.namespace(r), lib.name(r)])}
}

cs_ha_009 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	not r.inputs.spec.backup.barmanObjectStore
	count(wal_archivers(r)) == 0
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s archives no WAL%s, so it has no point-in-time recovery", [lib.namespace(r), lib.name(r), no_archiver_text(r)])}
}

cs_ha_009 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	some p in wal_archivers(r)
	p.name == barman_plugin
	msg := barman_store_problem(r, object.get(p, ["parameters", "barmanObjectName"], ""))
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s archives WAL through %s %s", [lib.namespace(r), lib.name(r), barman_plugin, msg])}
}

cs_ha_009 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	names := [p.name | some p in wal_archivers(r)]
	count(names) > 1
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s marks %v plugins as its WAL archiver (%s); CloudNativePG allows one", [lib.namespace(r), lib.name(r), count(names), concat(", ", names)])}
}

barman_plugin := "barman-cloud.cloudnative-pg.io"

# wal_archivers: the enabled plugins (enabled defaults to true) that
# archive WAL.
wal_archivers(r) := [p |
	some p in object.get(r.inputs, ["spec", "plugins"], [])
	p.isWALArchiver == true
	object.get(p, "enabled", true) != false
]

no_archiver_text(r) := " (no enabled plugin in spec.plugins has isWALArchiver true)" if {
	count(object.get(r.inputs, ["spec", "plugins"], [])) > 0
} else := ""

barman_store_problem(_, "") := "without parameters.barmanObjectName, so it has no ObjectStore to write to"

barman_store_problem(r, store) := sprintf("to ObjectStore %s, which is not in namespace %s", [store, lib.namespace(r)]) if {
	store != ""
	count(object.get(input.kinds, "barmancloud.cnpg.io/ObjectStore", [])) > 0
	not object_store(lib.namespace(r), store)
}

object_store(ns, name) if {
	some s in object.get(input.by_ns, ["barmancloud.cnpg.io/ObjectStore", ns], [])
	lib.name(s) == name
}

# METADATA
# title: Persistent volumes are encrypted
# description: "The StorageClasses workloads bind must encrypt volumes with a platform key, and the data tier's volumes use such a class from the input, named or, left unset, as the input's default class: a CloudNativePG cluster's data and WAL volumes (spec.storage, and spec.walStorage when set; storageClass or pvcTemplate.storageClassName), a PerconaServerMongoDB's replica set volumes (volumeSpec.persistentVolumeClaim.storageClassName of each replica set, of its non-voting and hidden members when they have their own, and of the config server set when sharded), and a RabbitmqCluster's persistence volume (spec.persistence.storageClassName, or the volumeClaimTemplates of spec.override.statefulSet, which replace it; none when spec.persistence.storage is 0, an emptyDir). A class without a platform key (the local stack's, annotated cloudscale.io/encryption simulated, included) does not count; it is reported once, on the class."
# custom:
#   id: CS-ENC-005
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "ebs.csi.aws.com: encrypted 'true' and kmsKeyId; disk.csi.azure.com: diskEncryptionSetID; pd.csi.storage.gke.io: disk-encryption-kms-key. CloudNativePG: spec.storage.storageClass and spec.walStorage.storageClass naming such a class (the platform's cloudscale-encrypted); PerconaServerMongoDB: volumeSpec.persistentVolumeClaim.storageClassName on every replica set and the config server set; RabbitmqCluster: spec.persistence.storageClassName."
cs_enc_005 contains f if {
	some r in input.kinds["storage.k8s.io/StorageClass"]
	not storage_class_encrypted(r.inputs)
	f := {"urn": r.urn, "msg": sprintf("StorageClass %s (%s) does not encrypt volumes with a platform key", [lib.name(r), r.inputs.provisioner])}
}

storage_class_encrypted(sc) if {
	sc.provisioner == "ebs.csi.aws.com"
	sc.parameters.encrypted == "true"
	sc.parameters.kmsKeyId != ""
}

storage_class_encrypted(sc) if {
	sc.provisioner == "disk.csi.azure.com"
	sc.parameters.diskEncryptionSetID != ""
}

storage_class_encrypted(sc) if {
	sc.provisioner == "pd.csi.storage.gke.io"
	sc.parameters["disk-encryption-kms-key"] != ""
}

cs_enc_005 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	some field, volume in cnpg_volumes(object.get(r.inputs, "spec", {}))
	some msg in volume_class_problems(volume_class(volume))
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s spec.%s %s", [lib.namespace(r), lib.name(r), field, msg])}
}

cnpg_volumes(spec) := {"storage": object.get(spec, "storage", {}), "walStorage": spec.walStorage} if {
	spec.walStorage
} else := {"storage": object.get(spec, "storage", {})}

# volume_class: storageClass wins over the PVC template's class; "" is unset.
volume_class(v) := v.storageClass if {
	object.get(v, "storageClass", "") != ""
} else := v.pvcTemplate.storageClassName if {
	object.get(v, ["pvcTemplate", "storageClassName"], "") != ""
} else := ""

# Percona replica set volumes: a set's volumeSpec makes a PVC when it has a
# persistentVolumeClaim (which wins over hostPath and emptyDir) or neither
# of the others.
cs_enc_005 contains f if {
	some r in input.kinds["psmdb.percona.com/PerconaServerMongoDB"]
	some m in lib.psmdb_members(object.get(r.inputs, "spec", {}))
	v := m.member.volumeSpec
	psmdb_pvc(v)
	some msg in volume_class_problems(object.get(v, ["persistentVolumeClaim", "storageClassName"], ""))
	f := {"urn": r.urn, "msg": sprintf("PerconaServerMongoDB %s/%s %s volumeSpec.persistentVolumeClaim %s", [lib.namespace(r), lib.name(r), m.what, msg])}
}

psmdb_pvc(v) if is_object(v.persistentVolumeClaim)

psmdb_pvc(v) if {
	is_object(v)
	not v.persistentVolumeClaim
	not v.emptyDir
	not v.hostPath
}

cs_enc_005 contains f if {
	some r in input.kinds["rabbitmq.com/RabbitmqCluster"]
	some field, class in rabbit_volume_classes(object.get(r.inputs, "spec", {}))
	some msg in volume_class_problems(class)
	f := {"urn": r.urn, "msg": sprintf("RabbitmqCluster %s/%s %s %s", [lib.namespace(r), lib.name(r), field, msg])}
}

# rabbit_volume_classes: the class of each volume claim template of a
# RabbitmqCluster's StatefulSet, by where it is set: none when
# spec.persistence.storage is 0 (the operator mounts an emptyDir); the
# override's templates when it has any (they replace the operator's);
# else spec.persistence (storage defaults to 10Gi).
rabbit_volume_classes(spec) := {} if {
	regex.match(`^(0+(\.0*)?|\.0+)[a-zA-Z]*$`, sprintf("%v", [object.get(spec, ["persistence", "storage"], "10Gi")]))
} else := {sprintf("spec.override.statefulSet.spec.volumeClaimTemplates %v", [object.get(t, ["metadata", "name"], i)]): object.get(t, ["spec", "storageClassName"], "") |
	some i, t in spec.override.statefulSet.spec.volumeClaimTemplates
} if {
	count(object.get(spec, ["override", "statefulSet", "spec", "volumeClaimTemplates"], [])) > 0
} else := {"spec.persistence": object.get(spec, ["persistence", "storageClassName"], "")}

storage_classes := object.get(input.kinds, "storage.k8s.io/StorageClass", [])

classes_named(name) := [r | some r in storage_classes; lib.name(r) == name]

# volume_class_problems: why a volume of the named class (or of the default
# class, when unset) cannot be shown to be encrypted; empty when it can be
# judged. A class that is in the input is judged once, on the class itself
# (the rule above): its volumes do not repeat that finding, so a fault has
# one finding and one waiver, where its root cause is. Only an input that
# defines classes can show a reference to be wrong: a manifest scanned on
# its own binds classes the cluster defines elsewhere.
volume_class_problems(name) := {sprintf("uses StorageClass %s, which the input's classes do not include, so its encryption cannot be checked", [name])} if {
	count(storage_classes) > 0
	name != ""
	count(classes_named(name)) == 0
} else := {"sets no storageClass and none of the input's classes is the default, so its encryption cannot be checked"} if {
	count(storage_classes) > 0
	name == ""
	count(default_classes) == 0
} else := set()

default_classes := [r |
	some r in storage_classes
	some a in ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"]
	object.get(r.inputs, ["metadata", "annotations", a], "") == "true"
]

# METADATA
# title: Database connection poolers are replicated, spread over zones and covered by a disruption budget
# description: A CloudNativePG Pooler runs at least 2 PgBouncer instances (3 in prod, one per zone), spreads them over zones in spec.template.spec (a topology spread constraint or pod anti-affinity on topology.kubernetes.io/zone that selects its pods), and a PodDisruptionBudget in its namespace selects its pods (by the template's labels, or cnpg.io/poolerName, which the operator sets on them) and allows one disruption; otherwise a node drain or a zone loss cuts every connection through it. Either pool mode (transaction, session) is fine.
# custom:
#   id: CS-HA-016
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Set spec.instances 2 (3 in prod), spec.template.spec.topologySpreadConstraints on topology.kubernetes.io/zone (DoNotSchedule) and kubernetes.io/hostname selecting the template's labels, and add a PodDisruptionBudget selecting those labels with maxUnavailable 1.
cs_ha_016 contains f if {
	some p in input.kinds["postgresql.cnpg.io/Pooler"]
	msg := pooler_size_problem(pooler_instances(p))
	f := {"urn": p.urn, "msg": sprintf("Pooler %s/%s %s", [lib.namespace(p), lib.name(p), msg])}
}

cs_ha_016 contains f if {
	some p in input.kinds["postgresql.cnpg.io/Pooler"]
	n := pooler_instances(p)
	n >= 2
	not zone_spread(object.get(p.inputs, ["spec", "template", "spec"], {}), pooler_labels(p))
	f := {"urn": p.urn, "msg": sprintf("Pooler %s/%s runs %v instances and no zone spread in spec.template.spec (a topologySpreadConstraint or podAntiAffinity on topology.kubernetes.io/zone selecting its pods)", [lib.namespace(p), lib.name(p), n])}
}

cs_ha_016 contains f if {
	some p in input.kinds["postgresql.cnpg.io/Pooler"]
	n := pooler_instances(p)
	n >= 2
	msg := budget_problem(budgets(lib.namespace(p), pooler_labels(p)), n)
	f := {"urn": p.urn, "msg": sprintf("Pooler %s/%s runs %v instances and %s", [lib.namespace(p), lib.name(p), n, msg])}
}

pooler_instances(p) := object.get(p.inputs, ["spec", "instances"], 1)

pooler_size_problem(n) := sprintf("runs %v instances, so a node loss or a restart cuts every connection through it", [n]) if n < 2

pooler_size_problem(n) := sprintf("runs %v instances; prod runs 3, one per zone", [n]) if {
	n >= 2
	n < 3
	input.env == "prod"
}

# pooler_labels: the labels of a pooler's pods: its template's, and the
# cnpg.io/poolerName label the operator adds.
pooler_labels(p) := object.union(object.get(p.inputs, ["spec", "template", "metadata", "labels"], {}), {"cnpg.io/poolerName": lib.name(p)})

# zone_spread: the pod spec spreads the pods over zones: a topology spread
# constraint or an anti-affinity term on the zone key whose selector selects
# them (a constraint or term without a labelSelector counts no pod).
zone_spread(spec, labels) if {
	some c in object.get(spec, "topologySpreadConstraints", [])
	c.topologyKey == "topology.kubernetes.io/zone"
	lib.selects(c.labelSelector, labels)
}

zone_spread(spec, labels) if {
	some t in anti_affinity_terms(spec)
	t.topologyKey == "topology.kubernetes.io/zone"
	lib.selects(t.labelSelector, labels)
}

anti_affinity_terms(spec) := array.concat(
	object.get(spec, ["affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"], []),
	[w.podAffinityTerm | some w in object.get(spec, ["affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution"], [])],
)

# The RabbitMQ messaging topology (issue 15): Queues, Policies, Bindings
# and Exchanges of the messaging-topology-operator, joined within one
# cluster and vhost ("<cluster namespace>/<cluster name>|<vhost>").
rabbit_kind(k) := object.get(input.kinds, concat("/", ["rabbitmq.com", k]), [])

rabbit_at(r) := concat("|", [lib.rabbit_cluster(r), lib.rabbit_vhost(r)])

rabbit_policies[at] := ps if {
	some p in rabbit_kind("Policy")
	at := rabbit_at(p)
	ps := [x | some x in rabbit_kind("Policy"); rabbit_at(x) == at]
}

rabbit_queue_name(q) := object.get(q.inputs, ["spec", "name"], lib.name(q))

policy_definition(p) := d if {
	d := object.get(p.inputs, ["spec", "definition"], {})
	is_object(d)
} else := {}

policy_priority(p) := object.get(p.inputs, ["spec", "priority"], 0)

# policy_applies_to(p, t): a policy's applyTo (default all) covers a queue
# of type t ("" is the vhost's default, classic unless it says otherwise).
policy_applies_to(p, t) if object.get(p.inputs, ["spec", "applyTo"], "all") in {"all", "queues"}

policy_applies_to(p, "quorum") if p.inputs.spec.applyTo == "quorum_queues"

policy_applies_to(p, t) if {
	p.inputs.spec.applyTo == "classic_queues"
	t in {"classic", ""}
}

policy_applies_to(p, "stream") if p.inputs.spec.applyTo == "streams"

# matching_policies: the policies of the queue's cluster and vhost whose
# pattern (a regular expression, unanchored as RabbitMQ runs it) matches
# the queue's name and whose applyTo covers its type.
matching_policies(q) := [p |
	some p in object.get(rabbit_policies, rabbit_at(q), [])
	policy_applies_to(p, lib.rabbit_queue_type(q))
	pattern := object.get(p.inputs, ["spec", "pattern"], "")
	regex.is_valid(pattern)
	regex.match(pattern, rabbit_queue_name(q))
]

# applied_policies: RabbitMQ applies one policy to a queue, the matching one
# with the highest priority (one of them, when several share it).
applied_policies(q) := [p | some p in ms; policy_priority(p) == top] if {
	ms := matching_policies(q)
	count(ms) > 0
	top := max([policy_priority(p) | some p in ms])
} else := []

# queue_setting(q, argument, key): a queue argument wins over the applied
# policy's definition key; undefined when neither sets it (or the policies
# sharing the top priority disagree).
queue_setting(q, arg, key) := v if {
	v := lib.rabbit_args(q)[arg]
} else := v if {
	vs := {policy_definition(p)[key] | some p in applied_policies(q)}
	count(vs) == 1
	count({p | some p in applied_policies(q); not policy_definition(p)[key]}) == 0
	some v in vs
}

# queue_dlxs: the dead-letter exchanges a queue may use, each with where it
# comes from: its x-dead-letter-exchange argument, else the applied
# policy's dead-letter-exchange ("" is the default exchange).
queue_dlxs(q) := {[x, "argument x-dead-letter-exchange"]} if {
	x := lib.rabbit_args(q)["x-dead-letter-exchange"]
} else := {[x, sprintf("policy %s", [lib.name(p)])] |
	some p in applied_policies(q)
	x := policy_definition(p)["dead-letter-exchange"]
}

has_dlx(q) if "x-dead-letter-exchange" in object.keys(lib.rabbit_args(q))

has_dlx(q) if {
	ps := applied_policies(q)
	count(ps) > 0
	every p in ps {
		"dead-letter-exchange" in object.keys(policy_definition(p))
	}
}

# dl_exchanges: "<cluster>|<vhost>|<exchange>" of every exchange a queue or a
# policy dead-letters to, and every exchange bound to one of those
# (exchange-to-exchange bindings, followed to the end).
dl_sources contains concat("|", [rabbit_at(q), pair[0]]) if {
	some q in rabbit_kind("Queue")
	some pair in queue_dlxs(q)
	is_string(pair[0])
}

dl_sources contains concat("|", [rabbit_at(p), x]) if {
	some p in rabbit_kind("Policy")
	x := policy_definition(p)["dead-letter-exchange"]
	is_string(x)
}

exchange_graph[node] := {concat("|", [rabbit_at(b), b.inputs.spec.destination]) |
	some b in rabbit_kind("Binding")
	b.inputs.spec.destinationType == "exchange"
	concat("|", [rabbit_at(b), object.get(b.inputs, ["spec", "source"], "")]) == node
} if {
	some b0 in rabbit_kind("Binding")
	node := concat("|", [rabbit_at(b0), object.get(b0.inputs, ["spec", "source"], "")])
}

dl_exchanges := graph.reachable(exchange_graph, dl_sources)

# dead_letter_queue: a queue bound (destinationType queue) to a dead-letter
# exchange, or named by the routing key of a queue that dead-letters to
# the default exchange; it needs no dead-letter target of its own.
dead_letter_queue(q) if {
	some b in rabbit_kind("Binding")
	rabbit_at(b) == rabbit_at(q)
	object.get(b.inputs, ["spec", "destinationType"], "queue") == "queue"
	object.get(b.inputs, ["spec", "destination"], "") == rabbit_queue_name(q)
	concat("|", [rabbit_at(b), object.get(b.inputs, ["spec", "source"], "")]) in dl_exchanges
}

dead_letter_queue(q) if {
	some other in rabbit_kind("Queue")
	rabbit_at(other) == rabbit_at(q)
	some pair in queue_dlxs(other)
	pair[0] == ""
	queue_setting(other, "x-dead-letter-routing-key", "dead-letter-routing-key") == rabbit_queue_name(q)
}

rabbit_queue_text(q) := sprintf("Queue %s/%s (queue %v in vhost %v)", [lib.namespace(q), lib.name(q), rabbit_queue_name(q), lib.rabbit_vhost(q)])

# METADATA
# title: Every RabbitMQ queue has a dead-letter target that works
# description: "Every Queue (streams do not dead-letter) dead-letters the messages it rejects, expires or drops to an exchange: its arguments x-dead-letter-exchange, or the dead-letter-exchange of the Policy RabbitMQ applies to it, the one of its cluster and vhost (default /) whose pattern matches the queue's name and whose applyTo (queues, all, quorum_queues, classic_queues) covers it with the highest priority: RabbitMQ applies that one only, so a lower-priority policy's dead-letter-exchange does not count. A queue that is itself a dead-letter queue (bound to an exchange some queue or policy dead-letters to, directly or through exchange-to-exchange bindings, or named by the routing key of a queue that dead-letters to the default exchange) is exempt. At-least-once dead-lettering (x-dead-letter-strategy or the policy's dead-letter-strategy at-least-once) works only for a quorum queue that overflows with reject-publish; otherwise RabbitMQ silently dead-letters at-most-once. A dead-letter exchange must exist: when the input has Exchange objects for the queue's cluster, one declares it in the queue's vhost (the default exchange and amq.* exist in every vhost)."
# custom:
#   id: CS-HA-023
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Add a Policy (applyTo: queues, a pattern matching the queue, a priority above any other matching policy) with definition {dead-letter-exchange: <exchange>, dead-letter-strategy: at-least-once, overflow: reject-publish, delivery-limit: 20}, an Exchange of that name in the vhost, and a quorum Queue bound to it as the dead-letter queue."
cs_ha_023 contains f if {
	some q in rabbit_kind("Queue")
	lib.rabbit_queue_type(q) != "stream"
	not has_dlx(q)
	not dead_letter_queue(q)
	f := {"urn": q.urn, "msg": sprintf("%s has no dead-letter exchange: %s, so the messages it rejects, expires or drops are lost", [rabbit_queue_text(q), no_dlx_text(q)])}
}

no_dlx_text(q) := sprintf("no x-dead-letter-exchange argument, and the policy RabbitMQ applies to it (%s, priority %v) sets no dead-letter-exchange%s", [
	concat(", ", sort([lib.name(p) | some p in applied_policies(q)])),
	policy_priority(applied_policies(q)[0]),
	shadowed_text(q),
]) if {
	count(applied_policies(q)) > 0
} else := "no x-dead-letter-exchange argument and no policy that matches it sets dead-letter-exchange"

shadowed_text(q) := sprintf("; %s also matches with a lower priority, but RabbitMQ applies only one policy", [concat(", ", names)]) if {
	top := policy_priority(applied_policies(q)[0])
	names := sort([lib.name(p) |
		some p in matching_policies(q)
		policy_priority(p) < top
		"dead-letter-exchange" in object.keys(policy_definition(p))
	])
	count(names) > 0
} else := ""

cs_ha_023 contains f if {
	some q in rabbit_kind("Queue")
	queue_setting(q, "x-dead-letter-strategy", "dead-letter-strategy") == "at-least-once"
	msg := at_least_once_problem(lib.rabbit_queue_type(q), queue_overflow(q))
	f := {"urn": q.urn, "msg": sprintf("%s asks for at-least-once dead-lettering, but %s, so RabbitMQ dead-letters at-most-once", [rabbit_queue_text(q), msg])}
}

at_least_once_problem(t, overflow) := sprintf("it is %s, and only quorum queues dead-letter at least once", [queue_kind_text(t)]) if {
	t != "quorum"
} else := sprintf("it overflows with %v, not reject-publish", [overflow]) if {
	overflow != "reject-publish"
}

queue_overflow(q) := v if {
	v := queue_setting(q, "x-overflow", "overflow")
} else := "drop-head (the default)"

cs_ha_023 contains f if {
	some q in rabbit_kind("Queue")
	some pair in queue_dlxs(q)
	[x, source] := pair
	is_string(x)
	x != ""
	not startswith(x, "amq.")
	cluster := lib.rabbit_cluster(q)
	count([e | some e in rabbit_kind("Exchange"); lib.rabbit_cluster(e) == cluster]) > 0
	not exchange_declared(rabbit_at(q), x)
	f := {"urn": q.urn, "msg": sprintf("%s dead-letters to exchange %s (%s), which no Exchange of cluster %s declares in vhost %v, so its dead-lettered messages are dropped", [rabbit_queue_text(q), x, source, cluster, lib.rabbit_vhost(q)])}
}

exchange_declared(at, name) if {
	some e in rabbit_kind("Exchange")
	rabbit_at(e) == at
	object.get(e.inputs, ["spec", "name"], lib.name(e)) == name
}

queue_kind_text("") := "a queue without a type (the vhost's default, classic unless it says otherwise)"

queue_kind_text(t) := sprintf("a %s queue", [t]) if t != ""

# METADATA
# title: Images come from allowed registries
# description: Only the registries the platform trusts may supply images.
# custom:
#   id: CS-SEC-007
#   severity: high
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Mirror the image into an allowed registry (see policies/config.yaml).
cs_sec_007 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	not lib.allowed_image(c.image, allowed_prefixes)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s pulls %s, not from an allowed registry", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, lib.image_ref(c.image)])}
}

# allowed_prefixes are computed once per evaluation, not per container:
# the settings' registries and the stack's own repositories. The rule is a
# stack rule because it reads the stack's registry resources beside its
# workloads (resource rules see one chunk of the stack at a time).
allowed_prefixes := lib.allowed_prefixes(data.cloudscale.config.allowedRegistries) | own_repositories

# own_repositories are the image repositories the stack itself creates for
# its services (infra.Registry), read from the registry resources in the
# same input, so each cloud stack admits exactly its own and nothing
# broader: not another account's ECR, another project's Artifact Registry
# or another ACR. An ECR repository's host holds the account id, which
# only the deploying credentials know: the cloud tier writes it into the
# repository's cloudscale.io/registry-host tag (known at preview, and under
# mocks the mocks' account).
own_repositories contains concat("", [host, "/", r.inputs.name, "/"]) if {
	some r in object.get(input.by_type, "aws:ecr/repository:Repository", [])
	host := object.get(r.inputs, ["tags", "cloudscale.io/registry-host"], "")
	regex.match(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$`, host)
	is_string(r.inputs.name)
}

own_repositories contains sprintf("%s-docker.pkg.dev/%s/%s/", [r.inputs.location, r.inputs.project, r.inputs.repositoryId]) if {
	some r in object.get(input.by_type, "gcp:artifactregistry/repository:Repository", [])
	r.inputs.format == "DOCKER"
	every k in ["location", "project", "repositoryId"] {
		is_string(r.inputs[k])
	}
}

own_repositories contains concat("", [lower(r.inputs.registryName), ".azurecr.io/"]) if {
	some r in object.get(input.by_type, "azure-native:containerregistry:Registry", [])
	is_string(r.inputs.registryName)
}
