package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudscale/platform/chaos/report"
	chaosrun "github.com/cloudscale/platform/chaos/run"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/cmd/cloudscale/engine"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/infra/local/controlplane"
	"github.com/cloudscale/platform/services/slogate/gate"
	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/spec"
)

// runsDir holds the chaos runs of a checkout; latest links the newest.
func runsDir(project string) string { return filepath.Join(project, ".cloudscale", "chaos-runs") }

type runFlags struct {
	stack, experiment, dir string
	domains, zones         []string
	duration, limit        time.Duration
	list                   bool
}

func newRunCmd(g *globals) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run --stack local [--experiment NAME | --domain pod|node|zone|drain] [--zone Z]",
		Short: "Run the chaos experiments on the simulated cluster, one at a time, and record what happened",
		Long: "Bring up the local cluster (with the Chaos Mesh controller) and the stack if needed, then run the\n" +
			"selected experiments one at a time: pod kills as Chaos Mesh Workflows executed by the real controller,\n" +
			"node loss and zone outages by stopping simulated kubelets, zone drains through the Eviction API. The SLO\n" +
			"gate's steady state is sampled before, during and after each; faults that need chaos-daemon inside real\n" +
			"containers are recorded as not run. Everything the run changed is undone on success, failure and Ctrl-C.\n" +
			"The record goes to --run-dir (default .cloudscale/chaos-runs/<stack>-<time>); `cloudscale chaos report`\n" +
			"reads it. Exit 0 when every component held, 1 when one breached or a prediction was wrong, 2 on bad input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runChaos(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.stack, "stack", "", "the stack (local: its simulated cluster)")
	fl.StringVar(&f.experiment, "experiment", "", "run only this experiment (see --list)")
	fl.StringSliceVar(&f.domains, "domain", nil, "run only these domains: "+strings.Join(chaosrun.Domains, ", "))
	fl.StringSliceVar(&f.zones, "zone", nil, "zone outages and drains of these zones only (default: every zone)")
	fl.DurationVar(&f.duration, "duration", 30*time.Second, "how long a node loss, zone outage or drain is held")
	fl.DurationVar(&f.limit, "recovery-limit", 2*time.Minute, "how long to wait for full strength before and after a fault")
	fl.StringVar(&f.dir, "run-dir", "", "where to write run.json (default .cloudscale/chaos-runs/<stack>-<UTC time>)")
	fl.BoolVar(&f.list, "list", false, "list the experiments the selection runs, and stop")
	return cmd
}

// chaosScheme knows the chaos-mesh.org kinds and Kubernetes' own.
func chaosScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := chaosv1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// clients are a clientset and a controller-runtime client for a kubeconfig.
func clients(kubeconfig string) (kubernetes.Interface, client.Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	cfg.Timeout = 15 * time.Second
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	scheme, err := chaosScheme()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	return kube, c, err
}

func (f *runFlags) validate() error {
	if f.stack == "" {
		return usageErr("--stack is required (chaos runs act on the local stack's simulated cluster)")
	}
	for _, d := range f.domains {
		if !slices.Contains(chaosrun.Domains, d) {
			return usageErr("--domain %q: want one of %s", d, strings.Join(chaosrun.Domains, ", "))
		}
	}
	if f.experiment != "" && (len(f.domains) > 0 || len(f.zones) > 0) {
		return usageErr("--experiment names one experiment; give it without --domain and --zone")
	}
	if f.duration < 5*time.Second || f.limit < 10*time.Second {
		return usageErr("--duration must be at least 5s and --recovery-limit at least 10s")
	}
	return nil
}

