package stacks

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/gateway"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/monitoring"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/redis"
	"github.com/cloudscale/platform/components/service"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/infra"
	imagelock "github.com/cloudscale/platform/services"
	"github.com/cloudscale/platform/stacks/spec"
)

// serviceArgs is one declared service's arguments, and the digest of its
// image (the registry is the cluster's).
type serviceArgs struct {
	name, digest string
	// canaryImage is the configured canary image, if any.
	canaryImage string
	args        *service.ServiceArgs
}

// planServices derives every declared service's arguments: its image by
// digest, replicas and canary, the stores it uses (storesOf), who calls it
// and whom it calls, the mesh sidecar and the collector. Its image is in
// the public registry until servicesTier knows the cluster's.
func planServices(s spec.Spec, d dataArgs, gw *gateway.Args, res workload.Resources) ([]serviceArgs, error) {
	routed := map[string]bool{}
	for _, b := range gw.Backends() {
		routed[b.Service] = true
	}
	tracing := monitoring.TracingCollector()
	var out []serviceArgs
	for _, svc := range s.Services {
		stores, err := storesOf(svc.Name, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Key("services"), err)
		}
		digest, err := imageDigest(svc.Name)
		if err != nil {
			return nil, err
		}
		replicas := svc.Replicas
		if replicas == 0 {
			replicas = s.ReplicaCount
		}
		a := &service.ServiceArgs{
			Namespace: s.Namespace, Image: infra.Registry{}.Image(svc.Name, digest), Port: svc.Port,
			Replicas: replicas, Production: s.Environment.Production(), Resources: res, Stores: stores,
			Sidecar: mesh.Sidecar(tracing, monitoring.Scraper()), Tracing: tracing, TraceSampling: s.Mesh.TracingSampling / 100,
		}
		if routed[svc.Name] {
			a.Callers = append(a.Callers, contract.Peer{PodLabels: gateway.IngressSelector, NamespaceLabels: contract.InNamespace(gw.Namespace)})
		}
		for _, c := range svc.Callers {
			a.Callers = append(a.Callers, contract.Peer{PodLabels: map[string]string{contract.NameLabel: c}})
		}
		for _, callee := range s.Services {
			if slices.Contains(callee.Callers, svc.Name) {
				a.Calls = append(a.Calls, contract.Peer{PodLabels: map[string]string{contract.NameLabel: callee.Name}, Ports: []int{callee.Port}})
			}
		}
		if svc.CanaryWeight > 0 {
			a.Canary = &service.CanaryArgs{Image: svc.CanaryImage, Replicas: canaryReplicas(s, replicas, svc.CanaryWeight)}
			if a.Canary.Image == "" {
				a.Canary.Image = a.Image // the same digest until a new build is tried
			}
		}
		out = append(out, serviceArgs{name: svc.Name, digest: digest, canaryImage: svc.CanaryImage, args: a})
	}
	return out, nil
}

// canaryReplicas is a canary's share of the replicas, never below the
// environment's floor (3 in staging and prod: a canary is held to the
// same HA rules as what it may replace) nor above the stable's.
func canaryReplicas(s spec.Spec, stable, weight int) int {
	floor := min(stable, 2)
	if s.Environment.Production() {
		floor = spec.MinProdReplicas
	}
	return max(floor, (stable*weight+99)/100)
}

