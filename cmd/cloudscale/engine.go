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

func newEngineCmd(g *globals, o struct {
	op    engine.Op
	short string
}) *cobra.Command {
	var stack, render string
	var verbose, asJSON bool
	cmd := &cobra.Command{
		Use:   string(o.op) + " --stack NAME",
		Short: o.short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stack == "" {
				return usageErr("--stack is required; `cloudscale stacks` lists them")
			}
			project, err := g.project()
			if err != nil {
				return err
			}
			// Validate before starting the engine: a bad value is named here,
			// with every other problem, before anything is touched.
			stackDir := filepath.Join(project, "stacks")
			if _, err := os.Stat(spec.FilePath(stackDir, stack)); err != nil {
				names, _ := spec.Discover(stackDir)
				return usageErr("unknown stack %q; stacks: %s", stack, strings.Join(names, ", "))
			}
			s, err := spec.LoadFile(spec.FilePath(stackDir, stack))
			if err != nil {
				return usageErr("%v", err)
			}
			opts := stacks.Options{StacksDir: stackDir}
			if render != "" {
				if o.op != engine.Up && o.op != engine.Preview {
					return usageErr("--render works with up and preview only")
				}
				if s.Cloud != spec.Local {
					return usageErr("--render works only for cloud local; stack %s is on %s", stack, s.Cloud)
				}
				if opts.RenderDir, err = filepath.Abs(render); err != nil {
					return usageErr("--render %s: %v", render, err)
				}
			}
			if s.Cloud == spec.Local && opts.RenderDir == "" && o.op != engine.Destroy {
				kc := s.Local.Kubeconfig
				if !filepath.IsAbs(kc) {
					kc = filepath.Join(project, kc)
				}
				cp, err := g.controlPlane(cmd)
				if err != nil {
					return err
				}
				// The default target is the simulated cluster: start it when
				// it is not running. A kubeconfig elsewhere is the user's own.
				if kc == cp.Kubeconfig() && !cp.Running() {
					fmt.Fprintln(cmd.OutOrStdout(), "==> starting the local cluster")
					if err := cp.Start(cmd.Context(), false); err != nil {
						return fmt.Errorf("local cluster: %w", err)
					}
				}
				if _, err := os.Stat(kc); err != nil {
					return usageErr("stack %s: no cluster kubeconfig at %s (cloudscale:local.kubeconfig); point it at a cluster, or render the stack with --render DIR", stack, kc)
				}
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			out := cmd.OutOrStdout()
			if asJSON {
				out = cmd.ErrOrStderr() // keep stdout for the JSON summary
			}
			sum, err := engine.Run(ctx, engine.Request{
				Op: o.op, Stack: stack, ProjectDir: project, Program: stacks.Program(opts),
				Out: out, Verbose: verbose, Ephemeral: opts.RenderDir != "",
			})
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				_ = enc.Encode(sum)
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
		},
	}
	cmd.Flags().StringVar(&stack, "stack", "", "the stack (see `cloudscale stacks`)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also print the engine's own output")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON on stdout (progress goes to stderr)")
	if o.op == engine.Up || o.op == engine.Preview {
		cmd.Flags().StringVar(&render, "render", "", "render the local stack's YAML into this directory instead of deploying")
	}
	return cmd
}
