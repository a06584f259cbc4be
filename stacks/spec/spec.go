// Package spec is the typed configuration of one CloudScale stack: what
// stacks.Deploy reads once, with the architecture guide's defaults and
// every check done before any resource is registered. It imports no cloud
// SDK so that `cloudscale validate` and its tests stay fast.
package spec

import "fmt"

// Namespace is the Pulumi config namespace of the project.
const Namespace = "cloudscale"

// Cloud is where a stack's cluster runs.
type Cloud string

const (
	AWS   Cloud = "aws"
	Azure Cloud = "azure"
	GCP   Cloud = "gcp"
	Local Cloud = "local"
)

// Clouds lists the supported clouds in the order error messages show them.
var Clouds = []Cloud{AWS, Azure, GCP, Local}

// Environment chooses how strict the platform is (replica floors, policy
// enforcement, NAT redundancy).
type Environment string

const (
	Dev     Environment = "dev"
	Staging Environment = "staging"
	Prod    Environment = "prod"
)

// Environments lists the supported environments.
var Environments = []Environment{Dev, Staging, Prod}

// Production reports whether the environment must meet the guide's HA rules
// (staging rehearses prod, so it is held to the same floors).
func (e Environment) Production() bool { return e == Staging || e == Prod }

// Spec is the validated configuration of one stack.
type Spec struct {
	Stack        string
	Cloud        Cloud
	Environment  Environment
	Region       string
	Zones        []string
	Namespace    string
	ReplicaCount int
	Resources    Resources
	Persistence  Persistence
	Cluster      Cluster
	Network      Network
	Local        LocalTarget
	GCP          GCPSettings
	Services     []Service
	Gateway      Gateway
	Mesh         Mesh
	Security     Security
}

// Resources are the default requests and limits of every platform pod.
type Resources struct {
	Limits   ResourceList
	Requests ResourceList
}

// ResourceList holds Kubernetes quantities, already checked to parse.
type ResourceList struct {
	CPU    string
	Memory string
}

// Persistence is the default volume of every data store.
type Persistence struct {
	Enabled bool
	Size    string
}

// Cluster is the Kubernetes cluster a cloud tier builds.
type Cluster struct {
	// KubernetesVersion is "major.minor", e.g. "1.33".
	KubernetesVersion string
	// NodeCount is the number of worker nodes over all zones.
	NodeCount int
	// NodeSize is the cloud's instance type; see Sizes.
	NodeSize string
	// NodeDiskGiB is the SSD root volume of every node.
	NodeDiskGiB int
	// APIAllowedCIDRs may reach the public API endpoint; empty keeps the
	// endpoint private.
	APIAllowedCIDRs []string
}

// NodesPerZone spreads NodeCount evenly over the zones (rounding up, so a
// zone is never short of capacity).
func (s Spec) NodesPerZone() int {
	z := len(s.Zones)
	if z == 0 {
		return s.Cluster.NodeCount
	}
	return (s.Cluster.NodeCount + z - 1) / z
}

// Network is the address plan of the cloud network.
type Network struct {
	CIDR string
}

// LocalTarget is where the local stack deploys.
type LocalTarget struct {
	// Kubeconfig is the path of the simulated cluster's kubeconfig, relative
	// to the project root unless absolute.
	Kubeconfig string
}

// GCPSettings are the settings only GCP needs.
type GCPSettings struct {
	Project string
}

// Key returns the full config key for a dotted path, e.g. Key("cluster.nodeCount").
func Key(path string) string { return Namespace + ":" + path }

func (s Spec) String() string {
	return fmt.Sprintf("%s (%s/%s, %s, zones %v)", s.Stack, s.Cloud, s.Environment, s.Region, s.Zones)
}
