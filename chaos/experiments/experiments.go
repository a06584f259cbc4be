// Package experiments is CloudScale's chaos catalogue: from a stack's
// resource graph and its failure-domain analysis (chaos/spof) it derives,
// per component and failure domain, the Chaos Mesh experiments that test
// the analysis' prediction, each with its hypothesis (the steady state
// that must hold), its blast radius and the predicted verdict; the
// Workflows that check the steady state before, during (aborting on a
// breach) and after each fault; and the Schedules that run them.
//
// It is the only package that imports the chaos-mesh API
// (github.com/chaos-mesh/chaos-mesh/api/v1alpha1): every object is typed
// from it.
package experiments

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// Fault is what an experiment injects.
type Fault string

// The faults of the catalogue.
const (
	PodKill             Fault = "pod-kill"
	PodKillAllButQuorum Fault = "pod-kill-all-but-quorum"
	NodeLoss            Fault = "node-loss"
	ZoneOutage          Fault = "zone-outage"
	NetworkPartition    Fault = "network-partition"
	NetworkDelay        Fault = "network-delay"
	CPUStress           Fault = "cpu-stress"
	MemoryStress        Fault = "memory-stress"
	DNSFailure          Fault = "dns-failure"
)

// Executors: who injects the fault.
const (
	// ChaosMesh: the Chaos Mesh controller, from the experiment's object.
	ChaosMesh = "chaos-mesh"
	// ClusterRunner: `cloudscale chaos run`, through the cluster's API
	// (a node marked NotReady): Chaos Mesh has no node-loss kind.
	ClusterRunner = "cloudscale"
)

// Namespace is where the chaos tier runs and its objects live.
const Namespace = "chaos"

// Experiment is one fault against one component (or, for a zone outage,
// every component with pods in the zone).
type Experiment struct {
	Name      string      `json:"name"`
	Fault     Fault       `json:"fault"`
	Domain    spof.Domain `json:"domain"`
	Component string      `json:"component"`
	Kind      string      `json:"kind,omitempty"`
	Namespace string      `json:"namespace,omitempty"`
	Zone      string      `json:"zone,omitempty"`
	// Hypothesis is the steady state that must hold under the fault.
	Hypothesis string `json:"hypothesis"`
	// BlastRadius says what the fault touches.
	BlastRadius string `json:"blastRadius"`
	// Predicted is the verdict the analysis gives the domain.
	Predicted spof.Verdict `json:"predicted"`
	// Targets are the objects of the stack whose pods it hits
	// ("<namespace>/<Kind>/<name>").
	Targets []string `json:"targets"`
	// Selector is the Chaos Mesh pod selector (what a dry run shows).
	Selector chaosv1alpha1.PodSelector `json:"selector"`
	Executor string                    `json:"executor"`
	// NeedsDaemon: the fault acts inside containers through
	// chaos-daemon (network, stress, DNS), which simulated pods lack.
	NeedsDaemon bool `json:"needsDaemon"`
	// Scheduled says whether the stack's Schedule runs it, and Why not.
	Scheduled bool   `json:"scheduled"`
	Why       string `json:"why,omitempty"`
	// Chaos is the fault as a Chaos Mesh spec (nil for node loss).
	Chaos *chaosv1alpha1.EmbedChaos `json:"-"`
	// ChaosKind is the template type of Chaos ("PodChaos").
	ChaosKind chaosv1alpha1.TemplateType `json:"chaosKind,omitempty"`
	// Route is a route fault's route and its Istio VirtualService (nil
	// for the others; see routes.go).
	Route *RouteFault `json:"route,omitempty"`
}

// Plan is the catalogue of one stack.
type Plan struct {
	Source      string       `json:"source"`
	Env         string       `json:"env"`
	Config      Config       `json:"config"`
	Experiments []Experiment `json:"experiments"`
}

