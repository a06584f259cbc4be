package spof

import (
	"context"
	"fmt"
	"maps"

	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	cnpgspecs "github.com/cloudnative-pg/cloudnative-pg/pkg/specs"
	"github.com/cloudnative-pg/cloudnative-pg/pkg/specs/pgbouncer"
	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// operators read an operator's custom resource into the components its
// operator runs, by the operator's documented semantics.
var operators = map[string]func(graph.Resource) ([]*component, error){
	"postgresql.cnpg.io/Cluster":                 postgresCluster,
	"postgresql.cnpg.io/Pooler":                  pgbouncerPooler,
	"rabbitmq.com/RabbitmqCluster":               rabbitmqCluster,
	"psmdb.percona.com/PerconaServerMongoDB":     perconaMongoDB,
	"monitoring.coreos.com/Prometheus":           prometheusServer,
	"monitoring.coreos.com/Alertmanager":         alertmanagerCluster,
	"elasticsearch.k8s.elastic.co/Elasticsearch": elasticsearchCluster,
}

// postgresCluster reads a CloudNativePG Cluster. Its instance pods are
// what the operator itself builds (specs.NewInstance after the API's
// defaults: the generated anti-affinity is preferred on
// kubernetes.io/hostname unless spec.affinity says otherwise). Serving
// needs a primary, which the operator fails over to a replica, plus the
// synchronous standbys writes wait for when dataDurability is required.
// Drains: the operator's budgets let one replica go at a time and it
// switches the primary over when the primary's node is cordoned
// (internal/controller/replicas.go); a single instance cannot be evicted.
func postgresCluster(r graph.Resource) ([]*component, error) {
	cluster, err := kube.Decode[cnpgv1.Cluster](r.Inputs)
	if err != nil {
		return nil, err
	}
	cluster.Namespace = kube.Namespace(r.Inputs)
	cluster.SetDefaults()
	pod, err := cnpgspecs.NewInstance(context.Background(), cluster, 1, true)
	if err != nil {
		return nil, fmt.Errorf("building its instance pod as the operator does: %w", err)
	}
	n := cluster.Spec.Instances
	c := &component{
		name: cluster.Name, kind: "postgresql.cnpg.io/Cluster", namespace: cluster.Namespace, urn: r.URN,
		replicas: n, needed: 1, replicasField: "spec.instances",
		// Instances share the cluster's labels; the instance name label is
		// each pod's own.
		shape:   podShape{namespace: cluster.Namespace, labels: withoutKeys(pod.Labels, "cnpg.io/instanceName"), spec: pod.Spec, field: "spec.affinity"},
		nodeFix: "set spec.affinity.podAntiAffinityType: required (the operator's anti-affinity is preferred by default)",
		zoneFix: "set spec.affinity.podAntiAffinityType: required and spec.affinity.topologyKey: topology.kubernetes.io/zone",
	}
	if s := cluster.Spec.PostgresConfiguration.Synchronous; s != nil {
		c.sync = s.Number
		c.syncRequired = s.DataDurability != cnpgv1.DataDurabilityLevelPreferred
	} else if cluster.Spec.MinSyncReplicas > 0 {
		c.sync, c.syncRequired = cluster.Spec.MinSyncReplicas, true
	}
	if c.syncRequired {
		c.needed = 1 + c.sync
	}
	if cluster.GetEnablePDB() {
		allowed := 0
		if n >= 2 {
			allowed = 1
		}
		c.operatorBudget = &allowed
	}
	return []*component{c}, nil
}

// pgbouncerPooler reads a CloudNativePG Pooler: spec.instances (default 1)
// PgBouncer pods, any one of which serves. Its pods are those of the
// Deployment the operator itself builds (pkg/specs/pgbouncer.Deployment,
// called by internal/controller/pooler_update.go): spec.template as
// given, labels cnpg.io/poolerName, cnpg.io/cluster, cnpg.io/podRole:
// pooler and app.kubernetes.io/* added, and no affinity or spread of the
// operator's own. The builder reads the Cluster only for its name (a
// label), its TLS secrets and its security context, none of which place
// pods, so the Cluster spec.cluster names stands in. The operator writes
// no disruption budget for poolers: a PodDisruptionBudget in the graph
// that selects the pods limits drains as for any workload.
func pgbouncerPooler(r graph.Resource) ([]*component, error) {
	pooler, err := kube.Decode[cnpgv1.Pooler](r.Inputs)
	if err != nil {
		return nil, err
	}
	ns := kube.Namespace(r.Inputs)
	pooler.Namespace = ns
	cluster := &cnpgv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: pooler.Spec.Cluster.Name, Namespace: ns}}
	d, err := pgbouncer.Deployment(&pooler, cluster)
	if err != nil {
		return nil, fmt.Errorf("building its Deployment as the operator does: %w", err)
	}
	n := 1 // the API's default, and the Deployment's for a nil spec.replicas
	if d.Spec.Replicas != nil {
		n = int(*d.Spec.Replicas)
	}
	return []*component{{
		name: pooler.Name, kind: "postgresql.cnpg.io/Pooler", namespace: ns, urn: r.URN,
		replicas: n, needed: 1, replicasField: "spec.instances",
		shape: podShape{namespace: ns, labels: d.Spec.Template.Labels, spec: d.Spec.Template.Spec, field: "spec.template.spec"},
	}}, nil
}

