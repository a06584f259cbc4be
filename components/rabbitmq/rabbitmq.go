// Package rabbitmq is the data tier's message queue
// (cloudscale:data:RabbitMQ): the RabbitMQ cluster operator and messaging
// topology operator (their release manifests, pinned in
// components/upstream), one RabbitmqCluster spread over the zones, TLS
// only, quorum queues by default, and the topology the stack declares:
// per queue a durable quorum queue fed by its exchange, with a delivery
// limit and its own dead-letter exchange and queue (at-least-once
// dead-lettering), set by a policy so a limit can change without
// re-declaring the queue; users with least-privilege permissions whose
// credentials the topology operator generates; and federation of named
// exchanges from upstream clusters in other regions.
//
// Every object is typed from the operators' own Go API modules
// (github.com/rabbitmq/cluster-operator/v2/api/v1beta1 v2.20.0 and
// github.com/rabbitmq/messaging-topology-operator/api/v1beta1 v1.19.1) and
// the prometheus-operator's monitoring/v1 for the metrics' ServiceMonitor.
package rabbitmq

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// Names and ports of the tier (RabbitMQ's "Networking" guide and the
// cluster operator's Services).
const (
	// ClusterName is the RabbitmqCluster's name; its Service, pods
	// (rabbitmq-server-0...) and default user Secret are named after it.
	ClusterName = "rabbitmq"
	// OperatorNamespace is where both operators run (their manifests').
	OperatorNamespace = "rabbitmq-system"
	// AMQPSPort is AMQP 0-9-1 over TLS; ManagementPort the management
	// API over TLS (the topology operator calls it); MetricsPort the
	// Prometheus plugin over TLS.
	AMQPSPort      = 5671
	ManagementPort = 15671
	MetricsPort    = 15691
	// EPMDPort and DistributionPort are Erlang's, between the nodes.
	EPMDPort         = 4369
	DistributionPort = 25672
	// TopologyWebhookPort is the topology operator's admission webhooks.
	TopologyWebhookPort = 9443
	// TLSSecret is the nodes' certificate (tls.crt, tls.key, ca.crt),
	// issued by the platform's CA.
	TLSSecret = ClusterName + "-tls"
	// FederationPolicy is the policy that federates the named exchanges.
	FederationPolicy = "federation"
)

// Defaults of the tier.
const (
	// DefaultReplicas is 3 nodes: a quorum queue keeps a majority through
	// one node's loss.
	DefaultReplicas = 3
	// DefaultDeliveryLimit is how many times a message is delivered before
	// it is dead-lettered (a poison message stops at 5, not RabbitMQ 4's
	// default of 20).
	DefaultDeliveryLimit = 5
	// DefaultVhost is RabbitMQ's default virtual host.
	DefaultVhost = "/"
)

// Queue is one queue a service consumes and others publish to.
type Queue struct {
	// Name is the queue's name in RabbitMQ (e.g. orders.created).
	Name string
	// Vhost is the virtual host ("/" by default).
	Vhost string
	// Exchange is the topic exchange it is bound to with RoutingKey.
	Exchange, RoutingKey string
	// DeliveryLimit is the redeliveries before dead-lettering.
	DeliveryLimit int
	// Priority marks a queue whose publishers send time-sensitive
	// messages with a priority (5 or more is high): RabbitMQ 4's quorum
	// queues deliver those first, with no argument on the queue.
	Priority bool
	// Publishers and Consumers are the services that publish to its
	// exchange and consume it; a queue has at least one publisher.
	Publishers, Consumers []string
}

// DeadLetterExchange and DeadLetterQueue are q's: a direct exchange and a
// quorum queue bound to it with q's name as the routing key.
func (q Queue) DeadLetterExchange() string { return q.Name + ".dlx" }

// DeadLetterQueue is where q's dead-lettered messages wait.
func (q Queue) DeadLetterQueue() string { return q.Name + ".dlq" }

// Upstream is a remote cluster whose exchanges are federated here; its
// URI (amqps://user:password@host) stays in the Secret URISecret (key
// "uri"), which the stack's operators create.
type Upstream struct {
	Name, URISecret string
}

// Federation names the exchanges federated from every upstream.
type Federation struct {
	Exchanges []string
	Upstreams []Upstream
}

