package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloudscale/platform/cmd/cloudscale/engine"
	"github.com/cloudscale/platform/infra/local/controlplane"
)

func (g *globals) controlPlane(cmd *cobra.Command) (*controlplane.Cluster, error) {
	project, err := g.project()
	if err != nil {
		return nil, err
	}
	return controlplane.New(filepath.Join(project, ".cloudscale", "cluster"), engine.BinDir(project), cmd.OutOrStdout()), nil
}

func newClusterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "The local simulated control plane the local stack deploys into"}
	var fresh, asJSON, chaosMesh bool
	start := &cobra.Command{
		Use:   "start [--fresh] [--chaos-mesh=false]",
		Short: "Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with 6 nodes over 3 zones (and the Chaos Mesh controller)",
		Long: "Start the simulated control plane on 127.0.0.1. With --chaos-mesh (the default once `make tools` built\n" +
			"chaos-controller-manager) the genuine Chaos Mesh controller runs beside it, its CRDs installed and its\n" +
			"validating and mutating webhooks registered, so the API server enforces Chaos Mesh's own validation.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.controlPlane(cmd)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("chaos-mesh") {
				c.ChaosMesh = chaosMesh
			}
			ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer cancel()
			t := time.Now()
			fmt.Fprintf(cmd.OutOrStdout(), "==> local cluster in %s\n", c.Dir)
			if err := c.Start(ctx, fresh); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "local cluster ready in %.1fs; kubeconfig %s\n", time.Since(t).Seconds(), c.Kubeconfig())
			return nil
		},
	}
	start.Flags().BoolVar(&fresh, "fresh", false, "stop it and wipe its data first")
	start.Flags().BoolVar(&chaosMesh, "chaos-mesh", true, "run the Chaos Mesh controller (needs `make tools`; default: when it is built)")
	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the processes `cluster start` started (by their recorded PIDs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.controlPlane(cmd)
			if err != nil {
				return err
			}
			if err := c.Stop(); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "local cluster stopped")
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Each component's health and the ready nodes per zone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return clusterStatus(cmd, g, asJSON)
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(start, stop, status)
	return cmd
}

// clusterStatus prints each component's health and the ready nodes per
// zone, as a list or JSON; it fails when the cluster is not healthy.
func clusterStatus(cmd *cobra.Command, g *globals, asJSON bool) error {
	c, err := g.controlPlane(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err == nil && st.Healthy() {
		// What an interrupted chaos run left (a lost or cordoned node, a
		// chaos object, a stuck finalizer) is undone here too.
		err = cleanLeftovers(ctx, c, cmd.ErrOrStderr())
	}
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(st); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		for _, p := range st.Processes {
			state := "healthy"
			if !p.Healthy {
				state = "DOWN: " + p.Detail
			}
			fmt.Fprintf(out, "  %-24s pid %-7d %s\n", p.Name, p.PID, state)
		}
		var zones []string
		for _, z := range st.Zones() {
			zones = append(zones, fmt.Sprintf("%s=%d", z, st.NodesPerZone[z]))
		}
		fmt.Fprintf(out, "  %-24s %d ready (%s)\n", "nodes", st.ReadyNodes, strings.Join(zones, ", "))
	}
	if err != nil {
		return err
	}
	if !st.Healthy() {
		return &exitError{code: 1, err: fmt.Errorf("the local cluster is not healthy; `cloudscale cluster start` starts what is down")}
	}
	return nil
}
