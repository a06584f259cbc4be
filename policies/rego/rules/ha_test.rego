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

# The data tier (issue 14): the platform's objects pass every rule; each
# failing test breaks them by hand.
test_cs_ha_012_pass if {
	count(ha.cs_ha_012) == 0 with input as fx.kube(fx.data_tier)
}

# A single instance has nothing to spread (CS-HA-009 reports it).
test_cs_ha_012_pass_single_instance if {
	count(ha.cs_ha_012) == 0 with input as fx.kube([json.remove(fx.with_pg({"instances": 1}), ["spec/affinity"])])
}

test_cs_ha_012_fail if {
	ha.cs_ha_012 == {
		{"urn": "urn:postgres-app", "msg": "Cluster cloudscale/postgres-app has preferred (the default) pod anti-affinity on kubernetes.io/hostname (the default), not required anti-affinity on topology.kubernetes.io/zone, so one zone can hold every instance"},
		{"urn": "urn:zone-preferred", "msg": "Cluster cloudscale/zone-preferred has preferred pod anti-affinity on topology.kubernetes.io/zone, not required anti-affinity on topology.kubernetes.io/zone, so one zone can hold every instance"},
		{"urn": "urn:off", "msg": "Cluster cloudscale/off disables pod anti-affinity (affinity.enablePodAntiAffinity false), so one zone can hold every instance"},
	} with input as fx.kube([
		json.remove(fx.pg_cluster, ["spec/affinity"]),
		object.union(fx.pg_cluster, {"metadata": {"name": "zone-preferred"}, "spec": {"affinity": {"podAntiAffinityType": "preferred"}}}),
		object.union(fx.pg_cluster, {"metadata": {"name": "off"}, "spec": {"affinity": {"enablePodAntiAffinity": false}}}),
	])
}

test_cs_ha_013_pass if {
	count(ha.cs_ha_013) == 0 with input as fx.kube(array.concat(fx.data_tier, [
		# the legacy fields
		object.union(object.remove(fx.pg_cluster, ["spec"]), {"metadata": {"name": "legacy"}, "spec": {"instances": 3, "minSyncReplicas": 1, "maxSyncReplicas": 1}}),
	]))
}

test_cs_ha_013_fail if {
	ha.cs_ha_013 == {
		{"urn": "urn:postgres-app", "msg": "Cluster cloudscale/postgres-app waits for no synchronous standby (spec.postgresql.synchronous), so a failover can lose committed transactions"},
		{"urn": "urn:preferred", "msg": "Cluster cloudscale/preferred replicates with dataDurability preferred, which turns asynchronous when its standbys are down, so a failover can lose committed transactions"},
		{"urn": "urn:none", "msg": "Cluster cloudscale/none waits for no synchronous standby (spec.postgresql.synchronous), so a failover can lose committed transactions"},
	} with input as fx.kube([
		json.remove(fx.pg_cluster, ["spec/postgresql/synchronous"]),
		object.union(fx.pg_cluster, {"metadata": {"name": "preferred"}, "spec": {"postgresql": {"synchronous": {"dataDurability": "preferred"}}}}),
		object.union(fx.pg_cluster, {"metadata": {"name": "none"}, "spec": {"postgresql": {"synchronous": {"number": 0}}}}),
	])
}

test_cs_ha_014_pass if {
	count(ha.cs_ha_014) == 0 with input as fx.kube(array.concat(fx.data_tier, [
		fx.with_pg({"backup": {"barmanObjectStore": {"destinationPath": "s3://b/pg"}, "retentionPolicy": "4w"}}),
	]))
}