// Args configure the tier. Namespace must exist (the security baseline's).
type Args struct {
	// Mode is Charts on clouds and CRDsOnly on the local stack.
	Mode      upstream.Mode
	Namespace string
	// Replicas is odd, 3 or more in staging and prod.
	Replicas int
	// Production requires one node per zone (required anti-affinity).
	Production bool
	Zones      int
	// StorageClass is the cluster's encrypted class; VolumeSize each
	// node's.
	StorageClass, VolumeSize string
	Queues                   []Queue
	Federation               Federation
	Resources                workload.Resources
	// Scraper is the monitoring tier's Prometheus.
	Scraper contract.Peer
}

var (
	queueRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,200}$`)
	bindRe     = regexp.MustCompile(`^[A-Za-z0-9_.*#-]*$`)
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	secretName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
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
	if a.Replicas < lo || a.Replicas%2 == 0 {
		errs = append(errs, fmt.Errorf("replicas %d: an odd number, at least %d (quorum queues keep a majority through one node's loss)", a.Replicas, lo))
	}
	if a.Production && a.Zones > 0 && a.Replicas > a.Zones && a.Replicas%a.Zones != 0 {
		errs = append(errs, fmt.Errorf("replicas %d over %d zones: a multiple of the zones, or the spread is uneven", a.Replicas, a.Zones))
	}
	if q, err := resource.ParseQuantity(a.VolumeSize); a.StorageClass == "" || err != nil || q.Sign() <= 0 {
		errs = append(errs, errors.New("a storage class and a volume size (e.g. 20Gi) are required"))
	}
	if _, err := a.Resources.Requirements(); err != nil {
		errs = append(errs, fmt.Errorf("resources: %w", err))
	}
	seen := map[string]bool{}
	exchanges := map[string]bool{}
	for _, q := range a.Queues {
		errs = append(errs, q.validate(seen)...)
		exchanges[q.vhost()+"/"+q.Exchange] = true
	}
	for _, x := range a.Federation.Exchanges {
		if !exchanges[DefaultVhost+"/"+x] {
			errs = append(errs, fmt.Errorf("federation: exchange %q is no declared queue's exchange in vhost %q", x, DefaultVhost))
		}
	}
	names := map[string]bool{}
	for _, u := range a.Federation.Upstreams {
		switch {
		case !dnsLabel.MatchString(u.Name) || names[u.Name]:
			errs = append(errs, fmt.Errorf("federation: upstream %q: a unique DNS label", u.Name))
		case !secretName.MatchString(u.URISecret):
			errs = append(errs, fmt.Errorf("federation: upstream %q: uriSecret %q is not a Secret name", u.Name, u.URISecret))
		}
		names[u.Name] = true
	}
	if len(a.Federation.Upstreams) > 0 && len(a.Federation.Exchanges) == 0 {
		errs = append(errs, errors.New("federation: upstreams without exchanges to federate"))
	}
	return errors.Join(errs...)
}

func (q Queue) vhost() string {
	if q.Vhost == "" {
		return DefaultVhost
	}
	return q.Vhost
}

func (q Queue) validate(seen map[string]bool) []error {
	var errs []error
	key := q.vhost() + "/" + q.Name
	switch {
	case !queueRe.MatchString(q.Name) || strings.HasPrefix(q.Name, "amq.") || strings.HasSuffix(q.Name, ".dlq") || strings.HasSuffix(q.Name, ".dlx"):
		errs = append(errs, fmt.Errorf("queue %q: letters, digits and _ . : -, not amq.* (reserved) nor ending .dlq or .dlx (the tier's)", q.Name))
	case seen[key]:
		errs = append(errs, fmt.Errorf("queue %q is declared twice in vhost %q", q.Name, q.vhost()))
	}
	seen[key] = true
	if !queueRe.MatchString(q.Exchange) || strings.HasPrefix(q.Exchange, "amq.") {
		errs = append(errs, fmt.Errorf("queue %q: exchange %q is not an exchange name (amq.* is reserved)", q.Name, q.Exchange))
	}
	if q.RoutingKey == "" || !bindRe.MatchString(q.RoutingKey) {
		errs = append(errs, fmt.Errorf("queue %q: routingKey %q is not a binding key (words of letters and digits separated by '.', with * and #)", q.Name, q.RoutingKey))
	}
	if q.DeliveryLimit < 1 {
		errs = append(errs, fmt.Errorf("queue %q: deliveryLimit %d: at least 1", q.Name, q.DeliveryLimit))
	}
	// A queue may wait for its consumer's service (declared by a later
	// release): messages then stay in it, durable.
	if len(q.Publishers) == 0 {
		errs = append(errs, fmt.Errorf("queue %q: at least one publisher service", q.Name))
	}
	return errs
}

