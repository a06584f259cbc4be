package spof

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	esv1 "github.com/elastic/cloud-on-k8s/v3/pkg/apis/elasticsearch/v1"
	"github.com/elastic/cloud-on-k8s/v3/pkg/controller/common/version"
	eslabel "github.com/elastic/cloud-on-k8s/v3/pkg/controller/elasticsearch/label"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// esNodeSet is one nodeSet as ECK runs it: its index in spec.nodeSets,
// its StatefulSet's name, its pods' labels and scheduling fields.
type esNodeSet struct {
	index        int
	sset         string
	count        int
	labels       map[string]string
	spec         corev1.PodSpec
	ownAffinity  bool
	zoneAware    bool
	master       bool
	data, ingest bool
}

// elasticsearchCluster reads an ECK Elasticsearch
// (elasticsearch.k8s.elastic.co/v1). Each of spec.nodeSets is a
// StatefulSet "<cluster>-es-<nodeSet>" of count pods, built from its
// podTemplate by pkg/controller/elasticsearch/nodespec/podspec.go: the
// pods carry label.NewPodLabels (elasticsearch.k8s.elastic.co/cluster-name,
// .../statefulset-name, a node-<role> label per role) under the template's
// own labels; the template's affinity, or when it sets none ECK's
// DefaultAffinity (defaults.go: a *preferred* anti-affinity on
// kubernetes.io/hostname over the cluster's pods); its spread constraints
// and node selector; and, with spec.nodeSets[i].zoneAwareness, a
// DoNotSchedule spread of maxSkew 1 on the zone key over the nodeSet's
// pods (kept out when the template has a constraint on that key, whose
// empty selector ECK fills) and a required node affinity on the key.
//
// A node's roles are config["node.roles"] (absent: every role, so
// master-eligible), read with the API's own UnpackConfig. The
// master-eligible nodes of every nodeSet are the voting configuration: the
// cluster serves only while a majority of them runs, so two are a single
// point of failure. A nodeSet without them serves while one node runs
// (whether its shards keep a copy is the indices' number_of_replicas and
// shard allocation awareness, which the analysis does not read).
// When the master-eligible nodes are in one nodeSet, that nodeSet is the
// quorum component (as a RabbitmqCluster is); when they are in several,
// those nodeSets are judged together as one quorum component named after
// the cluster, placed by the scheduling rules they all share (a rule of
// one nodeSet does not bound the others' pods). That is conservative for
// master-eligible nodeSets each pinned to its own zone: pins that differ
// are no shared rule, so the zone is reported as a single point of failure
// although one zone holds one nodeSet.
//
// ECK's default PodDisruptionBudget (pkg/controller/elasticsearch/pdb/
// reconcile_default.go) selects every pod of the cluster with minAvailable
// of all but the disruptions allowed: one on a green cluster, none while a
// single master, data or ingest node would go, one for a single-node
// cluster. The analysis assumes the steady state, green (ECK allows none
// while the health is not green). spec.podDisruptionBudget with a spec
// replaces it; an empty one ({}) disables it. With an enterprise license
// ECK writes role-specific budgets instead, which are not modelled.
func elasticsearchCluster(r graph.Resource) ([]*component, error) {
	es, err := kube.Decode[esv1.Elasticsearch](r.Inputs)
	if err != nil {
		return nil, err
	}
	es.Namespace = kube.Namespace(r.Inputs)
	ver, err := version.Parse(es.Spec.Version)
	if err != nil {
		return nil, fmt.Errorf("spec.version %q: %w", es.Spec.Version, err)
	}
	var sets []esNodeSet
	for i, ns := range es.Spec.NodeSets {
		if ns.Count <= 0 {
			continue // no pods
		}
		cfg := esv1.DefaultCfg(ver)
		if err := esv1.UnpackConfig(ns.Config, ver, &cfg); err != nil {
			return nil, fmt.Errorf("spec.nodeSets[%d].config: %w", i, err)
		}
		sset := esv1.StatefulSet(es.Name, ns.Name)
		lbls := eslabel.NewPodLabels(types.NamespacedName{Namespace: es.Namespace, Name: es.Name}, sset, ver, cfg.Node, es.Spec.HTTP.Protocol())
		maps.Copy(lbls, ns.PodTemplate.Labels) // the template's labels win (PodTemplateBuilder.WithLabels)
		// ECK counts roles from its StatefulSets' template labels.
		tmpl := appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}}}}
		sets = append(sets, esNodeSet{
			index: i, sset: sset, count: int(ns.Count), labels: lbls,
			spec: esPodSpec(es.Name, sset, ns), ownAffinity: ns.PodTemplate.Spec.Affinity != nil, zoneAware: ns.ZoneAwareness != nil,
			master: eslabel.IsMasterNodeSet(tmpl), data: eslabel.IsDataNodeSet(tmpl), ingest: eslabel.IsIngestNodeSet(tmpl),
		})
	}
	var masters []esNodeSet
	members := 0
	for _, s := range sets {
		if s.master {
			masters = append(masters, s)
			members += s.count
		}
	}
	var out []*component
	for _, s := range sets {
		if s.master && len(masters) > 1 {
			continue // judged with the other master-eligible nodeSets
		}
		c := esNodeSetComponent(es.Name, s, r.URN, es.Namespace)
		if s.master {
			c.quorum, c.needed = true, members/2+1
		}
		out = append(out, c)
	}
	if len(masters) > 1 {
		out = append(out, esVotingComponent(es.Name, masters, members, r.URN, es.Namespace))
	}
	return out, esBudget(es, sets, out)
}