test_cs_ha_014_fail if {
	ha.cs_ha_014 == {
		{"urn": "urn:postgres-app-backups", "msg": "ObjectStore cloudscale/postgres-app-backups sets no spec.retentionPolicy, so its backups and WAL are kept forever"},
		{"urn": "urn:odd", "msg": "ObjectStore cloudscale/odd spec.retentionPolicy 30 days is not a number of days, weeks or months (30d, 4w, 1m)"},
		{"urn": "urn:postgres-app", "msg": "Cluster cloudscale/postgres-app sets no spec.backup.retentionPolicy, so its backups and WAL are kept forever"},
	} with input as fx.kube([
		object.union(fx.object_store, {"spec": {"retentionPolicy": ""}}),
		object.union(fx.object_store, {"metadata": {"name": "odd"}, "spec": {"retentionPolicy": "30 days"}}),
		fx.with_pg({"plugins": [], "backup": {"barmanObjectStore": {"destinationPath": "s3://b/pg"}}}),
	])
}

test_cs_ha_015_pass if {
	count(ha.cs_ha_015) == 0 with input as fx.kube(array.concat(fx.data_tier, [
		# the library preloaded by hand instead
		object.union(fx.pg_cluster, {"metadata": {"name": "preloaded"}, "spec": {"postgresql": {"shared_preload_libraries": ["pg_stat_statements"], "parameters": {"log_min_duration_statement": "500"}}}}),
	]))
}

test_cs_ha_015_fail if {
	ha.cs_ha_015 == {
		{"urn": "urn:postgres-app", "msg": "Cluster cloudscale/postgres-app does not load pg_stat_statements (no pg_stat_statements.* parameter)"},
		{"urn": "urn:postgres-app", "msg": "Cluster cloudscale/postgres-app logs no slow statements (log_min_duration_statement unset)"},
		{"urn": "urn:off", "msg": "Cluster cloudscale/off tracks no statements (pg_stat_statements.track none)"},
		{"urn": "urn:off", "msg": "Cluster cloudscale/off logs no slow statements (log_min_duration_statement -1)"},
	} with input as fx.kube([
		json.remove(fx.pg_cluster, ["spec/postgresql/parameters"]),
		object.union(fx.pg_cluster, {"metadata": {"name": "off"}, "spec": {"postgresql": {"parameters": {"pg_stat_statements.track": "none", "log_min_duration_statement": "-1"}}}}),
	])
}

test_cs_ha_017_pass if {
	count(ha.cs_ha_017) == 0 with input as fx.kube(fx.data_tier)
}

# One replica needs no failover; Redis Cluster fails over by itself; a
# quorum of 3 of 5 is a majority.
test_cs_ha_017_pass_single_cluster_mode_five if {
	count(ha.cs_ha_017) == 0 with input as fx.kube([
		object.union(fx.with_redis([fx.redis_server]), {"metadata": {"name": "single"}, "spec": {"replicas": 1}}),
		object.union(fx.with_redis([object.union(fx.redis_server, {"args": ["--cluster-enabled", "yes", "--port", "0", "--tls-port", "6379"]})]), {"metadata": {"name": "cluster"}, "spec": {"replicas": 6}}),
		object.union(fx.with_redis([fx.redis_server, object.union(fx.redis_sentinel, {"env": [{"name": "SENTINEL_QUORUM", "value": "3"}]})]), {"metadata": {"name": "five"}, "spec": {"replicas": 5}}),
	])
}

