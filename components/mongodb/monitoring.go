package mongodb

import (
	"fmt"
	"strings"

	psmdbv1 "github.com/percona/percona-server-mongodb-operator/pkg/apis/psmdb/v1"
	"github.com/percona/percona-server-mongodb-operator/pkg/psmdb/config"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/upstream"
)

// tierName is the tier label of the tier's alerts.
const tierName = "mongodb"

// Names of the exporter sidecar.
const (
	// ExporterContainer is the exporter's container name in every member's
	// pod.
	ExporterContainer = "exporter"
	// TLSVolume is the operator's volume of the client certificate Secret
	// (TLSSecret) in every member's pod (pkg/psmdb/statefulset.go, "ssl"),
	// which the exporter mounts for the CA at config.SSLDir.
	TLSVolume = "ssl"
	// ExporterURI is how the exporter reaches its own member: mongod on the
	// loopback name the members' certificate carries (the operator's
	// certificate SANs start with localhost), TLS (the cluster requires it)
	// trusting the platform's CA, directly (not the replica set, so each
	// exporter reports its own member), authenticating against admin with
	// the credentials the environment gives (MONGODB_USER and
	// MONGODB_PASSWORD: the exporter's README, "MongoDB Authentication").
	ExporterURI = "mongodb://localhost:27017/admin?tls=true&tlsCAFile=" + config.SSLDir + "/ca.crt&directConnection=true"
	// ReplicationLagSeconds is how far a secondary may fall behind its
	// primary's last write before someone should look.
	ReplicationLagSeconds = 30
)

// Metrics are the metric names the tier's scraped targets export that its
// alerts use and dashboards may query: Prometheus' own up for every target,
// and percona/mongodb_exporter's (README and REFERENCE.md): mongodb_up
// (the general collector: 1 when the exporter reaches its mongod); the
// replSetGetStatus document as the --collector.replicasetstatus collector
// flattens it (mongodb_myState, the member's own state, 1 for PRIMARY;
// mongodb_members_health and mongodb_members_state per member, labelled
// member_idx and member_state); the --compatible-mode replica set metrics
// (mongodb_mongod_replset_*, from getDiagnosticData, the lag of each
// secondary behind the primary labelled name, state and set); and
// serverStatus as the diagnostic data collector names it (mongodb_ss_*).
var Metrics = []string{
	"up",
	"mongodb_up",
	"mongodb_myState",
	"mongodb_members_health",
	"mongodb_members_state",
	"mongodb_mongod_replset_member_replication_lag",
	"mongodb_mongod_replset_number_of_members",
	"mongodb_ss_connections",
	"mongodb_ss_opcounters",
	"mongodb_ss_mem_resident",
}

// Exporter is the metrics exporter sidecar of every replica set member
// (spec.replsets[].sidecars and the config servers'; the operator adds
// sidecars to the member's pod as they are): Percona's mongodb_exporter,
// reading its own mongod (ExporterURI) as the monitoring user the operator
// generates into the users Secret (the clusterMonitor system user, keys
// MONGODB_CLUSTER_MONITOR_USER and _PASSWORD), referenced, never copied,
// and serving /metrics on ExporterPort. The collectors: the diagnostic
// data and replica set status, and the replica set metrics of the
// exporter's 0.1x names (--compatible-mode), which carry the lag.
func Exporter() k8scorev1.Container {
	secret := func(key string) *k8scorev1.EnvVarSource {
		return &k8scorev1.EnvVarSource{SecretKeyRef: &k8scorev1.SecretKeySelector{
			LocalObjectReference: k8scorev1.LocalObjectReference{Name: UsersSecret}, Key: key}}
	}
	probe := func(failures int32) *k8scorev1.Probe {
		return &k8scorev1.Probe{
			ProbeHandler:  k8scorev1.ProbeHandler{TCPSocket: &k8scorev1.TCPSocketAction{Port: intstr.FromString(ExporterPortName)}},
			PeriodSeconds: 10, FailureThreshold: failures,
		}
	}
	resources := func(cpu, memory string) k8scorev1.ResourceList {
		return k8scorev1.ResourceList{k8scorev1.ResourceCPU: resource.MustParse(cpu), k8scorev1.ResourceMemory: resource.MustParse(memory)}
	}
	return k8scorev1.Container{
		Name: ExporterContainer, Image: upstream.MongoDBExporterImage,
		Args: []string{
			"--mongodb.uri=" + ExporterURI,
			fmt.Sprintf("--web.listen-address=:%d", ExporterPort),
			"--collector.diagnosticdata",
			"--collector.replicasetstatus",
			"--compatible-mode",
		},
		Env: []k8scorev1.EnvVar{
			{Name: "MONGODB_USER", ValueFrom: secret(psmdbv1.EnvMongoDBClusterMonitorUser)},
			{Name: "MONGODB_PASSWORD", ValueFrom: secret(psmdbv1.EnvMongoDBClusterMonitorPassword)},
		},
		Ports:        []k8scorev1.ContainerPort{{Name: ExporterPortName, ContainerPort: ExporterPort}},
		VolumeMounts: []k8scorev1.VolumeMount{{Name: TLSVolume, MountPath: config.SSLDir, ReadOnly: true}},
		Resources:    k8scorev1.ResourceRequirements{Requests: resources("50m", "64Mi"), Limits: resources("200m", "256Mi")},
		SecurityContext: &k8scorev1.SecurityContext{
			RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
			Privileged:     ptr.To(false),
			Capabilities:   &k8scorev1.Capabilities{Drop: []k8scorev1.Capability{"ALL"}},
			SeccompProfile: &k8scorev1.SeccompProfile{Type: k8scorev1.SeccompProfileTypeRuntimeDefault},
		},
		ReadinessProbe: probe(3), LivenessProbe: probe(6),
	}
}

