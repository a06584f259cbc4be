package cloudscale.stackrules_test

import rego.v1

import data.cloudscale.fixtures as fx
import data.cloudscale.stackrules as st

bucket := fx.res("aws:s3/bucketV2:BucketV2", "backups", {"bucket": "cs-backups"})

sse := fx.res("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "sse", {"bucket": "cs-backups", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "k"}}]})

versioning := fx.res("aws:s3/bucketVersioningV2:BucketVersioningV2", "ver", {"bucket": "cs-backups", "versioningConfiguration": {"status": "Enabled"}})

test_cs_enc_011_pass if {
	count(st.cs_enc_011) == 0 with input as fx.cloud([
		bucket, sse, versioning,
		fx.res("azure-native:storage:StorageAccount", "sa", {"accountName": "csbk"}),
		fx.res("azure-native:storage:BlobServiceProperties", "blob", {"accountName": "csbk", "isVersioningEnabled": true}),
	])
}

test_cs_enc_011_fail if {
	st.cs_enc_011 == {
		{"urn": "urn:backups", "msg": "bucket cs-backups has no SSE-KMS configuration"},
		{"urn": "urn:backups", "msg": "bucket cs-backups is not versioned"},
		{"urn": "urn:sa", "msg": "storage account csbk has no blob versioning"},
	} with input as fx.cloud([bucket, fx.res("azure-native:storage:StorageAccount", "sa", {"accountName": "csbk"})])
}

vs := {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "api", "namespace": "shop"}, "spec": {}}

test_cs_enc_012_pass if {
	count(st.cs_enc_012) == 0 with input as fx.kube([vs, {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}}])
}

test_cs_enc_012_fail if {
	st.cs_enc_012 == {{"urn": "", "msg": "the mesh has no mesh-wide STRICT PeerAuthentication in istio-system"}} with input as fx.kube([vs])
}

# An empty selector is still mesh-wide; a mode left unset there is Istio's
# default PERMISSIVE; the root namespace comes from the settings.
test_cs_enc_012_pass_empty_selector_custom_root if {
	count(st.cs_enc_012) == 0 with input as fx.kube([vs, {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "default", "namespace": "mesh-root"}, "spec": {"selector": {"matchLabels": {}}, "mtls": {"mode": "STRICT"}}}])
		with data.cloudscale.config as {"meshRootNamespace": "mesh-root"}
}

test_cs_enc_012_fail_mode_unset if {
	st.cs_enc_012 == {{"urn": "", "msg": "the mesh has no mesh-wide STRICT PeerAuthentication in istio-system"}} with input as fx.kube([vs, {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {}}])
}

eks := fx.res("aws:eks/cluster:Cluster", "eks", {})

test_cs_net_103_pass if {
	count(st.cs_net_103) == 0 with input as fx.cloud([eks, fx.res("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni", "configurationValues": "{\"enableNetworkPolicy\":\"true\"}"})])
}

test_cs_net_103_fail if {
	st.cs_net_103 == {{"urn": "urn:eks", "msg": "EKS cluster eks has no vpc-cni add-on enforcing network policy"}} with input as fx.cloud([eks])
}

test_cs_net_004_pass if {
	count(st.cs_net_004) == 0 with input as fx.kube([fx.deployment, fx.deny_all])
}