func esNodeSetComponent(cluster string, s esNodeSet, urn, ns string) *component {
	at := fmt.Sprintf("spec.nodeSets[%d]", s.index)
	nodeFix := fmt.Sprintf("set %s.podTemplate.spec.affinity to a required podAntiAffinity on kubernetes.io/hostname selecting %s: %s", at, eslabel.ClusterNameLabelName, cluster)
	if !s.ownAffinity {
		nodeFix += " (ECK's default anti-affinity is only preferred)"
	}
	zoneFix := fmt.Sprintf("set %s.zoneAwareness (ECK then spreads the nodeSet over the zones, DoNotSchedule) or a required podAntiAffinity on topology.kubernetes.io/zone in %s.podTemplate.spec.affinity", at, at)
	if s.zoneAware {
		zoneFix = fmt.Sprintf("list more zones in %s.zoneAwareness.zones (or none, for every zone), or set a required podAntiAffinity on topology.kubernetes.io/zone in %s.podTemplate.spec.affinity", at, at)
	}
	return &component{
		name: s.sset, kind: "elasticsearch.k8s.elastic.co/Elasticsearch", namespace: ns, urn: urn,
		replicas: s.count, needed: 1, replicasField: at + ".count",
		shape:   podShape{namespace: ns, labels: s.labels, spec: s.spec, field: at + ".podTemplate.spec"},
		nodeFix: nodeFix, zoneFix: zoneFix,
	}
}

// esVotingComponent is the voting configuration spread over several
// nodeSets: the labels all their pods carry and the scheduling rules they
// all share.
func esVotingComponent(cluster string, masters []esNodeSet, members int, urn, ns string) *component {
	idx := make([]string, len(masters))
	specs := make([]corev1.PodSpec, len(masters))
	lbls := maps.Clone(masters[0].labels)
	for i, s := range masters {
		idx[i], specs[i] = fmt.Sprint(s.index), s.spec
		for k, v := range lbls {
			if s.labels[k] != v {
				delete(lbls, k)
			}
		}
	}
	at := "spec.nodeSets[" + strings.Join(idx, ",") + "]"
	return &component{
		name: cluster, kind: "elasticsearch.k8s.elastic.co/Elasticsearch", namespace: ns, urn: urn,
		replicas: members, needed: members/2 + 1, quorum: true, replicasField: "the sum of " + at + ".count",
		shape:   podShape{namespace: ns, labels: lbls, spec: sharedPodSpec(specs), field: at + ".podTemplate.spec"},
		nodeFix: fmt.Sprintf("give every master-eligible nodeSet (%s) the same podTemplate.spec.affinity: a required podAntiAffinity on kubernetes.io/hostname selecting %s: %s (a rule of one nodeSet bounds only its own pods)", at, eslabel.ClusterNameLabelName, cluster),
		zoneFix: fmt.Sprintf("give every master-eligible nodeSet (%s) the same required podAntiAffinity on topology.kubernetes.io/zone selecting %s: %s, or put the master-eligible nodes in one nodeSet with zoneAwareness (a rule of one nodeSet bounds only its own pods)", at, eslabel.ClusterNameLabelName, cluster),
	}
}

