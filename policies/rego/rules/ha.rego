# High-availability rules: no single point of failure in nodes, zones or
# workloads. Mandatory in staging and prod, advisory in dev.
package cloudscale.rules.ha

import rego.v1

import data.cloudscale.lib

size(name) := s if {
	some cloud, sizes in data.cloudscale.sizes
	s := sizes[name]
}

# METADATA
# title: At least 3 nodes over at least 3 zones
# description: The guide asks for 3 nodes minimum, spread over 3 availability zones.
# custom:
#   id: CS-HA-001
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "AKS: availabilityZones [1,2,3] and count >= 3 on every pool; GKE: nodeLocations with 3 zones; EKS: node groups over 3 zones (CS-HA-101)."
cs_ha_001 contains f if {
	some r in input.by_type["azure-native:containerservice:ManagedCluster"]
	some p in r.inputs.agentPoolProfiles
	not pool_spread(p)
	f := {"urn": r.urn, "msg": sprintf("AKS %s pool %s has %v nodes over zones %v", [r.name, p.name, object.get(p, "count", 1), object.get(p, "availabilityZones", [])])}
}

pool_spread(p) if {
	count(object.get(p, "availabilityZones", [])) >= 3
	object.get(p, "count", 1) >= 3
}

cs_ha_001 contains f if {
	some r in input.by_type["gcp:container/nodePool:NodePool"]
	zones := count(object.get(r.inputs, "nodeLocations", []))
	not gke_pool_spread(r.inputs, zones)
	f := {"urn": r.urn, "msg": sprintf("node pool %s has %v nodes per zone over %v zones", [r.name, object.get(r.inputs, "nodeCount", 1), zones])}
}

gke_pool_spread(p, zones) if {
	zones >= 3
	object.get(p, "nodeCount", 1) * zones >= 3
}

# METADATA
# title: Nodes have at least 16 GiB of memory and 100 GB of SSD
# description: The guide's per-node minimum; sizes are looked up in the platform's size catalogue.
# custom:
#   id: CS-HA-002
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Choose a size with 16 GiB or more (e.g. m6i.xlarge, Standard_D4s_v5, n2-standard-4) and a 100 GB SSD root volume.
cs_ha_002 contains f if {
	some r in input.by_type["aws:eks/nodeGroup:NodeGroup"]
	some t in r.inputs.instanceTypes
	not size(t).MemoryGiB >= 16
	f := {"urn": r.urn, "msg": sprintf("node group %s uses %s (%v GiB)", [r.name, t, object.get(size(t), "MemoryGiB", "unknown")])}
}

cs_ha_002 contains f if {
	some r in input.by_type["aws:ec2/launchTemplate:LaunchTemplate"]
	some m in object.get(r.inputs, "blockDeviceMappings", [])
	not ssd_100(object.get(m.ebs, "volumeSize", 0), object.get(m.ebs, "volumeType", "gp2"), {"gp3", "gp2", "io1", "io2"})
	f := {"urn": r.urn, "msg": sprintf("launch template %s root volume is %v GB %v", [r.name, object.get(m.ebs, "volumeSize", 0), object.get(m.ebs, "volumeType", "gp2")])}
}

cs_ha_002 contains f if {
	some r in input.by_type["azure-native:containerservice:ManagedCluster"]
	some p in r.inputs.agentPoolProfiles
	not azure_pool_size(p)
	f := {"urn": r.urn, "msg": sprintf("AKS %s pool %s is %v with a %v GB %v OS disk", [r.name, p.name, p.vmSize, object.get(p, "osDiskSizeGB", 0), object.get(p, "osDiskType", "Managed")])}
}

azure_pool_size(p) if {
	size(p.vmSize).MemoryGiB >= 16
	object.get(p, "osDiskSizeGB", 0) >= 100
}

cs_ha_002 contains f if {
	some r in input.by_type["gcp:container/nodePool:NodePool"]
	c := r.inputs.nodeConfig
	not gcp_pool_size(c)
	f := {"urn": r.urn, "msg": sprintf("node pool %s is %v with a %v GB %v disk", [r.name, object.get(c, "machineType", "e2-medium"), object.get(c, "diskSizeGb", 100), object.get(c, "diskType", "pd-balanced")])}
}

gcp_pool_size(c) if {
	size(object.get(c, "machineType", "e2-medium")).MemoryGiB >= 16
	ssd_100(object.get(c, "diskSizeGb", 100), object.get(c, "diskType", "pd-balanced"), {"pd-ssd", "pd-balanced", "hyperdisk-balanced"})
}

ssd_100(gb, kind, ssd) if {
	gb >= 100
	kind in ssd
}

# METADATA
# title: Kubernetes 1.25 or newer
# description: The guide's minimum Kubernetes version.
# custom:
#   id: CS-HA-003
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Set the cluster version to 1.25 or newer.
cs_ha_003 contains f if {
	some t, field in {
		"aws:eks/cluster:Cluster": "version",
		"azure-native:containerservice:ManagedCluster": "kubernetesVersion",
		"gcp:container/cluster:Cluster": "minMasterVersion",
	}
	some r in input.by_type[t]
	v := object.get(r.inputs, field, "")
	v != ""
	parts := split(v, ".")
	to_number(parts[0]) == 1
	to_number(parts[1]) < 25
	f := {"urn": r.urn, "msg": sprintf("cluster %s runs Kubernetes %s", [r.name, v])}
}

# METADATA
# title: Replicas spread over zones and hosts
# description: A workload whose replica floor is 2 or more (its autoscaler's floor when it has one) needs topology spread over zones and hostnames, or pod anti-affinity.
# custom:
#   id: CS-HA-006
#   severity: medium
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Add topologySpreadConstraints on topology.kubernetes.io/zone and kubernetes.io/hostname (or podAntiAffinity).
cs_ha_006 contains f if {
	some r in lib.replicated_workloads
	lib.replicas(r) >= 2
	spec := lib.pod_spec(r)
	not spread(spec)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s has %v replicas and no zone and host spread", [r.inputs.kind, lib.namespace(r), lib.name(r), lib.replicas(r)])}
}

spread(spec) if {
	keys := {c.topologyKey | some c in object.get(spec, "topologySpreadConstraints", [])}
	"topology.kubernetes.io/zone" in keys
	"kubernetes.io/hostname" in keys
}

spread(spec) if count(object.get(spec, ["affinity", "podAntiAffinity"], {})) > 0

# METADATA
# title: Containers have readiness and liveness probes
# description: Without probes, traffic reaches pods that cannot serve and hung pods are never restarted.
# custom:
#   id: CS-HA-007
#   severity: medium
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Add readinessProbe and livenessProbe to every container.
cs_ha_007 contains f if {
	some k in probed_kinds
	some r in input.kinds[k]
	not r.owned_by
	some c in object.get(lib.pod_spec(r), "containers", [])
	some p in ["readinessProbe", "livenessProbe"]
	not c[p]
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s has no %s", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, p])}
}

