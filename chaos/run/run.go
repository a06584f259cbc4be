// Package run executes chaos experiments on a live cluster, one at a
// time, and records what happened as a report.Run: the fault's targets
// and the count it really hit, each component's fewest ready replicas
// during the fault against the quorum it needs, the time back to full
// strength, the SLO gate's answers before, during and after, and the
// StatusCheck records of Chaos Mesh's Workflows.
//
// Faults, and who drives them:
//   - pod kill: a Chaos Mesh Workflow (steady-state checks around a
//     PodChaos) executed by the real chaos-controller-manager;
//   - node loss and zone outage: the run stops the simulated nodes'
//     kubelets (kwok), and the real node lifecycle controller, scheduler
//     and workload controllers do the rest;
//   - zone drain: cordon, then the Eviction API for every pod on the
//     zone's nodes, honouring PodDisruptionBudgets;
//   - faults chaos-daemon injects inside containers (container kill,
//     network, stress, DNS) and the mesh's route faults are recorded as
//     not run, with why: nothing here can act in a simulated pod.
//
// Everything it talks to goes through the API server, or the SLO gate it
// serves itself on 127.0.0.1: never to a simulated pod's or node's
// address. Everything it changes is marked, and undone by Cleanup.
package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/report"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/services/slogate/gate"
)

// Domains a run can be limited to (--domain).
var Domains = []string{"pod", "node", "zone", "drain", "container", "network", "stress", "dns", "quorum", "route"}

// Options configure a run.
type Options struct {
	Kube   kubernetes.Interface
	Client client.Client
	// Stack, Env and Source describe the run in its record.
	Stack, Env, Source string
	Topology           spof.Topology
	// Namespaces are watched: their workloads are the components.
	Namespaces []string
	// Config is the stack's chaos configuration (zones, the application
	// namespaces the controller injects into); the run sets its SLO gate
	// URL and shortens its durations to WorkflowDuration/WorkflowRecovery.
	Config experiments.Config
	// GateConfig makes the SLO gate's configuration from what Discover
	// found (stacks.GateConfig).
	GateConfig func(graph.Graph, *spof.Report) (gate.Config, error)
	// Experiment, Domains and Zones select what runs (empty: everything).
	Experiment string
	Domains    []string
	Zones      []string
	// FaultDuration is how long a node, zone or drain fault is held
	// (default 30 s: long enough for the shortened eviction timeouts to
	// act). WorkflowDuration and WorkflowRecovery are a Workflow's fault
	// and pause (default 20 s and 5 s).
	FaultDuration                      time.Duration
	WorkflowDuration, WorkflowRecovery string
	// RecoveryLimit bounds the wait for full strength, before a fault and
	// after it (default 2 min).
	RecoveryLimit time.Duration
	// ID names the run (default: random); Dir is where run.json goes,
	// rewritten after every experiment.
	ID, Dir string
	// Progress receives a line per step.
	Progress io.Writer
}

func (o *Options) defaults() {
	if o.FaultDuration == 0 {
		o.FaultDuration = 30 * time.Second
	}
	if o.WorkflowDuration == "" {
		o.WorkflowDuration = "20s"
	}
	if o.WorkflowRecovery == "" {
		o.WorkflowRecovery = "5s"
	}
	if o.RecoveryLimit == 0 {
		o.RecoveryLimit = 2 * time.Minute
	}
	if o.ID == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.ID = hex.EncodeToString(b)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// step is one experiment to run, or to record as not run.
type step struct {
	rec  report.Experiment
	plan *experiments.Experiment
	// nodes lost or drained (node, zone and drain steps)
	zone string
}

// Runner holds one run's state.
type Runner struct {
	o       Options
	run     *report.Run
	plan    *experiments.Plan
	track   *tracker
	gate    *gate.Gate
	targets map[string]spof.Target
}

func (r *Runner) say(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, format+"\n", args...)
}

// Select lists the experiments o selects, in the order they would run,
// after discovering the cluster (no fault is injected): the names a user
// gives to --experiment.
func Select(ctx context.Context, o Options) ([]report.Experiment, error) {
	o.defaults()
	r, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	steps, err := r.steps()
	if err != nil {
		return nil, err
	}
	var out []report.Experiment
	for _, s := range steps {
		out = append(out, s.rec)
	}
	return out, nil
}

