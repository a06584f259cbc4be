package stacks

import (
	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/stacks/spec"
)

// ChaosTopology is what the failure-domain analysis assumes of a stack's
// cluster: its zones and its node count (at least one node per zone).
func ChaosTopology(s spec.Spec) spof.Topology {
	t := spof.Topology{Zones: max(len(s.Zones), 1), Nodes: s.Cluster.NodeCount}
	t.Nodes = max(t.Nodes, t.Zones)
	return t
}

// ChaosConfig is how a stack runs its experiments: its chaos.* keys, its
// zones, its application namespaces (the ones the chaos controller may
// inject into), and chaos-daemon on clouds (the simulated cluster's pods
// have no containers for it to act in).
func ChaosConfig(s spec.Spec) experiments.Config {
	c := experiments.DefaultConfig(string(s.Environment), s.Zones, []string{s.Namespace, spec.IngressNamespace}, s.Cloud != spec.Local)
	c.Enabled, c.Schedule, c.BusinessHoursOnly, c.HistoryLimit = s.Chaos.Enabled, s.Chaos.Schedule, s.Chaos.BusinessHoursOnly, s.Chaos.HistoryLimit
	return c
}
