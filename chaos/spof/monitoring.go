package spof

import (
	"fmt"
	"maps"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// The labels the prometheus-operator gives every pod it runs, whatever
// spec.podMetadata says (the API's "reserved" labels).
const (
	promShardLabel = "operator.prometheus.io/shard"
	promNameLabel  = "operator.prometheus.io/name"
)

// prometheusServer reads a Prometheus (monitoring.coreos.com/v1): the
// operator runs one StatefulSet per shard (spec.shards, default 1; fewer
// than 1 is 1), each of spec.replicas pods (default 1, and 1 below 0:
// ReplicasNumberPtr in pkg/prometheus/statefulset.go). The replicas of a
// shard scrape the same targets, so a shard serves while one of them runs:
// it is not a quorum. Each shard is a component ("<name>", or
// "<name>-shard-<n>" when there are several), since losing every replica
// of one shard loses its share of the targets whatever the other shards do.
//
// The pods carry spec.podMetadata's labels under the operator's own
// (pkg/prometheus/server/statefulset.go: app.kubernetes.io/name
// "prometheus", app.kubernetes.io/managed-by "prometheus-operator",
// app.kubernetes.io/instance, prometheus and operator.prometheus.io/name
// the object's name, operator.prometheus.io/shard the shard; its
// app.kubernetes.io/version, which depends on the operator's default
// version, is left out). spec.affinity
// and spec.nodeSelector pass through unchanged; a topology spread
// constraint passes through as written unless it sets
// additionalLabelSelectors, when the operator adds its selector labels to
// the constraint's labelSelector (OnResource: all but the shard label, so
// it counts every shard's pods; OnShard: all of them) -
// MakeK8sTopologySpreadConstraint in pkg/prometheus/statefulset.go. The
// operator writes no PodDisruptionBudget (prometheus-operator issue 3917).
//
// Not modelled: spec.shardingStrategy mode Topology, in which the
// operator adds topology.kubernetes.io/zone: values[i mod len(values)] to
// shard i's node selector (each shard then lives and scrapes in one zone).
func prometheusServer(r graph.Resource) ([]*component, error) {
	p, err := kube.Decode[monitoringv1.Prometheus](r.Inputs)
	if err != nil {
		return nil, err
	}
	ns := kube.Namespace(r.Inputs)
	cpf := p.Spec.CommonPrometheusFields
	shards := int32(1)
	if cpf.Shards != nil && *cpf.Shards > 1 {
		shards = *cpf.Shards
	}
	replicas := int32(1)
	if cpf.Replicas != nil && *cpf.Replicas >= 0 {
		replicas = *cpf.Replicas
	}
	nodeFix := "add to spec.topologySpreadConstraints a constraint on kubernetes.io/hostname with whenUnsatisfiable: DoNotSchedule and additionalLabelSelectors: OnShard"
	if shards == 1 {
		nodeFix += " (or to spec.affinity a required podAntiAffinity on kubernetes.io/hostname selecting " + promNameLabel + ": " + p.Name + ")"
	}
	var out []*component
	for shard := range shards {
		selector := map[string]string{
			"app.kubernetes.io/name":       "prometheus",
			"app.kubernetes.io/managed-by": "prometheus-operator",
			"app.kubernetes.io/instance":   p.Name,
			"prometheus":                   p.Name,
			promShardLabel:                 fmt.Sprint(shard),
			promNameLabel:                  p.Name,
		}
		name := p.Name
		if shards > 1 {
			name = fmt.Sprintf("%s-shard-%d", p.Name, shard)
		}
		out = append(out, &component{
			name: name, kind: "monitoring.coreos.com/Prometheus", namespace: ns, urn: r.URN,
			replicas: int(replicas), needed: 1, replicasField: "spec.replicas",
			shape: podShape{namespace: ns, labels: operatorPodLabels(cpf.PodMetadata, selector), field: "spec", spec: corev1.PodSpec{
				Affinity: cpf.Affinity, NodeSelector: cpf.NodeSelector,
				TopologySpreadConstraints: prometheusSpread(selector, cpf.TopologySpreadConstraints),
			}},
			nodeFix: nodeFix,
			zoneFix: "add to spec.topologySpreadConstraints a constraint on topology.kubernetes.io/zone with whenUnsatisfiable: DoNotSchedule and additionalLabelSelectors: OnShard, so that it counts each shard's own pods (or to spec.affinity a required podAntiAffinity on the zone)",
		})
	}
	return out, nil
}

// prometheusSpread is the operator's rendering of spec.topologySpreadConstraints
// for one shard whose selector labels are given.
func prometheusSpread(selector map[string]string, tscs []monitoringv1.TopologySpreadConstraint) []corev1.TopologySpreadConstraint {
	var out []corev1.TopologySpreadConstraint
	for _, tsc := range tscs {
		core := corev1.TopologySpreadConstraint(tsc.CoreV1TopologySpreadConstraint)
		c := *core.DeepCopy()
		if add := tsc.AdditionalLabelSelectors; add != nil {
			if c.LabelSelector == nil {
				c.LabelSelector = &metav1.LabelSelector{}
			}
			if c.LabelSelector.MatchLabels == nil {
				c.LabelSelector.MatchLabels = map[string]string{}
			}
			for k, v := range selector {
				if *add == monitoringv1.ResourceNameLabelSelector && k == promShardLabel {
					continue
				}
				c.LabelSelector.MatchLabels[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// alertmanagerCluster reads an Alertmanager (monitoring.coreos.com/v1):
// one StatefulSet of spec.replicas pods (default 1, below 0 is 0) that
// gossip notification state, so any one replica serves (not a quorum; a
// partition may send a notification twice, never lose it). The pods carry
// spec.podMetadata's labels under the operator's selector labels
// (pkg/alertmanager/operator.go makeSelectorLabels: app.kubernetes.io/name
// "alertmanager", app.kubernetes.io/managed-by "prometheus-operator",
// app.kubernetes.io/instance and alertmanager the object's name);
// spec.affinity, spec.topologySpreadConstraints and spec.nodeSelector pass
// through unchanged (pkg/alertmanager/statefulset.go). The operator writes
// no PodDisruptionBudget.
func alertmanagerCluster(r graph.Resource) ([]*component, error) {
	am, err := kube.Decode[monitoringv1.Alertmanager](r.Inputs)
	if err != nil {
		return nil, err
	}
	ns := kube.Namespace(r.Inputs)
	n := 1
	if am.Spec.Replicas != nil {
		n = max(int(*am.Spec.Replicas), 0)
	}
	selector := map[string]string{
		"app.kubernetes.io/name":       "alertmanager",
		"app.kubernetes.io/managed-by": "prometheus-operator",
		"app.kubernetes.io/instance":   am.Name,
		"alertmanager":                 am.Name,
	}
	return []*component{{
		name: am.Name, kind: "monitoring.coreos.com/Alertmanager", namespace: ns, urn: r.URN,
		replicas: n, needed: 1, replicasField: "spec.replicas",
		shape: podShape{namespace: ns, labels: operatorPodLabels(am.Spec.PodMetadata, selector), field: "spec", spec: corev1.PodSpec{
			Affinity: am.Spec.Affinity, NodeSelector: am.Spec.NodeSelector, TopologySpreadConstraints: am.Spec.TopologySpreadConstraints,
		}},
		nodeFix: "add to spec.topologySpreadConstraints a constraint on kubernetes.io/hostname with whenUnsatisfiable: DoNotSchedule selecting alertmanager: " + am.Name + " (or to spec.affinity a required podAntiAffinity on kubernetes.io/hostname)",
		zoneFix: "add to spec.topologySpreadConstraints a constraint on topology.kubernetes.io/zone with whenUnsatisfiable: DoNotSchedule selecting alertmanager: " + am.Name + " (or to spec.affinity a required podAntiAffinity on the zone)",
	}}, nil
}

// operatorPodLabels are spec.podMetadata's labels with the operator's
// reserved ones over them.
func operatorPodLabels(md *monitoringv1.EmbeddedObjectMetadata, reserved map[string]string) map[string]string {
	out := map[string]string{}
	if md != nil {
		maps.Copy(out, md.Labels)
	}
	maps.Copy(out, reserved)
	return out
}