probed_kinds := lib.scalable_kinds | {"apps/DaemonSet"}

# METADATA
# title: Autoscalers keep at least 3 replicas in prod
# description: An autoscaler (HPA, or KEDA ScaledObject) whose floor is below 3 can scale a prod service to a single zone.
# custom:
#   id: CS-HA-008
#   severity: medium
#   category: ha
#   enforcement: {dev: advisory, staging: advisory, prod: mandatory}
#   fix: Set spec.minReplicas (KEDA ScaledObject spec.minReplicaCount) to 3 or more.
cs_ha_008 contains f if {
	some r in input.kinds["autoscaling/HorizontalPodAutoscaler"]
	not r.owned_by
	n := object.get(r.inputs, ["spec", "minReplicas"], 1)
	n < 3
	f := {"urn": r.urn, "msg": sprintf("HorizontalPodAutoscaler %s/%s has minReplicas %v", [lib.namespace(r), lib.name(r), n])}
}

# KEDA scales to minReplicaCount (default 0) itself and generates the HPA
# (owned by the ScaledObject, so judged here once).
cs_ha_008 contains f if {
	some r in input.kinds["keda.sh/ScaledObject"]
	n := object.get(r.inputs, ["spec", "minReplicaCount"], 0)
	n < 3
	f := {"urn": r.urn, "msg": sprintf("ScaledObject %s/%s has minReplicaCount %v", [lib.namespace(r), lib.name(r), n])}
}

# METADATA
# title: The mesh control plane is replicated
# description: istiod runs at least 2 replicas (and its autoscaler keeps 2), so certificate signing and config push survive a pod or node loss.
# custom:
#   id: CS-HA-010
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Set the istiod chart's replicaCount and autoscaleMin (pilot.replicaCount and pilot.autoscaleMin before Istio 1.24) to 2 or more.
cs_ha_010 contains f if {
	some r in input.by_type["kubernetes:helm.sh/v3:Release"]
	r.inputs.chart == "istiod"
	some key in ["replicaCount", "autoscaleMin"]
	[path, n] := istiod_setting(object.get(r.inputs, "values", {}), key)
	n < 2
	f := {"urn": r.urn, "msg": sprintf("istiod release %s: %s is %v", [r.name, path, n])}
}

# istiod_setting is the value the chart uses: pilot.<key> when set (the
# chart copies pilot values over the top level), else <key> (Istio 1.24
# and later), else the chart's default of 1.
istiod_setting(values, key) := [concat(".", ["pilot", key]), n] if {
	n := object.get(values, ["pilot", key], null)
	n != null
} else := [key, n] if {
	n := object.get(values, key, null)
	n != null
} else := [concat("", [key, " (unset, the chart's default)"]), 1]

# The data tier (issue 14): CloudNativePG clusters and Redis. CS-HA-009
# (failover and WAL archiving), CS-HA-016 (poolers) and CS-HA-110
# (scheduled backups) join several objects, so they are stack rules.

# cnpg_instances: a CloudNativePG cluster's instance count (the CRD's
# default is 1).
cnpg_instances(r) := object.get(r.inputs, ["spec", "instances"], 1)

zone_key := "topology.kubernetes.io/zone"

# METADATA
# title: PostgreSQL instances are spread over zones
# description: A CloudNativePG cluster with standbys requires its instances in different zones (spec.affinity podAntiAffinityType required with topologyKey topology.kubernetes.io/zone), so a zone loss always leaves a standby to promote. The operator's defaults, preferred anti-affinity on kubernetes.io/hostname, let every instance land in one zone.
# custom:
#   id: CS-HA-012
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: advisory, prod: mandatory}
#   fix: Set spec.affinity {enablePodAntiAffinity true, topologyKey topology.kubernetes.io/zone, podAntiAffinityType required} (with at most one instance per zone).
cs_ha_012 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	cnpg_instances(r) >= 2
	msg := cnpg_zone_problem(object.get(r.inputs, ["spec", "affinity"], {}))
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s %s", [lib.namespace(r), lib.name(r), msg])}
}

cnpg_zone_problem(a) := "disables pod anti-affinity (affinity.enablePodAntiAffinity false), so one zone can hold every instance" if {
	a.enablePodAntiAffinity == false
} else := sprintf("has %s pod anti-affinity on %s, not required anti-affinity on %s, so one zone can hold every instance", [type, key, zone_key]) if {
	type := object.get(a, "podAntiAffinityType", "preferred (the default)")
	key := object.get(a, "topologyKey", "kubernetes.io/hostname (the default)")
	not zone_required(type, key)
}

zone_required("required", key) if key == zone_key

# METADATA
# title: Production PostgreSQL commits to a synchronous standby
# description: A CloudNativePG cluster with standbys waits for at least one synchronous standby (spec.postgresql.synchronous.number 1 or more with dataDurability required, the default; or the legacy spec.minSyncReplicas 1 or more), so a failover loses no committed transaction. dataDurability preferred turns replication asynchronous whenever the standbys are down.
# custom:
#   id: CS-HA-013
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: advisory, prod: mandatory}
#   fix: Set spec.postgresql.synchronous {method any, number 1, dataDurability required}.
cs_ha_013 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	cnpg_instances(r) >= 2
	spec := object.get(r.inputs, "spec", {})
	not synchronous_standby(spec)
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s %s, so a failover can lose committed transactions", [lib.namespace(r), lib.name(r), sync_text(spec)])}
}

synchronous_standby(spec) if {
	spec.postgresql.synchronous.number >= 1
	object.get(spec.postgresql.synchronous, "dataDurability", "required") != "preferred"
}

synchronous_standby(spec) if spec.minSyncReplicas >= 1

sync_text(spec) := "replicates with dataDurability preferred, which turns asynchronous when its standbys are down" if {
	spec.postgresql.synchronous.dataDurability == "preferred"
} else := "waits for no synchronous standby (spec.postgresql.synchronous)"

# METADATA
# title: Database backups have a retention policy
# description: Every Barman Cloud ObjectStore, and a CloudNativePG cluster that still archives through the in-tree spec.backup.barmanObjectStore, sets a retention policy (a number of days, weeks or months), so the recovery window is known and the archive does not grow until its bucket or quota is full.
# custom:
#   id: CS-HA-014
#   severity: medium
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Set spec.retentionPolicy (e.g. "30d") on the ObjectStore, or spec.backup.retentionPolicy on a cluster using spec.backup.barmanObjectStore.
cs_ha_014 contains f if {
	some r in input.kinds["barmancloud.cnpg.io/ObjectStore"]
	msg := retention_problem(object.get(r.inputs, ["spec", "retentionPolicy"], ""), "spec.retentionPolicy")
	f := {"urn": r.urn, "msg": sprintf("ObjectStore %s/%s %s", [lib.namespace(r), lib.name(r), msg])}
}

