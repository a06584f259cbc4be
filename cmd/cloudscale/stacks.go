package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cloudscale/platform/stacks/spec"
)

type stackRow struct {
	Stack       string   `json:"stack"`
	Cloud       string   `json:"cloud,omitempty"`
	Environment string   `json:"environment,omitempty"`
	Region      string   `json:"region,omitempty"`
	Zones       []string `json:"zones,omitempty"`
	Nodes       string   `json:"nodes,omitempty"`
	Kubernetes  string   `json:"kubernetes,omitempty"`
	Error       string   `json:"error,omitempty"`
}

func newStacksCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stacks",
		Short: "List the environment stacks with their cloud, environment, region and zones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.stackDir()
			if err != nil {
				return err
			}
			names, err := spec.Discover(dir)
			if err != nil {
				return usageErr("%v", err)
			}
			var rows []stackRow
			invalid := 0
			for _, n := range names {
				s, err := spec.LoadFile(spec.FilePath(dir, n))
				if err != nil {
					invalid++
					var se *spec.Error
					msg := err.Error()
					if errors.As(err, &se) {
						msg = fmt.Sprintf("invalid: %d problems (run `cloudscale validate --stack %s`)", len(se.Problems), n)
					}
					rows = append(rows, stackRow{Stack: n, Error: msg})
					continue
				}
				rows = append(rows, stackRow{
					Stack: n, Cloud: string(s.Cloud), Environment: string(s.Environment), Region: s.Region,
					Zones: s.Zones, Kubernetes: s.Cluster.KubernetesVersion,
					Nodes: fmt.Sprintf("%d x %s", s.Cluster.NodeCount, s.Cluster.NodeSize),
				})
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rows); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STACK\tCLOUD\tENVIRONMENT\tREGION\tZONES\tNODES\tKUBERNETES")
				for _, r := range rows {
					if r.Error != "" {
						fmt.Fprintf(tw, "%s\t%s\n", r.Stack, r.Error)
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Stack, r.Cloud, r.Environment, r.Region,
						strings.Join(r.Zones, ","), r.Nodes, r.Kubernetes)
				}
				tw.Flush()
				fmt.Fprintf(out, "%d stacks, %d valid\n", len(rows), len(rows)-invalid)
			}
			if invalid > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d stacks have invalid configuration", invalid, len(rows))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
