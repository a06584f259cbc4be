# Encryption rules: at rest with customer-managed keys rotated every 90 days,
# in transit with TLS. Mandatory in every environment.
package cloudscale.rules.encryption

import rego.v1

import data.cloudscale.lib

# METADATA
# title: EKS secrets are envelope-encrypted with a customer-managed key
# description: Kubernetes Secrets in etcd must be encrypted with a KMS key the platform owns.
# custom:
#   id: CS-ENC-001
#   severity: critical
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set encryptionConfig {provider.keyArn = a KMS key ARN, resources = ["secrets"]} on the aws.eks.Cluster.
cs_enc_001 contains f if {
	some r in input.by_type["aws:eks/cluster:Cluster"]
	not eks_secrets_encrypted(r)
	f := {"urn": r.urn, "msg": sprintf("EKS cluster %s has no KMS envelope encryption for secrets", [r.name])}
}

eks_secrets_encrypted(r) if {
	r.inputs.encryptionConfig.provider.keyArn != ""
	"secrets" in r.inputs.encryptionConfig.resources
}

# METADATA
# title: Keys rotate at least every 90 days
# description: AWS KMS keys, Azure Key Vault keys and GCP Cloud KMS keys must rotate automatically within 90 days.
# custom:
#   id: CS-ENC-002
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "AWS: enableKeyRotation true and rotationPeriodInDays <= 90; Azure: a rotationPolicy with a Rotate action at timeAfterCreate <= P90D; GCP: rotationPeriod <= 7776000s."
cs_enc_002 contains f if {
	some r in input.by_type["aws:kms/key:Key"]
	not object.get(r.inputs, "enableKeyRotation", false)
	f := {"urn": r.urn, "msg": sprintf("KMS key %s does not rotate (enableKeyRotation is not true)", [r.name])}
}

cs_enc_002 contains f if {
	some r in input.by_type["aws:kms/key:Key"]
	object.get(r.inputs, "enableKeyRotation", false)
	days := object.get(r.inputs, "rotationPeriodInDays", 365)
	days > 90
	f := {"urn": r.urn, "msg": sprintf("KMS key %s rotates every %v days; at most 90 allowed", [r.name, days])}
}

cs_enc_002 contains f if {
	some r in input.by_type["azure-native:keyvault:Key"]
	not azure_key_rotates(r)
	f := {"urn": r.urn, "msg": sprintf("Key Vault key %s has no rotation policy rotating within P90D", [r.name])}
}

azure_key_rotates(r) if {
	some a in r.inputs.properties.rotationPolicy.lifetimeActions
	lower(a.action.type) == "rotate"
	lib.iso_days(a.trigger.timeAfterCreate) <= 90
}

cs_enc_002 contains f if {
	some r in input.by_type["gcp:kms/cryptoKey:CryptoKey"]
	not gcp_key_rotates(r)
	f := {"urn": r.urn, "msg": sprintf("Cloud KMS key %s rotationPeriod is %v; at most 7776000s (90 days) allowed", [r.name, object.get(r.inputs, "rotationPeriod", "unset")])}
}

gcp_key_rotates(r) if to_number(trim_suffix(r.inputs.rotationPeriod, "s")) <= 7776000

# METADATA
# title: Node disks are encrypted with a customer-managed key
# description: Node root volumes must be encrypted with a key the platform owns.
# custom:
#   id: CS-ENC-003
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "AWS: a launch template whose EBS mappings set encrypted = true and kmsKeyId; GCP: nodeConfig.bootDiskKmsKey on the node pool."
cs_enc_003 contains f if {
	some r in input.by_type["aws:ec2/launchTemplate:LaunchTemplate"]
	some m in object.get(r.inputs, "blockDeviceMappings", [])
	not ebs_cmk(m.ebs)
	f := {"urn": r.urn, "msg": sprintf("launch template %s maps %s without encryption by a KMS key", [r.name, m.deviceName])}
}

ebs_cmk(ebs) if {
	ebs.encrypted in {"true", true}
	ebs.kmsKeyId != ""
}

cs_enc_003 contains f if {
	some r in input.by_type["gcp:container/nodePool:NodePool"]
	not r.inputs.nodeConfig.bootDiskKmsKey
	f := {"urn": r.urn, "msg": sprintf("node pool %s boot disks are not encrypted with a Cloud KMS key (bootDiskKmsKey)", [r.name])}
}

