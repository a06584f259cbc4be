# Fixtures for the rule tests: compliant resources that each failing test
# breaks in one place. Loaded by the OPA tester only, never by the engine.
package cloudscale.fixtures

import rego.v1

import data.cloudscale.lib

res(t, name, inputs) := {"type": t, "name": name, "urn": concat("", ["urn:", name]), "inputs": inputs}

# cloud builds an input document from cloud resources.
cloud(list) := {
	"env": "prod",
	"resources": list,
	"by_type": {t: rs | some x in list; t := x.type; rs := [r | some r in list; r.type == t]},
	"kinds": {},
}

k8s_res(obj) := object.union(res(sprintf("kubernetes:%s:%s", [gv(obj.apiVersion), obj.kind]), obj.metadata.name, obj), extra) if {
	k := kind_key(obj)
	extra := object.union({"kind": k}, pod(k, obj))
}

# pod mirrors what the engine adds to workloads (policies.podOf).
pod(k, obj) := {"pod": {
	"spec": tmpl.spec,
	"labels": object.get(tmpl, ["metadata", "labels"], {}),
	"containers": array.concat(object.get(tmpl.spec, "containers", []), object.get(tmpl.spec, "initContainers", [])),
}} if {
	path := template_paths[k]
	tmpl := object.get(obj, path, {})
}

pod(k, _) := {} if not template_paths[k]

template_paths := {
	"apps/Deployment": ["spec", "template"], "apps/StatefulSet": ["spec", "template"],
	"apps/DaemonSet": ["spec", "template"], "apps/ReplicaSet": ["spec", "template"],
	"batch/Job": ["spec", "template"], "batch/CronJob": ["spec", "jobTemplate", "spec", "template"],
	"core/ReplicationController": ["spec", "template"], "core/PodTemplate": ["template"], "core/Pod": [],
}

ns_of(obj) := object.get(obj, ["metadata", "namespace"], "default")

gv(v) := v if contains(v, "/")

gv(v) := concat("/", ["core", v]) if not contains(v, "/")

kind_key(obj) := concat("/", [split(gv(obj.apiVersion), "/")[0], obj.kind])

# kube builds an input document from Kubernetes objects, with what the
# engine adds: each replicated workload's floor (policies.replicaFloors).
kube(objs) := {
	"env": "prod",
	"resources": [in_set(o, objs) | some o in objs],
	"by_type": {},
	"kinds": {k: rs | some x in objs; k := kind_key(x); rs := [in_set(o, objs) | some o in objs; kind_key(o) == k]},
	"by_target": {t: hs | some h in objs; kind_key(h) in autoscaler_kinds; t := hpa_target(h); hs := [k8s_res(o) | some o in objs; kind_key(o) in autoscaler_kinds; hpa_target(o) == t]},
	"by_selector": {k: {ns: {"*": rs} | some y in objs; kind_key(y) == k; ns := ns_of(y); rs := [in_set(o, objs) | some o in objs; kind_key(o) == k; ns_of(o) == ns]} | some x in objs; k := kind_key(x)},
	"by_ns": {k: {ns: rs | some y in objs; kind_key(y) == k; ns := ns_of(y); rs := [in_set(o, objs) | some o in objs; kind_key(o) == k; ns_of(o) == ns]} | some x in objs; k := kind_key(x)},
}

autoscaler_kinds := {"autoscaling/HorizontalPodAutoscaler", "keda.sh/ScaledObject"}

in_set(o, objs) := object.union(object.union(k8s_res(o), {"replicas": floor_of(o, objs)}), owner_of(o, objs)) if {
	kind_key(o) in {"apps/Deployment", "apps/StatefulSet", "apps/ReplicaSet", "core/ReplicationController"}
} else := object.union(object.union(k8s_res(o), owner_of(o, objs)), covers_of(o, objs)) if {
	kind_key(o) == "policy/PodDisruptionBudget"
} else := object.union(k8s_res(o), owner_of(o, objs))