test_cs_ha_017_fail if {
	ha.cs_ha_017 == {
		{"urn": "urn:redis-state", "msg": "StatefulSet cloudscale/redis-state container sentinel sets SENTINEL_QUORUM 1 of 3 sentinels, not a majority: a minority partition can declare the master down"},
		{"urn": "urn:cache", "msg": "Deployment cloudscale/cache runs 3 Redis replicas and no Sentinel, so nothing fails over when the master goes (no automatic failover)"},
		{"urn": "urn:two", "msg": "StatefulSet cloudscale/two runs Sentinel on 2 replicas; a Sentinel majority that survives the loss of one needs 3"},
		{"urn": "urn:high", "msg": "StatefulSet cloudscale/high container sentinel sets SENTINEL_QUORUM 4, more than its 3 sentinels, so no failover can start"},
		{"urn": "urn:unset", "msg": "StatefulSet cloudscale/unset container sentinel sets no SENTINEL_QUORUM"},
	} with input as fx.kube([
		fx.with_redis([fx.redis_server, object.union(fx.redis_sentinel, {"env": [{"name": "SENTINEL_QUORUM", "value": "1"}]})]),
		# Redis by its image alone (redis:7.2 is docker.io/library/redis)
		{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cache", "namespace": "cloudscale"}, "spec": {"replicas": 3, "template": {"spec": {"containers": [object.union(fx.container, {"name": "cache", "image": "redis:7.2"})]}}}},
		object.union(fx.redis, {"metadata": {"name": "two"}, "spec": {"replicas": 2}}),
		object.union(fx.with_redis([fx.redis_server, object.union(fx.redis_sentinel, {"env": [{"name": "SENTINEL_QUORUM", "value": "4"}]})]), {"metadata": {"name": "high"}}),
		# the Sentinel found by its command line, not its name
		object.union(fx.with_redis([fx.redis_server, object.union(fx.redis_sentinel, {"name": "sentinel", "env": []})]), {"metadata": {"name": "unset"}}),
	])
}

# The data tier, part II (issue 15): the platform's Percona MongoDB and
# RabbitMQ objects pass every rule; each failing test breaks them by hand.
test_cs_ha_018_pass if {
	count(ha.cs_ha_018) == 0 with input as fx.kube(fx.data_tier_ii)
}

# 4 data-bearing members and an arbiter vote as 5; 5 members per shard.
test_cs_ha_018_pass_arbiter_and_five if {
	count(ha.cs_ha_018) == 0 with input as fx.kube([fx.with_psmdb({"replsets": [
		object.union(fx.psmdb_set("rs0"), {"size": 4, "arbiter": {"enabled": true, "size": 1}}),
		object.union(fx.psmdb_set("rs1"), {"size": 5}),
	]})])
}

test_cs_ha_018_fail if {
	ha.cs_ha_018 == {
		{"urn": "urn:single", "msg": "PerconaServerMongoDB cloudscale/single is not sharded (spec.sharding.enabled is not true): one replica set holds all its data"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app is sharded over 1 shard replica sets (replica set rs0); a sharded cluster spreads its data over 2 or more"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app replica set rs0 has size 2; 3 or more data-bearing members keep a majority and a copy through the loss of one"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app config server replica set cfg has size 4 (4 voting members): an even number of voting members tolerates no more failures than one fewer and can split into two equal halves, neither with a majority"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app runs 2 mongos routers (spec.sharding.mongos.size); 3 or more, one per zone, keep the cluster reachable through a zone loss"},
		{"urn": "urn:arbiter", "msg": "PerconaServerMongoDB cloudscale/arbiter replica set rs0 has size 3 and 1 arbiter (4 voting members): an even number of voting members tolerates no more failures than one fewer and can split into two equal halves, neither with a majority"},
		{"urn": "urn:nocfg", "msg": "PerconaServerMongoDB cloudscale/nocfg enables sharding without a config server replica set (spec.sharding.configsvrReplSet), which the operator refuses"},
	} with input as fx.kube([
		object.union(fx.with_psmdb({"replsets": [fx.psmdb_set("rs0")], "sharding": {"enabled": false}}), {"metadata": {"name": "single"}}),
		fx.with_psmdb({"replsets": [object.union(fx.psmdb_set("rs0"), {"size": 2})], "sharding": {"configsvrReplSet": {"size": 4}, "mongos": {"size": 2}}}),
		# the second shard has no name: the operator calls it rs1
		object.union(fx.with_psmdb({"replsets": [object.union(fx.psmdb_set("rs0"), {"arbiter": {"enabled": true, "size": 1}}), object.remove(fx.psmdb_set("x"), ["name"])]}), {"metadata": {"name": "arbiter"}}),
		object.union(json.remove(fx.psmdb, ["spec/sharding/configsvrReplSet"]), {"metadata": {"name": "nocfg"}}),
	])
}

test_cs_ha_019_pass if {
	count(ha.cs_ha_019) == 0 with input as fx.kube(fx.data_tier_ii)
}

# A topology spread constraint on the zone alone (the operator defaults
# maxSkew to 1 and whenUnsatisfiable to DoNotSchedule), and advanced
# affinity requiring the zone; a single-member set has nothing to spread.
test_cs_ha_019_pass_spread_and_advanced if {
	count(ha.cs_ha_019) == 0 with input as fx.kube([fx.with_psmdb({"replsets": [
		object.union(json.remove(fx.psmdb_set("rs0"), ["affinity"]), {"topologySpreadConstraints": [{"topologyKey": "topology.kubernetes.io/zone"}]}),
		object.union(fx.psmdb_set("rs1"), {"affinity": {"advanced": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {"app.kubernetes.io/replset": "rs1"}}}]}}}}),
		object.union(json.remove(fx.psmdb_set("rs2"), ["affinity"]), {"size": 1}),
	]})])
}

