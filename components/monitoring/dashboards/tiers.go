package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Names of the tiers' workloads and jobs the queries select, as the tiers
// define them (the test checks they still agree).
const (
	// gatewayWorkload is the ingress gateway's workload (gateway.IngressName):
	// its proxies report its requests as reporter="source".
	gatewayWorkload = "ingress-gateway"
	// rateLimitJob is the rate-limit service's job (gateway.RateLimitName).
	rateLimitJob = "ratelimit"
	// istiodJob is istiod's job (mesh.IstiodJob).
	istiodJob = "istiod"
	// vaultJob, certManagerJob and externalSecretsJob are the security
	// tier's jobs (security.VaultJob, CertManagerJob, ExternalSecretsJob).
	vaultJob           = "vault"
	certManagerJob     = "cert-manager"
	externalSecretsJob = "external-secrets"
	// selfJobs matches the jobs of the monitoring tier's PodMonitors of
	// Prometheus and the Alertmanagers (monitoring.SelfMonitors: the
	// operator names a PodMonitor's job <namespace>/<name>).
	selfJobs = `.+/(prometheus|alertmanager)`
)

// server is the server side's view of the mesh's requests (Istio's
// standard metrics as the destination's proxy reports them).
const server = `reporter="destination"`

// meshDashboard: requests, errors and latency of every service as their
// sidecars report them, TCP traffic, and istiod's control plane (xDS
// pushes and rejects, convergence, connected proxies, injection).
func meshDashboard() *dashboard.DashboardBuilder {
	by := "destination_service_namespace, destination_service_name"
	svc := legend("destination_service_namespace", "destination_service_name")
	return newDashboard("mesh", "CloudScale / Mesh",
		"Istio: every service's traffic as its sidecar reports it (reporter=destination), and istiod's configuration pushes.", "now-6h").
		WithPanel(single("Connected proxies", "Proxies connected to istiod over xDS.", "short", 12, green, nil,
			q{sumBy("", `pilot_xds`), "proxies"})).
		WithPanel(single("istiod up / injection failures (1h)", "istiod replicas Prometheus scrapes, and sidecar injections that failed in the last hour (pods started without a proxy).", "short", 12, green, nil,
			q{sumBy("", fmt.Sprintf(`up{job=%q}`, istiodJob)), "istiod up"},
			q{`sum (increase(sidecar_injection_failure_total[1h])) or vector(0)`, "injection failures"})).
		WithPanel(series("Request rate by service", "Requests per second each service's sidecar served.", "reqps", 12,
			q{sumBy(by, rate(`istio_requests_total{`+server+`}`)), svc})).
		WithPanel(series("5xx ratio by service", "Share of each service's requests answered with a 5xx.", "percentunit", 12,
			q{sumBy(by, rate(`istio_requests_total{`+server+`, response_code=~"5.."}`)) + " / " + sumBy(by, rate(`istio_requests_total{`+server+`}`)), svc})).
		WithPanel(series("p99 latency by service", "99th percentile of each service's request duration (istio_request_duration_milliseconds).", "ms", 12,
			q{quantile(0.99, by, `istio_request_duration_milliseconds_bucket{`+server+`}`), svc})).
		WithPanel(series("TCP traffic by service", "Bytes per second each service's sidecar received and sent over TCP.", "Bps", 12,
			q{sumBy(by, rate(`istio_tcp_received_bytes_total{`+server+`}`)), svc + " in"},
			q{sumBy(by, rate(`istio_tcp_sent_bytes_total{`+server+`}`)), svc + " out"})).
		WithPanel(series("xDS pushes by type", "Configuration pushes istiod sends the proxies, per xDS type (cds, eds, lds, rds ...).", "ops", 12,
			q{sumBy("type", rate(`pilot_xds_pushes`)), legend("type")})).
		WithPanel(series("xDS rejects and proxy convergence", "Configurations proxies rejected (a broken push), and the 99th percentile of the time from a change to every proxy having it.", "short", 12,
			q{sumBy("", rate(`pilot_total_xds_rejects`)), "rejects/s"},
			q{quantile(0.99, "", `pilot_proxy_convergence_time_bucket`), "convergence p99 (s)"}))
}