// New derives the catalogue from a graph and its analysis.
func New(g graph.Graph, rep *spof.Report, cfg Config) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	deps, err := dependencies(g, rep.Targets)
	if err != nil {
		return nil, err
	}
	p := &Plan{Source: rep.Source, Env: rep.Env, Config: cfg}
	// Sorted: the analysis lists components in the graph's order, which
	// Pulumi does not fix for resources registered concurrently.
	targets := slices.Clone(rep.Targets)
	slices.SortStableFunc(targets, func(a, b spof.Target) int { return strings.Compare(ref(a), ref(b)) })
	for _, t := range targets {
		if t.Agent || len(t.PodLabels) == 0 {
			continue // a DaemonSet serves its own node; nothing to select
		}
		p.Experiments = append(p.Experiments, componentExperiments(t, rep, cfg, deps[ref(t)])...)
	}
	for _, z := range cfg.Zones {
		p.Experiments = append(p.Experiments, zoneOutage(z, rep, cfg))
	}
	routes, err := routeExperiments(g, rep, cfg)
	if err != nil {
		return nil, err
	}
	p.Experiments = append(p.Experiments, routes...)
	for i := range p.Experiments {
		e := &p.Experiments[i]
		e.Scheduled, e.Why = schedulable(*e, cfg)
	}
	return p, nil
}

func ref(t spof.Target) string { return t.Namespace + "/" + kube.KindName(t.Kind) + "/" + t.Name }

// selector selects a component's pods.
func selector(t spof.Target, mode chaosv1alpha1.SelectorMode, value string) chaosv1alpha1.PodSelector {
	return chaosv1alpha1.PodSelector{
		Selector: chaosv1alpha1.PodSelectorSpec{GenericSelectorSpec: chaosv1alpha1.GenericSelectorSpec{
			Namespaces: []string{t.Namespace}, LabelSelectors: maps.Clone(t.PodLabels),
		}},
		Mode: mode, Value: value,
	}
}

// component builds one component's experiments.
type component struct {
	t    spof.Target
	rep  *spof.Report
	cfg  Config
	keep string // the steady state: the component keeps serving
}

func componentExperiments(t spof.Target, rep *spof.Report, cfg Config, deps []spof.Target) []Experiment {
	c := component{t: t, rep: rep, cfg: cfg, keep: fmt.Sprintf("%s/%s keeps serving (its SLO gate answers 200)", t.Namespace, t.Name)}
	out := c.kills()
	out = append(out, c.nodeLoss())
	out = append(out, c.zoneOutages()...)
	for _, d := range deps {
		// A partition changes the target's pods too (Chaos Mesh's
		// partition sets rules on both sides whatever the direction): only
		// dependencies in the application namespaces are partitioned.
		if slices.Contains(cfg.Namespaces, d.Namespace) {
			out = append(out, c.partition(d))
		}
	}
	return append(out, c.inContainer()...)
}

func (c component) base(f Fault, d spof.Domain, sel chaosv1alpha1.PodSelector) Experiment {
	t := c.t
	return Experiment{
		Name: name(t.Name, string(f)), Fault: f, Domain: d, Component: t.Name, Kind: t.Kind, Namespace: t.Namespace,
		Predicted: c.rep.Verdict(t.Namespace, t.Name, d), Targets: []string{ref(t)}, Selector: sel, Executor: ChaosMesh,
	}
}

func podChaos(sel chaosv1alpha1.PodSelector, action chaosv1alpha1.PodChaosAction, duration *string) *chaosv1alpha1.EmbedChaos {
	return &chaosv1alpha1.EmbedChaos{PodChaos: &chaosv1alpha1.PodChaosSpec{
		ContainerSelector: chaosv1alpha1.ContainerSelector{PodSelector: sel}, Action: action, Duration: duration,
	}}
}

// kills are a pod kill (mode one) and, for a quorum, a kill of all but a
// majority at once (mode fixed).
func (c component) kills() []Experiment {
	t := c.t
	e := c.base(PodKill, spof.Pod, selector(t, chaosv1alpha1.OneMode, ""))
	e.Hypothesis = c.keep + " while one of its pods is killed, and a replacement becomes ready"
	e.BlastRadius = fmt.Sprintf("one pod of %d", t.Replicas)
	e.ChaosKind, e.Chaos = chaosv1alpha1.TypePodChaos, podChaos(e.Selector, chaosv1alpha1.PodKillAction, nil)
	out := []Experiment{e}
	if t.Quorum && t.Running > t.Needed {
		// Of the members that run: Pending ones cannot be killed.
		lose := t.Running - t.Needed
		e := c.base(PodKillAllButQuorum, spof.Quorum, selector(t, chaosv1alpha1.FixedMode, fmt.Sprint(lose)))
		e.Hypothesis = fmt.Sprintf("%s keeps its quorum (%d of %d) while %d member(s) are killed at once", t.Name, t.Needed, t.Replicas, lose)
		e.BlastRadius = fmt.Sprintf("%d pods of the %d that run, all but a majority", lose, t.Running)
		e.ChaosKind, e.Chaos = chaosv1alpha1.TypePodChaos, podChaos(e.Selector, chaosv1alpha1.PodKillAction, nil)
		out = append(out, e)
	}
	return out
}

