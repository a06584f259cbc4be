package spof

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cloudscale/platform/graph"
)

// Type tokens of the clusters and node pools the cloud tiers register.
const (
	eksCluster   = "aws:eks/cluster:Cluster"
	eksNodeGroup = "aws:eks/nodeGroup:NodeGroup"
	awsSubnet    = "aws:ec2/subnet:Subnet"
	gkeCluster   = "gcp:container/cluster:Cluster"
	gkeNodePool  = "gcp:container/nodePool:NodePool"
	aksCluster   = "azure-native:containerservice:ManagedCluster"
	aksAgentPool = "azure-native:containerservice:AgentPool"
)

// pool is where a cluster gets its nodes: an EKS managed node group, a
// GKE node pool or an AKS agent pool. Its zones are where it may place
// nodes, its floor the fewest nodes it keeps.
type pool struct {
	res graph.Resource
	// name and kind name it in findings (an AKS pool inline in its
	// cluster is "<cluster>/<pool>", kind AgentPool).
	name, kind string
	zones      set
	// unnamed counts zones the graph does not name (a regional GKE pool
	// without nodeLocations); unknown says why its zones cannot be read.
	unnamed int
	unknown string
	// floor is the fewest nodes it keeps, over all its zones or, with
	// perZone (GKE's nodeCount and autoscaling.minNodeCount), in each.
	floor   int
	perZone bool
	// balanced says the cloud spreads a total floor evenly over the zones
	// (and how that is documented); without it a total floor guarantees
	// no zone a node.
	balanced string
	// dedicated: a NoSchedule or NoExecute taint keeps general workloads
	// off it (AKS's CriticalAddonsOnly system pool).
	dedicated bool
	// zonesField and floorField name the fields to change.
	zonesField, floorField string
}

func (p *pool) zoneCount() int { return len(p.zones) + p.unnamed }

// perZoneFloor is the nodes it keeps in each of its zones.
func (p *pool) perZoneFloor() int {
	z := p.zoneCount()
	switch {
	case z == 0:
		return 0
	case p.perZone:
		return p.floor
	case z > 1 && p.balanced == "":
		return 0
	}
	return p.floor / z
}

// total is the fewest nodes it keeps in all.
func (p *pool) total() int {
	if p.perZone {
		return p.floor * p.zoneCount()
	}
	return p.floor
}

// neededFloor is the floor that keeps one node in each of its zones.
func (p *pool) neededFloor() int {
	if p.perZone {
		return 1
	}
	return max(p.zoneCount(), 1)
}

// cluster is a Kubernetes cluster of the cloud tier with its pools. zones
// are the stack's zones as its network names them; addZone says how to
// give a zone nodes, for reasons.
type cluster struct {
	res       graph.Resource
	zones     set
	pools     []*pool
	autopilot bool
	addZone   string
}

// clusterReaders read each cloud's clusters and pools.
var clusterReaders = []func(x refs) []*cluster{eksClusters, gkeClusters, aksClusters}

// poolFindings judge every cluster's pools (their zones and floors), the
// zones the cluster's nodes cover and its node floor.
func poolFindings(_ graph.Graph, x refs, _ string, t Topology) []Finding {
	var out []Finding
	for _, read := range clusterReaders {
		for _, c := range read(x) {
			for _, p := range c.pools {
				out = append(out, c.judgePool(p, t))
			}
			if c.res.Type != "" {
				out = append(out, c.coverage(t), c.nodeFloor(t))
			}
		}
	}
	return out
}

// attach gives p to the cluster ref names: the one it resolves to, the
// stack's only cluster, or (none known) a cluster with no resource, whose
// pools are judged among themselves.
func attach(x refs, clusters *[]*cluster, typ, ref string, p *pool) {
	r, ok := x.find(typ, ref)
	for _, c := range *clusters {
		if (ok && c.res.URN == r.URN) || (!ok && len(x.byType[typ]) == 1 && c.res.Type != "") {
			c.pools = append(c.pools, p)
			return
		}
	}
	for _, c := range *clusters {
		if c.res.Type == "" {
			c.pools = append(c.pools, p)
			return
		}
	}
	*clusters = append(*clusters, &cluster{pools: []*pool{p}, zones: set{}})
}

