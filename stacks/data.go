package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/gateway"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/monitoring"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/redis"
	"github.com/cloudscale/platform/components/security"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
	"github.com/cloudscale/platform/stacks/spec"
)

// dataArgs are the data tier's arguments, planned before the cluster
// exists; the backup store and identity are added by dataTiers.
type dataArgs struct {
	postgres *postgres.Args
	redis    *redis.Args
	ns       string
}

// planData derives the PostgreSQL and Redis tiers from the spec; gw is the
// gateway, whose rate-limit service counts in Redis when a route has a
// global limit.
func planData(s spec.Spec, mode upstream.Mode, res workload.Resources, gw *gateway.Args) dataArgs {
	sidecar := mesh.Sidecar(monitoring.TracingCollector(), monitoring.Scraper())
	var dbs []postgres.Database
	for _, d := range s.Postgres.Databases {
		dbs = append(dbs, postgres.Database{Name: d.Name, Owner: d.Owner, Clients: d.Clients})
	}
	pg := &postgres.Args{
		Mode: mode, Namespace: s.Namespace, Databases: dbs, Instances: s.Postgres.Instances,
		Production: s.Environment.Production(), SynchronousStandby: s.Environment == spec.Prod, Zones: len(s.Zones),
		StorageClass: naming.StorageClass, VolumeSize: s.Persistence.Size,
		RetentionDays: s.Postgres.BackupRetentionDays, SlowQueryMs: s.Postgres.SlowQueryMs,
		PoolerInstances: s.Postgres.PoolerInstances, Resources: res, Sidecar: sidecar, Scraper: monitoring.Scraper(),
	}
	if r := s.Postgres.Restore; r != nil {
		pg.Restore = &postgres.Restore{Database: r.Database, Source: r.Source, TargetTime: r.TargetTime}
	}
	rd := &redis.Args{
		Namespace: s.Namespace, Replicas: s.Redis.Replicas, Production: s.Environment.Production(),
		StorageClass: naming.StorageClass, VolumeSize: s.Redis.VolumeSize, Resources: res,
		Clients: s.Redis.Clients, Sidecar: &sidecar, SecretStore: security.StoreName,
	}
	if gw.Document != nil && gw.Document.Needs().GlobalLimits >= 0 {
		rd.Peers = append(rd.Peers, contract.Peer{PodLabels: map[string]string{contract.NameLabel: gateway.RateLimitName},
			NamespaceLabels: contract.InNamespace(gw.Namespace)})
		rd.Callers = append(rd.Callers, gw.Namespace+"/"+gateway.RateLimitName)
	}
	return dataArgs{postgres: pg, redis: rd, ns: s.Namespace}
}

// meshServices are the data tier's services in the mesh: each pooler
// admits its database's services, each Redis instance its clients, the
// gateway's rate-limit service and its own members (replication and the
// Sentinels' gossip). The database instances run outside the mesh: they
// speak TLS themselves and the operator calls them from outside it.
func (d dataArgs) meshServices() []mesh.Service {
	var out []mesh.Service
	for _, db := range d.postgres.Databases {
		var callers []string
		for _, svc := range db.Services() {
			callers = append(callers, d.ns+"/"+svc)
		}
		for _, typ := range []string{"rw", "ro"} {
			pooler := postgres.PoolerName(postgres.ClusterName(db.Name), typ)
			out = append(out, mesh.Service{Name: pooler, Namespace: d.ns, Port: postgres.Port, Callers: callers, Selector: postgres.PoolerLabels(pooler)})
		}
	}
	for _, inst := range redis.Topology() {
		callers := []string{d.ns + "/" + inst.Name}
		for _, c := range d.redis.Clients {
			callers = append(callers, d.ns+"/"+c)
		}
		callers = append(callers, d.redis.Callers...)
		out = append(out, mesh.Service{Name: inst.Name, Namespace: d.ns, Port: redis.Port, ExtraPorts: []int{redis.SentinelPort}, Callers: callers})
	}
	return out
}

// dataTiers composes prometheus-operator's definitions (the monitors the
// tiers declare), PostgreSQL and Redis; what the cloud tier provides (the
// storage class, the backup store and its identity) is added here.
func dataTiers(ctx *pulumi.Context, p *Platform, t *tierArgs, cluster infra.Cluster, opts ...pulumi.ResourceOption) error {
	t.postgres.StorageClass, t.redis.StorageClass = cluster.StorageClass, cluster.StorageClass
	if b := cluster.Backups; b.Kind != infra.NoBackups {
		id := cluster.Identity
		t.postgres.Backups = &postgres.BackupStore{
			Kind: string(b.Kind), Endpoint: b.Endpoint, ServiceAccount: id.BackupServiceAccount.Name,
			Annotations: id.Annotations, PodLabels: id.Labels,
		}
	}
	monitors, err := upstream.Install(ctx, "monitoring-crds", upstream.PrometheusOperatorCRDs, t.postgres.Mode, monitoring.Namespace, nil, nil, opts...)
	if err != nil {
		return err
	}
	p.Postgres, err = postgres.New(ctx, "postgres", t.postgres, append(opts, pulumi.DependsOn(monitors))...)
	if err != nil {
		return err
	}
	p.Redis, err = redis.New(ctx, "redis", t.redis, opts...)
	return err
}
