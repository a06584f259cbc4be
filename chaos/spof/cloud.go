package spof

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// The cloud tier is judged from the resources infra/aws, infra/azure and
// infra/gcp register, read as plain inputs (no cloud SDK): where a
// cluster's node pools can place nodes and how many they keep (pools.go),
// whether one zone's outage cuts another zone's egress (egress.go), and
// whether a storage class's disks pin a pod to a zone it did not choose
// (disks.go). Every cloud finding is about the zone domain, except the
// cluster's node floor (node domain). A graph with no cloud resources (the
// local stack, rendered YAML without a cloud disk class) gives none.

// cloudRule reads the graph and judges one part of the cloud tier.
type cloudRule func(g graph.Graph, x refs, env string, t Topology) []Finding

var cloudRules = []cloudRule{poolFindings, egressFindings, diskFindings}

// cloudFindings are the cloud tier's findings, and how many cloud
// components they judge.
func cloudFindings(g graph.Graph, env string, t Topology) ([]Finding, int) {
	x := newRefs(g)
	var out []Finding
	for _, rule := range cloudRules {
		out = append(out, rule(g, x, env, t)...)
	}
	seen := map[string]bool{}
	for _, f := range out {
		seen[f.Kind+"/"+f.Component] = true
	}
	return out, len(seen)
}

// cloudFinding is a finding on a cloud resource (or a part of one, an
// inline agent pool): component its logical name, kind its short type.
func cloudFinding(r graph.Resource, component string, d Domain, v Verdict, replicas, remaining, needed int, reason string) Finding {
	return Finding{
		Component: component, Kind: shortType(r.Type), Domain: d, Verdict: v,
		Replicas: replicas, Remaining: max(remaining, 0), Needed: needed, Reason: reason, URN: r.URN,
	}
}

// shortType is a type token's last part ("aws:eks/nodeGroup:NodeGroup"
// is "NodeGroup"); a Kubernetes object's is "<group>/<Kind>", as the
// workload findings name theirs.
func shortType(typ string) string {
	if k := kube.Kind(typ); k != "" {
		return k
	}
	return typ[strings.LastIndex(typ, ":")+1:]
}

// egressVerdict is the verdict on a zone's outage that cuts another
// zone's egress: a single point of failure where the gate is enforced
// (staging and prod, which infra/aws gives a NAT gateway per zone, as
// stacks.Deploy's NATPerZone: Environment.Production), an advisory
// degradation elsewhere (dev's single NAT gateway saves two gateways'
// hourly charge by design).
func egressVerdict(env string) Verdict {
	if Enforced(env) {
		return SPOF
	}
	return Degraded
}

// unknownID is the value Pulumi gives an output not known until apply
// (sdk/go/common/resource/plugin: UnknownStringValue), as a preview's
// inputs carry it.
const unknownID = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

// mockID is the id the stacks' Pulumi mocks give a resource:
// "<name>-<sequence>", four digits or more.
var mockID = regexp.MustCompile(`^(.+)-[0-9]{4,}$`)

// cloudNameKeys are the inputs that hold a resource's name in its cloud,
// the last segment of its path id (an ARM id ends in
// .../subnets/<subnetName>, a GCP self link in .../clusters/<name>).
var cloudNameKeys = []string{"name", "subnetName", "natGatewayName", "resourceName", "agentPoolName", "nodeGroupName"}

// refs resolves what one cloud resource's inputs say of another (an id in
// subnetIds, natGatewayId, cluster) to the resource of a type. The graph
// carries no ids, so a reference resolves when it is the resource's
// logical name, the id Pulumi mocks give it, its cloud name (an EKS node
// group's clusterName), or a path id whose last segment is its cloud name. Anything else (an id a real deployment
// assigned, an output unknown until apply) does not resolve, and the rules
// then say they cannot tell instead of guessing.
type refs struct {
	byType map[string][]graph.Resource
}

func newRefs(g graph.Graph) refs {
	x := refs{byType: map[string][]graph.Resource{}}
	for _, r := range g.Resources {
		x.byType[r.Type] = append(x.byType[r.Type], r)
	}
	return x
}

// find resolves ref to a resource of type typ.
func (x refs) find(typ, ref string) (graph.Resource, bool) {
	if ref == "" || ref == unknownID {
		return graph.Resource{}, false
	}
	name := ref
	if m := mockID.FindStringSubmatch(ref); m != nil {
		name = m[1]
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	for _, r := range x.byType[typ] {
		if r.Name == ref || r.Name == name {
			return r, true
		}
		for _, k := range cloudNameKeys {
			if s := r.String(k); s != "" && s == last {
				return r, true
			}
		}
	}
	return graph.Resource{}, false
}

// unresolved says why a reference does not resolve.
func unresolved(field, ref string) string {
	if ref == unknownID || ref == "" {
		return fmt.Sprintf("%s is not known until apply", field)
	}
	return fmt.Sprintf("%s %s is not a resource of this stack", field, ref)
}

// strs reads a list of strings at path.
func strs(r graph.Resource, path string) []string {
	v, _ := r.Get(path)
	return toStrings(v)
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, it := range list {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	if ss, ok := v.([]string); ok {
		out = append(out, ss...)
	}
	return out
}

// num reads a number at path.
func num(r graph.Resource, path string) (int, bool) {
	v, ok := r.Get(path)
	if !ok {
		return 0, false
	}
	n, ok := kube.Number(v)
	return int(n), ok
}

// set is a sorted set of names (zones).
type set map[string]bool

func setOf(names ...string) set {
	s := set{}
	for _, n := range names {
		if n != "" {
			s[n] = true
		}
	}
	return s
}

func (s set) add(o set) {
	for k := range o {
		s[k] = true
	}
}

func (s set) minus(o set) set {
	out := set{}
	for k := range s {
		if !o[k] {
			out[k] = true
		}
	}
	return out
}

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s set) String() string { return strings.Join(s.sorted(), ", ") }