// Monitor has the monitoring tier's Prometheus scrape every replica set
// member's exporter (the pods the operator labels as mongod members of
// the cluster, MembersLabels, in namespace ns) on ExporterPortName; each
// series carries the member's replica set (the operator's label
// app.kubernetes.io/replset) as "replset".
func Monitor(ns string) *monitoringv1.PodMonitor {
	return &monitoringv1.PodMonitor{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: "PodMonitor"},
		ObjectMeta: k8smetav1.ObjectMeta{Name: ClusterName, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}},
		Spec: monitoringv1.PodMonitorSpec{
			Selector: k8smetav1.LabelSelector{MatchLabels: MembersLabels()},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{
				Port: ptr.To(ExporterPortName),
				RelabelConfigs: []monitoringv1.RelabelConfig{{
					SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_label_app_kubernetes_io_replset"},
					TargetLabel:  "replset",
				}},
			}},
		},
	}
}

// Alerts are the tier's health alerts on what Monitor scrapes in
// a.Namespace: a member's mongod down, a member another member sees as
// unhealthy, a replica set without a primary (or with no member reporting
// at all), and a secondary lagging its primary. Backups are not alerted
// on: the exporter's PBM collector (--collector.pbm, mongodb_pbm_*) needs
// find on PBM's control collections in admin, which the operator's
// clusterMonitor user is not granted (its roles: clusterMonitor,
// explainRole, read on local).
func Alerts(a *Args) *monitoringv1.PrometheusRule {
	ns := a.Namespace
	sel := alerting.Selector(ns, ns+"/"+ClusterName)
	var absent []string
	for _, rs := range replsets(a) {
		absent = append(absent, fmt.Sprintf("absent(%s)", sel("mongodb_myState", fmt.Sprintf("replset=%q", rs))))
	}
	rules := []monitoringv1.Rule{
		alerting.Alert(tierName, "MongoDBDown", slo.Page,
			fmt.Sprintf("%s == 0 or %s == 0", sel("mongodb_up"), sel("up")), "5m",
			"MongoDB member {{ $labels.pod }} is down",
			"The mongod of {{ $labels.pod }} (replica set {{ $labels.replset }}, {{ $labels.namespace }}) has not answered its exporter (or been scraped) for 5 minutes."),
		alerting.Alert(tierName, "MongoDBMemberUnhealthy", slo.Page,
			fmt.Sprintf("min by (namespace, replset, member_idx) (%s) == 0", sel("mongodb_members_health")), "5m",
			"MongoDB member {{ $labels.member_idx }} is unhealthy",
			"Member {{ $labels.member_idx }} of replica set {{ $labels.replset }} in {{ $labels.namespace }} has been unreachable or unhealthy to the other members for 5 minutes: the set has one copy fewer and a majority fewer to spare."),
		alerting.Alert(tierName, "MongoDBNoPrimary", slo.Page,
			fmt.Sprintf("(count by (namespace, replset) (%s) unless on (namespace, replset) count by (namespace, replset) (%s == 1)) or %s",
				sel("mongodb_myState"), sel("mongodb_myState"), strings.Join(absent, " or ")), "2m",
			"MongoDB replica set {{ $labels.replset }} has no primary",
			"No member of replica set {{ $labels.replset }} in {{ $labels.namespace }} has been primary for 2 minutes (or none reports at all): writes to it fail."),
		alerting.Alert(tierName, "MongoDBReplicationLag", slo.Ticket,
			fmt.Sprintf("max by (namespace, replset, name) (%s) > %d", sel("mongodb_mongod_replset_member_replication_lag"), ReplicationLagSeconds), "5m",
			"MongoDB member {{ $labels.name }} lags its primary",
			fmt.Sprintf("Secondary {{ $labels.name }} of replica set {{ $labels.replset }} has been more than %d s behind its primary for 5 minutes (now {{ $value | humanizeDuration }}).", ReplicationLagSeconds)),
	}
	return alerting.Rules(tierName, ns, rules...)
}

// replsets are the replica sets' names: the shards' and the config
// servers'.
func replsets(a *Args) []string {
	var out []string
	for i := range a.Shards {
		out = append(out, ReplsetName(i))
	}
	return append(out, psmdbv1.ConfigReplSetName)
}
