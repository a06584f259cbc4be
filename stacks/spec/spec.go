// Package spec is the typed configuration of one CloudScale stack: what
// stacks.Deploy reads once, with the architecture guide's defaults and
// every check done before any resource is registered. It imports no cloud
// SDK so that `cloudscale validate` and its tests stay fast.
//
// The Spec is decoded strictly (sigs.k8s.io/json, as the Kubernetes API
// server decodes objects) from the keys of the cloudscale config
// namespace: each key is a field of Spec with a json tag, and each object
// key is a section type with a Default and a Validate method. Problems are
// collected as a field.ErrorList and returned together in one *Error.
// docs/configuration.md shows how a tier adds a key.
package spec

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
)

// Namespace is the Pulumi config namespace of the project.
const Namespace = "cloudscale"

// Cloud is where a stack's cluster runs.
type Cloud string

// The clouds.
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

// The environments.
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

// Spec is the validated configuration of one stack. Each tagged field is a
// key of the cloudscale config namespace, decoded in field order; a field
// whose type has Default and Validate methods (a section) gets its
// defaults before its key is decoded over them, and is checked after every
// key is decoded.
type Spec struct {
	// Stack is the stack's name (not a config key).
	Stack        string      `json:"-"`
	Cloud        Cloud       `json:"cloud"`
	Environment  Environment `json:"environment"`
	Region       string      `json:"region"`
	Zones        Zones       `json:"zones"`
	Namespace    string      `json:"namespace"`
	ReplicaCount int         `json:"replicaCount"`
	Resources    Resources   `json:"resources"`
	Persistence  Persistence `json:"persistence"`
	Cluster      Cluster     `json:"cluster"`
	Network      Network     `json:"network"`
	Local        LocalTarget `json:"local"`
	GCP          GCPSettings `json:"gcp"`
	Services     Services    `json:"services"`
	Postgres     Postgres    `json:"postgres"`
	Redis        Redis       `json:"redis"`
	MongoDB      MongoDB     `json:"mongodb"`
	RabbitMQ     RabbitMQ    `json:"rabbitmq"`
	Gateway      Gateway     `json:"gateway"`
	Mesh         Mesh        `json:"mesh"`
	Monitoring   Monitoring  `json:"monitoring"`
	Security     Security    `json:"security"`
	Chaos        Chaos       `json:"chaos"`

	// dir is where files the config names are read from.
	dir string
}

// section is a key whose value has its own defaults and rules.
type section interface {
	// Default sets the section's defaults from the keys decoded before it;
	// the section's own key is then decoded over them.
	Default(s *Spec)
	// Validate checks the section once every key is decoded, naming each
	// problem's key under p.
	Validate(s *Spec, p *field.Path) field.ErrorList
}

// Zones are the availability zones of the stack's region.
type Zones []string

// Resources are the default requests and limits of every platform pod.
type Resources struct {
	Limits   ResourceList `json:"limits"`
	Requests ResourceList `json:"requests"`
}

// ResourceList holds Kubernetes quantities, checked to parse.
type ResourceList struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

// Persistence is the default volume of every data store.
type Persistence struct {
	Enabled bool   `json:"enabled"`
	Size    string `json:"size"`
}

// Cluster is the Kubernetes cluster a cloud tier builds.
type Cluster struct {
	// KubernetesVersion is "major.minor", e.g. "1.33".
	KubernetesVersion string `json:"kubernetesVersion"`
	// NodeCount is the number of worker nodes over all zones.
	NodeCount int `json:"nodeCount"`
	// NodeSize is the cloud's instance type; see Sizes.
	NodeSize string `json:"nodeSize"`
	// NodeDiskGiB is the SSD root volume of every node.
	NodeDiskGiB int `json:"nodeDiskGiB"`
	// APIAllowedCIDRs may reach the public API endpoint; empty keeps the
	// endpoint private.
	APIAllowedCIDRs []string `json:"apiAllowedCidrs,omitempty"`
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
	CIDR string `json:"cidr"`
}

// LocalTarget is where the local stack deploys.
type LocalTarget struct {
	// Kubeconfig is the path of the simulated cluster's kubeconfig, relative
	// to the project root unless absolute.
	Kubeconfig string `json:"kubeconfig,omitempty"`
}

// GCPSettings are the settings only GCP needs.
type GCPSettings struct {
	Project string `json:"project,omitempty"`
}

// Services are the services the platform runs.
type Services []Service

// Service is a service the platform runs: the gateway may route to it and
// the mesh gives it traffic and access policy.
type Service struct {
	Name string `json:"name"`
	Port int    `json:"port"`
	// CanaryWeight is the percentage of its traffic sent to the canary.
	CanaryWeight int `json:"canaryWeight,omitempty"`
	// CanaryImage is the canary's image, by digest
	// (repository@sha256:<64 hex>), while canaryWeight is set; default
	// the service's own locked image.
	CanaryImage string `json:"canaryImage,omitempty"`
	// Replicas of the service (default replicaCount; 3 or more in
	// staging and prod).
	Replicas int `json:"replicas,omitempty"`
	// Callers are the services ("name", same namespace) that may call it,
	// besides the gateway when a route points at it.
	Callers []string `json:"callers,omitempty"`
	// SLO is the service's objectives over 30 days; unset fields take
	// DefaultSLO's.
	SLO *ServiceSLO `json:"slo,omitempty"`
}

