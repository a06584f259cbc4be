package cloudscale.rules.encryption_test

import rego.v1

import data.cloudscale.fixtures as fx
import data.cloudscale.rules.encryption as enc

eks(extra) := fx.res("aws:eks/cluster:Cluster", "eks", object.union({"version": "1.33"}, extra))

test_cs_enc_001_pass if {
	count(enc.cs_enc_001) == 0 with input as fx.cloud([eks({"encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:k"}, "resources": ["secrets"]}})])
}

test_cs_enc_001_fail if {
	enc.cs_enc_001 == {{"urn": "urn:eks", "msg": "EKS cluster eks has no KMS envelope encryption for secrets"}} with input as fx.cloud([eks({})])
}

test_cs_enc_002_pass if {
	count(enc.cs_enc_002) == 0 with input as fx.cloud([
		fx.res("aws:kms/key:Key", "k", {"enableKeyRotation": true, "rotationPeriodInDays": 90}),
		fx.res("azure-native:keyvault:Key", "kv", {"properties": {"rotationPolicy": {"lifetimeActions": [{"action": {"type": "Rotate"}, "trigger": {"timeAfterCreate": "P90D"}}]}}}),
		fx.res("gcp:kms/cryptoKey:CryptoKey", "ck", {"rotationPeriod": "7776000s"}),
	])
}

test_cs_enc_002_fail if {
	enc.cs_enc_002 == {
		{"urn": "urn:k1", "msg": "KMS key k1 does not rotate (enableKeyRotation is not true)"},
		{"urn": "urn:k2", "msg": "KMS key k2 rotates every 365 days; at most 90 allowed"},
		{"urn": "urn:kv", "msg": "Key Vault key kv has no rotation policy rotating within P90D"},
		{"urn": "urn:ck", "msg": "Cloud KMS key ck rotationPeriod is 31536000s; at most 7776000s (90 days) allowed"},
	} with input as fx.cloud([
		fx.res("aws:kms/key:Key", "k1", {}),
		fx.res("aws:kms/key:Key", "k2", {"enableKeyRotation": true}),
		fx.res("azure-native:keyvault:Key", "kv", {"properties": {"rotationPolicy": {"lifetimeActions": [{"action": {"type": "Rotate"}, "trigger": {"timeAfterCreate": "P1Y"}}]}}}),
		fx.res("gcp:kms/cryptoKey:CryptoKey", "ck", {"rotationPeriod": "31536000s"}),
	])
}

test_cs_enc_003_pass if {
	count(enc.cs_enc_003) == 0 with input as fx.cloud([
		fx.res("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": "arn:k"}}]}),
		fx.res("gcp:container/nodePool:NodePool", "np", {"nodeConfig": {"bootDiskKmsKey": "projects/p/keys/k"}}),
	])
}

test_cs_enc_003_fail if {
	enc.cs_enc_003 == {
		{"urn": "urn:lt", "msg": "launch template lt maps /dev/xvda without encryption by a KMS key"},
		{"urn": "urn:np", "msg": "node pool np boot disks are not encrypted with a Cloud KMS key (bootDiskKmsKey)"},
	} with input as fx.cloud([
		fx.res("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}]}),
		fx.res("gcp:container/nodePool:NodePool", "np", {"nodeConfig": {}}),
	])
}

test_cs_enc_004_pass if {
	count(enc.cs_enc_004) == 0 with input as fx.cloud([
		fx.res("gcp:storage/bucket:Bucket", "b", {"encryption": {"defaultKmsKeyName": "k"}, "versioning": {"enabled": true}}),
		fx.res("azure-native:storage:StorageAccount", "sa", {"encryption": {"keySource": "Microsoft.Keyvault"}}),
		fx.res("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "sse", {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:k"}}]}),
	])
}

test_cs_enc_004_fail if {
	enc.cs_enc_004 == {
		{"urn": "urn:b", "msg": "bucket b has no CMEK (encryption.defaultKmsKeyName)"},
		{"urn": "urn:b", "msg": "bucket b is not versioned"},
		{"urn": "urn:sa", "msg": "storage account sa is encrypted with Microsoft-managed keys, not a Key Vault key"},
		{"urn": "urn:sse", "msg": "S3 encryption sse uses AES256, not aws:kms with a customer-managed key"},
	} with input as fx.cloud([
		fx.res("gcp:storage/bucket:Bucket", "b", {}),
		fx.res("azure-native:storage:StorageAccount", "sa", {}),
		fx.res("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "sse", {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
	])
}

aks(extra) := fx.res("azure-native:containerservice:ManagedCluster", "aks", object.union({"agentPoolProfiles": [{"name": "user", "enableEncryptionAtHost": true}], "diskEncryptionSetID": "/des"}, extra))

test_cs_enc_006_pass if {
	count(enc.cs_enc_006) == 0 with input as fx.cloud([aks({})])
}

test_cs_enc_006_fail if {
	enc.cs_enc_006 == {
		{"urn": "urn:aks", "msg": "AKS aks pool user has no host encryption"},
		{"urn": "urn:aks", "msg": "AKS aks has no disk encryption set"},
	} with input as fx.cloud([fx.res("azure-native:containerservice:ManagedCluster", "aks", {"agentPoolProfiles": [{"name": "user"}]})])
}

test_cs_enc_007_pass if {
	count(enc.cs_enc_007) == 0 with input as fx.cloud([fx.res("gcp:container/cluster:Cluster", "gke", {"databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"}})])
}