func withoutKeys(m map[string]string, keys ...string) map[string]string {
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// rabbitmqCluster reads a RabbitmqCluster: spec.replicas nodes (default
// 1) whose quorum queues need a majority. The operator's StatefulSet
// (internal/resource/statefulset.go) labels pods with the cluster's name,
// passes spec.affinity through, and adds a zone spread that is only
// ScheduleAnyway unless disabled; override.statefulSet's pod template
// replaces constraints with the same topology key and adds others
// (strategic merge on topologyKey). The operator writes no disruption
// budget.
func rabbitmqCluster(r graph.Resource) ([]*component, error) {
	rc, err := kube.Decode[rabbitmqv1beta1.RabbitmqCluster](r.Inputs)
	if err != nil {
		return nil, err
	}
	ns := kube.Namespace(r.Inputs)
	n := 1
	if rc.Spec.Replicas != nil {
		n = int(*rc.Spec.Replicas)
	}
	labels := map[string]string{
		"app.kubernetes.io/name": rc.Name, "app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/part-of": "rabbitmq",
	}
	spec := corev1.PodSpec{Affinity: rc.Spec.Affinity}
	if !rc.DisableDefaultTopologySpreadConstraints() {
		spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": rc.Name}},
		}}
	}
	field := "spec.override.statefulSet.spec.template.spec"
	if o := rc.Spec.Override.StatefulSet; o != nil && o.Spec != nil && o.Spec.Template != nil {
		if md := o.Spec.Template.EmbeddedObjectMeta; md != nil {
			maps.Copy(labels, md.Labels)
		}
		if ps := o.Spec.Template.Spec; ps != nil {
			spec.TopologySpreadConstraints = mergeSpread(spec.TopologySpreadConstraints, ps.TopologySpreadConstraints)
			if ps.Affinity != nil {
				spec.Affinity = ps.Affinity
			}
			if ps.NodeSelector != nil {
				spec.NodeSelector = ps.NodeSelector
			}
		}
	}
	return []*component{{
		name: rc.Name, kind: "rabbitmq.com/RabbitmqCluster", namespace: ns, urn: r.URN,
		replicas: n, needed: n/2 + 1, quorum: true, replicasField: "spec.replicas",
		shape: podShape{namespace: ns, labels: labels, spec: spec, field: field},
	}}, nil
}

// mergeSpread is a strategic merge of topology spread constraints on
// their topologyKey: an override replaces the base entry with its key.
func mergeSpread(base, override []corev1.TopologySpreadConstraint) []corev1.TopologySpreadConstraint {
	var out []corev1.TopologySpreadConstraint
	for _, b := range base {
		replaced := false
		for _, o := range override {
			replaced = replaced || o.TopologyKey == b.TopologyKey
		}
		if !replaced {
			out = append(out, b)
		}
	}
	return append(out, override...)
}