// ServiceSLO is a service's objectives: Availability percent of its
// requests succeed (no 5xx) and LatencyTarget percent complete within
// LatencyMs milliseconds (a bucket of the mesh's duration histogram),
// written as burn-rate alerts by the monitoring tier (monitoring/slo).
type ServiceSLO struct {
	Availability  float64 `json:"availability,omitempty"`
	LatencyMs     float64 `json:"latencyMs,omitempty"`
	LatencyTarget float64 `json:"latencyTarget,omitempty"`
}

// DefaultSLO is 99.9% available and 99% of requests within 250 ms: the
// guide's availability target, and the mesh histogram's bucket above the
// api-service load benchmark's worst p99 on an idle 2-core machine (69 ms
// for orders at 400 req/s, docs/services-bench.md), with room for the
// mesh's two proxies.
var DefaultSLO = ServiceSLO{Availability: 99.9, LatencyMs: 250, LatencyTarget: 99}

// Objectives returns the service's objectives with defaults filled in.
func (s Service) Objectives() ServiceSLO {
	o := DefaultSLO
	if s.SLO != nil {
		if s.SLO.Availability != 0 {
			o.Availability = s.SLO.Availability
		}
		if s.SLO.LatencyMs != 0 {
			o.LatencyMs = s.SLO.LatencyMs
		}
		if s.SLO.LatencyTarget != 0 {
			o.LatencyTarget = s.SLO.LatencyTarget
		}
	}
	return o
}

// Names returns the set of service names.
func (ss Services) Names() map[string]bool {
	out := map[string]bool{}
	for _, s := range ss {
		out[s.Name] = true
	}
	return out
}

// Gateway is the ingress: the guide's Gateway document and how it is
// exposed.
type Gateway struct {
	// Document is the guide's Gateway document: given inline, read from
	// DocumentFile, or the guide's example when neither is given.
	Document *gatewaydoc.Document `json:"document,omitempty"`
	// DocumentFile is a YAML file holding the document, relative to the
	// stacks directory.
	DocumentFile string `json:"documentFile,omitempty"`
	// DocumentSource names where Document came from, for messages.
	DocumentSource string   `json:"-"`
	Hosts          []string `json:"hosts,omitempty"`
	// SourceRanges are the addresses the load balancer admits.
	SourceRanges []string `json:"sourceRanges,omitempty"`
	MinReplicas  int      `json:"minReplicas"`
	MaxReplicas  int      `json:"maxReplicas"`
	OIDC         OIDC     `json:"oidc"`
}

// OIDC is the identity provider whose tokens the gateway validates.
type OIDC struct {
	Issuer  string `json:"issuer,omitempty"`
	JWKSURI string `json:"jwksUri,omitempty"`
}

// Mesh is the service mesh's settings.
type Mesh struct {
	// TracingSampling is the percentage of requests traced.
	TracingSampling float64 `json:"tracingSampling"`
	IstiodReplicas  int     `json:"istiodReplicas"`
}

// Chaos is when the stack's resilience experiments run (the chaos tier's
// Schedule).
type Chaos struct {
	// Enabled turns the Schedule on.
	Enabled bool `json:"enabled"`
	// Schedule is a cron expression read as Chaos Mesh reads it.
	Schedule string `json:"schedule"`
	// BusinessHoursOnly refuses a schedule that fires outside
	// schedule.BusinessHours.
	BusinessHoursOnly bool `json:"businessHoursOnly"`
	// HistoryLimit is how many finished runs the Schedule keeps.
	HistoryLimit int `json:"historyLimit"`
}

// Security holds the certificate authority settings.
type Security struct {
	// ACME, when set, makes public certificates come from an ACME CA
	// (DNS-01 in the stack's cloud zone); otherwise from the platform's
	// private CA.
	ACME *ACME `json:"acme,omitempty"`
}

// ACME is a public certificate authority reached with DNS-01 challenges.
type ACME struct {
	Email   string `json:"email,omitempty"`
	Server  string `json:"server,omitempty"`
	DNSZone string `json:"dnsZone,omitempty"`
	// AzureSubscriptionID and AzureResourceGroup locate an Azure DNS zone
	// (Azure stacks only).
	AzureSubscriptionID string `json:"azureSubscriptionId,omitempty"`
	AzureResourceGroup  string `json:"azureResourceGroup,omitempty"`
}

// Key returns the full config key for a dotted path, e.g. Key("cluster.nodeCount").
func Key(path string) string { return Namespace + ":" + path }

func (s Spec) String() string {
	return fmt.Sprintf("%s (%s/%s, %s, zones %v)", s.Stack, s.Cloud, s.Environment, s.Region, []string(s.Zones))
}

// keyPath is the field path of a config key.
func keyPath(name string) *field.Path { return field.NewPath(Key(name)) }

func supported[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// TopKeys returns the config keys (without namespace), in the order they
// are read: the json tags of Spec.
func TopKeys() []string { return slices.Clone(topKeys) }
