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

# An in-tree cluster backed up with the default method, and the platform's
# plugin cluster backed up through the plugin.
test_cs_ha_110_pass if {
	count(st.cs_ha_110) == 0 with input as fx.kube(array.concat(fx.data_tier, [
		object.union(pg, {"spec": {"backup": {"barmanObjectStore": {"destinationPath": "s3://b/pg"}}}}),
		{"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup", "metadata": {"name": "daily", "namespace": "data"}, "spec": {"cluster": {"name": "pg"}, "schedule": "0 0 2 * * *"}},
	]))
}

test_cs_ha_110_fail if {
	st.cs_ha_110 == {{"urn": "urn:pg", "msg": "Cluster data/pg has no ScheduledBackup"}} with input as fx.kube([pg])
}

backup(name, spec) := object.union(fx.scheduled_backup, {"metadata": {"name": name}, "spec": spec})

# ScheduledBackups that cannot run: a plugin backup naming no plugin, or
# one the cluster does not load, and the default method on a cluster that
# archives through the plugin.
test_cs_ha_110_fail_method if {
	st.cs_ha_110 == {
		{"urn": "urn:no-plugin", "msg": "ScheduledBackup cloudscale/no-plugin uses method plugin but names no plugin (spec.pluginConfiguration.name), so it takes no backup"},
		{"urn": "urn:other-plugin", "msg": "ScheduledBackup cloudscale/other-plugin backs up Cluster postgres-app through plugin pgbackrest.dalibo.com, which the cluster does not load (spec.plugins)"},
		{"urn": "urn:default-method", "msg": "ScheduledBackup cloudscale/default-method backs up Cluster postgres-app with method barmanObjectStore (the default), but the cluster has no spec.backup.barmanObjectStore (use method plugin)"},
	} with input as fx.kube([
		fx.pg_cluster,
		fx.scheduled_backup,
		backup("no-plugin", {"pluginConfiguration": {"name": ""}}),
		backup("other-plugin", {"pluginConfiguration": {"name": "pgbackrest.dalibo.com"}}),
		json.remove(backup("default-method", {}), ["spec/method", "spec/pluginConfiguration"]),
	])
}

# CS-HA-004 owns the 3-instance floor of CloudNativePG clusters (staging
# and prod; CS-HA-009 reports fewer than 2 everywhere).
test_cs_ha_004_fail_cnpg if {
	st.cs_ha_004 == {{"urn": "urn:postgres-app", "msg": "Cluster cloudscale/postgres-app has 2 instances"}} with input as fx.kube([fx.with_pg({"instances": 2})])
}

