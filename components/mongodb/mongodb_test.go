package mongodb

import (
	"testing"

	psmdbv1 "github.com/percona/percona-server-mongodb-operator/pkg/apis/psmdb/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
)

func prodArgs() *Args {
	return &Args{
		Mode: upstream.Charts, Namespace: "cloudscale", Shards: 2, Members: 3, MongosReplicas: 3, Production: true, Zones: 3,
		StorageClass: "cloudscale-encrypted", VolumeSize: "100Gi",
		Collections: []Collection{
			{Database: "catalog", Collection: "products", ShardKey: []string{"sku"}, Hashed: true, TextIndex: []string{"name", "description"},
				Owner: "api-service", Clients: []string{"worker"}},
			{Database: "catalog", Collection: "reviews", ShardKey: []string{"productId", "createdAt"}, Owner: "api-service"},
		},
		Backups:       &BackupStore{Kind: "s3", Bucket: pulumi.String("cloudscale-prod-backups"), Region: "eu-west-1", ServiceAccount: "cloudscale-backup"},
		RetentionDays: 30,
		Resources:     workload.Resources{RequestCPU: "250m", RequestMemory: "512Mi", LimitCPU: "2", LimitMemory: "4Gi"},
		Scraper:       contract.Peer{NamespaceLabels: contract.InNamespace("monitoring"), PodLabels: map[string]string{contract.NameLabel: "prometheus"}},
	}
}

func run(t *testing.T, a *Args) graph.Graph {
	t.Helper()
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, "mongodb", a)
		return err
	})
	require.NoError(t, err)
	return g
}

const clusterType = "kubernetes:psmdb.percona.com/v1:PerconaServerMongoDB"

func TestProductionCluster(t *testing.T) {
	g := run(t, prodArgs())
	cr := componenttest.Object[psmdbv1.PerconaServerMongoDB](t, g, clusterType, ClusterName)
	s := cr.Spec
	assert.Equal(t, upstream.MongoDBImage, s.Image)
	assert.Equal(t, CRVersion, s.CRVersion)
	// Sharded: two shards and a config server set of 3, three routers.
	require.True(t, s.Sharding.Enabled)
	require.Len(t, s.Replsets, 2)
	sets := append([]*psmdbv1.ReplsetSpec{s.Sharding.ConfigsvrReplSet}, s.Replsets...)
	for _, rs := range sets {
		assert.EqualValues(t, 3, rs.Size, rs.Name)
		// One member per zone, required, and a budget of one.
		assert.Equal(t, corev1.LabelTopologyZone, *rs.Affinity.TopologyKey, rs.Name)
		assert.Equal(t, 1, rs.PodDisruptionBudget.MaxUnavailable.IntValue(), rs.Name)
		assert.Equal(t, "cloudscale-encrypted", *rs.VolumeSpec.PersistentVolumeClaim.StorageClassName, rs.Name)
		assert.Equal(t, "100Gi", rs.VolumeSpec.PersistentVolumeClaim.Resources.Requests.Storage().String(), rs.Name)
		assert.Contains(t, string(rs.Configuration), "enableEncryption: true", rs.Name)
		// The backup agent beside each member runs as the identity's account.
		assert.Equal(t, "cloudscale-backup", rs.ServiceAccountName, rs.Name)
		assert.Equal(t, "false", rs.Labels["sidecar.istio.io/inject"], rs.Name)
		require.NotEmpty(t, rs.TopologySpreadConstraints, rs.Name)
		assert.Equal(t, rs.Name, rs.TopologySpreadConstraints[0].LabelSelector.MatchLabels["app.kubernetes.io/replset"])
	}
	assert.Equal(t, psmdbv1.ClusterRoleConfigSvr, s.Sharding.ConfigsvrReplSet.ClusterRole)
	assert.Equal(t, []string{"rs0", "rs1"}, []string{s.Replsets[0].Name, s.Replsets[1].Name})
	m := s.Sharding.Mongos
	assert.EqualValues(t, 3, m.Size)
	assert.Equal(t, corev1.ServiceTypeClusterIP, m.Expose.ExposeType)
	assert.Equal(t, corev1.LabelTopologyZone, *m.Affinity.TopologyKey)
	// TLS required; encryption key, users and certificates are Secrets
	// the operator generates or the certificate tier issues.
	assert.Equal(t, psmdbv1.TLSModeRequire, s.TLS.Mode)
	assert.Equal(t, psmdbv1.SecretsSpec{Users: UsersSecret, EncryptionKey: EncryptionKeySecret, SSL: TLSSecret, SSLInternal: InternalTLSSecret}, *s.Secrets)
	assert.False(t, s.Unsafe.ReplsetSize || s.Unsafe.MongosSize)
	// Users: the owner writes and shards, a client reads; no password.
	require.Len(t, s.Users, 2)
	assert.Equal(t, "api-service", s.Users[0].Name)
	assert.Equal(t, []psmdbv1.UserRole{{Name: "enableSharding", DB: "admin"}, {Name: "readWrite", DB: "catalog"}}, s.Users[0].Roles)
	assert.Equal(t, psmdbv1.User{Name: "worker", DB: "admin", Roles: []psmdbv1.UserRole{{Name: "read", DB: "catalog"}}}, s.Users[1])
	for _, u := range s.Users {
		assert.Nil(t, u.PasswordSecretRef, "the operator generates %s's password", u.Name)
	}
	// Backups: the bucket (an output folded in), no credentials, PITR,
	// a daily task kept 30 times.
	b := s.Backup
	require.True(t, b.Enabled)
	assert.Equal(t, upstream.PBMImage, b.Image)
	st := b.Storages[StorageName]
	assert.Equal(t, psmdbv1.BackupStorageS3, st.Type)
	assert.Equal(t, "cloudscale-prod-backups", st.S3.Bucket)
	assert.Equal(t, "eu-west-1", st.S3.Region)
	assert.Empty(t, st.S3.CredentialsSecret)
	assert.True(t, b.PITR.Enabled)
	assert.InDelta(t, float64(OplogSpanMinutes), b.PITR.OplogSpanMin.Float64(), 0)
	require.Len(t, b.Tasks, 1)
	task := b.Tasks[0]
	assert.True(t, task.Enabled)
	assert.Equal(t, BackupSchedule, task.Schedule)
	assert.Equal(t, StorageName, task.StorageName)
	assert.Equal(t, 30, task.Retention.Count)
	assert.True(t, task.Retention.DeleteFromStorage)
}

