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
# description: Where the Istio mesh runs, a PeerAuthentication in the root namespace with no selector must set STRICT.
# custom:
#   id: CS-ENC-012
#   severity: critical
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Add PeerAuthentication "default" in istio-system with spec.mtls.mode STRICT and no selector.
cs_enc_012 contains f if {
	istio_in_use
	not mesh_wide_strict
	f := {"urn": "", "msg": "the mesh has no mesh-wide STRICT PeerAuthentication in istio-system"}
}

mesh_wide_strict if {
	some p in input.kinds["security.istio.io/PeerAuthentication"]
	lib.namespace(p) == "istio-system"
	not p.inputs.spec.selector
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

# METADATA
# title: Every workload namespace denies by default
# description: Each namespace that runs workloads has a NetworkPolicy selecting every pod for both Ingress and Egress, with no rules.
# custom:
#   id: CS-NET-004
#   severity: high
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] in the namespace.
cs_net_004 contains f if {
	some ns in workload_namespaces
	not default_deny(ns)
	f := {"urn": "", "msg": sprintf("namespace %s runs workloads but has no default-deny NetworkPolicy for ingress and egress", [ns])}
}

default_deny(ns) if {
	some p in netpols_by_ns[ns]
	count(object.get(p.inputs.spec, "podSelector", {})) == 0
	{"Ingress", "Egress"} == {t | some t in p.inputs.spec.policyTypes} & {"Ingress", "Egress"}
	count(object.get(p.inputs.spec, "ingress", [])) == 0
	count(object.get(p.inputs.spec, "egress", [])) == 0
}

# METADATA
# title: Every workload has its own NetworkPolicy
# description: Beyond the default deny, each workload is selected by a policy that admits exactly its peers.
# custom:
#   id: CS-NET-005
#   severity: medium
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Add a NetworkPolicy whose podSelector matches the workload's pod labels.
cs_net_005 contains f if {
	some r in lib.workloads
	labels := lib.pod_labels(r)
	not own_policy(lib.namespace(r), labels)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s is selected by no NetworkPolicy of its own", [r.inputs.kind, lib.namespace(r), lib.name(r)])}
}

own_policy(ns, labels) if {
	some p in lib.selecting("networking.k8s.io/NetworkPolicy", ns, labels)
	count(object.get(p.inputs.spec, "podSelector", {})) > 0
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
	some k in lib.scalable_kinds
	some r in input.kinds[k]
	not autoscaled(r)
	lib.replicas(r) < 3
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s runs %v replicas", [r.inputs.kind, lib.namespace(r), lib.name(r), lib.replicas(r)])}
}

# An autoscaled workload's replica count is its HorizontalPodAutoscaler's
# floor, not spec.replicas (which the autoscaler overrides).
cs_ha_004 contains f if {
	some k in lib.scalable_kinds
	some r in input.kinds[k]
	some h in autoscalers(r)
	n := object.get(h.inputs, ["spec", "minReplicas"], 1)
	n < 3
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s runs as few as %v replicas (HorizontalPodAutoscaler %s)", [r.inputs.kind, lib.namespace(r), lib.name(r), n, lib.name(h)])}
}

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

# METADATA
# title: Replicated workloads have a PodDisruptionBudget
# description: A workload with 2 or more replicas needs a PDB that still allows one disruption, so drains proceed without taking it down.
# custom:
#   id: CS-HA-005
#   severity: medium
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Add a PodDisruptionBudget selecting the pods with maxUnavailable 1.
cs_ha_005 contains f if {
	some k in lib.scalable_kinds
	some r in input.kinds[k]
	n := lib.replicas(r)
	n >= 2
	not pdb_allows_one(lib.namespace(r), lib.pod_labels(r), n)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s has no PodDisruptionBudget allowing a disruption", [r.inputs.kind, lib.namespace(r), lib.name(r)])}
}

pdb_allows_one(ns, labels, replicas) if {
	some p in lib.selecting("policy/PodDisruptionBudget", ns, labels)
	count(object.get(p.inputs.spec, "selector", {})) > 0
	allows_one(p.inputs.spec, replicas)
}

allows_one(spec, _) if {
	is_number(spec.maxUnavailable)
	spec.maxUnavailable >= 1
}

allows_one(spec, _) if {
	is_string(spec.maxUnavailable)
	spec.maxUnavailable != "0%"
}

allows_one(spec, replicas) if {
	is_number(spec.minAvailable)
	spec.minAvailable < replicas
}

# METADATA
# title: Database backups are scheduled
# description: Every CloudNativePG cluster has a ScheduledBackup; with WAL archiving (CS-HA-009) that gives point-in-time recovery.
# custom:
#   id: CS-HA-110
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Add a ScheduledBackup whose spec.cluster.name is the cluster.
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
