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

test_cs_sec_007_pass if {
	count(sec.cs_sec_007) == 0 with input as fx.kube([fx.deployment]) with data.cloudscale.config as fx.config
}

test_cs_sec_007_fail if {
	sec.cs_sec_007 == {{"urn": "urn:api", "msg": "Deployment shop/api container app pulls docker.io/library/nginx:1.27, not from an allowed registry"}} with input as fx.kube([fx.with_container(object.union(fx.container, {"image": "nginx:1.27"}))]) with data.cloudscale.config as fx.config
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

test_cs_sec_009_pass if {
	count(sec.cs_sec_009) == 0 with input as fx.kube([
		fx.with_container(object.union(fx.container, {"env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]})),
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "shop"}, "data": {"LOG_LEVEL": "info"}},
	])
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