// Vhosts are the virtual hosts the queues use, sorted.
func Vhosts(qs []Queue) []string {
	set := map[string]bool{}
	for _, q := range qs {
		set[q.vhost()] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// Grant is what one service may do in one vhost: publish to Exchanges and
// consume Queues, and nothing else (RabbitMQ's configure, write and read
// permissions, as anchored alternations).
type Grant struct {
	Service, Vhost    string
	Exchanges, Queues []string
}

// Permissions are the configure, write and read patterns of g: configure
// nothing (the topology operator declares everything), write to its
// exchanges, read its queues.
func (g Grant) Permissions() (configure, write, read string) {
	return "^$", alternation(g.Exchanges), alternation(g.Queues)
}

func alternation(names []string) string {
	if len(names) == 0 {
		return "^$"
	}
	var quoted []string
	for _, n := range names {
		quoted = append(quoted, regexp.QuoteMeta(n))
	}
	return "^(" + strings.Join(quoted, "|") + ")$"
}

// Grants are every service's grants, sorted by service and vhost.
func Grants(qs []Queue) []Grant {
	by := map[string]*Grant{}
	get := func(svc, vhost string) *Grant {
		k := svc + "\x00" + vhost
		if by[k] == nil {
			by[k] = &Grant{Service: svc, Vhost: vhost}
		}
		return by[k]
	}
	for _, q := range qs {
		for _, p := range q.Publishers {
			g := get(p, q.vhost())
			g.Exchanges = append(g.Exchanges, q.Exchange)
		}
		for _, c := range q.Consumers {
			g := get(c, q.vhost())
			g.Queues = append(g.Queues, q.Name)
		}
	}
	var out []Grant
	for _, k := range slices.Sorted(maps.Keys(by)) {
		g := *by[k]
		slices.Sort(g.Exchanges)
		g.Exchanges = slices.Compact(g.Exchanges)
		slices.Sort(g.Queues)
		out = append(out, g)
	}
	return out
}

// UserName is the User object of a service; the topology operator writes
// its generated username and password into the Secret
// CredentialsSecret(service) (keys username, password).
func UserName(service string) string { return "rabbitmq-" + service }

// CredentialsSecret is the Secret the topology operator generates for a
// service's user (<user>-user-credentials).
func CredentialsSecret(service string) string { return UserName(service) + "-user-credentials" }

// Endpoint is how services reach the broker: AMQPS on the cluster's
// Service, the platform's CA in the TLS Secret, and each service's
// credentials Secret.
type Endpoint struct {
	Host string
	Port int
	Peer contract.Peer
	CA   contract.SecretRef
	// Credentials maps a service to its credentials Secret.
	Credentials map[string]contract.SecretRef
	Queues      []Queue
}

// NewEndpoint is the broker's endpoint in namespace ns.
func NewEndpoint(ns string, qs []Queue) Endpoint {
	e := Endpoint{
		Host: ClusterName + "." + ns + ".svc.cluster.local", Port: AMQPSPort,
		Peer: contract.Peer{PodLabels: PodLabels(), NamespaceLabels: contract.InNamespace(ns), Ports: []int{AMQPSPort}},
		CA:   contract.SecretRef{Namespace: ns, Name: TLSSecret}, Credentials: map[string]contract.SecretRef{}, Queues: qs,
	}
	for _, g := range Grants(qs) {
		e.Credentials[g.Service] = contract.SecretRef{Namespace: ns, Name: CredentialsSecret(g.Service)}
	}
	return e
}

// PodLabels select the cluster's pods (the cluster operator's labels).
func PodLabels() map[string]string { return map[string]string{contract.NameLabel: ClusterName} }

// Certificate is the nodes' certificate: the Service's names and every
// node's name under the headless Service (<cluster>-nodes).
func Certificate(ns string) contract.Certificate {
	svc := ClusterName + "." + ns + ".svc"
	nodes := ClusterName + "-nodes." + ns + ".svc"
	return contract.Certificate{Name: TLSSecret, Namespace: ns, DNSNames: []string{
		ClusterName, svc, svc + ".cluster.local", "*." + nodes, "*." + nodes + ".cluster.local",
	}}
}

// OperatorNamespaceAccess is the operators' namespace as the security
// baseline opens it: the topology operator's webhooks; their calls to the
// API server and to the management API.
func OperatorNamespaceAccess() contract.OperatorNamespace {
	return contract.OperatorNamespace{Name: OperatorNamespace, IngressPorts: []int{TopologyWebhookPort}, EgressPorts: []int{443, 6443, ManagementPort}}
}