cs_ha_014 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	r.inputs.spec.backup.barmanObjectStore
	msg := retention_problem(object.get(r.inputs, ["spec", "backup", "retentionPolicy"], ""), "spec.backup.retentionPolicy")
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s %s", [lib.namespace(r), lib.name(r), msg])}
}

retention_problem(p, field) := sprintf("sets no %s, so its backups and WAL are kept forever", [field]) if p == ""

# The CRDs' pattern: ^[1-9][0-9]*[dwm]$ (the API server refuses others).
retention_problem(p, field) := sprintf("%s %v is not a number of days, weeks or months (30d, 4w, 1m)", [field, p]) if {
	p != ""
	not regex.match(`^[1-9][0-9]*[dwm]$`, sprintf("%v", [p]))
}

# METADATA
# title: PostgreSQL records query statistics and slow statements
# description: Every CloudNativePG cluster loads pg_stat_statements (a pg_stat_statements.* parameter, which makes the operator preload the library, or shared_preload_libraries) and tracks statements with it, and logs slow statements (log_min_duration_statement set, not -1), so slow queries are found before they take the database down.
# custom:
#   id: CS-HA-015
#   severity: medium
#   category: ha
#   enforcement: {dev: advisory, staging: advisory, prod: mandatory}
#   fix: Set spec.postgresql.parameters pg_stat_statements.max, pg_stat_statements.track (top or all) and log_min_duration_statement (milliseconds, e.g. "1000").
cs_ha_015 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	not pg_stat_statements_loaded(object.get(r.inputs, ["spec", "postgresql"], {}))
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s does not load pg_stat_statements (no pg_stat_statements.* parameter)", [lib.namespace(r), lib.name(r)])}
}

cs_ha_015 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	object.get(r.inputs, ["spec", "postgresql", "parameters", "pg_stat_statements.track"], "top") == "none"
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s tracks no statements (pg_stat_statements.track none)", [lib.namespace(r), lib.name(r)])}
}

cs_ha_015 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	v := sprintf("%v", [object.get(r.inputs, ["spec", "postgresql", "parameters", "log_min_duration_statement"], "unset")])
	v in {"unset", "", "-1"}
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s logs no slow statements (log_min_duration_statement %s)", [lib.namespace(r), lib.name(r), v])}
}

pg_stat_statements_loaded(pg) if {
	some k, _ in object.get(pg, "parameters", {})
	startswith(k, "pg_stat_statements.")
}

pg_stat_statements_loaded(pg) if "pg_stat_statements" in object.get(pg, "shared_preload_libraries", [])

# METADATA
# title: Replicated Redis fails over automatically with a Sentinel majority
# description: A Redis (or Valkey) workload with more than one replica runs Sentinel beside each server (or Redis Cluster mode) so a replica is promoted when the master goes. Its Sentinels, one per pod, number at least 3, and their quorum (the sentinel container's SENTINEL_QUORUM) is a majority of them and no more than there are, so a minority partition cannot declare the master down and a failover can always start.
# custom:
#   id: CS-HA-017
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Run a sentinel container beside redis in each of 3 or more replicas, with SENTINEL_QUORUM a majority of the replicas (2 of 3, 3 of 5).
cs_ha_017 contains f if {
	some r in lib.redis_workloads
	lib.replicas(r) > 1
	count(lib.redis_sentinels(r)) == 0
	not redis_cluster_mode(r)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s runs %v Redis replicas and no Sentinel, so nothing fails over when the master goes (no automatic failover)", [r.inputs.kind, lib.namespace(r), lib.name(r), lib.replicas(r)])}
}

cs_ha_017 contains f if {
	some r in lib.redis_workloads
	count(lib.redis_sentinels(r)) > 0
	lib.replicas(r) < 3
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s runs Sentinel on %v replicas; a Sentinel majority that survives the loss of one needs 3", [r.inputs.kind, lib.namespace(r), lib.name(r), lib.replicas(r)])}
}

cs_ha_017 contains f if {
	some r in lib.redis_workloads
	some s in lib.redis_sentinels(r)
	msg := quorum_problem(sentinel_quorum(s), lib.replicas(r))
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s %s", [r.inputs.kind, lib.namespace(r), lib.name(r), s.name, msg])}
}

sentinel_quorum(s) := sprintf("%v", [object.get(e, "value", "(not a literal value)")]) if {
	e := lib.env_named(s, "SENTINEL_QUORUM")
} else := "unset"

quorum_problem("unset", _) := "sets no SENTINEL_QUORUM"

quorum_problem(q, _) := sprintf("sets SENTINEL_QUORUM %s, not a number", [q]) if {
	q != "unset"
	not regex.match(`^[0-9]+$`, q)
}

quorum_problem(q, n) := sprintf("sets SENTINEL_QUORUM %s of %v sentinels, not a majority: a minority partition can declare the master down", [q, n]) if {
	regex.match(`^[0-9]+$`, q)
	to_number(q) <= n / 2
}

quorum_problem(q, n) := sprintf("sets SENTINEL_QUORUM %s, more than its %v sentinels, so no failover can start", [q, n]) if {
	regex.match(`^[0-9]+$`, q)
	to_number(q) > n
}

# Redis Cluster fails over by itself, without Sentinel.
redis_cluster_mode(r) if {
	some c in lib.redis_servers(r)
	lib.flag_value(lib.command_line(c), "--cluster-enabled") == "yes"
}

# The data tier, part II (issue 15): Percona Server for MongoDB and
# RabbitMQ. CS-HA-023 (dead-letter targets) joins queues with policies,
# bindings and exchanges, so it is a stack rule.

psmdb_kind := "psmdb.percona.com/PerconaServerMongoDB"

psmdb_name(r) := sprintf("PerconaServerMongoDB %s/%s", [lib.namespace(r), lib.name(r)])

# METADATA
# title: MongoDB runs as a sharded cluster of odd replica sets of 3 or more
# description: "A PerconaServerMongoDB cluster is sharded (spec.sharding.enabled) over 2 or more shard replica sets; every replica set (each shard, and the config server set cfg) has 3 or more data-bearing members (size) and an odd number of voting members (size, plus an enabled arbiter in a shard), so it keeps a majority and a copy through the loss of one member or zone and cannot split into two equal halves; and 3 or more mongos routers keep the cluster reachable through a zone loss. Without spec.unsafeFlags.replsetSize the operator refuses an even set rather than fixing it."
# custom:
#   id: CS-HA-018
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Set spec.sharding {enabled: true, configsvrReplSet: {size: 3, ...}, mongos: {size: 3, ...}} and give spec.replsets 2 or more entries of size 3 (or 5), without an arbiter."
cs_ha_018 contains f if {
	some r in input.kinds[psmdb_kind]
	not lib.psmdb_sharded(object.get(r.inputs, "spec", {}))
	f := {"urn": r.urn, "msg": sprintf("%s is not sharded (spec.sharding.enabled is not true): one replica set holds all its data", [psmdb_name(r)])}
}

