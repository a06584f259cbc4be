package experiments

import (
	"fmt"
	"slices"
	"strings"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// gvk of every object here (the chaos-mesh API's group version).
var typeMeta = func(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: chaosv1alpha1.SchemeGroupVersion.String(), Kind: kind}
}

// ScheduleName is the stack's Schedule.
const ScheduleName = "cloudscale-resilience"

// StatusCheck asks the SLO gate about a component: 200 while its steady
// state holds. A Synchronous check passes once it succeeds; a Continuous
// one runs beside the fault. Every check aborts the workflow (and
// recovers the fault) after three failures in a row: without
// abortWithStatusCheck Chaos Mesh marks a failed check finished and goes
// on, so a failed "before" would still inject the fault.
func (c Config) statusCheck(name, component string, mode chaosv1alpha1.StatusCheckMode, deadline string) chaosv1alpha1.Template {
	return chaosv1alpha1.Template{
		Name: name, Type: chaosv1alpha1.TypeStatusCheck, Deadline: &deadline,
		AbortWithStatusCheck: true,
		StatusCheck: &chaosv1alpha1.StatusCheckSpec{
			Mode: mode, Type: chaosv1alpha1.TypeHTTP, IntervalSeconds: 5, TimeoutSeconds: 2,
			FailureThreshold: 3, SuccessThreshold: 1, RecordsHistoryLimit: 20,
			EmbedStatusCheck: &chaosv1alpha1.EmbedStatusCheck{HTTPStatusCheck: &chaosv1alpha1.HTTPStatusCheck{
				RequestUrl: c.SLOGate + "/slo/" + component, RequestMethod: chaosv1alpha1.MethodGet,
				Criteria: chaosv1alpha1.HTTPCriteria{StatusCode: "200"},
			}},
		},
	}
}

// templates are one experiment as workflow steps, named after it: the
// steady state checked, the fault injected beside a continuous check that
// aborts on a breach, a pause to recover, the steady state checked again.
// The first template is the experiment's entry (a Serial node).
func (c Config) templates(e Experiment) []chaosv1alpha1.Template {
	check := e.Component
	if e.Namespace == "" {
		check = "platform" // a stack-wide experiment asks about every component
	}
	n := func(step string) string { return name(e.Name, step) }
	faultDeadline := c.Duration
	fault := chaosv1alpha1.Template{Name: n("fault"), Type: e.ChaosKind, Deadline: &faultDeadline, EmbedChaos: withoutDuration(e.Chaos)}
	if e.ChaosKind == chaosv1alpha1.TypePodChaos && e.Chaos.PodChaos.Action == chaosv1alpha1.PodKillAction {
		fault.Deadline = ptr("30s") // a one-shot kill: the deadline only bounds the node
	}
	recover := c.Recovery
	return []chaosv1alpha1.Template{
		{Name: e.Name, Type: chaosv1alpha1.TypeSerial, Children: []string{n("before"), n("under-fault"), n("recover"), n("after")}},
		c.statusCheck(n("before"), check, chaosv1alpha1.StatusCheckSynchronous, "1m"),
		{Name: n("under-fault"), Type: chaosv1alpha1.TypeParallel, Children: []string{n("fault"), n("during")}},
		fault,
		c.statusCheck(n("during"), check, chaosv1alpha1.StatusCheckContinuous, c.Duration),
		{Name: n("recover"), Type: chaosv1alpha1.TypeSuspend, Deadline: &recover},
		c.statusCheck(n("after"), check, chaosv1alpha1.StatusCheckSynchronous, "2m"),
	}
}

// Workflow is one experiment as a Chaos Mesh Workflow, for a run on
// demand (`cloudscale chaos run --experiment`). Node loss has none.
func (p *Plan) Workflow(e Experiment) (*chaosv1alpha1.Workflow, error) {
	if e.Chaos == nil {
		return nil, fmt.Errorf("experiment %s: %s is run by %s, not by a Workflow", e.Name, e.Fault, e.Executor)
	}
	if e.Namespace != "" && !slices.Contains(p.Config.Namespaces, e.Namespace) {
		return nil, fmt.Errorf("experiment %s: %s is outside the application namespaces the controller injects into (%s)", e.Name, e.Namespace, strings.Join(p.Config.Namespaces, ", "))
	}
	return &chaosv1alpha1.Workflow{
		TypeMeta:   typeMeta(chaosv1alpha1.KindWorkflow),
		ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: Namespace, Labels: objectLabels(e)},
		Spec:       chaosv1alpha1.WorkflowSpec{Entry: e.Name, Templates: p.Config.templates(e)},
	}, nil
}

func objectLabels(e Experiment) map[string]string {
	l := map[string]string{"app.kubernetes.io/part-of": "cloudscale", "chaos.cloudscale.io/fault": string(e.Fault), "chaos.cloudscale.io/domain": string(e.Domain)}
	if e.Namespace != "" {
		l["chaos.cloudscale.io/component"] = name(e.Component)
	}
	return l
}

// Schedule is the stack's Schedule: every scheduled experiment, one after
// another, in one Workflow (a breach aborts the rest), at Config.Schedule,
// never two runs at once, keeping HistoryLimit runs. It is nil when the
// stack's chaos is disabled or nothing is scheduled.
func (p *Plan) Schedule() *chaosv1alpha1.Schedule {
	if !p.Config.Enabled {
		return nil
	}
	entry := chaosv1alpha1.Template{Name: "resilience", Type: chaosv1alpha1.TypeSerial}
	templates := []chaosv1alpha1.Template{}
	for _, e := range p.Experiments {
		if !e.Scheduled {
			continue
		}
		entry.Children = append(entry.Children, e.Name)
		templates = append(templates, p.Config.templates(e)...)
	}
	if len(entry.Children) == 0 {
		return nil
	}
	return &chaosv1alpha1.Schedule{
		TypeMeta:   typeMeta(chaosv1alpha1.KindSchedule),
		ObjectMeta: metav1.ObjectMeta{Name: ScheduleName, Namespace: Namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}},
		Spec: chaosv1alpha1.ScheduleSpec{
			Schedule: p.Config.Schedule, ConcurrencyPolicy: chaosv1alpha1.ForbidConcurrent, HistoryLimit: p.Config.HistoryLimit,
			Type: chaosv1alpha1.ScheduleTypeWorkflow,
			ScheduleItem: chaosv1alpha1.ScheduleItem{Workflow: &chaosv1alpha1.WorkflowSpec{
				Entry: entry.Name, Templates: append([]chaosv1alpha1.Template{entry}, templates...),
			}},
		},
	}
}

// withoutDuration is a copy of a chaos spec for a workflow, where the
// template's deadline bounds the fault and a duration is refused (Chaos
// Mesh's workflow webhook).
func withoutDuration(c *chaosv1alpha1.EmbedChaos) *chaosv1alpha1.EmbedChaos {
	out := c.DeepCopy()
	switch {
	case out.PodChaos != nil:
		out.PodChaos.Duration = nil
	case out.NetworkChaos != nil:
		out.NetworkChaos.Duration = nil
	case out.StressChaos != nil:
		out.StressChaos.Duration = nil
	case out.DNSChaos != nil:
		out.DNSChaos.Duration = nil
	}
	return out
}
