// Package stores holds the services' connections to their stores (the
// API's and the worker's): their configuration (environment variables,
// secrets read from mounted files) and how each client is opened.
//
//   - PostgreSQL (pgx pool): through PgBouncer in transaction pooling, so
//     every statement runs in one round trip without named prepared
//     statements (pgx QueryExecModeExec); a multi-host URL with
//     target_session_attrs=read-write finds a promoted replica by itself.
//   - Redis (go-redis): one address, or a Sentinel set (a failover client
//     that follows the master).
//   - MongoDB (official driver v2).
//   - RabbitMQ (amqp091): a dial function for the outbox publisher, which
//     redials when the connection drops.
package stores

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cloudscale/platform/services/config"
)

// Postgres configures the PostgreSQL pool (variables POSTGRES_*). Either
// URL, or Host (with Port, Database, User) is set; Password (read from the
// file POSTGRES_PASSWORD_FILE names) replaces a password in URL.
type Postgres struct {
	URL      string `env:"POSTGRES_URL"`
	Host     string `env:"POSTGRES_HOST"`
	Port     int    `env:"POSTGRES_PORT" envDefault:"5432"`
	Database string `env:"POSTGRES_DATABASE" envDefault:"orders"`
	User     string `env:"POSTGRES_USER"`
	Password string `env:"POSTGRES_PASSWORD_FILE,file"`
	SSLMode  string `env:"POSTGRES_SSLMODE" envDefault:"prefer"`
	MaxConns int32  `env:"POSTGRES_MAX_CONNS" envDefault:"10"`
}

// Validate names the variable that is missing or wrong.
func (c Postgres) Validate() error {
	switch {
	case c.URL == "" && c.Host == "":
		return bad("POSTGRES_URL", "neither it nor POSTGRES_HOST is set")
	case c.URL != "" && c.Host != "":
		return bad("POSTGRES_URL", "set it or POSTGRES_HOST, not both")
	case c.URL == "" && c.User == "":
		return bad("POSTGRES_USER", "must be set with POSTGRES_HOST")
	case c.Port <= 0 || c.Port > 65535:
		return bad("POSTGRES_PORT", "%d is not a port", c.Port)
	case c.MaxConns < 1:
		return bad("POSTGRES_MAX_CONNS", "%d, want at least 1", c.MaxConns)
	}
	if _, err := c.PoolConfig(); err != nil {
		return err
	}
	return nil
}

// PoolConfig returns the pgx pool configuration: QueryExecModeExec (one
// round trip, unnamed statements: what PgBouncer's transaction pooling
// allows) and MaxConns connections.
func (c Postgres) PoolConfig() (*pgxpool.Config, error) {
	connString := c.URL
	if connString == "" {
		u := url.URL{
			Scheme: "postgres",
			User:   url.User(c.User),
			Host:   net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
			Path:   "/" + c.Database,
		}
		q := url.Values{"sslmode": {c.SSLMode}}
		u.RawQuery = q.Encode()
		connString = u.String()
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx's message may quote the URL; it is ours, but do not echo a
		// password from it.
		return nil, bad("POSTGRES_URL", "not a valid PostgreSQL connection string (with POSTGRES_HOST, PORT, DATABASE, USER)")
	}
	if p := strings.TrimSpace(c.Password); p != "" {
		cfg.ConnConfig.Password = p // every host of a multi-host URL
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.MaxConns = c.MaxConns
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.HealthCheckPeriod = 5 * time.Second
	return cfg, nil
}

// OpenPostgres opens the pool and pings it once.
func OpenPostgres(ctx context.Context, c Postgres) (*pgxpool.Pool, error) {
	cfg, err := c.PoolConfig()
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	return pool, nil
}

// Redis configures one Redis instance (variables <prefix>ADDR, ... e.g.
// REDIS_STATE_ADDR): Addr, or Sentinels (host:port list) and Master (the
// Sentinel master set); Password (from the file PASSWORD_FILE names) is
// used for Redis and the sentinels; CAFile turns TLS on.
type Redis struct {
	Addr      string   `env:"ADDR"`
	Sentinels []string `env:"SENTINELS" envSeparator:","`
	Master    string   `env:"MASTER"`
	Password  string   `env:"PASSWORD_FILE,file"`
	CAFile    string   `env:"CA_FILE"`
	DB        int      `env:"DB" envDefault:"0"`
}

// Validate names the variable (prefix + name) that is missing or wrong.
func (c Redis) Validate(prefix string) error {
	switch {
	case c.Addr == "" && len(c.Sentinels) == 0:
		return bad(prefix+"ADDR", "neither it nor %sSENTINELS is set", prefix)
	case c.Addr != "" && len(c.Sentinels) > 0:
		return bad(prefix+"ADDR", "set it or %sSENTINELS, not both", prefix)
	case len(c.Sentinels) > 0 && c.Master == "":
		return bad(prefix+"MASTER", "must be set with %sSENTINELS", prefix)
	}
	if _, _, err := net.SplitHostPort(c.Addr); c.Addr != "" && err != nil {
		return bad(prefix+"ADDR", "%q is not host:port", c.Addr)
	}
	for _, a := range c.Sentinels {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return bad(prefix+"SENTINELS", "%q is not host:port", a)
		}
	}
	if c.CAFile != "" {
		if _, err := tlsConfig(c.CAFile); err != nil {
			return bad(prefix+"CA_FILE", "%w", err)
		}
	}
	return nil
}

