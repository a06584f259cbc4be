package spof

import "fmt"

// judge gives the component's verdict in every failure domain.
func (c *component) judge(t Topology) []Finding {
	if c.agent {
		var out []Finding
		for _, d := range []Domain{Pod, Node, Zone, Drain} {
			f := c.finding(d, Survives, 1, 1, "a DaemonSet runs one pod per node by design: a lost node takes only its own pod, and what it serves is that node")
			f.Replicas = 1
			out = append(out, f)
		}
		return out
	}
	out := []Finding{c.pod(), c.node(), c.zone(t), c.drain()}
	switch {
	case c.sentinel > 0:
		out = append(out, c.sentinelShape())
	case c.quorum:
		out = append(out, c.quorumShape())
	}
	return out
}

func (c *component) finding(d Domain, v Verdict, remaining, needed int, reason string) Finding {
	return Finding{
		Component: c.name, Kind: c.kind, Namespace: c.namespace, Domain: d, Verdict: v,
		Replicas: c.replicas, Remaining: max(remaining, 0), Needed: needed, Reason: reason, Services: c.services, URN: c.urn,
	}
}

// what names what the component needs: "1", "a majority of 3".
func (c *component) what() string {
	switch {
	case c.sentinel > 0:
		return fmt.Sprintf("the %d a Sentinel failover needs (%s: %d of %d sentinels agreeing the master is down, and a majority authorising it)", c.needed, c.sentinelRead, c.sentinel, c.replicas)
	case c.quorum:
		return fmt.Sprintf("the %d a majority of %d members needs", c.needed, c.replicas)
	case c.syncRequired && c.sync > 0:
		return fmt.Sprintf("the %d a primary and %d synchronous standby(s) need", c.needed, c.sync)
	}
	return fmt.Sprintf("the %d needed", c.needed)
}

// verdict is survives when remaining covers what the component needs;
// with asynchronous fallback (dataDurability: preferred) a cluster left
// without its synchronous standbys keeps serving, degraded.
func (c *component) verdict(remaining int) Verdict {
	switch {
	case remaining < c.needed:
		return SPOF
	case c.sync > 0 && !c.syncRequired && remaining < 1+c.sync:
		return Degraded
	}
	return Survives
}

func (c *component) pod() Finding {
	run := c.place.running
	rem := run - 1
	v := c.verdict(rem)
	switch {
	case c.bare:
		return c.finding(Pod, SPOF, 0, c.needed, "a bare Pod: nothing recreates it when it dies; run it under "+c.replicasField)
	case v == SPOF && c.replicas == 0:
		return c.finding(Pod, v, rem, c.needed, fmt.Sprintf("its autoscaler may scale it to zero: nothing serves then; set %s to 2 or more (3 in staging and prod)", c.replicasField))
	case v == SPOF && c.replicas <= 1:
		return c.finding(Pod, v, rem, c.needed, fmt.Sprintf("a single replica: losing its pod stops it; set %s to 2 or more (3 in staging and prod)", c.replicasField))
	case v == SPOF && c.sentinelBlocks(rem):
		return c.finding(Pod, v, rem, c.needed, fmt.Sprintf("a Sentinel quorum of %d over %d members: losing one (the master's, at worst) leaves %d, fewer than %s; %s", c.sentinel, c.replicas, rem, c.what(), c.sentinelFix()))
	case v == SPOF && c.quorum && run == c.replicas:
		return c.finding(Pod, v, rem, c.needed, fmt.Sprintf("%d members: losing one leaves %d, fewer than %s; set %s to an odd number of 3 or more", c.replicas, rem, c.what(), c.replicasField))
	case v == SPOF:
		return c.finding(Pod, v, rem, c.needed, fmt.Sprintf("%d of %d replicas can run (%s): losing one leaves %d, fewer than %s", run, c.replicas, c.place.nodeWhy, rem, c.what()))
	case v == Degraded:
		return c.finding(Pod, v, rem, c.needed, fmt.Sprintf("losing one of %d instances leaves %d: writes go on without a synchronous standby (dataDurability: preferred)", run, rem))
	}
	return c.finding(Pod, v, rem, c.needed, fmt.Sprintf("%d replicas: losing one leaves %d of %s", run, rem, c.what()))
}