// gatewayDashboard: the ingress gateway's requests, errors and latency
// as its proxies report them (reporter="source"), where they go, and the
// rate-limit service's decisions.
func gatewayDashboard() *dashboard.DashboardBuilder {
	gw := fmt.Sprintf(`reporter="source", source_workload=%q`, gatewayWorkload)
	return newDashboard("gateway", "CloudScale / Gateway",
		"The ingress gateway's traffic as its proxies report it, and the rate-limit service's decisions.", "now-6h").
		WithPanel(single("Rate-limit service up", "Rate-limit replicas Prometheus scrapes.", "short", 12, red, []step{{1, green}},
			q{sumBy("", fmt.Sprintf(`up{job=%q}`, rateLimitJob)), "up"})).
		WithPanel(single("Rate-limit errors (1h)", "Decisions that failed (the gateway then lets the request through) and configuration loads that failed, in the last hour.", "short", 12, green, []step{{1, red}},
			q{`sum (increase(ratelimit_service_should_rate_limit_error[1h])) or vector(0)`, "decision errors"},
			q{`sum (increase(ratelimit_service_config_load_error[1h])) or vector(0)`, "config errors"})).
		WithPanel(series("Gateway requests by code", "Requests per second through the gateway, by response code.", "reqps", 12,
			q{sumBy("response_code", rate(`istio_requests_total{`+gw+`}`)), legend("response_code")})).
		WithPanel(series("Gateway 5xx ratio", "Share of the gateway's requests answered with a 5xx (by the gateway or a backend).", "percentunit", 12,
			q{sumBy("", rate(`istio_requests_total{`+gw+`, response_code=~"5.."}`)) + " / " + sumBy("", rate(`istio_requests_total{`+gw+`}`)), "5xx"})).
		WithPanel(series("Gateway latency", "Median and 99th percentile of the gateway's requests, backend included.", "ms", 12,
			q{quantile(0.5, "", `istio_request_duration_milliseconds_bucket{`+gw+`}`), "p50"},
			q{quantile(0.99, "", `istio_request_duration_milliseconds_bucket{`+gw+`}`), "p99"})).
		WithPanel(series("Requests by backend", "Requests per second the gateway sent to each service.", "reqps", 12,
			q{sumBy("destination_service_name", rate(`istio_requests_total{`+gw+`}`)), legend("destination_service_name")})).
		WithPanel(series("Rate-limit decisions", "The rate-limit service's answers per second, by domain.", "ops", 12,
			q{sumBy("domain", rate(`ratelimit_service_rate_limit_within_limit`)), legend("domain") + " within"},
			q{sumBy("domain", rate(`ratelimit_service_rate_limit_near_limit`)), legend("domain") + " near"},
			q{sumBy("domain", rate(`ratelimit_service_rate_limit_over_limit`)), legend("domain") + " over"})).
		WithPanel(series("Rate-limit over-limit ratio", "Share of the rate-limited requests refused (429), by domain.", "percentunit", 12,
			q{sumBy("domain", rate(`ratelimit_service_rate_limit_over_limit`)) + " / " + sumBy("domain", rate(`ratelimit_service_rate_limit_total_hits`)), legend("domain")}))
}