// Timeouts of a Redis client: the cache's are short so that a Redis that
// is down costs a request little.
type Timeouts struct {
	Dial, Read, Write time.Duration
}

// OpenRedis returns a client (a Sentinel failover client when Sentinels
// are set). It does not connect until used.
func OpenRedis(c Redis, t Timeouts) (redis.UniversalClient, error) {
	var tc *tls.Config
	if c.CAFile != "" {
		var err error
		if tc, err = tlsConfig(c.CAFile); err != nil {
			return nil, err
		}
	}
	pw := strings.TrimSpace(c.Password)
	if len(c.Sentinels) > 0 {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.Master, SentinelAddrs: c.Sentinels, SentinelPassword: pw, Password: pw, DB: c.DB,
			TLSConfig: tc, DialTimeout: t.Dial, ReadTimeout: t.Read, WriteTimeout: t.Write,
			ContextTimeoutEnabled: true,
		}), nil
	}
	return redis.NewClient(&redis.Options{
		Addr: c.Addr, Password: pw, DB: c.DB, TLSConfig: tc,
		DialTimeout: t.Dial, ReadTimeout: t.Read, WriteTimeout: t.Write, ContextTimeoutEnabled: true,
	}), nil
}

// Mongo configures MongoDB (variables MONGODB_*): URI, optional User and
// Password (from the file MONGODB_PASSWORD_FILE names), the catalog's
// Database and Collection, and TextIndex, the fields of the collection's
// text index.
type Mongo struct {
	URI        string   `env:"MONGODB_URI"`
	User       string   `env:"MONGODB_USER"`
	Password   string   `env:"MONGODB_PASSWORD_FILE,file"`
	Database   string   `env:"MONGODB_DATABASE" envDefault:"catalog"`
	Collection string   `env:"MONGODB_COLLECTION" envDefault:"products"`
	TextIndex  []string `env:"MONGODB_TEXT_INDEX" envSeparator:"," envDefault:"name,description"`
}

// Validate names the variable that is missing or wrong.
func (c Mongo) Validate() error {
	switch {
	case c.URI == "":
		return bad("MONGODB_URI", "must be set")
	case !strings.HasPrefix(c.URI, "mongodb://") && !strings.HasPrefix(c.URI, "mongodb+srv://"):
		return bad("MONGODB_URI", "want a mongodb:// or mongodb+srv:// URI")
	case c.Database == "":
		return bad("MONGODB_DATABASE", "must not be empty")
	case c.Collection == "":
		return bad("MONGODB_COLLECTION", "must not be empty")
	}
	for _, f := range c.TextIndex {
		if strings.TrimSpace(f) == "" {
			return bad("MONGODB_TEXT_INDEX", "an empty field name")
		}
	}
	return nil
}