// eksClusters are the EKS clusters and their managed node groups. A node
// group places nodes in the Availability Zones of its subnetIds and keeps
// scalingConfig.minSize nodes over all of them, which EC2 Auto Scaling
// balances ("Amazon EC2 Auto Scaling attempts to distribute instances
// evenly between the Availability Zones that are enabled for your Auto
// Scaling group", EC2 Auto Scaling User Guide, Availability Zone
// balancing; EKS managed node groups are Auto Scaling groups). The stack's
// zones are those of the VPC's subnets.
func eksClusters(x refs) []*cluster {
	zones := set{}
	for _, s := range x.byType[awsSubnet] {
		zones.add(setOf(awsZone(s)))
	}
	var out []*cluster
	for _, r := range x.byType[eksCluster] {
		out = append(out, &cluster{res: r, zones: zones, addZone: "give each zone without nodes a node group (subnetIds a subnet there, scalingConfig.minSize 1 or more)"})
	}
	for _, r := range x.byType[eksNodeGroup] {
		p := &pool{res: r, name: r.Name, zones: set{}, zonesField: "subnetIds", floorField: "scalingConfig.minSize",
			balanced: "EC2 Auto Scaling balances a group's instances over its Availability Zones"}
		for _, id := range strs(r, "subnetIds") {
			s, ok := x.find(awsSubnet, id)
			if z := awsZone(s); ok && z != "" {
				p.zones[z] = true
			} else {
				p.unknown = or(p.unknown, unresolved("subnetIds", id))
			}
		}
		p.floor, _ = num(r, "scalingConfig.minSize")
		p.dedicated = tainted(r, "taints", "effect", "NO_SCHEDULE", "NO_EXECUTE")
		attach(x, &out, eksCluster, r.String("clusterName"), p)
	}
	return out
}

func awsZone(s graph.Resource) string {
	if z := s.String("availabilityZone"); z != "" {
		return z
	}
	return s.String("availabilityZoneId")
}

// tainted reports whether a list of taints at path holds one whose key
// field is one of effects.
func tainted(r graph.Resource, path, key string, effects ...string) bool {
	v, _ := r.Get(path)
	list, _ := v.([]any)
	for _, it := range list {
		m, _ := it.(map[string]any)
		e, _ := m[key].(string)
		for _, want := range effects {
			if strings.EqualFold(e, want) {
				return true
			}
		}
	}
	return false
}

// gcpZone is a GCP zone name ("us-central1-a"), as opposed to a region.
var gcpZone = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)

// gkeRegionalZones is how many zones GKE gives a regional cluster's node
// pools when nodeLocations is unset ("By default, GKE replicates each
// node pool across three zones of the control plane's region", GKE docs,
// Regional clusters).
const gkeRegionalZones = 3

// gkeClusters are the GKE clusters and their node pools. A pool places
// nodes in its nodeLocations, else its cluster's, else its location's
// zone (zonal) or three of its region's zones (regional). nodeCount and
// autoscaling.minNodeCount count per zone; autoscaling.totalMinNodeCount
// counts over all zones and is spread evenly only by the BALANCED
// location policy (GKE docs, Cluster autoscaler: location policy). An
// Autopilot cluster has no pools to judge: GKE provisions its nodes in the
// region's zones as pods need them. The default pool counts unless
// removeDefaultNodePool is set.
func gkeClusters(x refs) []*cluster {
	var out []*cluster
	for _, r := range x.byType[gkeCluster] {
		c := &cluster{res: r, zones: setOf(strs(r, "nodeLocations")...), addZone: "add each zone without nodes to the node pool's nodeLocations (of a regional cluster)"}
		loc := r.String("location")
		if len(c.zones) == 0 && gcpZone.MatchString(loc) {
			c.zones = setOf(loc)
		}
		autopilot, _ := r.Get("enableAutopilot")
		c.autopilot = autopilot == true
		if keep, _ := r.Get("removeDefaultNodePool"); keep != true && !c.autopilot {
			if n, ok := num(r, "initialNodeCount"); ok {
				p := &pool{res: r, name: r.Name + "/default-pool", kind: "NodePool", floor: n, perZone: true,
					zonesField: "nodeLocations", floorField: "initialNodeCount"}
				gkeZones(p, nil, r)
				c.pools = append(c.pools, p)
			}
		}
		out = append(out, c)
	}
	for _, r := range x.byType[gkeNodePool] {
		p := &pool{res: r, name: r.Name, zonesField: "nodeLocations"}
		cl, _ := x.find(gkeCluster, r.String("cluster"))
		gkeZones(p, &r, cl)
		gkeFloor(p, r)
		p.dedicated = tainted(r, "nodeConfig.taints", "effect", "NO_SCHEDULE", "NO_EXECUTE")
		attach(x, &out, gkeCluster, r.String("cluster"), p)
	}
	return out
}