// securityDashboard: Vault's seal and activity, certificates' expiry and
// readiness, External Secrets' syncs.
func securityDashboard() *dashboard.DashboardBuilder {
	return newDashboard("security", "CloudScale / Security",
		"Vault, cert-manager's certificates and External Secrets' syncs.", "now-6h").
		WithPanel(single("Vault sealed servers", "Vault servers reporting sealed: a sealed server serves nothing until unsealed.", "short", 6, green, []step{{1, red}},
			q{fmt.Sprintf(`count (vault_core_unsealed{job=%q} == 0) or vector(0)`, vaultJob), "sealed"})).
		WithPanel(single("Vault servers up / active", "Vault servers Prometheus scrapes, and the active one (1 expected).", "short", 6, green, nil,
			q{sumBy("", fmt.Sprintf(`up{job=%q}`, vaultJob)), "up"},
			q{sumBy("", `vault_core_active`), "active"})).
		WithPanel(single("Certificates not ready", "cert-manager Certificates whose Ready condition is not True.", "short", 6, green, []step{{1, red}},
			q{fmt.Sprintf(`count (certmanager_certificate_ready_status{job=%q, condition!="True"} == 1) or vector(0)`, certManagerJob), "not ready"})).
		WithPanel(single("ExternalSecrets not synced", "ExternalSecrets whose Ready condition is False: their Secrets are stale or missing.", "short", 6, green, []step{{1, red}},
			q{fmt.Sprintf(`count (externalsecret_status_condition{job=%q, condition="Ready", status="False"} == 1) or vector(0)`, externalSecretsJob), "not synced"})).
		WithPanel(series("Certificate expiry (days)", "Days left before each Certificate expires; cert-manager renews at two thirds of its life.", "d", 12,
			q{`(certmanager_certificate_expiration_timestamp_seconds - time()) / 86400`, legend("namespace", "name")})).
		WithPanel(series("ExternalSecret sync errors", "Failed syncs per second, per ExternalSecret.", "ops", 12,
			q{sumBy("namespace, name", rate(`externalsecret_sync_calls_error`)), legend("namespace", "name")})).
		WithPanel(series("Vault requests", "Requests per second Vault handled.", "reqps", 12,
			q{sumBy("", rate(`vault_core_handle_request_count`)), "requests"})).
		WithPanel(series("Vault leases", "Leases Vault tracks (dynamic credentials, tokens).", "short", 12,
			q{sumBy("", `vault_expire_num_leases`), "leases"}))
}

// postgresDashboard: CloudNativePG instances, replication, WAL archiving
// and backups, and the PgBouncer poolers (their connections to the
// servers and transactions).
func postgresDashboard() *dashboard.DashboardBuilder {
	cluster := "namespace, cnpg_io_cluster"
	pooler := "namespace, cnpg_io_poolerName"
	return newDashboard("postgres", "CloudScale / PostgreSQL",
		"CloudNativePG Clusters: instances, replication, WAL archiving, backups, and their PgBouncer poolers.", "now-6h").
		WithPanel(single("Instances up", "Instances per Cluster whose exporter reaches PostgreSQL.", "short", 8, green, nil,
			q{sumBy(cluster, `cnpg_collector_up`), legend("namespace", "cnpg_io_cluster")})).
		WithPanel(single("WAL archiving failing", "Instances whose last WAL archive attempt failed after the last success.", "short", 8, green, []step{{1, red}},
			q{`count (cnpg_pg_stat_archiver_last_failed_time > cnpg_pg_stat_archiver_last_archived_time) or vector(0)`, "failing"})).
		WithPanel(single("Last backup age", "Time since each Cluster's newest available base backup.", "s", 8, green, []step{{26 * 3600, red}},
			q{"time() - " + fmt.Sprintf("max by (%s) (barman_cloud_cloudnative_pg_io_last_available_backup_timestamp)", cluster), legend("namespace", "cnpg_io_cluster")})).
		WithPanel(series("Replication lag", "How far each standby's replay is behind its primary.", "s", 12,
			q{fmt.Sprintf("max by (%s, pod) (cnpg_pg_replication_lag)", cluster), legend("cnpg_io_cluster", "pod")})).
		WithPanel(series("Streaming replicas", "Standbys streaming from each primary.", "short", 12,
			q{fmt.Sprintf("max by (%s, pod) (cnpg_pg_replication_streaming_replicas)", cluster), legend("cnpg_io_cluster", "pod")})).
		WithPanel(series("WAL archive failures", "WAL segments that failed to archive to the backup store, per second.", "ops", 12,
			q{sumBy(cluster+", pod", rate(`cnpg_pg_stat_archiver_failed_count`)), legend("cnpg_io_cluster", "pod") + " failed"},
			q{sumBy(cluster+", pod", rate(`cnpg_pg_stat_archiver_archived_count`)), legend("cnpg_io_cluster", "pod") + " archived"})).
		WithPanel(series("Backends through the poolers", "Server connections (PostgreSQL backends) the poolers hold, active and idle, and clients waiting for one.", "short", 12,
			q{sumBy(pooler, `cnpg_pgbouncer_pools_sv_active`), legend("cnpg_io_poolerName") + " server active"},
			q{sumBy(pooler, `cnpg_pgbouncer_pools_sv_idle`), legend("cnpg_io_poolerName") + " server idle"},
			q{sumBy(pooler, `cnpg_pgbouncer_pools_cl_active`), legend("cnpg_io_poolerName") + " clients active"},
			q{sumBy(pooler, `cnpg_pgbouncer_pools_cl_waiting`), legend("cnpg_io_poolerName") + " clients waiting"})).
		WithPanel(series("Transactions", "Transactions per second through each pooler.", "ops", 12,
			q{sumBy(pooler, rate(`cnpg_pgbouncer_stats_total_xact_count`)), legend("cnpg_io_poolerName")}))
}

