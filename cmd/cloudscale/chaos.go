package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/stacks"
)

func newChaosCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "chaos", Short: "Resilience: the single-point-of-failure gate and the chaos experiments"}
	cmd.AddCommand(newSPOFCmd(g), newPlanCmd(g), newRunCmd(g), newReportCmd(g))
	return cmd
}

type spofFlags struct {
	sourceFlags
	format, output string
	zones, nodes   int
}

func newSPOFCmd(g *globals) *cobra.Command {
	f := &spofFlags{}
	cmd := &cobra.Command{
		Use:   "spof (--stack S | --all-stacks | --manifests PATH... | --pulumi-export FILE)",
		Short: "Prove there is no single point of failure: every component against the loss of a pod, a node, a zone, a drain",
		Long: "For every component (workloads, operators' clusters, Helm releases) and every failure domain (pod, node, zone,\n" +
			"a voluntary drain of a zone, the quorum itself) decide from what the objects guarantee whether it keeps serving.\n" +
			"Exit 0 when nothing is a single point of failure where the gate is mandatory (staging, prod), 1 when something is,\n" +
			"2 on a usage or input error. Stacks are read under Pulumi mocks with their own zones, node count and environment;\n" +
			"manifests and Pulumi JSON with --env, --zones and --nodes.",
		RunE: func(cmd *cobra.Command, args []string) error {
			f.manifests = append(f.manifests, args...)
			return runSPOF(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	f.addFlags(fl, "analyse")
	fl.StringVar(&f.format, "format", "table", "table, json, sarif or junit")
	fl.StringVar(&f.output, "output", "", "write the report to this file (a summary still goes to stderr)")
	fl.IntVar(&f.zones, "zones", spof.DefaultTopology.Zones, "zones of the cluster, for manifests and Pulumi JSON")
	fl.IntVar(&f.nodes, "nodes", spof.DefaultTopology.Nodes, "the cluster's smallest node count, for manifests and Pulumi JSON")
	return cmd
}

func runSPOF(cmd *cobra.Command, g *globals, f *spofFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	if !contains(spof.Formats, f.format) {
		return usageErr("--format %q: want one of %s", f.format, strings.Join(spof.Formats, ", "))
	}
	flagTopo := spof.Topology{Zones: f.zones, Nodes: f.nodes}
	if err := flagTopo.Validate(); err != nil {
		return usageErr("--zones/--nodes: %v", err)
	}
	progress := cmd.ErrOrStderr()
	start := time.Now()
	sources, err := readSources(g, &f.sourceFlags, progress)
	if err != nil {
		return err
	}
	var reports []*spof.Report
	for _, s := range sources {
		topo := flagTopo
		if s.spec != nil {
			topo = stacks.ChaosTopology(*s.spec)
		}
		rep, err := spof.Analyze(s.g, s.env, topo)
		if err != nil {
			return usageErr("%s: %v", s.g.Source, err)
		}
		mode := "advisory"
		if spof.Enforced(rep.Env) {
			mode = "mandatory"
		}
		fmt.Fprintf(progress, "-- %s (env %s, %s): %d components over %d zones and %d nodes: %d spof, %d degraded in %.0f ms\n",
			rep.Source, rep.Env, mode, rep.Components, topo.Zones, topo.Nodes, rep.Count(spof.SPOF), rep.Count(spof.Degraded), float64(rep.Duration.Microseconds())/1000)
		reports = append(reports, rep)
	}
	if err := writeTo(cmd.OutOrStdout(), f.output, func(w io.Writer) error { return spof.Write(w, f.format, reports) }); err != nil {
		return err
	}
	sum := spof.Summarize(reports)
	fmt.Fprintf(progress, "-- spof gate: %d sources, %d components, %d single points of failure (%d where mandatory), %d degraded, %.2fs\n",
		sum.Sources, sum.Components, sum.SPOF, sum.Failing, sum.Degraded, time.Since(start).Seconds())
	if sum.Failing > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d single points of failure where the gate is mandatory", sum.Failing)}
	}
	return nil
}

// writeTo writes a report to stdout or to the --output file, whose close
// is checked (a report cut short is an error).
func writeTo(stdout io.Writer, output string, write func(io.Writer) error) error {
	if output == "" {
		return write(stdout)
	}
	file, err := os.Create(output)
	if err != nil {
		return usageErr("--output %s: %v", output, err)
	}
	if err := write(file); err != nil {
		_ = file.Close()
		return err
	}
	return file.Close()
}

type planFlags struct {
	stack     string
	allStacks bool
	format    string
	output    string
}

func newPlanCmd(g *globals) *cobra.Command {
	f := &planFlags{}
	cmd := &cobra.Command{
		Use:   "plan (--stack S | --all-stacks)",
		Short: "The dry run: every experiment of a stack, its selector, the objects it would hit and the predicted verdict",
		Long: "Derive the stack's chaos catalogue from its resource graph (under Pulumi mocks) and its failure-domain analysis,\n" +
			"without touching a cluster. Experiments predicted to take a component down are listed but not scheduled.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.stack, "stack", "", "plan one stack")
	fl.BoolVar(&f.allStacks, "all-stacks", false, "plan every stack")
	fl.StringVar(&f.format, "format", "table", "table, json or yaml (the plan and the Schedule the stack applies)")
	fl.StringVar(&f.output, "output", "", "write the plan to this file (a summary still goes to stderr)")
	return cmd
}

func runPlan(cmd *cobra.Command, g *globals, f *planFlags) error {
	if (f.stack == "") == !f.allStacks {
		return usageErr("give exactly one of --stack, --all-stacks")
	}
	if !contains(experiments.Formats, f.format) {
		return usageErr("--format %q: want one of %s", f.format, strings.Join(experiments.Formats, ", "))
	}
	progress := cmd.ErrOrStderr()
	start := time.Now()
	sources, err := readSources(g, &sourceFlags{stack: f.stack, allStacks: f.allStacks}, progress)
	if err != nil {
		return err
	}
	var plans []*experiments.Plan
	total, scheduled := 0, 0
	for _, s := range sources {
		topo := stacks.ChaosTopology(*s.spec)
		rep, err := spof.Analyze(s.g, s.env, topo)
		if err != nil {
			return usageErr("%s: %v", s.g.Source, err)
		}
		p, err := experiments.New(s.g, rep, stacks.ChaosConfig(*s.spec))
		if err != nil {
			return usageErr("stack %s: %v", s.spec.Stack, err)
		}
		n := 0
		for _, e := range p.Experiments {
			if e.Scheduled {
				n++
			}
		}
		fmt.Fprintf(progress, "-- %s (env %s): %d experiments over %d components, %d scheduled\n", p.Source, p.Env, len(p.Experiments), rep.Components, n)
		plans = append(plans, p)
		total, scheduled = total+len(p.Experiments), scheduled+n
	}
	if err := writeTo(cmd.OutOrStdout(), f.output, func(w io.Writer) error { return experiments.Write(w, f.format, plans) }); err != nil {
		return err
	}
	fmt.Fprintf(progress, "-- chaos plan: %d stacks, %d experiments, %d scheduled, %.2fs (nothing was applied)\n", len(plans), total, scheduled, time.Since(start).Seconds())
	return nil
}
