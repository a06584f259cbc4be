package service

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/workload"
)

// The Secret keys the stores' Secrets hold.
const (
	// UsernameKey and PasswordKey are the credentials' keys of the
	// PostgreSQL application Secret (CloudNativePG's <cluster>-app) and of
	// a RabbitMQ user's Secret (the topology operator's).
	UsernameKey = "username"
	PasswordKey = "password"
	// CAKey is the CA certificate's key of a cert-manager TLS Secret.
	CAKey = "ca.crt"
)

// Environment is what a service's container is given: plain variables,
// none of them a secret, and the Secret keys mounted as files (the
// variables ending _FILE name them).
type Environment struct {
	Plain   map[string]string
	Volumes []workload.Volume
}

// Env is the environment of service name: who it is, where it listens
// and sends traces, and for each store it uses where the store is and
// the files of its credentials and CA. An error names a store whose
// Secret it cannot mount.
func Env(name string, a *ServiceArgs) (Environment, error) {
	f := &files{index: map[string]int{}}
	env := map[string]string{
		"SERVICE_NAME":                name,
		"LISTEN_ADDR":                 ":" + strconv.Itoa(a.Port),
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + a.Tracing.Address(),
		"TRACE_SAMPLING":              strconv.FormatFloat(a.TraceSampling, 'g', -1, 64),
	}
	s := a.Stores
	if p := s.Postgres; p != nil {
		// The read-write pooler; it requires TLS of its clients.
		env["POSTGRES_HOST"] = p.Endpoint.ReadWrite.Host
		env["POSTGRES_PORT"] = strconv.Itoa(p.Endpoint.ReadWrite.Port)
		env["POSTGRES_DATABASE"] = p.Endpoint.Database
		env["POSTGRES_USER"] = p.User
		env["POSTGRES_PASSWORD_FILE"] = f.path(p.Endpoint.CredentialsSecret, PasswordKey)
		env["POSTGRES_SSLMODE"] = "require"
	}
	for _, r := range s.Redis {
		prefix := "REDIS_" + string(r.Use) + "_"
		master, addrs, _ := r.Endpoint.Addresses()
		env[prefix+"MASTER"] = master
		env[prefix+"SENTINELS"] = strings.Join(addrs, ",")
		if r.Endpoint.Auth.Name != "" {
			env[prefix+"PASSWORD_FILE"] = f.path(r.Endpoint.Auth, PasswordKey)
		}
		if r.Endpoint.TLS {
			env[prefix+"CA_FILE"] = f.path(r.CA, CAKey)
		}
	}
	if m := s.MongoDB; m != nil {
		c := m.Collection
		// The operator keeps every user's password in one Secret, one key
		// per user, the user named after its service: only this service's
		// key is mounted.
		// The driver takes the CA file among the URI's TLS options.
		env["MONGODB_URI"] = m.Endpoint.URI + "&tlsCAFile=" + url.QueryEscape(f.path(m.Endpoint.CA, CAKey))
		env["MONGODB_USER"] = name
		env["MONGODB_PASSWORD_FILE"] = f.path(m.Endpoint.Credentials, name)
		env["MONGODB_DATABASE"] = c.Database
		env["MONGODB_COLLECTION"] = c.Collection
		if len(c.TextIndex) > 0 {
			env["MONGODB_TEXT_INDEX"] = strings.Join(c.TextIndex, ",")
		}
	}
	if q := s.RabbitMQ; q != nil {
		creds, ok := q.Endpoint.Credentials[name]
		if !ok {
			return Environment{}, fmt.Errorf("rabbitmq: no user for %s (it neither publishes nor consumes a queue)", name)
		}
		env["RABBITMQ_HOST"] = q.Endpoint.Host
		env["RABBITMQ_PORT"] = strconv.Itoa(q.Endpoint.Port)
		env["RABBITMQ_USERNAME_FILE"] = f.path(creds, UsernameKey)
		env["RABBITMQ_PASSWORD_FILE"] = f.path(creds, PasswordKey)
		env["RABBITMQ_CA_FILE"] = f.path(q.Endpoint.CA, CAKey)
		all := append(append([]rabbitmq.Queue(nil), q.Publishes...), q.Consumes...)
		if len(all) > 0 {
			env["RABBITMQ_VHOST"] = vhost(all[0])
		}
		// A consumer's queues (services/worker's QUEUES); a publisher
		// knows its exchange and routing keys (services/orders).
		var queues []string
		for _, c := range q.Consumes {
			queues = append(queues, c.Name)
		}
		if len(queues) > 0 {
			env["QUEUES"] = strings.Join(queues, ",")
		}
	}
	if f.err != nil {
		return Environment{}, f.err
	}
	return Environment{Plain: env, Volumes: f.volumes}, nil
}

// Version is the SERVICE_VERSION of an image referenced by digest: the
// digest's first 12 hex digits (as short as image tools show it).
func Version(image string) string {
	_, digest, ok := strings.Cut(image, "@sha256:")
	if !ok || len(digest) < 12 {
		return "unknown"
	}
	return "sha256-" + digest[:12]
}

// files collects the Secret keys a service mounts: one volume per
// Secret at SecretsDir/<secret>, holding only the keys asked for.
type files struct {
	volumes []workload.Volume
	index   map[string]int
	err     error
}

// path mounts key of Secret ref and returns its file's path.
func (f *files) path(ref contract.SecretRef, key string) string {
	i, ok := f.index[ref.Name]
	if !ok {
		if !dnsLabel.MatchString(ref.Name) || len(ref.Name) > 63 {
			// A volume is named after its Secret: a DNS label.
			f.err = fmt.Errorf("secret %q: its name must be a DNS label to be mounted", ref.Name)
		}
		i = len(f.volumes)
		f.index[ref.Name] = i
		f.volumes = append(f.volumes, workload.Volume{Name: ref.Name, MountPath: SecretsDir + "/" + ref.Name, Secret: ref.Name})
	}
	if v := &f.volumes[i]; !slices.Contains(v.Keys, key) {
		v.Keys = append(v.Keys, key)
	}
	return SecretsDir + "/" + ref.Name + "/" + key
}

// vhost is a queue's virtual host ("/" when it names none).
func vhost(q rabbitmq.Queue) string {
	if q.Vhost == "" {
		return rabbitmq.DefaultVhost
	}
	return q.Vhost
}
