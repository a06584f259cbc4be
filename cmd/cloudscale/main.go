// Command cloudscale deploys and checks the CloudScale platform: stack
// operations through the Pulumi Automation API, configuration validation,
// and the stack listing.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// exitError carries an exit code: 1 for a failed check or run, 2 for a
// usage or input error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	root := newRoot()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

type globals struct {
	projectDir string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "cloudscale",
		Short:         "Deploy, check and prove the CloudScale platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.projectDir, "project-dir", "", "the CloudScale checkout (default: found from the working directory)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr("%v", err) })
	root.AddCommand(newStacksCmd(g), newValidateCmd(g), newPolicyCmd(g), newChaosCmd(g), newClusterCmd(g), newImagesCmd(g))
	for _, op := range engineOps {
		root.AddCommand(newEngineCmd(g, op))
	}
	return root
}

// project returns the checkout's root: the directory holding Pulumi.yaml.
func (g *globals) project() (string, error) {
	if g.projectDir != "" {
		abs, err := filepath.Abs(g.projectDir)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(filepath.Join(abs, "Pulumi.yaml")); err != nil {
			return "", usageErr("--project-dir %s: no Pulumi.yaml there", g.projectDir)
		}
		return abs, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "Pulumi.yaml")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", usageErr("no Pulumi.yaml in %s or above; run inside the CloudScale checkout or pass --project-dir", dir)
		}
	}
}

func (g *globals) stackDir() (string, error) {
	p, err := g.project()
	if err != nil {
		return "", err
	}
	return filepath.Join(p, "stacks"), nil
}