// redisDashboard: the Redis servers (redis_exporter): up, memory against
// maxmemory, hit ratio, replicas, load.
func redisDashboard() *dashboard.DashboardBuilder {
	set := "namespace, redis"
	return newDashboard("redis", "CloudScale / Redis",
		"Redis servers as redis_exporter reads them: availability, memory, cache efficiency, replication.", "now-6h").
		WithPanel(single("Members up", "Servers whose exporter reaches them, per Redis.", "short", 8, green, nil,
			q{sumBy(set, `redis_up`), legend("redis")})).
		WithPanel(single("Connected replicas", "Replicas connected to each master.", "short", 8, red, []step{{1, green}},
			q{`max by (namespace, redis, pod) (redis_connected_slaves and on (namespace, pod) redis_instance_info{role="master"})`, legend("redis", "pod")})).
		WithPanel(single("Replica links down", "Replicas that lost their master.", "short", 8, green, []step{{1, red}},
			q{`count (redis_master_link_up == 0) or vector(0)`, "down"})).
		WithPanel(series("Memory used / maxmemory", "Each server's memory against its maxmemory (servers without one are left out).", "percentunit", 12,
			q{`redis_memory_used_bytes / (redis_memory_max_bytes > 0)`, legend("redis", "pod")})).
		WithPanel(series("Memory used", "Each server's memory.", "bytes", 12,
			q{`redis_memory_used_bytes`, legend("redis", "pod")})).
		WithPanel(series("Hit ratio", "Share of key lookups that found their key.", "percentunit", 12,
			q{sumBy(set, rate(`redis_keyspace_hits_total`)) + " / (" + sumBy(set, rate(`redis_keyspace_hits_total`)) + " + " + sumBy(set, rate(`redis_keyspace_misses_total`)) + ")", legend("redis")})).
		WithPanel(series("Commands and evictions", "Commands per second, and keys evicted (maxmemory reached) or expired per second.", "ops", 12,
			q{sumBy(set, rate(`redis_commands_processed_total`)), legend("redis") + " commands"},
			q{sumBy(set, rate(`redis_evicted_keys_total`)), legend("redis") + " evicted"},
			q{sumBy(set, rate(`redis_expired_keys_total`)), legend("redis") + " expired"})).
		WithPanel(series("Clients", "Client connections per server.", "short", 12,
			q{`redis_connected_clients`, legend("redis", "pod")}))
}

// mongoStates are replSetGetStatus' member states.
var mongoStates = map[string]string{
	"0": "STARTUP", "1": "PRIMARY", "2": "SECONDARY", "3": "RECOVERING", "5": "STARTUP2",
	"6": "UNKNOWN", "7": "ARBITER", "8": "DOWN", "9": "ROLLBACK", "10": "REMOVED",
}