# covers_of mirrors policies.budgetCovers.
covers_of(o, objs) := {"covers": {"workloads": count(ws), "pods": sum([floor_of(w, objs) | some w in ws])}} if {
	sel := object.get(o, ["spec", "selector"], {})
	ws := [w |
		some w in objs
		kind_key(w) in {"apps/Deployment", "apps/StatefulSet", "apps/ReplicaSet", "core/ReplicationController"}
		ns_of(w) == ns_of(o)
		lib.selects(sel, object.get(w, ["spec", "template", "metadata", "labels"], {}))
	]
}

# owner_of mirrors policies.controllerOwner: the controlling owner, when
# it is in the same input.
owner_of(o, objs) := {"owned_by": concat("/", [ref.kind, ref.name])} if {
	some ref in object.get(o, ["metadata", "ownerReferences"], [])
	ref.controller == true
	some x in objs
	x.kind == ref.kind
	x.metadata.name == ref.name
	ns_of(x) == ns_of(o)
} else := {}

floor_of(o, objs) := min(floors) if {
	floors := [autoscaler_floor(h) | some h in objs; kind_key(h) in autoscaler_kinds; hpa_target(h) == concat("/", [ns_of(o), o.kind, o.metadata.name])]
	count(floors) > 0
} else := object.get(o, ["spec", "replicas"], 1)

autoscaler_floor(h) := object.get(h, ["spec", "minReplicas"], 1) if kind_key(h) == "autoscaling/HorizontalPodAutoscaler"

autoscaler_floor(h) := object.get(h, ["spec", "minReplicaCount"], 0) if kind_key(h) == "keda.sh/ScaledObject"

container := {
	"name": "app",
	"image": "ghcr.io/cloudscale/api:1.4.2",
	"securityContext": {
		"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
		"capabilities": {"drop": ["ALL"]},
	},
	"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
	"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
	"livenessProbe": {"httpGet": {"path": "/live", "port": 8080}},
}

deployment := {
	"apiVersion": "apps/v1", "kind": "Deployment",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {
		"replicas": 3,
		"selector": {"matchLabels": {"app": "api"}},
		"template": {
			"metadata": {"labels": {"app": "api"}},
			"spec": {
				"securityContext": {"runAsNonRoot": true},
				"containers": [container],
				"topologySpreadConstraints": [
					{"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"},
					{"topologyKey": "kubernetes.io/hostname", "maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway"},
				],
			},
		},
	},
}

# with_container replaces the deployment's container.
with_container(c) := object.union(deployment, {"spec": {"template": {"spec": {"containers": [c]}}}})

deny_all := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "default-deny", "namespace": "shop"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}

api_policy := {
	"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 8080}]}]},
}

pdb := {
	"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {"selector": {"matchLabels": {"app": "api"}}, "maxUnavailable": 1},
}

sizes := {"aws": {"m6i.xlarge": {"MemoryGiB": 16}, "t3.large": {"MemoryGiB": 8}}, "azure": {"Standard_D4s_v5": {"MemoryGiB": 16}}, "gcp": {"n2-standard-4": {"MemoryGiB": 16}, "e2-medium": {"MemoryGiB": 4}}}

config := {"allowedRegistries": ["ghcr.io", "registry.k8s.io"]}

hpa_target(h) := concat("/", [ns_of(h), object.get(h.spec.scaleTargetRef, "kind", "Deployment"), h.spec.scaleTargetRef.name])

