package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/stacks/spec"
)

func TestGCPProd(t *testing.T) {
	res := run(t, "prod-gcp")
	g := res.Graph
	for _, tok := range []string{"gcp:organizations/getProject:getProject", "gcp:compute/getZones:getZones", "gcp:storage/getProjectServiceAccount:getProjectServiceAccount"} {
		assert.True(t, invoked(res, tok), tok)
	}

	keys := g.OfType("gcp:kms/cryptoKey:CryptoKey")
	require.Len(t, keys, 2)
	for _, k := range keys {
		assert.Equal(t, "7776000s", k.Inputs["rotationPeriod"], "90 days")
		assert.Equal(t, "HSM", get(k, "versionTemplate.protectionLevel"))
	}
	secretsKey := res.Output(named(t, g, "gcp:kms/cryptoKey:CryptoKey", "gcp-secrets-key"), "id")
	storageKey := res.Output(named(t, g, "gcp:kms/cryptoKey:CryptoKey", "gcp-storage-key"), "id")
	require.NotEmpty(t, secretsKey)
	assert.Contains(t, secretsKey, "projects/cloudscale-prod/locations/us-central1/keyRings/")

	gke := one(t, g, "gcp:container/cluster:Cluster")
	assert.Equal(t, "us-central1", gke.Inputs["location"], "regional cluster")
	assert.Equal(t, []any{"us-central1-a", "us-central1-b", "us-central1-c"}, gke.Inputs["nodeLocations"])
	assert.Equal(t, true, get(gke, "privateClusterConfig.enablePrivateNodes"))
	assert.Equal(t, []any{map[string]any{"cidrBlock": "203.0.113.0/24", "displayName": "allowed 203.0.113.0/24"}}, get(gke, "masterAuthorizedNetworksConfig.cidrBlocks"))
	assert.Equal(t, "ADVANCED_DATAPATH", gke.Inputs["datapathProvider"])
	assert.Equal(t, "ENCRYPTED", get(gke, "databaseEncryption.state"))
	assert.Equal(t, secretsKey, get(gke, "databaseEncryption.keyName"))
	assert.Equal(t, "cloudscale-prod.svc.id.goog", get(gke, "workloadIdentityConfig.workloadPool"))
	assert.Equal(t, true, gke.Inputs["enableShieldedNodes"])

	pool := one(t, g, "gcp:container/nodePool:NodePool")
	assert.Equal(t, []any{"us-central1-a", "us-central1-b", "us-central1-c"}, pool.Inputs["nodeLocations"])
	assert.Equal(t, 2.0, pool.Inputs["nodeCount"], "2 per zone, 6 in all")
	assert.Equal(t, "e2-standard-8", get(pool, "nodeConfig.machineType"))
	assert.GreaterOrEqual(t, spec.Sizes[spec.GCP]["e2-standard-8"].MemoryGiB, 16)
	assert.Equal(t, 100.0, get(pool, "nodeConfig.diskSizeGb"))
	assert.Equal(t, "pd-ssd", get(pool, "nodeConfig.diskType"))
	assert.Equal(t, storageKey, get(pool, "nodeConfig.bootDiskKmsKey"))
	assert.Equal(t, true, get(pool, "nodeConfig.shieldedInstanceConfig.enableSecureBoot"))
	assert.Equal(t, "GKE_METADATA", get(pool, "nodeConfig.workloadMetadataConfig.mode"))

	subnet := one(t, g, "gcp:compute/subnetwork:Subnetwork")
	assert.Len(t, subnet.Inputs["secondaryIpRanges"], 2)
	assert.Equal(t, true, subnet.Inputs["privateIpGoogleAccess"])
	for _, fw := range g.OfType("gcp:compute/firewall:Firewall") {
		if fw.Inputs["allows"] == nil {
			continue
		}
		for _, src := range fw.Inputs["sourceRanges"].([]any) {
			if src == "0.0.0.0/0" {
				assert.Equal(t, []any{map[string]any{"protocol": "tcp", "ports": []any{"443"}}}, fw.Inputs["allows"], fw.Name)
			}
		}
	}

	bucket := one(t, g, "gcp:storage/bucket:Bucket")
	assert.Equal(t, storageKey, get(bucket, "encryption.defaultKmsKeyName"))
	assert.Equal(t, true, bucket.Inputs["uniformBucketLevelAccess"])
	assert.Equal(t, "enforced", bucket.Inputs["publicAccessPrevention"])
	assert.Equal(t, true, get(bucket, "versioning.enabled"))
	vwi := named(t, g, "gcp:serviceaccount/iAMMember:IAMMember", "gcp-vault-workload-identity")
	assert.Equal(t, "serviceAccount:cloudscale-prod.svc.id.goog[vault/vault]", vwi.Inputs["member"])
	raft := get(named(t, g, "kubernetes:helm.sh/v3:Release", "vault"), "values.server.ha.raft.config").(string)
	assert.Contains(t, raft, `seal "gcpckms"`)
	assert.Contains(t, raft, `project    = "cloudscale-prod"`)
	named(t, g, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp-vault-key-viewer")
	assert.Equal(t, "gke", get(named(t, g, "kubernetes:helm.sh/v3:Release", "istio-cni"), "values.global.platform"), "the CNI finds GKE's binaries")
	wi := named(t, g, "gcp:serviceaccount/iAMMember:IAMMember", "gcp-backup-workload-identity")
	assert.Equal(t, "serviceAccount:cloudscale-prod.svc.id.goog[cloudscale/cloudscale-backup]", wi.Inputs["member"])
	agents := map[string]bool{}
	for _, m := range g.OfType("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember") {
		agents[m.String("member")] = true
	}
	assert.True(t, agents["serviceAccount:service-987654321098@gs-project-accounts.iam.gserviceaccount.com"])
	assert.True(t, agents["serviceAccount:service-987654321098@container-engine-robot.iam.gserviceaccount.com"])

	// The services' images: one Docker repository, immutable tags,
	// scanned (Container Scanning on, the repository inheriting it),
	// encrypted with the storage key, which Artifact Registry's agent may
	// use; the nodes' account reads it.
	ar := one(t, g, "gcp:artifactregistry/repository:Repository")
	assert.Equal(t, "DOCKER", ar.Inputs["format"])
	assert.Equal(t, "cloudscale-prod-gcp-images", ar.Inputs["repositoryId"])
	assert.Equal(t, "us-central1", ar.Inputs["location"])
	assert.Equal(t, true, get(ar, "dockerConfig.immutableTags"))
	assert.Equal(t, storageKey, ar.Inputs["kmsKeyName"])
	assert.Equal(t, "INHERITED", get(ar, "vulnerabilityScanningConfig.enablementConfig"))
	assert.True(t, agents["serviceAccount:service-987654321098@gcp-sa-artifactregistry.iam.gserviceaccount.com"])
	arKey := named(t, g, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp-artifactregistry-key")
	assert.Equal(t, storageKey, arKey.Inputs["cryptoKeyId"])
	assert.Equal(t, "roles/cloudkms.cryptoKeyEncrypterDecrypter", arKey.Inputs["role"])
	apis := map[string]bool{}
	for _, s := range g.OfType("gcp:projects/service:Service") {
		apis[s.String("service")] = true
	}
	assert.True(t, apis["containerscanning.googleapis.com"], "vulnerability scanning on push")
	assert.True(t, apis["artifactregistry.googleapis.com"])
	reader := named(t, g, "gcp:projects/iAMMember:IAMMember", "gcp-nodes-artifactregistry.reader")
	assert.Equal(t, "roles/artifactregistry.reader", reader.Inputs["role"])
}