# CS-HA-009: failover, and WAL archiving through the Barman Cloud plugin
# (its ObjectStore in the namespace) or the in-tree barmanObjectStore.
cnpg(name, spec) := {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": name, "namespace": "data"}, "spec": spec}

test_cs_ha_009_pass if {
	count(st.cs_ha_009) == 0 with input as fx.kube(array.concat(fx.data_tier, [
		cnpg("in-tree", {"instances": 3, "backup": {"barmanObjectStore": {"destinationPath": "s3://b/pg"}}}),
	]))
}

# Without ObjectStores in the input, the name cannot be checked and is
# taken as given.
test_cs_ha_009_pass_plugin_store_elsewhere if {
	count(st.cs_ha_009) == 0 with input as fx.kube([fx.pg_cluster])
}

test_cs_ha_009_fail if {
	st.cs_ha_009 == {
		{"urn": "urn:pg", "msg": "Cluster data/pg has no replica to fail over to"},
		{"urn": "urn:pg", "msg": "Cluster data/pg archives no WAL, so it has no point-in-time recovery"},
	} with input as fx.kube([cnpg("pg", {"instances": 1})])
}

test_cs_ha_009_fail_plugins if {
	st.cs_ha_009 == {
		{"urn": "urn:no-archiver", "msg": "Cluster data/no-archiver archives no WAL (no enabled plugin in spec.plugins has isWALArchiver true), so it has no point-in-time recovery"},
		{"urn": "urn:disabled", "msg": "Cluster data/disabled archives no WAL (no enabled plugin in spec.plugins has isWALArchiver true), so it has no point-in-time recovery"},
		{"urn": "urn:no-store", "msg": "Cluster data/no-store archives WAL through barman-cloud.cloudnative-pg.io without parameters.barmanObjectName, so it has no ObjectStore to write to"},
		{"urn": "urn:missing-store", "msg": "Cluster data/missing-store archives WAL through barman-cloud.cloudnative-pg.io to ObjectStore gone, which is not in namespace data"},
		{"urn": "urn:elsewhere", "msg": "Cluster data/elsewhere archives WAL through barman-cloud.cloudnative-pg.io to ObjectStore postgres-app-backups, which is not in namespace data"},
		{"urn": "urn:two", "msg": "Cluster data/two marks 2 plugins as its WAL archiver (barman-cloud.cloudnative-pg.io, pgbackrest.dalibo.com); CloudNativePG allows one"},
	} with input as fx.kube([
		fx.object_store,
		cnpg("no-archiver", {"instances": 3, "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "parameters": {"barmanObjectName": "postgres-app-backups"}}]}),
		cnpg("disabled", {"instances": 3, "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "enabled": false, "isWALArchiver": true, "parameters": {"barmanObjectName": "x"}}]}),
		cnpg("no-store", {"instances": 3, "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": true}]}),
		cnpg("missing-store", {"instances": 3, "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": true, "parameters": {"barmanObjectName": "gone"}}]}),
		# the ObjectStore is in namespace cloudscale, not data
		cnpg("elsewhere", {"instances": 3, "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": true, "parameters": {"barmanObjectName": "postgres-app-backups"}}]}),
		cnpg("two", {"instances": 3, "plugins": [
			{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": true, "parameters": {"barmanObjectName": "b"}},
			{"name": "pgbackrest.dalibo.com", "isWALArchiver": true},
		]}),
		{"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore", "metadata": {"name": "b", "namespace": "data"}, "spec": {"retentionPolicy": "30d"}},
	])
}

