package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/policies"
	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/mockstack"
	"github.com/cloudscale/platform/stacks/spec"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "The policy gate: encryption, network, HA and security rules"}
	cmd.AddCommand(newPolicyCheckCmd(g), newPolicyRulesCmd(), newPolicyBenchCmd())
	return cmd
}

// sourceFlags name what a reader of the graph reads: stacks under mocks,
// manifests or Pulumi JSON, and the environment whose enforcement applies
// to the last two.
type sourceFlags struct {
	stack, export, env string
	allStacks          bool
	manifests          []string
}

type checkFlags struct {
	sourceFlags
	format, output, waivers, config string
}

func newPolicyCheckCmd(g *globals) *cobra.Command {
	f := &checkFlags{}
	cmd := &cobra.Command{
		Use:   "check (--stack S | --all-stacks | --manifests PATH... | --pulumi-export FILE)",
		Short: "Check stacks, rendered manifests or Pulumi state against every rule",
		Long: "Exit 0 when there is no mandatory violation, 1 when there is one, 2 on a usage or input error.\n" +
			"Stacks are checked under Pulumi mocks (no cloud account) with their own environment's enforcement;\n" +
			"manifests and Pulumi JSON with --env (default prod, the strictest).",
		RunE: func(cmd *cobra.Command, args []string) error {
			f.manifests = append(f.manifests, args...)
			return runPolicyCheck(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	f.addFlags(fl, "check")
	fl.StringVar(&f.format, "format", "table", "table, json, sarif or junit")
	fl.StringVar(&f.output, "output", "", "write the report to this file (a summary still goes to stderr)")
	fl.StringVar(&f.waivers, "waivers", "", "waiver file (default: policies/waivers.yaml in the checkout, when present)")
	fl.StringVar(&f.config, "config", "", "settings file (YAML): allowedRegistries, meshRootNamespace; each key given replaces the built-in value")
	return cmd
}

func runPolicyCheck(cmd *cobra.Command, g *globals, f *checkFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	progress := cmd.ErrOrStderr()
	start := time.Now()
	var opts []policies.Option
	if f.config != "" {
		settings, err := policies.LoadSettings(f.config)
		if err != nil {
			return usageErr("%v", err)
		}
		opts = append(opts, policies.WithSettings(settings, f.config))
		fmt.Fprintf(progress, "-- settings: %s\n", f.config)
	}
	engine, err := policies.New(opts...)
	if err != nil {
		return err
	}
	waivers, err := loadWaivers(g, f.waivers, engine)
	if err != nil {
		return usageErr("%v", err)
	}
	jobs, err := readSources(g, &f.sourceFlags, progress)
	if err != nil {
		return err
	}
	var reports []*policies.Report
	mandatory := 0
	for _, j := range jobs {
		rep, err := engine.Check(context.Background(), j.g, j.env)
		if err != nil {
			return err
		}
		rep.Apply(waivers, time.Now())
		fmt.Fprintf(progress, "-- %s (env %s): %d resources, %d mandatory, %d advisory, %d waived in %.0f ms\n",
			rep.Source, rep.Env, rep.Resources, rep.Mandatory(), rep.Advisory(), rep.Waived(), float64(rep.Duration.Microseconds())/1000)
		reports = append(reports, rep)
		mandatory += rep.Mandatory()
	}
	if err := writeReport(cmd.OutOrStdout(), f, reports, engine.Rules()); err != nil {
		return err
	}
	fmt.Fprintf(progress, "-- policy gate: %d sources, %d mandatory violations, %.2fs\n", len(reports), mandatory, time.Since(start).Seconds())
	if mandatory > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d mandatory policy violations", mandatory)}
	}
	return nil
}

// validate refuses flags that do not name exactly one source, or an
// unknown format or environment.
func (f *checkFlags) validate() error {
	if err := f.sourceFlags.validate(); err != nil {
		return err
	}
	if !contains(policies.Formats, f.format) {
		return usageErr("--format %q: want one of %s", f.format, strings.Join(policies.Formats, ", "))
	}
	return nil
}

// addFlags registers the source flags; verb says what is done to a stack.
func (f *sourceFlags) addFlags(fl *pflag.FlagSet, verb string) {
	fl.StringVar(&f.stack, "stack", "", verb+" one stack under mocks")
	fl.BoolVar(&f.allStacks, "all-stacks", false, verb+" every stack under mocks")
	fl.StringArrayVar(&f.manifests, "manifests", nil, "Kubernetes YAML/JSON files or directories (repeatable)")
	fl.StringVar(&f.export, "pulumi-export", "", "`pulumi stack export`, `pulumi preview --json` or engine-event JSON")
	fl.StringVar(&f.env, "env", "prod", "enforcement for manifests and Pulumi JSON: dev (advisory HA), staging or prod")
}

// validate refuses flags that do not name exactly one source, or an
// unknown environment.
func (f *sourceFlags) validate() error {
	modes := 0
	for _, set := range []bool{f.stack != "", f.allStacks, len(f.manifests) > 0, f.export != ""} {
		if set {
			modes++
		}
	}
	switch {
	case modes != 1:
		return usageErr("give exactly one of --stack, --all-stacks, --manifests, --pulumi-export")
	case !contains(policies.Environments, f.env):
		return usageErr("--env %q: want one of %s", f.env, strings.Join(policies.Environments, ", "))
	}
	return nil
}

// source is one graph a reader judges, the environment whose enforcement
// applies, and the stack's spec when it came from a stack.
type source struct {
	g    graph.Graph
	env  string
	spec *spec.Spec
}

// readSources reads the graphs the flags name: stacks under mocks,
// manifests, or Pulumi JSON.
func readSources(g *globals, f *sourceFlags, progress io.Writer) ([]source, error) {
	switch {
	case len(f.manifests) > 0:
		gr, err := policies.LoadManifests(f.manifests...)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		return []source{{g: gr, env: f.env}}, nil
	case f.export != "":
		gr, err := policies.LoadPulumiJSON(f.export)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		return []source{{g: gr, env: f.env}}, nil
	}
	dir, err := g.stackDir()
	if err != nil {
		return nil, err
	}
	names := []string{f.stack}
	if f.allStacks {
		if names, err = spec.Discover(dir); err != nil {
			return nil, usageErr("%v", err)
		}
	}
	var jobs []source
	for _, n := range names {
		if _, err := os.Stat(spec.FilePath(dir, n)); err != nil {
			all, _ := spec.Discover(dir)
			return nil, usageErr("unknown stack %q; stacks: %s", n, strings.Join(all, ", "))
		}
		fmt.Fprintf(progress, "-- %s: running the program under mocks\n", n)
		res, err := mockstack.RunDir(dir, n, stacks.Options{})
		if err != nil {
			var se *spec.Error
			if errors.As(err, &se) {
				return nil, usageErr("%v", err)
			}
			return nil, err
		}
		jobs = append(jobs, source{g: res.Graph, env: string(res.Spec.Environment), spec: &res.Spec})
	}
	return jobs, nil
}

// writeReport writes the reports in the flags' format to stdout or to the
// --output file.
func writeReport(stdout io.Writer, f *checkFlags, reports []*policies.Report, rules []policies.Rule) error {
	return writeTo(stdout, f.output, func(w io.Writer) error { return policies.Write(w, f.format, reports, rules) })
}

func loadWaivers(g *globals, file string, e *policies.Engine) ([]policies.Waiver, error) {
	if file == "" {
		project, err := g.project()
		if err != nil {
			return nil, nil // outside a checkout: no default waivers
		}
		file = filepath.Join(project, "policies", "waivers.yaml")
		if _, err := os.Stat(file); err != nil {
			return nil, nil
		}
	}
	return policies.LoadWaivers(file, e)
}

func newPolicyRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rules",
		Short: "List the rules with their severity and enforcement per environment",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := policies.New()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, r := range e.Rules() {
				fmt.Fprintf(out, "%-11s %-8s %-10s dev=%-9s staging=%-9s prod=%-9s %s\n", r.ID, r.Severity, r.Category,
					r.Enforcement["dev"], r.Enforcement["staging"], r.Enforcement["prod"], r.Title)
			}
			fmt.Fprintf(out, "%d rules\n", len(e.Rules()))
			return nil
		},
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
