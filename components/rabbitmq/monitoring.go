package rabbitmq

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"

	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/slo"
)

// tierName is the tier label of the tier's alerts.
const tierName = "rabbitmq"

// PerObjectMetrics is the regular expression of the metric families kept
// from /metrics/per-object: the per-queue ones (rabbitmq_queue_*, labelled
// vhost and queue), which /metrics aggregates without labels.
const PerObjectMetrics = "rabbitmq_queue_.+"

// Thresholds of the tier's alerts.
const (
	// QueueDepthThreshold is how many ready messages a queue may hold for
	// 15 minutes before its consumers are not keeping up.
	QueueDepthThreshold = 10000
	// UnackedThreshold is how many delivered, unacknowledged messages a
	// queue may hold while the number keeps growing: consumers that take
	// messages and do not finish them.
	UnackedThreshold = 1000
	// QuorumQueueReplicas is a quorum queue's default replica count in
	// RabbitMQ 4 (three, or every node of a smaller cluster; "Quorum
	// Queues": replica management): the tier declares its queues without
	// x-quorum-initial-group-size.
	QuorumQueueReplicas = 3
)

// Metrics are the metric names the tier's scraped targets export that its
// alerts use and dashboards may query: RabbitMQ 4.1's Prometheus plugin
// (deps/rabbitmq_prometheus: metrics.md and its collectors), on /metrics
// for the node (rabbitmq_identity_info, one series per running node with
// its rabbitmq_node and rabbitmq_cluster; rabbitmq_alarms_* from the alarm
// collector, 1 while the alarm blocks publishers; the global counters) and
// on /metrics/per-object for each queue (rabbitmq_queue_*, labelled vhost
// and queue). The plugin exports no per-queue leader or membership: a
// quorum queue's Raft metrics (rabbitmq_raft_*) are per local member, so
// lost quorum is judged from the running nodes (Alerts).
var Metrics = []string{
	"rabbitmq_identity_info",
	"rabbitmq_build_info",
	"rabbitmq_alarms_memory_used_watermark",
	"rabbitmq_alarms_free_disk_space_watermark",
	"rabbitmq_alarms_file_descriptor_limit",
	"rabbitmq_queue_messages_ready",
	"rabbitmq_queue_messages_unacked",
	"rabbitmq_queue_messages",
	"rabbitmq_queue_consumers",
	"rabbitmq_queues",
	"rabbitmq_connections",
	"rabbitmq_process_resident_memory_bytes",
	"rabbitmq_resident_memory_limit_bytes",
	"rabbitmq_disk_space_available_bytes",
	"rabbitmq_global_messages_received_total",
	"rabbitmq_global_messages_delivered_total",
	"rabbitmq_global_messages_dead_lettered_delivery_limit_total",
}

// Alerts are the tier's health alerts on what ServiceMonitor scrapes in
// a.Namespace (job: the client Service, ClusterName):
//   - fewer running nodes than a.Replicas (a page);
//   - lost quorum: so many nodes down that a quorum queue's replicas
//     (QuorumQueueReplicas, at most every node) may have lost their
//     majority, and with it their leader (a page);
//   - a memory or disk alarm, which blocks every publisher (a page);
//   - a queue's ready messages above QueueDepthThreshold, a dead-letter
//     queue (".dlq", DeadLetterQueue) growing, and unacknowledged messages
//     above UnackedThreshold and growing (tickets).
func Alerts(a *Args) *monitoringv1.PrometheusRule {
	ns := a.Namespace
	sel := alerting.Selector(ns, ClusterName)
	running := fmt.Sprintf("(count(%s) or vector(0))", sel("rabbitmq_identity_info"))
	members := min(a.Replicas, QuorumQueueReplicas)
	// A queue with members replicas loses its majority when
	// members - members/2 of them are down.
	quorumLost := a.Replicas - (members - members/2)
	byQueue := "max by (namespace, vhost, queue)"
	queues := `queue!=""`
	rules := []monitoringv1.Rule{
		alerting.Alert(tierName, "RabbitMQNodeDown", slo.Page,
			fmt.Sprintf("%s < %d", running, a.Replicas), "5m",
			"RabbitMQ has {{ $value }} of its nodes running",
			fmt.Sprintf("Only {{ $value }} of the %d nodes of RabbitMQ in %s have been running for 5 minutes: quorum queues run with replicas fewer.", a.Replicas, ns)),
		alerting.Alert(tierName, "RabbitMQQuorumLost", slo.Page,
			fmt.Sprintf("%s <= %d", running, quorumLost), "2m",
			"RabbitMQ quorum queues have lost their majority",
			fmt.Sprintf("Only {{ $value }} of the %d nodes of RabbitMQ in %s are running: quorum queues with a majority of their %d replicas on the nodes that are down have no leader, and refuse publishes and deliveries.", a.Replicas, ns, members)),
		alerting.Alert(tierName, "RabbitMQMemoryAlarm", slo.Page,
			fmt.Sprintf("%s == 1", sel("rabbitmq_alarms_memory_used_watermark")), "2m",
			"RabbitMQ node {{ $labels.pod }} is over its memory watermark",
			"The memory alarm of RabbitMQ node {{ $labels.pod }} in {{ $labels.namespace }} has been in effect for 2 minutes: every publisher of the cluster is blocked."),
		alerting.Alert(tierName, "RabbitMQDiskAlarm", slo.Page,
			fmt.Sprintf("%s == 1", sel("rabbitmq_alarms_free_disk_space_watermark")), "2m",
			"RabbitMQ node {{ $labels.pod }} is below its free disk watermark",
			"The free disk space alarm of RabbitMQ node {{ $labels.pod }} in {{ $labels.namespace }} has been in effect for 2 minutes: every publisher of the cluster is blocked."),
		alerting.Alert(tierName, "RabbitMQQueueDepth", slo.Ticket,
			fmt.Sprintf(`%s (%s) > %d`, byQueue, sel("rabbitmq_queue_messages_ready", queues, `queue!~".+\\.dlq"`), QueueDepthThreshold), "15m",
			"RabbitMQ queue {{ $labels.queue }} is backing up",
			fmt.Sprintf("Queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) has held more than %d ready messages for 15 minutes (now {{ $value }}): its consumers are not keeping up.", QueueDepthThreshold)),
		alerting.Alert(tierName, "RabbitMQDeadLettersGrowing", slo.Ticket,
			fmt.Sprintf(`%s (delta(%s[10m])) > 0`, byQueue, sel("rabbitmq_queue_messages", `queue=~".+\\.dlq"`)), "10m",
			"Dead letters are piling up in {{ $labels.queue }}",
			"Dead-letter queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) has kept growing for 10 minutes: messages of its queue are rejected or exceed their delivery limit and wait there for someone to look."),
		alerting.Alert(tierName, "RabbitMQUnackedGrowing", slo.Ticket,
			fmt.Sprintf(`%s (%s) > %d and %s (delta(%s[15m])) > 0`, byQueue, sel("rabbitmq_queue_messages_unacked", queues), UnackedThreshold,
				byQueue, sel("rabbitmq_queue_messages_unacked", queues)), "15m",
			"Unacknowledged messages are piling up in {{ $labels.queue }}",
			fmt.Sprintf("Queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) has more than %d delivered, unacknowledged messages, still growing after 15 minutes (now {{ $value }}): its consumers take messages and do not finish them.", UnackedThreshold)),
	}
	return alerting.Rules(tierName, ns, rules...)
}