# CS-ENC-005: StorageClasses, and the classes CloudNativePG volumes bind.
sc(provisioner, params) := {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"}, "provisioner": provisioner, "parameters": params}

test_cs_enc_005_pass if {
	count(st.cs_enc_005) == 0 with input as fx.kube([
		sc("ebs.csi.aws.com", {"encrypted": "true", "kmsKeyId": "arn:k"}),
		object.union(sc("disk.csi.azure.com", {"diskEncryptionSetID": "/des"}), {"metadata": {"name": "az"}}),
		object.union(sc("pd.csi.storage.gke.io", {"disk-encryption-kms-key": "projects/p/k"}), {"metadata": {"name": "gcp"}}),
	])
}

test_cs_enc_005_fail if {
	st.cs_enc_005 == {{"urn": "urn:fast", "msg": "StorageClass fast (ebs.csi.aws.com) does not encrypt volumes with a platform key"}} with input as fx.kube([sc("ebs.csi.aws.com", {"type": "gp3"})])
}

# The platform's cluster names the encrypted class for data and WAL; a
# cluster that names none binds the encrypted default class; one whose
# PVC template names the class counts too.
test_cs_enc_005_pass_cnpg if {
	count(st.cs_enc_005) == 0 with input as fx.kube(array.concat(fx.data_tier, [
		object.union(json.remove(fx.pg_cluster, ["spec/storage", "spec/walStorage"]), {"metadata": {"name": "default-class"}, "spec": {"storage": {"size": "1Gi"}}}),
		object.union(json.remove(fx.pg_cluster, ["spec/storage", "spec/walStorage"]), {"metadata": {"name": "template"}, "spec": {"storage": {"pvcTemplate": {"storageClassName": "cloudscale-encrypted"}}}}),
	]))
}

# The local stack's class (cloudscale.io/encryption: simulated) encrypts
# nothing: the finding is the class's, once (the local stack waives it);
# the volumes that bind it do not repeat it.
local_class := object.union(sc("rancher.io/local-path", {}), {"metadata": {"name": "cloudscale-encrypted", "annotations": {"cloudscale.io/encryption": "simulated", "storageclass.kubernetes.io/is-default-class": "true"}}})

test_cs_enc_005_fail_cnpg if {
	st.cs_enc_005 == {
		{"urn": "urn:postgres-app", "msg": "Cluster cloudscale/postgres-app spec.walStorage uses StorageClass gone, which the input's classes do not include, so its encryption cannot be checked"},
		{"urn": "urn:fast", "msg": "StorageClass fast (ebs.csi.aws.com) does not encrypt volumes with a platform key"},
	} with input as fx.kube([
		sc("ebs.csi.aws.com", {"type": "gp3"}),
		fx.storage_class,
		fx.with_pg({"storage": {"storageClass": "fast"}, "walStorage": {"storageClass": "gone"}}),
	])
}

test_cs_enc_005_fail_cnpg_default_class if {
	st.cs_enc_005 == {
		{"urn": "urn:cloudscale-encrypted", "msg": "StorageClass cloudscale-encrypted (rancher.io/local-path) does not encrypt volumes with a platform key"},
	} with input as fx.kube([local_class, json.remove(fx.pg_cluster, ["spec/storage/storageClass"])])
}

# A manifest scanned on its own binds classes defined elsewhere: nothing
# to judge. With classes in the input but no default, an unset class
# cannot be shown to be encrypted.
test_cs_enc_005_cnpg_no_classes if {
	count(st.cs_enc_005) == 0 with input as fx.kube([json.remove(fx.pg_cluster, ["spec/storage/storageClass", "spec/walStorage"])])
	st.cs_enc_005 == {{"urn": "urn:postgres-app", "msg": "Cluster cloudscale/postgres-app spec.storage sets no storageClass and none of the input's classes is the default, so its encryption cannot be checked"}} with input as fx.kube([
		sc("ebs.csi.aws.com", {"encrypted": "true", "kmsKeyId": "arn:k"}),
		json.remove(fx.pg_cluster, ["spec/storage/storageClass", "spec/walStorage"]),
	])
}

# CS-HA-016: poolers.
pooler(name, spec) := object.union(fx.pooler, {"metadata": {"name": name}, "spec": spec})

test_cs_ha_016_pass if {
	count(st.cs_ha_016) == 0 with input as fx.kube(fx.data_tier)
}

# Staging runs 2 instances; a budget may select the operator's
# cnpg.io/poolerName label; zone anti-affinity spreads as well as a
# constraint; session pooling is fine too.
test_cs_ha_016_pass_staging if {
	count(st.cs_ha_016) == 0 with input as object.union(fx.kube([
		object.union(pooler("postgres-app-ro", {"instances": 2, "type": "ro", "pgbouncer": {"poolMode": "session"}}), {"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "postgres-app-ro"}}, "spec": {
			"topologySpreadConstraints": [],
			"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {"cnpg.io/poolerName": "postgres-app-ro"}}}}]}},
		}}}}),
		{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "ro", "namespace": "cloudscale"}, "spec": {"selector": {"matchLabels": {"cnpg.io/poolerName": "postgres-app-ro"}}, "maxUnavailable": 1}},
	]), {"env": "staging"})
}

