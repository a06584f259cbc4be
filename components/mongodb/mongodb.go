// Package mongodb is the data tier's document store
// (cloudscale:data:MongoDB): Percona's operator for Percona Server for
// MongoDB (a pinned chart in components/upstream) and one sharded
// PerconaServerMongoDB: a config server replica set, two or more shards,
// each a replica set with one member per zone, mongos routers behind a
// Service, TLS for clients and members, encryption at rest, users with
// passwords the operator generates, and backups with point-in-time
// recovery to the cloud tier's backup store.
//
// The object is typed from the operator's own Go API module
// (github.com/percona/percona-server-mongodb-operator/pkg/apis/psmdb/v1
// v1.22.0) and labelled and named with the operator's own helpers
// (pkg/naming), so the selectors here are the ones its pods carry. No
// password or key passes through the program: the operator generates the
// system users' Secret, the application users' passwords and the
// encryption key in the cluster.
//
// The collections the services declare (database, collection, shard key,
// text-index fields) are part of the tier's output: the services create
// them, shard them and index them at start (their owners' users may), so a
// collection's definition lives with the code that reads it.
package mongodb

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// Names and ports of the tier (Percona's documentation, "Exposing the
// cluster", "Transport encryption", "Users").
const (
	// ClusterName is the PerconaServerMongoDB's name; its pods, Services
	// and Secrets are named after it (mongodb-rs0-0, mongodb-mongos).
	ClusterName = "mongodb"
	// OperatorNamespace is where the operator runs, watching every
	// namespace.
	OperatorNamespace = "psmdb-system"
	// Port is mongod's and mongos's.
	Port = 27017
	// UsersSecret holds the system users' credentials (the operator's,
	// generated when missing); EncryptionKeySecret the data-at-rest key
	// (generated when missing); TLSSecret and InternalTLSSecret the client
	// and member certificates (issued by the platform's CA).
	UsersSecret         = ClusterName + "-users"
	EncryptionKeySecret = ClusterName + "-encryption-key"
	TLSSecret           = ClusterName + "-ssl"
	InternalTLSSecret   = ClusterName + "-ssl-internal"
	// CustomUsersSecret is where the operator writes the passwords it
	// generates for spec.users without a passwordSecretRef, one key per
	// user name (pkg/controller/perconaservermongodb/custom_users.go).
	CustomUsersSecret = ClusterName + "-custom-user-secret"
	// CRVersion is the operator release whose defaults the object asks for.
	CRVersion = "1.22.0"
	// ExporterPort is the metrics exporter's beside every replica set
	// member (percona/mongodb_exporter's default, 9216), named
	// ExporterPortName.
	ExporterPort     = 9216
	ExporterPortName = "metrics"
)

// Defaults of the tier.
const (
	// DefaultShards is two shards: the least that shards at all.
	DefaultShards = 2
	// DefaultMembers per replica set: a majority survives one loss.
	DefaultMembers = 3
	// DefaultRetentionDays keeps 30 daily base backups (the guide's
	// recovery window); the oplog between them is kept with them.
	DefaultRetentionDays = 30
	// BackupSchedule is daily at 02:00 UTC (five-field cron, the
	// operator's CronJob).
	BackupSchedule = "0 2 * * *"
	// OplogSpanMinutes is how often point-in-time recovery uploads an
	// oplog chunk: the most a restore can lose.
	OplogSpanMinutes = 10
)

// Collection is one collection a service declares.
type Collection struct {
	// Database and Collection name it.
	Database, Collection string
	// ShardKey is its shard key's fields, in order; Hashed shards on the
	// hash of the single field (even writes for monotonic keys).
	ShardKey []string
	Hashed   bool
	// TextIndex are the fields of its text index (a collection has at
	// most one), empty for none.
	TextIndex []string
	// Owner is the service that creates, shards and indexes it; Clients
	// further services that read it.
	Owner   string
	Clients []string
}

// Namespace is the collection's "database.collection".
func (c Collection) Namespace() string { return c.Database + "." + c.Collection }

