package spof

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Topology keys the analysis understands (well-known labels, k8s.io/api).
var (
	zoneKeys   = []string{corev1.LabelTopologyZone, corev1.LabelFailureDomainBetaZone}
	regionKeys = []string{corev1.LabelTopologyRegion, corev1.LabelFailureDomainBetaRegion}
)

// podShape is what decides where a component's pods run: their labels,
// the scheduling fields of their pod spec, and where those fields live in
// the object (for reasons that name the field to change).
type podShape struct {
	namespace string
	labels    labels.Set
	spec      corev1.PodSpec
	// field is the path of the pod spec's scheduling fields in the object
	// ("spec.template.spec", "spec.affinity" for CloudNativePG).
	field string
}

// placement is what a pod template guarantees about where its replicas
// run: upper bounds on how many one node and one zone can hold, and why.
type placement struct {
	// zones and nodes are those the pods may run on (node selectors and
	// required node affinity narrow them); pin says how, or is "".
	zones, nodes int
	pin          string
	// running is how many replicas can be scheduled at all (a required
	// anti-affinity leaves the rest Pending when domains run out).
	running int
	// perNode and perZone bound the replicas one node and one zone hold;
	// nodeWhy and zoneWhy say what guarantees the bound or why none does.
	perNode, perZone int
	nodeWhy, zoneWhy string
	// nodeNotes and zoneNotes say why a rule gives no guarantee.
	nodeNotes, zoneNotes []string
	// drainStalls is set when the zone bound comes from a DoNotSchedule
	// spread that counts cordoned nodes (nodeTaintsPolicy Ignore, the
	// default): a drained zone still counts as a domain, so replacements
	// beyond the skew stay Pending.
	drainStalls bool
}

// matcher counts the replicas, in the pods' namespace, of every component
// a label selector matches (the pods a spread constraint counts).
type matcher func(*metav1.LabelSelector) int

// place computes the placement of replicas pods of shape p on topology t;
// matched counts the pods a spread constraint's selector matches.
func place(p podShape, replicas int, t Topology, matched matcher) placement {
	pl := placement{zones: t.Zones, nodes: t.Nodes, running: replicas, perNode: replicas, perZone: replicas}
	pl.narrow(p, t)
	pl.antiAffinity(p)
	pl.spread(p, replicas, matched)
	if pl.zones == 1 && pl.pin != "" {
		pl.perZone, pl.zoneWhy = pl.running, pl.pin
	}
	if pl.nodes == 1 && pl.pin != "" {
		pl.perNode, pl.nodeWhy = pl.running, pl.pin
	}
	pl.perNode, pl.perZone = min(pl.perNode, pl.perZone, pl.running), min(pl.perZone, pl.running)
	if pl.nodeWhy == "" {
		pl.nodeWhy = noGuarantee(pl.nodeNotes, "nothing keeps two replicas off one node")
	}
	if pl.zoneWhy == "" {
		pl.zoneWhy = noGuarantee(pl.zoneNotes, "nothing keeps the replicas out of one zone")
	}
	return pl
}

// boundNode and boundZone keep the tightest bound and what gives it.
func (pl *placement) boundNode(b int, why string) {
	if b < pl.perNode || (b == pl.perNode && pl.nodeWhy == "") {
		pl.perNode, pl.nodeWhy = b, why
	}
}

func (pl *placement) boundZone(b int, why string) {
	if b < pl.perZone || (b == pl.perZone && pl.zoneWhy == "") {
		pl.perZone, pl.zoneWhy = b, why
	}
}

