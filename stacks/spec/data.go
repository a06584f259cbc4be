package spec

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
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