cs_ha_018 contains f if {
	some r in input.kinds[psmdb_kind]
	spec := object.get(r.inputs, "spec", {})
	lib.psmdb_sharded(spec)
	shards := [s.what | some s in lib.psmdb_sets(spec); s.arbiter]
	count(shards) < 2
	f := {"urn": r.urn, "msg": sprintf("%s is sharded over %v shard replica sets%s; a sharded cluster spreads its data over 2 or more", [psmdb_name(r), count(shards), listed(shards)])}
}

cs_ha_018 contains f if {
	some r in input.kinds[psmdb_kind]
	spec := object.get(r.inputs, "spec", {})
	lib.psmdb_sharded(spec)
	count(lib.psmdb_config_set(spec)) == 0
	f := {"urn": r.urn, "msg": sprintf("%s enables sharding without a config server replica set (spec.sharding.configsvrReplSet), which the operator refuses", [psmdb_name(r)])}
}

cs_ha_018 contains f if {
	some r in input.kinds[psmdb_kind]
	some s in lib.psmdb_sets(object.get(r.inputs, "spec", {}))
	msg := psmdb_size_problem(s)
	f := {"urn": r.urn, "msg": sprintf("%s %s", [psmdb_name(r), msg])}
}

cs_ha_018 contains f if {
	some r in input.kinds[psmdb_kind]
	spec := object.get(r.inputs, "spec", {})
	lib.psmdb_sharded(spec)
	n := object.get(spec, ["sharding", "mongos", "size"], 0)
	n < 3
	f := {"urn": r.urn, "msg": sprintf("%s runs %v mongos routers (spec.sharding.mongos.size); 3 or more, one per zone, keep the cluster reachable through a zone loss", [psmdb_name(r), n])}
}

listed(names) := sprintf(" (%s)", [concat(", ", names)]) if count(names) > 0

listed(names) := "" if count(names) == 0

psmdb_size_problem(s) := sprintf("%s has size %v; 3 or more data-bearing members keep a majority and a copy through the loss of one", [s.what, n]) if {
	n := object.get(s.set, "size", 0)
	n < 3
} else := sprintf("%s has %s: an even number of voting members tolerates no more failures than one fewer and can split into two equal halves, neither with a majority", [s.what, voters_text(s)]) if {
	psmdb_voters(s) % 2 == 0
}

psmdb_arbiters(s) := object.get(s.set, ["arbiter", "size"], 1) if {
	s.arbiter
	s.set.arbiter.enabled == true
} else := 0

psmdb_voters(s) := object.get(s.set, "size", 0) + psmdb_arbiters(s)

voters_text(s) := sprintf("size %v (%v voting members)", [s.set.size, psmdb_voters(s)]) if {
	psmdb_arbiters(s) == 0
} else := sprintf("size %v and %v arbiter (%v voting members)", [s.set.size, psmdb_arbiters(s), psmdb_voters(s)])

# METADATA
# title: MongoDB keeps one member of each replica set per zone
# description: "Each replica set of a PerconaServerMongoDB cluster (every shard and the config server set) and its mongos routers are spread over zones, so a zone loss takes at most one member of each: affinity.antiAffinityTopologyKey topology.kubernetes.io/zone (the operator's required pod anti-affinity on that key), or affinity.advanced with a required pod anti-affinity term on the zone (advanced replaces antiAffinityTopologyKey), or a topologySpreadConstraint on the zone with whenUnsatisfiable DoNotSchedule and maxSkew 1 (the operator's defaults for both when unset). The operator's default is anti-affinity on kubernetes.io/hostname, which lets a whole set land in one zone; since operator 1.16 it replaces any key other than kubernetes.io/hostname, topology.kubernetes.io/zone, topology.kubernetes.io/region and none with the hostname."
# custom:
#   id: CS-HA-019
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: advisory, prod: mandatory}
#   fix: "Set affinity.antiAffinityTopologyKey: topology.kubernetes.io/zone on every spec.replsets entry, on spec.sharding.configsvrReplSet and on spec.sharding.mongos (with no more members per set than zones), or a topologySpreadConstraint {topologyKey: topology.kubernetes.io/zone, maxSkew: 1, whenUnsatisfiable: DoNotSchedule} on each."
cs_ha_019 contains f if {
	some r in input.kinds[psmdb_kind]
	some c in psmdb_zone_components(object.get(r.inputs, "spec", {}))
	c.size >= 2
	not psmdb_zone_spread(c.spec)
	f := {"urn": r.urn, "msg": sprintf("%s %s (%v members) has no zone spread: %s, and no topologySpreadConstraint on %s has whenUnsatisfiable DoNotSchedule and maxSkew 1, so one zone can hold a majority of it", [psmdb_name(r), c.what, c.size, psmdb_affinity_text(c.spec), zone_key])}
}

psmdb_zone_components(spec) := array.concat(
	[{"what": s.what, "size": object.get(s.set, "size", 0), "spec": s.set} | some s in lib.psmdb_sets(spec)],
	psmdb_mongos(spec),
)

psmdb_mongos(spec) := [{"what": "mongos", "size": object.get(spec.sharding.mongos, "size", 0), "spec": spec.sharding.mongos}] if {
	lib.psmdb_sharded(spec)
	is_object(spec.sharding.mongos)
} else := []

psmdb_zone_spread(m) if {
	some c in object.get(m, "topologySpreadConstraints", [])
	c.topologyKey == zone_key
	object.get(c, "whenUnsatisfiable", "DoNotSchedule") in {"DoNotSchedule", ""}
	object.get(c, "maxSkew", 1) in {0, 1}
}