// The operator's own defaults accept the object: no unsafe size, no
// missing field it would refuse.
func TestOperatorAcceptsTheCluster(t *testing.T) {
	for _, a := range []*Args{prodArgs(), devArgs()} {
		cr := Cluster(a)
		require.NoError(t, cr.CheckNSetDefaults(quiet(), "kubernetes"))
	}
}

func devArgs() *Args {
	a := prodArgs()
	a.Production, a.Members, a.MongosReplicas, a.Backups = false, 1, 1, nil
	return a
}

func TestDevelopmentCluster(t *testing.T) {
	g := run(t, devArgs())
	s := componenttest.Object[psmdbv1.PerconaServerMongoDB](t, g, clusterType, ClusterName).Spec
	assert.EqualValues(t, 1, s.Replsets[0].Size)
	assert.Equal(t, corev1.LabelHostname, *s.Replsets[0].Affinity.TopologyKey)
	assert.True(t, s.Unsafe.ReplsetSize && s.Unsafe.MongosSize, "the operator is told a single member is meant")
	assert.False(t, s.Backup.Enabled)
	assert.Empty(t, s.Replsets[0].ServiceAccountName)
}

func TestBackupStores(t *testing.T) {
	for _, tc := range []struct {
		kind, field string
		check       func(t *testing.T, st psmdbv1.BackupStorageSpec)
	}{
		{"gcs", "spec.backup.storages.main.gcs.bucket", func(t *testing.T, st psmdbv1.BackupStorageSpec) {
			assert.Equal(t, psmdbv1.BackupStorageGCS, st.Type)
			assert.Equal(t, "bucket", st.GCS.Bucket)
			assert.Empty(t, st.GCS.CredentialsSecret, "workload identity")
		}},
		{"azureblob", "spec.backup.storages.main.azure.container", func(t *testing.T, st psmdbv1.BackupStorageSpec) {
			assert.Equal(t, psmdbv1.BackupStorageAzure, st.Type)
			assert.Equal(t, "bucket", st.Azure.Container)
			assert.Equal(t, "mongodb-backup-azure", st.Azure.CredentialsSecret)
		}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			a := prodArgs()
			a.Backups = &BackupStore{Kind: tc.kind, Bucket: pulumi.String("bucket"), ServiceAccount: "cloudscale-backup", CredentialsSecret: "mongodb-backup-azure"}
			if tc.kind != "azureblob" {
				a.Backups.CredentialsSecret = ""
			}
			assert.Equal(t, tc.field, BucketField(tc.kind))
			s := componenttest.Object[psmdbv1.PerconaServerMongoDB](t, run(t, a), clusterType, ClusterName).Spec
			tc.check(t, s.Backup.Storages[StorageName])
		})
	}
}