// nodeLoss is run through the cluster: Chaos Mesh has no node kind.
func (c component) nodeLoss() Experiment {
	e := c.base(NodeLoss, spof.Node, selector(c.t, chaosv1alpha1.AllMode, ""))
	e.Hypothesis = c.keep + " when the node that holds the most of its pods is lost, and its pods are rescheduled"
	e.BlastRadius = "every pod on one node (the runner picks the node with the most of the component's pods)"
	e.Executor = ClusterRunner
	return e
}

// zoneOutages fail the component's pods on one zone's nodes, per zone.
func (c component) zoneOutages() []Experiment {
	var out []Experiment
	for _, z := range c.cfg.Zones {
		dur := c.cfg.Duration
		sel := selector(c.t, chaosv1alpha1.AllMode, "")
		sel.Selector.NodeSelectors = map[string]string{zoneLabel: z}
		e := c.base(ZoneOutage, spof.Zone, sel)
		e.Name, e.Zone = name(c.t.Name, "zone-outage", z), z
		e.Hypothesis = c.keep + " while every one of its pods in zone " + z + " fails"
		e.BlastRadius = "the component's pods on nodes of zone " + z
		e.ChaosKind, e.Chaos = chaosv1alpha1.TypePodChaos, podChaos(sel, chaosv1alpha1.PodFailureAction, &dur)
		out = append(out, e)
	}
	return out
}

// partition cuts the component off from one dependency, both ways.
func (c component) partition(d spof.Target) Experiment {
	t, dur := c.t, c.cfg.Duration
	e := c.base(NetworkPartition, spof.Pod, selector(t, chaosv1alpha1.AllMode, ""))
	e.Name = name(t.Name, "partition", d.Name)
	e.Predicted = spof.Degraded
	e.Hypothesis = fmt.Sprintf("%s stays up and reports %s unready while partitioned from it, and recovers within %s of the partition healing", t.Name, d.Name, c.cfg.Recovery)
	e.BlastRadius = fmt.Sprintf("traffic between every pod of %s and every pod of %s/%s, both directions", t.Name, d.Namespace, d.Name)
	e.Targets = append(e.Targets, ref(d))
	target := selector(d, chaosv1alpha1.AllMode, "")
	e.NeedsDaemon, e.ChaosKind = true, chaosv1alpha1.TypeNetworkChaos
	e.Chaos = &chaosv1alpha1.EmbedChaos{NetworkChaos: &chaosv1alpha1.NetworkChaosSpec{
		PodSelector: e.Selector, Action: chaosv1alpha1.PartitionAction, Direction: chaosv1alpha1.Both, Target: &target, Duration: &dur,
	}}
	return e
}

