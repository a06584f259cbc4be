// Package spof is the static half of CloudScale's resilience proof: for
// every component of a stack (a workload, an operator's cluster, a Helm
// release the platform sets values for, the cloud tier's node pools) and
// every failure domain (one pod, one node, one zone, a voluntary drain of
// one zone, the quorum itself), it decides whether the component keeps
// serving, from what the objects guarantee and never from luck: a
// preferred anti-affinity or a ScheduleAnyway spread guarantees nothing, a
// required one or DoNotSchedule does.
//
// It reads the normalised resource graph (graph.Graph) like the policy
// engine, imports no cloud SDK and no Pulumi SDK, and reads objects as
// their API types (k8s.io/api, the operators' API modules).
package spof

import (
	"fmt"
	"sort"
	"time"

	"github.com/cloudscale/platform/graph"
)

// Domain is a failure domain: what is lost at once.
type Domain string

// The failure domains, smallest first.
const (
	// Pod is one pod killed (a crash, an OOM kill, a pod-kill experiment).
	Pod Domain = "pod"
	// Node is every pod on one node (a node crash, a spot reclaim).
	Node Domain = "node"
	// Zone is every pod in one zone (a zone outage).
	Zone Domain = "zone"
	// Drain is a voluntary drain of one zone's nodes through the eviction
	// API, which honours PodDisruptionBudgets.
	Drain Domain = "drain"
	// Quorum is the shape of a consensus system itself: its member count.
	Quorum Domain = "quorum"
)

// Domains are every failure domain, in report order.
var Domains = []Domain{Pod, Node, Zone, Drain, Quorum}

// Verdict is what happens to a component when a domain is lost.
type Verdict string

// Verdicts.
const (
	// Survives: the component keeps serving with what remains.
	Survives Verdict = "survives"
	// Degraded: it keeps serving but loses a guarantee (writes fall back
	// to asynchronous replication, a drain cannot finish, a budget lets more
	// go than the component can lose, an even quorum adds no tolerance).
	Degraded Verdict = "degraded"
	// SPOF: it stops serving: the domain is a single point of failure.
	SPOF Verdict = "spof"
)

// Finding is the verdict for one component and one failure domain.
type Finding struct {
	// Component is the component's name; Kind its "<group>/<Kind>" (or
	// "helm.sh/Release"). A cloud resource's Component is its logical
	// name ("<cluster>/<pool>" for a pool inline in its cluster) and its
	// Kind the last part of its type token ("NodeGroup", "RouteTable").
	Component string  `json:"component"`
	Kind      string  `json:"kind"`
	Namespace string  `json:"namespace,omitempty"`
	Domain    Domain  `json:"domain"`
	Verdict   Verdict `json:"verdict"`
	// Replicas is the component's replica floor (an autoscaler's floor when
	// one owns it); Remaining what the worst case of the domain leaves;
	// Needed what the component needs to keep serving (1, or a majority of
	// a quorum, or a primary and its synchronous standbys).
	Replicas  int `json:"replicas"`
	Remaining int `json:"remaining"`
	Needed    int `json:"needed"`
	// Reason is one sentence that names the field to change.
	Reason string `json:"reason"`
	// Services are the Services whose selector matches the component's
	// pods ("<namespace>/<name>"): what goes dark with it.
	Services []string `json:"services,omitempty"`
	URN      string   `json:"urn,omitempty"`
}

// Topology is what the analysis assumes of the cluster: its zones and its
// smallest node count (nodes only grow above it, and more nodes only
// lower what one node can hold under a spread constraint).
type Topology struct {
	Zones int `json:"zones"`
	Nodes int `json:"nodes"`
}

// DefaultTopology is assumed for manifests: the guide's minimum
// production cluster (3 zones, one node each).
var DefaultTopology = Topology{Zones: 3, Nodes: 3}

// Validate refuses a topology with no zone or fewer nodes than zones.
func (t Topology) Validate() error {
	switch {
	case t.Zones < 1:
		return fmt.Errorf("zones %d: want 1 or more", t.Zones)
	case t.Nodes < t.Zones:
		return fmt.Errorf("nodes %d: want at least one per zone (%d zones)", t.Nodes, t.Zones)
	}
	return nil
}

// Report is the analysis of one graph.
type Report struct {
	Source     string   `json:"source"`
	Env        string   `json:"env"`
	Topology   Topology `json:"topology"`
	Components int      `json:"components"`
	// Cloud counts the cloud resources judged (node pools, clusters,
	// route tables, NAT gateways, disk storage classes), apart from
	// Components, the workloads.
	Cloud    int           `json:"cloud"`
	Findings []Finding     `json:"findings"`
	Duration time.Duration `json:"-"`
	// Targets are the components as the chaos planner selects them.
	Targets []Target `json:"-"`
}

// Target is a component as an experiment selects it: the labels its pods
// carry (a subset that selects exactly its pods), its replica floor, and
// what it needs to keep serving.
type Target struct {
	Name, Kind, Namespace, URN string
	PodLabels                  map[string]string
	// Running is how many replicas can be scheduled at all (a required
	// anti-affinity leaves the rest Pending).
	Replicas, Running, Needed int
	Quorum                    bool
	// Agent marks a DaemonSet (one pod per node).
	Agent bool
}

// Verdict is the verdict of a component (by namespace and name) in a
// domain, or "" when the report has none.
func (r *Report) Verdict(namespace, name string, d Domain) Verdict {
	for _, f := range r.Findings {
		if f.Namespace == namespace && f.Component == name && f.Domain == d {
			return f.Verdict
		}
	}
	return ""
}

// Count is how many findings have verdict v.
func (r *Report) Count(v Verdict) int {
	n := 0
	for _, f := range r.Findings {
		if f.Verdict == v {
			n++
		}
	}
	return n
}

// Failing are the findings that fail the gate (verdict spof).
func (r *Report) Failing() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Verdict == SPOF {
			out = append(out, f)
		}
	}
	return out
}

// Analyze judges every component of g in every failure domain, assuming
// topology t, and the cloud tier's node pools, egress and disk classes in
// the domains they fail in (cloud.go). env is carried into the report
// (the gate's enforcement reads it, and a NAT gateway shared across zones
// is a single point of failure only where it is enforced). An error
// names the object that does not decode as its API type.
func Analyze(g graph.Graph, env string, t Topology) (*Report, error) {
	start := time.Now()
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	comps, err := components(g, t)
	if err != nil {
		return nil, err
	}
	cloud, judged := cloudFindings(g, env, t)
	rep := &Report{Source: g.Source, Env: env, Topology: t, Components: len(comps), Cloud: judged, Findings: cloud}
	for _, c := range comps {
		rep.Findings = append(rep.Findings, c.judge(t)...)
		rep.Targets = append(rep.Targets, Target{
			Name: c.name, Kind: c.kind, Namespace: c.namespace, URN: c.urn, PodLabels: c.shape.labels,
			Replicas: c.replicas, Running: c.place.running, Needed: c.needed, Quorum: c.quorum, Agent: c.agent,
		})
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Component != b.Component {
			return a.Component < b.Component
		}
		return a.Kind < b.Kind
	})
	rep.Duration = time.Since(start)
	return rep, nil
}