func TestNetworkPolicies(t *testing.T) {
	g := run(t, prodArgs())
	members := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "mongodb-members")
	assert.Equal(t, ClusterLabels(), members.Spec.PodSelector.MatchLabels)
	require.Len(t, members.Spec.Ingress, 3)
	assert.Equal(t, ClusterLabels(), members.Spec.Ingress[0].From[0].PodSelector.MatchLabels)
	assert.Equal(t, OperatorNamespace, members.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
	// Prometheus reaches the exporters, on their port only.
	scraper := members.Spec.Ingress[2]
	assert.Equal(t, "monitoring", scraper.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
	assert.Equal(t, "prometheus", scraper.From[0].PodSelector.MatchLabels["app.kubernetes.io/name"])
	require.Len(t, scraper.Ports, 1)
	assert.Equal(t, ExporterPort, scraper.Ports[0].Port.IntValue())
	clients := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "mongodb-clients")
	assert.Equal(t, MongosLabels(), clients.Spec.PodSelector.MatchLabels)
	var names []string
	for _, r := range clients.Spec.Ingress {
		names = append(names, r.From[0].PodSelector.MatchLabels["app.kubernetes.io/name"])
		assert.EqualValues(t, Port, r.Ports[0].Port.IntValue())
	}
	assert.Equal(t, []string{"api-service", "worker"}, names)
}

func TestEndpointAndCertificates(t *testing.T) {
	e := NewEndpoint("cloudscale", prodArgs().Collections)
	assert.Equal(t, "mongodb://mongodb-mongos.cloudscale.svc.cluster.local:27017/?tls=true&authSource=admin", e.URI)
	assert.Equal(t, CustomUsersSecret, e.Credentials.Name)
	assert.Len(t, e.Collections, 2)
	certs := Certificates(prodArgs())
	require.Len(t, certs, 2)
	assert.Contains(t, certs[0].DNSNames, "*.mongodb-rs0.cloudscale.svc.cluster.local")
	assert.Contains(t, certs[0].DNSNames, "*.mongodb-cfg.cloudscale.svc.cluster.local")
	assert.Contains(t, certs[0].DNSNames, "mongodb-mongos.cloudscale.svc.cluster.local")
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(a *Args)
		want string
	}{
		{"one shard", func(a *Args) { a.Shards = 1 }, "shards 1: at least 2"},
		{"even members", func(a *Args) { a.Members = 4 }, "members 4: an odd number, at least 3"},
		{"members over zones", func(a *Args) { a.Members = 5 }, "members 5 over 3 zones: at most one per zone"},
		{"two routers in prod", func(a *Args) { a.MongosReplicas = 2 }, "mongos replicas 2: at least 3"},
		{"no shard key", func(a *Args) { a.Collections[0].ShardKey = nil }, `collection "catalog.products": a shard key of one or more fields (exactly one when hashed)`},
		{"hashed compound", func(a *Args) { a.Collections[0].ShardKey = []string{"a", "b"} }, "exactly one when hashed"},
		{"bad field", func(a *Args) { a.Collections[0].TextIndex = []string{"na me"} }, `collection "catalog.products": "na me" is not a field path`},
		{"system database", func(a *Args) { a.Collections[1].Database = "admin" }, `collection "admin.reviews": database and collection are lowercase names, not admin, config or local`},
		{"twice", func(a *Args) { a.Collections[1].Collection = "products" }, `collection "catalog.products" is declared twice`},
		{"no owner", func(a *Args) { a.Collections[1].Owner = "" }, `collection "catalog.reviews" has no owner service`},
		{"azure without secret", func(a *Args) { a.Backups.Kind = "azureblob" }, "on Azure, a credentials Secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := prodArgs()
			tc.edit(a)
			assert.ErrorContains(t, a.Validate(), tc.want)
			_, err := componenttest.Run(func(ctx *pulumi.Context) error {
				_, err := New(ctx, "mongodb", a)
				return err
			})
			assert.ErrorContains(t, err, tc.want)
		})
	}
	assert.NoError(t, prodArgs().Validate())
}

// The tier is born under the policy gate: its prod objects pass every
// rule, the data tier's (CS-HA-018..020, CS-ENC-005/010/014) included.
func TestPassesThePolicyGate(t *testing.T) {
	componenttest.PassesPolicies(t, run(t, prodArgs()), "prod", "cloudscale")
}