// BackupStore is where backups and the oplog go: the cloud tier's object
// store, reached through workload identity on AWS and GCP (no key).
type BackupStore struct {
	// Kind is s3, gcs or azureblob (infra.BackupKind values).
	Kind string
	// Bucket is the bucket or container; Region the bucket's (S3).
	Bucket pulumi.StringInput
	Region string
	// ServiceAccount is the Kubernetes service account the cloud identity
	// trusts; the replica set pods (where the backup agent runs) use it.
	// Labels bind pods to the identity where the cloud asks (Azure).
	ServiceAccount string
	PodLabels      map[string]string
	// CredentialsSecret names the Secret the operator reads Azure's
	// account name and key from: its Azure storage has no workload
	// identity (pkg/psmdb/backup/pbm.go, GetPBMStorageAzureConfig). The
	// secrets tier fills it from Vault; empty on AWS and GCP.
	CredentialsSecret string
}

// Args configure the tier. Namespace must exist (the security baseline's).
type Args struct {
	// Mode is Charts on clouds and CRDsOnly on the local stack.
	Mode      upstream.Mode
	Namespace string
	// Shards and Members per replica set (the config server set has
	// Members too); MongosReplicas routers.
	Shards, Members, MongosReplicas int
	// Production requires one member per zone (a required anti-affinity
	// on the zone) and refuses fewer than 3 members or routers.
	Production bool
	Zones      int
	// StorageClass is the cluster's encrypted class; VolumeSize each
	// member's data volume.
	StorageClass, VolumeSize string
	Collections              []Collection
	// Backups is nil where the cluster has no backup store (local).
	Backups       *BackupStore
	RetentionDays int
	Resources     workload.Resources
	// Scraper is the monitoring tier's Prometheus, admitted to the members'
	// exporters on ExporterPort.
	Scraper contract.Peer
}

