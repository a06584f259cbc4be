package postgres

import (
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/slo"
)

// The labels the monitors copy from the operator's pod labels onto every
// series they scrape (prometheus-operator's podTargetLabels, sanitized:
// cnpg.io/cluster becomes cnpg_io_cluster), so the alerts can tell a
// Cluster's instances from its poolers and name them.
const (
	clusterLabel  = "cnpg_io_cluster"
	roleLabel     = "cnpg_io_podRole"
	poolerLabel   = "cnpg_io_poolerName"
	instancesRole = "instance"
	poolersRole   = "pooler"
)

// tierName is the tier label of the tier's alerts.
const tierName = "postgres"

// Thresholds of the tier's alerts.
const (
	// ReplicationLagTicketSeconds is how far a standby may replay behind
	// its primary before someone should look (a ticket);
	// ReplicationLagPageSeconds how far before a failover to it would lose
	// minutes of reads' freshness and the synchronous standby cannot be
	// trusted to keep up (a page).
	ReplicationLagTicketSeconds = 30
	ReplicationLagPageSeconds   = 300
	// BackupMaxAgeHours is how old the newest base backup may be: the
	// daily ScheduledBackup (BackupSchedule) plus two hours' grace.
	BackupMaxAgeHours = 26
)

// Metrics are the metric names the tier's scraped targets export that its
// alerts use and dashboards may query:
//   - up: Prometheus' own series for every target it scrapes (1 when the
//     scrape succeeded);
//   - cnpg_collector_* and cnpg_pg_*: the instance manager's exporter on
//     port 9187 "metrics" (CloudNativePG 1.30 "Monitoring": the predefined
//     cnpg_collector_* metrics and the default queries of
//     config/manager/default-monitoring.yaml, named
//     cnpg_<query>_<column>: pg_replication, pg_stat_archiver), and this
//     tier's own pg_stat_statements_top query (CustomQueries);
//   - barman_cloud_cloudnative_pg_io_*: the Barman Cloud plugin's backup
//     metrics, which the instance's exporter serves for it (plugin
//     "Observability"; they supersede the deprecated in-core
//     cnpg_collector_*_backup_* metrics, which plugin backups do not
//     feed);
//   - cnpg_pgbouncer_*: each Pooler's exporter on port 9127 "metrics"
//     (CloudNativePG 1.30 "Connection pooling": SHOW LISTS, POOLS, STATS).
var Metrics = []string{
	"up",
	"cnpg_collector_up",
	"cnpg_collector_fencing_on",
	"cnpg_collector_sync_replicas",
	"cnpg_collector_pg_wal_archive_status",
	"cnpg_pg_replication_lag",
	"cnpg_pg_replication_in_recovery",
	"cnpg_pg_replication_streaming_replicas",
	"cnpg_pg_stat_archiver_archived_count",
	"cnpg_pg_stat_archiver_failed_count",
	"cnpg_pg_stat_archiver_last_archived_time",
	"cnpg_pg_stat_archiver_last_failed_time",
	"cnpg_pg_stat_statements_top_calls",
	"cnpg_pg_stat_statements_top_total_exec_seconds",
	"cnpg_pg_stat_statements_top_mean_exec_seconds",
	"barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
	"barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",
	"barman_cloud_cloudnative_pg_io_first_recoverability_point",
	"cnpg_pgbouncer_last_collection_error",
	"cnpg_pgbouncer_pools_cl_active",
	"cnpg_pgbouncer_pools_cl_waiting",
	"cnpg_pgbouncer_pools_sv_active",
	"cnpg_pgbouncer_pools_sv_idle",
	"cnpg_pgbouncer_pools_maxwait",
	"cnpg_pgbouncer_stats_total_xact_count",
}

// PoolerMonitor has the monitoring tier's Prometheus scrape a Cluster's
// PgBouncer poolers (both, rw and ro) on their exporter, the port the
// operator names "metrics" (9127), selected by the operator's labels
// cnpg.io/cluster and cnpg.io/podRole=pooler; each series carries the
// pod's cnpg.io/poolerName.
func PoolerMonitor(a *Args, cluster string) *monitoringv1.PodMonitor {
	return &monitoringv1.PodMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: "PodMonitor"},
		ObjectMeta: metav1.ObjectMeta{Name: cluster + "-poolers", Namespace: a.Namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}},
		Spec: monitoringv1.PodMonitorSpec{
			Selector:            metav1.LabelSelector{MatchLabels: poolersOf(cluster)},
			PodTargetLabels:     []string{"cnpg.io/cluster", "cnpg.io/podRole", "cnpg.io/poolerName"},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{Port: ptr.To("metrics")}},
		},
	}
}

