// Package redis is the data tier's Redis (cloudscale:data:Redis): two
// replicated instances with Sentinel, run through the workload helper
// (docs/data.md says why not a chart or an operator):
//
//   - "redis-state" holds what must never be evicted by cache pressure:
//     sessions, the gateway's rate-limit counters and pub/sub. maxmemory
//     policy noeviction (a full instance refuses writes rather than drop a
//     session or reset a counter), append-only file fsynced every second on
//     a volume of the cluster's encrypted class;
//   - "redis-cache" holds the API response cache: allkeys-lru, no
//     persistence (a cold cache after a restart is only slower).
//
// Each is a StatefulSet of Replicas pods over the zones, each pod running
// Redis and a Sentinel (quorum a majority: 2 of 3), which fail the master
// over to a replica. Both serve TLS only (a certificate from the platform's
// CA) and require AUTH with a password generated in the cluster by External
// Secrets' Password generator: it never passes through the program, its
// state or its rendered files. The image is Valkey, the Linux Foundation's
// BSD-licensed fork of Redis 7.2 (Redis 7.4 and later are RSALv2/SSPL or
// AGPL), which speaks the same protocol and ships redis-server, redis-cli
// and Sentinel under their Redis names.
package redis

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/workload"
)

// Ports of every member.
const (
	Port         = contract.RedisDataPort
	SentinelPort = 26379
	// ExporterPort is the metrics exporter's beside each server
	// (oliver006/redis_exporter's default, 9121), named ExporterPortName.
	ExporterPort     = 9121
	ExporterPortName = "metrics"
)

// Names of what the tier writes.
const (
	// AuthSecret holds the generated password (key AuthKey) in the tier's
	// namespace; AuthVaultPath is where it is also kept in Vault (property
	// AuthKey), for clients in other namespaces.
	AuthSecret    = "redis-auth"
	AuthKey       = "password"
	AuthVaultPath = "redis/auth"
	// TLSSecret is the members' certificate (tls.crt, tls.key, ca.crt).
	TLSSecret = "redis-tls"
	// Scripts is the ConfigMap of the members' start and probe scripts.
	Scripts = "redis-scripts"
)

// Role is a use of Redis the guide names.
type Role string

// The roles.
const (
	Sessions Role = "sessions"
	Cache    Role = "cache"
	Counters Role = "rate-limit counters"
	PubSub   Role = "pub/sub"
)

// Instance is one replicated Redis with its own memory policy.
type Instance struct {
	Name  string
	Roles []Role
	// EvictionPolicy is maxmemory-policy.
	EvictionPolicy string
	// Persistent instances keep an append-only file on a volume.
	Persistent bool
}

// Topology is the two instances and why: the roles that must survive
// memory pressure and restarts apart from the one that may lose keys.
func Topology() []Instance {
	return []Instance{
		{Name: "redis-state", Roles: []Role{Sessions, Counters, PubSub}, EvictionPolicy: "noeviction", Persistent: true},
		{Name: "redis-cache", Roles: []Role{Cache}, EvictionPolicy: "allkeys-lru"},
	}
}

// Args configure the tier.
type Args struct {
	Namespace string
	// Replicas per instance: members of the Sentinel set (3 in staging and
	// prod, one per zone).
	Replicas   int
	Production bool
	// StorageClass is the cluster's encrypted class; VolumeSize the
	// persistent instance's volume.
	StorageClass, VolumeSize string
	Resources                workload.Resources
	// Clients are the services (in Namespace) that use Redis; Peers are
	// further clients elsewhere (the gateway's rate-limit service), with
	// Callers their mesh identities ("namespace/serviceaccount").
	Clients []string
	Peers   []contract.Peer
	Callers []string
	Sidecar *contract.Sidecar
	// SecretStore is the ClusterSecretStore (Vault) the password is pushed
	// to for clients in other namespaces.
	SecretStore string
}

// Validate checks the arguments; New registers nothing unless they pass.
func (a *Args) Validate() error {
	var errs []error
	if a.Namespace == "" {
		errs = append(errs, errors.New("namespace is required"))
	}
	if a.Replicas < 1 || (a.Production && a.Replicas < 3) {
		errs = append(errs, fmt.Errorf("replicas %d: at least 1 (3 in staging and prod: a Sentinel majority survives one loss)", a.Replicas))
	}
	if a.SecretStore == "" {
		errs = append(errs, errors.New("a secret store for the password's copy is required"))
	}
	if a.StorageClass == "" || a.VolumeSize == "" {
		errs = append(errs, errors.New("a storage class and a volume size are required (the state instance persists)"))
	}
	if _, err := MaxMemory(a.Resources); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Quorum is the Sentinels that must agree a master is down: a majority of
// the members, so a failover needs no more than a majority can give.
func Quorum(replicas int) int { return replicas/2 + 1 }

// MaxMemory is what Redis may hold, in bytes: three quarters of the
// container's memory limit, leaving room for the replication buffers,
// copy-on-write during rewrites and the allocator's fragmentation.
func MaxMemory(r workload.Resources) (int64, error) {
	q, err := resource.ParseQuantity(r.LimitMemory)
	if err != nil {
		return 0, fmt.Errorf("memory limit %q: %w", r.LimitMemory, err)
	}
	if q.Value() < 64<<20 {
		return 0, fmt.Errorf("memory limit %s: at least 64Mi for Redis", r.LimitMemory)
	}
	return q.Value() / 4 * 3, nil
}

// Hosts are the members' stable names (<pod>.<headless service>).
func (i Instance) Hosts(ns string, replicas int) []string {
	var out []string
	for n := range replicas {
		out = append(out, fmt.Sprintf("%s-%d.%s.%s.svc.cluster.local", i.Name, n, i.Name, ns))
	}
	return out
}

// Endpoint is how clients reach instance i: its Sentinels (SENTINEL mode,
// the master set named after the instance), over TLS, with AUTH.
func (i Instance) Endpoint(ns string, replicas int) contract.Redis {
	addrs := []string{i.Name}
	for _, h := range i.Hosts(ns, replicas) {
		addrs = append(addrs, h+":"+strconv.Itoa(SentinelPort))
	}
	return contract.Redis{
		Mode: contract.RedisSentinel, URL: strings.Join(addrs, ","), Namespace: ns, Name: i.Name, TLS: true,
		Auth: contract.SecretRef{Namespace: ns, Name: AuthSecret}, AuthVaultPath: AuthVaultPath,
	}
}

// Certificate is the members' certificate: every member's name, the
// headless services' and 127.0.0.1 for the probes.
func Certificate(ns string, replicas int) contract.Certificate {
	var names []string
	for _, i := range Topology() {
		names = append(names, i.Hosts(ns, replicas)...)
		names = append(names, i.Name+"."+ns+".svc.cluster.local", i.Name+"."+ns+".svc")
	}
	return contract.Certificate{Name: TLSSecret, Namespace: ns, DNSNames: names, IPAddresses: []string{"127.0.0.1"}}
}