# METADATA
# title: Backup storage is encrypted with a customer-managed key and versioned
# description: Buckets and storage accounts that hold backups must use a platform key and keep versions.
# custom:
#   id: CS-ENC-004
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "GCP: encryption.defaultKmsKeyName and versioning.enabled; Azure: encryption.keySource Microsoft.Keyvault; AWS: an SSE configuration with aws:kms and a key (each bucket having one is CS-ENC-011)."
cs_enc_004 contains f if {
	some r in input.by_type["gcp:storage/bucket:Bucket"]
	not r.inputs.encryption.defaultKmsKeyName
	f := {"urn": r.urn, "msg": sprintf("bucket %s has no CMEK (encryption.defaultKmsKeyName)", [r.name])}
}

cs_enc_004 contains f if {
	some r in input.by_type["gcp:storage/bucket:Bucket"]
	not r.inputs.versioning.enabled
	f := {"urn": r.urn, "msg": sprintf("bucket %s is not versioned", [r.name])}
}

cs_enc_004 contains f if {
	some r in input.by_type["azure-native:storage:StorageAccount"]
	object.get(r.inputs, ["encryption", "keySource"], "Microsoft.Storage") != "Microsoft.Keyvault"
	f := {"urn": r.urn, "msg": sprintf("storage account %s is encrypted with Microsoft-managed keys, not a Key Vault key", [r.name])}
}

cs_enc_004 contains f if {
	some r in input.by_type["aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"]
	some rule in r.inputs.rules
	not sse_kms(rule.applyServerSideEncryptionByDefault)
	f := {"urn": r.urn, "msg": sprintf("S3 encryption %s uses %v, not aws:kms with a customer-managed key", [r.name, object.get(rule, ["applyServerSideEncryptionByDefault", "sseAlgorithm"], "none")])}
}

sse_kms(d) if {
	d.sseAlgorithm in {"aws:kms", "aws:kms:dsse"}
	d.kmsMasterKeyId != ""
}

# CS-ENC-005 (persistent volumes are encrypted) is a stack rule: it joins
# CloudNativePG clusters, Percona MongoDB replica sets and RabbitMQ
# clusters with the StorageClasses they name.

# METADATA
# title: AKS uses host encryption and a disk encryption set
# description: Every AKS pool encrypts at the host, and OS and data disks use a customer-managed key.
# custom:
#   id: CS-ENC-006
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set enableEncryptionAtHost on every agent pool and diskEncryptionSetID on the ManagedCluster.
cs_enc_006 contains f if {
	some r in input.by_type["azure-native:containerservice:ManagedCluster"]
	some p in r.inputs.agentPoolProfiles
	not p.enableEncryptionAtHost
	f := {"urn": r.urn, "msg": sprintf("AKS %s pool %s has no host encryption", [r.name, p.name])}
}

cs_enc_006 contains f if {
	some r in input.by_type["azure-native:containerservice:ManagedCluster"]
	not r.inputs.diskEncryptionSetID
	f := {"urn": r.urn, "msg": sprintf("AKS %s has no disk encryption set", [r.name])}
}

# METADATA
# title: GKE encrypts secrets at the application layer
# description: GKE must encrypt etcd secrets with a Cloud KMS key.
# custom:
#   id: CS-ENC-007
#   severity: critical
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set databaseEncryption {state = ENCRYPTED, keyName = a Cloud KMS key} on the container.Cluster.
cs_enc_007 contains f if {
	some r in input.by_type["gcp:container/cluster:Cluster"]
	not gke_secrets_encrypted(r)
	f := {"urn": r.urn, "msg": sprintf("GKE cluster %s does not encrypt secrets with Cloud KMS", [r.name])}
}

gke_secrets_encrypted(r) if {
	r.inputs.databaseEncryption.state == "ENCRYPTED"
	r.inputs.databaseEncryption.keyName != ""
}

# METADATA
# title: The gateway serves TLS 1.3 and no plain HTTP
# description: Istio Gateways terminate TLS with TLS 1.3 as the minimum, and expose no plain-HTTP server; Kubernetes Gateway API Gateways likewise have only HTTPS or TLS listeners that terminate TLS with a certificate, and no route reaches them in plain text (TCPRoute, UDPRoute, or a parent port other than the listeners' TLS ones).
# custom:
#   id: CS-ENC-008
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "Istio: give every server protocol HTTPS with tls.minProtocolVersion TLSV1_3 and remove HTTP servers. Gateway API: listeners of protocol HTTPS (or TLS with tls.mode Terminate) with tls.certificateRefs, no HTTP, TCP or UDP listeners, and HTTPRoutes or GRPCRoutes attached to them."
cs_enc_008 contains f if {
	some r in input.kinds["networking.istio.io/Gateway"]
	some s in r.inputs.spec.servers
	upper(s.port.protocol) == "HTTP"
	f := {"urn": r.urn, "msg": sprintf("Gateway %s serves plain HTTP on port %v", [lib.name(r), s.port.number])}
}