# The data tier as the platform renders it in prod (issue 14): a
# CloudNativePG cluster archiving WAL through the Barman Cloud plugin, its
# ObjectStore and daily ScheduledBackup, a PgBouncer Pooler with its
# disruption budget, the encrypted default StorageClass, and a Valkey
# StatefulSet whose pods run Redis and its Sentinel.
storage_class := {
	"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
	"metadata": {"name": "cloudscale-encrypted", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
	"provisioner": "ebs.csi.aws.com",
	"parameters": {"type": "gp3", "encrypted": "true", "kmsKeyId": "arn:aws:kms:eu-west-1:111122223333:key/k"},
}

pg_cluster := {
	"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
	"metadata": {"name": "postgres-app", "namespace": "cloudscale"},
	"spec": {
		"instances": 3,
		"affinity": {"enablePodAntiAffinity": true, "topologyKey": "topology.kubernetes.io/zone", "podAntiAffinityType": "required"},
		"postgresql": {
			"synchronous": {"method": "any", "number": 1, "dataDurability": "required"},
			"parameters": {"pg_stat_statements.max": "10000", "pg_stat_statements.track": "all", "log_min_duration_statement": "1000"},
			"pg_hba": ["hostnossl all all all reject", "hostssl all all all scram-sha-256"],
		},
		"storage": {"storageClass": "cloudscale-encrypted", "size": "20Gi"},
		"walStorage": {"storageClass": "cloudscale-encrypted", "size": "5Gi"},
		"plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": true, "parameters": {"barmanObjectName": "postgres-app-backups"}}],
		"monitoring": {"customQueriesConfigMap": [{"name": "postgres-app-queries", "key": "queries.yaml"}]},
	},
}

# with_pg(spec) merges spec into the cluster's (object.union: a list given
# replaces the list).
with_pg(spec) := object.union(pg_cluster, {"spec": spec})

object_store := {
	"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore",
	"metadata": {"name": "postgres-app-backups", "namespace": "cloudscale"},
	"spec": {
		"configuration": {
			"destinationPath": "s3://cloudscale-backups/postgres/app",
			"s3Credentials": {"inheritFromIAMRole": true},
			"wal": {"compression": "gzip"}, "data": {"compression": "gzip"},
		},
		"retentionPolicy": "30d",
	},
}

scheduled_backup := {
	"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
	"metadata": {"name": "postgres-app-daily", "namespace": "cloudscale"},
	"spec": {
		"schedule": "0 0 3 * * *", "cluster": {"name": "postgres-app"},
		"method": "plugin", "pluginConfiguration": {"name": "barman-cloud.cloudnative-pg.io"},
		"immediate": true, "backupOwnerReference": "self",
	},
}

pooler_labels := {"app.kubernetes.io/name": "postgres-app-rw"}

pooler := {
	"apiVersion": "postgresql.cnpg.io/v1", "kind": "Pooler",
	"metadata": {"name": "postgres-app-rw", "namespace": "cloudscale"},
	"spec": {
		"cluster": {"name": "postgres-app"}, "instances": 3, "type": "rw",
		"pgbouncer": {"poolMode": "transaction"},
		"template": {
			"metadata": {"labels": pooler_labels},
			"spec": {
				"topologySpreadConstraints": [
					{"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": pooler_labels}},
					{"topologyKey": "kubernetes.io/hostname", "maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": pooler_labels}},
				],
				"containers": [{"name": "pgbouncer"}],
			},
		},
	},
}

pooler_pdb := {
	"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
	"metadata": {"name": "postgres-app-rw", "namespace": "cloudscale"},
	"spec": {"selector": {"matchLabels": pooler_labels}, "maxUnavailable": 1},
}

