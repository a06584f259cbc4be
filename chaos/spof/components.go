package spof

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// component is one thing that serves: its replicas, what it needs to keep
// serving, where its pods may run, and what limits their eviction.
type component struct {
	name, kind, namespace, urn string
	// replicas is the replica floor (or a quorum's member count); needed
	// is what serving takes: 1, a majority, a primary and its synchronous
	// standbys.
	replicas, needed int
	quorum           bool
	// agent marks a DaemonSet: one pod per node by design.
	agent bool
	// bare marks a Pod no controller recreates.
	bare  bool
	shape podShape
	place placement
	// nodeFix and zoneFix, when set, say how the component's own API asks
	// for a spread (an operator's field) instead of a pod spec's.
	nodeFix, zoneFix string
	// replicasField names the field that sets replicas, for reasons.
	replicasField string
	// budget is the eviction API's allowance for the component's pods, or
	// nil when nothing limits evictions; budgetName says whose it is.
	budget     *int
	budgetName string
	// operatorBudget is set when the component's operator or chart writes
	// its own disruption budgets (CloudNativePG's enablePDB, a chart's
	// podDisruptionBudget); operatorBudgetText names it.
	operatorBudget     *int
	operatorBudgetText string
	// sync is the synchronous standbys writes wait for, and whether they
	// block without them (CloudNativePG dataDurability: required).
	sync         int
	syncRequired bool
	// sentinel is the Sentinel quorum (SENTINEL_QUORUM) of a Redis whose
	// members each run a sentinel: a failover needs that many sentinels to
	// agree and a majority to authorise it, so needed is the larger of the
	// two; sentinelRead says how the quorum was read. 0 otherwise.
	sentinel     int
	sentinelRead string
	services     []string
}

// scalable are the kinds whose replica count is spec.replicas.
var scalable = map[string]string{
	"apps/Deployment": "Deployment", "apps/StatefulSet": "StatefulSet", "apps/ReplicaSet": "ReplicaSet",
	"core/ReplicationController": "ReplicationController",
}

