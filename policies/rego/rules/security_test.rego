package cloudscale.rules.security_test

import rego.v1

import data.cloudscale.fixtures as fx
import data.cloudscale.rules.security as sec

sc(extra) := fx.with_container(object.union(fx.container, {"securityContext": extra}))

test_cs_sec_001_pass if {
	count(sec.cs_sec_001) == 0 with input as fx.kube([fx.deployment])
}

test_cs_sec_001_fail if {
	sec.cs_sec_001 == {{"urn": "urn:api", "msg": "Deployment shop/api container app may run as root"}} with input as fx.kube([
		object.union(sc({"runAsNonRoot": false}), {"spec": {"template": {"spec": {"securityContext": {}}}}}),
	])
}

test_cs_sec_002_pass if {
	count(sec.cs_sec_002) == 0 with input as fx.kube([fx.deployment])
}

test_cs_sec_002_fail if {
	sec.cs_sec_002 == {
		{"urn": "urn:api", "msg": "Deployment shop/api container app allows privilege escalation"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app is privileged"},
	} with input as fx.kube([sc({"allowPrivilegeEscalation": true, "privileged": true})])
}

test_cs_sec_003_pass if {
	count(sec.cs_sec_003) == 0 with input as fx.kube([fx.deployment])
}

test_cs_sec_003_fail if {
	sec.cs_sec_003 == {{"urn": "urn:api", "msg": "Deployment shop/api container app has a writable root filesystem"}} with input as fx.kube([sc({"readOnlyRootFilesystem": false})])
}

test_cs_sec_004_pass if {
	count(sec.cs_sec_004) == 0 with input as fx.kube([sc({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})])
}

test_cs_sec_004_fail if {
	sec.cs_sec_004 == {
		{"urn": "urn:api", "msg": "Deployment shop/api container app does not drop ALL capabilities"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app adds capability NET_ADMIN"},
	} with input as fx.kube([sc({"capabilities": {"drop": ["NET_RAW"], "add": ["NET_ADMIN"]}})])
}

test_cs_sec_005_pass if {
	count(sec.cs_sec_005) == 0 with input as fx.kube([fx.deployment])
}

test_cs_sec_005_fail if {
	sec.cs_sec_005 == {
		{"urn": "urn:api", "msg": "Deployment shop/api container app has no limits.cpu"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app has no limits.memory"},
	} with input as fx.kube([fx.with_container(object.union(object.remove(fx.container, ["resources"]), {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}))])
}

test_cs_sec_006_pass if {
	count(sec.cs_sec_006) == 0 with input as fx.kube([fx.with_container(object.union(fx.container, {"image": "ghcr.io/cloudscale/api@sha256:0123"}))])
}

test_cs_sec_006_fail if {
	sec.cs_sec_006 == {{"urn": "urn:api", "msg": "Deployment shop/api container app uses unpinned image nginx:latest"}} with input as fx.kube([fx.with_container(object.union(fx.container, {"image": "nginx:latest"}))])
}

test_cs_sec_006_pass_digest_after_tag if {
	count(sec.cs_sec_006) == 0 with input as fx.kube([fx.with_container(object.union(fx.container, {"image": "redis:latest@sha256:0123"}))])
}

test_cs_sec_008_pass if {
	count(sec.cs_sec_008) == 0 with input as fx.kube([fx.deployment])
}

test_cs_sec_008_fail if {
	sec.cs_sec_008 == {
		{"urn": "urn:api", "msg": "Deployment shop/api sets hostNetwork"},
		{"urn": "urn:api", "msg": "Deployment shop/api mounts host path /var/run/docker.sock"},
	} with input as fx.kube([object.union(fx.deployment, {"spec": {"template": {"spec": {"hostNetwork": true, "volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]}}}})])
}

test_cs_sec_008_fail_host_port if {
	sec.cs_sec_008 == {{"urn": "urn:api", "msg": "Deployment shop/api container app binds host port 8080"}} with input as fx.kube([fx.with_container(object.union(fx.container, {"ports": [{"containerPort": 8080, "hostPort": 8080}]}))])
}

# Every kind that carries a pod template is a workload.
test_cs_sec_008_fail_every_pod_kind if {
	every obj in [
		{"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "api", "namespace": "shop"}, "spec": {"template": {"spec": {"hostPID": true, "containers": [fx.container]}}}},
		{"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "api", "namespace": "shop"}, "template": {"spec": {"hostPID": true, "containers": [fx.container]}}},
		{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "api", "namespace": "shop"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostPID": true, "containers": [fx.container]}}}}}},
		{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "namespace": "shop"}, "spec": {"hostPID": true, "containers": [fx.container]}},
	] {
		sec.cs_sec_008 == {{"urn": "urn:api", "msg": sprintf("%s shop/api sets hostPID", [obj.kind])}} with input as fx.kube([obj])
	}
}

# An object whose controlling owner is in the input is judged through it.
test_cs_sec_008_pass_owned if {
	count(sec.cs_sec_008) == 0 with input as fx.kube([
		{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-1", "namespace": "shop", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-1", "controller": true}]}, "spec": {"hostPID": true, "containers": [fx.container]}},
		{"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "api-1", "namespace": "shop"}, "spec": {"replicas": 1, "template": {"spec": {"containers": [fx.container]}}}},
	])
}

test_cs_sec_009_pass if {
	count(sec.cs_sec_009) == 0 with input as fx.kube([
		fx.with_container(object.union(fx.container, {"env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]})),
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "shop"}, "data": {"LOG_LEVEL": "info"}},
	])
}

# Names say "secret" but the values are a path, a directory, an audience,
# a file name, a duration and a URL without credentials.
test_cs_sec_009_pass_values_not_secrets if {
	count(sec.cs_sec_009) == 0 with input as fx.kube([fx.with_container(object.union(fx.container, {"env": [
		{"name": "APP_SECRET_KEY_PATH", "value": "/etc/app/keys/signing-key"},
		{"name": "SECRETS_DIR", "value": "/var/run/secrets/app"},
		{"name": "TOKEN_AUDIENCE", "value": "web.apps.svc"},
		{"name": "CLIENT_SECRET_FILE", "value": "client-secret.json"},
		{"name": "TOKEN_TTL", "value": "15m"},
		{"name": "TOKEN_ISSUER", "value": "https://auth.example.com/realms/cs"},
		{"name": "DATABASE_URL", "value": "postgres://app:$(DB_PASSWORD)@db:5432/app"},
		{"name": "IMAGE_DIGEST", "value": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{"name": "TOKEN_TYPE", "value": "Bearer"},
		{"name": "PASSWORD_MIN_LENGTH", "value": "12"},
		{"name": "DB_SECRET_NAME", "value": "orders-db-app"},
	]}))])
}

# Values with a secret's form are secrets whatever their name.
test_cs_sec_009_fail_secret_values if {
	sec.cs_sec_009 == {
		{"urn": "urn:api", "msg": "Deployment shop/api container app sets DATABASE_URL as a literal value"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app sets TLS_KEY as a literal value"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app sets SESSION_KEY as a literal value"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app sets GH as a literal value"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app sets API_TOKEN_HEADER as a literal value"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app sets ADMIN_PASSWORD as a literal value"},
	} with input as fx.kube([fx.with_container(object.union(fx.container, {"env": [
		{"name": "DATABASE_URL", "value": "postgres://app:hunter2@db:5432/app"},
		{"name": "TLS_KEY", "value": "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"},
		{"name": "SESSION_KEY", "value": "q7Xv2Lm9Pz4Rt8Kw3Jn6Hb1Yc5Fd0Gs"},
		{"name": "GH", "value": "ghp_0123456789abcdefghijABCDEFGHIJ012345"},
		{"name": "API_TOKEN_HEADER", "value": "AKIAIOSFODNN7EXAMPLE"},
		{"name": "ADMIN_PASSWORD", "value": "changeme"},
	]}))])
}

test_cs_sec_009_fail if {
	sec.cs_sec_009 == {
		{"urn": "urn:app", "msg": "ConfigMap shop/app holds api_key in plain text"},
		{"urn": "urn:api", "msg": "Deployment shop/api container app sets DB_PASSWORD as a literal value"},
	} with input as fx.kube([
		fx.with_container(object.union(fx.container, {"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]})),
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "shop"}, "data": {"api_key": "abc123"}},
	])
}

release(extra) := fx.res("kubernetes:helm.sh/v3:Release", "istiod", object.union({"chart": "istiod", "version": "1.27.3", "repositoryOpts": {"repo": "https://istio-release.storage.googleapis.com/charts"}}, extra))

test_cs_sec_010_pass if {
	count(sec.cs_sec_010) == 0 with input as fx.cloud([release({})])
}

test_cs_sec_010_fail if {
	sec.cs_sec_010 == {
		{"urn": "urn:istiod", "msg": "Helm release istiod installs chart istiod at version 1.27.x, not an exact version"},
		{"urn": "urn:istiod", "msg": "Helm release istiod fetches chart istiod from \"http://charts.example\", not an https repository"},
	} with input as fx.cloud([release({"version": "1.27.x", "repositoryOpts": {"repo": "http://charts.example"}})])
}

# Redis AUTH: the platform's Valkey takes REDIS_PASSWORD from a Secret in
# both containers; --requirepass of a variable from a Secret is as good.
test_cs_sec_011_pass if {
	count(sec.cs_sec_011) == 0 with input as fx.kube(array.concat(fx.data_tier, [
		object.union(fx.with_redis([object.union(fx.redis_server, {
			"command": ["sh", "-c"], "args": ["exec valkey-server --port 0 --tls-port 6379 --requirepass ${PASS}"],
			"env": [{"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password"}}}],
		})]), {"metadata": {"name": "shell"}}),
	]))
}

test_cs_sec_011_fail if {
	sec.cs_sec_011 == {
		{"urn": "urn:redis-state", "msg": "StatefulSet cloudscale/redis-state container redis sets REDIS_PASSWORD as a literal value: the Redis password is in plain text"},
		{"urn": "urn:redis-state", "msg": "StatefulSet cloudscale/redis-state container sentinel takes REDIS_PASSWORD from ConfigMap redis-config: the Redis password is in plain text"},
		{"urn": "urn:open", "msg": "StatefulSet cloudscale/open container redis requires no AUTH (no REDIS_PASSWORD from a Secret, no --requirepass)"},
		{"urn": "urn:flag", "msg": "StatefulSet cloudscale/flag container redis passes --requirepass a literal value: the Redis password is in plain text"},
		{"urn": "urn:flag", "msg": "StatefulSet cloudscale/flag container cache passes --requirepass a literal value: the Redis password is in plain text"},
	} with input as fx.kube([
		fx.with_redis([
			object.union(fx.redis_server, {"env": [{"name": "REDIS_PASSWORD", "value": "hunter2"}]}),
			object.union(fx.redis_sentinel, {"env": [{"name": "SENTINEL_QUORUM", "value": "2"}, {"name": "REDIS_PASSWORD", "valueFrom": {"configMapKeyRef": {"name": "redis-config", "key": "password"}}}]}),
		]),
		object.union(fx.with_redis([object.union(fx.redis_server, {"env": []}), fx.redis_sentinel]), {"metadata": {"name": "open"}}),
		# a literal, and a reference to a variable that is not from a Secret
		object.union(fx.with_redis([
			object.union(fx.redis_server, {"args": ["--port", "0", "--tls-port", "6379", "--requirepass", "hunter2"], "env": []}),
			object.union(fx.redis_server, {"name": "cache", "args": ["--requirepass", "$(PASS)"], "env": [{"name": "PASS", "value": "hunter2"}]}),
		]), {"metadata": {"name": "flag"}}),
	])
}
