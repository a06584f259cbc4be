// Package contract holds the typed values one Kubernetes tier hands
// another: who may talk to it (a NetworkPolicy peer), where it is (a DNS
// name and port), what a client needs (a Secret), and what it asks of the
// shared tiers (a certificate, a secret from Vault, access for its
// operator's namespace). Each tier exports its own values; stacks only
// wires one tier's values into another's arguments.
//
// It imports no Pulumi SDK and no operator API, so the stack's
// configuration (stacks/spec) and the policy and chaos readers can use
// these types too.
package contract

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// NamespaceNameLabel is the label the API server sets on every namespace
// to its name (Kubernetes 1.22+), so a NetworkPolicy can select one.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// NameLabel is the recommended label that names an application; the
// workload helper selects a workload's pods by it.
const NameLabel = "app.kubernetes.io/name"

// InNamespace returns the namespace selector of namespace ns.
func InNamespace(ns string) map[string]string {
	return map[string]string{NamespaceNameLabel: ns}
}

// Peer is who may reach a workload (ingress) or whom it may reach
// (egress), as one NetworkPolicy peer with its ports: pods with PodLabels
// (an empty, non-nil map selects every pod) in the namespaces with
// NamespaceLabels (nil: the workload's own namespace), or, when CIDRs are
// set, those address blocks instead (clients outside the cluster, cloud
// APIs). Ports are TCP.
type Peer struct {
	PodLabels       map[string]string
	NamespaceLabels map[string]string
	CIDRs           []string
	Ports           []int
}

// Selects reports whether the peer names anything: a NetworkPolicy peer
// without a selector or address block would admit every source.
func (p Peer) Selects() bool {
	return len(p.PodLabels) > 0 || len(p.NamespaceLabels) > 0 || len(p.CIDRs) > 0
}

// SecretRef names a Secret.
type SecretRef struct {
	Namespace, Name string
}

// Endpoint is a service one tier offers others: the DNS name and port
// clients use, the peer that selects its pods (egress to it is opened to
// this peer), and, when it has one, the Secret a client needs (a CA
// certificate or credentials).
type Endpoint struct {
	// Host is the in-cluster DNS name, e.g. "istiod.istio-system.svc".
	Host string
	Port int
	Peer Peer
	// Secret is empty when a client needs none.
	Secret SecretRef
}

// Address is host:port.
func (e Endpoint) Address() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Sidecar is what a workload's mesh proxy must reach and be reached by,
// besides the workload's own peers: the mesh's control plane
// (configuration and certificates), the collector its spans go to, and the
// scraper that reads the proxy's metrics (with the proxy's metrics ports).
type Sidecar struct {
	ControlPlane, Tracing, Metrics Peer
}

// Peers returns the three peers by role, for checks and messages.
func (s Sidecar) Peers() map[string]Peer {
	return map[string]Peer{"control plane": s.ControlPlane, "tracing": s.Tracing, "metrics": s.Metrics}
}

// OperatorNamespace is the namespace an operator's chart runs in and the
// TCP ports its pods serve (webhooks and APIs, which the API server calls
// from outside the pod network) and call (the API server, cloud APIs,
// peers). The security baseline opens exactly these, besides traffic
// within the namespace.
type OperatorNamespace struct {
	Name                      string
	IngressPorts, EgressPorts []int
	// PodSecurity is the Pod Security Admission level the namespace
	// enforces when its chart needs more than "restricted" (the default),
	// e.g. "privileged" for Chaos Mesh's node agent, which enters other
	// containers' namespaces to inject faults.
	PodSecurity string
}

// Certificate is a certificate a tier needs issued (by the certificate
// tier) into a Secret of its own.
type Certificate struct {
	// Name is the Certificate's and its Secret's name.
	Name, Namespace string
	DNSNames        []string
	// IPAddresses are IP SANs (127.0.0.1 for clients inside the pod).
	IPAddresses []string
	// Public certificates come from the public (ACME) issuer when the
	// stack has one; the rest from the platform's private CA.
	Public bool
}