# Default deny split over two policies, one per direction (the Kubernetes
# docs' pattern), and an empty matchLabels that selects every pod.
test_cs_net_004_pass_split_and_empty_match_labels if {
	count(st.cs_net_004) == 0 with input as fx.kube([
		fx.deployment,
		netpol("deny-ingress", {"podSelector": {"matchLabels": {}}, "policyTypes": ["Ingress"]}),
		netpol("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]}),
	])
}

test_cs_net_004_fail if {
	st.cs_net_004 == {{"urn": "", "msg": "namespace shop runs workloads but denies no egress traffic by default"}} with input as fx.kube([
		fx.deployment,
		object.union(fx.deny_all, {"spec": {"policyTypes": ["Ingress"]}}),
	])
}

# policyTypes omitted and no egress rules: the API server sets Ingress only.
test_cs_net_004_fail_policy_types_omitted if {
	st.cs_net_004 == {{"urn": "", "msg": "namespace shop runs workloads but denies no egress traffic by default"}} with input as fx.kube([
		fx.deployment,
		netpol("default-deny", {"podSelector": {}}),
	])
}

# A namespace-wide allow-all policy undoes the default deny.
test_cs_net_004_fail_allow_all if {
	st.cs_net_004 == {{"urn": "", "msg": "namespace shop runs workloads but denies no ingress traffic by default (NetworkPolicy allow-all admits all of it)"}} with input as fx.kube([
		fx.deployment, fx.deny_all,
		netpol("allow-all", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
	])
}

netpol(name, spec) := {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": "shop"}, "spec": spec}

test_cs_net_005_pass if {
	count(st.cs_net_005) == 0 with input as fx.kube([fx.deployment, fx.deny_all, fx.api_policy])
}

# policyTypes omitted with egress rules: the policy covers both directions.
test_cs_net_005_pass_inferred_types if {
	count(st.cs_net_005) == 0 with input as fx.kube([fx.deployment, netpol("api", {
		"podSelector": {"matchLabels": {"app": "api"}},
		"ingress": [{"ports": [{"port": 8080}]}],
		"egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}],
	})])
}

test_cs_net_005_fail if {
	st.cs_net_005 == {{"urn": "urn:api", "msg": "Deployment shop/api is selected by no NetworkPolicy of its own"}} with input as fx.kube([fx.deployment, fx.deny_all])
}

# A namespace-wide policy (matchLabels {}) is not the workload's own, and
# an allow-all rule opens the direction; a pod no policy isolates is open.
test_cs_net_005_fail_namespace_wide_allow_all if {
	st.cs_net_005 == {
		{"urn": "urn:api", "msg": "Deployment shop/api is selected by no NetworkPolicy of its own"},
		{"urn": "urn:api", "msg": "Deployment shop/api admits all ingress traffic (NetworkPolicy allow-all)"},
	} with input as fx.kube([fx.deployment, netpol("allow-all", {"podSelector": {"matchLabels": {}}, "ingress": [{}]})])
}

# Its own policy isolates ingress only, and nothing isolates egress.
test_cs_net_005_fail_direction_not_isolated if {
	st.cs_net_005 == {{"urn": "urn:api", "msg": "Deployment shop/api is not isolated for egress: no NetworkPolicy selecting it has policyType Egress"}} with input as fx.kube([fx.deployment, fx.api_policy])
}

test_cs_net_107_pass if {
	count(st.cs_net_107) == 0 with input as fx.cloud([bucket, fx.res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", {"bucket": "cs-backups"})])
}

test_cs_net_107_fail if {
	st.cs_net_107 == {{"urn": "urn:backups", "msg": "bucket cs-backups has no public access block"}} with input as fx.cloud([bucket])
}

group(name, subnets, n) := fx.res("aws:eks/nodeGroup:NodeGroup", name, {"subnetIds": subnets, "scalingConfig": {"desiredSize": n}})

test_cs_ha_101_pass if {
	count(st.cs_ha_101) == 0 with input as fx.cloud([eks, group("a", ["s1"], 1), group("b", ["s2"], 1), group("c", ["s3"], 1)])
}

test_cs_ha_101_fail if {
	st.cs_ha_101 == {{"urn": "", "msg": "EKS node groups run 6 nodes over 1 subnets"}} with input as fx.cloud([eks, group("a", ["s1"], 6)])
}

test_cs_ha_005_pass if {
	count(st.cs_ha_005) == 0 with input as fx.kube([fx.deployment, fx.pdb])
}

# Percentages, rounded up as the disruption controller rounds them:
# minAvailable 50% of 3 is 2 (one may go), maxUnavailable 10% of 3 is 1.
test_cs_ha_005_pass_percentages if {
	every spec in [{"minAvailable": "50%"}, {"maxUnavailable": "10%"}, {"minAvailable": 2}] {
		count(st.cs_ha_005) == 0 with input as fx.kube([fx.deployment, budget(spec)])
	}
}

budget(spec) := object.union(object.remove(fx.pdb, ["spec"]), {"spec": object.union({"selector": {"matchLabels": {"app": "api"}}}, spec)})

test_cs_ha_005_fail if {
	st.cs_ha_005 == {{"urn": "urn:api", "msg": "Deployment shop/api runs 3 replicas and no PodDisruptionBudget selecting it allows a disruption (api: minAvailable 3)"}} with input as fx.kube([
		fx.deployment,
		budget({"minAvailable": 3}),
	])
}

# The autoscaler's floor is the replica count: no spec.replicas, HPA min 3.
test_cs_ha_005_fail_autoscaler_floor if {
	st.cs_ha_005 == {{"urn": "urn:api", "msg": "Deployment shop/api runs as few as 3 replicas (HorizontalPodAutoscaler api) and no PodDisruptionBudget selects it"}} with input as fx.kube([
		object.union(object.remove(fx.deployment, ["spec"]), {"spec": object.remove(fx.deployment.spec, ["replicas"])}),
		{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "api", "namespace": "shop"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "minReplicas": 3, "maxReplicas": 9}},
	])
}

test_cs_ha_005_fail_percentages if {
	every spec in [{"maxUnavailable": "0%"}, {"maxUnavailable": 0}, {"minAvailable": "100%"}, {"minAvailable": "90%"}] {
		count(st.cs_ha_005) == 1 with input as fx.kube([fx.deployment, budget(spec)])
	}
}

test_cs_ha_011_pass if {
	every spec in [{"maxUnavailable": 1}, {"minAvailable": "50%"}, {"maxUnavailable": "10%"}] {
		count(st.cs_ha_011) == 0 with input as fx.kube([fx.deployment, budget(spec)])
	}
}

test_cs_ha_011_fail if {
	st.cs_ha_011 == {
		{"urn": "urn:api", "msg": "PodDisruptionBudget shop/api (minAvailable 1) allows no disruption of the 1 pods it covers, so it blocks every drain"},
		{"urn": "urn:other", "msg": "PodDisruptionBudget shop/other (maxUnavailable 0%) allows no disruption at any size, so it blocks every drain"},
		{"urn": "urn:bad", "msg": "PodDisruptionBudget shop/bad: minAvailable is 1, not a non-negative integer or a percentage up to 100%"},
		{"urn": "urn:none", "msg": "PodDisruptionBudget shop/none (neither minAvailable nor maxUnavailable) allows no disruption of the 1 pods it covers, so it blocks every drain"},
	} with input as fx.kube([
		object.union(fx.deployment, {"spec": {"replicas": 1}}),
		budget({"minAvailable": 1}),
		# A policy/v1 budget without a bound expects no pod: it allows none.
		object.union(budget({}), {"metadata": {"name": "none"}}),
		object.union(budget({"maxUnavailable": "0%"}), {"metadata": {"name": "other"}, "spec": {"selector": {"matchLabels": {"app": "gone"}}}}),
		object.union(budget({"minAvailable": "1"}), {"metadata": {"name": "bad"}, "spec": {"selector": {"matchLabels": {"app": "gone"}}}}),
	])
}

pg := {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "data"}, "spec": {"instances": 3}}

test_cs_ha_110_pass if {
	count(st.cs_ha_110) == 0 with input as fx.kube([pg, {"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup", "metadata": {"name": "daily", "namespace": "data"}, "spec": {"cluster": {"name": "pg"}, "schedule": "0 0 2 * * *"}}])
}

test_cs_ha_110_fail if {
	st.cs_ha_110 == {{"urn": "urn:pg", "msg": "Cluster data/pg has no ScheduledBackup"}} with input as fx.kube([pg])
}

test_cs_ha_004_pass if {
	count(st.cs_ha_004) == 0 with input as fx.kube([
		fx.deployment,
		{"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "data"}, "spec": {"instances": 3}},
	])
}

test_cs_ha_004_fail if {
	st.cs_ha_004 == {
		{"urn": "urn:api", "msg": "Deployment shop/api runs 1 replicas"},
		{"urn": "urn:mq", "msg": "RabbitmqCluster data/mq has 1 replicas"},
		{"urn": "urn:web", "msg": "Deployment shop/web runs as few as 2 replicas (HorizontalPodAutoscaler web)"},
	} with input as fx.kube([
		object.union(object.remove(fx.deployment, ["spec"]), {"spec": object.remove(fx.deployment.spec, ["replicas"])}),
		{"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "metadata": {"name": "mq", "namespace": "data"}, "spec": {"replicas": 1}},
		object.union(fx.deployment, {"metadata": {"name": "web"}}),
		{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"minReplicas": 2, "maxReplicas": 10, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}},
	])
}