func prepare(ctx context.Context, o Options) (*Runner, error) {
	g, rep, err := Discover(ctx, o.Kube, o.Namespaces, o.Env, o.Topology)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	cfg := o.Config
	cfg.Duration, cfg.Recovery = o.WorkflowDuration, o.WorkflowRecovery
	plan, err := experiments.New(g, rep, cfg)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	r := &Runner{o: o, plan: plan, targets: map[string]spof.Target{}}
	r.run = &report.Run{Stack: o.Stack, Env: o.Env, Source: o.Source, Zones: slices.Clone(cfg.Zones), Nodes: o.Topology.Nodes, Started: time.Now().UTC()}
	r.run.Components = Components(rep, cfg.Namespaces)
	podLabels := map[string]map[string]string{}
	for _, t := range rep.Targets {
		key := t.Namespace + "/" + t.Name
		r.targets[key] = t
		podLabels[key] = t.PodLabels
	}
	r.track = newTracker(r.run.Components, podLabels)
	for _, w := range r.track.comps {
		if t := r.targets[w.c.Key()]; t.Running > 0 && t.Running < t.Replicas {
			w.full = t.Running // a required anti-affinity leaves the rest Pending
		}
	}
	if o.GateConfig != nil {
		gc, err := o.GateConfig(g, rep)
		if err != nil {
			return nil, fmt.Errorf("SLO gate: %w", err)
		}
		r.gate = &gate.Gate{Config: gc, Kubernetes: o.Kube, Timeout: 3 * time.Second}
	}
	return r, nil
}

// notRunDaemon is why faults inside containers do not run here.
const notRunDaemon = "not run here: needs a node agent (chaos-daemon acts inside real containers; the simulated pods have none)"

// faultDomain places the plan's faults in the report's domains.
func faultDomain(e experiments.Experiment) string {
	switch e.Fault {
	case experiments.NetworkDelay, experiments.NetworkPartition:
		return "network"
	case experiments.CPUStress, experiments.MemoryStress:
		return "stress"
	case experiments.DNSFailure:
		return "dns"
	}
	if e.Route != nil {
		return "route"
	}
	return string(e.Domain)
}

// steps are every experiment of the run, selected by the options, in the
// order pod, quorum, node, zone, drain, then what is not run.
func (r *Runner) steps() ([]step, error) {
	var runnable, notRun []step
	zones := r.plan.Config.Zones
	for i := range r.plan.Experiments {
		e := r.plan.Experiments[i]
		rec := report.Experiment{Name: e.Name, Fault: string(e.Fault), Domain: faultDomain(e), Executor: e.Executor, Zone: e.Zone}
		if e.Namespace != "" {
			rec.Component = e.Namespace + "/" + e.Component
		}
		switch {
		case e.Route != nil:
			rec.Status, rec.NotRunReason = report.NotRun, "not run here: a route fault needs the mesh's data plane serving traffic; the simulated pods run no proxy"
			notRun = append(notRun, step{rec: rec})
		case e.NeedsDaemon:
			rec.Status, rec.NotRunReason = report.NotRun, notRunDaemon
			notRun = append(notRun, step{rec: rec})
		case e.Fault == experiments.ZoneOutage && e.Namespace != "":
			// A component's own zone outage is the stack's zone outage
			// (every node of the zone lost), which judges every component.
		case e.Fault == experiments.ZoneOutage:
			rec.Executor = experiments.ClusterRunner
			runnable = append(runnable, step{rec: rec, zone: e.Zone})
		case e.Fault == experiments.NodeLoss:
			runnable = append(runnable, step{rec: rec})
		case e.Chaos != nil && e.ChaosKind != "" && e.Namespace != "" && !slices.Contains(r.plan.Config.Namespaces, e.Namespace):
			rec.Status = report.NotRun
			rec.NotRunReason = fmt.Sprintf("not run: %s is outside the application namespaces the controller injects into (%s)", e.Namespace, strings.Join(r.plan.Config.Namespaces, ", "))
			notRun = append(notRun, step{rec: rec})
		case e.Chaos != nil:
			runnable = append(runnable, step{rec: rec, plan: &r.plan.Experiments[i]})
		}
	}
	for _, c := range r.run.Components {
		rec := report.Experiment{Name: c.Name + "-container-kill", Fault: "container-kill", Domain: "container", Component: c.Key(), Executor: experiments.ChaosMesh,
			Status: report.NotRun, NotRunReason: "not run here: needs a node agent (Chaos Mesh kills a container through chaos-daemon and the node's container runtime)"}
		notRun = append(notRun, step{rec: rec})
	}
	for _, z := range zones {
		runnable = append(runnable, step{rec: report.Experiment{Name: "zone-drain-" + z, Fault: "zone-drain", Domain: string(spof.Drain), Zone: z, Executor: experiments.ClusterRunner}, zone: z})
	}
	order := map[string]int{"pod": 0, "quorum": 1, "node": 2, "zone": 3, "drain": 4}
	sort.SliceStable(runnable, func(i, j int) bool { return order[runnable[i].rec.Domain] < order[runnable[j].rec.Domain] })
	var out []step
	for _, s := range append(runnable, notRun...) {
		if r.o.Experiment != "" && s.rec.Name != r.o.Experiment {
			continue
		}
		if len(r.o.Domains) > 0 && !slices.Contains(r.o.Domains, s.rec.Domain) {
			continue
		}
		if len(r.o.Zones) > 0 && s.rec.Zone != "" && !slices.Contains(r.o.Zones, s.rec.Zone) {
			continue
		}
		out = append(out, s)
	}
	if r.o.Experiment != "" && len(out) == 0 {
		var names []string
		for _, s := range append(runnable, notRun...) {
			names = append(names, s.rec.Name)
		}
		return nil, &SelectError{fmt.Sprintf("no experiment %q; experiments: %s", r.o.Experiment, strings.Join(names, ", "))}
	}
	return out, nil
}

