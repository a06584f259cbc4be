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
# title: Databases are replicated with automatic failover and point-in-time recovery
# description: A CloudNativePG cluster needs replicas to fail over to and WAL archiving for point-in-time recovery.
# custom:
#   id: CS-HA-009
#   severity: high
#   category: ha
#   enforcement: {dev: advisory, staging: mandatory, prod: mandatory}
#   fix: Set spec.instances >= 2 and spec.backup.barmanObjectStore (WAL archive), and schedule backups (CS-HA-110).
cs_ha_009 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	object.get(r.inputs, ["spec", "instances"], 1) < 2
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s has no replica to fail over to", [lib.namespace(r), lib.name(r)])}
}

cs_ha_009 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	not r.inputs.spec.backup.barmanObjectStore
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s archives no WAL, so it has no point-in-time recovery", [lib.namespace(r), lib.name(r)])}
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