cs_enc_008 contains f if {
	some r in input.kinds["networking.istio.io/Gateway"]
	some s in r.inputs.spec.servers
	upper(s.port.protocol) in {"HTTPS", "TLS"}
	object.get(s, ["tls", "minProtocolVersion"], "TLS_AUTO") != "TLSV1_3"
	f := {"urn": r.urn, "msg": sprintf("Gateway %s port %v allows TLS below 1.3 (minProtocolVersion %v)", [lib.name(r), s.port.number, object.get(s, ["tls", "minProtocolVersion"], "unset")])}
}

# Kubernetes Gateway API (gateway.networking.k8s.io): the same rule for
# its Gateways' listeners and the routes that attach to them.
cs_enc_008 contains f if {
	some r in input.kinds["gateway.networking.k8s.io/Gateway"]
	some l in object.get(r.inputs, ["spec", "listeners"], [])
	msg := listener_problem(l)
	f := {"urn": r.urn, "msg": sprintf("Gateway %s/%s listener %v (port %v) %s", [lib.namespace(r), lib.name(r), object.get(l, "name", "?"), object.get(l, "port", "?"), msg])}
}

listener_problem(l) := sprintf("serves plain %s", [upper(l.protocol)]) if upper(l.protocol) in {"HTTP", "TCP", "UDP"}

listener_problem(l) := "passes TLS through without terminating it, so the gateway cannot enforce TLS 1.3 or authenticate requests" if {
	upper(l.protocol) == "TLS"
	object.get(l, ["tls", "mode"], "Terminate") == "Passthrough"
}

listener_problem(l) := "terminates TLS without a certificate (tls.certificateRefs)" if {
	upper(l.protocol) in {"HTTPS", "TLS"}
	object.get(l, ["tls", "mode"], "Terminate") == "Terminate"
	count(object.get(l, ["tls", "certificateRefs"], [])) == 0
}

cs_enc_008 contains f if {
	some k in ["gateway.networking.k8s.io/TCPRoute", "gateway.networking.k8s.io/UDPRoute"]
	some r in input.kinds[k]
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s exposes a plain %s service through a gateway", [r.inputs.kind, lib.namespace(r), lib.name(r), trim_suffix(r.inputs.kind, "Route")])}
}

cs_enc_008 contains f if {
	some k in ["gateway.networking.k8s.io/HTTPRoute", "gateway.networking.k8s.io/GRPCRoute"]
	some r in input.kinds[k]
	some p in object.get(r.inputs, ["spec", "parentRefs"], [])
	object.get(p, "port", 443) != 443
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s attaches to gateway %v on port %v, not the TLS listener on 443", [r.inputs.kind, lib.namespace(r), lib.name(r), p.name, p.port])}
}

# METADATA
# title: Mesh mTLS is never relaxed
# description: No PeerAuthentication sets PERMISSIVE or DISABLE, for its workloads or a port. A mode left unset (or UNSET) inherits from the level above (workload from namespace, namespace from mesh), so it relaxes nothing; the mesh-wide level itself must be STRICT (CS-ENC-012).
# custom:
#   id: CS-ENC-009
#   severity: critical
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Remove PERMISSIVE and DISABLE (from mtls and portLevelMtls); set STRICT or leave the mode unset to inherit the mesh-wide STRICT.
cs_enc_009 contains f if {
	some r in input.kinds["security.istio.io/PeerAuthentication"]
	mode := object.get(r.inputs, ["spec", "mtls", "mode"], "UNSET")
	mode in relaxed_modes
	f := {"urn": r.urn, "msg": sprintf("PeerAuthentication %s/%s sets mTLS mode %s", [lib.namespace(r), lib.name(r), mode])}
}

cs_enc_009 contains f if {
	some r in input.kinds["security.istio.io/PeerAuthentication"]
	some port, m in object.get(r.inputs, ["spec", "portLevelMtls"], {})
	object.get(m, "mode", "UNSET") in relaxed_modes
	f := {"urn": r.urn, "msg": sprintf("PeerAuthentication %s/%s relaxes mTLS to %s on port %v", [lib.namespace(r), lib.name(r), m.mode, port])}
}

relaxed_modes := {"PERMISSIVE", "DISABLE"}