// poolersOf select every pooler pod of a Cluster (the operator's labels).
func poolersOf(cluster string) map[string]string {
	return map[string]string{"cnpg.io/cluster": cluster, "cnpg.io/podRole": poolersRole}
}

// sel is a selector of metric in namespace ns with further matchers.
func sel(metric, ns string, matchers ...string) string {
	return fmt.Sprintf("%s{%s}", metric, strings.Join(append([]string{fmt.Sprintf("namespace=%q", ns)}, matchers...), ", "))
}

// Alerts are the tier's health alerts on what the monitors scrape in
// a.Namespace: an instance down, a Cluster or a pooler with nothing
// serving, no primary, replication lag (a ticket, a page when far), and,
// with a backup store, WAL archiving failing, a failed backup newer than
// the last good one and no backup in BackupMaxAgeHours.
func Alerts(a *Args) *monitoringv1.PrometheusRule {
	ns := a.Namespace
	instances := sel("up", ns, fmt.Sprintf("%s=%q", roleLabel, instancesRole))
	poolers := sel("up", ns, fmt.Sprintf("%s=%q", roleLabel, poolersRole))
	byCluster := fmt.Sprintf("(namespace, %s)", clusterLabel)
	byPooler := fmt.Sprintf("(namespace, %s)", poolerLabel)

	// A Cluster or pooler whose pods are all gone leaves no series at all:
	// each declared one is also looked for by name.
	var absentClusters, absentPoolers []string
	for _, d := range a.Databases {
		c := ClusterName(d.Name)
		absentClusters = append(absentClusters, fmt.Sprintf("absent(%s)", sel("up", ns, fmt.Sprintf("%s=%q", clusterLabel, c), fmt.Sprintf("%s=%q", roleLabel, instancesRole))))
		for _, typ := range []string{"rw", "ro"} {
			absentPoolers = append(absentPoolers, fmt.Sprintf("absent(%s)", sel("up", ns, fmt.Sprintf("%s=%q", poolerLabel, PoolerName(c, typ)))))
		}
	}
	orAbsent := func(expr string, absents []string) string {
		if len(absents) == 0 {
			return expr
		}
		return expr + " or " + strings.Join(absents, " or ")
	}

	rules := []monitoringv1.Rule{
		alerting.Alert(tierName, "PostgresInstanceDown", slo.Ticket,
			fmt.Sprintf("%s == 0 or %s == 0", instances, sel("cnpg_collector_up", ns)), "5m",
			"PostgreSQL instance {{ $labels.pod }} is down",
			"Instance {{ $labels.pod }} of Cluster {{ $labels.cnpg_io_cluster }} in {{ $labels.namespace }} has not served PostgreSQL (or its exporter) for 5 minutes; the operator fails the primary over to a standby, but the Cluster runs with one copy fewer."),
		alerting.Alert(tierName, "PostgresClusterDown", slo.Page,
			orAbsent(fmt.Sprintf("count by %s (%s) unless on %s count by %s (%s == 1)", byCluster, instances, byCluster, byCluster, sel("cnpg_collector_up", ns)), absentClusters), "2m",
			"PostgreSQL Cluster {{ $labels.cnpg_io_cluster }} has no instance up",
			"No instance of Cluster {{ $labels.cnpg_io_cluster }} in {{ $labels.namespace }} has served PostgreSQL for 2 minutes: its database is unavailable."),
		alerting.Alert(tierName, "PostgresNoPrimary", slo.Page,
			fmt.Sprintf("count by %s (%s) unless on %s count by %s (%s == 0)", byCluster, sel("cnpg_pg_replication_in_recovery", ns), byCluster, byCluster, sel("cnpg_pg_replication_in_recovery", ns)), "2m",
			"PostgreSQL Cluster {{ $labels.cnpg_io_cluster }} has no primary",
			"Every running instance of Cluster {{ $labels.cnpg_io_cluster }} in {{ $labels.namespace }} has been in recovery for 2 minutes: no instance accepts writes."),
		alerting.Alert(tierName, "PostgresReplicationLag", slo.Ticket,
			fmt.Sprintf("max by (namespace, %s, pod) (%s) > %d", clusterLabel, sel("cnpg_pg_replication_lag", ns), ReplicationLagTicketSeconds), "5m",
			"PostgreSQL standby {{ $labels.pod }} lags its primary",
			fmt.Sprintf("Standby {{ $labels.pod }} of Cluster {{ $labels.cnpg_io_cluster }} has replayed more than %d s behind its primary for 5 minutes (now {{ $value | humanizeDuration }}).", ReplicationLagTicketSeconds)),
		alerting.Alert(tierName, "PostgresReplicationLagCritical", slo.Page,
			fmt.Sprintf("max by (namespace, %s, pod) (%s) > %d", clusterLabel, sel("cnpg_pg_replication_lag", ns), ReplicationLagPageSeconds), "5m",
			"PostgreSQL standby {{ $labels.pod }} is far behind its primary",
			fmt.Sprintf("Standby {{ $labels.pod }} of Cluster {{ $labels.cnpg_io_cluster }} has replayed more than %d s behind its primary for 5 minutes (now {{ $value | humanizeDuration }}): a failover to it would serve stale data.", ReplicationLagPageSeconds)),
		alerting.Alert(tierName, "PostgresPoolerPodDown", slo.Ticket,
			fmt.Sprintf("%s == 0 or %s == 1", poolers, sel("cnpg_pgbouncer_last_collection_error", ns)), "5m",
			"PgBouncer pod {{ $labels.pod }} is down",
			"Pod {{ $labels.pod }} of pooler {{ $labels.cnpg_io_poolerName }} in {{ $labels.namespace }} has not served PgBouncer (or its exporter could not query it) for 5 minutes."),
		alerting.Alert(tierName, "PostgresPoolerDown", slo.Page,
			orAbsent(fmt.Sprintf("count by %s (%s) unless on %s count by %s (%s == 0)", byPooler, poolers, byPooler, byPooler, sel("cnpg_pgbouncer_last_collection_error", ns)), absentPoolers), "2m",
			"PgBouncer pooler {{ $labels.cnpg_io_poolerName }} has no pod serving",
			"No pod of pooler {{ $labels.cnpg_io_poolerName }} in {{ $labels.namespace }} has served PgBouncer for 2 minutes: the services that connect through it cannot reach the database."),
	}
	if a.Backups != nil {
		lastGood := fmt.Sprintf("max by %s (%s)", byCluster, sel("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", ns))
		lastFailed := fmt.Sprintf("max by %s (%s)", byCluster, sel("barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp", ns))
		rules = append(rules,
			alerting.Alert(tierName, "PostgresWALArchivingFailing", slo.Page,
				fmt.Sprintf("%s > %s", sel("cnpg_pg_stat_archiver_last_failed_time", ns), sel("cnpg_pg_stat_archiver_last_archived_time", ns)), "5m",
				"PostgreSQL WAL archiving is failing on {{ $labels.pod }}",
				"The primary {{ $labels.pod }} of Cluster {{ $labels.cnpg_io_cluster }} has failed to archive WAL to the backup store since its last success, for 5 minutes: point-in-time recovery stops at the last archived segment and WAL piles up on the volume."),
			alerting.Alert(tierName, "PostgresBackupFailed", slo.Page,
				fmt.Sprintf("%s > %s", lastFailed, lastGood), "5m",
				"The last PostgreSQL backup of {{ $labels.cnpg_io_cluster }} failed",
				"A base backup of Cluster {{ $labels.cnpg_io_cluster }} in {{ $labels.namespace }} failed after the last one that succeeded."),
			alerting.Alert(tierName, "PostgresBackupTooOld", slo.Ticket,
				fmt.Sprintf("time() - %s > %d", lastGood, BackupMaxAgeHours*3600), "15m",
				fmt.Sprintf("No PostgreSQL backup of {{ $labels.cnpg_io_cluster }} in %d hours", BackupMaxAgeHours),
				fmt.Sprintf("The newest base backup of Cluster {{ $labels.cnpg_io_cluster }} in {{ $labels.namespace }} is older than %d hours (the daily backup is overdue).", BackupMaxAgeHours)),
		)
	}
	return alerting.Rules(tierName, ns, rules...)
}
