package cloudscale.rules.ha_test

import rego.v1

import data.cloudscale.fixtures as fx
import data.cloudscale.rules.ha

pool(name, n, zones, size, disk) := {"name": name, "count": n, "availabilityZones": zones, "vmSize": size, "osDiskSizeGB": disk}

test_cs_ha_001_pass if {
	count(ha.cs_ha_001) == 0 with input as fx.cloud([
		fx.res("azure-native:containerservice:ManagedCluster", "aks", {"agentPoolProfiles": [pool("user", 3, ["1", "2", "3"], "Standard_D4s_v5", 128)]}),
		fx.res("gcp:container/nodePool:NodePool", "np", {"nodeCount": 1, "nodeLocations": ["a", "b", "c"]}),
	])
}

test_cs_ha_001_fail if {
	ha.cs_ha_001 == {
		{"urn": "urn:aks", "msg": "AKS aks pool user has 2 nodes over zones [\"1\"]"},
		{"urn": "urn:np", "msg": "node pool np has 3 nodes per zone over 1 zones"},
	} with input as fx.cloud([
		fx.res("azure-native:containerservice:ManagedCluster", "aks", {"agentPoolProfiles": [pool("user", 2, ["1"], "Standard_D4s_v5", 128)]}),
		fx.res("gcp:container/nodePool:NodePool", "np", {"nodeCount": 3, "nodeLocations": ["a"]}),
	])
}

test_cs_ha_002_pass if {
	count(ha.cs_ha_002) == 0 with input as fx.cloud([
		fx.res("aws:eks/nodeGroup:NodeGroup", "ng", {"instanceTypes": ["m6i.xlarge"]}),
		fx.res("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"blockDeviceMappings": [{"ebs": {"volumeSize": 100, "volumeType": "gp3"}}]}),
		fx.res("azure-native:containerservice:ManagedCluster", "aks", {"agentPoolProfiles": [pool("user", 3, ["1", "2", "3"], "Standard_D4s_v5", 100)]}),
		fx.res("gcp:container/nodePool:NodePool", "np", {"nodeConfig": {"machineType": "n2-standard-4", "diskSizeGb": 100, "diskType": "pd-ssd"}}),
	])
		with data.cloudscale.sizes as fx.sizes
}

test_cs_ha_002_fail if {
	ha.cs_ha_002 == {
		{"urn": "urn:ng", "msg": "node group ng uses t3.large (8 GiB)"},
		{"urn": "urn:lt", "msg": "launch template lt root volume is 50 GB gp3"},
		{"urn": "urn:aks", "msg": "AKS aks pool user is Standard_D4s_v5 with a 64 GB Managed OS disk"},
		{"urn": "urn:np", "msg": "node pool np is e2-medium with a 100 GB pd-standard disk"},
	} with input as fx.cloud([
		fx.res("aws:eks/nodeGroup:NodeGroup", "ng", {"instanceTypes": ["t3.large"]}),
		fx.res("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"blockDeviceMappings": [{"ebs": {"volumeSize": 50, "volumeType": "gp3"}}]}),
		fx.res("azure-native:containerservice:ManagedCluster", "aks", {"agentPoolProfiles": [pool("user", 3, ["1", "2", "3"], "Standard_D4s_v5", 64)]}),
		fx.res("gcp:container/nodePool:NodePool", "np", {"nodeConfig": {"machineType": "e2-medium", "diskSizeGb": 100, "diskType": "pd-standard"}}),
	])
		with data.cloudscale.sizes as fx.sizes
}

test_cs_ha_003_pass if {
	count(ha.cs_ha_003) == 0 with input as fx.cloud([fx.res("aws:eks/cluster:Cluster", "eks", {"version": "1.33"})])
}

test_cs_ha_003_fail if {
	ha.cs_ha_003 == {{"urn": "urn:gke", "msg": "cluster gke runs Kubernetes 1.24"}} with input as fx.cloud([fx.res("gcp:container/cluster:Cluster", "gke", {"minMasterVersion": "1.24"})])
}

test_cs_ha_006_pass if {
	count(ha.cs_ha_006) == 0 with input as fx.kube([fx.deployment])
}

test_cs_ha_006_fail if {
	ha.cs_ha_006 == {{"urn": "urn:api", "msg": "Deployment shop/api has 3 replicas and no zone and host spread"}} with input as fx.kube([
		object.union(fx.deployment, {"spec": {"template": {"spec": {"topologySpreadConstraints": []}}}}),
	])
}

test_cs_ha_007_pass if {
	count(ha.cs_ha_007) == 0 with input as fx.kube([fx.deployment])
}

test_cs_ha_007_fail if {
	ha.cs_ha_007 == {{"urn": "urn:api", "msg": "Deployment shop/api container app has no livenessProbe"}} with input as fx.kube([
		fx.with_container(object.remove(fx.container, ["livenessProbe"])),
	])
}

hpa(n) := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "api", "namespace": "shop"}, "spec": {"minReplicas": n, "maxReplicas": 10}}

