package postgres

import (
	"fmt"
	"strings"

	barmanapi "github.com/cloudnative-pg/barman-cloud/pkg/api"
	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	barmanv1 "github.com/cloudnative-pg/plugin-barman-cloud/api/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// PgHBA are the host-based authentication lines every Cluster gets, before
// the operator's own: a connection without TLS is rejected first, so
// neither a later line nor the operator's fallback ("host all all all
// scram-sha-256", which also matches plain connections) admits one.
var PgHBA = []string{
	"hostnossl all all all reject",
	"hostssl all all all scram-sha-256",
}

// Parameters are the postgresql.conf settings the platform sets: TLS 1.3,
// pg_stat_statements (CloudNativePG loads the library and creates the
// extension when pg_stat_statements.* is set: "Managed extensions"), and
// slow statements logged above slowMs.
func Parameters(slowMs int) map[string]string {
	return map[string]string{
		"ssl_min_protocol_version":   "TLSv1.3",
		"pg_stat_statements.max":     "10000",
		"pg_stat_statements.track":   "all",
		"log_min_duration_statement": fmt.Sprintf("%dms", slowMs),
		"log_lock_waits":             "on",
	}
}

// QueriesKey is the key of the custom queries in their ConfigMap.
const QueriesKey = "queries.yaml"

// CustomQueries expose pg_stat_statements as Prometheus metrics through the
// operator's exporter (CloudNativePG "Monitoring": user-defined metrics),
// the statements with the most total execution time first.
const CustomQueries = `pg_stat_statements_top:
  query: |
    SELECT s.queryid::text AS queryid, d.datname, r.rolname,
           s.calls, s.total_exec_time / 1000 AS total_exec_seconds,
           s.mean_exec_time / 1000 AS mean_exec_seconds, s.rows
    FROM pg_stat_statements s
    JOIN pg_database d ON d.oid = s.dbid
    JOIN pg_roles r ON r.oid = s.userid
    ORDER BY s.total_exec_time DESC
    LIMIT 50
  target_databases: ["*"]
  predicate_query: "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
  metrics:
    - queryid: {usage: LABEL, description: Query identifier}
    - datname: {usage: LABEL, description: Database}
    - rolname: {usage: LABEL, description: Role}
    - calls: {usage: COUNTER, description: Times executed}
    - total_exec_seconds: {usage: COUNTER, description: Total execution time in seconds}
    - mean_exec_seconds: {usage: GAUGE, description: Mean execution time in seconds}
    - rows: {usage: COUNTER, description: Rows retrieved or affected}
`

// PoolerLabels select a pooler's pods (the operator's label).
func PoolerLabels(pooler string) map[string]string {
	return map[string]string{"cnpg.io/poolerName": pooler}
}

// clusterLabels select a Cluster's instance pods (the operator's labels:
// its pooler pods carry cnpg.io/cluster too, with podRole pooler).
func clusterLabels(cluster string) map[string]string {
	return map[string]string{"cnpg.io/cluster": cluster, "cnpg.io/podRole": "instance"}
}

// Cluster is the CloudNativePG Cluster of database d.
func Cluster(a *Args, d Database) *cnpgv1.Cluster {
	name := ClusterName(d.Name)
	storage := cnpgv1.StorageConfiguration{StorageClass: ptr.To(a.StorageClass), Size: a.VolumeSize}
	wal := storage
	res, _ := a.Resources.Requirements() // checked by Validate through the stack's spec
	c := &cnpgv1.Cluster{
		TypeMeta:   metav1.TypeMeta{APIVersion: cnpgv1.SchemeGroupVersion.String(), Kind: "Cluster"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.Namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}},
		Spec: cnpgv1.ClusterSpec{
			Instances: a.Instances, ImageName: upstream.PostgresImage,
			PrimaryUpdateStrategy: cnpgv1.PrimaryUpdateStrategyUnsupervised,
			EnablePDB:             ptr.To(true),
			StorageConfiguration:  storage, WalStorage: &wal,
			Resources: res,
			PostgresConfiguration: cnpgv1.PostgresConfiguration{
				Parameters: Parameters(a.SlowQueryMs),
				PgHBA:      PgHBA,
			},
			Bootstrap: &cnpgv1.BootstrapConfiguration{InitDB: &cnpgv1.BootstrapInitDB{Database: d.Name, Owner: ownerRole(d.Owner)}},
			Monitoring: &cnpgv1.MonitoringConfiguration{CustomQueriesConfigMap: []cnpgv1.ConfigMapKeySelector{{
				LocalObjectReference: cnpgv1.LocalObjectReference{Name: name + "-queries"}, Key: QueriesKey,
			}}},
			InheritedMetadata: &cnpgv1.EmbeddedObjectMetadata{
				// The instances speak TLS themselves and the operator calls
				// their status port from outside the mesh: no proxy.
				Labels: map[string]string{"sidecar.istio.io/inject": "false", "app.kubernetes.io/part-of": "cloudscale"},
			},
		},
	}
	if a.Instances > 1 {
		// One instance per zone: a zone's loss takes at most one, and the
		// operator fails over to a replica in another.
		c.Spec.Affinity = cnpgv1.AffinityConfiguration{
			EnablePodAntiAffinity: ptr.To(true), TopologyKey: corev1.LabelTopologyZone,
			PodAntiAffinityType: cnpgv1.PodAntiAffinityTypeRequired,
		}
	}
	if a.SynchronousStandby {
		// Commits wait for one standby in another zone (quorum "any"), so
		// a failover loses no acknowledged write.
		c.Spec.PostgresConfiguration.Synchronous = &cnpgv1.SynchronousReplicaConfiguration{
			Method: cnpgv1.SynchronousReplicaConfigurationMethodAny, Number: 1, DataDurability: cnpgv1.DataDurabilityLevelRequired,
		}
	}
	if b := a.Backups; b != nil {
		c.Spec.ServiceAccountName = b.ServiceAccount
		c.Spec.Plugins = []cnpgv1.PluginConfiguration{{
			Name: upstream.BarmanCloudPlugin, IsWALArchiver: ptr.To(true),
			Parameters: map[string]string{"barmanObjectName": objectStoreName(name)},
		}}
		for k, v := range b.PodLabels {
			c.Spec.InheritedMetadata.Labels[k] = v
		}
	}
	if r := a.Restore; r != nil && r.Database == d.Name {
		source := r.Source
		if source == "" {
			source = name
		}
		recovery := &cnpgv1.BootstrapRecovery{Source: "origin", Database: d.Name, Owner: ownerRole(d.Owner)}
		if r.TargetTime != "" {
			recovery.RecoveryTarget = &cnpgv1.RecoveryTarget{TargetTime: r.TargetTime}
		}
		c.Spec.Bootstrap = &cnpgv1.BootstrapConfiguration{Recovery: recovery}
		c.Spec.ExternalClusters = []cnpgv1.ExternalCluster{{
			Name: "origin",
			PluginConfiguration: &cnpgv1.PluginConfiguration{Name: upstream.BarmanCloudPlugin, Parameters: map[string]string{
				"barmanObjectName": objectStoreName(name), "serverName": source,
			}},
		}}
		if source == name {
			// The recovered cluster must not archive over the archive it
			// reads: it writes under a new server name.
			c.Spec.Plugins[0].Parameters["serverName"] = name + "-restored"
		}
	}
	return c
}