# METADATA
# title: Databases, caches and brokers require TLS
# description: "Operator-managed stores serve TLS only: RabbitMQ, MongoDB (community and Percona operators), Redis (the chart's tls.enabled; a Redis or Valkey server container started with --port 0 and a --tls-port, so it has no plain-text port), and CloudNativePG, whose pg_hba admits a connection without TLS through any host or hostnossl line that does not reject, and through the operator's own host fallback unless a hostnossl reject line for all comes first."
# custom:
#   id: CS-ENC-010
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "RabbitmqCluster: spec.tls.secretName and disableNonTLSListeners; MongoDBCommunity: spec.security.tls.enabled; PerconaServerMongoDB: spec.tls.mode requireTLS; Redis chart: tls.enabled and tls.authClients; Redis or Valkey container: args --port 0 --tls-port 6379 (and --tls-replication yes); CloudNativePG: hostssl lines only, after 'hostnossl all all all reject' (which also stops the operator's host fallback)."
cs_enc_010 contains f if {
	some r in input.kinds["rabbitmq.com/RabbitmqCluster"]
	not rabbit_tls_only(r.inputs.spec)
	f := {"urn": r.urn, "msg": sprintf("RabbitmqCluster %s accepts non-TLS connections", [lib.name(r)])}
}

rabbit_tls_only(spec) if {
	spec.tls.secretName != ""
	spec.tls.disableNonTLSListeners == true
}

cs_enc_010 contains f if {
	some r in input.kinds["mongodbcommunity.mongodb.com/MongoDBCommunity"]
	not r.inputs.spec.security.tls.enabled
	f := {"urn": r.urn, "msg": sprintf("MongoDBCommunity %s does not enable TLS", [lib.name(r)])}
}

# Percona's tls.mode defaults to preferTLS, which still accepts plain
# connections; only requireTLS refuses them.
cs_enc_010 contains f if {
	some r in input.kinds["psmdb.percona.com/PerconaServerMongoDB"]
	mode := object.get(r.inputs, ["spec", "tls", "mode"], "preferTLS (the default)")
	mode != "requireTLS"
	f := {"urn": r.urn, "msg": sprintf("PerconaServerMongoDB %s accepts non-TLS connections (tls.mode %s)", [lib.name(r), mode])}
}

cs_enc_010 contains f if {
	some r in input.by_type["kubernetes:helm.sh/v3:Release"]
	r.inputs.chart in {"redis", "redis-cluster", "valkey"}
	not object.get(r.inputs, ["values", "tls", "enabled"], false) == true
	f := {"urn": r.urn, "msg": sprintf("Helm release %s (chart %s) serves Redis without TLS (tls.enabled)", [r.name, r.inputs.chart])}
}

# A Redis or Valkey server (lib.redis_servers) without a TLS port, or with
# the plain port (6379 unless --port says otherwise) still open beside it.
cs_enc_010 contains f if {
	some r in lib.redis_workloads
	some c in lib.redis_servers(r)
	msg := redis_plain_text(lib.command_line(c))
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s %s", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, msg])}
}

redis_plain_text(words) := "serves Redis without TLS (no --tls-port)" if {
	not redis_tls_port(words)
} else := sprintf("serves plain Redis on port %s beside TLS (set --port 0)", [port]) if {
	port := redis_port(words)
	port != "0"
}

redis_tls_port(words) if lib.flag_value(words, "--tls-port") != "0"

redis_port(words) := lib.flag_value(words, "--port") if {
	lib.flag_value(words, "--port")
} else := "6379 (the default)"

cs_enc_010 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	some line in plain_hba_lines(object.get(r.inputs, ["spec", "postgresql", "pg_hba"], []))
	f := {"urn": r.urn, "msg": sprintf("Cluster %s/%s admits connections without TLS: %s", [lib.namespace(r), lib.name(r), line])}
}

# plain_hba_lines: the pg_hba lines through which a connection without TLS
# gets in. PostgreSQL takes the first line that matches; CloudNativePG puts
# the user's lines after its own hostssl lines and appends
# "host all all all <method>", so a plain connection reaches that fallback
# unless a "hostnossl all all all reject" line (or "host ... reject") for
# every database, user and address comes first.
plain_hba_lines(lines) := {line |
	some i, line in lines
	hba_admits_plain(hba_fields(line))
	not rejected_before(lines, i)
} | fallback(lines)

fallback(lines) := {"the operator's fallback line \"host all all all <method>\" (no \"hostnossl all all all reject\" line first)"} if {
	not rejects_all_plain(lines)
} else := set()

hba_fields(line) := [w | some w in regex.split(`\s+`, trim_space(line)); w != ""]

hba_admits_plain(f) if {
	f[0] in {"host", "hostnossl"}
	not hba_method(f) == "reject"
}