// antiAffinity applies required pod anti-affinity on the pods' own
// replicas (a bound, and Pending replicas once domains run out); a
// preferred one is only noted.
func (pl *placement) antiAffinity(p podShape) {
	a := p.spec.Affinity
	if a == nil || a.PodAntiAffinity == nil {
		return
	}
	for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		key := term.TopologyKey
		if !p.selectsSelf(term) {
			pl.nodeNotes = append(pl.nodeNotes, fmt.Sprintf("the required podAntiAffinity on %s does not select the pods' own labels", key))
			continue
		}
		why := fmt.Sprintf("required podAntiAffinity on %s", key)
		switch {
		case isHost(key):
			pl.boundNode(1, why)
			pl.running = min(pl.running, pl.nodes)
		case slices.Contains(zoneKeys, key):
			pl.boundNode(1, why)
			pl.boundZone(1, why)
			pl.running = min(pl.running, pl.zones)
		case slices.Contains(regionKeys, key):
			pl.boundNode(1, why)
			pl.boundZone(1, why)
			pl.running = min(pl.running, 1)
		}
	}
	for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		note := fmt.Sprintf("the podAntiAffinity on %s is preferred, which the scheduler may ignore", w.PodAffinityTerm.TopologyKey)
		pl.nodeNotes = append(pl.nodeNotes, note)
		if !isHost(w.PodAffinityTerm.TopologyKey) {
			pl.zoneNotes = append(pl.zoneNotes, note)
		}
	}
}

// spread applies topology spread constraints on the zone or the host: a
// DoNotSchedule one that selects the pods bounds a domain (counting every
// pod its selector matches, other components' too); others are noted.
func (pl *placement) spread(p podShape, replicas int, matched matcher) {
	for _, c := range p.spec.TopologySpreadConstraints {
		key, skew := c.TopologyKey, max(int(c.MaxSkew), 1)
		host, zone := isHost(key), slices.Contains(zoneKeys, key)
		switch {
		case !host && !zone:
			continue
		case c.WhenUnsatisfiable != corev1.DoNotSchedule:
			note := fmt.Sprintf("the topologySpreadConstraint on %s is %s, which the scheduler may ignore", key, c.WhenUnsatisfiable)
			if zone {
				pl.zoneNotes = append(pl.zoneNotes, note)
			} else {
				pl.nodeNotes = append(pl.nodeNotes, note)
			}
			continue
		case !p.selects(c.LabelSelector):
			note := fmt.Sprintf("the topologySpreadConstraint on %s does not select the pods' own labels", key)
			pl.zoneNotes, pl.nodeNotes = append(pl.zoneNotes, note), append(pl.nodeNotes, note)
			continue
		}
		counted := max(replicas, matched(c.LabelSelector))
		why := fmt.Sprintf("topologySpreadConstraint on %s, DoNotSchedule, maxSkew %d", key, skew)
		if counted > replicas {
			why += fmt.Sprintf(", over the %d pods its selector matches", counted)
		}
		if zone {
			b := min(replicas, spreadBound(counted, pl.zones, skew))
			pl.boundZone(b, why)
			pl.boundNode(b, why)
			if pl.zoneWhy == why && (c.NodeTaintsPolicy == nil || *c.NodeTaintsPolicy != corev1.NodeInclusionPolicyHonor) {
				pl.drainStalls = true
			}
		} else {
			pl.boundNode(min(replicas, spreadBound(counted, pl.nodes, skew)), why)
		}
	}
}

func noGuarantee(notes []string, base string) string {
	if len(notes) == 0 {
		return base
	}
	sort.Strings(notes)
	return base + ": " + strings.Join(slices.Compact(notes), "; ")
}

func isHost(key string) bool { return key == corev1.LabelHostname }

// spreadBound is the most pods one of d domains can hold when n pods
// keep a skew of at most k: the others at their minimum (max-k), so
// max + (d-1)(max-k) = n.
func spreadBound(n, d, k int) int {
	if d <= 1 {
		return n
	}
	return min(n, (n+(d-1)*k)/d)
}