// ownerRole is the role of service svc: PostgreSQL identifiers take no '-'.
func ownerRole(svc string) string { return strings.ReplaceAll(svc, "-", "_") }

func objectStoreName(cluster string) string { return cluster + "-backups" }

// ObjectStore is the Barman Cloud plugin's store of a Cluster's base
// backups and WAL (path <endpoint>/postgres; the plugin writes under the
// server name), with the stack's retention; endpoint is folded in as an
// output at spec.configuration.destinationPath.
func ObjectStore(a *Args, cluster string) *barmanv1.ObjectStore {
	creds := barmanapi.BarmanCredentials{}
	switch a.Backups.Kind {
	case "s3":
		creds.AWS = &barmanapi.S3Credentials{InheritFromIAMRole: true}
	case "azureblob":
		creds.Azure = &barmanapi.AzureCredentials{InheritFromAzureAD: true}
	case "gcs":
		creds.Google = &barmanapi.GoogleCredentials{GKEEnvironment: true}
	}
	return &barmanv1.ObjectStore{
		TypeMeta:   metav1.TypeMeta{APIVersion: barmanv1.GroupVersion.String(), Kind: "ObjectStore"},
		ObjectMeta: metav1.ObjectMeta{Name: objectStoreName(cluster), Namespace: a.Namespace},
		Spec: barmanv1.ObjectStoreSpec{
			Configuration: barmanapi.BarmanObjectStoreConfiguration{
				BarmanCredentials: creds,
				Wal:               &barmanapi.WalBackupConfiguration{Compression: barmanapi.CompressionTypeGzip, MaxParallel: 4},
				Data:              &barmanapi.DataBackupConfiguration{Compression: barmanapi.CompressionTypeGzip},
			},
			RetentionPolicy: fmt.Sprintf("%dd", a.RetentionDays),
		},
	}
}

// ScheduledBackup is a Cluster's daily base backup through the plugin,
// taken once at creation too.
func ScheduledBackup(a *Args, cluster string) *cnpgv1.ScheduledBackup {
	return &cnpgv1.ScheduledBackup{
		TypeMeta:   metav1.TypeMeta{APIVersion: cnpgv1.SchemeGroupVersion.String(), Kind: "ScheduledBackup"},
		ObjectMeta: metav1.ObjectMeta{Name: cluster + "-daily", Namespace: a.Namespace},
		Spec: cnpgv1.ScheduledBackupSpec{
			Schedule: BackupSchedule, Cluster: cnpgv1.LocalObjectReference{Name: cluster},
			Immediate: ptr.To(true), BackupOwnerReference: "self",
			Method:              cnpgv1.BackupMethodPlugin,
			PluginConfiguration: &cnpgv1.BackupPluginConfiguration{Name: upstream.BarmanCloudPlugin},
		},
	}
}