func (c *component) node() Finding {
	if c.bare {
		return c.finding(Node, SPOF, 0, c.needed, "a bare Pod is not rescheduled when its node is lost; run it under "+c.replicasField)
	}
	return c.lose(Node, c.place.perNode, c.place.nodeWhy, "node", or(c.nodeFix, "add under "+c.shape.field+" a required podAntiAffinity on kubernetes.io/hostname or a DoNotSchedule topologySpreadConstraint"))
}

func (c *component) zone(t Topology) Finding {
	if t.Zones == 1 {
		return c.finding(Zone, SPOF, 0, c.needed, "the cluster has one zone: losing it loses everything; run the stack over 3 zones")
	}
	if c.bare {
		return c.finding(Zone, SPOF, 0, c.needed, "a bare Pod is not rescheduled when its zone is lost; run it under "+c.replicasField)
	}
	return c.lose(Zone, c.place.perZone, c.place.zoneWhy, "zone", or(c.zoneFix, "add under "+c.shape.field+" a topologySpreadConstraint on topology.kubernetes.io/zone with whenUnsatisfiable: DoNotSchedule (or a required podAntiAffinity on the zone)"))
}

// lose judges the loss of the largest share one node or zone can hold.
func (c *component) lose(d Domain, lost int, why, unit, fix string) Finding {
	run := c.place.running
	rem := run - lost
	v := c.verdict(rem)
	bound := fmt.Sprintf("one %s holds at most %d of %d replicas (%s)", unit, lost, run, why)
	if lost >= run && run > 0 {
		bound = fmt.Sprintf("one %s can hold all %d replicas: %s", unit, run, why)
	}
	switch {
	case v == SPOF && c.replicas <= 1:
		return c.finding(d, v, rem, c.needed, fmt.Sprintf("a single replica: losing its %s stops it; set %s to 2 or more (3 in staging and prod)", unit, c.replicasField))
	case v == SPOF && c.place.pin != "" && d == Zone:
		return c.finding(d, v, rem, c.needed, fmt.Sprintf("%s: losing that zone leaves %d, fewer than %s; allow every zone", c.place.pin, rem, c.what()))
	case v == SPOF && c.place.pin != "" && c.place.nodes == 1:
		return c.finding(d, v, rem, c.needed, fmt.Sprintf("%s, which has one node: losing it leaves %d, fewer than %s; allow every zone", c.place.pin, rem, c.what()))
	case v == SPOF && c.sentinelBlocks(rem):
		return c.finding(d, v, rem, c.needed, fmt.Sprintf("%s; losing it leaves %d, a majority but fewer than %s; %s", bound, rem, c.what(), c.sentinelFix()))
	case v == SPOF:
		if f := c.sentinelFix(); f != "" {
			fix += "; and " + f
		}
		return c.finding(d, v, rem, c.needed, fmt.Sprintf("%s; losing it leaves %d, fewer than %s; %s", bound, rem, c.what(), fix))
	case v == Degraded:
		return c.finding(d, v, rem, c.needed, fmt.Sprintf("%s; losing it leaves %d instances: writes go on without a synchronous standby (dataDurability: preferred)", bound, rem))
	}
	return c.finding(d, v, rem, c.needed, fmt.Sprintf("%s; losing it leaves %d of %s", bound, rem, c.what()))
}