// VaultSecret is an application secret a tier needs delivered from Vault
// into a Kubernetes Secret of its namespace (by the secrets tier), so that
// no secret value passes through the program, its state or rendered files.
type VaultSecret struct {
	Name, Namespace string
	// VaultPath is the KV v2 path under secret/, e.g. "gateway/api-keys".
	VaultPath string
	// Keys maps a key of the Kubernetes Secret to a property at VaultPath.
	Keys map[string]string
	// Merge writes the keys into a Secret the tier creates itself (with a
	// safe placeholder) instead of creating the Secret.
	Merge bool
}

// RedisMode is how a client reaches a Redis: the values of the Envoy
// rate-limit service's REDIS_TYPE.
type RedisMode string

// The Redis modes.
const (
	RedisSingle   RedisMode = "SINGLE"
	RedisSentinel RedisMode = "SENTINEL"
	RedisCluster  RedisMode = "CLUSTER"
)

// RedisModes lists the modes in the order messages show them.
var RedisModes = []RedisMode{RedisSingle, RedisSentinel, RedisCluster}

// RedisDataPort is the port a Sentinel hands out for its master: the
// platform's Redis serves data on the default port.
const RedisDataPort = 6379

// Redis is a Redis a tier keeps counters, sessions or caches in: how its
// clients reach it and which pods it runs as. The stack's configuration
// names one with type, url and namespace (cloudscale:gateway.rateLimitRedis);
// the Redis tier exports the same.
type Redis struct {
	// Mode is SINGLE, SENTINEL or CLUSTER.
	Mode RedisMode `json:"type"`
	// URL is host:port for SINGLE; host:port,... for CLUSTER; and
	// master,host:port,... for SENTINEL.
	URL string `json:"url"`
	// Namespace is where its pods run.
	Namespace string `json:"namespace"`
	// Name is the app.kubernetes.io/name label of its pods (default
	// "redis", as the Bitnami chart and the common operators label them).
	Name string `json:"-"`
	// TLS: clients connect with TLS only, trusting the platform's CA.
	TLS bool `json:"-"`
	// Auth is the Secret (key "password") in Namespace that holds the
	// password clients AUTH with; AuthVaultPath the Vault KV path (property
	// "password") other namespaces read it from. Empty: no AUTH.
	Auth          SecretRef `json:"-"`
	AuthVaultPath string    `json:"-"`
}

// Addresses splits URL into the master name (SENTINEL only) and the
// host:port addresses, or reports what is wrong with it.
func (r Redis) Addresses() (master string, addrs []string, err error) {
	parts := strings.Split(r.URL, ",")
	switch r.Mode {
	case RedisSentinel:
		if len(parts) < 2 || strings.TrimSpace(parts[0]) == "" || strings.Contains(parts[0], ":") {
			return "", nil, fmt.Errorf("want master,host:port[,host:port...]")
		}
		master, parts = parts[0], parts[1:]
	case RedisSingle:
		if len(parts) != 1 {
			return "", nil, fmt.Errorf("want one host:port")
		}
	}
	for _, a := range parts {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return "", nil, fmt.Errorf("%q is not host:port", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", nil, fmt.Errorf("%q: port out of range", a)
		}
	}
	return master, parts, nil
}

// Peer selects the Redis pods (labelled app.kubernetes.io/name: Name)
// on the ports its clients use: those in URL, and for SENTINEL also the
// data port the Sentinels hand out.
func (r Redis) Peer() Peer {
	var ports []int
	if r.Mode == RedisSentinel {
		ports = append(ports, RedisDataPort)
	}
	_, addrs, _ := r.Addresses()
	for _, a := range addrs {
		_, p, _ := net.SplitHostPort(a)
		if n, err := strconv.Atoi(p); err == nil && !slices.Contains(ports, n) {
			ports = append(ports, n)
		}
	}
	slices.Sort(ports)
	name := r.Name
	if name == "" {
		name = "redis"
	}
	return Peer{PodLabels: map[string]string{NameLabel: name}, NamespaceLabels: InNamespace(r.Namespace), Ports: ports}
}