// Pooler is a Cluster's PgBouncer of type rw or ro: transaction pooling,
// TLS required from clients, spread over zones. Its pods are selected by
// the operator's label cnpg.io/poolerName (the operator sets
// app.kubernetes.io/name to "postgresql" on them): the spread, the budget,
// the NetworkPolicy and the mesh's authorization use it.
func Pooler(a *Args, cluster, typ string) *cnpgv1.Pooler {
	name := PoolerName(cluster, typ)
	labels := map[string]string{"app.kubernetes.io/part-of": "cloudscale"}
	res, _ := a.Resources.Requirements()
	spread := workload.Spread(PoolerLabels(name))
	if !a.Production {
		spread[0].WhenUnsatisfiable = corev1.ScheduleAnyway
	}
	return &cnpgv1.Pooler{
		TypeMeta:   metav1.TypeMeta{APIVersion: cnpgv1.SchemeGroupVersion.String(), Kind: "Pooler"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.Namespace},
		Spec: cnpgv1.PoolerSpec{
			Cluster: cnpgv1.LocalObjectReference{Name: cluster}, Type: cnpgv1.PoolerType(typ),
			Instances: ptr.To(int32(a.PoolerInstances)),
			PgBouncer: &cnpgv1.PgBouncerSpec{
				PoolMode: cnpgv1.PgBouncerPoolModeTransaction,
				Parameters: map[string]string{
					"max_client_conn": "1000", "default_pool_size": "20",
					"client_tls_sslmode": "require", "client_tls_protocols": "tlsv1.3",
				},
			},
			Template: &cnpgv1.PodTemplateSpec{
				ObjectMeta: cnpgv1.Metadata{Labels: labels},
				Spec: corev1.PodSpec{
					TopologySpreadConstraints: spread,
					Containers:                []corev1.Container{{Name: "pgbouncer", Resources: res}},
				},
			},
		},
	}
}

// PodMonitor has the monitoring tier's Prometheus scrape a Cluster's
// instances on their exporter, the port the operator names "metrics"
// (9187) (the operator's own PodMonitor option is deprecated in favour
// of one the user manages); each series carries the pod's cnpg.io/cluster
// and cnpg.io/podRole, which the alerts group by.
func PodMonitor(a *Args, cluster string) *monitoringv1.PodMonitor {
	return &monitoringv1.PodMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: "PodMonitor"},
		ObjectMeta: metav1.ObjectMeta{Name: cluster, Namespace: a.Namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}},
		Spec: monitoringv1.PodMonitorSpec{
			Selector:            metav1.LabelSelector{MatchLabels: clusterLabels(cluster)},
			PodTargetLabels:     []string{"cnpg.io/cluster", "cnpg.io/podRole"},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{Port: ptr.To("metrics")}},
		},
	}
}

// clusterPeers are who may reach a Cluster's instances (its poolers and
// its own instances on 5432, the operator on the status port, the scraper
// on the exporter's) and whom they reach (each other, the API server and
// the backup store on 443).
func clusterPeers(a *Args, cluster string) (ingress, egress []contract.Peer) {
	self := contract.Peer{PodLabels: clusterLabels(cluster), Ports: []int{Port}}
	ingress = []contract.Peer{self}
	for _, typ := range []string{"rw", "ro"} {
		ingress = append(ingress, contract.Peer{PodLabels: PoolerLabels(PoolerName(cluster, typ)), Ports: []int{Port}})
	}
	ingress = append(ingress,
		contract.Peer{NamespaceLabels: contract.InNamespace(OperatorNamespace), PodLabels: map[string]string{}, Ports: []int{StatusPort}},
		withPorts(a.Scraper, MetricsPort))
	egress = []contract.Peer{self, apiAndStore()}
	return ingress, egress
}

// poolerPeers are who may reach a pooler (its database's services) and
// whom it reaches (the Cluster's instances, the API server).
func poolerPeers(a *Args, d Database, cluster string) (ingress, egress []contract.Peer) {
	for _, svc := range d.Services() {
		ingress = append(ingress, contract.Peer{PodLabels: map[string]string{contract.NameLabel: svc}, Ports: []int{Port}})
	}
	ingress = append(ingress, withPorts(a.Scraper, PoolerMetricsPort))
	egress = []contract.Peer{{PodLabels: clusterLabels(cluster), Ports: []int{Port}}, apiAndStore()}
	return ingress, egress
}

// apiAndStore is egress on 443 and 6443 to any address: the API server
// (whose address the cloud assigns) and the object store's endpoint.
func apiAndStore() contract.Peer {
	return contract.Peer{CIDRs: []string{"0.0.0.0/0"}, Ports: []int{443, 6443}}
}

func withPorts(p contract.Peer, ports ...int) contract.Peer {
	p.Ports = ports
	return p
}