func runChaos(cmd *cobra.Command, g *globals, f *runFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	project, err := g.project()
	if err != nil {
		return err
	}
	s, err := loadStack(project, f.stack)
	if err != nil {
		return err
	}
	if s.Cloud != spec.Local {
		return usageErr("stack %s is on %s: chaos runs drive the simulated cluster's nodes; on clouds the stack's Schedule runs the experiments and `cloudscale chaos report --from-cluster` reads them", f.stack, s.Cloud)
	}
	for _, z := range f.zones {
		if !slices.Contains(s.Zones, z) {
			return usageErr("--zone %q: stack %s has zones %s", z, f.stack, strings.Join(s.Zones, ", "))
		}
	}
	out := cmd.ErrOrStderr()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	start := time.Now()

	kubeconfig, err := localCluster(ctx, cmd, g, project, s, out)
	if err != nil {
		return err
	}
	kube, c, err := clients(kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	if err := stackUp(ctx, kube, project, f.stack, s, kubeconfig, out); err != nil {
		return err
	}
	o, err := runOptions(s, kube, c, kubeconfig)
	if err != nil {
		return err
	}
	o.Experiment, o.Domains, o.Zones, o.FaultDuration, o.RecoveryLimit, o.Progress = f.experiment, f.domains, f.zones, f.duration, f.limit, out
	if f.list {
		list, err := chaosrun.Select(ctx, o)
		if err != nil {
			return selectErr(err)
		}
		for _, e := range list {
			state := "runs"
			if e.Status == report.NotRun {
				state = e.NotRunReason
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%-45s %-15s %-6s %s\n", e.Name, e.Fault, e.Domain, state)
		}
		return nil
	}
	dir := f.dir
	if dir == "" {
		dir = filepath.Join(runsDir(project), f.stack+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	o.Dir = dir
	run, err := chaosrun.Execute(ctx, o)
	if run != nil && f.dir == "" {
		latest := filepath.Join(runsDir(project), "latest")
		_ = os.Remove(latest)
		_ = os.Symlink(filepath.Base(dir), latest)
	}
	if err != nil && run == nil {
		return selectErr(err)
	}
	return finishRun(cmd, run, err, filepath.Join(dir, report.FileName), start)
}

// finishRun prints a run's report and summary and gives its exit: 130
// when interrupted, 1 on a finding.
func finishRun(cmd *cobra.Command, run *report.Run, err error, record string, start time.Time) error {
	rep := report.Judge(run)
	if werr := report.Write(cmd.OutOrStdout(), "table", rep); werr != nil && err == nil {
		err = werr
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "-- chaos run: %d experiments (%d ran, %d not run, %d failed), score %s, coverage %.0f%%, %.0fs; record %s\n",
		len(run.Experiments), count(run, report.Ran), count(run, report.NotRun), count(run, report.Failed),
		rep.Summary.ScoreText(), rep.Summary.Coverage, time.Since(start).Seconds(), record)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &exitError{code: 130, err: fmt.Errorf("interrupted; the cluster was cleaned up (%s)", record)}
		}
		return err
	}
	if rep.Failed() {
		return &exitError{code: 1, err: fmt.Errorf("%d finding(s): %s", len(rep.Findings), strings.Join(rep.Findings, "; "))}
	}
	return nil
}

// localCluster is the stack's kubeconfig; when it is the simulated
// cluster's, the cluster is started (with the Chaos Mesh controller) if
// it is not running.
func localCluster(ctx context.Context, cmd *cobra.Command, g *globals, project string, s spec.Spec, out io.Writer) (string, error) {
	cp, err := g.controlPlane(cmd)
	if err != nil {
		return "", err
	}
	cp.Out = out
	kubeconfig := s.Local.Kubeconfig
	if !filepath.IsAbs(kubeconfig) {
		kubeconfig = filepath.Join(project, kubeconfig)
	}
	if kubeconfig != cp.Kubeconfig() {
		return kubeconfig, nil // the user's own cluster
	}
	if !cp.ChaosMesh {
		return "", fmt.Errorf("chaos-controller-manager is not built in %s: run `make tools`", cp.BinDir)
	}
	if !cp.Running() {
		fmt.Fprintln(out, "==> starting the local cluster with the Chaos Mesh controller")
		if err := cp.Start(ctx, false); err != nil {
			return "", fmt.Errorf("local cluster: %w", err)
		}
	}
	return kubeconfig, nil
}

func selectErr(err error) error {
	var se *chaosrun.SelectError
	if errors.As(err, &se) {
		return usageErr("--experiment: %v", err)
	}
	return err
}

func count(r *report.Run, s report.Status) int {
	n := 0
	for _, e := range r.Experiments {
		if e.Status == s {
			n++
		}
	}
	return n
}

// loadStack reads and validates one stack's file.
func loadStack(project, name string) (spec.Spec, error) {
	dir := filepath.Join(project, "stacks")
	if _, err := os.Stat(spec.FilePath(dir, name)); err != nil {
		names, _ := spec.Discover(dir)
		return spec.Spec{}, usageErr("unknown stack %q; stacks: %s", name, strings.Join(names, ", "))
	}
	s, err := spec.LoadFile(spec.FilePath(dir, name))
	if err != nil {
		return s, usageErr("%v", err)
	}
	return s, nil
}

// stackUp deploys the stack when it is not there (its namespace missing).
func stackUp(ctx context.Context, kube kubernetes.Interface, project, stack string, s spec.Spec, kubeconfig string, out io.Writer) error {
	_, err := kube.CoreV1().Namespaces().Get(ctx, s.Namespace, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("is stack %s up? %w", stack, err)
	}
	fmt.Fprintf(out, "==> namespace %s is missing: deploying stack %s\n", s.Namespace, stack)
	sum, err := engine.Run(ctx, engine.Request{Op: engine.Up, Stack: stack, ProjectDir: project, Out: out,
		Program: stacks.Program(stacks.Options{StacksDir: filepath.Join(project, "stacks"), Kubeconfig: kubeconfig})})
	if err != nil {
		return fmt.Errorf("deploy stack %s: %w", stack, err)
	}
	fmt.Fprintln(out, sum)
	return nil
}

// runOptions are a run's options for a stack: its chaos configuration,
// the namespaces of its components (the stack's own analysis says which)
// and its SLO gate.
func runOptions(s spec.Spec, kube kubernetes.Interface, c client.Client, kubeconfig string) (chaosrun.Options, error) {
	_, rep, plan, err := stacks.ChaosPlan(s)
	if err != nil {
		return chaosrun.Options{}, fmt.Errorf("stack %s: %w", s.Stack, err)
	}
	namespaces := slices.Clone(plan.Config.Namespaces)
	for _, t := range rep.Targets {
		if !slices.Contains(namespaces, t.Namespace) {
			namespaces = append(namespaces, t.Namespace)
		}
	}
	sort.Strings(namespaces)
	appNamespaces := plan.Config.Namespaces
	return chaosrun.Options{
		Kube: kube, Client: c, Stack: s.Stack, Env: string(s.Environment), Source: "local cluster " + kubeconfig,
		Topology: stacks.ChaosTopology(s), Namespaces: namespaces, Config: stacks.ChaosConfig(s),
		GateConfig: func(g graph.Graph, rep *spof.Report) (gate.Config, error) {
			return stacks.GateConfig(g, rep, appNamespaces)
		},
	}, nil
}

// cleanLeftovers undoes what an interrupted chaos run left on the local
// cluster (for `cluster status`); it reports what it undid.
func cleanLeftovers(ctx context.Context, cp *controlplane.Cluster, out io.Writer) error {
	kube, c, err := clients(cp.Kubeconfig())
	if err != nil {
		return err
	}
	if id, err := chaosrun.InProgress(ctx, kube); err != nil || id != "" {
		if id != "" {
			fmt.Fprintf(out, "  %-24s run %s in progress: its changes are its own to undo\n", "chaos run", id)
		}
		return err
	}
	done, err := chaosrun.Cleanup(ctx, kube, c, 10*time.Second)
	if !done.Empty() {
		fmt.Fprintf(out, "  %-24s %s\n", "chaos leftovers", done)
	}
	return err
}

type reportFlags struct {
	run, format, output, stack string
	fromCluster                bool
}

func newReportCmd(g *globals) *cobra.Command {
	f := &reportFlags{}
	cmd := &cobra.Command{
		Use:   "report [--run DIR] [--format table|json|junit|html] | --from-cluster --stack S",
		Short: "Verdicts per component and failure domain, with the evidence, the prediction beside them and a resilience score",
		Long: "Judge a recorded chaos run (default: the latest under .cloudscale/chaos-runs) or, with --from-cluster, the\n" +
			"Chaos Mesh objects of a cluster (the stack's Schedules: their Workflows, WorkflowNodes and StatusCheck\n" +
			"records). Per component and domain: held, breached, failed, not hit or not run (and why), the static\n" +
			"analysis' prediction beside it, and the score docs/chaos.md defines. Exit 1 when a component breached,\n" +
			"an experiment failed or a prediction was wrong; 2 on bad input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReport(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.run, "run", "", "a run directory or its run.json (default: the latest run)")
	fl.StringVar(&f.format, "format", "table", strings.Join(report.Formats, ", "))
	fl.StringVar(&f.output, "output", "", "write the report to this file (a summary still goes to stderr)")
	fl.BoolVar(&f.fromCluster, "from-cluster", false, "read the Chaos Mesh objects of the stack's cluster instead of a run record")
	fl.StringVar(&f.stack, "stack", "", "the stack, with --from-cluster")
	return cmd
}

func runReport(cmd *cobra.Command, g *globals, f *reportFlags) error {
	if !slices.Contains(report.Formats, f.format) {
		return usageErr("--format %q: want one of %s", f.format, strings.Join(report.Formats, ", "))
	}
	if f.fromCluster == (f.stack == "") {
		if f.fromCluster {
			return usageErr("--from-cluster needs --stack")
		}
		return usageErr("--stack goes with --from-cluster")
	}
	if f.fromCluster && f.run != "" {
		return usageErr("give --run or --from-cluster, not both")
	}
	project, err := g.project()
	if err != nil {
		return err
	}
	var run *report.Run
	if f.fromCluster {
		if run, err = runFromCluster(cmd, project, f.stack); err != nil {
			return err
		}
	} else {
		path := f.run
		if path == "" {
			path = filepath.Join(runsDir(project), "latest")
		}
		if run, err = report.Load(path); err != nil {
			if errors.Is(err, os.ErrNotExist) && f.run == "" {
				return usageErr("no chaos run recorded yet in %s: run `cloudscale chaos run --stack local` first, or pass --run", runsDir(project))
			}
			return usageErr("--run %s: %v", path, err)
		}
	}
	rep := report.Judge(run)
	if err := writeTo(cmd.OutOrStdout(), f.output, func(w io.Writer) error { return report.Write(w, f.format, rep) }); err != nil {
		return err
	}
	s := rep.Summary
	fmt.Fprintf(cmd.ErrOrStderr(), "-- chaos report: stack %s, %d pairs: %d held, %d breached, %d failed, %d not hit, %d not run; predictions %d confirmed, %d wrong; score %s, coverage %.0f%%\n",
		run.Stack, s.Pairs, s.Held, s.Breached, s.Failed, s.NotHit, s.NotRun, s.Confirmed, s.Wrong, s.ScoreText(), s.Coverage)
	if rep.Failed() {
		return &exitError{code: 1, err: fmt.Errorf("%d finding(s)", len(rep.Findings))}
	}
	return nil
}

// runFromCluster reads the stack's Chaos Mesh objects into a run record.
func runFromCluster(cmd *cobra.Command, project, stack string) (*report.Run, error) {
	s, err := loadStack(project, stack)
	if err != nil {
		return nil, err
	}
	kubeconfig := os.Getenv("KUBECONFIG")
	if s.Cloud == spec.Local {
		kubeconfig = s.Local.Kubeconfig
		if !filepath.IsAbs(kubeconfig) {
			kubeconfig = filepath.Join(project, kubeconfig)
		}
	}
	if kubeconfig == "" {
		return nil, usageErr("stack %s is on %s: set KUBECONFIG to its cluster (`cloudscale up` exports the kubeconfig as a stack output)", stack, s.Cloud)
	}
	_, c, err := clients(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	_, rep, plan, err := stacks.ChaosPlan(s)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fmt.Fprintf(cmd.ErrOrStderr(), "-- reading the Chaos Mesh objects of stack %s from %s\n", stack, kubeconfig)
	return chaosrun.FromCluster(ctx, c, chaosrun.ClusterSource{Stack: stack, Env: string(s.Environment), Source: "cluster " + kubeconfig, Report: rep, Plan: plan})
}