var (
	nameRe  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	fieldRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// Validate checks the arguments; New registers nothing unless they pass.
func (a *Args) Validate() error {
	var errs []error
	if a.Namespace == "" {
		errs = append(errs, errors.New("namespace is required"))
	}
	lo := 1
	if a.Production {
		lo = 3
	}
	if a.Shards < 2 {
		errs = append(errs, fmt.Errorf("shards %d: at least 2", a.Shards))
	}
	if a.Members < lo || a.Members%2 == 0 {
		errs = append(errs, fmt.Errorf("members %d: an odd number, at least %d (a majority must survive one loss)", a.Members, lo))
	}
	if a.Production && a.Zones > 0 && a.Members > a.Zones {
		errs = append(errs, fmt.Errorf("members %d over %d zones: at most one per zone", a.Members, a.Zones))
	}
	if a.MongosReplicas < lo {
		errs = append(errs, fmt.Errorf("mongos replicas %d: at least %d", a.MongosReplicas, lo))
	}
	if a.StorageClass == "" || a.VolumeSize == "" {
		errs = append(errs, errors.New("a storage class and a volume size are required"))
	}
	if a.RetentionDays < 1 {
		errs = append(errs, fmt.Errorf("backup retention %d days: at least 1", a.RetentionDays))
	}
	if _, err := a.Resources.Requirements(); err != nil {
		errs = append(errs, fmt.Errorf("resources: %w", err))
	}
	if b := a.Backups; b != nil && (b.Kind == "" || b.ServiceAccount == "" || (b.Kind == "azureblob" && b.CredentialsSecret == "")) {
		errs = append(errs, errors.New("a backup store needs its kind, the service account its identity trusts and, on Azure, a credentials Secret"))
	}
	seen := map[string]bool{}
	for _, c := range a.Collections {
		errs = append(errs, c.validate(seen)...)
	}
	return errors.Join(errs...)
}

func (c Collection) validate(seen map[string]bool) []error {
	var errs []error
	ns := c.Namespace()
	if !nameRe.MatchString(c.Database) || !nameRe.MatchString(c.Collection) || c.Database == "admin" || c.Database == "config" || c.Database == "local" {
		errs = append(errs, fmt.Errorf("collection %q: database and collection are lowercase names, not admin, config or local", ns))
	}
	if seen[ns] {
		errs = append(errs, fmt.Errorf("collection %q is declared twice", ns))
	}
	seen[ns] = true
	if c.Owner == "" {
		errs = append(errs, fmt.Errorf("collection %q has no owner service", ns))
	}
	if len(c.ShardKey) == 0 || (c.Hashed && len(c.ShardKey) != 1) {
		errs = append(errs, fmt.Errorf("collection %q: a shard key of one or more fields (exactly one when hashed)", ns))
	}
	for _, f := range append(slices.Clone(c.ShardKey), c.TextIndex...) {
		if !fieldRe.MatchString(f) {
			errs = append(errs, fmt.Errorf("collection %q: %q is not a field path", ns, f))
		}
	}
	return errs
}

// Users are the application users, one per service that uses a
// collection, in the admin database: the owner may read, write, create
// indexes and shard its databases (enableSharding, which MongoDB grants
// cluster-wide from admin); a client may read its databases.
func Users(cols []Collection) map[string][]Role {
	roles := map[string]map[Role]bool{}
	grant := func(user string, r Role) {
		if roles[user] == nil {
			roles[user] = map[Role]bool{}
		}
		roles[user][r] = true
	}
	for _, c := range cols {
		grant(c.Owner, Role{Name: "readWrite", DB: c.Database})
		grant(c.Owner, Role{Name: "enableSharding", DB: "admin"})
		for _, cl := range c.Clients {
			if cl != c.Owner {
				grant(cl, Role{Name: "read", DB: c.Database})
			}
		}
	}
	out := map[string][]Role{}
	for u, set := range roles {
		for r := range set {
			out[u] = append(out[u], r)
		}
		slices.SortFunc(out[u], func(a, b Role) int { return strings.Compare(a.DB+"/"+a.Name, b.DB+"/"+b.Name) })
	}
	return out
}

// Role is a built-in role on a database.
type Role struct{ Name, DB string }

// Endpoint is how the services reach the store: the mongos Service, TLS
// with the platform's CA (the TLS Secret's ca.crt), each service's user
// and the Secret key holding its password.
type Endpoint struct {
	// URI is mongodb://host:port/?tls=true&authSource=admin, without
	// credentials.
	URI  string
	Host string
	Port int
	// Peer selects the routers (egress to them is opened to it).
	Peer contract.Peer
	// CA is the Secret whose ca.crt clients trust.
	CA contract.SecretRef
	// Credentials is the Secret holding every user's password, one key
	// per user (the user's name, which is its service's).
	Credentials contract.SecretRef
	// Collections are the declared collections, for the services to create.
	Collections []Collection
}

// NewEndpoint is the store's endpoint in namespace ns.
func NewEndpoint(ns string, cols []Collection) Endpoint {
	host := MongosService() + "." + ns + ".svc.cluster.local"
	return Endpoint{
		URI: fmt.Sprintf("mongodb://%s:%d/?tls=true&authSource=admin", host, Port), Host: host, Port: Port,
		Peer: contract.Peer{PodLabels: MongosLabels(), NamespaceLabels: contract.InNamespace(ns), Ports: []int{Port}},
		CA:   contract.SecretRef{Namespace: ns, Name: TLSSecret}, Credentials: contract.SecretRef{Namespace: ns, Name: CustomUsersSecret},
		Collections: cols,
	}
}

// MongosService is the routers' Service (the operator's name for it).
func MongosService() string { return ClusterName + "-mongos" }

// OperatorNamespaceAccess is the operator's namespace as the security
// baseline opens it: its calls to the API server and to the members (it
// manages the replica sets, users and backups through mongod).
func OperatorNamespaceAccess() contract.OperatorNamespace {
	return contract.OperatorNamespace{Name: OperatorNamespace, EgressPorts: []int{443, 6443, Port}}
}