psmdb_zone_spread(m) if {
	psmdb_advanced(m)
	some t in object.get(m, ["affinity", "advanced", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"], [])
	t.topologyKey == zone_key
}

psmdb_zone_spread(m) if {
	not psmdb_advanced(m)
	psmdb_topology_key(m) == zone_key
}

psmdb_advanced(m) if object.get(m, ["affinity", "advanced"], null) != null

# psmdb_topology_key: the key of the required anti-affinity the operator
# builds from antiAffinityTopologyKey (kubernetes.io/hostname when unset or
# not one it supports; none turns it off).
psmdb_topology_key(m) := k if {
	k := object.get(m, ["affinity", "antiAffinityTopologyKey"], "")
	k in {"none", "kubernetes.io/hostname", zone_key, "topology.kubernetes.io/region"}
} else := "kubernetes.io/hostname"

psmdb_affinity_text(m) := sprintf("affinity.advanced (which replaces antiAffinityTopologyKey) requires no pod anti-affinity on %s", [zone_key]) if {
	psmdb_advanced(m)
} else := "its pod anti-affinity is off (antiAffinityTopologyKey none)" if {
	psmdb_topology_key(m) == "none"
} else := "its pod anti-affinity is on kubernetes.io/hostname (the operator's default)" if {
	object.get(m, ["affinity", "antiAffinityTopologyKey"], "") == ""
} else := sprintf("its pod anti-affinity is on kubernetes.io/hostname (the operator replaces antiAffinityTopologyKey %v, which it does not support)", [m.affinity.antiAffinityTopologyKey]) if {
	m.affinity.antiAffinityTopologyKey != psmdb_topology_key(m)
} else := sprintf("its pod anti-affinity is on %s", [psmdb_topology_key(m)])

# METADATA
# title: MongoDB backups are scheduled, retained and allow point-in-time recovery
# description: "A PerconaServerMongoDB cluster enables backups (spec.backup.enabled) to at least one storage (spec.backup.storages; with several, exactly one marked main: true, where the operator keeps the oplog), saves the oplog for point-in-time recovery (spec.backup.pitr.enabled), and has an enabled backup task with a schedule; every scheduled task names a declared storage (storageName may be left out when there is exactly one) and keeps a bounded number of backups (retention.count, or the deprecated keep, 1 or more; retention counts from crVersion 1.21.0). Without a full backup PBM uploads no oplog, so point-in-time recovery needs both."
# custom:
#   id: CS-HA-020
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Set spec.backup {enabled: true, storages: {<name>: {type: s3, s3: {bucket, prefix, region, credentialsSecret}}}, pitr: {enabled: true, oplogSpanMin: 10}, tasks: [{name: daily, enabled: true, schedule: '0 3 * * *', storageName: <name>, type: physical, retention: {type: count, count: 7, deleteFromStorage: true}}]}."
cs_ha_020 contains f if {
	some r in input.kinds[psmdb_kind]
	spec := object.get(r.inputs, "spec", {})
	some msg in psmdb_backup_problems(object.get(spec, "backup", {}), spec)
	f := {"urn": r.urn, "msg": sprintf("%s %s", [psmdb_name(r), msg])}
}

psmdb_backup_problems(b, _) := {"takes no backups (spec.backup.enabled is not true), so it has neither backups nor point-in-time recovery"} if {
	not b.enabled == true
}

psmdb_backup_problems(b, spec) := (storage_problems(b) | pitr_problems(b)) | task_problems(b, spec) if b.enabled == true

backup_storages(b) := s if {
	s := object.get(b, "storages", {})
	is_object(s)
} else := {}

storage_problems(b) := {"declares no backup storage (spec.backup.storages)"} if {
	count(backup_storages(b)) == 0
} else := {sprintf("declares %v backup storages (%s) and marks %v of them main: true; with several storages the operator needs exactly one main storage, which holds the oplog for point-in-time recovery", [count(names), concat(", ", names), count(mains)])} if {
	names := sort(object.keys(backup_storages(b)))
	count(names) > 1
	mains := [n | some n, s in backup_storages(b); s.main == true]
	count(mains) != 1
} else := set()

pitr_problems(b) := {"does not save the oplog for point-in-time recovery (spec.backup.pitr.enabled)"} if {
	not b.pitr.enabled == true
} else := set()

scheduled_tasks(b) := [t |
	some t in object.get(b, "tasks", [])
	t.enabled == true
	object.get(t, "schedule", "") != ""
]

task_problems(b, _) := {"schedules no backup (no spec.backup.tasks entry is enabled with a schedule)"} if {
	count(scheduled_tasks(b)) == 0
}

task_problems(b, spec) := {msg | some t in scheduled_tasks(b); msg := task_storage_problem(t, b)} | {msg | some t in scheduled_tasks(b); msg := task_retention_problem(t, spec)} if {
	count(scheduled_tasks(b)) > 0
}

task_storage_problem(t, b) := sprintf("backup task %v names storage %v, which spec.backup.storages does not declare", [t.name, t.storageName]) if {
	object.get(t, "storageName", "") != ""
	not backup_storages(b)[t.storageName]
} else := sprintf("backup task %v names no storage (storageName) and spec.backup.storages declares %v", [t.name, count(backup_storages(b))]) if {
	object.get(t, "storageName", "") == ""
	count(backup_storages(b)) > 1
}

task_retention_problem(t, spec) := sprintf("backup task %v keeps every backup (%s), so its storage grows without bound", [t.name, retention_text(t, spec)]) if {
	task_keeps(t, spec) < 1
}

# task_keeps: how many backups the operator keeps for a task: retention.count
# when retention is set (from crVersion 1.21.0), else the deprecated keep;
# 0 keeps them all.
task_keeps(t, spec) := object.get(t, ["retention", "count"], 0) if {
	retention_read(t, spec)
} else := object.get(t, "keep", 0)

retention_read(t, spec) if {
	is_object(t.retention)
	not old_cr(spec)
}

old_cr(spec) if {
	semver.is_valid(spec.crVersion)
	semver.compare(spec.crVersion, "1.21.0") < 0
}

retention_text(t, spec) := sprintf("retention.count %v", [object.get(t, ["retention", "count"], 0)]) if {
	retention_read(t, spec)
} else := sprintf("crVersion %v reads keep, not retention, and keep is %v", [spec.crVersion, object.get(t, "keep", 0)]) if {
	is_object(t.retention)
} else := "no retention.count or keep"

# METADATA
# title: RabbitMQ clusters run an odd number of nodes spread over zones
# description: "A RabbitmqCluster runs an odd number of replicas (an even cluster tolerates no more failures than the odd number below it and can split into two halves, neither with the majority quorum queues need), and, when it runs 2 or more, spreads them over zones: a topologySpreadConstraint on topology.kubernetes.io/zone with whenUnsatisfiable DoNotSchedule and maxSkew 1 in spec.override.statefulSet.spec.template.spec, or a required pod anti-affinity on the zone in spec.affinity or the override's affinity, whose labelSelector selects the cluster's pods (app.kubernetes.io/name: <cluster>). The constraint the operator adds by default (topology.kubernetes.io/zone, whenUnsatisfiable ScheduleAnyway) only prefers a spread, so every node may still land in one zone; a constraint on the same key in the override is merged into it (a strategic merge on topologyKey), so it needs only whenUnsatisfiable DoNotSchedule. (CS-HA-004 asks for 3 or more replicas.)"
# custom:
#   id: CS-HA-021
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Set spec.replicas to 3 (or 5) and spec.override.statefulSet.spec.template.spec.topologySpreadConstraints [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app.kubernetes.io/name: <cluster>}}}]."
cs_ha_021 contains f if {
	some r in input.kinds["rabbitmq.com/RabbitmqCluster"]
	n := rabbit_replicas(r)
	n >= 2
	n % 2 == 0
	f := {"urn": r.urn, "msg": sprintf("RabbitmqCluster %s/%s runs %v replicas: an even cluster tolerates no more failures than %v and can split into two halves of %v, neither with a majority", [lib.namespace(r), lib.name(r), n, n - 1, n / 2])}
}

