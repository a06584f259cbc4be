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