test_cs_ha_019_fail if {
	ha.cs_ha_019 == {
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app replica set rs0 (3 members) has no zone spread: its pod anti-affinity is on kubernetes.io/hostname (the operator's default), and no topologySpreadConstraint on topology.kubernetes.io/zone has whenUnsatisfiable DoNotSchedule and maxSkew 1, so one zone can hold a majority of it"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app replica set rs1 (3 members) has no zone spread: affinity.advanced (which replaces antiAffinityTopologyKey) requires no pod anti-affinity on topology.kubernetes.io/zone, and no topologySpreadConstraint on topology.kubernetes.io/zone has whenUnsatisfiable DoNotSchedule and maxSkew 1, so one zone can hold a majority of it"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app config server replica set cfg (3 members) has no zone spread: its pod anti-affinity is on kubernetes.io/hostname (the operator replaces antiAffinityTopologyKey failure-domain.beta.kubernetes.io/zone, which it does not support), and no topologySpreadConstraint on topology.kubernetes.io/zone has whenUnsatisfiable DoNotSchedule and maxSkew 1, so one zone can hold a majority of it"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app mongos (3 members) has no zone spread: its pod anti-affinity is off (antiAffinityTopologyKey none), and no topologySpreadConstraint on topology.kubernetes.io/zone has whenUnsatisfiable DoNotSchedule and maxSkew 1, so one zone can hold a majority of it"},
	} with input as fx.kube([fx.with_psmdb({
		"replsets": [
			# a zone constraint that only prefers, and one that allows a skew of 2
			object.union(json.remove(fx.psmdb_set("rs0"), ["affinity"]), {"topologySpreadConstraints": [
				{"topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"},
				{"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 2},
			]}),
			# advanced wins over the zone key beside it
			object.union(fx.psmdb_set("rs1"), {"affinity": {"antiAffinityTopologyKey": "topology.kubernetes.io/zone", "advanced": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname"}]}}}}),
		],
		"sharding": {
			"configsvrReplSet": {"affinity": {"antiAffinityTopologyKey": "failure-domain.beta.kubernetes.io/zone"}},
			"mongos": {"affinity": {"antiAffinityTopologyKey": "none"}},
		},
	})])
}

test_cs_ha_020_pass if {
	count(ha.cs_ha_020) == 0 with input as fx.kube(fx.data_tier_ii)
}

# Two storages with one main, the deprecated keep, and a crVersion that
# reads keep rather than retention.
test_cs_ha_020_pass_main_storage_and_keep if {
	count(ha.cs_ha_020) == 0 with input as fx.kube([fx.with_psmdb({"crVersion": "1.20.1", "backup": {
		"storages": {"s3-main": {"type": "s3", "main": true}, "gcs-copy": {"type": "gcs"}},
		"tasks": [
			{"name": "daily", "enabled": true, "schedule": "0 3 * * *", "storageName": "s3-main", "keep": 7},
			{"name": "weekly", "enabled": true, "schedule": "0 4 * * 0", "storageName": "gcs-copy", "keep": 4, "retention": {"type": "count", "count": 0}},
		],
	}})])
}

test_cs_ha_020_fail if {
	ha.cs_ha_020 == {
		{"urn": "urn:off", "msg": "PerconaServerMongoDB cloudscale/off takes no backups (spec.backup.enabled is not true), so it has neither backups nor point-in-time recovery"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app declares 2 backup storages (gcs-copy, s3-main) and marks 0 of them main: true; with several storages the operator needs exactly one main storage, which holds the oplog for point-in-time recovery"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app does not save the oplog for point-in-time recovery (spec.backup.pitr.enabled)"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app backup task daily names storage s3, which spec.backup.storages does not declare"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app backup task daily keeps every backup (retention.count 0), so its storage grows without bound"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app backup task hourly names no storage (storageName) and spec.backup.storages declares 2"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app backup task hourly keeps every backup (no retention.count or keep), so its storage grows without bound"},
		{"urn": "urn:unscheduled", "msg": "PerconaServerMongoDB cloudscale/unscheduled declares no backup storage (spec.backup.storages)"},
		{"urn": "urn:unscheduled", "msg": "PerconaServerMongoDB cloudscale/unscheduled schedules no backup (no spec.backup.tasks entry is enabled with a schedule)"},
		{"urn": "urn:old-cr", "msg": "PerconaServerMongoDB cloudscale/old-cr backup task daily keeps every backup (crVersion 1.20.1 reads keep, not retention, and keep is 0), so its storage grows without bound"},
	} with input as fx.kube([
		object.union(fx.with_psmdb({"backup": {"enabled": false}}), {"metadata": {"name": "off"}}),
		fx.with_psmdb({"backup": {
			"storages": {"s3-main": {"type": "s3"}, "gcs-copy": {"type": "gcs"}},
			"pitr": {"enabled": false},
			"tasks": [
				{"name": "daily", "enabled": true, "schedule": "0 3 * * *", "storageName": "s3", "retention": {"type": "count", "count": 0}},
				{"name": "hourly", "enabled": true, "schedule": "0 * * * *"},
				# a disabled task and one without a schedule are not judged
				{"name": "off", "enabled": false, "schedule": "0 5 * * *"},
				{"name": "manual", "enabled": true},
			],
		}}),
		object.union(json.remove(fx.psmdb, ["spec/backup/storages", "spec/backup/tasks"]), {"metadata": {"name": "unscheduled"}, "spec": {"backup": {"tasks": [{"name": "daily", "enabled": false, "schedule": "0 3 * * *"}]}}}),
		object.union(fx.with_psmdb({"crVersion": "1.20.1"}), {"metadata": {"name": "old-cr"}}),
	])
}

test_cs_ha_021_pass if {
	count(ha.cs_ha_021) == 0 with input as fx.kube(fx.data_tier_ii)
}

# Required zone anti-affinity in spec.affinity selecting the pods by the
# operator's labels, five replicas; a single replica has nothing to spread.
test_cs_ha_021_pass_anti_affinity if {
	count(ha.cs_ha_021) == 0 with input as fx.kube([
		object.union(json.remove(fx.rabbitmq, ["spec/override"]), {"spec": {"replicas": 5, "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
			{"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/name": "rabbitmq-app"}}},
		]}}}}),
		object.union(json.remove(fx.rabbitmq, ["spec/override"]), {"metadata": {"name": "single"}, "spec": {"replicas": 1}}),
	])
}