cs_ha_021 contains f if {
	some r in input.kinds["rabbitmq.com/RabbitmqCluster"]
	n := rabbit_replicas(r)
	n >= 2
	not rabbit_zone_spread(r)
	f := {"urn": r.urn, "msg": sprintf("RabbitmqCluster %s/%s runs %v replicas and no zone spread (no topologySpreadConstraint on %s with DoNotSchedule and maxSkew 1 in spec.override.statefulSet.spec.template.spec, and no required pod anti-affinity on the zone, selecting its pods); the operator's own zone constraint only prefers a spread (ScheduleAnyway), so one zone can hold a majority", [lib.namespace(r), lib.name(r), n, zone_key])}
}

rabbit_replicas(r) := object.get(r.inputs, ["spec", "replicas"], 1)

rabbit_pod_spec(r) := object.get(r.inputs, ["spec", "override", "statefulSet", "spec", "template", "spec"], {})

# The operator's own constraint on the zone prefers a spread
# (ScheduleAnyway); the override's constraint on the same key is merged
# into it (a strategic merge on topologyKey), so what the override leaves
# out (maxSkew, whenUnsatisfiable, the labelSelector) comes from it.
rabbit_default_zone_constraint(r) := {
	"maxSkew": 1, "topologyKey": zone_key, "whenUnsatisfiable": "ScheduleAnyway",
	"labelSelector": {"matchLabels": {"app.kubernetes.io/name": lib.name(r)}},
}

rabbit_zone_spread(r) if {
	some override in object.get(rabbit_pod_spec(r), "topologySpreadConstraints", [])
	override.topologyKey == zone_key
	c := object.union(rabbit_default_zone_constraint(r), override)
	c.whenUnsatisfiable == "DoNotSchedule"
	c.maxSkew == 1
	lib.selects(c.labelSelector, lib.rabbit_pod_labels(r))
}

rabbit_zone_spread(r) if {
	some a in [object.get(r.inputs, ["spec", "affinity"], {}), object.get(rabbit_pod_spec(r), "affinity", {})]
	some t in object.get(a, ["podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"], [])
	t.topologyKey == zone_key
	lib.selects(t.labelSelector, lib.rabbit_pod_labels(r))
}

# METADATA
# title: RabbitMQ queues are replicated (quorum queues)
# description: "Every Queue is a quorum queue (spec.type quorum, or arguments x-queue-type quorum when spec.type is unset; spec.type wins when both are set): a classic queue lives on one node, so its messages are unavailable, or lost, with that node. A queue without a type takes the vhost's default, classic unless the vhost sets another, so the type is asked for explicitly. Streams are accepted: they are replicated over a Raft log like quorum queues. RabbitMQ refuses a quorum queue or stream declared with durable false or autoDelete true."
# custom:
#   id: CS-HA-022
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Set spec.type: quorum and spec.durable: true (and leave autoDelete unset) on every Queue; configure limits through a Policy (delivery-limit, dead-letter-exchange) rather than arguments."
cs_ha_022 contains f if {
	some r in input.kinds["rabbitmq.com/Queue"]
	msg := queue_type_problem(r, lib.rabbit_queue_type(r))
	f := {"urn": r.urn, "msg": sprintf("Queue %s/%s (%s) %s", [lib.namespace(r), lib.name(r), queue_text(r), msg])}
}

queue_text(r) := sprintf("queue %v in vhost %v", [object.get(r.inputs, ["spec", "name"], lib.name(r)), lib.rabbit_vhost(r)])

queue_type_problem(_, "") := "sets no type (spec.type, or arguments x-queue-type), so it takes the vhost's default type, a classic queue unless the vhost sets another: a classic queue lives on one node and is lost with it"

queue_type_problem(_, t) := sprintf("is a %s queue, not a quorum queue: it lives on one node and is lost with it", [t]) if {
	t != ""
	not t in {"quorum", "stream"}
}

queue_type_problem(r, t) := sprintf("is a %s queue declared with durable false, which RabbitMQ refuses", [t]) if {
	t in {"quorum", "stream"}
	r.inputs.spec.durable == false
}

queue_type_problem(r, t) := sprintf("is a %s queue declared with autoDelete true, which RabbitMQ refuses", [t]) if {
	t in {"quorum", "stream"}
	r.inputs.spec.autoDelete == true
	not r.inputs.spec.durable == false
}

# The monitoring tier (issue 16): the prometheus-operator's Prometheus and
# Alertmanager (monitoring.coreos.com/v1, operator 0.92) and ECK's
# Elasticsearch (elasticsearch.k8s.elastic.co/v1, ECK 3.5), read the way
# the operators build their pods.

# METADATA
# title: Prometheus and Alertmanager are replicated over zones
# description: "A Prometheus runs 2 or more replicas (spec.replicas; the operator runs 1 when it is unset), each scraping every target and evaluating every rule, so metrics and alerts survive the loss of a pod, a node or a zone. An Alertmanager runs 2 or more (the operator runs 2 or more as a cluster, in high-availability mode): its replicas gossip silences and which notifications went out and any one of them notifies, so it is no quorum and 2 survive the loss of one. Both spread their replicas over zones: a topologySpreadConstraint on topology.kubernetes.io/zone whose labelSelector selects their pods (for a Prometheus, additionalLabelSelectors OnResource or OnShard has the operator add its own selector labels), or a required pod anti-affinity on the zone selecting them. Their pods carry spec.podMetadata.labels under the operator's own: app.kubernetes.io/name prometheus (alertmanager), app.kubernetes.io/managed-by prometheus-operator, and app.kubernetes.io/instance and prometheus (alertmanager) the object's name."
# custom:
#   id: CS-HA-024
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Set spec.replicas 2 or more on the Prometheus (3 on the Alertmanager, one per zone) and spec.topologySpreadConstraints [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app.kubernetes.io/name: prometheus, prometheus: <name>}}}] (on an Alertmanager: app.kubernetes.io/name alertmanager, alertmanager: <name>)."
cs_ha_024 contains f if {
	some k, want in monitoring_replicas
	some r in object.get(input.kinds, k, [])
	n := object.get(r.inputs, ["spec", "replicas"], 1)
	n < want.replicas
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s runs %v %s (spec.replicas, 1 when unset): %s", [lib.kind_name(r), lib.namespace(r), lib.name(r), n, plural(n, "replica"), want.lost])}
}

