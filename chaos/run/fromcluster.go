package run

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/report"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph/kube"
)

// ClusterSource is what FromCluster needs of the stack: its analysis and
// plan (stacks.ChaosPlan), which name the experiments its Schedule runs.
type ClusterSource struct {
	Stack, Env, Source string
	Report             *spof.Report
	Plan               *experiments.Plan
}

// FromCluster reads the Workflows Chaos Mesh ran in the chaos namespace
// (those of the stack's Schedule and of runs), their WorkflowNodes, chaos
// objects and StatusCheck records, into a run record: one experiment per
// experiment node that finished. On a real cluster nothing watched the
// pods, so the verdict is the SLO gate's as the StatusChecks recorded it:
// an impact's Basis is report.BasisStatusChecks.
func FromCluster(ctx context.Context, c client.Client, src ClusterSource) (*report.Run, error) {
	run := &report.Run{Stack: src.Stack, Env: src.Env, Source: src.Source, Zones: slices.Clone(src.Plan.Config.Zones), Nodes: src.Report.Topology.Nodes}
	byName := map[string]experiments.Experiment{}
	for _, e := range src.Plan.Experiments {
		byName[e.Name] = e
	}
	for _, t := range src.Report.Targets {
		if t.Agent {
			continue
		}
		comp := report.Component{Name: t.Name, Namespace: t.Namespace, Kind: kube.KindName(t.Kind), Replicas: t.Replicas, Needed: max(t.Needed, 1),
			Weight: 1, Predicted: map[string]string{}}
		if slices.Contains(src.Plan.Config.Namespaces, t.Namespace) {
			comp.Weight = 2
		}
		for _, d := range []spof.Domain{spof.Pod, spof.Node, spof.Zone, spof.Drain} {
			comp.Predicted[string(d)] = string(src.Report.Verdict(t.Namespace, t.Name, d))
		}
		run.Components = append(run.Components, comp)
	}
	ns := client.InNamespace(experiments.Namespace)
	var wfs chaosv1alpha1.WorkflowList
	if err := c.List(ctx, &wfs, ns); err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	sort.Slice(wfs.Items, func(i, j int) bool { return wfs.Items[i].CreationTimestamp.Before(&wfs.Items[j].CreationTimestamp) })
	for _, w := range wfs.Items {
		sel := client.MatchingLabels{chaosv1alpha1.LabelWorkflow: w.Name}
		var nodes chaosv1alpha1.WorkflowNodeList
		if err := c.List(ctx, &nodes, ns, sel); err != nil {
			return nil, fmt.Errorf("list workflow nodes of %s: %w", w.Name, err)
		}
		var checks chaosv1alpha1.StatusCheckList
		if err := c.List(ctx, &checks, ns, sel); err != nil {
			return nil, fmt.Errorf("list status checks of %s: %w", w.Name, err)
		}
		var kills chaosv1alpha1.PodChaosList
		if err := c.List(ctx, &kills, ns, sel); err != nil {
			return nil, fmt.Errorf("list pod chaos of %s: %w", w.Name, err)
		}
		template := map[string]string{} // node name -> template name
		for _, n := range nodes.Items {
			template[n.Name] = n.Spec.TemplateName
		}
		for _, n := range nodes.Items {
			e, ok := byName[n.Spec.TemplateName]
			if !ok {
				continue // not an experiment's entry
			}
			finished, aborted := false, false
			for _, cond := range n.Status.Conditions {
				if cond.Status != corev1.ConditionTrue {
					continue
				}
				finished = finished || cond.Type == chaosv1alpha1.ConditionAccomplished || cond.Type == chaosv1alpha1.ConditionAborted
				aborted = aborted || cond.Type == chaosv1alpha1.ConditionAborted
			}
			if !finished {
				continue // still running: the next report has it
			}
			rec := report.Experiment{
				Name: e.Name + " (" + w.Name + ")", Fault: string(e.Fault), Domain: faultDomain(e), Executor: e.Executor, Zone: e.Zone,
				Status: report.Ran, Started: n.CreationTimestamp.UTC(), Aborted: aborted, FaultStarted: n.CreationTimestamp.UTC(),
			}
			if e.Namespace != "" {
				rec.Component = e.Namespace + "/" + e.Component
			}
			own := ownSteps(src.Plan, e)
			failed := 0
			for _, sc := range checks.Items {
				if !own(template[sc.Labels[chaosv1alpha1.LabelControlledBy]]) {
					continue
				}
				check := template[sc.Labels[chaosv1alpha1.LabelControlledBy]]
				for _, r := range sc.Status.Records {
					if r.StartTime == nil {
						continue
					}
					rec.StatusChecks = append(rec.StatusChecks, report.StatusCheckRecord{Check: check, Time: r.StartTime.UTC(), Outcome: string(r.Outcome)})
					if r.Outcome != chaosv1alpha1.StatusCheckOutcomeSuccess {
						failed++
					}
				}
			}
			sort.Slice(rec.StatusChecks, func(i, j int) bool { return rec.StatusChecks[i].Time.Before(rec.StatusChecks[j].Time) })
			// A WorkflowNode records no finish time: its last check is the
			// closest evidence of when it ended.
			rec.Finished = rec.Started
			if n := len(rec.StatusChecks); n > 0 {
				rec.Finished = rec.StatusChecks[n-1].Time
			}
			rec.FaultEnded = rec.Finished
			for _, k := range kills.Items {
				if !own(template[k.Labels[chaosv1alpha1.LabelControlledBy]]) {
					continue
				}
				for _, r := range k.Status.Experiment.Records {
					rec.Targets = append(rec.Targets, r.Id)
					rec.Injected += r.InjectedCount
				}
			}
			rec.Evidence = "the Workflow's StatusCheck records (the SLO gate's answers) and its chaos objects' records"
			if len(rec.Targets) == 0 {
				rec.Evidence += "; the chaos objects were already deleted by the controller, so the injected count is not known"
			}
			for _, comp := range run.Components {
				if rec.Component != "" && comp.Key() != rec.Component {
					continue
				}
				if rec.Component == "" && !slices.Contains(src.Plan.Config.Namespaces, comp.Namespace) {
					continue
				}
				im := report.Impact{Component: comp.Key(), Hit: max(rec.Injected, 1), Replicas: comp.Replicas, Needed: comp.Needed,
					MinReady: comp.Needed, RecoverySeconds: 0, Basis: report.BasisStatusChecks}
				if aborted || failed > 0 {
					im.MinReady, im.RecoverySeconds = 0, -1
				}
				rec.Impacts = append(rec.Impacts, im)
			}
			run.Experiments = append(run.Experiments, rec)
			if run.Started.IsZero() || rec.Started.Before(run.Started) {
				run.Started = rec.Started
			}
			if rec.Finished.After(run.Finished) {
				run.Finished = rec.Finished
			}
		}
	}
	if run.Started.IsZero() {
		run.Started = time.Now().UTC()
		run.Finished = run.Started
	}
	return run, nil
}

// ownSteps tells the templates of e's own steps: those its Workflow names
// besides its entry. A prefix alone would also take the steps of an
// experiment whose name extends e's, as etcd-pod-kill-all-but-quorum's
// extend etcd-pod-kill's in one Schedule; it is the fallback only for an
// experiment the plan makes no Workflow of.
func ownSteps(p *experiments.Plan, e experiments.Experiment) func(template string) bool {
	w, err := p.Workflow(e)
	if err != nil {
		return func(t string) bool { return strings.HasPrefix(t, e.Name+"-") }
	}
	steps := map[string]bool{}
	for _, t := range w.Spec.Templates {
		if t.Name != w.Spec.Entry {
			steps[t.Name] = true
		}
	}
	return func(t string) bool { return steps[t] }
}
