package mongodb

import (
	"context"
	"fmt"
	"slices"

	"github.com/go-logr/logr"
	psmdbv1 "github.com/percona/percona-server-mongodb-operator/pkg/apis/psmdb/v1"
	"github.com/percona/percona-server-mongodb-operator/pkg/naming"
	psmdbtls "github.com/percona/percona-server-mongodb-operator/pkg/psmdb/tls"
	"github.com/percona/percona-server-mongodb-operator/pkg/util/numstr"
	"github.com/percona/percona-server-mongodb-operator/pkg/version"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// StorageName is the backup storage's key in spec.backup.storages.
const StorageName = "main"

// Configuration is every member's mongod configuration (the operator
// merges it into its own): WiredTiger encrypted at rest with AES256-GCM,
// its key from the encryption key Secret. It is Percona Server's default;
// it is written so that the policy gate, and a reader, see it.
const Configuration = `security:
  enableEncryption: true
  encryptionCipherMode: AES256-GCM
`

// ReplsetName is shard i's replica set name (rs0, rs1, ...).
func ReplsetName(i int) string { return fmt.Sprintf("rs%d", i) }

// skeleton is the object with the names the operator's helpers read.
func skeleton(ns string) *psmdbv1.PerconaServerMongoDB {
	return &psmdbv1.PerconaServerMongoDB{ObjectMeta: k8smetav1.ObjectMeta{Name: ClusterName, Namespace: ns}}
}

// MongodLabels are the labels the operator gives replica set rs's members.
func MongodLabels(rs string) map[string]string {
	return naming.MongodLabels(skeleton(""), &psmdbv1.ReplsetSpec{Name: rs})
}

// MongosLabels are the labels the operator gives the routers.
func MongosLabels() map[string]string { return naming.MongosLabels(skeleton("")) }

// MembersLabels select every replica set member (shards' and the config
// servers'), as the operator labels their pods.
func MembersLabels() map[string]string { return naming.MongodLabels(skeleton(""), nil) }

// ClusterLabels select every pod of the cluster (members and routers).
func ClusterLabels() map[string]string { return naming.ClusterLabels(skeleton("")) }

// Cluster is the PerconaServerMongoDB: Shards shard replica sets and the
// config server set of Members each, MongosReplicas routers behind a
// ClusterIP Service, TLS required, encryption at rest, the services'
// users, and backups with point-in-time recovery when a store is given.
// The backup bucket is an output, folded in by New.
func Cluster(a *Args) *psmdbv1.PerconaServerMongoDB {
	res, _ := a.Resources.Requirements()
	cr := skeleton(a.Namespace)
	cr.TypeMeta = k8smetav1.TypeMeta{APIVersion: psmdbv1.SchemeGroupVersion.String(), Kind: "PerconaServerMongoDB"}
	cr.Labels = map[string]string{"app.kubernetes.io/part-of": "cloudscale"}
	serviceAccount := ""
	var podLabels map[string]string
	if b := a.Backups; b != nil {
		serviceAccount, podLabels = b.ServiceAccount, b.PodLabels
	}
	for i := range a.Shards {
		rs := &psmdbv1.ReplsetSpec{Name: ReplsetName(i), Size: int32(a.Members), ClusterRole: psmdbv1.ClusterRoleShardSvr,
			Configuration: psmdbv1.MongoConfiguration(Configuration)}
		rs.MultiAZ = placement(a, MongodLabels(rs.Name), res, serviceAccount, podLabels)
		rs.Sidecars = []k8scorev1.Container{Exporter()}
		rs.VolumeSpec = volume(a)
		cr.Spec.Replsets = append(cr.Spec.Replsets, rs)
	}
	cfg := &psmdbv1.ReplsetSpec{Name: psmdbv1.ConfigReplSetName, Size: int32(a.Members), ClusterRole: psmdbv1.ClusterRoleConfigSvr,
		Configuration: psmdbv1.MongoConfiguration(Configuration)}
	cfg.MultiAZ = placement(a, MongodLabels(cfg.Name), res, serviceAccount, podLabels)
	cfg.Sidecars = []k8scorev1.Container{Exporter()}
	cfg.VolumeSpec = volume(a)
	mongos := &psmdbv1.MongosSpec{Size: int32(a.MongosReplicas)}
	mongos.MultiAZ = placement(a, MongosLabels(), res, "", nil)
	mongos.Expose.ExposeType = k8scorev1.ServiceTypeClusterIP
	cr.Spec = psmdbv1.PerconaServerMongoDBSpec{
		CRVersion: CRVersion, Image: upstream.MongoDBImage, Replsets: cr.Spec.Replsets,
		Sharding: psmdbv1.Sharding{Enabled: true, ConfigsvrReplSet: cfg, Mongos: mongos},
		Secrets:  &psmdbv1.SecretsSpec{Users: UsersSecret, EncryptionKey: EncryptionKeySecret, SSL: TLSSecret, SSLInternal: InternalTLSSecret},
		// requireTLS: the default preferTLS still accepts plain connections.
		TLS:            &psmdbv1.TLSSpec{Mode: psmdbv1.TLSModeRequire},
		UpdateStrategy: psmdbv1.SmartUpdateStatefulSetStrategyType,
		// The image is pinned: no version service is asked (or called).
		UpgradeOptions: psmdbv1.UpgradeOptions{Apply: psmdbv1.UpgradeStrategyDisabled},
		Users:          users(a.Collections),
		Backup:         backup(a),
	}
	// Below 3 members or routers (dev only: Validate refuses it in
	// production) the operator asks to be told it is meant.
	cr.Spec.Unsafe = psmdbv1.UnsafeFlags{ReplsetSize: a.Members < 3, MongosSize: a.MongosReplicas < 3}
	return cr
}

// placement is one component's scheduling: one member per zone (required
// in production, the operator's antiAffinityTopologyKey; elsewhere a
// spread the scheduler keeps), a budget of one pod at a time, the
// resources, outside the mesh (the members speak TLS themselves and the
// operator, outside the mesh, calls them).
func placement(a *Args, labels map[string]string, res k8scorev1.ResourceRequirements, sa string, podLabels map[string]string) psmdbv1.MultiAZ {
	key := k8scorev1.LabelHostname
	if a.Production {
		key = k8scorev1.LabelTopologyZone
	}
	one := intstr.FromInt32(1)
	pod := map[string]string{"sidecar.istio.io/inject": "false", "app.kubernetes.io/part-of": "cloudscale"}
	for k, v := range podLabels {
		pod[k] = v
	}
	return psmdbv1.MultiAZ{
		Affinity: &psmdbv1.PodAffinity{TopologyKey: &key}, TopologySpreadConstraints: workload.Spread(labels),
		PodDisruptionBudget: &psmdbv1.PodDisruptionBudgetSpec{MaxUnavailable: &one},
		Resources:           res, Labels: pod, ServiceAccountName: sa,
	}
}

func volume(a *Args) *psmdbv1.VolumeSpec {
	class := a.StorageClass
	return &psmdbv1.VolumeSpec{PersistentVolumeClaim: psmdbv1.PVCSpec{PersistentVolumeClaimSpec: &k8scorev1.PersistentVolumeClaimSpec{
		StorageClassName: &class, AccessModes: []k8scorev1.PersistentVolumeAccessMode{k8scorev1.ReadWriteOnce},
		Resources: k8scorev1.VolumeResourceRequirements{Requests: k8scorev1.ResourceList{k8scorev1.ResourceStorage: resource.MustParse(a.VolumeSize)}},
	}}}
}

// users are spec.users: one per service, in admin, without a
// passwordSecretRef, so the operator generates each password into
// CustomUsersSecret.
func users(cols []Collection) []psmdbv1.User {
	byUser := Users(cols)
	var out []psmdbv1.User
	for _, name := range sortedKeys(byUser) {
		u := psmdbv1.User{Name: name, DB: "admin"}
		for _, r := range byUser[name] {
			u.Roles = append(u.Roles, psmdbv1.UserRole{Name: r.Name, DB: r.DB})
		}
		out = append(out, u)
	}
	return out
}

// backup is spec.backup: the Percona Backup for MongoDB agent beside
// every member, one storage (the cloud tier's bucket under mongodb/), a
// daily base backup kept RetentionDays times, and the oplog uploaded every
// OplogSpanMinutes for point-in-time recovery. Without a store, nothing.
func backup(a *Args) psmdbv1.BackupSpec {
	b := a.Backups
	if b == nil {
		return psmdbv1.BackupSpec{Enabled: false, Image: upstream.PBMImage}
	}
	var store psmdbv1.BackupStorageSpec
	switch b.Kind {
	case "s3":
		// No credentialsSecret: the agent uses the pod's web identity.
		store = psmdbv1.BackupStorageSpec{Type: psmdbv1.BackupStorageS3, S3: psmdbv1.BackupStorageS3Spec{Prefix: "mongodb", Region: b.Region}}
	case "gcs":
		// No credentialsSecret: the operator then uses workload identity.
		store = psmdbv1.BackupStorageSpec{Type: psmdbv1.BackupStorageGCS, GCS: psmdbv1.BackupStorageGCSSpec{Prefix: "mongodb"}}
	default:
		store = psmdbv1.BackupStorageSpec{Type: psmdbv1.BackupStorageAzure, Azure: psmdbv1.BackupStorageAzureSpec{Prefix: "mongodb", CredentialsSecret: b.CredentialsSecret}}
	}
	store.Main = true
	return psmdbv1.BackupSpec{
		Enabled: true, Image: upstream.PBMImage, Storages: map[string]psmdbv1.BackupStorageSpec{StorageName: store},
		PITR: psmdbv1.PITRSpec{Enabled: true, OplogSpanMin: numstr.MustParse(fmt.Sprint(OplogSpanMinutes))},
		Tasks: []psmdbv1.BackupTaskSpec{{
			Name: "daily", Enabled: true, Schedule: BackupSchedule, StorageName: StorageName, Type: "logical",
			Retention: &psmdbv1.BackupTaskSpecRetention{Type: psmdbv1.BackupTaskSpecRetentionTypeCount, Count: a.RetentionDays, DeleteFromStorage: true},
		}},
	}
}

// BucketField is the path of the storage's bucket (or container) in the
// object, for the output New folds in.
func BucketField(kind string) string {
	switch kind {
	case "s3":
		return "spec.backup.storages." + StorageName + ".s3.bucket"
	case "gcs":
		return "spec.backup.storages." + StorageName + ".gcs.bucket"
	}
	return "spec.backup.storages." + StorageName + ".azure.container"
}

// Certificates are the client and member certificates, for every name the
// operator's own certificates carry (pkg/psmdb/tls.GetCertificateSans,
// after the operator's defaults fill the DNS suffixes).
func Certificates(a *Args) []contract.Certificate {
	cr := Cluster(a)
	_ = cr.CheckNSetDefaults(quiet(), version.PlatformKubernetes)
	sans := psmdbtls.GetCertificateSans(cr)
	return []contract.Certificate{
		{Name: TLSSecret, Namespace: a.Namespace, DNSNames: sans},
		{Name: InternalTLSSecret, Namespace: a.Namespace, DNSNames: sans},
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// quiet is a context with a discarding logger for the operator's
// defaulting: without one, controller-runtime prints a stack trace to
// stderr the first time the operator logs.
func quiet() context.Context {
	return ctrllog.IntoContext(context.Background(), logr.Discard())
}