// inContainer are the faults chaos-daemon injects inside one pod's
// containers: network delay, CPU and memory stress, DNS failure.
func (c component) inContainer() []Experiment {
	dur := c.cfg.Duration
	e := c.base(NetworkDelay, spof.Pod, selector(c.t, chaosv1alpha1.OneMode, ""))
	e.Hypothesis = c.keep + " within its latency SLO while one pod's traffic is delayed by " + c.cfg.Delay
	e.BlastRadius = "egress of one pod"
	e.NeedsDaemon, e.ChaosKind = true, chaosv1alpha1.TypeNetworkChaos
	e.Chaos = &chaosv1alpha1.EmbedChaos{NetworkChaos: &chaosv1alpha1.NetworkChaosSpec{
		PodSelector: e.Selector, Action: chaosv1alpha1.DelayAction, Duration: &dur,
		TcParameter: chaosv1alpha1.TcParameter{Delay: &chaosv1alpha1.DelaySpec{Latency: c.cfg.Delay, Jitter: "10ms", Correlation: "25"}},
	}}
	out := []Experiment{e}
	for _, s := range []struct {
		f    Fault
		text string
		st   chaosv1alpha1.Stressors
	}{
		{CPUStress, "two CPU workers at 80% load", chaosv1alpha1.Stressors{CPUStressor: &chaosv1alpha1.CPUStressor{Stressor: chaosv1alpha1.Stressor{Workers: 2}, Load: ptr(80)}}},
		{MemoryStress, "a worker filling 256MB", chaosv1alpha1.Stressors{MemoryStressor: &chaosv1alpha1.MemoryStressor{Stressor: chaosv1alpha1.Stressor{Workers: 1}, Size: "256MB"}}},
	} {
		e := c.base(s.f, spof.Pod, selector(c.t, chaosv1alpha1.OneMode, ""))
		e.Hypothesis = c.keep + " while one pod runs " + s.text
		e.BlastRadius = "one pod"
		st := s.st
		e.NeedsDaemon, e.ChaosKind = true, chaosv1alpha1.TypeStressChaos
		e.Chaos = &chaosv1alpha1.EmbedChaos{StressChaos: &chaosv1alpha1.StressChaosSpec{
			ContainerSelector: chaosv1alpha1.ContainerSelector{PodSelector: e.Selector}, Stressors: &st, Duration: &dur,
		}}
		out = append(out, e)
	}
	e = c.base(DNSFailure, spof.Pod, selector(c.t, chaosv1alpha1.OneMode, ""))
	e.Hypothesis = c.keep + " while one pod's DNS lookups fail"
	e.BlastRadius = "DNS of one pod"
	e.NeedsDaemon, e.ChaosKind = true, chaosv1alpha1.TypeDNSChaos
	e.Chaos = &chaosv1alpha1.EmbedChaos{DNSChaos: &chaosv1alpha1.DNSChaosSpec{
		ContainerSelector: chaosv1alpha1.ContainerSelector{PodSelector: e.Selector}, Action: chaosv1alpha1.ErrorAction,
		DomainNamePatterns: []string{"*"}, Duration: &dur,
	}}
	return append(out, e)
}

// zoneLabel is the well-known zone label Chaos Mesh's nodeSelectors match
// (equality only: one experiment per zone).
const zoneLabel = "topology.kubernetes.io/zone"

// zoneOutage is every pod of the stack's application namespaces on nodes
// of one zone failing at once; its prediction is the worst zone verdict.
func zoneOutage(z string, rep *spof.Report, cfg Config) Experiment {
	dur := cfg.Duration
	sel := chaosv1alpha1.PodSelector{
		Selector: chaosv1alpha1.PodSelectorSpec{
			GenericSelectorSpec: chaosv1alpha1.GenericSelectorSpec{Namespaces: slices.Clone(cfg.Namespaces)},
			NodeSelectors:       map[string]string{zoneLabel: z},
		},
		Mode: chaosv1alpha1.AllMode,
	}
	e := Experiment{
		Name: name("zone-outage", z), Fault: ZoneOutage, Domain: spof.Zone, Component: "(every component)", Zone: z,
		Hypothesis:  "every component keeps serving while every pod of " + strings.Join(cfg.Namespaces, ", ") + " in zone " + z + " fails",
		BlastRadius: "all pods of the application namespaces on nodes of zone " + z,
		Predicted:   spof.Survives, Selector: sel, Executor: ChaosMesh, ChaosKind: chaosv1alpha1.TypePodChaos,
		Chaos: &chaosv1alpha1.EmbedChaos{PodChaos: &chaosv1alpha1.PodChaosSpec{
			ContainerSelector: chaosv1alpha1.ContainerSelector{PodSelector: sel}, Action: chaosv1alpha1.PodFailureAction, Duration: &dur,
		}},
	}
	for _, t := range rep.Targets {
		if !slices.Contains(cfg.Namespaces, t.Namespace) {
			continue
		}
		e.Targets = append(e.Targets, ref(t))
		if v := rep.Verdict(t.Namespace, t.Name, spof.Zone); rank(v) > rank(e.Predicted) {
			e.Predicted = v
		}
	}
	sort.Strings(e.Targets)
	return e
}