// mongodbDashboard: the replica sets' members (percona mongodb_exporter):
// up, state, health, replication lag, load.
func mongodbDashboard() *dashboard.DashboardBuilder {
	rs := "namespace, replset"
	return newDashboard("mongodb", "CloudScale / MongoDB",
		"MongoDB replica sets as mongodb_exporter reads them: members' state and health, replication lag, load.", "now-6h").
		WithPanel(single("Members up", "mongods whose exporter reaches them, per replica set.", "short", 8, green, nil,
			q{sumBy(rs, `mongodb_up`), legend("replset")})).
		WithPanel(single("Members' state", "Each member's state as the replica set sees it.", "short", 8, green, []step{{3, red}},
			q{`max by (namespace, replset, member_idx) (mongodb_members_state)`, legend("replset", "member_idx")}).
			Mappings(valueText(mongoStates))).
		WithPanel(single("Unhealthy members", "Members the others cannot reach or find unhealthy.", "short", 8, green, []step{{1, red}},
			q{`count (min by (namespace, replset, member_idx) (mongodb_members_health) == 0) or vector(0)`, "unhealthy"})).
		WithPanel(series("Replication lag", "How far each secondary is behind its primary.", "s", 12,
			q{`max by (namespace, replset, name) (mongodb_mongod_replset_member_replication_lag)`, legend("replset", "name")})).
		WithPanel(series("Operations", "Operations per second, by type.", "ops", 12,
			q{sumBy(rs+", legacy_op_type", rate(`mongodb_ss_opcounters`)), legend("replset", "legacy_op_type")})).
		WithPanel(series("Connections", "Current client connections per member.", "short", 12,
			q{`sum by (namespace, replset, pod) (mongodb_ss_connections{conn_type="current"})`, legend("replset", "pod")})).
		WithPanel(series("Resident memory", "Each mongod's resident memory.", "decmbytes", 12,
			q{`mongodb_ss_mem_resident`, legend("replset", "pod")}))
}

// rabbitmqDashboard: RabbitMQ's nodes, alarms, queues (ready, unacked,
// dead letters) and message rates.
func rabbitmqDashboard() *dashboard.DashboardBuilder {
	byQueue := "vhost, queue"
	return newDashboard("rabbitmq", "CloudScale / RabbitMQ",
		"RabbitMQ: nodes, alarms, queue depths and message rates.", "now-6h").
		WithPanel(single("Nodes running", "RabbitMQ nodes reporting.", "short", 8, red, []step{{1, green}},
			q{`count (rabbitmq_identity_info)`, "nodes"})).
		WithPanel(single("Alarms", "Memory, disk and file descriptor alarms in effect: each blocks every publisher.", "short", 8, green, []step{{1, red}},
			q{`sum (rabbitmq_alarms_memory_used_watermark) + sum (rabbitmq_alarms_free_disk_space_watermark) + sum (rabbitmq_alarms_file_descriptor_limit)`, "alarms"})).
		WithPanel(single("Dead letters waiting", "Messages in the dead-letter queues (.dlq).", "short", 8, green, []step{{1, yellow}},
			q{`sum (rabbitmq_queue_messages{queue=~".+\\.dlq"}) or vector(0)`, "dead letters"})).
		WithPanel(series("Ready messages per queue", "Messages waiting for a consumer.", "short", 12,
			q{sumBy(byQueue, `rabbitmq_queue_messages_ready{queue!~".+\\.dlq"}`), legend("vhost", "queue")})).
		WithPanel(series("Unacknowledged messages per queue", "Messages delivered and not yet acknowledged.", "short", 12,
			q{sumBy(byQueue, `rabbitmq_queue_messages_unacked`), legend("vhost", "queue")})).
		WithPanel(series("Dead-letter queue depth", "Messages in each dead-letter queue: rejected, or over their delivery limit.", "short", 12,
			q{sumBy(byQueue, `rabbitmq_queue_messages{queue=~".+\\.dlq"}`), legend("vhost", "queue")})).
		WithPanel(series("Publish and deliver rates", "Messages per second published to, delivered by and dead-lettered by the cluster.", "ops", 12,
			q{sumBy("", rate(`rabbitmq_global_messages_received_total`)), "published"},
			q{sumBy("", rate(`rabbitmq_global_messages_delivered_total`)), "delivered"},
			q{sumBy("", rate(`rabbitmq_global_messages_dead_lettered_delivery_limit_total`)), "dead-lettered (delivery limit)"})).
		WithPanel(series("Memory used / limit", "Each node's memory against its high watermark.", "percentunit", 12,
			q{`rabbitmq_process_resident_memory_bytes / rabbitmq_resident_memory_limit_bytes`, legend("pod")}))
}