// SelectError is a selection that matches nothing (a usage error).
type SelectError struct{ msg string }

func (e *SelectError) Error() string { return e.msg }

// Execute runs the selected experiments one at a time and returns the
// record (also saved in o.Dir after each). It holds the cluster's run
// lease throughout (one run at a time; see LeaseName). It cleans up first
// (what an interrupted run left) and last, also when ctx is cancelled
// (Ctrl-C): then the record says Interrupted and the error is ctx's.
func Execute(ctx context.Context, o Options) (*report.Run, error) {
	o.defaults()
	release, err := acquire(ctx, o.Kube, o.ID)
	if err != nil {
		return nil, err
	}
	defer release()
	// Cleanup must outlive a cancelled ctx.
	cleanup := func(when string) {
		cctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		done, err := Cleanup(cctx, o.Kube, o.Client, 30*time.Second)
		if err != nil {
			fmt.Fprintf(o.Progress, "cleanup %s: %v\n", when, err)
		} else if !done.Empty() {
			fmt.Fprintf(o.Progress, "cleanup %s: %s\n", when, done)
		}
	}
	cleanup("before the run")
	r, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	steps, err := r.steps()
	if err != nil {
		return nil, err
	}
	defer cleanup("after the run")
	// The SLO gate, on 127.0.0.1, for the Workflows' StatusChecks and the
	// run's own samples.
	if r.gate != nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: r.gate, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		r.plan.Config.SLOGate = "http://" + ln.Addr().String()
		r.say("SLO gate serving %d components on %s", len(r.gate.Config.Components), r.plan.Config.SLOGate)
	}
	tctx, stopTracker := context.WithCancel(context.Background())
	defer stopTracker()
	if err := r.track.start(tctx, o.Kube); err != nil {
		return nil, err
	}
	ran := 0
	for _, s := range steps {
		if s.rec.Status == "" {
			ran++
		}
	}
	r.say("run %s on stack %s: %d components, %d experiments to run, %d recorded as not run", o.ID, o.Stack, len(r.run.Components), ran, len(steps)-ran)
	i := 0
	for _, s := range steps {
		if s.rec.Status == report.NotRun {
			r.run.Experiments = append(r.run.Experiments, s.rec)
			continue
		}
		i++
		if err := ctx.Err(); err != nil {
			r.run.Interrupted = true
			break
		}
		r.say("[%d/%d] %s (%s, %s)", i, ran, s.rec.Name, s.rec.Fault, s.rec.Executor)
		rec := r.execute(ctx, s)
		r.run.Experiments = append(r.run.Experiments, rec)
		r.summarise(rec)
		if ctx.Err() != nil {
			r.run.Interrupted = true
		}
		cleanup("after " + s.rec.Name)
		if err := r.save(); err != nil {
			return r.run, err
		}
	}
	r.run.Finished = time.Now().UTC()
	if err := r.save(); err != nil {
		return r.run, err
	}
	if r.run.Interrupted {
		return r.run, ctx.Err()
	}
	return r.run, nil
}

