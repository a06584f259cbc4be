package spec

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Defaults of the data tier.
const (
	// DefaultBackupRetentionDays keeps 30 days of base backups and WAL.
	DefaultBackupRetentionDays = 30
	// DefaultSlowQueryMs logs statements slower than half a second.
	DefaultSlowQueryMs = 500
	// DefaultRedisReplicas is a Sentinel set of 3: a majority survives the
	// loss of any one member, which 2 cannot give.
	DefaultRedisReplicas = 3
	// DefaultRedisVolumeSize holds the state instance's append-only file.
	DefaultRedisVolumeSize = "10Gi"
)

// Postgres is cloudscale:postgres: the databases the services own and
// how their clusters run.
type Postgres struct {
	// Databases each get a CloudNativePG Cluster.
	Databases []Database `json:"databases"`
	// Instances per Cluster (default replicaCount, capped at the zones; 3
	// or more in staging and prod, at most one per zone).
	Instances int `json:"instances"`
	// PoolerInstances per PgBouncer pooler (default 2, 3 in prod).
	PoolerInstances int `json:"poolerInstances"`
	// BackupRetentionDays of base backups and WAL (default 30).
	BackupRetentionDays int `json:"backupRetentionDays"`
	// SlowQueryMs is log_min_duration_statement (default 500; 0 logs every
	// statement).
	SlowQueryMs int `json:"slowQueryMs"`
	// Restore bootstraps one database's Cluster from the backup store's
	// archive (point-in-time recovery into a new cluster).
	Restore *PostgresRestore `json:"restore,omitempty"`
}

// Database is one database and the services that use it.
type Database struct {
	Name string `json:"name"`
	// Owner is the service that owns it.
	Owner string `json:"owner"`
	// Clients are further services that connect to it.
	Clients []string `json:"clients,omitempty"`
}

// PostgresRestore names the archive and the time to recover to.
type PostgresRestore struct {
	// Database is a declared database.
	Database string `json:"database"`
	// Source is the server name whose archive is read (default the
	// database's own Cluster, postgres-<database>).
	Source string `json:"source,omitempty"`
	// TargetTime is an RFC 3339 time (default: the end of the archive).
	TargetTime string `json:"targetTime,omitempty"`
}

// Default is replicaCount instances, poolers of 2 (3 in prod), 30 days of
// backups and a 500 ms slow-statement log.
func (p *Postgres) Default(s *Spec) {
	pooler := 2
	if s.Environment == Prod {
		pooler = 3
	}
	*p = Postgres{Instances: s.ReplicaCount, PoolerInstances: pooler, BackupRetentionDays: DefaultBackupRetentionDays, SlowQueryMs: DefaultSlowQueryMs}
}

