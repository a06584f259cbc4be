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

# METADATA
# title: Persistent volumes are encrypted
# description: The StorageClasses workloads bind must encrypt volumes with a platform key.
# custom:
#   id: CS-ENC-005
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "ebs.csi.aws.com: encrypted 'true' and kmsKeyId; disk.csi.azure.com: diskEncryptionSetID; pd.csi.storage.gke.io: disk-encryption-kms-key."
cs_enc_005 contains f if {
	some r in input.kinds["storage.k8s.io/StorageClass"]
	not storage_class_encrypted(r.inputs)
	f := {"urn": r.urn, "msg": sprintf("StorageClass %s (%s) does not encrypt volumes with a platform key", [lib.name(r), r.inputs.provisioner])}
}

storage_class_encrypted(sc) if {
	sc.provisioner == "ebs.csi.aws.com"
	sc.parameters.encrypted == "true"
	sc.parameters.kmsKeyId != ""
}

storage_class_encrypted(sc) if {
	sc.provisioner == "disk.csi.azure.com"
	sc.parameters.diskEncryptionSetID != ""
}

storage_class_encrypted(sc) if {
	sc.provisioner == "pd.csi.storage.gke.io"
	sc.parameters["disk-encryption-kms-key"] != ""
}

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
# description: Istio Gateways terminate TLS with TLS 1.3 as the minimum, and expose no plain-HTTP server.
# custom:
#   id: CS-ENC-008
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Give every server protocol HTTPS with tls.minProtocolVersion TLSV1_3; remove HTTP servers.
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

# METADATA
# title: Mesh mTLS is never relaxed
# description: No PeerAuthentication may set mTLS to PERMISSIVE or DISABLE; the mesh-wide one must be STRICT.
# custom:
#   id: CS-ENC-009
#   severity: critical
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set spec.mtls.mode STRICT (and no portLevelMtls exceptions).
cs_enc_009 contains f if {
	some r in input.kinds["security.istio.io/PeerAuthentication"]
	mode := object.get(r.inputs, ["spec", "mtls", "mode"], "UNSET")
	mode != "STRICT"
	f := {"urn": r.urn, "msg": sprintf("PeerAuthentication %s/%s sets mTLS mode %s", [lib.namespace(r), lib.name(r), mode])}
}

cs_enc_009 contains f if {
	some r in input.kinds["security.istio.io/PeerAuthentication"]
	some port, m in object.get(r.inputs, ["spec", "portLevelMtls"], {})
	m.mode != "STRICT"
	f := {"urn": r.urn, "msg": sprintf("PeerAuthentication %s/%s relaxes mTLS to %s on port %v", [lib.namespace(r), lib.name(r), m.mode, port])}
}

# METADATA
# title: Databases, caches and brokers require TLS
# description: Operator-managed stores must serve TLS only.
# custom:
#   id: CS-ENC-010
#   severity: high
#   category: encryption
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "RabbitmqCluster: spec.tls.secretName and disableNonTLSListeners; MongoDBCommunity: spec.security.tls.enabled; CloudNativePG: no pg_hba 'host' (non-SSL) lines."
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

cs_enc_010 contains f if {
	some r in input.kinds["postgresql.cnpg.io/Cluster"]
	some line in object.get(r.inputs, ["spec", "postgresql", "pg_hba"], [])
	startswith(trim_space(line), "host ")
	f := {"urn": r.urn, "msg": sprintf("Cluster %s allows non-TLS connections: pg_hba %q", [lib.name(r), line])}
}

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