func rank(v spof.Verdict) int {
	return map[spof.Verdict]int{spof.Survives: 0, spof.Degraded: 1, spof.SPOF: 2}[v]
}

// schedulable decides whether the stack's Schedule runs an experiment: not
// one predicted to take a component down (fix it first), not one outside
// the namespaces the controller may inject into, not node loss (the
// runner's, not the controller's), not a route fault (an Istio
// VirtualService, which the controller cannot apply).
func schedulable(e Experiment, cfg Config) (bool, string) {
	switch {
	case e.Route != nil:
		return false, "run by `cloudscale chaos run`: Chaos Mesh cannot apply an Istio VirtualService"
	case e.Executor != ChaosMesh:
		return false, "node loss is run by `cloudscale chaos run`, not by the Chaos Mesh controller"
	case e.NeedsDaemon && !cfg.Daemon:
		return false, "needs chaos-daemon inside real containers, which this stack's cluster does not run"
	case e.Namespace != "" && !slices.Contains(cfg.Namespaces, e.Namespace):
		return false, "outside the application namespaces the controller injects into (" + strings.Join(cfg.Namespaces, ", ") + ")"
	case e.Predicted == spof.SPOF:
		return false, "predicted to take a component down: fix the finding of `cloudscale chaos spof` first"
	}
	return true, ""
}

// name is a DNS-1123 name from parts, at most 63 characters.
func name(parts ...string) string {
	s := strings.ToLower(strings.Join(parts, "-"))
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-")
}

func ptr[T any](v T) *T { return &v }

// dependencies maps each component to the components its NetworkPolicies
// admit egress to (pod selectors, in their own namespace or the one a
// namespace selector names by kubernetes.io/metadata.name).
func dependencies(g graph.Graph, targets []spof.Target) (map[string][]spof.Target, error) {
	out := map[string][]spof.Target{}
	for _, r := range g.Resources {
		if kube.Kind(r.Type) != "networking.k8s.io/NetworkPolicy" {
			continue
		}
		np, err := kube.Decode[networkingv1.NetworkPolicy](r.Inputs)
		if err != nil {
			return nil, fmt.Errorf("networking.k8s.io/NetworkPolicy %s: %w", r.Name, err)
		}
		ns := kube.Namespace(r.Inputs)
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || sel.Empty() {
			continue // a namespace-wide policy says nothing about one component
		}
		for _, src := range targets {
			if src.Namespace == ns && sel.Matches(labels.Set(src.PodLabels)) {
				out[ref(src)] = addTargets(out[ref(src)], src, egressTargets(np, targets))
			}
		}
	}
	// The graph's order is the order resources were registered in, which
	// Pulumi does not fix for resources registered concurrently: sorted,
	// a stack derives the same plan every time.
	for k := range out {
		slices.SortFunc(out[k], func(a, b spof.Target) int { return strings.Compare(ref(a), ref(b)) })
	}
	return out, nil
}

// egressTargets are the components a policy's egress rules admit.
func egressTargets(np networkingv1.NetworkPolicy, targets []spof.Target) []spof.Target {
	var out []spof.Target
	for _, rule := range np.Spec.Egress {
		for _, peer := range rule.To {
			out = append(out, peerTargets(peer, kubeNamespace(np.Namespace), targets)...)
		}
	}
	return out
}

// addTargets adds each of add to list once, never src itself.
func addTargets(list []spof.Target, src spof.Target, add []spof.Target) []spof.Target {
	for _, t := range add {
		if ref(t) != ref(src) && !slices.ContainsFunc(list, func(x spof.Target) bool { return ref(x) == ref(t) }) {
			list = append(list, t)
		}
	}
	return list
}

func kubeNamespace(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

func peerTargets(peer networkingv1.NetworkPolicyPeer, ns string, targets []spof.Target) []spof.Target {
	if peer.PodSelector == nil || len(peer.PodSelector.MatchLabels)+len(peer.PodSelector.MatchExpressions) == 0 {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
	if err != nil {
		return nil
	}
	want := ns
	if peer.NamespaceSelector != nil {
		want = peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
	}
	var out []spof.Target
	for _, t := range targets {
		if (want == "" || t.Namespace == want) && sel.Matches(labels.Set(t.PodLabels)) {
			out = append(out, t)
		}
	}
	return out
}
