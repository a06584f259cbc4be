// Package mockstack runs a stack's real program (stacks.Program) under
// Pulumi mocks, with no engine, cloud or cluster, and returns every resource
// it registers as plain data (graph.Resource). Tests read stacks through it;
// the CLI feeds its graph to the policy engine and the chaos planner.
package mockstack

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/mocks"
	"github.com/cloudscale/platform/stacks/spec"
)

// Project is the Pulumi project name the URNs carry.
const Project = mocks.Project

// Result is what a mocked run registered (see mocks.Result).
type Result = mocks.Result

// Monitor is the mock monitor Run uses for stack s, for tests that run a
// program of their own (e.g. stacks.NewPlatform, to read what a tier
// hands the next) with the same realistic invokes and outputs.
func Monitor(s spec.Spec) pulumi.MockResourceMonitor { return mocks.New(s) }

// RunFile runs the stack whose settings file is path (Pulumi.<stack>.yaml).
func RunFile(path string, opts stacks.Options) (Result, error) {
	name, err := spec.StackName(path)
	if err != nil {
		return Result{}, err
	}
	raw, err := spec.ReadConfigFile(path)
	if err != nil {
		return Result{}, err
	}
	if opts.StacksDir == "" {
		opts.StacksDir = filepath.Dir(path)
	}
	return Run(name, raw, opts)
}

// RunDir runs the named stack from the settings files in dir.
func RunDir(dir, stack string, opts stacks.Options) (Result, error) {
	return RunFile(spec.FilePath(dir, stack), opts)
}

// Run runs stack with the given raw config (as spec.Load takes it).
func Run(stack string, raw map[string]string, opts stacks.Options) (Result, error) {
	s, err := spec.LoadIn(opts.StacksDir, stack, raw)
	if err != nil {
		return Result{}, err
	}
	m := mocks.New(s)
	cfg := map[string]string{}
	for k, v := range raw {
		if !strings.Contains(k, ":") {
			k = spec.Key(k)
		}
		cfg[k] = v
	}
	err = pulumi.RunErr(stacks.Program(opts),
		pulumi.WithMocks(Project, stack, m),
		func(info *pulumi.RunInfo) { info.Config = cfg })
	if err != nil {
		return Result{}, fmt.Errorf("stack %s under mocks: %w", stack, err)
	}
	return m.Result(), nil
}