// OpenMongo connects the client and pings the server.
func OpenMongo(ctx context.Context, c Mongo) (*mongo.Client, error) {
	opts := options.Client().ApplyURI(c.URI).SetServerSelectionTimeout(5 * time.Second).SetAppName("api-service")
	if c.User != "" {
		opts.SetAuth(options.Credential{Username: c.User, Password: strings.TrimSpace(c.Password)})
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("mongodb: %w", err)
	}
	return client, nil
}

// Rabbit configures RabbitMQ (variables RABBITMQ_*): URL, or Host, Port,
// VHost and the Username and Password read from files; CAFile turns TLS
// (amqps) on.
type Rabbit struct {
	URL      string `env:"RABBITMQ_URL"`
	Host     string `env:"RABBITMQ_HOST"`
	Port     int    `env:"RABBITMQ_PORT" envDefault:"5672"`
	VHost    string `env:"RABBITMQ_VHOST" envDefault:"/"`
	Username string `env:"RABBITMQ_USERNAME_FILE,file"`
	Password string `env:"RABBITMQ_PASSWORD_FILE,file"`
	CAFile   string `env:"RABBITMQ_CA_FILE"`
}

// Validate names the variable that is missing or wrong.
func (c Rabbit) Validate() error {
	switch {
	case c.URL == "" && c.Host == "":
		return bad("RABBITMQ_URL", "neither it nor RABBITMQ_HOST is set")
	case c.URL != "" && c.Host != "":
		return bad("RABBITMQ_URL", "set it or RABBITMQ_HOST, not both")
	case c.Host != "" && (c.Username == "" || c.Password == ""):
		return bad("RABBITMQ_PASSWORD_FILE", "RABBITMQ_USERNAME_FILE and RABBITMQ_PASSWORD_FILE must name non-empty files with RABBITMQ_HOST")
	case c.Port <= 0 || c.Port > 65535:
		return bad("RABBITMQ_PORT", "%d is not a port", c.Port)
	}
	if c.URL != "" {
		if _, err := amqp.ParseURI(c.URL); err != nil {
			return bad("RABBITMQ_URL", "not a valid amqp:// or amqps:// URI")
		}
	}
	if c.CAFile != "" {
		if _, err := tlsConfig(c.CAFile); err != nil {
			return bad("RABBITMQ_CA_FILE", "%w", err)
		}
	}
	return nil
}

// Dialer returns the function that dials RabbitMQ (heartbeat 10s, the
// connection named after the service).
func (c Rabbit) Dialer(name string) (func() (*amqp.Connection, error), error) {
	uri := c.URL
	if uri == "" {
		scheme := "amqp"
		if c.CAFile != "" {
			scheme = "amqps"
		}
		u := amqp.URI{
			Scheme: scheme, Host: c.Host, Port: c.Port, Vhost: c.VHost,
			Username: strings.TrimSpace(c.Username), Password: strings.TrimSpace(c.Password),
		}
		uri = u.String()
	}
	cfg := amqp.Config{Heartbeat: 10 * time.Second, Locale: "en_US", Properties: amqp.NewConnectionProperties()}
	cfg.Properties.SetClientConnectionName(name)
	if c.CAFile != "" {
		tc, err := tlsConfig(c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.TLSClientConfig = tc
	}
	return func() (*amqp.Connection, error) { return amqp.DialConfig(uri, cfg) }, nil
}

// bad is a validation error naming its variable.
func bad(variable, format string, args ...any) error {
	return &config.VarError{Var: variable, Err: fmt.Errorf(format, args...)}
}

// tlsConfig trusts the CA certificates of file (PEM).
func tlsConfig(file string) (*tls.Config, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