// gkeZones sets a pool's zones from its nodeLocations (pool nil: the
// default pool), its cluster's, or the location.
func gkeZones(p *pool, r *graph.Resource, cl graph.Resource) {
	var locs []string
	loc := cl.String("location")
	if r != nil {
		locs = strs(*r, "nodeLocations")
		if l := r.String("location"); l != "" {
			loc = l
		}
	}
	if len(locs) == 0 {
		locs = strs(cl, "nodeLocations")
	}
	p.zones = setOf(locs...)
	switch {
	case len(p.zones) > 0:
	case gcpZone.MatchString(loc):
		p.zones = setOf(loc)
	case loc != "":
		p.unnamed = gkeRegionalZones
	default:
		p.unknown = "neither the pool nor its cluster gives nodeLocations or a location"
	}
}

func gkeFloor(p *pool, r graph.Resource) {
	if _, ok := r.Get("autoscaling"); ok {
		if n, ok := num(r, "autoscaling.totalMinNodeCount"); ok {
			p.floor, p.floorField = n, "autoscaling.totalMinNodeCount"
			if r.String("autoscaling.locationPolicy") != "ANY" {
				p.balanced = "the BALANCED location policy spreads the total over the zones"
			}
			return
		}
		p.floor, _ = num(r, "autoscaling.minNodeCount")
		p.perZone, p.floorField = true, "autoscaling.minNodeCount"
		return
	}
	p.perZone, p.floorField = true, "nodeCount"
	if n, ok := num(r, "nodeCount"); ok {
		p.floor = n
	} else if n, ok := num(r, "initialNodeCount"); ok {
		p.floor, p.floorField = n, "initialNodeCount"
	}
}

// aksClusters are the AKS clusters and their agent pools, inline
// (agentPoolProfiles) or separate (AgentPool resources). A pool places
// nodes in its availabilityZones, none meaning no zone at all (AKS docs,
// Availability zones: without zones the nodes have no zone guarantee), and
// keeps count nodes (default 1), or minCount with enableAutoScaling, over
// all of them, which AKS balances ("AKS automatically balances the number
// of nodes between zones", same page).
func aksClusters(x refs) []*cluster {
	var out []*cluster
	for _, r := range x.byType[aksCluster] {
		c := &cluster{res: r, zones: set{}, addZone: "add each zone without nodes to the pool's availabilityZones"}
		v, _ := r.Get("agentPoolProfiles")
		list, _ := v.([]any)
		for _, it := range list {
			m, _ := it.(map[string]any)
			name, _ := m["name"].(string)
			p := aksPool(graph.Resource{Type: r.Type, URN: r.URN, Inputs: m}, r.Name+"/"+name, fmt.Sprintf("the %s pool's ", name))
			c.pools = append(c.pools, p)
		}
		out = append(out, c)
	}
	for _, r := range x.byType[aksAgentPool] {
		attach(x, &out, aksCluster, r.String("resourceName"), aksPool(r, r.Name, ""))
	}
	for _, c := range out {
		for _, p := range c.pools {
			c.zones.add(p.zones)
		}
	}
	return out
}

