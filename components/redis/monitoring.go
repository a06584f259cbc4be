package redis

import (
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/slo"
)

// tierName is the tier label of the tier's alerts.
const tierName = "redis"

// MonitorName is the PodMonitor's name; Prometheus' job for its targets is
// "<namespace>/<MonitorName>" (prometheus-operator's default).
const MonitorName = "redis"

// MemoryNearLimit is the share of maxmemory above which an instance is
// close to refusing writes (redis-state, noeviction) or to evicting its
// working set (redis-cache).
const MemoryNearLimit = 0.9

// Metrics are the metric names the tier's scraped targets export that its
// alerts use and dashboards may query: Prometheus' own up for every target,
// and oliver006/redis_exporter's (README "What's exported": INFO fields as
// redis_*, renamed by its exporter.go metric maps, e.g. used_memory ->
// redis_memory_used_bytes, maxmemory -> redis_memory_max_bytes,
// total_commands_processed -> redis_commands_processed_total; redis_up is
// 1 when the last scrape of the server succeeded; redis_instance_info
// carries the member's role; redis_master_link_up is a replica's link).
var Metrics = []string{
	"up",
	"redis_up",
	"redis_instance_info",
	"redis_master_link_up",
	"redis_connected_slaves",
	"redis_connected_clients",
	"redis_memory_used_bytes",
	"redis_memory_max_bytes",
	"redis_evicted_keys_total",
	"redis_expired_keys_total",
	"redis_keyspace_hits_total",
	"redis_keyspace_misses_total",
	"redis_commands_processed_total",
	"redis_db_keys",
}

// Monitor has the monitoring tier's Prometheus scrape both instances'
// exporters (the pods the workload helper labels app.kubernetes.io/name
// redis-state and redis-cache, in namespace ns) on ExporterPortName; each
// series carries the instance's name as the label "redis".
func Monitor(ns string) *monitoringv1.PodMonitor {
	var names []string
	for _, i := range Topology() {
		names = append(names, i.Name)
	}
	return &monitoringv1.PodMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: "PodMonitor"},
		ObjectMeta: metav1.ObjectMeta{Name: MonitorName, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}},
		Spec: monitoringv1.PodMonitorSpec{
			Selector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: contract.NameLabel, Operator: metav1.LabelSelectorOpIn, Values: names,
			}}},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{
				Port: ptr.To(ExporterPortName),
				RelabelConfigs: []monitoringv1.RelabelConfig{{
					SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_label_app_kubernetes_io_name"},
					TargetLabel:  "redis",
				}},
			}},
		},
	}
}

// Alerts are the tier's health alerts on what Monitor scrapes in
// a.Namespace: a member down, an instance without a master (or with two),
// a replica's link to its master down, a master without replicas (a page
// in production; only with more than one member) and memory near
// maxmemory.
//
// Sentinel is not scraped: redis_exporter exports redis_sentinel_* only
// when pointed at a Sentinel, which would take a second exporter per pod;
// the masters' and replicas' view covers the failures a Sentinel acts on.
func Alerts(a *Args) *monitoringv1.PrometheusRule {
	ns := a.Namespace
	sel := alerting.Selector(ns, ns+"/"+MonitorName)
	var absent []string
	for _, i := range Topology() {
		absent = append(absent, fmt.Sprintf("absent(%s)", sel("redis_instance_info", fmt.Sprintf("redis=%q", i.Name))))
	}
	masters := sel("redis_instance_info", `role="master"`)
	rules := []monitoringv1.Rule{
		alerting.Alert(tierName, "RedisDown", slo.Page,
			fmt.Sprintf("%s == 0 or %s == 0", sel("redis_up"), sel("up")), "5m",
			"Redis member {{ $labels.pod }} is down",
			"Member {{ $labels.pod }} of {{ $labels.redis }} in {{ $labels.namespace }} has not answered its exporter (or been scraped) for 5 minutes."),
		alerting.Alert(tierName, "RedisNoMaster", slo.Page,
			fmt.Sprintf("(count by (namespace, redis) (%s) unless on (namespace, redis) count by (namespace, redis) (%s)) or %s",
				sel("redis_instance_info"), masters, strings.Join(absent, " or ")), "2m",
			"{{ $labels.redis }} has no master",
			"No member of {{ $labels.redis }} in {{ $labels.namespace }} has been a master for 2 minutes (or none reports at all): writes fail until Sentinel elects one."),
		alerting.Alert(tierName, "RedisMultipleMasters", slo.Page,
			fmt.Sprintf("count by (namespace, redis) (%s) > 1", masters), "2m",
			"{{ $labels.redis }} has {{ $value }} masters",
			"{{ $value }} members of {{ $labels.redis }} in {{ $labels.namespace }} have been masters for 2 minutes: a split brain, whose writes to the old master are lost when it rejoins as a replica."),
		alerting.Alert(tierName, "RedisReplicaLinkDown", slo.Ticket,
			fmt.Sprintf("%s == 0", sel("redis_master_link_up")), "5m",
			"Redis replica {{ $labels.pod }} has lost its master",
			"Replica {{ $labels.pod }} of {{ $labels.redis }} has not been linked to its master ({{ $labels.master_host }}) for 5 minutes: it serves stale data and cannot take over."),
		alerting.Alert(tierName, "RedisMemoryNearLimit", slo.Ticket,
			fmt.Sprintf("%s / %s > %g and %s > 0", sel("redis_memory_used_bytes"), sel("redis_memory_max_bytes"), MemoryNearLimit, sel("redis_memory_max_bytes")), "15m",
			"Redis {{ $labels.pod }} is near its maxmemory",
			fmt.Sprintf("Member {{ $labels.pod }} of {{ $labels.redis }} has used more than %g%% of its maxmemory for 15 minutes (now {{ $value | humanizePercentage }}): redis-state refuses writes when full, redis-cache evicts.", MemoryNearLimit*100)),
	}
	if a.Replicas > 1 {
		severity := slo.Ticket
		if a.Production {
			severity = slo.Page
		}
		rules = append(rules, alerting.Alert(tierName, "RedisMasterWithoutReplicas", severity,
			fmt.Sprintf("%s == 0 and on (namespace, pod) %s", sel("redis_connected_slaves"), masters), "5m",
			"Redis master {{ $labels.pod }} has no replica",
			"Master {{ $labels.pod }} of {{ $labels.redis }} in {{ $labels.namespace }} has had no replica connected for 5 minutes: its data has a single copy and Sentinel has nothing to fail over to."))
	}
	return alerting.Rules(tierName, ns, rules...)
}