// esPodSpec is the scheduling part of the pod spec ECK builds for a nodeSet.
func esPodSpec(cluster, sset string, ns esv1.NodeSet) corev1.PodSpec {
	t := ns.PodTemplate.Spec.DeepCopy()
	spec := corev1.PodSpec{Affinity: t.Affinity, NodeSelector: t.NodeSelector, TopologySpreadConstraints: t.TopologySpreadConstraints}
	if spec.Affinity == nil {
		spec.Affinity = esDefaultAffinity(cluster)
	}
	za := ns.ZoneAwareness
	if za == nil {
		// Another nodeSet's zone awareness only requires the zone label
		// to exist on the node, which every node of the topology has.
		return spec
	}
	key := za.TopologyKeyOrDefault()
	own := corev1.TopologySpreadConstraint{
		MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{eslabel.ClusterNameLabelName: cluster, eslabel.StatefulSetNameLabelName: sset}},
	}
	if i := slices.IndexFunc(spec.TopologySpreadConstraints, func(c corev1.TopologySpreadConstraint) bool { return c.TopologyKey == key }); i >= 0 {
		if c := &spec.TopologySpreadConstraints[i]; c.LabelSelector == nil || (len(c.LabelSelector.MatchLabels) == 0 && len(c.LabelSelector.MatchExpressions) == 0) {
			c.LabelSelector = own.LabelSelector
		}
	} else {
		spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, own)
	}
	req := corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpExists}
	if len(za.Zones) > 0 {
		req = corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: slices.Clone(za.Zones)}
	}
	withRequiredNodeExpression(spec.Affinity, req)
	return spec
}

// esDefaultAffinity is nodespec.DefaultAffinity (ECK
// pkg/controller/elasticsearch/nodespec/defaults.go): prefer not to
// co-locate two pods of the cluster on one node.
func esDefaultAffinity(cluster string) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey:   corev1.LabelHostname,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{eslabel.ClusterNameLabelName: cluster}},
			},
		}},
	}}
}

// withRequiredNodeExpression adds a requirement to every required node
// selector term, as ECK's PodTemplateBuilder.WithRequiredNodeAffinityMatchExpressions
// does: an Exists is skipped where the term already needs the key, other
// operators where the term has the same requirement.
func withRequiredNodeExpression(a *corev1.Affinity, req corev1.NodeSelectorRequirement) {
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	if a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	}
	sel := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if len(sel.NodeSelectorTerms) == 0 {
		sel.NodeSelectorTerms = []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req}}}
		return
	}
	for i := range sel.NodeSelectorTerms {
		term := &sel.NodeSelectorTerms[i]
		has := slices.ContainsFunc(term.MatchExpressions, func(e corev1.NodeSelectorRequirement) bool {
			if req.Operator == corev1.NodeSelectorOpExists {
				return e.Key == req.Key && e.Operator != corev1.NodeSelectorOpNotIn && e.Operator != corev1.NodeSelectorOpDoesNotExist
			}
			return equality.Semantic.DeepEqual(e, req)
		})
		if !has {
			term.MatchExpressions = append(term.MatchExpressions, req)
		}
	}
}