// components reads every component of g.
func components(g graph.Graph, t Topology) ([]*component, error) {
	present := kube.Present(g.Resources)
	floors := kube.ReplicaFloors(g.Resources)
	var out []*component
	var pdbs, services []graph.Resource
	for _, r := range g.Resources {
		k := kube.Kind(r.Type)
		if k != "" && kube.Owned(r.Inputs, present) {
			continue // its owner is judged, not what the owner generates
		}
		var c []*component
		var err error
		switch {
		case scalable[k] != "":
			c, err = workload(r, k, floors)
		case k == "apps/DaemonSet":
			c, err = daemonSet(r)
		case k == "core/Pod":
			c, err = barePod(r)
		case k == "policy/PodDisruptionBudget":
			pdbs = append(pdbs, r)
		case k == "core/Service":
			services = append(services, r)
		default:
			if read, ok := operators[k]; ok {
				c, err = read(r)
			} else if r.Type == helmRelease {
				c, err = release(r)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", k, r.Name, err)
		}
		out = append(out, c...)
	}
	for _, c := range out {
		c.place = place(c.shape, c.replicas, t, matchedReplicas(out, c.namespace))
	}
	if err := applyBudgets(out, pdbs); err != nil {
		return nil, err
	}
	matchServices(out, services)
	return out, nil
}

func workload(r graph.Resource, k string, floors map[kube.Ref]int32) ([]*component, error) {
	type scalableObject struct {
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	obj, err := kube.Decode[scalableObject](r.Inputs)
	if err != nil {
		return nil, err
	}
	ref := kube.Ref{Namespace: kube.Namespace(r.Inputs), Kind: scalable[k], Name: obj.Name}
	n := int(kube.Replicas(r.Inputs, floors, ref))
	field := "spec.replicas"
	if _, ok := floors[ref]; ok {
		field = "the autoscaler's minReplicas"
	}
	c := &component{
		name: obj.Name, kind: k, namespace: ref.Namespace, urn: r.URN, replicas: n, needed: 1, replicasField: field,
		shape: podShape{namespace: ref.Namespace, labels: obj.Spec.Template.Labels, spec: obj.Spec.Template.Spec, field: "spec.template.spec"},
	}
	member, annotated := quorumMember(obj.ObjectMeta, obj.Spec.Template.ObjectMeta)
	q, read, sentinel, err := sentinelQuorum(obj.Spec.Template.Spec, n)
	if err != nil {
		return nil, fmt.Errorf("spec.template.spec: %w", err)
	}
	if sentinel && !annotated {
		member = true
	}
	if member {
		c.quorum, c.needed = true, n/2+1
	}
	if member && sentinel {
		c.sentinel, c.sentinelRead, c.needed = q, read, max(q, n/2+1)
	}
	return []*component{c}, nil
}

func daemonSet(r graph.Resource) ([]*component, error) {
	ds, err := kube.Decode[appsv1.DaemonSet](r.Inputs)
	if err != nil {
		return nil, err
	}
	ns := kube.Namespace(r.Inputs)
	return []*component{{
		name: ds.Name, kind: "apps/DaemonSet", namespace: ns, urn: r.URN, replicas: 1, needed: 1, agent: true,
		shape: podShape{namespace: ns, labels: ds.Spec.Template.Labels, spec: ds.Spec.Template.Spec, field: "spec.template.spec"},
	}}, nil
}

func barePod(r graph.Resource) ([]*component, error) {
	p, err := kube.Decode[corev1.Pod](r.Inputs)
	if err != nil {
		return nil, err
	}
	ns := kube.Namespace(r.Inputs)
	return []*component{{
		name: p.Name, kind: "core/Pod", namespace: ns, urn: r.URN, replicas: 1, needed: 1, bare: true,
		replicasField: "a controller (a Deployment or StatefulSet) in place of the bare Pod",
		shape:         podShape{namespace: ns, labels: p.Labels, spec: p.Spec, field: "spec"},
	}}, nil
}

// matchedReplicas counts the replicas of the components in ns whose pods
// a selector matches.
func matchedReplicas(comps []*component, ns string) matcher {
	return func(ls *metav1.LabelSelector) int {
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return 0
		}
		n := 0
		for _, c := range comps {
			if c.namespace == ns && !c.agent && sel.Matches(c.shape.labels) {
				n += c.replicas
			}
		}
		return n
	}
}

// QuorumAnnotation on a workload (or its pod template) says whether its
// members need a majority ("true") or not ("false"), for systems the
// analysis does not know by name.
const QuorumAnnotation = "cloudscale.io/quorum"

// quorumSystems are the consensus systems known by their
// app.kubernetes.io/name (or app) label: each needs a majority of its
// members to serve (etcd and Vault raft, ZooKeeper's and Consul's
// ensembles, RabbitMQ's quorum queues, MongoDB replica sets, Redis
// Sentinel, NATS JetStream, Kafka's KRaft controllers). A workload whose
// pods run a "sentinel" container beside Redis or Valkey is a Sentinel
// quorum whatever its name (sentinelQuorum).
var quorumSystems = []string{
	"etcd", "vault", "consul", "zookeeper", "rabbitmq", "mongodb", "mongod",
	"redis-sentinel", "sentinel", "nats", "kafka-controller",
}

// quorumMember reports whether a workload's members need a majority, by
// QuorumAnnotation (annotated is then true: the annotation decides) or by
// the name of a known quorum system.
func quorumMember(metas ...metav1.ObjectMeta) (member, annotated bool) {
	for _, m := range metas {
		switch m.Annotations[QuorumAnnotation] {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	for _, m := range metas {
		for _, key := range []string{"app.kubernetes.io/name", "app"} {
			if slices.Contains(quorumSystems, m.Labels[key]) {
				return true, false
			}
		}
	}
	return false, false
}

// applyBudgets gives each component the eviction allowance of the
// PodDisruptionBudgets that select its pods: the smallest, since an
// eviction must satisfy every budget. A budget's expected pods are the
// replicas of every component it selects, as the disruption controller
// counts them.
func applyBudgets(comps []*component, pdbs []graph.Resource) error {
	for _, r := range pdbs {
		pdb, err := kube.Decode[policyv1.PodDisruptionBudget](r.Inputs)
		if err != nil {
			return fmt.Errorf("policy/PodDisruptionBudget %s: %w", r.Name, err)
		}
		ns := kube.Namespace(r.Inputs)
		sel := labels.Nothing()
		if pdb.Spec.Selector != nil {
			s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil {
				return fmt.Errorf("policy/PodDisruptionBudget %s: spec.selector: %w", r.Name, err)
			}
			if !s.Empty() || !strings.Contains(r.Type, "v1beta1") {
				sel = s // in policy/v1 an empty selector selects every pod, in v1beta1 none
			}
		}
		var covered []*component
		expected, healthy := 0, 0
		for _, c := range comps {
			if c.namespace == ns && !c.agent && sel.Matches(c.shape.labels) {
				covered = append(covered, c)
				expected += c.replicas
				healthy += c.place.running // Pending replicas are not healthy
			}
		}
		allowed, err := kube.DisruptionsAllowed(pdb.Spec, int32(expected), int32(healthy))
		if err != nil {
			return fmt.Errorf("policy/PodDisruptionBudget %s: %w", r.Name, err)
		}
		for _, c := range covered {
			if c.budget == nil || int(allowed) < *c.budget {
				a := int(allowed)
				c.budget, c.budgetName = &a, fmt.Sprintf("PodDisruptionBudget %s (%s)", pdb.Name, budgetText(pdb.Spec))
			}
		}
	}
	return nil
}

func budgetText(s policyv1.PodDisruptionBudgetSpec) string {
	switch {
	case s.MaxUnavailable != nil:
		return "maxUnavailable " + s.MaxUnavailable.String()
	case s.MinAvailable != nil:
		return "minAvailable " + s.MinAvailable.String()
	}
	return "neither minAvailable nor maxUnavailable"
}

// matchServices names, on each component, the Services in its namespace
// whose selector matches its pods.
func matchServices(comps []*component, services []graph.Resource) {
	for _, r := range services {
		spec, _ := r.Inputs["spec"].(map[string]any)
		raw, _ := spec["selector"].(map[string]any)
		if len(raw) == 0 {
			continue // no selector: endpoints are managed by hand
		}
		sel := labels.Set{}
		for k, v := range raw {
			s, _ := v.(string)
			sel[k] = s
		}
		ns, name := kube.Namespace(r.Inputs), kube.Name(r.Inputs)
		for _, c := range comps {
			if c.namespace == ns && labels.SelectorFromSet(sel).Matches(c.shape.labels) {
				c.services = append(c.services, ns+"/"+name)
			}
		}
	}
	for _, c := range comps {
		sort.Strings(c.services)
	}
}