// drain judges a voluntary drain of one zone: the eviction API takes at
// most what the budgets allow at once from the zone's share.
func (c *component) drain() Finding {
	if c.bare {
		return c.finding(Drain, SPOF, 0, c.needed, "a drain deletes a bare Pod and nothing recreates it; run it under "+c.replicasField)
	}
	run, share := c.place.running, c.place.perZone
	// An eviction must satisfy every budget: the user's and the one its
	// operator or chart writes.
	budget, name := c.budget, c.budgetName
	if o := c.operatorBudget; o != nil && (budget == nil || *o < *budget) {
		budget, name = o, c.operatorBudgetName()
	}
	if budget == nil {
		rem := run - share
		if v := c.verdict(rem); v != Survives {
			return c.finding(Drain, v, rem, c.needed, fmt.Sprintf("no PodDisruptionBudget: a drain evicts the %d replicas one zone can hold at once, leaving %d, fewer than %s; %s", share, rem, c.what(), c.unbudgetedFix(rem)))
		}
		if c.replicas > 1 {
			return c.finding(Drain, Degraded, rem, c.needed, fmt.Sprintf("no PodDisruptionBudget: nothing limits evictions, so draining several nodes at once can evict all %d replicas; add a PodDisruptionBudget with maxUnavailable: 1", run))
		}
		return c.finding(Drain, Survives, rem, c.needed, fmt.Sprintf("a drain evicts at most the %d replicas one zone holds, leaving %d of %s", share, rem, c.what()))
	}
	allowed := *budget
	if allowed == 0 {
		return c.finding(Drain, Degraded, run, c.needed, fmt.Sprintf("%s allows no disruption: draining a node that runs one of its pods blocks forever; allow one (maxUnavailable: 1) with 2 or more replicas", name))
	}
	lost := min(allowed, share)
	rem := run - lost
	if v := c.verdict(rem); v != Survives {
		return c.finding(Drain, v, rem, c.needed, fmt.Sprintf("%s allows %d disruptions at once and one zone holds %d: a drain leaves %d, fewer than %s; %s", name, allowed, share, rem, c.what(), c.budgetFix(rem)))
	}
	if c.place.drainStalls && share > allowed {
		return c.finding(Drain, Degraded, rem, c.needed, fmt.Sprintf("%s lets %d go at a time, but the zone spread still counts the drained zone's cordoned nodes (nodeTaintsPolicy: Ignore, the default), so replacements beyond the skew stay Pending and the budget stops the drain before the zone's %d pods are out; set nodeTaintsPolicy: Honor on the constraint", name, allowed, share))
	}
	if spare := run - c.needed; allowed > spare {
		return c.finding(Drain, Degraded, rem, c.needed, fmt.Sprintf("%s allows %d disruptions at once, more than the %d the component can lose: a drain of more than one zone's nodes can take it down; set maxUnavailable to %d", name, allowed, spare, max(spare, 1)))
	}
	return c.finding(Drain, Survives, rem, c.needed, fmt.Sprintf("%s lets %d go at a time: a drain leaves %d of %s", name, lost, rem, c.what()))
}

// unbudgetedFix is how to keep a drain without a budget from taking more
// than the component can lose: a budget and a spread, or a Sentinel quorum
// no higher than a majority when that is why rem falls short.
func (c *component) unbudgetedFix(rem int) string {
	const fix = "add a PodDisruptionBudget with maxUnavailable: 1"
	switch {
	case c.sentinelBlocks(rem):
		return c.sentinelFix() + ", and " + fix
	case c.sentinelFix() != "":
		return fix + " and spread the replicas; and " + c.sentinelFix()
	}
	return fix + " and spread the replicas"
}

// budgetFix is how to keep a budgeted drain from leaving rem, too few: a
// tighter budget, or a Sentinel quorum no higher than a majority when that
// is why rem falls short.
func (c *component) budgetFix(rem int) string {
	if c.sentinelBlocks(rem) {
		return c.sentinelFix()
	}
	return fmt.Sprintf("lower the budget to %d", max(c.place.running-c.needed, 1))
}

// quorumShape judges the member count of a consensus system: the members
// that can run (a required anti-affinity leaves the rest Pending).
func (c *component) quorumShape() Finding {
	m := c.place.running
	if m < c.replicas {
		tolerates := max(m-c.needed, 0)
		v := Degraded
		if tolerates == 0 {
			v = SPOF
		}
		return c.finding(Quorum, v, m, c.needed, fmt.Sprintf("only %d of %d members can run (%s): a majority of %d needs %d, so it tolerates %d failure(s); add domains or lower %s", m, c.replicas, c.place.nodeWhy, c.replicas, c.needed, tolerates, c.replicasField))
	}
	tolerates := (m - 1) / 2
	switch {
	case m < 3:
		return c.finding(Quorum, SPOF, m-1, c.needed, fmt.Sprintf("%d member(s) need %d for a majority: losing any one loses quorum; set %s to 3 (or 5)", m, c.needed, c.replicasField))
	case m%2 == 0:
		return c.finding(Quorum, Degraded, m-tolerates, c.needed, fmt.Sprintf("%d members tolerate %d failure(s), as %d would, and split evenly in a partition; set %s to an odd number", m, tolerates, m-1, c.replicasField))
	}
	return c.finding(Quorum, Survives, m-tolerates, c.needed, fmt.Sprintf("%d members keep a majority through %d failure(s)", m, tolerates))
}

func or(s, fallback string) string {
	if s != "" {
		return s
	}
	return fallback
}

// operatorBudgetName names the budget an operator or a chart writes.
func (c *component) operatorBudgetName() string {
	return or(c.operatorBudgetText, "its operator's disruption budgets")
}