# A zone constraint in the override that sets only whenUnsatisfiable: the
# operator's own zone constraint, which it is merged into, gives maxSkew 1
# and the selector.
test_cs_ha_021_pass_merged_constraint if {
	count(ha.cs_ha_021) == 0 with input as fx.kube([fx.with_rabbitmq({"override": {"statefulSet": {"spec": {"template": {"spec": {"topologySpreadConstraints": [
		{"topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"},
	]}}}}}})])
}

test_cs_ha_021_fail if {
	ha.cs_ha_021 == {
		{"urn": "urn:rabbitmq-app", "msg": "RabbitmqCluster cloudscale/rabbitmq-app runs 4 replicas: an even cluster tolerates no more failures than 3 and can split into two halves of 2, neither with a majority"},
		{"urn": "urn:no-spread", "msg": "RabbitmqCluster cloudscale/no-spread runs 3 replicas and no zone spread (no topologySpreadConstraint on topology.kubernetes.io/zone with DoNotSchedule and maxSkew 1 in spec.override.statefulSet.spec.template.spec, and no required pod anti-affinity on the zone, selecting its pods); the operator's own zone constraint only prefers a spread (ScheduleAnyway), so one zone can hold a majority"},
		{"urn": "urn:other-pods", "msg": "RabbitmqCluster cloudscale/other-pods runs 3 replicas and no zone spread (no topologySpreadConstraint on topology.kubernetes.io/zone with DoNotSchedule and maxSkew 1 in spec.override.statefulSet.spec.template.spec, and no required pod anti-affinity on the zone, selecting its pods); the operator's own zone constraint only prefers a spread (ScheduleAnyway), so one zone can hold a majority"},
	} with input as fx.kube([
		fx.with_rabbitmq({"replicas": 4}),
		# hostname anti-affinity and a preferring zone constraint
		object.union(fx.rabbitmq, {"metadata": {"name": "no-spread"}, "spec": {
			"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "no-spread"}}}]}},
			"override": {"statefulSet": {"spec": {"template": {"spec": {"topologySpreadConstraints": [
				{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "no-spread"}}},
			]}}}}},
		}}),
		# a zone constraint whose selector names another cluster's pods
		object.union(fx.rabbitmq, {"metadata": {"name": "other-pods"}}),
	])
}