test_cs_ha_016_fail if {
	st.cs_ha_016 == {
		{"urn": "urn:postgres-app-rw", "msg": "Pooler cloudscale/postgres-app-rw runs 1 instances, so a node loss or a restart cuts every connection through it"},
		{"urn": "urn:two", "msg": "Pooler cloudscale/two runs 2 instances; prod runs 3, one per zone"},
		{"urn": "urn:no-spread", "msg": "Pooler cloudscale/no-spread runs 3 instances and no zone spread in spec.template.spec (a topologySpreadConstraint or podAntiAffinity on topology.kubernetes.io/zone selecting its pods)"},
		{"urn": "urn:no-spread", "msg": "Pooler cloudscale/no-spread runs 3 instances and no PodDisruptionBudget selects it"},
		{"urn": "urn:blocking", "msg": "Pooler cloudscale/blocking runs 3 instances and no PodDisruptionBudget selecting it allows a disruption (blocking: minAvailable 3)"},
	} with input as fx.kube([
		json.remove(fx.pooler, ["spec/instances"]),
		fx.pooler_pdb,
		object.union(pooler("two", {"instances": 2}), {"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "postgres-app-rw"}}}}}),
		# the hostname spread alone, and a zone constraint selecting other pods
		object.union(pooler("no-spread", {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "no-spread"}}, "spec": {"topologySpreadConstraints": [
			{"topologyKey": "kubernetes.io/hostname", "maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "no-spread"}}},
			{"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "other"}}},
		]}}}), {}),
		object.union(pooler("blocking", {}), {"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": "blocking"}}, "spec": {"topologySpreadConstraints": [{"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "blocking"}}}]}}}}),
		{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "blocking", "namespace": "cloudscale"}, "spec": {"selector": {"matchLabels": {"cnpg.io/poolerName": "blocking"}}, "minAvailable": 3}},
	])
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

# CS-ENC-005 for the data tier, part II: Percona replica set volumes and
# RabbitMQ persistence are judged like CloudNativePG's. The platform's
# objects name the encrypted class; a volume left unset binds the
# encrypted default class; a RabbitmqCluster with persistence.storage 0
# mounts an emptyDir, not a volume; a Percona set on emptyDir has no PVC.
test_cs_enc_005_pass_psmdb_rabbitmq if {
	count(st.cs_enc_005) == 0 with input as fx.kube(array.concat(fx.data_tier_ii, [
		object.union(json.remove(fx.psmdb, ["spec/replsets"]), {"metadata": {"name": "default-class"}, "spec": {"replsets": [
			object.union(fx.psmdb_set("rs0"), {"volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "1Gi"}}}}}),
			object.union(fx.psmdb_set("rs1"), {"volumeSpec": {"emptyDir": {}}}),
		]}}),
		object.union(json.remove(fx.rabbitmq, ["spec/persistence"]), {"metadata": {"name": "default-class"}}),
		object.union(fx.rabbitmq, {"metadata": {"name": "no-volume"}, "spec": {"persistence": {"storageClassName": "gone", "storage": "0Gi"}}}),
	]))
}

test_cs_enc_005_fail_psmdb_rabbitmq if {
	st.cs_enc_005 == {
		{"urn": "urn:fast", "msg": "StorageClass fast (ebs.csi.aws.com) does not encrypt volumes with a platform key"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app replica set rs1 volumeSpec.persistentVolumeClaim uses StorageClass gone, which the input's classes do not include, so its encryption cannot be checked"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app replica set rs1 hidden members volumeSpec.persistentVolumeClaim uses StorageClass lost, which the input's classes do not include, so its encryption cannot be checked"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app config server replica set cfg volumeSpec.persistentVolumeClaim uses StorageClass gone, which the input's classes do not include, so its encryption cannot be checked"},
		{"urn": "urn:rabbitmq-app", "msg": "RabbitmqCluster cloudscale/rabbitmq-app spec.persistence uses StorageClass gone, which the input's classes do not include, so its encryption cannot be checked"},
		{"urn": "urn:override", "msg": "RabbitmqCluster cloudscale/override spec.override.statefulSet.spec.volumeClaimTemplates persistence uses StorageClass lost, which the input's classes do not include, so its encryption cannot be checked"},
	} with input as fx.kube([
		sc("ebs.csi.aws.com", {"type": "gp3"}),
		fx.storage_class,
		# rs0 binds the unencrypted class: the finding is the class's, once
		fx.with_psmdb({
			"replsets": [
				object.union(fx.psmdb_set("rs0"), {"volumeSpec": {"persistentVolumeClaim": {"storageClassName": "fast"}}}),
				object.union(fx.psmdb_set("rs1"), {
					"volumeSpec": {"persistentVolumeClaim": {"storageClassName": "gone"}},
					"hidden": {"enabled": true, "size": 1, "volumeSpec": {"persistentVolumeClaim": {"storageClassName": "lost"}}},
					# non-voting members without a volumeSpec take the set's: judged once, on the set
					"nonvoting": {"enabled": true, "size": 1},
				}),
			],
			"sharding": {"configsvrReplSet": {"volumeSpec": {"persistentVolumeClaim": {"storageClassName": "gone"}}}},
		}),
		fx.with_rabbitmq({"persistence": {"storageClassName": "gone"}}),
		# the override's volume claim templates replace spec.persistence
		object.union(fx.rabbitmq, {"metadata": {"name": "override"}, "spec": {"override": {"statefulSet": {"spec": {"volumeClaimTemplates": [
			{"metadata": {"name": "persistence"}, "spec": {"storageClassName": "lost", "resources": {"requests": {"storage": "20Gi"}}}},
		]}}}}}),
	])
}

# CS-HA-023: dead-letter targets.
dlq(name, spec) := fx.queue(name, spec)

policy(name, spec) := fx.topology("Policy", name, object.union({"name": name, "pattern": "^orders$", "applyTo": "queues", "priority": 0}, spec))

test_cs_ha_023_pass if {
	count(st.cs_ha_023) == 0 with input as fx.kube(fx.data_tier_ii)
}

# A dead-letter exchange given as an argument; a dead-letter queue reached
# through an exchange-to-exchange binding, and one named by the routing key
# of a queue that dead-letters to the default exchange; a stream, which
# does not dead-letter; an amq.* exchange, which every vhost has.
test_cs_ha_023_pass_arguments_and_chains if {
	count(st.cs_ha_023) == 0 with input as fx.kube(array.concat(fx.data_tier_ii, [
		fx.queue("payments", {"arguments": {"x-dead-letter-exchange": "payments-dlx"}}),
		fx.topology("Exchange", "payments-dlx", {"name": "payments-dlx", "type": "topic"}),
		fx.topology("Exchange", "parking", {"name": "parking", "type": "fanout"}),
		fx.topology("Binding", "payments-dlx-parking", {"source": "payments-dlx", "destination": "parking", "destinationType": "exchange"}),
		fx.topology("Binding", "parking-lot", {"source": "parking", "destination": "parking-lot", "destinationType": "queue"}),
		fx.queue("parking-lot", {}),
		fx.queue("mail", {"arguments": {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "mail-dlq"}}),
		fx.queue("mail-dlq", {}),
		fx.queue("audit", {"type": "stream"}),
		fx.queue("legacy", {"arguments": {"x-dead-letter-exchange": "amq.fanout"}}),
	]))
}

test_cs_ha_023_fail if {
	st.cs_ha_023 == {
		{"urn": "urn:orders", "msg": "Queue cloudscale/orders (queue orders in vhost /) has no dead-letter exchange: no x-dead-letter-exchange argument, and the policy RabbitMQ applies to it (orders-limits, priority 20) sets no dead-letter-exchange; orders-dead-letter also matches with a lower priority, but RabbitMQ applies only one policy, so the messages it rejects, expires or drops are lost"},
		{"urn": "urn:invoices", "msg": "Queue cloudscale/invoices (queue invoices in vhost /) has no dead-letter exchange: no x-dead-letter-exchange argument and no policy that matches it sets dead-letter-exchange, so the messages it rejects, expires or drops are lost"},
		{"urn": "urn:shop-orders", "msg": "Queue cloudscale/shop-orders (queue orders in vhost shop) has no dead-letter exchange: no x-dead-letter-exchange argument and no policy that matches it sets dead-letter-exchange, so the messages it rejects, expires or drops are lost"},
	} with input as fx.kube(array.concat(fx.data_tier_ii, [
		# a higher-priority policy without a dead-letter exchange shadows orders-dead-letter
		policy("orders-limits", {"priority": 20, "definition": {"max-length": 100000}}),
		# no policy matches (the pattern is anchored)
		fx.queue("invoices", {}),
		# the same queue name in another vhost: the policy is the / vhost's
		object.union(fx.queue("shop-orders", {"name": "orders"}), {"spec": {"vhost": "shop"}}),
	]))
}

test_cs_ha_023_fail_at_least_once_and_missing_exchange if {
	st.cs_ha_023 == {
		{"urn": "urn:orders", "msg": "Queue cloudscale/orders (queue orders in vhost /) asks for at-least-once dead-lettering, but it overflows with drop-head (the default), not reject-publish, so RabbitMQ dead-letters at-most-once"},
		{"urn": "urn:classic", "msg": "Queue cloudscale/classic (queue classic in vhost /) asks for at-least-once dead-lettering, but it is a classic queue, and only quorum queues dead-letter at least once, so RabbitMQ dead-letters at-most-once"},
		{"urn": "urn:classic", "msg": "Queue cloudscale/classic (queue classic in vhost /) dead-letters to exchange classic-dlx (argument x-dead-letter-exchange), which no Exchange of cluster cloudscale/rabbitmq-app declares in vhost /, so its dead-lettered messages are dropped"},
	} with input as fx.kube(array.concat(
		[x | some x in fx.data_tier_ii; x.kind != "Policy"],
		[
			policy("orders-dead-letter", {"applyTo": "quorum_queues", "definition": {"dead-letter-exchange": "orders-dlx", "dead-letter-strategy": "at-least-once"}}),
			fx.queue("classic", {"type": "classic", "arguments": {"x-dead-letter-exchange": "classic-dlx", "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}}),
		],
	))
}

# CS-SEC-007: images come from allowed registries.
test_cs_sec_007_pass if {
	count(st.cs_sec_007) == 0 with input as fx.kube([fx.deployment]) with data.cloudscale.config as fx.config
}

test_cs_sec_007_fail if {
	st.cs_sec_007 == {{"urn": "urn:api", "msg": "Deployment shop/api container app pulls docker.io/library/nginx, not from an allowed registry"}} with input as fx.kube([fx.with_container(object.union(fx.container, {"image": "nginx:1.27"}))]) with data.cloudscale.config as fx.config
}

# Image names read as the container runtime reads them: one image, four
# spellings; a look-alike host is another registry.
test_cs_sec_007_pass_normalised if {
	every img in ["redis:7.2", "docker.io/redis:7.2", "index.docker.io/library/redis:7.2", "docker.io/library/redis@sha256:0123"] {
		count(st.cs_sec_007) == 0 with input as fx.kube([fx.with_container(object.union(fx.container, {"image": img}))])
			with data.cloudscale.config as {"allowedRegistries": ["index.docker.io/library"]}
	}
}

test_cs_sec_007_fail_lookalike if {
	st.cs_sec_007 == {{"urn": "urn:api", "msg": "Deployment shop/api container app pulls docker.io.evil.example/library/redis, not from an allowed registry"}} with input as fx.kube([fx.with_container(object.union(fx.container, {"image": "docker.io.evil.example/library/redis:7.2"}))])
		with data.cloudscale.config as {"allowedRegistries": ["docker.io/library"]}
}

# A cloud stack's own registry (the repositories its registry resources
# create) is allowed, and nothing beside it.
own_registries := [
	{"type": "aws:ecr/repository:Repository", "name": "ecr", "urn": "urn:ecr", "inputs": {"name": "cloudscale-prod/api-service", "tags": {"cloudscale.io/registry-host": "123456789012.dkr.ecr.us-east-1.amazonaws.com"}}},
	{"type": "gcp:artifactregistry/repository:Repository", "name": "ar", "urn": "urn:ar", "inputs": {"format": "DOCKER", "location": "us-central1", "project": "cloudscale-prod", "repositoryId": "cloudscale-prod-gcp-images"}},
	{"type": "azure-native:containerregistry:Registry", "name": "acr", "urn": "urn:acr", "inputs": {"registryName": "cloudscaleprodazureacr1a2b3c4d"}},
]

with_registries(img) := object.union(fx.kube([fx.with_container(object.union(fx.container, {"image": img}))]), {"by_type": {r.type: [r] | some r in own_registries}})

test_cs_sec_007_pass_own_registry if {
	every img in [
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudscale-prod/api-service@sha256:0123",
		"us-central1-docker.pkg.dev/cloudscale-prod/cloudscale-prod-gcp-images/api-service@sha256:0123",
		"cloudscaleprodazureacr1a2b3c4d.azurecr.io/cloudscale-prod-azure/api-service@sha256:0123",
	] {
		count(st.cs_sec_007) == 0 with input as with_registries(img) with data.cloudscale.config as fx.config
	}
}

test_cs_sec_007_fail_beside_own_registry if {
	every img in [
		"210987654321.dkr.ecr.us-east-1.amazonaws.com/cloudscale-prod/api-service@sha256:0123", # another account
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudscale-prod/api-service-evil@sha256:0123", # another repository
		"us-central1-docker.pkg.dev/other-project/cloudscale-prod-gcp-images/api-service@sha256:0123", # another project
		"cloudscaleprodazureacr1a2b3c4d.azurecr.io.evil.example/api-service@sha256:0123", # a look-alike host
		"otheracr.azurecr.io/cloudscale-prod-azure/api-service@sha256:0123", # another ACR
	] {
		count(st.cs_sec_007) == 1 with input as with_registries(img) with data.cloudscale.config as fx.config
	}
	# Without the registry resources, the same images are refused.
	count(st.cs_sec_007) == 1 with input as fx.kube([fx.with_container(object.union(fx.container, {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudscale-prod/api-service@sha256:0123"}))])
		with data.cloudscale.config as fx.config
}
