// Package service runs one of the platform's Go services (services/api,
// services/worker) on the cluster: its Deployment (and, during a canary,
// a second one) through the workload helper, its store credentials as
// files from the data tiers' Secrets, its NetworkPolicy to exactly the
// stores it uses, the mesh sidecar, traces to the platform's collector,
// its monitor and its health alert.
//
// What a service reads is its environment (Env): the names are the
// services' own (services/api/doc.go, services/worker/doc.go), secrets
// only ever as *_FILE paths of mounted Secret keys, never as values.
package service

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// The paths and ports every service serves (services/server): its API,
// /healthz, /readyz and /metrics on one port, named PortName.
const (
	PortName    = "http"
	HealthPath  = "/healthz"
	ReadyPath   = "/readyz"
	MetricsPath = "/metrics"
)

// The versions a service runs as (workload.VersionLabel), the values the
// mesh's canary subsets select (mesh.Subsets).
const (
	Stable = "stable"
	Canary = "canary"
)

// SecretsDir is where a service's Secret keys are mounted: one directory
// per Secret, one file per key (<SecretsDir>/<secret>/<key>).
const SecretsDir = "/etc/cloudscale/secrets"

// RedisUse is what a service keeps in a Redis instance; it names the
// instance's variables (REDIS_<use>_...).
type RedisUse string

// The uses of the Redis tier's two instances.
const (
	// StateUse is sessions, carts, counters and pub/sub (redis-state).
	StateUse RedisUse = "STATE"
	// CacheUse is the response cache, which may lose keys (redis-cache).
	CacheUse RedisUse = "CACHE"
)

// Redis is one Redis instance a service uses: its endpoint (Sentinels,
// TLS, the AUTH Secret) and the Secret whose ca.crt its certificate
// chains to.
type Redis struct {
	Use      RedisUse
	Endpoint contract.Redis
	CA       contract.SecretRef
}

// MongoDB is the collection a service uses on the document store, with
// the store's endpoint; the service's user is its own name.
type MongoDB struct {
	Endpoint   mongodb.Endpoint
	Collection mongodb.Collection
}

// RabbitMQ is what a service does on the broker: the queues it publishes
// to (through their exchange and routing key) and those it consumes.
type RabbitMQ struct {
	Endpoint            rabbitmq.Endpoint
	Publishes, Consumes []rabbitmq.Queue
}

// Postgres is the database a service uses: its poolers and credentials
// Secret, and the role it logs in as (the database owner's, which
// CloudNativePG writes into that Secret).
type Postgres struct {
	Endpoint postgres.Endpoint
	User     string
}

// Stores are the stores a service uses; nil or empty where it uses none.
type Stores struct {
	Postgres *Postgres
	Redis    []Redis
	MongoDB  *MongoDB
	RabbitMQ *RabbitMQ
}

// CanaryArgs is a canary release beside the stable one.
type CanaryArgs struct {
	// Image is the canary's image, by digest like the service's.
	Image string
	// Replicas of the canary (the production floor of 3 applies).
	Replicas int
}

// ServiceArgs describe one service. Namespace is the data tiers' (the
// Secrets are read there).
type ServiceArgs struct {
	Namespace string
	// Image is repository@sha256:<64 hex>; a tag alone is refused.
	Image string
	// Port serves the API, /healthz, /readyz and /metrics.
	Port     int
	Replicas int
	// Production holds it to the HA floors (3 replicas, hard zone spread).
	Production bool
	Resources  workload.Resources
	// Canary, when set, runs <name>-canary labelled version=canary behind
	// the same Service (the stable pods are labelled version=stable).
	Canary *CanaryArgs
	Stores Stores
	// Callers reach it on Port: the gateway's ingress pods where a route
	// points at it, the services that call it.
	Callers []contract.Peer
	// Calls are the services it calls (their pods, on their ports).
	Calls []contract.Peer
	// Sidecar is what its mesh proxy reaches and is reached by
	// (mesh.Sidecar); Sidecar.Metrics is the scraper.
	Sidecar contract.Sidecar
	// Tracing is the collector its spans go to over OTLP/gRPC.
	Tracing contract.Endpoint
	// TraceSampling is the share of traces it starts that it samples
	// (0 to 1).
	TraceSampling float64
}

