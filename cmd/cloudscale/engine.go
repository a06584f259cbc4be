package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cloudscale/platform/cmd/cloudscale/engine"
	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/spec"
)

var engineOps = []struct {
	op    engine.Op
	short string
}{
	{engine.Up, "Deploy a stack with the Pulumi engine (or render it with --render)"},
	{engine.Preview, "Show what `up` would change"},
	{engine.Destroy, "Delete everything a stack deployed"},
	{engine.Refresh, "Read the real state of a stack's resources into its state"},
}

// engineCmd is one engine operation's flags.
type engineCmd struct {
	g             *globals
	op            engine.Op
	stack, render string
	verbose, json bool
}

func newEngineCmd(g *globals, o struct {
	op    engine.Op
	short string
}) *cobra.Command {
	e := &engineCmd{g: g, op: o.op}
	cmd := &cobra.Command{
		Use:   string(o.op) + " --stack NAME",
		Short: o.short,
		Args:  cobra.NoArgs,
		RunE:  e.run,
	}
	cmd.Flags().StringVar(&e.stack, "stack", "", "the stack (see `cloudscale stacks`)")
	cmd.Flags().BoolVarP(&e.verbose, "verbose", "v", false, "also print the engine's own output")
	cmd.Flags().BoolVar(&e.json, "json", false, "print the summary as JSON on stdout (progress goes to stderr)")
	if o.op == engine.Up || o.op == engine.Preview {
		cmd.Flags().StringVar(&e.render, "render", "", "render the local stack's YAML into this directory instead of deploying")
	}
	return cmd
}

func (e *engineCmd) run(cmd *cobra.Command, _ []string) error {
	if e.stack == "" {
		return usageErr("--stack is required; `cloudscale stacks` lists them")
	}
	project, err := e.g.project()
	if err != nil {
		return err
	}
	s, opts, err := e.options(project)
	if err != nil {
		return err
	}
	if s.Cloud == spec.Local && opts.RenderDir == "" && e.op != engine.Destroy {
		if err := e.localCluster(cmd, project, s); err != nil {
			return err
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	out := cmd.OutOrStdout()
	if e.json {
		out = cmd.ErrOrStderr() // keep stdout for the JSON summary
	}
	sum, err := engine.Run(ctx, engine.Request{
		Op: e.op, Stack: e.stack, ProjectDir: project, Program: stacks.Program(opts),
		Out: out, Verbose: e.verbose, Ephemeral: opts.RenderDir != "",
	})
	if e.json {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(sum); jerr != nil && err == nil {
			err = jerr
		}
	} else if sum.Result != "" {
		fmt.Fprintln(out, sum)
	}
	if err != nil {
		return err
	}
	if opts.RenderDir != "" {
		fmt.Fprintf(out, "rendered YAML in %s\n", opts.RenderDir)
	}
	return nil
}

// options validate the stack before the engine starts (a bad value is
// named here, with every other problem, before anything is touched) and
// the --render directory.
func (e *engineCmd) options(project string) (spec.Spec, stacks.Options, error) {
	stackDir := filepath.Join(project, "stacks")
	opts := stacks.Options{StacksDir: stackDir}
	if _, err := os.Stat(spec.FilePath(stackDir, e.stack)); err != nil {
		names, _ := spec.Discover(stackDir)
		return spec.Spec{}, opts, usageErr("unknown stack %q; stacks: %s", e.stack, strings.Join(names, ", "))
	}
	s, err := spec.LoadFile(spec.FilePath(stackDir, e.stack))
	if err != nil {
		return s, opts, usageErr("%v", err)
	}
	if e.render == "" {
		return s, opts, nil
	}
	switch {
	case e.op != engine.Up && e.op != engine.Preview:
		return s, opts, usageErr("--render works with up and preview only")
	case s.Cloud != spec.Local:
		return s, opts, usageErr("--render works only for cloud local; stack %s is on %s", e.stack, s.Cloud)
	}
	if opts.RenderDir, err = filepath.Abs(e.render); err != nil {
		return s, opts, usageErr("--render %s: %v", e.render, err)
	}
	return s, opts, nil
}

// localCluster starts the simulated cluster when the stack targets it and
// it is not running; a kubeconfig elsewhere is the user's own.
func (e *engineCmd) localCluster(cmd *cobra.Command, project string, s spec.Spec) error {
	kc := s.Local.Kubeconfig
	if !filepath.IsAbs(kc) {
		kc = filepath.Join(project, kc)
	}
	cp, err := e.g.controlPlane(cmd)
	if err != nil {
		return err
	}
	if kc == cp.Kubeconfig() && !cp.Running() {
		fmt.Fprintln(cmd.OutOrStdout(), "==> starting the local cluster")
		if err := cp.Start(cmd.Context(), false); err != nil {
			return fmt.Errorf("local cluster: %w", err)
		}
	}
	if _, err := os.Stat(kc); err != nil {
		return usageErr("stack %s: no cluster kubeconfig at %s (cloudscale:local.kubeconfig); point it at a cluster, or render the stack with --render DIR", e.stack, kc)
	}
	return nil
}