// narrow applies node selectors and required node affinity: which zones
// (and, pinned to hostnames, which nodes) the pods may use.
func (pl *placement) narrow(p podShape, t Topology) {
	for _, k := range zoneKeys {
		if v, ok := p.spec.NodeSelector[k]; ok {
			pl.zones, pl.pin = 1, fmt.Sprintf("%s.nodeSelector pins every replica to %s=%s", p.field, k, v)
		}
	}
	if v, ok := p.spec.NodeSelector[corev1.LabelHostname]; ok {
		pl.zones, pl.nodes, pl.pin = 1, 1, fmt.Sprintf("%s.nodeSelector pins every replica to node %s", p.field, v)
	}
	a := p.spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		pl.eligibleNodes(t)
		return
	}
	zones, hosts, zoneLimited, hostLimited, notIn := requiredTerms(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
	field := p.field + ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
	switch {
	case hostLimited && len(hosts) > 0:
		// Named hosts may share a zone: no zone guarantee beyond them.
		pl.nodes, pl.zones = len(hosts), 1
		if len(hosts) == 1 {
			pl.pin = fmt.Sprintf("%s pins every replica to node %s", field, sortedKeys(hosts)[0])
		}
	case zoneLimited && len(zones) > 0:
		pl.zones = min(pl.zones, len(zones))
		if pl.zones == 1 {
			pl.pin = fmt.Sprintf("%s pins every replica to zone %s", field, sortedKeys(zones)[0])
		}
	case notIn > 0:
		pl.zones = max(1, pl.zones-notIn)
		if pl.zones == 1 {
			pl.pin = fmt.Sprintf("%s leaves one zone", field)
		}
	}
	pl.eligibleNodes(t)
}

// eligibleNodes is the fewest nodes the eligible zones can have: all of
// them when every zone is eligible; one per zone otherwise, since nodes
// need not be spread evenly (Topology guarantees one per zone).
func (pl *placement) eligibleNodes(t Topology) {
	if pl.zones < t.Zones {
		pl.nodes = max(1, min(pl.nodes, pl.zones))
	}
}

// requiredTerms reads required node selector terms (ORed): the zones and
// hosts In lists name, whether every term limits the zone (or the host),
// and the most zones a NotIn leaves out.
func requiredTerms(terms []corev1.NodeSelectorTerm) (zones, hosts map[string]bool, zoneLimited, hostLimited bool, notIn int) {
	zones, hosts = map[string]bool{}, map[string]bool{}
	zoneLimited, hostLimited = true, true
	for _, term := range terms {
		tz, th := false, false
		for _, e := range term.MatchExpressions {
			zoneKey := slices.Contains(zoneKeys, e.Key)
			switch {
			case zoneKey && e.Operator == corev1.NodeSelectorOpIn:
				tz = true
				for _, v := range e.Values {
					zones[v] = true
				}
			case zoneKey && e.Operator == corev1.NodeSelectorOpNotIn:
				notIn = max(notIn, len(e.Values))
			case isHost(e.Key) && e.Operator == corev1.NodeSelectorOpIn:
				th = true
				for _, v := range e.Values {
					hosts[v] = true
				}
			}
		}
		zoneLimited, hostLimited = zoneLimited && tz, hostLimited && th
	}
	return zones, hosts, zoneLimited, hostLimited, notIn
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// selects reports whether a label selector matches the pods' own labels
// (a nil selector matches no pod: a spread constraint without one counts
// nothing; an empty one matches every pod).
func (p podShape) selects(ls *metav1.LabelSelector) bool {
	if ls == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	return err == nil && sel.Matches(p.labels)
}

// selectsSelf reports whether a pod affinity term applies to the pods'
// own replicas: its selector matches their labels and its namespaces
// include theirs. The namespaces are the union of the listed ones and
// those namespaceSelector matches (empty: every namespace); with neither,
// the pods' own. A namespace selector is matched against the
// kubernetes.io/metadata.name label only, the one label every namespace
// is known to carry; anything else gives no guarantee.
func (p podShape) selectsSelf(term corev1.PodAffinityTerm) bool {
	if !p.selects(term.LabelSelector) {
		return false
	}
	if slices.Contains(term.Namespaces, p.namespace) || (len(term.Namespaces) == 0 && term.NamespaceSelector == nil) {
		return true
	}
	if term.NamespaceSelector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
	return err == nil && sel.Matches(labels.Set{corev1.LabelMetadataName: p.namespace})
}