test_cs_enc_007_fail if {
	enc.cs_enc_007 == {{"urn": "urn:gke", "msg": "GKE cluster gke does not encrypt secrets with Cloud KMS"}} with input as fx.cloud([fx.res("gcp:container/cluster:Cluster", "gke", {"databaseEncryption": {"state": "DECRYPTED"}})])
}

gateway(servers) := {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "main", "namespace": "istio-ingress"}, "spec": {"servers": servers}}

test_cs_enc_008_pass if {
	count(enc.cs_enc_008) == 0 with input as fx.kube([gateway([{"port": {"number": 443, "protocol": "HTTPS"}, "tls": {"mode": "SIMPLE", "minProtocolVersion": "TLSV1_3"}}])])
}

listener(l) := {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "public", "namespace": "ingress"}, "spec": {"gatewayClassName": "istio", "listeners": [l]}}

route(kind, parent) := {"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind, "metadata": {"name": "api", "namespace": "shop"}, "spec": {"parentRefs": [parent]}}

test_cs_enc_008_pass_gateway_api if {
	count(enc.cs_enc_008) == 0 with input as fx.kube([
		listener({"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"certificateRefs": [{"name": "api-tls"}]}}),
		route("HTTPRoute", {"name": "public", "namespace": "ingress", "sectionName": "https"}),
		route("GRPCRoute", {"name": "public", "namespace": "ingress", "port": 443}),
	])
}

test_cs_enc_008_fail_gateway_api if {
	enc.cs_enc_008 == {
		{"urn": "urn:public", "msg": "Gateway ingress/public listener http (port 80) serves plain HTTP"},
		{"urn": "urn:public", "msg": "Gateway ingress/public listener tls (port 443) passes TLS through without terminating it, so the gateway cannot enforce TLS 1.3 or authenticate requests"},
		{"urn": "urn:public", "msg": "Gateway ingress/public listener https (port 443) terminates TLS without a certificate (tls.certificateRefs)"},
		{"urn": "urn:api", "msg": "TCPRoute shop/api exposes a plain TCP service through a gateway"},
		{"urn": "urn:api", "msg": "HTTPRoute shop/api attaches to gateway public on port 80, not the TLS listener on 443"},
	} with input as fx.kube([
		object.union(listener({}), {"spec": {"listeners": [
			{"name": "http", "port": 80, "protocol": "HTTP"},
			{"name": "tls", "port": 443, "protocol": "TLS", "tls": {"mode": "Passthrough"}},
			{"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"mode": "Terminate"}},
		]}}),
		route("TCPRoute", {"name": "public"}),
		route("HTTPRoute", {"name": "public", "port": 80}),
	])
}

test_cs_enc_008_fail if {
	enc.cs_enc_008 == {
		{"urn": "urn:main", "msg": "Gateway main serves plain HTTP on port 80"},
		{"urn": "urn:main", "msg": "Gateway main port 443 allows TLS below 1.3 (minProtocolVersion TLSV1_2)"},
	} with input as fx.kube([gateway([
		{"port": {"number": 80, "protocol": "HTTP"}},
		{"port": {"number": 443, "protocol": "HTTPS"}, "tls": {"minProtocolVersion": "TLSV1_2"}},
	])])
}

peer(mode, extra) := object.union({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": mode}}}, extra)

test_cs_enc_009_pass if {
	count(enc.cs_enc_009) == 0 with input as fx.kube([peer("STRICT", {})])
}

test_cs_enc_009_fail if {
	enc.cs_enc_009 == {
		{"urn": "urn:default", "msg": "PeerAuthentication istio-system/default sets mTLS mode PERMISSIVE"},
		{"urn": "urn:default", "msg": "PeerAuthentication istio-system/default relaxes mTLS to DISABLE on port 8080"},
	} with input as fx.kube([peer("PERMISSIVE", {"spec": {"portLevelMtls": {"8080": {"mode": "DISABLE"}}}})])
}

# A workload PeerAuthentication that leaves mtls unset inherits the
# mesh-wide STRICT; a STRICT or UNSET port relaxes nothing.
test_cs_enc_009_pass_inherits if {
	count(enc.cs_enc_009) == 0 with input as fx.kube([
		peer("STRICT", {}),
		{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "portLevelMtls": {"9090": {"mode": "STRICT"}, "9091": {"mode": "UNSET"}}}},
		{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "default", "namespace": "shop"}, "spec": {"mtls": {"mode": "UNSET"}}},
	])
}

test_cs_enc_009_fail_port_only if {
	enc.cs_enc_009 == {{"urn": "urn:web", "msg": "PeerAuthentication shop/web relaxes mTLS to PERMISSIVE on port 9090"}} with input as fx.kube([
		{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "portLevelMtls": {"9090": {"mode": "PERMISSIVE"}}}},
	])
}

test_cs_enc_010_pass if {
	count(enc.cs_enc_010) == 0 with input as fx.kube([
		{"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "metadata": {"name": "mq"}, "spec": {"tls": {"secretName": "mq-tls", "disableNonTLSListeners": true}}},
		{"apiVersion": "mongodbcommunity.mongodb.com/v1", "kind": "MongoDBCommunity", "metadata": {"name": "docs"}, "spec": {"security": {"tls": {"enabled": true}}}},
		{"apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB", "metadata": {"name": "psmdb"}, "spec": {"tls": {"mode": "requireTLS"}}},
		cnpg(["hostnossl all all all reject", "hostssl all all 10.0.0.0/8 scram-sha-256"]),
	])
}

# Rejecting plain connections from both address families covers all.
test_cs_enc_010_pass_reject_both_families if {
	count(enc.cs_enc_010) == 0 with input as fx.kube([cnpg(["hostnossl all all 0.0.0.0/0 reject", "hostnossl all all ::/0 reject", "hostssl all all all scram-sha-256"])])
}

cnpg(hba) := {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "data"}, "spec": {"postgresql": {"pg_hba": hba}}}

test_cs_enc_010_fail if {
	enc.cs_enc_010 == {
		{"urn": "urn:mq", "msg": "RabbitmqCluster mq accepts non-TLS connections"},
		{"urn": "urn:docs", "msg": "MongoDBCommunity docs does not enable TLS"},
		{"urn": "urn:psmdb", "msg": "PerconaServerMongoDB psmdb accepts non-TLS connections (tls.mode preferTLS (the default))"},
		{"urn": "urn:pg", "msg": "Cluster data/pg admits connections without TLS: host all all 10.0.0.0/8 md5"},
		{"urn": "urn:pg", "msg": "Cluster data/pg admits connections without TLS: the operator's fallback line \"host all all all <method>\" (no \"hostnossl all all all reject\" line first)"},
	} with input as fx.kube([
		{"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "metadata": {"name": "mq"}, "spec": {}},
		{"apiVersion": "mongodbcommunity.mongodb.com/v1", "kind": "MongoDBCommunity", "metadata": {"name": "docs"}, "spec": {}},
		{"apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB", "metadata": {"name": "psmdb"}, "spec": {}},
		cnpg(["host all all 10.0.0.0/8 md5"]),
	])
}

# hostnossl admits exactly the plain connections; a line before the reject
# still admits them; the reject after it does not help.
test_cs_enc_010_fail_hostnossl_before_reject if {
	enc.cs_enc_010 == {{"urn": "urn:pg", "msg": "Cluster data/pg admits connections without TLS: hostnossl app app 10.0.0.0/8 scram-sha-256"}} with input as fx.kube([cnpg(["hostnossl app app 10.0.0.0/8 scram-sha-256", "hostnossl all all all reject"])])
}

test_cs_enc_010_fail_redis_chart if {
	enc.cs_enc_010 == {{"urn": "urn:cache", "msg": "Helm release cache (chart redis) serves Redis without TLS (tls.enabled)"}} with input as fx.cloud([fx.res("kubernetes:helm.sh/v3:Release", "cache", {"chart": "redis", "values": {"tls": {"enabled": false}}})])
}

# Redis and Valkey workloads: TLS only, no plain port beside it. The
# platform's Valkey (docker.io/valkey/valkey) serves TLS on 6379 only.
test_cs_enc_010_pass_redis_workload if {
	count(enc.cs_enc_010) == 0 with input as fx.kube(fx.data_tier)
}

test_cs_enc_010_fail_redis_workload if {
	enc.cs_enc_010 == {
		{"urn": "urn:redis-state", "msg": "StatefulSet cloudscale/redis-state container redis serves Redis without TLS (no --tls-port)"},
		{"urn": "urn:both", "msg": "StatefulSet cloudscale/both container redis serves plain Redis on port 6379 (the default) beside TLS (set --port 0)"},
		{"urn": "urn:cache", "msg": "Deployment cloudscale/cache container cache serves plain Redis on port 6380 beside TLS (set --port 0)"},
		{"urn": "urn:cache", "msg": "Deployment cloudscale/cache container plain serves Redis without TLS (no --tls-port)"},
	} with input as fx.kube([
		fx.with_redis([object.union(fx.redis_server, {"args": ["/scripts/redis.sh", "--appendonly", "yes"]}), fx.redis_sentinel]),
		object.union(fx.with_redis([object.union(fx.redis_server, {"args": ["--tls-port", "6379"]}), fx.redis_sentinel]), {"metadata": {"name": "both"}}),
		# a shell command line is read word by word; a later --tls-port 0 turns TLS off
		{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cache", "namespace": "cloudscale"}, "spec": {"replicas": 1, "template": {"spec": {"containers": [
			object.union(fx.redis_server, {"name": "cache", "image": "bitnami/redis:7.2.5", "command": ["sh", "-c"], "args": ["redis-server --port 6380 --tls-port 6379"]}),
			object.union(fx.redis_server, {"name": "plain", "image": "redis:7.2.5", "args": ["--port", "0", "--tls-port", "6379", "--tls-port", "0"]}),
		]}}}},
	])
}

