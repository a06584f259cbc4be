package run

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/report"
)

// workflowOutcome is what a Workflow did, read from its nodes, its chaos
// objects and their StatusChecks while they existed.
type workflowOutcome struct {
	done, aborted bool
	targets       map[string]bool
	injected      map[string]int // per chaos object: the sum of its records' injectedCount
	checks        map[string]report.StatusCheckRecord
}

func newOutcome() *workflowOutcome {
	return &workflowOutcome{targets: map[string]bool{}, injected: map[string]int{}, checks: map[string]report.StatusCheckRecord{}}
}

// observe reads the Workflow's state once. Chaos objects are deleted by
// the controller when their node ends, so their records are kept as
// they are seen.
func (o *workflowOutcome) observe(ctx context.Context, c client.Client, wf string) error {
	sel := client.MatchingLabels{chaosv1alpha1.LabelWorkflow: wf}
	ns := client.InNamespace(experiments.Namespace)
	var w chaosv1alpha1.Workflow
	if err := c.Get(ctx, client.ObjectKey{Namespace: experiments.Namespace, Name: wf}, &w); err != nil {
		return err
	}
	for _, cond := range w.Status.Conditions {
		if cond.Type == chaosv1alpha1.WorkflowConditionAccomplished && cond.Status == corev1.ConditionTrue {
			o.done = true
		}
	}
	var nodes chaosv1alpha1.WorkflowNodeList
	if err := c.List(ctx, &nodes, ns, sel); err != nil {
		return err
	}
	// An aborted entry is the end: Chaos Mesh marks no Accomplished then.
	if o.readAborted(nodes.Items, w.Spec.Entry) {
		o.done = true
	}
	var kills chaosv1alpha1.PodChaosList
	if err := c.List(ctx, &kills, ns, sel); err != nil {
		return err
	}
	o.readKills(kills.Items)
	var checks chaosv1alpha1.StatusCheckList
	if err := c.List(ctx, &checks, ns, sel); err != nil {
		return err
	}
	o.readChecks(checks.Items)
	return nil
}

// readAborted notes an aborted node and reports whether the entry is.
func (o *workflowOutcome) readAborted(nodes []chaosv1alpha1.WorkflowNode, entry string) (entryAborted bool) {
	for _, n := range nodes {
		for _, cond := range n.Status.Conditions {
			if cond.Type == chaosv1alpha1.ConditionAborted && cond.Status == corev1.ConditionTrue {
				o.aborted = true
				entryAborted = entryAborted || n.Spec.TemplateName == entry
			}
		}
	}
	return entryAborted
}

// readKills keeps each chaos object's targets and the most it injected.
func (o *workflowOutcome) readKills(kills []chaosv1alpha1.PodChaos) {
	for _, k := range kills {
		n := 0
		for _, r := range k.Status.Experiment.Records {
			o.targets[r.Id] = true
			n += r.InjectedCount
		}
		if n > o.injected[k.Name] {
			o.injected[k.Name] = n
		}
	}
}

// readChecks keeps every StatusCheck record, once.
func (o *workflowOutcome) readChecks(checks []chaosv1alpha1.StatusCheck) {
	for _, sc := range checks {
		check := sc.Labels[chaosv1alpha1.LabelControlledBy]
		if check == "" {
			check = sc.Name
		}
		for _, r := range sc.Status.Records {
			if r.StartTime == nil {
				continue
			}
			key := check + "@" + r.StartTime.UTC().Format(time.RFC3339Nano)
			o.checks[key] = report.StatusCheckRecord{Check: check, Time: r.StartTime.UTC(), Outcome: string(r.Outcome)}
		}
	}
}

func (o *workflowOutcome) totalInjected() int {
	n := 0
	for _, v := range o.injected {
		n += v
	}
	return n
}

func (o *workflowOutcome) records() []report.StatusCheckRecord {
	var out []report.StatusCheckRecord
	for _, r := range o.checks {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Check < out[j].Check
	})
	return out
}

func (o *workflowOutcome) targetList() []string {
	var out []string
	for t := range o.targets {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// workflowName is a run's name for an experiment's Workflow: the prefix,
// the experiment, the run's ID, within the 63 characters of a label value
// (Chaos Mesh puts it in one).
func workflowName(experiment, runID string) string {
	suffix := "-" + runID
	room := 63 - len(WorkflowPrefix) - len(suffix)
	e := experiment
	if len(e) > room {
		e = strings.TrimRight(e[:room], "-")
	}
	return WorkflowPrefix + e + suffix
}

// workflowFor is the plan's Workflow for e, renamed and labelled as this
// run's.
func workflowFor(p *experiments.Plan, e experiments.Experiment, runID string) (*chaosv1alpha1.Workflow, error) {
	w, err := p.Workflow(e)
	if err != nil {
		return nil, err
	}
	w.Name = workflowName(e.Name, runID)
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[RunLabel] = runID
	return w, nil
}

// workflowTimeout bounds one Workflow: its checks, fault and recovery.
func workflowTimeout(cfg experiments.Config) time.Duration {
	d, _ := time.ParseDuration(cfg.Duration)
	r, _ := time.ParseDuration(cfg.Recovery)
	return 2*d + r + 3*time.Minute
}

func errIfNotDone(o *workflowOutcome, wf string, limit time.Duration) error {
	if o.done {
		return nil
	}
	return fmt.Errorf("workflow %s did not finish within %s", wf, limit)
}
