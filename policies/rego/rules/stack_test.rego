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

test_cs_net_004_fail if {
	st.cs_net_004 == {{"urn": "", "msg": "namespace shop runs workloads but has no default-deny NetworkPolicy for ingress and egress"}} with input as fx.kube([
		fx.deployment,
		object.union(fx.deny_all, {"spec": {"policyTypes": ["Ingress"]}}),
	])
}

test_cs_net_005_pass if {
	count(st.cs_net_005) == 0 with input as fx.kube([fx.deployment, fx.deny_all, fx.api_policy])
}

test_cs_net_005_fail if {
	st.cs_net_005 == {{"urn": "urn:api", "msg": "Deployment shop/api is selected by no NetworkPolicy of its own"}} with input as fx.kube([fx.deployment, fx.deny_all])
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

test_cs_ha_005_fail if {
	st.cs_ha_005 == {{"urn": "urn:api", "msg": "Deployment shop/api has no PodDisruptionBudget allowing a disruption"}} with input as fx.kube([
		fx.deployment,
		object.union(object.remove(fx.pdb, ["spec"]), {"spec": {"selector": {"matchLabels": {"app": "api"}}, "minAvailable": 3}}),
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