// sharedPodSpec keeps the scheduling rules every spec has: node selector
// entries, node affinity, pod anti-affinity terms and spread constraints
// that are the same in all of them.
func sharedPodSpec(specs []corev1.PodSpec) corev1.PodSpec {
	first := specs[0]
	out := corev1.PodSpec{}
	for k, v := range first.NodeSelector {
		if everySpec(specs, func(s corev1.PodSpec) bool { return s.NodeSelector[k] == v }) {
			if out.NodeSelector == nil {
				out.NodeSelector = map[string]string{}
			}
			out.NodeSelector[k] = v
		}
	}
	out.TopologySpreadConstraints = sharedItems(specs, func(s corev1.PodSpec) []corev1.TopologySpreadConstraint { return s.TopologySpreadConstraints })
	if first.Affinity == nil {
		return out
	}
	out.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: sharedItems(specs, func(s corev1.PodSpec) []corev1.PodAffinityTerm {
			return antiAffinityOf(s).RequiredDuringSchedulingIgnoredDuringExecution
		}),
		PreferredDuringSchedulingIgnoredDuringExecution: sharedItems(specs, func(s corev1.PodSpec) []corev1.WeightedPodAffinityTerm {
			return antiAffinityOf(s).PreferredDuringSchedulingIgnoredDuringExecution
		}),
	}}
	if everySpec(specs, func(s corev1.PodSpec) bool {
		return s.Affinity != nil && equality.Semantic.DeepEqual(s.Affinity.NodeAffinity, first.Affinity.NodeAffinity)
	}) {
		out.Affinity.NodeAffinity = first.Affinity.NodeAffinity
	}
	return out
}

func everySpec(specs []corev1.PodSpec, ok func(corev1.PodSpec) bool) bool {
	return !slices.ContainsFunc(specs, func(s corev1.PodSpec) bool { return !ok(s) })
}

// sharedItems are the items of the first spec's list that every spec's
// list has.
func sharedItems[T any](specs []corev1.PodSpec, list func(corev1.PodSpec) []T) []T {
	var out []T
	for _, item := range list(specs[0]) {
		if everySpec(specs, func(s corev1.PodSpec) bool {
			return slices.ContainsFunc(list(s), func(o T) bool { return equality.Semantic.DeepEqual(item, o) })
		}) {
			out = append(out, item)
		}
	}
	return out
}

func antiAffinityOf(s corev1.PodSpec) corev1.PodAntiAffinity {
	if s.Affinity == nil || s.Affinity.PodAntiAffinity == nil {
		return corev1.PodAntiAffinity{}
	}
	return *s.Affinity.PodAntiAffinity
}

// esBudget gives the cluster's components the budget ECK writes for it.
func esBudget(es esv1.Elasticsearch, sets []esNodeSet, comps []*component) error {
	tmpl := es.Spec.PodDisruptionBudget
	if tmpl.IsDisabled() {
		return nil // spec.podDisruptionBudget: {}
	}
	if tmpl.IsSpecified() {
		spec := tmpl.Spec
		sel := labels.Nothing()
		if spec.Selector != nil {
			s, err := metav1.LabelSelectorAsSelector(spec.Selector)
			if err != nil {
				return fmt.Errorf("spec.podDisruptionBudget.spec.selector: %w", err)
			}
			sel = s
		}
		var covered []*component
		expected := 0
		for _, c := range comps {
			if sel.Matches(labels.Set(c.shape.labels)) {
				covered = append(covered, c)
				expected += c.replicas
			}
		}
		allowed, err := kube.DisruptionsAllowed(spec, int32(expected), int32(expected))
		if err != nil {
			return fmt.Errorf("spec.podDisruptionBudget: %w", err)
		}
		for _, c := range covered {
			a := int(allowed)
			c.operatorBudget, c.operatorBudgetText = &a, fmt.Sprintf("spec.podDisruptionBudget (%s)", budgetText(spec))
		}
		return nil
	}
	total, masters, data, ingest := 0, 0, 0, 0
	for _, s := range sets {
		total += s.count
		if s.master {
			masters += s.count
		}
		if s.data {
			data += s.count
		}
		if s.ingest {
			ingest += s.count
		}
	}
	allowed := 1 // allowedDisruptionsForSinglePDB on a green cluster
	if total > 1 && (masters == 1 || data == 1 || ingest == 1) {
		allowed = 0
	}
	text := fmt.Sprintf("ECK's default PodDisruptionBudget %s (minAvailable %d)", esv1.DefaultPodDisruptionBudget(es.Name), total-allowed)
	for _, c := range comps {
		a := allowed
		c.operatorBudget, c.operatorBudgetText = &a, text
	}
	return nil
}