mesh_config(mesh) := {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"}, "data": {"mesh": mesh}}

test_cs_enc_013_pass if {
	count(enc.cs_enc_013) == 0 with input as fx.kube([mesh_config("meshMTLS:\n  minProtocolVersion: TLSV1_3\ntlsDefaults:\n  minProtocolVersion: TLSV1_3\n")])
}

test_cs_enc_013_fail if {
	enc.cs_enc_013 == {
		{"urn": "urn:istio", "msg": "mesh config istio-system/istio sets meshMTLS.minProtocolVersion TLSV1_2"},
		{"urn": "urn:istio", "msg": "mesh config istio-system/istio sets tlsDefaults.minProtocolVersion unset"},
	} with input as fx.kube([mesh_config("meshMTLS:\n  minProtocolVersion: TLSV1_2\n")])
}

test_cs_enc_013_fail_without_mesh_key if {
	count(enc.cs_enc_013) == 2 with input as fx.kube([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"}, "data": {}}])
}

# Percona encrypts at rest by default: a configuration that leaves
# security.enableEncryption unset, or sets it true, or keeps the key in
# Vault, passes; so does a set that names its key Secret or does not.
test_cs_enc_014_pass if {
	count(enc.cs_enc_014) == 0 with input as fx.kube(array.concat(fx.data_tier_ii, [
		object.union(
			fx.with_psmdb({"secrets": {"encryptionKey": "mongo-keys"}, "replsets": [
				object.union(fx.psmdb_set("rs0"), {"configuration": "operationProfiling:\n  mode: slowOp\nsecurity:\n  enableEncryption: true\n"}),
				object.union(fx.psmdb_set("rs1"), {"configuration": "security:\n  vault:\n    serverName: vault\n"}),
			]}),
			{"metadata": {"name": "explicit"}},
		),
	]))
}

test_cs_enc_014_fail if {
	enc.cs_enc_014 == {
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app replica set rs0 turns encryption at rest off (security.enableEncryption false in its configuration), so its data files are written in plain text"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app replica set rs1 runs the inMemory storage engine with encryption at rest turned off (security.enableEncryption false in its configuration), so its data files are written in plain text"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app replica set rs1 nonvoting members turns encryption at rest off (security.enableEncryption false in its configuration), so its data files are written in plain text"},
		{"urn": "urn:mongo-app", "msg": "PerconaServerMongoDB cloudscale/mongo-app config server replica set cfg turns encryption at rest off (security.enableEncryption false in its configuration), so its data files are written in plain text"},
	} with input as fx.kube([fx.with_psmdb({
		"replsets": [
			object.union(fx.psmdb_set("rs0"), {"configuration": "security:\n    enableEncryption:    false\n"}),
			object.union(fx.psmdb_set("rs1"), {
				"storage": {"engine": "inMemory"},
				"configuration": "security: {enableEncryption: no}",
				# the non-voting members' own configuration (YAML 1.1: off is false)
				"nonvoting": {"enabled": true, "size": 1, "configuration": "security:\n  enableEncryption: off\n"},
			}),
		],
		"sharding": {"configsvrReplSet": {"configuration": "systemLog:\n  verbosity: 0\nsecurity: { enableEncryption : False }\n"}},
	})])
}