test_cs_ha_022_pass if {
	count(ha.cs_ha_022) == 0 with input as fx.kube(fx.data_tier_ii)
}

# The argument names the type when spec.type is unset; streams are
# replicated too.
test_cs_ha_022_pass_argument_and_stream if {
	count(ha.cs_ha_022) == 0 with input as fx.kube([
		json.remove(fx.queue("by-argument", {"arguments": {"x-queue-type": "quorum"}}), ["spec/type"]),
		fx.queue("events", {"type": "stream"}),
	])
}

test_cs_ha_022_fail if {
	ha.cs_ha_022 == {
		{"urn": "urn:classic", "msg": "Queue cloudscale/classic (queue classic in vhost /) is a classic queue, not a quorum queue: it lives on one node and is lost with it"},
		{"urn": "urn:untyped", "msg": "Queue cloudscale/untyped (queue untyped in vhost shop) sets no type (spec.type, or arguments x-queue-type), so it takes the vhost's default type, a classic queue unless the vhost sets another: a classic queue lives on one node and is lost with it"},
		{"urn": "urn:type-wins", "msg": "Queue cloudscale/type-wins (queue type-wins in vhost /) is a classic queue, not a quorum queue: it lives on one node and is lost with it"},
		{"urn": "urn:transient", "msg": "Queue cloudscale/transient (queue transient in vhost /) is a quorum queue declared with durable false, which RabbitMQ refuses"},
		{"urn": "urn:auto-delete", "msg": "Queue cloudscale/auto-delete (queue auto-delete in vhost /) is a quorum queue declared with autoDelete true, which RabbitMQ refuses"},
	} with input as fx.kube([
		fx.queue("classic", {"type": "classic"}),
		object.union(json.remove(fx.queue("untyped", {}), ["spec/type"]), {"spec": {"vhost": "shop"}}),
		# spec.type is sent as x-queue-type and wins over the argument
		fx.queue("type-wins", {"type": "classic", "arguments": {"x-queue-type": "quorum"}}),
		fx.queue("transient", {"durable": false}),
		fx.queue("auto-delete", {"autoDelete": true}),
	])
}

# The monitoring tier (issue 16): the platform's Prometheus, Alertmanager
# and Elasticsearch pass; each failing test breaks them by hand.
test_cs_ha_024_pass if {
	count(ha.cs_ha_024) == 0 with input as fx.kube(fx.monitoring_tier)
}