redis_password := {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password"}}}

redis_server := object.union(container, {
	"name": "redis", "image": "docker.io/valkey/valkey:8.1.4",
	"args": ["/scripts/redis.sh", "--port", "0", "--tls-port", "6379", "--tls-replication", "yes", "--maxmemory-policy", "noeviction", "--appendonly", "yes"],
	"env": [redis_password],
})

redis_sentinel := object.union(container, {
	"name": "sentinel", "image": "docker.io/valkey/valkey:8.1.4",
	"args": ["/scripts/sentinel.sh"],
	"env": [{"name": "SENTINEL_QUORUM", "value": "2"}, redis_password],
	"ports": [{"containerPort": 26379}],
})

redis := {
	"apiVersion": "apps/v1", "kind": "StatefulSet",
	"metadata": {"name": "redis-state", "namespace": "cloudscale"},
	"spec": {
		"replicas": 3,
		"serviceName": "redis-state",
		"selector": {"matchLabels": {"app.kubernetes.io/name": "redis-state"}},
		"template": {
			"metadata": {"labels": {"app.kubernetes.io/name": "redis-state"}},
			"spec": {"securityContext": {"runAsNonRoot": true}, "containers": [redis_server, redis_sentinel]},
		},
		"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"storageClassName": "cloudscale-encrypted", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}}}],
	},
}

# with_redis(containers) replaces the StatefulSet's containers.
with_redis(containers) := object.union(redis, {"spec": {"template": {"spec": {"containers": containers}}}})

data_tier := [storage_class, pg_cluster, object_store, scheduled_backup, pooler, pooler_pdb, redis]

# The data tier, part II (issue 15), as the platform renders it in prod: a
# sharded Percona Server for MongoDB cluster (two shards and the config
# server set, one member per zone, encrypted volumes, PITR backups to S3)
# and a RabbitMQ cluster over three zones with a quorum queue that
# dead-letters, through a policy, to a declared exchange bound to its
# dead-letter queue.
psmdb_volume := {"persistentVolumeClaim": {"storageClassName": "cloudscale-encrypted", "resources": {"requests": {"storage": "20Gi"}}}}

psmdb_zone := {"antiAffinityTopologyKey": "topology.kubernetes.io/zone"}

psmdb_set(name) := {"name": name, "size": 3, "affinity": psmdb_zone, "podDisruptionBudget": {"maxUnavailable": 1}, "volumeSpec": psmdb_volume}

psmdb := {
	"apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB",
	"metadata": {"name": "mongo-app", "namespace": "cloudscale"},
	"spec": {
		"crVersion": "1.22.0",
		"image": "docker.io/percona/percona-server-mongodb:8.0.12-4",
		"tls": {"mode": "requireTLS"},
		"secrets": {"users": "mongo-app-users"},
		"replsets": [psmdb_set("rs0"), psmdb_set("rs1")],
		"sharding": {
			"enabled": true,
			"configsvrReplSet": object.remove(psmdb_set("cfg"), ["name"]),
			"mongos": {"size": 3, "affinity": psmdb_zone, "podDisruptionBudget": {"maxUnavailable": 1}, "expose": {"type": "ClusterIP"}},
		},
		"backup": {
			"enabled": true,
			"image": "docker.io/percona/percona-backup-mongodb:2.11.0",
			"storages": {"s3-main": {"type": "s3", "s3": {"bucket": "cloudscale-backups", "prefix": "mongo/app", "region": "eu-west-1", "credentialsSecret": "mongo-app-backup-s3"}}},
			"pitr": {"enabled": true, "oplogSpanMin": 10},
			"tasks": [{"name": "daily", "enabled": true, "schedule": "0 3 * * *", "storageName": "s3-main", "type": "physical", "retention": {"type": "count", "count": 7, "deleteFromStorage": true}}],
		},
	},
}

# with_psmdb(spec) merges spec into the cluster's (a list given replaces
# the list).
with_psmdb(spec) := object.union(psmdb, {"spec": spec})

rabbitmq_labels := {"app.kubernetes.io/name": "rabbitmq-app"}

rabbitmq := {
	"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster",
	"metadata": {"name": "rabbitmq-app", "namespace": "cloudscale"},
	"spec": {
		"replicas": 3,
		"image": "docker.io/rabbitmq:4.1.3-management",
		"persistence": {"storageClassName": "cloudscale-encrypted", "storage": "20Gi"},
		"tls": {"secretName": "rabbitmq-app-tls", "caSecretName": "rabbitmq-app-ca", "disableNonTLSListeners": true},
		"override": {"statefulSet": {"spec": {"template": {"spec": {"topologySpreadConstraints": [
			{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": rabbitmq_labels}},
		]}}}}},
	},
}

with_rabbitmq(spec) := object.union(rabbitmq, {"spec": spec})

rabbitmq_ref := {"name": "rabbitmq-app"}

topology(kind, name, spec) := {
	"apiVersion": "rabbitmq.com/v1beta1", "kind": kind,
	"metadata": {"name": name, "namespace": "cloudscale"},
	"spec": object.union({"vhost": "/", "rabbitmqClusterReference": rabbitmq_ref}, spec),
}

queue(name, spec) := topology("Queue", name, object.union({"name": name, "type": "quorum", "durable": true}, spec))

orders_queue := queue("orders", {})

orders_dlq := queue("orders-dlq", {})

orders_dlx := topology("Exchange", "orders-dlx", {"name": "orders-dlx", "type": "fanout", "durable": true})

orders_dlq_binding := topology("Binding", "orders-dlq", {"source": "orders-dlx", "destination": "orders-dlq", "destinationType": "queue", "routingKey": "#"})

orders_policy := topology("Policy", "orders-dead-letter", {
	"name": "orders-dead-letter", "pattern": "^orders$", "applyTo": "quorum_queues", "priority": 10,
	"definition": {"dead-letter-exchange": "orders-dlx", "dead-letter-strategy": "at-least-once", "overflow": "reject-publish", "delivery-limit": 20},
})

data_tier_ii := [storage_class, psmdb, rabbitmq, orders_queue, orders_dlq, orders_dlx, orders_dlq_binding, orders_policy]

# The monitoring tier as the platform renders it in prod (issue 16): a
# Prometheus of 2 and an Alertmanager of 3 spread over zones, loading every
# monitor and rule; an Elasticsearch of 3 master-eligible nodes, zone aware
# through the zone label ECK copies down, with Kibana and the fluentd ILM
# policy that deletes its indices; the api Deployment behind api-service,
# which the gateway routes to, scraped through a ServiceMonitor and with
# its SLO alerts; and monitors for the operators' pods.
zone_spread(labels) := [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}]

monitoring_meta(kind, name) := {"apiVersion": "monitoring.coreos.com/v1", "kind": kind, "metadata": {"name": name, "namespace": "monitoring"}}

prometheus := object.union(monitoring_meta("Prometheus", "prometheus"), {"spec": {
	"replicas": 2, "retention": "15d", "retentionSize": "45GB",
	"storage": {"volumeClaimTemplate": {"spec": {"storageClassName": "cloudscale-encrypted", "resources": {"requests": {"storage": "50Gi"}}}}},
	"topologySpreadConstraints": zone_spread({"app.kubernetes.io/name": "prometheus", "prometheus": "prometheus"}),
	"serviceMonitorSelector": {}, "serviceMonitorNamespaceSelector": {},
	"podMonitorSelector": {}, "podMonitorNamespaceSelector": {},
	"ruleSelector": {}, "ruleNamespaceSelector": {},
}})

# with_prometheus(spec) merges spec into the Prometheus's.
with_prometheus(spec) := object.union(prometheus, {"spec": spec})

alertmanager := object.union(monitoring_meta("Alertmanager", "main"), {"spec": {
	"replicas": 3,
	"storage": {"volumeClaimTemplate": {"spec": {"storageClassName": "cloudscale-encrypted", "resources": {"requests": {"storage": "5Gi"}}}}},
	"topologySpreadConstraints": zone_spread({"app.kubernetes.io/name": "alertmanager", "alertmanager": "main"}),
}})

# The operator-run pods of the tier, scraped by one PodMonitor.
monitoring_pod_monitor := object.union(monitoring_meta("PodMonitor", "monitoring"), {"spec": {
	"selector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["prometheus", "alertmanager"]}]},
	"podMetricsEndpoints": [{"port": "web"}],
}})

zone_env := {"name": "ZONE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['topology.kubernetes.io/zone']"}}}

