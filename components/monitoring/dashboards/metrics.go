package dashboards

// MonitoringMetrics are the metric names the monitoring tier's own targets
// export that its dashboard queries (the other tiers declare theirs in
// their packages' Metrics). Where each comes from:
//   - up: Prometheus' own series for every target it scrapes;
//   - prometheus_*: Prometheus' /metrics (the rule manager's
//     prometheus_rule_evaluation_failures_total and
//     prometheus_rule_group_iterations_missed_total, labelled rule_group;
//     the notifier's prometheus_notifications_*), which the PodMonitor of
//     monitoring.SelfMonitors scrapes on its web port;
//   - alertmanager_*: the Alertmanagers' /metrics (notifications sent and
//     failed per integration, the gossip cluster's members), scraped the
//     same way;
//   - fluentd_output_status_*: Fluentd's fluent-plugin-prometheus, its
//     prometheus_output_monitor input (buffer, retries and errors per
//     output plugin, labelled plugin_id and type), served by its
//     prometheus input on monitoring.FluentdMetricsPort;
//   - fluentbit_output_*: Fluent Bit's HTTP server
//     (/api/v2/metrics/prometheus, per output labelled name);
//   - elasticsearch_cluster_health_*: prometheus-community's
//     elasticsearch_exporter, the sidecar of the logs' Elasticsearch
//     (elasticsearch_cluster_health_status is 1 for the cluster's color
//     label, green, yellow or red, and 0 for the others);
//   - otelcol_*: the Jaeger v2 collector's internal telemetry, which
//     monitoring.JaegerConfig exports through the OpenTelemetry SDK's
//     Prometheus exporter on monitoring.CollectorMetricsPort: that
//     exporter adds _total to counters (older collectors, on OpenCensus,
//     exported otelcol_receiver_accepted_spans without it).
var MonitoringMetrics = []string{
	"up",

	"prometheus_rule_evaluation_failures_total",
	"prometheus_rule_group_iterations_missed_total",
	"prometheus_notifications_dropped_total",
	"prometheus_notifications_errors_total",
	"prometheus_config_last_reload_successful",
	"prometheus_tsdb_head_series",

	"alertmanager_notifications_total",
	"alertmanager_notifications_failed_total",
	"alertmanager_cluster_members",
	"alertmanager_config_last_reload_successful",

	"fluentd_output_status_buffer_queue_length",
	"fluentd_output_status_buffer_total_bytes",
	"fluentd_output_status_retry_count",
	"fluentd_output_status_num_errors",
	"fluentd_output_status_emit_count",

	"fluentbit_output_proc_records_total",
	"fluentbit_output_errors_total",
	"fluentbit_output_retries_total",
	"fluentbit_output_retries_failed_total",
	"fluentbit_output_dropped_records_total",

	"elasticsearch_cluster_health_status",
	"elasticsearch_cluster_health_number_of_nodes",
	"elasticsearch_cluster_health_unassigned_shards",

	"otelcol_receiver_accepted_spans_total",
	"otelcol_receiver_refused_spans_total",
	"otelcol_exporter_sent_spans_total",
	"otelcol_exporter_send_failed_spans_total",
}