var (
	databaseName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	serverName   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// Validate checks the databases against the services, the instance count
// against the environment and zones, and the restore.
func (p *Postgres) Validate(s *Spec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	services := s.Services.Names()
	known := slices.Sorted(maps.Keys(services))
	seen := map[string]bool{}
	for i, d := range p.Databases {
		f := path.Child("databases").Index(i)
		switch {
		case !databaseName.MatchString(d.Name):
			errs = append(errs, field.Invalid(f.Child("name"), d.Name, "not a database name; use at most 40 lowercase letters, digits and '_', starting with a letter"))
		case seen[d.Name]:
			errs = append(errs, field.Duplicate(f.Child("name"), d.Name))
		}
		seen[d.Name] = true
		if d.Owner == "" {
			errs = append(errs, field.Required(f.Child("owner"), "the service that owns the database"))
		} else if !services[d.Owner] {
			errs = append(errs, field.NotSupported(f.Child("owner"), d.Owner, known))
		}
		for j, c := range d.Clients {
			if !services[c] {
				errs = append(errs, field.NotSupported(f.Child("clients").Index(j), c, known))
			}
		}
	}
	lo := map[bool]int{true: MinProdReplicas, false: 1}[s.Environment.Production()]
	switch {
	case p.Instances == s.ReplicaCount && (p.Instances < lo || p.Instances > len(s.Zones)):
		// Inherited from replicaCount: a floor is reported there, and
		// instances are capped to the zones.
		if p.Instances > len(s.Zones) && len(s.Zones) > 0 {
			p.Instances = max(len(s.Zones), lo)
		}
	case p.Instances < lo:
		errs = append(errs, field.Invalid(path.Child("instances"), p.Instances, fmt.Sprintf("too few for %s; allowed: %d or more", s.Environment, lo)))
	case p.Instances > 1 && p.Instances > len(s.Zones):
		errs = append(errs, field.Invalid(path.Child("instances"), p.Instances, fmt.Sprintf("more than the %d zones; at most one instance per zone", len(s.Zones))))
	}
	if lo := map[bool]int{true: 3, false: 2}[s.Environment == Prod]; p.PoolerInstances < lo {
		errs = append(errs, field.Invalid(path.Child("poolerInstances"), p.PoolerInstances, fmt.Sprintf("too few for %s; allowed: %d or more", s.Environment, lo)))
	}
	if p.BackupRetentionDays < 1 {
		errs = append(errs, field.Invalid(path.Child("backupRetentionDays"), p.BackupRetentionDays, "keeps no backup; allowed: 1 or more"))
	}
	if p.SlowQueryMs < 0 {
		errs = append(errs, field.Invalid(path.Child("slowQueryMs"), p.SlowQueryMs, "allowed: 0 (every statement) or more"))
	}
	if r := p.Restore; r != nil {
		errs = append(errs, r.validate(s, seen, path.Child("restore"))...)
	}
	return errs
}

func (r PostgresRestore) validate(s *Spec, declared map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !declared[r.Database] {
		errs = append(errs, field.NotSupported(p.Child("database"), r.Database, slices.Sorted(maps.Keys(declared))))
	}
	if r.Source != "" && !serverName.MatchString(r.Source) {
		errs = append(errs, field.Invalid(p.Child("source"), r.Source, "not a server name (a Cluster's name, e.g. postgres-orders)"))
	}
	if r.TargetTime != "" {
		if _, err := time.Parse(time.RFC3339, r.TargetTime); err != nil {
			errs = append(errs, field.Invalid(p.Child("targetTime"), r.TargetTime, "not an RFC 3339 time; e.g. 2026-11-30T12:00:00Z"))
		}
	}
	if s.Cloud == Local {
		errs = append(errs, field.Forbidden(p, "the local stack has no backup store to recover from"))
	}
	return errs
}

// Redis is cloudscale:redis: the Sentinel sets' size and the state
// instance's volume.
type Redis struct {
	// Replicas per instance (default 3: Redis and Sentinel in each member).
	Replicas int `json:"replicas"`
	// VolumeSize of the state instance's append-only file (default 10Gi).
	VolumeSize string `json:"volumeSize"`
	// Clients are the services that use Redis (default all).
	Clients []string `json:"clients,omitempty"`
}

// Default is 3 members, 10Gi, every service a client.
func (r *Redis) Default(s *Spec) {
	*r = Redis{Replicas: DefaultRedisReplicas, VolumeSize: DefaultRedisVolumeSize}
	for _, svc := range s.Services {
		r.Clients = append(r.Clients, svc.Name)
	}
}

// Validate checks the member count, the volume and the clients.
func (r *Redis) Validate(s *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if lo := map[bool]int{true: MinProdReplicas, false: 1}[s.Environment.Production()]; r.Replicas < lo || r.Replicas%2 == 0 {
		errs = append(errs, field.Invalid(p.Child("replicas"), r.Replicas, fmt.Sprintf("a Sentinel set needs an odd number of members, %d or more in %s (a majority must survive one loss)", lo, s.Environment)))
	}
	if q, err := resource.ParseQuantity(r.VolumeSize); err != nil || q.Sign() <= 0 {
		errs = append(errs, field.Invalid(p.Child("volumeSize"), r.VolumeSize, "not a size; e.g. 10Gi"))
	}
	services := s.Services.Names()
	for i, c := range r.Clients {
		if !services[c] {
			errs = append(errs, field.NotSupported(p.Child("clients").Index(i), c, slices.Sorted(maps.Keys(services))))
		}
	}
	return errs
}

// Defaults of the document store and the message queue.
const (
	// DefaultMongoDBShards is two shards, the least that shards at all.
	DefaultMongoDBShards = 2
	// DefaultMongoDBMembers per replica set (and config server set).
	DefaultMongoDBMembers = 3
	// DefaultRabbitMQReplicas is three nodes: quorum queues keep a
	// majority through one node's loss.
	DefaultRabbitMQReplicas = 3
	// DefaultRabbitMQVolumeSize holds each node's message store.
	DefaultRabbitMQVolumeSize = "20Gi"
	// DefaultDeliveryLimit is a queue's deliveries before dead-lettering.
	DefaultDeliveryLimit = 5
)

// MongoDB is cloudscale:mongodb: the sharded cluster's shape and the
// collections the services declare.
type MongoDB struct {
	// Shards is the number of shard replica sets (default 2).
	Shards int `json:"shards"`
	// Members per replica set, the config server set's too (default 3;
	// odd; 3 or more in staging and prod, at most one per zone in prod).
	Members int `json:"members"`
	// MongosReplicas routers (default 3; 3 or more in staging and prod).
	MongosReplicas int `json:"mongosReplicas"`
	// VolumeSize of each member (empty: persistence.size).
	VolumeSize string `json:"volumeSize"`
	// BackupRetentionDays of daily backups (default 30).
	BackupRetentionDays int `json:"backupRetentionDays"`
	// Collections are the services' collections, created, sharded and
	// indexed by their owners at start.
	Collections []MongoCollection `json:"collections"`
}

// MongoCollection is one collection.
type MongoCollection struct {
	Database   string `json:"database"`
	Collection string `json:"collection"`
	// ShardKey is the shard key's fields in order; Hashed shards on the
	// hash of its one field.
	ShardKey []string `json:"shardKey"`
	Hashed   bool     `json:"hashed,omitempty"`
	// TextIndex are the fields of its text index.
	TextIndex []string `json:"textIndex,omitempty"`
	// Owner is the service that creates it; Clients read it.
	Owner   string   `json:"owner"`
	Clients []string `json:"clients,omitempty"`
}

// Default is 2 shards of 3 members, 3 routers, 30 days of backups.
func (m *MongoDB) Default(s *Spec) {
	*m = MongoDB{Shards: DefaultMongoDBShards, Members: DefaultMongoDBMembers, MongosReplicas: 3, BackupRetentionDays: DefaultBackupRetentionDays}
}

var (
	mongoName  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	fieldPath  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	queueName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,200}$`)
	bindingKey = regexp.MustCompile(`^[A-Za-z0-9_.*#-]+$`)
)

// Validate checks the shape against the environment and zones, and each
// collection against the services.
func (m *MongoDB) Validate(s *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	lo := map[bool]int{true: MinProdReplicas, false: 1}[s.Environment.Production()]
	if m.Shards < 2 {
		errs = append(errs, field.Invalid(p.Child("shards"), m.Shards, "a sharded cluster needs 2 or more shards"))
	}
	switch {
	case m.Members < lo || m.Members%2 == 0:
		errs = append(errs, field.Invalid(p.Child("members"), m.Members, fmt.Sprintf("a replica set needs an odd number of members, %d or more in %s", lo, s.Environment)))
	case s.Environment == Prod && len(s.Zones) >= MinProdReplicas && m.Members > len(s.Zones):
		// (fewer zones are reported under zones)
		errs = append(errs, field.Invalid(p.Child("members"), m.Members, fmt.Sprintf("more than the %d zones; prod places one member per zone", len(s.Zones))))
	}
	if m.MongosReplicas < lo {
		errs = append(errs, field.Invalid(p.Child("mongosReplicas"), m.MongosReplicas, fmt.Sprintf("too few for %s; allowed: %d or more", s.Environment, lo)))
	}
	if q, err := resource.ParseQuantity(m.VolumeSize); m.VolumeSize != "" && (err != nil || q.Sign() <= 0) {
		errs = append(errs, field.Invalid(p.Child("volumeSize"), m.VolumeSize, "not a size; e.g. 100Gi"))
	}
	if m.BackupRetentionDays < 1 {
		errs = append(errs, field.Invalid(p.Child("backupRetentionDays"), m.BackupRetentionDays, "keeps no backup; allowed: 1 or more"))
	}
	services := s.Services.Names()
	known := slices.Sorted(maps.Keys(services))
	seen := map[string]bool{}
	for i, c := range m.Collections {
		errs = append(errs, c.validate(seen, services, known, p.Child("collections").Index(i))...)
	}
	return errs
}

// validate checks one collection: its names (once each), shard key and
// text-index fields, and its services.
func (c MongoCollection) validate(seen, services map[string]bool, known []string, f *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !mongoName.MatchString(c.Database) || c.Database == "admin" || c.Database == "config" || c.Database == "local" {
		errs = append(errs, field.Invalid(f.Child("database"), c.Database, "a lowercase database name, not admin, config or local"))
	}
	if !mongoName.MatchString(c.Collection) {
		errs = append(errs, field.Invalid(f.Child("collection"), c.Collection, "a lowercase collection name (letters, digits, _ and -)"))
	}
	if ns := c.Database + "." + c.Collection; seen[ns] {
		errs = append(errs, field.Duplicate(f.Child("collection"), ns))
	} else {
		seen[ns] = true
	}
	switch {
	case len(c.ShardKey) == 0:
		errs = append(errs, field.Required(f.Child("shardKey"), "the fields the collection is sharded on"))
	case c.Hashed && len(c.ShardKey) != 1:
		errs = append(errs, field.Invalid(f.Child("shardKey"), c.ShardKey, "a hashed shard key has exactly one field"))
	}
	for j, k := range c.ShardKey {
		if !fieldPath.MatchString(k) {
			errs = append(errs, field.Invalid(f.Child("shardKey").Index(j), k, "not a field path (e.g. sku, address.country)"))
		}
	}
	for j, k := range c.TextIndex {
		if !fieldPath.MatchString(k) {
			errs = append(errs, field.Invalid(f.Child("textIndex").Index(j), k, "not a field path (e.g. name, description)"))
		}
	}
	return append(errs, serviceRefs(c.Owner, c.Clients, services, known, f.Child("owner"), f.Child("clients"))...)
}

// serviceRefs checks that owner is a declared service and every client too.
func serviceRefs(owner string, clients []string, services map[string]bool, known []string, ownerPath, clientsPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if owner == "" {
		errs = append(errs, field.Required(ownerPath, "a declared service"))
	} else if !services[owner] {
		errs = append(errs, field.NotSupported(ownerPath, owner, known))
	}
	for j, c := range clients {
		if !services[c] {
			errs = append(errs, field.NotSupported(clientsPath.Index(j), c, known))
		}
	}
	return errs
}

// RabbitMQ is cloudscale:rabbitmq: the cluster's size, the queues the
// services declare and federation from other regions.
type RabbitMQ struct {
	// Replicas is the node count (default 3; odd; 3 or more in staging
	// and prod).
	Replicas int `json:"replicas"`
	// VolumeSize of each node (default 20Gi).
	VolumeSize string          `json:"volumeSize"`
	Queues     []RabbitMQQueue `json:"queues"`
	// Federation is off when upstreams is empty.
	Federation RabbitMQFederation `json:"federation"`
}

// RabbitMQQueue is one durable quorum queue, its exchange and binding.
type RabbitMQQueue struct {
	Name string `json:"name"`
	// Vhost is the virtual host (default "/").
	Vhost string `json:"vhost,omitempty"`
	// Exchange is the topic exchange the queue is bound to with RoutingKey.
	Exchange   string `json:"exchange"`
	RoutingKey string `json:"routingKey"`
	// DeliveryLimit is the deliveries before dead-lettering (default 5).
	DeliveryLimit int `json:"deliveryLimit,omitempty"`
	// Priority: its publishers send time-sensitive messages with a
	// priority (RabbitMQ 4 quorum queues deliver 5 and above first).
	Priority bool `json:"priority,omitempty"`
	// Publishers (at least one) and Consumers are declared services.
	Publishers []string `json:"publishers"`
	Consumers  []string `json:"consumers,omitempty"`
}

// WithDefaults is q with the default vhost ("/") and delivery limit (5)
// where it gives none.
func (q RabbitMQQueue) WithDefaults() RabbitMQQueue {
	if q.Vhost == "" {
		q.Vhost = "/"
	}
	if q.DeliveryLimit == 0 {
		q.DeliveryLimit = DefaultDeliveryLimit
	}
	return q
}

// RabbitMQFederation names the exchanges federated from each upstream.
type RabbitMQFederation struct {
	Exchanges []string           `json:"exchanges,omitempty"`
	Upstreams []RabbitMQUpstream `json:"upstreams,omitempty"`
}

// RabbitMQUpstream is a remote cluster: its name and the Secret (key
// "uri") that holds its amqps:// URI, created by the stack's operators.
type RabbitMQUpstream struct {
	Name      string `json:"name"`
	URISecret string `json:"uriSecret"`
}

// Default is 3 nodes of 20Gi and no queue.
func (r *RabbitMQ) Default(*Spec) {
	*r = RabbitMQ{Replicas: DefaultRabbitMQReplicas, VolumeSize: DefaultRabbitMQVolumeSize}
}

// Validate checks the size, each queue and the federation.
func (r *RabbitMQ) Validate(s *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if lo := map[bool]int{true: MinProdReplicas, false: 1}[s.Environment.Production()]; r.Replicas < lo || r.Replicas%2 == 0 {
		errs = append(errs, field.Invalid(p.Child("replicas"), r.Replicas, fmt.Sprintf("an odd number of nodes, %d or more in %s (quorum queues keep a majority through one loss)", lo, s.Environment)))
	}
	if q, err := resource.ParseQuantity(r.VolumeSize); err != nil || q.Sign() <= 0 {
		errs = append(errs, field.Invalid(p.Child("volumeSize"), r.VolumeSize, "not a size; e.g. 20Gi"))
	}
	services := s.Services.Names()
	known := slices.Sorted(maps.Keys(services))
	seen := map[string]bool{}
	exchanges := map[string]bool{}
	for i := range r.Queues {
		q := r.Queues[i].WithDefaults()
		errs = append(errs, q.validate(seen, services, known, p.Child("queues").Index(i))...)
		exchanges[q.Vhost+"/"+q.Exchange] = true
	}
	return append(errs, r.Federation.validate(exchanges, p.Child("federation"))...)
}

// validate checks one queue (with its defaults): names, binding key,
// delivery limit, and its services.
func (q RabbitMQQueue) validate(seen, services map[string]bool, known []string, f *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case !queueName.MatchString(q.Name) || strings.HasPrefix(q.Name, "amq.") || strings.HasSuffix(q.Name, ".dlq") || strings.HasSuffix(q.Name, ".dlx"):
		errs = append(errs, field.Invalid(f.Child("name"), q.Name, "letters, digits and _ . : -; not amq.* (reserved) nor ending .dlq or .dlx (the dead-letter names)"))
	case seen[q.Vhost+"/"+q.Name]:
		errs = append(errs, field.Duplicate(f.Child("name"), q.Name))
	}
	seen[q.Vhost+"/"+q.Name] = true
	if !queueName.MatchString(q.Exchange) || strings.HasPrefix(q.Exchange, "amq.") {
		errs = append(errs, field.Invalid(f.Child("exchange"), q.Exchange, "an exchange name; amq.* is reserved"))
	}
	if !bindingKey.MatchString(q.RoutingKey) {
		errs = append(errs, field.Invalid(f.Child("routingKey"), q.RoutingKey, "a binding key: words separated by '.', with * and #"))
	}
	if q.DeliveryLimit < 1 {
		errs = append(errs, field.Invalid(f.Child("deliveryLimit"), q.DeliveryLimit, "allowed: 1 or more"))
	}
	if len(q.Publishers) == 0 {
		errs = append(errs, field.Required(f.Child("publishers"), "at least one declared service"))
	}
	for j, svc := range q.Publishers {
		if !services[svc] {
			errs = append(errs, field.NotSupported(f.Child("publishers").Index(j), svc, known))
		}
	}
	for j, svc := range q.Consumers {
		if !services[svc] {
			errs = append(errs, field.NotSupported(f.Child("consumers").Index(j), svc, known))
		}
	}
	return errs
}

// validate checks the federation: its exchanges are declared ones (vhost
// /), its upstreams named once, each with a Secret's name.
func (fed RabbitMQFederation) validate(exchanges map[string]bool, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, x := range fed.Exchanges {
		if !exchanges["/"+x] {
			errs = append(errs, field.Invalid(fp.Child("exchanges").Index(i), x, "not a declared queue's exchange in vhost /"))
		}
	}
	names := map[string]bool{}
	for i, u := range fed.Upstreams {
		f := fp.Child("upstreams").Index(i)
		if !serverName.MatchString(u.Name) || names[u.Name] {
			errs = append(errs, field.Invalid(f.Child("name"), u.Name, "a unique lowercase name (letters, digits, -)"))
		}
		names[u.Name] = true
		if !serverName.MatchString(u.URISecret) {
			errs = append(errs, field.Invalid(f.Child("uriSecret"), u.URISecret, "the name of a Secret (key uri) holding the upstream's amqps:// URI, never the URI itself"))
		}
	}
	if len(fed.Upstreams) > 0 && len(fed.Exchanges) == 0 {
		errs = append(errs, field.Required(fp.Child("exchanges"), "the exchanges to federate from the upstreams"))
	}
	return errs
}