// monitoringDashboard: the monitoring tier itself: Prometheus and the
// Alertmanagers, the logs' pipeline (Fluent Bit, Fluentd, Elasticsearch)
// and the traces' collector.
func monitoringDashboard() *dashboard.DashboardBuilder {
	return newDashboard("monitoring", "CloudScale / Monitoring",
		"The monitoring tier itself: Prometheus and Alertmanager, the logs' pipeline and the traces' collector.", "now-6h").
		WithRow(dashboard.NewRowBuilder("Metrics and alerts")).
		WithPanel(single("Prometheus and Alertmanager up", "Replicas of each that Prometheus scrapes.", "short", 6, red, []step{{1, green}},
			q{sumBy("job", fmt.Sprintf(`up{job=~%q}`, selfJobs)), legend("job")})).
		WithPanel(series("Rule evaluation failures", "Rule evaluations that failed, and group evaluations missed (too slow), per second.", "ops", 9,
			q{sumBy("rule_group", rate(`prometheus_rule_evaluation_failures_total`)), legend("rule_group") + " failed"},
			q{sumBy("rule_group", rate(`prometheus_rule_group_iterations_missed_total`)), legend("rule_group") + " missed"})).
		WithPanel(series("Notifications", "Notifications the Alertmanagers sent and failed to send, per integration, and alerts Prometheus dropped.", "ops", 9,
			q{sumBy("integration", rate(`alertmanager_notifications_total`)), legend("integration") + " sent"},
			q{sumBy("integration", rate(`alertmanager_notifications_failed_total`)), legend("integration") + " failed"},
			q{sumBy("", rate(`prometheus_notifications_dropped_total`)), "dropped by Prometheus"})).
		WithRow(dashboard.NewRowBuilder("Logs")).
		WithPanel(single("Elasticsearch cluster health", "The logs' cluster: green, yellow (replicas unassigned) or red (primaries unassigned).", "short", 6, green, []step{{1, yellow}, {2, red}},
			q{`max (elasticsearch_cluster_health_status{color="red"}) * 2 + max (elasticsearch_cluster_health_status{color="yellow"})`, "health"}).
			Mappings(valueText(map[string]string{"0": "green", "1": "yellow", "2": "red"}))).
		WithPanel(series("Fluentd buffer", "Chunks queued in each Fluentd output's buffer, waiting to be written to Elasticsearch.", "short", 6,
			q{sumBy("pod, plugin_id", `fluentd_output_status_buffer_queue_length`), legend("pod", "plugin_id")})).
		WithPanel(series("Fluentd retries and errors", "Each output's current retries and its write errors per second.", "short", 6,
			q{sumBy("pod, plugin_id", `fluentd_output_status_retry_count`), legend("pod", "plugin_id") + " retries"},
			q{sumBy("pod, plugin_id", rate(`fluentd_output_status_num_errors`)), legend("pod", "plugin_id") + " errors/s"})).
		WithPanel(series("Fluent Bit output failures", "Records the node agents failed to forward, retries given up and records dropped, per second.", "ops", 6,
			q{sumBy("name", rate(`fluentbit_output_errors_total`)), legend("name") + " errors"},
			q{sumBy("name", rate(`fluentbit_output_retries_failed_total`)), legend("name") + " retries failed"},
			q{sumBy("name", rate(`fluentbit_output_dropped_records_total`)), legend("name") + " dropped"})).
		WithRow(dashboard.NewRowBuilder("Traces")).
		WithPanel(series("Collector spans", "Spans the Jaeger collector accepted and refused (memory limiter, bad data), and wrote to or failed to write to Elasticsearch, per second.", "ops", 24,
			q{sumBy("receiver", rate(`otelcol_receiver_accepted_spans_total`)), legend("receiver") + " accepted"},
			q{sumBy("receiver", rate(`otelcol_receiver_refused_spans_total`)), legend("receiver") + " refused"},
			q{sumBy("exporter", rate(`otelcol_exporter_sent_spans_total`)), legend("exporter") + " sent"},
			q{sumBy("exporter", rate(`otelcol_exporter_send_failed_spans_total`)), legend("exporter") + " failed"}))
}