# es_set(cluster, name, n, config): a nodeSet of cluster, zone aware (the
# zone the ZONE env var reads from the annotation ECK copies from the
# node's label) and spread over zones; config is merged into its own.
es_set(cluster, name, n, config) := {
	"name": name, "count": n,
	"config": object.union({"node.attr.zone": "${ZONE}", "cluster.routing.allocation.awareness.attributes": "k8s_node_name,zone"}, config),
	"podTemplate": {"spec": {
		"containers": [{"name": "elasticsearch", "env": [zone_env]}],
		"topologySpreadConstraints": zone_spread({"elasticsearch.k8s.elastic.co/cluster-name": cluster}),
	}},
}

es_nodeset(name, n, config) := es_set("logs", name, n, config)

elasticsearch := {
	"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch",
	"metadata": {"name": "logs", "namespace": "monitoring", "annotations": {"eck.k8s.elastic.co/downward-node-labels": "topology.kubernetes.io/zone"}},
	"spec": {"version": "9.1.5", "nodeSets": [es_nodeset("default", 3, {"node.roles": ["master", "data", "ingest"]})]},
}

# es_cluster(name, sets) is the Elasticsearch named name with sets.
es_cluster(name, sets) := object.union(elasticsearch, {"metadata": {"name": name}, "spec": {"nodeSets": sets}})