func aksPool(r graph.Resource, name, field string) *pool {
	p := &pool{res: r, name: name, kind: "AgentPool", zones: setOf(strs(r, "availabilityZones")...),
		zonesField: field + "availabilityZones", floorField: field + "count", floor: 1,
		balanced: "AKS balances a pool's nodes between its zones"}
	if n, ok := num(r, "count"); ok {
		p.floor = n
	}
	if auto, _ := r.Get("enableAutoScaling"); auto == true {
		p.floor, _ = num(r, "minCount")
		p.floorField = field + "minCount"
	}
	for _, taint := range strs(r, "nodeTaints") {
		p.dedicated = p.dedicated || strings.HasSuffix(taint, ":NoSchedule") || strings.HasSuffix(taint, ":NoExecute")
	}
	return p
}

// coveredBy are the zones where pools keep a node, and how many unnamed
// zones they cover.
func coveredBy(pools []*pool) (set, int) {
	names, unnamed := set{}, 0
	for _, p := range pools {
		if p.unknown == "" && p.perZoneFloor() >= 1 {
			names.add(p.zones)
			unnamed = max(unnamed, p.unnamed)
		}
	}
	return names, unnamed
}

// general are the pools general workloads run on (every pool when all
// are dedicated).
func (c *cluster) general() []*pool {
	var out []*pool
	for _, p := range c.pools {
		if !p.dedicated {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return c.pools
	}
	return out
}

func (c *cluster) finding(p *pool, v Verdict, remaining, needed int, reason string) Finding {
	f := cloudFinding(p.res, p.name, Zone, v, p.total(), remaining, needed, reason)
	if p.kind != "" {
		f.Kind = p.kind
	}
	return f
}

// judgePool judges whether a pool's floor keeps a node in each of its
// zones (remaining: the zones it keeps a node in; needed: its zones).
func (c *cluster) judgePool(p *pool, t Topology) Finding {
	z, f := p.zoneCount(), p.perZoneFloor()
	switch {
	case p.unknown != "":
		return c.finding(p, Degraded, 0, 1, fmt.Sprintf("%s, so the analysis cannot tell which zones it places nodes in", p.unknown))
	case z == 1 && len(c.pools) == 1:
		return c.finding(p, SPOF, 0, 1, fmt.Sprintf("the cluster's only pool places every node in one zone (%s): losing it loses every node; set %s to the stack's %d zones (or add a pool per zone)", p.zones, p.zonesField, t.Zones))
	case f >= 1 && z == 1:
		return c.finding(p, Survives, 1, 1, fmt.Sprintf("%s %d keeps %d node(s) in its zone %s", p.floorField, p.floor, p.total(), p.zones))
	case f >= 1:
		return c.finding(p, Survives, z, z, fmt.Sprintf("%s %d keeps at least %d node(s) in each of its %d zones (%s)", p.floorField, p.floor, f, z, or(p.balancedWhy(), "counted per zone")))
	}
	return c.bare(p, t)
}

// bare judges a pool whose floor leaves some of its zones (or, with no
// zone, any zone) without a node: degraded when the cluster's other pools
// keep a node in each of them, a single point of failure otherwise.
func (c *cluster) bare(p *pool, t Topology) Finding {
	var others []*pool
	for _, q := range c.pools {
		if q != p {
			others = append(others, q)
		}
	}
	names, unnamed := coveredBy(others)
	atRisk, kept := p.zones, min(p.total(), p.zoneCount())
	if p.zoneCount() == 0 {
		atRisk = c.zones
	}
	gap := atRisk.minus(names)
	covered := len(gap) == 0 && p.unnamed <= unnamed && (p.zoneCount() > 0 || len(names)+unnamed >= t.Zones)
	var why string
	switch {
	case p.zoneCount() == 0:
		why = fmt.Sprintf("%s is empty: the nodes get no zone, so one zone's outage can take all of them", p.zonesField)
	case p.floor == 0:
		why = fmt.Sprintf("%s is 0: it may scale to no node in %s", p.floorField, p.zones)
	case p.balanced == "":
		why = fmt.Sprintf("%s %d counts over all %d zones and nothing balances it: a zone may keep no node", p.floorField, p.floor, p.zoneCount())
	default:
		why = fmt.Sprintf("%s %d over %d zones keeps a node in at most %d of them", p.floorField, p.floor, p.zoneCount(), kept)
	}
	fix := fmt.Sprintf("set %s to %d or more", p.floorField, p.neededFloor())
	if p.zoneCount() == 0 {
		fix = fmt.Sprintf("set %s to the stack's zones", p.zonesField)
	}
	if covered {
		return c.finding(p, Degraded, kept, p.zoneCount(), fmt.Sprintf("%s; the cluster's other pools keep a node in each of those zones, but this pool's own workloads lose theirs; %s", why, fix))
	}
	bareZones := "a zone"
	if len(gap) > 0 {
		bareZones = gap.String()
	}
	return c.finding(p, SPOF, kept, max(p.zoneCount(), 1), fmt.Sprintf("%s, and no other pool keeps a node in %s; %s", why, bareZones, fix))
}

func (p *pool) balancedWhy() string {
	if p.perZone {
		return p.floorField + " counts per zone"
	}
	return p.balanced
}

// coverage judges whether the cluster's general pools keep a node in
// every zone of the stack: the workload verdicts assume Topology.Zones
// zones with nodes. remaining is the zones with nodes after one is lost.
func (c *cluster) coverage(t Topology) Finding {
	names, unnamed := coveredBy(c.general())
	n := max(len(names), unnamed)
	needed := max(t.Zones-1, 1)
	f := func(v Verdict, reason string) Finding {
		return cloudFinding(c.res, c.res.Name, Zone, v, n, n-1, needed, reason)
	}
	unknown := ""
	for _, p := range c.pools {
		unknown = or(unknown, p.unknown)
	}
	switch {
	case c.autopilot:
		return f(Survives, "GKE Autopilot provisions nodes in the region's zones as pods need them")
	case len(c.pools) == 0:
		return f(Degraded, "the graph shows no node group, node pool or agent pool for this cluster (Karpenter, Fargate or self-managed nodes?): the analysis cannot tell which zones have nodes")
	case n >= t.Zones && t.Zones > 1:
		return f(Survives, fmt.Sprintf("its pools keep nodes in %d zones%s, every zone of the stack: losing one leaves %d with nodes", n, named(names), n-1))
	case unknown != "":
		return f(Degraded, fmt.Sprintf("its pools keep nodes in %d of the stack's %d zones that the graph shows, and %s", n, t.Zones, unknown))
	case t.Zones == 1:
		return f(SPOF, "the stack has one zone: losing it loses every node; run the stack over 3 zones")
	}
	missing := fmt.Sprintf("%d more zone(s)", t.Zones-n)
	if gap := c.zones.minus(names); len(gap) > 0 {
		missing = gap.String()
	}
	return f(SPOF, fmt.Sprintf("its pools keep nodes in %d of the stack's %d zones%s and none in %s, so a zone's outage leaves %d zone(s) with nodes where the workload verdicts assume %d; %s",
		n, t.Zones, named(names), missing, max(n-1, 0), t.Zones-1, c.addZone))
}

// nodeFloor judges the cluster's node floor against Topology.Nodes, the
// node count the workload verdicts assume (cluster.nodeCount).
func (c *cluster) nodeFloor(t Topology) Finding {
	total, fields := 0, set{}
	for _, p := range c.general() {
		total += p.total()
		fields[p.floorField] = true
	}
	needed := max(t.Nodes-1, 1)
	f := func(v Verdict, reason string) Finding {
		return cloudFinding(c.res, c.res.Name, Node, v, total, total-1, needed, reason)
	}
	switch {
	case c.autopilot:
		return f(Survives, "GKE Autopilot replaces a lost node as pods need one")
	case len(c.pools) == 0:
		return f(Degraded, "the graph shows no pool for this cluster: the analysis cannot tell how many nodes it keeps")
	case total <= 1:
		return f(SPOF, fmt.Sprintf("its pools keep %d node(s): losing one stops every pod; raise %s", total, fields))
	case total < t.Nodes:
		return f(Degraded, fmt.Sprintf("its pools keep %d nodes, fewer than the %d the workload verdicts assume (cluster.nodeCount); raise %s", total, t.Nodes, fields))
	}
	return f(Survives, fmt.Sprintf("its pools keep at least %d nodes (the workload verdicts assume %d): losing one leaves %d", total, t.Nodes, total-1))
}

// named is " (a, b)" for named zones, "" otherwise.
func named(s set) string {
	if len(s) == 0 {
		return ""
	}
	return " (" + s.String() + ")"
}