# A required zone anti-affinity selecting the pods by the operator's
# labels; a constraint without a labelSelector whose additionalLabelSelectors
# has the operator add its own; 2 Alertmanagers (any one of them notifies).
test_cs_ha_024_pass_anti_affinity_and_operator_selector if {
	count(ha.cs_ha_024) == 0 with input as fx.kube([
		object.union(json.remove(fx.prometheus, ["spec/topologySpreadConstraints"]), {"spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
			{"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {"operator.prometheus.io/name": "prometheus"}}},
		]}}}}),
		object.union(fx.prometheus, {"metadata": {"name": "shards"}, "spec": {"topologySpreadConstraints": [
			{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "additionalLabelSelectors": "OnShard"},
		]}}),
		object.union(fx.alertmanager, {"spec": {"replicas": 2}}),
	])
}

test_cs_ha_024_fail if {
	ha.cs_ha_024 == {
		{"urn": "urn:prometheus", "msg": "Prometheus monitoring/prometheus runs 1 replica (spec.replicas, 1 when unset): losing its pod or its node stops scraping and alert evaluation"},
		{"urn": "urn:hosts", "msg": "Prometheus monitoring/hosts runs 2 replicas and no zone spread (no topologySpreadConstraint on topology.kubernetes.io/zone selecting its pods, and no required pod anti-affinity on the zone), so one zone can hold every replica"},
		{"urn": "urn:unselected", "msg": "Prometheus monitoring/unselected runs 2 replicas and no zone spread (no topologySpreadConstraint on topology.kubernetes.io/zone selecting its pods, and no required pod anti-affinity on the zone), so one zone can hold every replica"},
		{"urn": "urn:main", "msg": "Alertmanager monitoring/main runs 1 replica (spec.replicas, 1 when unset): while its pod is down, alerts fire and no notification is sent"},
		{"urn": "urn:other", "msg": "Alertmanager monitoring/other runs 3 replicas and no zone spread (no topologySpreadConstraint on topology.kubernetes.io/zone selecting its pods, and no required pod anti-affinity on the zone), so one zone can hold every replica"},
	} with input as fx.kube([
		json.remove(fx.prometheus, ["spec/replicas"]),
		# a spread over hosts only, and a zone constraint selecting no pod
		object.union(fx.prometheus, {"metadata": {"name": "hosts"}, "spec": {"topologySpreadConstraints": [
			{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"prometheus": "hosts"}}},
		]}}),
		object.union(fx.prometheus, {"metadata": {"name": "unselected"}, "spec": {"topologySpreadConstraints": [
			{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"},
		]}}),
		object.union(fx.alertmanager, {"spec": {"replicas": 1}}),
		# its zone constraint selects the pods of Alertmanager main
		object.union(fx.alertmanager, {"metadata": {"name": "other"}}),
	])
}

test_cs_ha_025_pass if {
	count(ha.cs_ha_025) == 0 with input as fx.kube(fx.monitoring_tier)
}

# Config written nested (node: {roles, attr}) and as a list of
# attributes; dedicated masters (which need the awareness setting but no
# zone attribute) beside a data nodeSet; a cluster zone aware through
# ECK's zoneAwareness; nodeSets each pinned to a zone with a literal
# attribute (one node each, nothing to spread).
test_cs_ha_025_pass_forms if {
	count(ha.cs_ha_025) == 0 with input as fx.kube([
		fx.es_cluster("logs", [
			object.union(json.remove(fx.es_nodeset("masters", 3, {}), ["config"]), {"config": {
				"node": {"roles": ["master"]},
				"cluster": {"routing": {"allocation": {"awareness": {"attributes": ["k8s_node_name", "zone"]}}}},
			}}),
			object.union(json.remove(fx.es_nodeset("data", 2, {}), ["config"]), {"config": {
				"node": {"roles": ["data_hot", "ingest"], "attr": {"zone": "${ZONE}"}},
				"cluster.routing.allocation.awareness.attributes": "zone",
			}}),
		]),
		json.remove(fx.es_cluster("eck-zones", [{"name": "default", "count": 3, "zoneAwareness": {}}]), ["metadata/annotations"]),
		json.remove(fx.es_cluster("pinned", [pinned_nodeset("a"), pinned_nodeset("b"), pinned_nodeset("c")]), ["metadata/annotations"]),
	])
}