hba_method(f) := f[4] if regex.match(`^(all|samenet|samehost|[0-9a-fA-F.:]+/[0-9]+)$`, f[3])

hba_method(f) := f[5] if not regex.match(`^(all|samenet|samehost|[0-9a-fA-F.:]+/[0-9]+)$`, f[3])

# hba_rejects(f): the address a line rejects plain connections from, for
# every database and user.
hba_rejects(f) := f[3] if {
	f[0] in {"host", "hostnossl"}
	f[1] == "all"
	f[2] == "all"
	hba_method(f) == "reject"
}

# rejects_all_plain: the lines reject plain connections from every address
# ("all", or both 0.0.0.0/0 and ::/0).
rejects_all_plain(lines) if "all" in {hba_rejects(hba_fields(l)) | some l in lines}

rejects_all_plain(lines) if {
	addrs := {hba_rejects(hba_fields(l)) | some l in lines}
	"0.0.0.0/0" in addrs
	"::/0" in addrs
}

rejected_before(lines, i) if rejects_all_plain(array.slice(lines, 0, i))

# METADATA
# title: The mesh enforces TLS 1.3
# description: Sidecar-to-sidecar mTLS and the mesh's TLS origination use TLS 1.3 as the minimum.
# custom:
#   id: CS-ENC-013
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set meshMTLS.minProtocolVersion and tlsDefaults.minProtocolVersion to TLSV1_3 in the istio ConfigMap's mesh config.
cs_enc_013 contains f if {
	some r in input.kinds["core/ConfigMap"]
	lib.name(r) == "istio"
	mesh := mesh_config(r)
	some key in ["meshMTLS", "tlsDefaults"]
	v := object.get(mesh, [key, "minProtocolVersion"], "unset")
	v != "TLSV1_3"
	f := {"urn": r.urn, "msg": sprintf("mesh config %s/istio sets %s.minProtocolVersion %v", [lib.namespace(r), key, v])}
}

# mesh_config is the mesh config a ConfigMap holds; none (no mesh key)
# reads as empty, so every setting counts as unset.
mesh_config(r) := m if {
	m := yaml.unmarshal(r.inputs.data.mesh)
	is_object(m)
} else := {}

# METADATA
# title: MongoDB encrypts its data at rest
# description: "Percona Server for MongoDB encrypts its data files (WiredTiger encryption at rest) by default: the operator starts every mongod with --enableEncryption and a key from the Secret spec.secrets.encryptionKey (generated as <cluster>-mongodb-encryption-key when unset), or from Vault when the configuration has security.vault. Only a set's own mongod configuration turns it off: security.enableEncryption false (in any YAML 1.1 spelling the operator reads as false: false, no, off, n; block or flow style, any indentation) in the configuration of a replica set, of its non-voting or hidden members, or of the config server set cfg. A set on the inMemory storage engine (storage.engine inMemory) keeps its data in memory, but its configuration must not turn encryption off either."
# custom:
#   id: CS-ENC-014
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "Remove security.enableEncryption: false from spec.replsets[].configuration (and nonvoting, hidden, sharding.configsvrReplSet configuration); leave spec.secrets.encryptionKey unset for a generated key, or name a Secret holding one (or configure security.vault)."
cs_enc_014 contains f if {
	some r in input.kinds["psmdb.percona.com/PerconaServerMongoDB"]
	some m in lib.psmdb_members(object.get(r.inputs, "spec", {}))
	mongod_encryption_off(object.get(m.member, "configuration", ""))
	f := {"urn": r.urn, "msg": sprintf("PerconaServerMongoDB %s/%s %s %s (security.enableEncryption false in its configuration), so its data files are written in plain text", [lib.namespace(r), lib.name(r), m.what, engine_text(m.member)])}
}

# mongod_encryption_off: the mongod configuration (a YAML string) sets
# security.enableEncryption to false, as the operator (gopkg.in/yaml.v2,
# YAML 1.1) reads it.
mongod_encryption_off(conf) if {
	is_string(conf)
	yaml.is_valid(conf)
	c := yaml.unmarshal(conf)
	is_object(c)
	yaml_false(c.security.enableEncryption)
}

# yaml_false: YAML 1.1 false, as gopkg.in/yaml.v2 (the operator) resolves
# a plain scalar; OPA's YAML reader leaves n, no and off as strings.
yaml_false(false)

yaml_false(v) if v in {"n", "N", "no", "No", "NO", "off", "Off", "OFF"}

engine_text(m) := "runs the inMemory storage engine with encryption at rest turned off" if {
	object.get(m, ["storage", "engine"], "wiredTiger") == "inMemory"
} else := "turns encryption at rest off"
