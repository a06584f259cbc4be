package stacks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
	"github.com/cloudscale/platform/services/slogate/gate"
	"github.com/cloudscale/platform/stacks/mocks"
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

// ChaosPlan is the stack's failure-domain analysis and chaos catalogue,
// derived from the stack's own resource graph: its program evaluated
// in-process under the mocks the gates use (stacks/mocks), without the
// Schedule being derived. So the Schedule `pulumi up` installs is the one
// `cloudscale chaos plan --stack` shows. Results are kept per spec for
// the life of the process and shared by every caller: read them, never
// change them.
//
// The evaluation is a context of its own built from the spec alone
// (pulumi.NewContext with the mocks, no address, no config), so inside a
// real `pulumi up` it reads nothing from the engine's environment (its
// monitor, dry-run flag, config or tracing) and sends nothing to it.
func ChaosPlan(s spec.Spec) (graph.Graph, *spof.Report, *experiments.Plan, error) {
	key, err := json.Marshal(s)
	if err != nil {
		return graph.Graph{}, nil, nil, err
	}
	if v, ok := chaosPlans.Load(s.Stack + "\x00" + string(key)); ok {
		d := v.(derivedChaos)
		return d.graph, d.report, d.plan, nil
	}
	m := mocks.New(s)
	ctx, err := pulumi.NewContext(context.Background(), pulumi.RunInfo{Project: mocks.Project, Stack: s.Stack, Mocks: m, Config: map[string]string{}})
	if err != nil {
		return graph.Graph{}, nil, nil, err
	}
	defer func() { _ = ctx.Close() }()
	err = pulumi.RunWithContext(ctx, func(ctx *pulumi.Context) error {
		_, err := NewPlatform(ctx, s, Options{deriving: true})
		return err
	})
	if err != nil {
		return graph.Graph{}, nil, nil, fmt.Errorf("the stack's graph under mocks: %w", err)
	}
	g := m.Result().Graph
	rep, err := spof.Analyze(g, string(s.Environment), ChaosTopology(s))
	if err != nil {
		return graph.Graph{}, nil, nil, err
	}
	plan, err := experiments.New(g, rep, ChaosConfig(s))
	if err != nil {
		return graph.Graph{}, nil, nil, err
	}
	chaosPlans.Store(s.Stack+"\x00"+string(key), derivedChaos{g, rep, plan})
	return g, rep, plan, nil
}

var chaosPlans sync.Map

type derivedChaos struct {
	graph  graph.Graph
	report *spof.Report
	plan   *experiments.Plan
}

// GateConfig is the SLO gate's configuration for a stack: each component
// the experiments target in the application namespaces, with the
// Services that select its pods and the ready endpoints it needs (the
// analysis' Needed: one, or a majority for a quorum). A component no
// Service selects is left out: the gate cannot observe it, so a
// StatusCheck about it fails and its experiment aborts rather than pass.
func GateConfig(g graph.Graph, rep *spof.Report, namespaces []string) (gate.Config, error) {
	services := map[string][]corev1.Service{}
	for _, r := range g.Resources {
		if kube.Kind(r.Type) != "core/Service" {
			continue
		}
		svc, err := kube.Decode[corev1.Service](r.Inputs)
		if err != nil {
			return gate.Config{}, fmt.Errorf("%s: %w", r.URN, err)
		}
		ns := kube.Namespace(r.Inputs)
		services[ns] = append(services[ns], svc)
	}
	c := gate.Config{Components: map[string]gate.Component{}}
	for _, t := range rep.Targets {
		if t.Agent || len(t.PodLabels) == 0 || !slices.Contains(namespaces, t.Namespace) {
			continue
		}
		var names []string
		for _, svc := range services[t.Namespace] {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(t.PodLabels)) {
				names = append(names, svc.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		if old, dup := c.Components[t.Name]; dup {
			return gate.Config{}, fmt.Errorf("components %s/%s and %s/%s share a name the gate answers by", old.Namespace, t.Name, t.Namespace, t.Name)
		}
		sort.Strings(names)
		c.Components[t.Name] = gate.Component{Namespace: t.Namespace, Services: names, Needed: max(1, t.Needed)}
	}
	return c, nil
}

// deriveChaos gives the chaos tier the stack's Schedule and the gate's
// components, from ChaosPlan.
func (t *tierArgs) deriveChaos(s spec.Spec) error {
	g, rep, plan, err := ChaosPlan(s)
	if err != nil {
		return err
	}
	if t.chaos.Gate, err = GateConfig(g, rep, plan.Config.Namespaces); err != nil {
		return err
	}
	if sched := plan.Schedule(); sched != nil {
		t.chaos.Schedule = sched
	}
	return t.chaos.Validate()
}
