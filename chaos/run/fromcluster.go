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
	run := &report.Run{Stack: src.Stack, Env: src.Env, Source: src.Source, Zones: slices.Clone(src.Plan.Config.Zones), Nodes: src.Report.Topology.Nodes,
		Components: Components(src.Report, src.Plan.Config.Namespaces)}
	byName := map[string]experiments.Experiment{}
	for _, e := range src.Plan.Experiments {
		byName[e.Name] = e
	}
	var wfs chaosv1alpha1.WorkflowList
	if err := c.List(ctx, &wfs, client.InNamespace(experiments.Namespace)); err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	sort.Slice(wfs.Items, func(i, j int) bool { return wfs.Items[i].CreationTimestamp.Before(&wfs.Items[j].CreationTimestamp) })
	for _, w := range wfs.Items {
		objs, err := readWorkflow(ctx, c, w.Name)
		if err != nil {
			return nil, err
		}
		for _, n := range objs.nodes {
			e, ok := byName[n.Spec.TemplateName]
			if !ok {
				continue // not an experiment's entry
			}
			finished, aborted := nodeEnded(n)
			if !finished {
				continue // still running: the next report has it
			}
			rec := objs.record(w.Name, n, e, aborted, ownSteps(src.Plan, e))
			rec.Impacts = gateImpacts(run.Components, rec, src.Plan.Config.Namespaces)
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

// Components are the report's components for an analysis: each workload
// (not node agents) with its replicas, the quorum it needs, its weight (2
// in the application namespaces, the request path; 1 otherwise) and the
// analysis' verdict and reason per domain.
func Components(rep *spof.Report, appNamespaces []string) []report.Component {
	var out []report.Component
	for _, t := range rep.Targets {
		if t.Agent {
			continue
		}
		c := report.Component{
			Name: t.Name, Namespace: t.Namespace, Kind: kube.KindName(t.Kind), Replicas: t.Replicas, Needed: max(t.Needed, 1),
			Weight: 1, Predicted: map[string]string{}, Reasons: map[string]string{},
		}
		if slices.Contains(appNamespaces, t.Namespace) {
			c.Weight = 2
		}
		for _, d := range []spof.Domain{spof.Pod, spof.Node, spof.Zone, spof.Drain} {
			c.Predicted[string(d)] = string(rep.Verdict(t.Namespace, t.Name, d))
		}
		for _, f := range rep.Findings {
			if f.Namespace == t.Namespace && f.Component == t.Name && f.Verdict != spof.Survives {
				c.Reasons[string(f.Domain)] = f.Reason
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// workflowObjects are what Chaos Mesh made for one Workflow.
type workflowObjects struct {
	nodes    []chaosv1alpha1.WorkflowNode
	checks   []chaosv1alpha1.StatusCheck
	kills    []chaosv1alpha1.PodChaos
	template map[string]string // node name -> template name
}

func readWorkflow(ctx context.Context, c client.Client, wf string) (workflowObjects, error) {
	ns, sel := client.InNamespace(experiments.Namespace), client.MatchingLabels{chaosv1alpha1.LabelWorkflow: wf}
	var nodes chaosv1alpha1.WorkflowNodeList
	if err := c.List(ctx, &nodes, ns, sel); err != nil {
		return workflowObjects{}, fmt.Errorf("list workflow nodes of %s: %w", wf, err)
	}
	var checks chaosv1alpha1.StatusCheckList
	if err := c.List(ctx, &checks, ns, sel); err != nil {
		return workflowObjects{}, fmt.Errorf("list status checks of %s: %w", wf, err)
	}
	var kills chaosv1alpha1.PodChaosList
	if err := c.List(ctx, &kills, ns, sel); err != nil {
		return workflowObjects{}, fmt.Errorf("list pod chaos of %s: %w", wf, err)
	}
	o := workflowObjects{nodes: nodes.Items, checks: checks.Items, kills: kills.Items, template: map[string]string{}}
	for _, n := range nodes.Items {
		o.template[n.Name] = n.Spec.TemplateName
	}
	return o, nil
}

// nodeEnded reads a WorkflowNode's conditions: finished (accomplished
// or aborted) and aborted.
func nodeEnded(n chaosv1alpha1.WorkflowNode) (finished, aborted bool) {
	for _, cond := range n.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		finished = finished || cond.Type == chaosv1alpha1.ConditionAccomplished || cond.Type == chaosv1alpha1.ConditionAborted
		aborted = aborted || cond.Type == chaosv1alpha1.ConditionAborted
	}
	return finished, aborted
}

// record is one finished experiment node of workflow wf: its StatusCheck
// records and its chaos objects' records, those of its own steps.
func (o workflowObjects) record(wf string, n chaosv1alpha1.WorkflowNode, e experiments.Experiment, aborted bool, own func(string) bool) report.Experiment {
	rec := report.Experiment{
		Name: e.Name + " (" + wf + ")", Fault: string(e.Fault), Domain: faultDomain(e), Executor: e.Executor, Zone: e.Zone,
		Status: report.Ran, Started: n.CreationTimestamp.UTC(), Aborted: aborted, FaultStarted: n.CreationTimestamp.UTC(),
	}
	if e.Namespace != "" {
		rec.Component = e.Namespace + "/" + e.Component
	}
	for _, sc := range o.checks {
		check := o.template[sc.Labels[chaosv1alpha1.LabelControlledBy]]
		if !own(check) {
			continue
		}
		for _, r := range sc.Status.Records {
			if r.StartTime != nil {
				rec.StatusChecks = append(rec.StatusChecks, report.StatusCheckRecord{Check: check, Time: r.StartTime.UTC(), Outcome: string(r.Outcome)})
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
	for _, k := range o.kills {
		if !own(o.template[k.Labels[chaosv1alpha1.LabelControlledBy]]) {
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
	return rec
}

// gateImpacts judge the components an experiment concerns by its
// StatusChecks alone (report.BasisStatusChecks): held when none failed
// and the workflow was not aborted.
func gateImpacts(comps []report.Component, rec report.Experiment, appNamespaces []string) []report.Impact {
	failed := 0
	for _, r := range rec.StatusChecks {
		if r.Outcome != string(chaosv1alpha1.StatusCheckOutcomeSuccess) {
			failed++
		}
	}
	var out []report.Impact
	for _, comp := range comps {
		if rec.Component != "" && comp.Key() != rec.Component {
			continue
		}
		if rec.Component == "" && !slices.Contains(appNamespaces, comp.Namespace) {
			continue
		}
		im := report.Impact{Component: comp.Key(), Hit: max(rec.Injected, 1), Replicas: comp.Replicas, Needed: comp.Needed,
			MinReady: comp.Needed, RecoverySeconds: 0, Basis: report.BasisStatusChecks}
		if rec.Aborted || failed > 0 {
			im.MinReady, im.RecoverySeconds = 0, -1
		}
		out = append(out, im)
	}
	return out
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