// Service is the component.
type Service struct {
	pulumi.ResourceState

	// Name is the Service's name; ServiceAccount its pods' identity.
	Name, ServiceAccount pulumi.StringOutput
	// Endpoint is where callers reach it, with the peer selecting its
	// pods (every version) on Port.
	Endpoint contract.Endpoint
	// Identity is its mesh caller identity, "namespace/serviceaccount".
	Identity string
}

var (
	digestRef = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+@sha256:[0-9a-f]{64}$`)
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// Validate checks the arguments; NewService registers nothing unless
// they pass. The workload helper's own checks (resources, replica floors,
// peers) run too.
func (a *ServiceArgs) Validate(name string) error {
	if a == nil {
		return fmt.Errorf("service %s: args are required", name)
	}
	var errs []error
	if !dnsLabel.MatchString(name) || len(name) > 45 {
		errs = append(errs, fmt.Errorf("name %q: a DNS label of at most 45 characters (its canary is <name>-canary)", name))
	}
	if !digestRef.MatchString(a.Image) {
		errs = append(errs, fmt.Errorf("image %q: reference it by digest, repository@sha256:<64 hex> (a tag can be moved)", a.Image))
	}
	if a.Port < 1 || a.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", a.Port))
	}
	if c := a.Canary; c != nil && !digestRef.MatchString(c.Image) {
		errs = append(errs, fmt.Errorf("canary image %q: reference it by digest, repository@sha256:<64 hex>", c.Image))
	}
	if a.Tracing.Host == "" || a.Tracing.Port < 1 {
		errs = append(errs, errors.New("a tracing collector (host and port) is required"))
	}
	if a.TraceSampling < 0 || a.TraceSampling > 1 {
		errs = append(errs, fmt.Errorf("trace sampling %g: a share from 0 to 1", a.TraceSampling))
	}
	for i, c := range a.Callers {
		if !c.Selects() {
			errs = append(errs, fmt.Errorf("callers[%d]: a peer without a selector would admit everything", i))
		}
	}
	for i, c := range a.Calls {
		if !c.Selects() || len(c.Ports) == 0 {
			errs = append(errs, fmt.Errorf("calls[%d]: a peer needs a selector and ports", i))
		}
	}
	errs = append(errs, a.Stores.validate(a.Namespace)...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	env, err := Env(name, a)
	if err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	return env.workload(a).Validate(name)
}

// validate checks that every store's Secrets are in the service's
// namespace (a pod mounts only its own namespace's) and that the queues
// share one vhost.
func (s Stores) validate(ns string) []error {
	var errs []error
	if p := s.Postgres; p != nil && p.User == "" {
		errs = append(errs, fmt.Errorf("postgres %s: the role to log in as is required", p.Endpoint.Database))
	}
	for _, ref := range s.secrets() {
		if ref.Name == "" || ref.Namespace != ns {
			errs = append(errs, fmt.Errorf("secret %s/%s: a store's Secret in namespace %s is required", ref.Namespace, ref.Name, ns))
		}
	}
	for _, r := range s.Redis {
		if r.Use != StateUse && r.Use != CacheUse {
			errs = append(errs, fmt.Errorf("redis %s: use %q, allowed %s or %s", r.Endpoint.Name, r.Use, StateUse, CacheUse))
		}
		if _, _, err := r.Endpoint.Addresses(); err != nil || r.Endpoint.Mode != contract.RedisSentinel {
			errs = append(errs, fmt.Errorf("redis %s: a Sentinel endpoint (master,host:port,...) is required", r.Endpoint.Name))
		}
	}
	if q := s.RabbitMQ; q != nil {
		vhosts := map[string]bool{}
		for _, qu := range append(append([]rabbitmq.Queue(nil), q.Publishes...), q.Consumes...) {
			vhosts[vhost(qu)] = true
		}
		if len(vhosts) > 1 {
			errs = append(errs, errors.New("rabbitmq: a service's queues share one vhost"))
		}
	}
	return errs
}

// secrets are the Secrets the stores' files come from.
func (s Stores) secrets() []contract.SecretRef {
	var out []contract.SecretRef
	if p := s.Postgres; p != nil {
		out = append(out, p.Endpoint.CredentialsSecret)
	}
	for _, r := range s.Redis {
		if r.Endpoint.Auth.Name != "" {
			out = append(out, r.Endpoint.Auth)
		}
		if r.Endpoint.TLS {
			out = append(out, r.CA)
		}
	}
	if m := s.MongoDB; m != nil {
		out = append(out, m.Endpoint.Credentials, m.Endpoint.CA)
	}
	if q := s.RabbitMQ; q != nil {
		out = append(out, q.Endpoint.CA)
	}
	return out
}

// NewService registers the service: its workload (Deployments, Service,
// service account, disruption budget, NetworkPolicy), its monitor and its
// health alert.
func NewService(ctx *pulumi.Context, name string, args *ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	if err := args.Validate(name); err != nil {
		return nil, err
	}
	env, err := Env(name, args)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	s := &Service{Endpoint: Endpoint(name, args), Identity: args.Namespace + "/" + name}
	if err := ctx.RegisterComponentResource("cloudscale:services:Service", name, s, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(s, opts)
	w, err := workload.New(ctx, name, env.workload(args), child...)
	if err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, MonitoringObjects(name, args), child...); err != nil {
		return nil, err
	}
	s.Name, s.ServiceAccount = w.Service, w.ServiceAccount
	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{
		"name": s.Name, "serviceAccount": s.ServiceAccount, "endpoint": pulumi.String(s.Endpoint.Address()),
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// Endpoint is where a service is reached: its Service's name in the
// cluster, on Port, its pods (every version) as the peer.
func Endpoint(name string, a *ServiceArgs) contract.Endpoint {
	return contract.Endpoint{
		Host: name + "." + a.Namespace + ".svc.cluster.local", Port: a.Port,
		Peer: contract.Peer{PodLabels: map[string]string{contract.NameLabel: name}, NamespaceLabels: contract.InNamespace(a.Namespace), Ports: []int{a.Port}},
	}
}

// workload describes the service to the workload helper: the stable
// version (and the canary), probes on /healthz and /readyz, the mounted
// Secret keys, egress to exactly its stores, ingress from its callers and
// the sidecar's peers.
func (e Environment) workload(a *ServiceArgs) *workload.Args {
	var egress []contract.Peer
	s := a.Stores
	if p := s.Postgres; p != nil {
		egress = append(egress, p.Endpoint.ReadWrite.Peer)
	}
	for _, r := range s.Redis {
		egress = append(egress, r.Endpoint.Peer())
	}
	if m := s.MongoDB; m != nil {
		egress = append(egress, m.Endpoint.Peer)
	}
	if q := s.RabbitMQ; q != nil {
		egress = append(egress, q.Endpoint.Peer)
	}
	egress = append(egress, a.Calls...)
	var ingress []contract.Peer
	for _, c := range a.Callers {
		c.Ports = []int{a.Port}
		ingress = append(ingress, c)
	}
	// Each version reports its own build (SERVICE_VERSION), so logs,
	// traces and metrics tell the canary apart.
	versions := []workload.Version{{Name: Stable, Env: map[string]string{"SERVICE_VERSION": Version(a.Image)}}}
	if c := a.Canary; c != nil {
		versions = append(versions, workload.Version{Name: Canary, Image: c.Image, Replicas: c.Replicas,
			Env: map[string]string{"SERVICE_VERSION": Version(c.Image)}})
	}
	sidecar := a.Sidecar
	return &workload.Args{
		Namespace: a.Namespace, Image: a.Image, Container: "app",
		Env: e.Plain, Ports: []workload.Port{{Name: PortName, Port: a.Port}},
		HealthPath: HealthPath, ReadinessPath: ReadyPath,
		Replicas: a.Replicas, Production: a.Production, Resources: a.Resources,
		Versions: versions, Volumes: e.Volumes,
		Ingress: ingress, Egress: egress, Sidecar: &sidecar,
		PodAnnotations: MetricsAnnotations(a.Port),
	}
}

// MetricsAnnotations ask the mesh's sidecar to merge the service's own
// /metrics into what it serves the scraper on mesh.ProxyMergedMetricsPort
// (Istio's "metrics merging", on by default: the injector moves these
// annotations to the agent, which reads the app over the pod's loopback).
// The service's port cannot be scraped directly: the mesh's mTLS is
// STRICT and Prometheus is outside the mesh, and the port also serves the
// API, so it cannot bypass the sidecar as an exporter's port does.
func MetricsAnnotations(port int) map[string]string {
	return map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": fmt.Sprint(port), "prometheus.io/path": MetricsPath}
}

// MergedMetricsPath is where the sidecar's agent serves the merged
// metrics on mesh.ProxyMergedMetricsPort.
const MergedMetricsPath = "/stats/prometheus"