func (r *Runner) save() error {
	if r.o.Dir == "" {
		return nil
	}
	return r.run.Save(r.o.Dir)
}

func (r *Runner) summarise(e report.Experiment) {
	switch e.Status {
	case report.Failed:
		r.say("      FAILED: %s", e.Error)
		return
	}
	for _, im := range e.Impacts {
		if im.Hit == 0 {
			continue
		}
		state := "held"
		if im.MinReady < im.Needed || im.RecoverySeconds < 0 {
			state = "BREACHED"
		}
		rec := "not back to full strength"
		if im.RecoverySeconds >= 0 {
			rec = fmt.Sprintf("full strength %.1fs after the fault", im.RecoverySeconds)
		}
		r.say("      %-8s %s: %d pod(s) hit, min ready %d of %d (needs %d), %s", state, im.Component, im.Hit, im.MinReady, im.Replicas, im.Needed, rec)
	}
	if len(e.Blocked) > 0 {
		r.say("      evictions refused by a PodDisruptionBudget: %s", strings.Join(e.Blocked, ", "))
	}
}

// sample asks the SLO gate about the whole platform.
func (r *Runner) sample(ctx context.Context, phase string) report.Sample {
	s := report.Sample{Phase: phase, Time: time.Now().UTC(), OK: true}
	if r.gate == nil {
		s.Reason = "no SLO gate"
		return s
	}
	a := r.gate.Answer(ctx, gate.Platform)
	s.OK, s.Reason = a.OK, a.Reason
	return s
}

// execute runs one step; a failure is recorded, never returned.
func (r *Runner) execute(ctx context.Context, s step) report.Experiment {
	rec := s.rec
	rec.Started = time.Now().UTC()
	rec.Status = report.Ran
	var err error
	switch {
	case s.plan != nil:
		err = r.workflow(ctx, s, &rec)
	case rec.Fault == string(experiments.NodeLoss):
		err = r.nodeLoss(ctx, &rec)
	case rec.Fault == string(experiments.ZoneOutage):
		err = r.zoneOutage(ctx, s.zone, &rec)
	case rec.Fault == "zone-drain":
		err = r.drain(ctx, s.zone, &rec)
	default:
		err = fmt.Errorf("no executor for %s", rec.Fault)
	}
	r.track.close()
	if err != nil {
		rec.Status, rec.Error = report.Failed, err.Error()
		if ctx.Err() != nil {
			rec.Error = "interrupted: " + err.Error()
		}
	}
	rec.Finished = time.Now().UTC()
	return rec
}

// steady waits for full strength and takes the "before" sample; a
// platform not at full strength, or not in its steady state, is not hit.
func (r *Runner) steady(ctx context.Context, rec *report.Experiment) error {
	if _, err := r.track.waitFull(ctx, r.o.RecoveryLimit); err != nil {
		return err
	}
	if ok, short := r.track.full(); !ok {
		return fmt.Errorf("not at full strength before the fault after %s: %s", r.o.RecoveryLimit, strings.Join(short, ", "))
	}
	s := r.sample(ctx, report.Before)
	rec.SteadyState = append(rec.SteadyState, s)
	if !s.OK {
		return fmt.Errorf("the steady state does not hold before the fault: %s", s.Reason)
	}
	return nil
}

// hold keeps a fault for d, sampling the steady state every two seconds.
func (r *Runner) hold(ctx context.Context, d time.Duration, rec *report.Experiment, each func()) error {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		rec.SteadyState = append(rec.SteadyState, r.sample(ctx, report.During))
		if each != nil {
			each()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(2*time.Second, time.Until(end))):
		}
	}
	return nil
}

