package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/policies"
)

// newPolicyBenchCmd measures the rule set on generated manifests, and
// conftest on the same files when given one.
func newPolicyBenchCmd() *cobra.Command {
	var count, perFile, runs int
	var conftest string
	cmd := &cobra.Command{
		Use:   "bench [--count N] [--conftest PATH]",
		Short: "Time the rule set on N generated Kubernetes objects, side by side with conftest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			dir, err := os.MkdirTemp("", "cloudscale-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			objs := policies.Generate(count)
			files := 0
			for i := 0; i < len(objs); i += perFile {
				var b bytes.Buffer
				for _, o := range objs[i:min(i+perFile, len(objs))] {
					y, err := yaml.Marshal(o)
					if err != nil {
						return err
					}
					b.WriteString("---\n")
					b.Write(y)
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("objects-%04d.yaml", files)), b.Bytes(), 0o644); err != nil {
					return err
				}
				files++
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "-- %d objects in %d files under %s\n", len(objs), files, dir)

			e, err := policies.New(policies.Workers(1))
			if err != nil {
				return err
			}
			// One core for the engine, as conftest gets below.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			best := time.Duration(1<<63 - 1)
			findings := 0
			for r := 0; r < runs; r++ {
				start := time.Now()
				g, err := policies.LoadManifests(dir)
				if err != nil {
					return err
				}
				rep, err := e.Check(context.Background(), g, "prod")
				if err != nil {
					return err
				}
				best = min(best, time.Since(start))
				findings = len(rep.Findings)
				fmt.Fprintf(cmd.ErrOrStderr(), "-- cloudscale run %d: %.2fs, %d findings\n", r+1, time.Since(start).Seconds(), findings)
			}
			perObj := float64(best.Microseconds()) / float64(len(objs))
			fmt.Fprintf(out, "| tool | objects | rules | best of %d (1 core, parse + evaluate) | µs/object | findings |\n|---|---|---|---|---|---|\n", runs)
			fmt.Fprintf(out, "| cloudscale policy engine | %d | %d | %.2f s | %.1f | %d |\n", len(objs), len(e.Rules()), best.Seconds(), perObj, findings)
			if conftest == "" {
				return nil
			}
			ct, n, err := runConftest(cmd, conftest, dir, runs)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "| conftest (same Rego, per document) | %d | %d | %.2f s | %.1f | %d |\n", len(objs), len(e.Rules()), ct.Seconds(), float64(ct.Microseconds())/float64(len(objs)), n)
			fmt.Fprintf(out, "\nratio conftest / cloudscale: %.1fx (GOMAXPROCS=1 for both; %s)\n", ct.Seconds()/best.Seconds(), runtime.Version())
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 10000, "objects to generate")
	cmd.Flags().IntVar(&perFile, "per-file", 100, "objects per YAML file")
	cmd.Flags().IntVar(&runs, "runs", 3, "runs; the best is reported")
	cmd.Flags().StringVar(&conftest, "conftest", "", "a conftest binary to run side by side")
	return cmd
}

// runConftest writes the rules, their data and the wrapper where conftest
// reads them and times `conftest test` on the same files.
func runConftest(cmd *cobra.Command, bin, manifests string, runs int) (time.Duration, int, error) {
	pol, err := os.MkdirTemp("", "cloudscale-conftest-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(pol)
	mods, err := policies.Modules(false)
	if err != nil {
		return 0, 0, err
	}
	for name, src := range mods {
		p := filepath.Join(pol, "policy", strings.ReplaceAll(name, "/", "_"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, 0, err
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			return 0, 0, err
		}
	}
	if err := os.WriteFile(filepath.Join(pol, "policy", "main.rego"), []byte(policies.ConftestWrapper), 0o644); err != nil {
		return 0, 0, err
	}
	settings, err := policies.DefaultSettings()
	if err != nil {
		return 0, 0, err
	}
	raw, _ := json.Marshal(policies.Data(settings))
	if err := os.WriteFile(filepath.Join(pol, "data.json"), raw, 0o644); err != nil {
		return 0, 0, err
	}
	best := time.Duration(1<<63 - 1)
	n := 0
	for r := 0; r < runs; r++ {
		c := exec.Command(bin, "test", "--policy", filepath.Join(pol, "policy"), "--data", filepath.Join(pol, "data.json"),
			"--all-namespaces", "--no-fail", "--output", "json", manifests)
		c.Env = append(os.Environ(), "GOMAXPROCS=1")
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		start := time.Now()
		if err := c.Run(); err != nil {
			return 0, 0, fmt.Errorf("conftest: %v: %s", err, stderr.String())
		}
		d := time.Since(start)
		best = min(best, d)
		var results []struct {
			Failures []any `json:"failures"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
			return 0, 0, fmt.Errorf("conftest output: %v", err)
		}
		n = 0
		for _, res := range results {
			n += len(res.Failures)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "-- conftest run %d: %.2fs, %d failures\n", r+1, d.Seconds(), n)
	}
	return best, n, nil
}