cs_ha_024 contains f if {
	some k, _ in monitoring_replicas
	some r in object.get(input.kinds, k, [])
	n := object.get(r.inputs, ["spec", "replicas"], 1)
	n >= 2
	not pods_zone_spread(object.get(r.inputs, "spec", {}), monitoring_pod_labels(r))
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s runs %v replicas and no zone spread (no topologySpreadConstraint on %s selecting its pods, and no required pod anti-affinity on the zone), so one zone can hold every replica", [lib.kind_name(r), lib.namespace(r), lib.name(r), n, zone_key])}
}

monitoring_replicas := {
	"monitoring.coreos.com/Prometheus": {"replicas": 2, "lost": "losing its pod or its node stops scraping and alert evaluation"},
	"monitoring.coreos.com/Alertmanager": {"replicas": 2, "lost": "while its pod is down, alerts fire and no notification is sent"},
}

monitoring_pod_labels(r) := lib.prometheus_pod_labels(r) if r.kind == "monitoring.coreos.com/Prometheus"

monitoring_pod_labels(r) := lib.alertmanager_pod_labels(r) if r.kind == "monitoring.coreos.com/Alertmanager"

plural(1, word) := word

plural(n, word) := concat("", [word, "s"]) if n != 1

# pods_zone_spread(spec, labels): a pod spec (or an operator's spec with
# the same fields) spreads the pods that carry labels over zones: a
# topologySpreadConstraint on the zone whose labelSelector selects them
# (with the prometheus-operator's additionalLabelSelectors the operator
# adds the pods' own labels to it), or a required pod anti-affinity term
# on the zone selecting them. A constraint or term without a selector
# counts no pod.
pods_zone_spread(spec, labels) if {
	some c in object.get(spec, "topologySpreadConstraints", [])
	c.topologyKey == zone_key
	lib.selects(spread_selector(c), labels)
}

pods_zone_spread(spec, labels) if {
	some t in object.get(spec, ["affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"], [])
	t.topologyKey == zone_key
	lib.selects(t.labelSelector, labels)
}

spread_selector(c) := object.get(c, "labelSelector", {}) if {
	c.additionalLabelSelectors in {"OnResource", "OnShard"}
} else := c.labelSelector

es_kind := "elasticsearch.k8s.elastic.co/Elasticsearch"

es_name(r) := sprintf("Elasticsearch %s/%s", [lib.namespace(r), lib.name(r)])

# METADATA
# title: Elasticsearch keeps a master quorum and its shard copies in different zones
# description: "An ECK Elasticsearch has 3 or more master-eligible nodes, an odd number (the sum of count over the nodeSets whose node.roles include master, or which set no node.roles: a node has every role by default): the cluster elects a master and changes its state only while a majority of them runs, and with an even number Elasticsearch leaves one out of the voting configuration, which then tolerates no more failures than one node fewer. Its shard copies are kept in different zones by shard allocation awareness: cluster.routing.allocation.awareness.attributes on every master-eligible nodeSet names an attribute (other than ECK's own k8s_node_name, a host) that every nodeSet holding data sets to its zone in node.attr.<attribute>: a ${VAR} placeholder read from the elasticsearch container's env VAR, valueFrom fieldRef metadata.annotations['topology.kubernetes.io/zone'], which ECK fills only when the object's eck.k8s.elastic.co/downward-node-labels annotation lists topology.kubernetes.io/zone; or a literal zone on a nodeSet pinned to it (podTemplate nodeSelector, or a required node affinity In that zone); or a nodeSet's zoneAwareness (ECK 3.5), which configures all of it for the cluster. Config keys are read flat (node.roles) or nested (node: {roles}), as ECK reads them. Every nodeSet of 2 or more nodes spreads them over zones: zoneAwareness, or in podTemplate.spec a topologySpreadConstraint on topology.kubernetes.io/zone or a required pod anti-affinity on the zone whose labelSelector selects its pods (elasticsearch.k8s.elastic.co/cluster-name: <name>, elasticsearch.k8s.elastic.co/statefulset-name: <name>-es-<nodeSet>, and the podTemplate's labels)."
# custom:
#   id: CS-HA-025
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: "Run 3 master-eligible nodes (node.roles [master, data, ingest] in a nodeSet of count 3, or a dedicated master nodeSet of 3); annotate the Elasticsearch eck.k8s.elastic.co/downward-node-labels: topology.kubernetes.io/zone, set config {node.attr.zone: ${ZONE}, cluster.routing.allocation.awareness.attributes: k8s_node_name,zone} on every nodeSet with env ZONE from fieldRef metadata.annotations['topology.kubernetes.io/zone'] on the elasticsearch container (or set zoneAwareness: {} on each nodeSet), and a topologySpreadConstraint {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {elasticsearch.k8s.elastic.co/cluster-name: <name>}}}."
cs_ha_025 contains f if {
	some r in input.kinds[es_kind]
	msg := es_quorum_problem(es_masters(r))
	f := {"urn": r.urn, "msg": sprintf("%s %s", [es_name(r), msg])}
}

cs_ha_025 contains f if {
	some r in input.kinds[es_kind]
	count(es_masters(r)) > 0
	count(es_aware_attributes(r)) == 0
	f := {"urn": r.urn, "msg": sprintf("%s is not zone aware: no attribute in cluster.routing.allocation.awareness.attributes of every master-eligible nodeSet (%s) but ECK's k8s_node_name (a host), so a shard and its replica can share a zone", [es_name(r), concat(", ", es_set_names(es_masters(r)))])}
}

cs_ha_025 contains f if {
	some r in input.kinds[es_kind]
	attrs := es_aware_attributes(r)
	count(attrs) > 0
	some set in es_sets(r)
	es_holds_data(set)
	not es_zone_attribute(r, set, attrs)
	f := {"urn": r.urn, "msg": sprintf("%s nodeSet %v gives its nodes no zone in the awareness attribute (%s): a ${VAR} value needs env VAR from fieldRef metadata.annotations['%s'] on the elasticsearch container and the eck.k8s.elastic.co/downward-node-labels annotation listing %s; a literal one needs the nodeSet pinned to that zone", [es_name(r), set.name, concat(", ", sort([sprintf("node.attr.%s %s", [a, es_attr_text(r, set, a)]) | some a in attrs])), zone_key, zone_key])}
}