// recover waits for full strength after the fault and judges each
// component.
func (r *Runner) recover(ctx context.Context, rec *report.Experiment, hit map[string]int) error {
	_, err := r.track.waitFull(ctx, r.o.RecoveryLimit)
	rec.SteadyState = append(rec.SteadyState, r.sample(ctx, report.After))
	rec.Impacts = r.track.impacts(hit, rec.FaultEnded)
	return err
}

// workflow runs a Chaos Mesh Workflow and reads its outcome.
func (r *Runner) workflow(ctx context.Context, s step, rec *report.Experiment) error {
	if r.o.Client == nil {
		return errors.New("no client for Chaos Mesh objects")
	}
	if err := r.steady(ctx, rec); err != nil {
		return err
	}
	w, err := workflowFor(r.plan, *s.plan, r.o.ID)
	if err != nil {
		return err
	}
	r.track.open()
	rec.FaultStarted = time.Now().UTC()
	if err := r.o.Client.Create(ctx, w); err != nil {
		return fmt.Errorf("create workflow %s (checked by Chaos Mesh's webhook): %w", w.Name, err)
	}
	r.say("      workflow %s created; the controller runs it", w.Name)
	out := newOutcome()
	limit := workflowTimeout(r.plan.Config)
	deadline := time.Now().Add(limit)
	lastSample := time.Time{}
	for !out.done && time.Now().Before(deadline) {
		if err := out.observe(ctx, r.o.Client, w.Name); err != nil && ctx.Err() == nil {
			r.say("      reading %s: %v", w.Name, err)
		}
		if rec.FaultEnded.IsZero() && out.totalInjected() > 0 {
			// A kill is over once done: recovery counts from the moment the
			// pod went, as the pod informer saw it.
			rec.FaultEnded = time.Now().UTC()
			if at := r.track.lossAt(); !at.IsZero() {
				rec.FaultEnded = at.UTC()
			}
		}
		if time.Since(lastSample) >= 2*time.Second {
			rec.SteadyState = append(rec.SteadyState, r.sample(ctx, report.During))
			lastSample = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if rec.FaultEnded.IsZero() {
		rec.FaultEnded = time.Now().UTC()
	}
	rec.Injected, rec.Targets, rec.Aborted, rec.StatusChecks = out.totalInjected(), out.targetList(), out.aborted, out.records()
	rec.Evidence = "PodChaos status.experiment.containerRecords[].injectedCount, read from the controller's own object"
	r.say("      workflow %s: injected %d (targets %s), %d StatusCheck records, aborted %v", w.Name, rec.Injected, strings.Join(rec.Targets, ", "), len(rec.StatusChecks), rec.Aborted)
	if err := errIfNotDone(out, w.Name, limit); err != nil {
		return err
	}
	if rec.Injected == 0 && !out.aborted {
		return fmt.Errorf("workflow %s finished but its PodChaos records no injection", w.Name)
	}
	return r.recover(ctx, rec, nil)
}

// loseNodes stops the kubelets of nodes for the fault's duration, then
// brings them back, and judges every component by the pods it had there.
func (r *Runner) loseNodes(ctx context.Context, nodes []string, rec *report.Experiment) error {
	if err := r.steady(ctx, rec); err != nil {
		return err
	}
	set := map[string]bool{}
	for _, n := range nodes {
		set[n] = true
	}
	on := r.track.podsOn(set)
	hit := map[string]int{}
	for k, pods := range on {
		hit[k] = len(pods)
		rec.Targets = append(rec.Targets, pods...)
		rec.Injected += len(pods)
	}
	sort.Strings(rec.Targets)
	r.track.open()
	rec.FaultStarted = time.Now().UTC()
	for _, n := range nodes {
		if err := loseNode(ctx, r.o.Kube, n, r.o.ID); err != nil {
			return fmt.Errorf("lose node %s: %w", n, err)
		}
	}
	r.say("      lost %s (%d platform pods on them); holding %s, and until their pods are evicted", strings.Join(nodes, ", "), rec.Injected, r.o.FaultDuration)
	notReady := map[string]time.Duration{}
	observe := func() {
		for _, n := range nodes {
			if _, seen := notReady[n]; !seen && !nodeReady(ctx, r.o.Kube, n) {
				notReady[n] = time.Since(rec.FaultStarted)
			}
		}
	}
	err := r.hold(ctx, r.o.FaultDuration, rec, observe)
	// The node comes back only once the control plane has evicted its
	// pods: a simulated kubelet that returns earlier does not report its
	// pods Ready again, as a real one would.
	for extra := time.Now().Add(r.o.RecoveryLimit); err == nil && len(r.track.podsOn(set)) > 0 && time.Now().Before(extra); {
		err = r.hold(ctx, 2*time.Second, rec, observe)
	}
	var seen []string
	for _, n := range nodes {
		if d, ok := notReady[n]; ok {
			seen = append(seen, fmt.Sprintf("%s NotReady after %.0fs", n, d.Seconds()))
		}
	}
	rec.Evidence = fmt.Sprintf("%d node(s) lost (kubelet stopped): the platform's pods on them when lost; %s", len(nodes), strings.Join(seen, ", "))
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := restoreNode(ctx, r.o.Kube, n); err != nil {
			return fmt.Errorf("restore node %s: %w", n, err)
		}
	}
	rec.FaultEnded = time.Now().UTC()
	r.say("      restored %s; waiting for full strength", strings.Join(nodes, ", "))
	return r.recover(ctx, rec, hit)
}

// nodeLoss loses the node holding the most pods of the experiment's
// component.
func (r *Runner) nodeLoss(ctx context.Context, rec *report.Experiment) error {
	node := r.track.nodeWithMost(rec.Component)
	if node == "" {
		return fmt.Errorf("no pod of %s is scheduled on a node", rec.Component)
	}
	rec.Node = node
	return r.loseNodes(ctx, []string{node}, rec)
}

// zoneOutage loses every node of a zone at once.
func (r *Runner) zoneOutage(ctx context.Context, zone string, rec *report.Experiment) error {
	nodes, err := zoneNodes(ctx, r.o.Kube, zone)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return fmt.Errorf("zone %s has no nodes", zone)
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return r.loseNodes(ctx, names, rec)
}

// drain cordons a zone's nodes and evicts their pods, holds the cordon
// for the fault's duration, then uncordons.
func (r *Runner) drain(ctx context.Context, zone string, rec *report.Experiment) error {
	nodes, err := zoneNodes(ctx, r.o.Kube, zone)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return fmt.Errorf("zone %s has no nodes", zone)
	}
	if err := r.steady(ctx, rec); err != nil {
		return err
	}
	var names []string
	r.track.open()
	rec.FaultStarted = time.Now().UTC()
	for _, n := range nodes {
		names = append(names, n.Name)
		if n.Spec.Unschedulable {
			continue // cordoned by someone else: left as it is
		}
		if err := cordon(ctx, r.o.Kube, n.Name, r.o.ID); err != nil {
			return fmt.Errorf("cordon %s: %w", n.Name, err)
		}
	}
	evicted, blocked, err := drainNodes(ctx, r.o.Kube, names, func(f string, a ...any) { r.say("      "+f, a...) })
	rec.Targets, rec.Injected, rec.Blocked = evicted, len(evicted), blocked
	rec.Evidence = fmt.Sprintf("Eviction API: %d pod(s) evicted from %s, %d refused by a PodDisruptionBudget after %d retries", len(evicted), strings.Join(names, ", "), len(blocked), len(evictionBackoff))
	r.say("      cordoned %s, evicted %d pod(s), %d blocked; holding %s", strings.Join(names, ", "), len(evicted), len(blocked), r.o.FaultDuration)
	if err != nil {
		return err
	}
	if err := r.hold(ctx, r.o.FaultDuration, rec, nil); err != nil {
		return err
	}
	for _, n := range nodes {
		if !n.Spec.Unschedulable {
			if err := uncordon(ctx, r.o.Kube, n.Name); err != nil {
				return fmt.Errorf("uncordon %s: %w", n.Name, err)
			}
		}
	}
	rec.FaultEnded = time.Now().UTC()
	r.say("      uncordoned %s; waiting for full strength", strings.Join(names, ", "))
	return r.recover(ctx, rec, nil)
}