kibana := {
	"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana",
	"metadata": {"name": "logs", "namespace": "monitoring"},
	"spec": {"version": "9.1.5", "count": 2, "elasticsearchRef": {"name": "logs"}},
}

# ECK's Services carry the cluster's labels: the ServiceMonitor selects them.
logs_monitor := object.union(monitoring_meta("ServiceMonitor", "logs"), {"spec": {
	"selector": {"matchExpressions": [
		{"key": "elasticsearch.k8s.elastic.co/cluster-name", "operator": "Exists"},
	]},
	"endpoints": [{"port": "metrics"}],
}})

kibana_monitor := object.union(monitoring_meta("PodMonitor", "kibana"), {"spec": {
	"selector": {"matchLabels": {"kibana.k8s.elastic.co/name": "logs"}},
	"podMetricsEndpoints": [{"port": "metrics"}],
}})

ilm_policy := {"policy": {"phases": {
	"hot": {"actions": {"rollover": {"max_age": "1d", "max_primary_shard_size": "50gb"}}},
	"delete": {"min_age": "30d", "actions": {"delete": {}}},
}}}

fluentd_config(policy) := {
	"apiVersion": "v1", "kind": "ConfigMap",
	"metadata": {"name": "fluentd-config", "namespace": "monitoring", "labels": {"app.kubernetes.io/name": "fluentd"}},
	"data": {"fluent.conf": "@include conf.d/*.conf", "ilm-policy.json": policy},
}

api_service := {
	"apiVersion": "v1", "kind": "Service",
	"metadata": {"name": "api-service", "namespace": "shop", "labels": {"app": "api"}},
	"spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]},
}

api_monitor := {
	"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {"selector": {"matchLabels": {"app": "api"}}, "endpoints": [{"port": "metrics"}]},
}

gateway_routes(hosts) := {
	"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
	"metadata": {"name": "gateway-routes", "namespace": "ingress"},
	"spec": {"hosts": ["*"], "gateways": ["ingress/gateway"], "http": [{"route": [{"destination": {"host": h, "port": {"number": 8080}}}]} | some h in hosts]},
}

slo_alert(service, slo, severity) := {
	"alert": sprintf("%sSLO%sBurn", [service, severity]),
	"expr": sprintf("slo:%s:burn_rate > 14.4", [slo]),
	"labels": {"service": service, "slo": slo, "severity": severity},
}

slo_rule(service, pairs) := object.union(monitoring_meta("PrometheusRule", concat("-", ["slo", service])), {"spec": {"groups": [{
	"name": concat("-", ["slo", service]),
	"rules": [slo_alert(service, slo, sev) | some [slo, sev] in pairs],
}]}})

slo_pairs := [["availability", "page"], ["availability", "ticket"], ["latency", "page"], ["latency", "ticket"]]

monitoring_tier := [
	deployment, api_service, api_monitor,
	prometheus, alertmanager, monitoring_pod_monitor,
	elasticsearch, kibana, logs_monitor, kibana_monitor, fluentd_config(json.marshal(ilm_policy)),
	gateway_routes(["api-service.shop.svc.cluster.local"]), slo_rule("api-service", slo_pairs),
]