cs_ha_025 contains f if {
	some r in input.kinds[es_kind]
	some set in es_sets(r)
	set.count >= 2
	not es_nodeset_spread(set.spec, lib.es_nodeset_labels(r, set.spec))
	f := {"urn": r.urn, "msg": sprintf("%s nodeSet %v runs %v nodes and no zone spread (zoneAwareness, or a topologySpreadConstraint on %s or a required pod anti-affinity on the zone selecting its pods), so one zone can hold all of them", [es_name(r), set.name, set.count, zone_key])}
}

# es_sets: the nodeSets that run nodes, each with its name, count, flat
# settings and spec.
es_sets(r) := [{"name": object.get(s, "name", sprintf("%d", [i])), "count": object.get(s, "count", 0), "settings": es_settings(s), "spec": s} |
	some i, s in object.get(r.inputs, ["spec", "nodeSets"], [])
	object.get(s, "count", 0) > 0
]

es_set_names(sets) := [s.name | some s in sets]

# es_settings: a nodeSet's config as flat "a.b.c" keys, whether written flat
# ("node.roles") or nested (node: {roles}), as ECK's canonical config reads
# both: a set of [key, value] pairs (a key written both ways is ambiguous
# and reads as unset).
es_settings(s) := {[concat(".", path), v] |
	cfg := object.get(s, "config", {})
	is_object(cfg)
	walk(cfg, [path, v])
	count(path) > 0
	every p in path {
		is_string(p)
	}
	not is_object(v)
}

es_setting(set, key) := v if {
	vs := {v | some [k, v] in set.settings; k == key}
	count(vs) == 1
	some v in vs
}

# es_roles: the node.roles of a nodeSet (a list, or a comma-separated
# string); undefined when unset (every role).
es_roles(set) := {sprintf("%v", [x]) | some x in v} if {
	v := es_setting(set, "node.roles")
	is_array(v)
} else := {trim_space(x) | some x in split(v, ","); trim_space(x) != ""} if {
	v := es_setting(set, "node.roles")
	is_string(v)
}

es_master(set) if not es_roles(set)

es_master(set) if "master" in es_roles(set)

es_holds_data(set) if not es_roles(set)

es_holds_data(set) if {
	some role in es_roles(set)
	startswith(role, "data")
}

es_masters(r) := [s | some s in es_sets(r); es_master(s)]

es_quorum_problem(masters) := "has no master-eligible node (every nodeSet sets node.roles without master), so it cannot elect a master" if {
	count(masters) == 0
} else := sprintf("has %v master-eligible %s (%s): a quorum of fewer than 3 is lost with any one of them", [n, plural(n, "node"), es_masters_text(masters)]) if {
	n := sum([s.count | some s in masters])
	n < 3
} else := sprintf("has %v master-eligible nodes (%s), an even number: Elasticsearch leaves one out of the voting configuration, so it tolerates no more failures than %v nodes", [n, es_masters_text(masters), n - 1]) if {
	n := sum([s.count | some s in masters])
	n % 2 == 0
}

es_masters_text(masters) := concat(", ", [sprintf("nodeSet %v: %v", [s.name, s.count]) | some s in masters])

# es_zone_aware: a nodeSet of the cluster sets zoneAwareness (ECK 3.5),
# so ECK adds node.attr.zone ${ZONE} (with the env ZONE from the zone
# label) and awareness attributes k8s_node_name,zone to every nodeSet.
es_zone_aware(r) if {
	some s in object.get(r.inputs, ["spec", "nodeSets"], [])
	is_object(s.zoneAwareness)
}

# es_attributes: the awareness attributes a nodeSet's nodes use: its own
# setting, else ECK's (k8s_node_name, and zone with zoneAwareness).
es_attributes(r, set) := {trim_space(a) | some a in split(v, ","); trim_space(a) != ""} if {
	v := es_setting(set, "cluster.routing.allocation.awareness.attributes")
	is_string(v)
} else := {sprintf("%v", [a]) | some a in v} if {
	v := es_setting(set, "cluster.routing.allocation.awareness.attributes")
	is_array(v)
} else := {"k8s_node_name", "zone"} if {
	es_zone_aware(r)
} else := {"k8s_node_name"}

# es_aware_attributes: the attributes every master-eligible nodeSet is
# aware of (the elected master's static setting applies), without ECK's
# host attribute.
es_aware_attributes(r) := attrs if {
	masters := es_masters(r)
	count(masters) > 0
	attrs := intersection({es_attributes(r, s) | some s in masters}) - {"k8s_node_name"}
}

es_attr(r, set, a) := v if {
	v := es_setting(set, concat(".", ["node.attr", a]))
} else := "${ZONE}" if {
	a == "zone"
	es_zone_aware(r)
}

es_attr_text(r, set, a) := sprintf("is %v", [es_attr(r, set, a)]) if es_attr(r, set, a)

es_attr_text(r, set, a) := "is unset" if not es_attr(r, set, a)

es_zone_attribute(r, set, attrs) if {
	some a in attrs
	es_zone_value(r, set, es_attr(r, set, a))
}

# A ${VAR} placeholder: ECK's own ZONE with zoneAwareness, or an env var of
# the elasticsearch container read from the zone annotation ECK copies from
# the node's label.
es_zone_value(r, _, "${ZONE}") if es_zone_aware(r)

es_zone_value(r, set, v) if {
	[[_, var]] := regex.find_all_string_submatch_n(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`, v, 1)
	some c in object.get(set.spec, ["podTemplate", "spec", "containers"], [])
	c.name == "elasticsearch"
	e := lib.env_named(c, var)
	replace(object.get(e, ["valueFrom", "fieldRef", "fieldPath"], ""), "\"", "'") == sprintf("metadata.annotations['%s']", [zone_key])
	zone_key in es_downward_labels(r)
}

# A literal zone, on a nodeSet pinned to that zone.
es_zone_value(_, set, v) if {
	is_string(v)
	not contains(v, "${")
	object.get(set.spec, ["podTemplate", "spec", "nodeSelector", zone_key], "") == v
}

es_zone_value(_, set, v) if {
	is_string(v)
	not contains(v, "${")
	terms := object.get(set.spec, ["podTemplate", "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"], [])
	count(terms) > 0
	every t in terms {
		some e in object.get(t, "matchExpressions", [])
		e.key == zone_key
		e.operator == "In"
		e.values == [v]
	}
}

es_downward_labels(r) := {trim_space(l) | some l in split(object.get(r.inputs, ["metadata", "annotations", "eck.k8s.elastic.co/downward-node-labels"], ""), ",")}

es_nodeset_spread(s, _) if is_object(s.zoneAwareness)

es_nodeset_spread(s, labels) if pods_zone_spread(object.get(s, ["podTemplate", "spec"], {}), labels)
