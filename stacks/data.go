package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/gateway"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/monitoring"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
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
	mongodb  *mongodb.Args
	rabbitmq *rabbitmq.Args
	ns       string
}

// planData derives the PostgreSQL, Redis, MongoDB and RabbitMQ tiers
// from the spec; gw is the
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
	return dataArgs{postgres: pg, redis: rd, mongodb: planMongoDB(s, mode, res), rabbitmq: planRabbitMQ(s, mode, res), ns: s.Namespace}
}

// AzureMongoDBBackupSecret is the Secret the MongoDB operator reads Azure
// Blob credentials from (its Azure storage has no workload identity),
// filled from Vault by the secrets tier.
const AzureMongoDBBackupSecret = "mongodb-backup-azure"

// planMongoDB derives the document store; its volumes default to
// persistence.size.
func planMongoDB(s spec.Spec, mode upstream.Mode, res workload.Resources) *mongodb.Args {
	m := s.MongoDB
	size := m.VolumeSize
	if size == "" {
		size = s.Persistence.Size
	}
	a := &mongodb.Args{
		Mode: mode, Namespace: s.Namespace, Shards: m.Shards, Members: m.Members, MongosReplicas: m.MongosReplicas,
		Production: s.Environment.Production(), Zones: len(s.Zones), StorageClass: naming.StorageClass, VolumeSize: size,
		RetentionDays: m.BackupRetentionDays, Resources: res, Scraper: monitoring.Scraper(),
	}
	for _, c := range m.Collections {
		a.Collections = append(a.Collections, mongodb.Collection{Database: c.Database, Collection: c.Collection, ShardKey: c.ShardKey,
			Hashed: c.Hashed, TextIndex: c.TextIndex, Owner: c.Owner, Clients: c.Clients})
	}
	return a
}

// planRabbitMQ derives the message queue and its topology.
func planRabbitMQ(s spec.Spec, mode upstream.Mode, res workload.Resources) *rabbitmq.Args {
	r := s.RabbitMQ
	a := &rabbitmq.Args{
		Mode: mode, Namespace: s.Namespace, Replicas: r.Replicas, Production: s.Environment.Production(), Zones: len(s.Zones),
		StorageClass: naming.StorageClass, VolumeSize: r.VolumeSize, Resources: res, Scraper: monitoring.Scraper(),
		Federation: rabbitmq.Federation{Exchanges: r.Federation.Exchanges},
	}
	for _, q := range r.Queues {
		q = q.WithDefaults()
		a.Queues = append(a.Queues, rabbitmq.Queue{Name: q.Name, Vhost: q.Vhost, Exchange: q.Exchange, RoutingKey: q.RoutingKey,
			DeliveryLimit: q.DeliveryLimit, Priority: q.Priority, Publishers: q.Publishers, Consumers: q.Consumers})
	}
	for _, u := range r.Federation.Upstreams {
		a.Federation.Upstreams = append(a.Federation.Upstreams, rabbitmq.Upstream{Name: u.Name, URISecret: u.URISecret})
	}
	return a
}

// certificates are the data tier's certificates, issued by the
// certificate tier.
func (d dataArgs) certificates() []contract.Certificate {
	return append(append([]contract.Certificate{redis.Certificate(d.ns, d.redis.Replicas)}, mongodb.Certificates(d.mongodb)...),
		rabbitmq.Certificate(d.ns))
}

// vaultSecrets are the data tier's secrets delivered from Vault: on Azure,
// the storage account credentials the MongoDB backups need.
func (d dataArgs) vaultSecrets(s spec.Spec) []contract.VaultSecret {
	if s.Cloud != spec.Azure {
		return nil
	}
	return []contract.VaultSecret{{Name: AzureMongoDBBackupSecret, Namespace: d.ns, VaultPath: "mongodb/backup-azure",
		Keys: map[string]string{"AZURE_STORAGE_ACCOUNT_NAME": "account", "AZURE_STORAGE_ACCOUNT_KEY": "key"}}}
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

// dataTiers composes PostgreSQL, Redis, MongoDB and RabbitMQ (opts carry
// the monitoring kinds' definitions their monitors need); what the cloud tier provides (the
// storage class, the backup store and its identity) is added here.
func dataTiers(ctx *pulumi.Context, p *Platform, t *tierArgs, cluster infra.Cluster, opts ...pulumi.ResourceOption) error {
	t.postgres.StorageClass, t.redis.StorageClass = cluster.StorageClass, cluster.StorageClass
	t.mongodb.StorageClass, t.rabbitmq.StorageClass = cluster.StorageClass, cluster.StorageClass
	if b := cluster.Backups; b.Kind != infra.NoBackups {
		id := cluster.Identity
		t.postgres.Backups = &postgres.BackupStore{
			Kind: string(b.Kind), Endpoint: b.Endpoint, ServiceAccount: id.BackupServiceAccount.Name,
			Annotations: id.Annotations, PodLabels: id.Labels,
		}
		t.mongodb.Backups = &mongodb.BackupStore{
			Kind: string(b.Kind), Bucket: b.Bucket, Region: b.Region, ServiceAccount: id.BackupServiceAccount.Name, PodLabels: id.Labels,
		}
		if b.Kind == infra.AzureBlob {
			t.mongodb.Backups.CredentialsSecret = AzureMongoDBBackupSecret
		}
	}
	var err error
	p.Postgres, err = postgres.New(ctx, "postgres", t.postgres, opts...)
	if err != nil {
		return err
	}
	p.Redis, err = redis.New(ctx, "redis", t.redis, opts...)
	if err != nil {
		return err
	}
	// The backup service account is the PostgreSQL tier's.
	p.MongoDB, err = mongodb.New(ctx, "mongodb", t.mongodb, append(opts, pulumi.DependsOn([]pulumi.Resource{p.Postgres}))...)
	if err != nil {
		return err
	}
	p.RabbitMQ, err = rabbitmq.New(ctx, "rabbitmq", t.rabbitmq, opts...)
	return err
}