test_cs_ha_008_pass if {
	count(ha.cs_ha_008) == 0 with input as fx.kube([hpa(3)])
}

test_cs_ha_008_fail if {
	ha.cs_ha_008 == {{"urn": "urn:api", "msg": "HorizontalPodAutoscaler shop/api has minReplicas 1"}} with input as fx.kube([hpa(1)])
}

scaled_object(spec) := {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "api", "namespace": "shop"}, "spec": object.union({"scaleTargetRef": {"name": "api"}}, spec)}

# KEDA's floor defaults to 0 (scale to zero); the HPA it generates is owned
# by the ScaledObject and judged through it.
test_cs_ha_008_fail_keda if {
	ha.cs_ha_008 == {{"urn": "urn:api", "msg": "ScaledObject shop/api has minReplicaCount 0"}} with input as fx.kube([scaled_object({})])
}

test_cs_ha_008_pass_keda if {
	count(ha.cs_ha_008) == 0 with input as fx.kube([scaled_object({"minReplicaCount": 3})])
}

# The replica floor an autoscaler sets counts for the spread rule too.
test_cs_ha_006_fail_autoscaler_floor if {
	ha.cs_ha_006 == {{"urn": "urn:api", "msg": "Deployment shop/api has 3 replicas and no zone and host spread"}} with input as fx.kube([
		object.union(object.remove(fx.deployment, ["spec"]), {"spec": object.union(object.remove(fx.deployment.spec, ["replicas"]), {"template": {"spec": {"topologySpreadConstraints": []}}})}),
		scaled_object({"minReplicaCount": 3}),
	])
}

pg(spec) := {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "data"}, "spec": spec}

test_cs_ha_009_pass if {
	count(ha.cs_ha_009) == 0 with input as fx.kube([pg({"instances": 3, "backup": {"barmanObjectStore": {"destinationPath": "s3://b/pg"}}})])
}

test_cs_ha_009_fail if {
	ha.cs_ha_009 == {
		{"urn": "urn:pg", "msg": "Cluster data/pg has no replica to fail over to"},
		{"urn": "urn:pg", "msg": "Cluster data/pg archives no WAL, so it has no point-in-time recovery"},
	} with input as fx.kube([pg({"instances": 1})])
}

istiod(values) := fx.res("kubernetes:helm.sh/v3:Release", "istiod", {"chart": "istiod", "version": "1.27.3", "values": values})

test_cs_ha_010_pass if {
	count(ha.cs_ha_010) == 0 with input as fx.cloud([
		istiod({"pilot": {"replicaCount": 2, "autoscaleMin": 2}}),
		istiod({"replicaCount": 3, "autoscaleMin": 3}),
	])
}

test_cs_ha_010_fail if {
	ha.cs_ha_010 == {
		{"urn": "urn:istiod", "msg": "istiod release istiod: pilot.replicaCount is 1"},
		{"urn": "urn:istiod", "msg": "istiod release istiod: autoscaleMin (unset, the chart's default) is 1"},
		{"urn": "urn:istiod", "msg": "istiod release istiod: autoscaleMin is 1"},
	} with input as fx.cloud([istiod({"pilot": {"replicaCount": 1}}), istiod({"replicaCount": 2, "autoscaleMin": 1})])
}

test_cs_ha_010_pilot_wins if {
	count(ha.cs_ha_010) == 0 with input as fx.cloud([istiod({"replicaCount": 1, "autoscaleMin": 1, "pilot": {"replicaCount": 2, "autoscaleMin": 2}})])
}