// storesOf is the stores service name uses, from the data tiers' own
// declarations (cloudscale:postgres.databases owner/clients,
// cloudscale:redis.clients, cloudscale:mongodb.collections owner/clients,
// cloudscale:rabbitmq.queues publishers/consumers) and their endpoints.
// A service reads one database and one collection (POSTGRES_* and
// MONGODB_* name one each): more is an error naming them.
func storesOf(name string, d dataArgs) (service.Stores, error) {
	var st service.Stores
	var dbs []postgres.Database
	for _, db := range d.postgres.Databases {
		if slices.Contains(db.Services(), name) {
			dbs = append(dbs, db)
		}
	}
	switch len(dbs) {
	case 0:
	case 1:
		st.Postgres = &service.Postgres{Endpoint: postgres.Endpoints(d.ns, dbs)[0], User: ownerRole(d.postgres, dbs[0])}
	default:
		return st, fmt.Errorf("%s uses the databases %s and %s; a service uses one", name, dbs[0].Name, dbs[1].Name)
	}
	if slices.Contains(d.redis.Clients, name) {
		for _, inst := range redis.Topology() {
			st.Redis = append(st.Redis, service.Redis{Use: redisUse(inst), Endpoint: inst.Endpoint(d.ns, d.redis.Replicas),
				CA: contract.SecretRef{Namespace: d.ns, Name: redis.TLSSecret}})
		}
	}
	var cols []mongodb.Collection
	for _, c := range d.mongodb.Collections {
		if c.Owner == name || slices.Contains(c.Clients, name) {
			cols = append(cols, c)
		}
	}
	switch len(cols) {
	case 0:
	case 1:
		st.MongoDB = &service.MongoDB{Endpoint: mongodb.NewEndpoint(d.ns, d.mongodb.Collections), Collection: cols[0]}
	default:
		return st, fmt.Errorf("%s uses the collections %s and %s; a service uses one", name, cols[0].Namespace(), cols[1].Namespace())
	}
	var q service.RabbitMQ
	for _, qu := range d.rabbitmq.Queues {
		if slices.Contains(qu.Publishers, name) {
			q.Publishes = append(q.Publishes, qu)
		}
		if slices.Contains(qu.Consumers, name) {
			q.Consumes = append(q.Consumes, qu)
		}
	}
	if len(q.Publishes)+len(q.Consumes) > 0 {
		q.Endpoint = rabbitmq.NewEndpoint(d.ns, d.rabbitmq.Queues)
		st.RabbitMQ = &q
	}
	return st, nil
}

// ownerRole is the role the services of database db log in as: the
// owner the PostgreSQL tier bootstraps its Cluster with (CloudNativePG
// writes that role's credentials into the application Secret).
func ownerRole(a *postgres.Args, db postgres.Database) string {
	b := postgres.Cluster(a, db).Spec.Bootstrap
	switch {
	case b == nil:
		return ""
	case b.InitDB != nil:
		return b.InitDB.Owner
	case b.Recovery != nil:
		return b.Recovery.Owner
	}
	return ""
}

// redisUse is what the services keep in a Redis instance, by its roles:
// the cache instance (it may evict) or the state instance.
func redisUse(inst redis.Instance) service.RedisUse {
	if slices.Contains(inst.Roles, redis.Cache) {
		return service.CacheUse
	}
	return service.StateUse
}

// imageDigest is the digest of service name's image, from the images
// lock (services/images.json, written by `make images`); a service the
// lock does not hold is an error naming it.
func imageDigest(name string) (string, error) {
	digests, err := imagelock.Digests()
	if err != nil {
		return "", err
	}
	d, ok := digests[name]
	if !ok {
		return "", fmt.Errorf("%s: services/images.json has no image for %s; add it to services.All and run `make images`", spec.Key("services"), name)
	}
	return d, nil
}

// servicesTier registers every declared service, after the data tiers
// and the mesh (opts carry them), beside the gateway: its image (and its
// canary's, unless configured) from the cluster's registry, which it
// waits for.
func servicesTier(ctx *pulumi.Context, p *Platform, planned []serviceArgs, cluster infra.Cluster, opts ...pulumi.ResourceOption) error {
	if rs := cluster.Registry.Resources; len(rs) > 0 {
		opts = append(opts, pulumi.DependsOn(rs))
	}
	for _, sa := range planned {
		a := *sa.args
		a.Image = cluster.Registry.Image(sa.name, sa.digest)
		if c := a.Canary; c != nil {
			canary := *c
			if canary.Image = sa.canaryImage; canary.Image == "" {
				canary.Image = a.Image // the same digest until a new build is tried
			}
			a.Canary = &canary
		}
		svc, err := service.NewService(ctx, sa.name, &a, opts...)
		if err != nil {
			return err
		}
		p.Services = append(p.Services, svc)
	}
	return nil
}