pinned_nodeset(zone) := {
	"name": zone, "count": 1,
	"config": {"node.attr.zone": concat("", ["eu-west-1", zone]), "cluster.routing.allocation.awareness.attributes": "zone"},
	"podTemplate": {"spec": {"nodeSelector": {"topology.kubernetes.io/zone": concat("", ["eu-west-1", zone])}}},
}

test_cs_ha_025_fail if {
	ha.cs_ha_025 == {
		{"urn": "urn:logs", "msg": "Elasticsearch monitoring/logs has 2 master-eligible nodes (nodeSet masters: 2): a quorum of fewer than 3 is lost with any one of them"},
		{"urn": "urn:even", "msg": "Elasticsearch monitoring/even has 4 master-eligible nodes (nodeSet default: 4), an even number: Elasticsearch leaves one out of the voting configuration, so it tolerates no more failures than 3 nodes"},
		{"urn": "urn:even", "msg": "Elasticsearch monitoring/even is not zone aware: no attribute in cluster.routing.allocation.awareness.attributes of every master-eligible nodeSet (default) but ECK's k8s_node_name (a host), so a shard and its replica can share a zone"},
		{"urn": "urn:data-only", "msg": "Elasticsearch monitoring/data-only has no master-eligible node (every nodeSet sets node.roles without master), so it cannot elect a master"},
		{"urn": "urn:no-annotation", "msg": "Elasticsearch monitoring/no-annotation nodeSet default gives its nodes no zone in the awareness attribute (node.attr.zone is ${ZONE}): a ${VAR} value needs env VAR from fieldRef metadata.annotations['topology.kubernetes.io/zone'] on the elasticsearch container and the eck.k8s.elastic.co/downward-node-labels annotation listing topology.kubernetes.io/zone; a literal one needs the nodeSet pinned to that zone"},
		{"urn": "urn:unpinned", "msg": "Elasticsearch monitoring/unpinned nodeSet a gives its nodes no zone in the awareness attribute (node.attr.zone is eu-west-1a): a ${VAR} value needs env VAR from fieldRef metadata.annotations['topology.kubernetes.io/zone'] on the elasticsearch container and the eck.k8s.elastic.co/downward-node-labels annotation listing topology.kubernetes.io/zone; a literal one needs the nodeSet pinned to that zone"},
		{"urn": "urn:unpinned", "msg": "Elasticsearch monitoring/unpinned nodeSet a runs 3 nodes and no zone spread (zoneAwareness, or a topologySpreadConstraint on topology.kubernetes.io/zone or a required pod anti-affinity on the zone selecting its pods), so one zone can hold all of them"},
	} with input as fx.kube([
		# 2 dedicated masters beside the data nodes
		fx.es_cluster("logs", [
			fx.es_nodeset("masters", 2, {"node.roles": ["master"]}),
			fx.es_nodeset("data", 3, {"node.roles": ["data", "ingest"]}),
		]),
		# roles as a string, nested; awareness of the host only
		fx.es_cluster("even", [fx.es_set("even", "default", 4, {"node": {"roles": "master, data"}, "cluster.routing.allocation.awareness.attributes": "k8s_node_name"})]),
		fx.es_cluster("data-only", [fx.es_set("data-only", "default", 3, {"node.roles": ["data"]})]),
		# ECK copies no zone label down without the annotation: ${ZONE} stays empty
		json.remove(fx.es_cluster("no-annotation", [fx.es_set("no-annotation", "default", 3, {})]), ["metadata/annotations"]),
		# a literal zone on a nodeSet that runs anywhere, spread over hosts only
		fx.es_cluster("unpinned", [object.union(fx.es_set("unpinned", "a", 3, {"node.attr.zone": "eu-west-1a"}), {"podTemplate": {"spec": {"topologySpreadConstraints": [
			{"topologyKey": "kubernetes.io/hostname", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"elasticsearch.k8s.elastic.co/cluster-name": "unpinned"}}},
		]}}})]),
	])
}
