package controlplane

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeletLabel=KubeletValue marks a node whose kubelet kwok plays. Taking
// the label away loses the node (see kwokProcess); setting it back brings
// the node back.
const (
	KubeletLabel = "kwok.x-k8s.io/node"
	KubeletValue = "fake"
)

// Node is one simulated node.
type Node struct {
	Name string
	Zone string
}

// DefaultNodes spreads n nodes round-robin over zones; each has the
// guide's minimum size (4 CPU, 16 GiB, 100 GB).
func DefaultNodes(n int, zones []string) []Node {
	out := make([]Node, n)
	for i := range out {
		z := zones[i%len(zones)]
		out[i] = Node{Name: fmt.Sprintf("sim-%s-%d", z, i/len(zones)+1), Zone: z}
	}
	return out
}

// Client is a client-go clientset for the local cluster.
func (c *Cluster) Client() (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 10 * time.Second
	return kubernetes.NewForConfig(cfg)
}

// registerNodes creates the simulated nodes kwok manages (the annotation
// selects them) and waits for them to be Ready.
func (c *Cluster) registerNodes(ctx context.Context) error {
	if len(c.Nodes) == 0 {
		return nil
	}
	client, err := c.Client()
	if err != nil {
		return err
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("4"),
		corev1.ResourceMemory:           resource.MustParse("16Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
	}
	for _, n := range c.Nodes {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        n.Name,
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
					"topology.kubernetes.io/zone": n.Zone, "topology.kubernetes.io/region": "local",
					"node.kubernetes.io/instance-type": "sim-4cpu-16gi", "type": "kwok", KubeletLabel: KubeletValue,
				},
			},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
		}
		_, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// A node from an older start, or one a chaos run lost and an
			// interrupted run left behind: kwok plays its kubelet again.
			patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, KubeletLabel, KubeletValue)
			_, err = client.CoreV1().Nodes().Patch(ctx, n.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
		}
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := c.Status(ctx)
		if err == nil && st.ReadyNodes == len(c.Nodes) {
			fmt.Fprintf(c.out(), "  %-24s %d ready over %d zones\n", "nodes", st.ReadyNodes, len(st.NodesPerZone))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes not ready after 60s (%d of %d)", st.ReadyNodes, len(c.Nodes))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Status is the health of every process and the nodes per zone.
type Status struct {
	Processes    []ProcessStatus `json:"processes"`
	ReadyNodes   int             `json:"readyNodes"`
	NodesPerZone map[string]int  `json:"nodesPerZone"`
	Kubeconfig   string          `json:"kubeconfig"`
}

// ProcessStatus is one process's state.
type ProcessStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid"`
	Healthy bool   `json:"healthy"`
	Detail  string `json:"detail,omitempty"`
}

// Healthy is true when every process is up and healthy.
func (s Status) Healthy() bool {
	for _, p := range s.Processes {
		if !p.Healthy {
			return false
		}
	}
	return len(s.Processes) > 0
}

// Status asks every process for its health and the API server for nodes.
func (c *Cluster) Status(ctx context.Context) (Status, error) {
	st := Status{NodesPerZone: map[string]int{}, Kubeconfig: c.Kubeconfig()}
	_ = c.readToken()
	for _, p := range c.Processes {
		ps := ProcessStatus{Name: p.Name, PID: c.pid(p)}
		if !c.enabled(p) && ps.PID == 0 {
			continue
		}
		switch {
		case ps.PID == 0:
			ps.Detail = "not running"
		case p.Healthy != nil:
			if err := p.Healthy(ctx, c); err != nil {
				ps.Detail = err.Error()
			} else {
				ps.Healthy = true
			}
		default:
			ps.Healthy = true
		}
		st.Processes = append(st.Processes, ps)
	}
	if !exists(c.Kubeconfig()) {
		return st, nil
	}
	client, err := c.Client()
	if err != nil {
		return st, err
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return st, err
	}
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				st.ReadyNodes++
				st.NodesPerZone[n.Labels["topology.kubernetes.io/zone"]]++
			}
		}
	}
	return st, nil
}

// Zones lists the zones with ready nodes, sorted.
func (s Status) Zones() []string {
	var out []string
	for z := range s.NodesPerZone {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}
