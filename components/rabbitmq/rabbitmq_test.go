package rabbitmq

import (
	"encoding/json"
	"regexp"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	topologyv1beta1 "github.com/rabbitmq/messaging-topology-operator/api/v1beta1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
)

func prodArgs() *Args {
	return &Args{
		Mode: upstream.Charts, Namespace: "cloudscale", Replicas: 3, Production: true, Zones: 3,
		StorageClass: "cloudscale-encrypted", VolumeSize: "20Gi",
		Queues: []Queue{
			{Name: "orders.created", Exchange: "orders", RoutingKey: "order.created", DeliveryLimit: 5,
				Publishers: []string{"api-service"}, Consumers: []string{"worker"}},
			{Name: "orders.express", Exchange: "orders", RoutingKey: "order.express", DeliveryLimit: 3, Priority: true,
				Publishers: []string{"api-service"}, Consumers: []string{"worker"}},
		},
		Federation: Federation{Exchanges: []string{"orders"}, Upstreams: []Upstream{{Name: "eu-west", URISecret: "rabbitmq-upstream-eu-west"}}},
		Resources:  workload.Resources{RequestCPU: "250m", RequestMemory: "512Mi", LimitCPU: "2", LimitMemory: "4Gi"},
		Scraper:    contract.Peer{NamespaceLabels: contract.InNamespace("monitoring"), PodLabels: map[string]string{contract.NameLabel: "prometheus"}},
	}
}

func run(t *testing.T, a *Args) graph.Graph {
	t.Helper()
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, "rabbitmq", a)
		return err
	})
	require.NoError(t, err)
	return g
}

func typ(kind string) string { return "kubernetes:rabbitmq.com/v1beta1:" + kind }

func args(t *testing.T, r *runtime.RawExtension) map[string]any {
	t.Helper()
	var m map[string]any
	require.NotNil(t, r)
	require.NoError(t, json.Unmarshal(r.Raw, &m))
	return m
}

func TestProductionCluster(t *testing.T) {
	g := run(t, prodArgs())
	c := componenttest.Object[rabbitmqv1beta1.RabbitmqCluster](t, g, typ("RabbitmqCluster"), ClusterName).Spec
	assert.EqualValues(t, 3, *c.Replicas)
	assert.Equal(t, upstream.RabbitMQImage, c.Image)
	assert.Equal(t, "cloudscale-encrypted", *c.Persistence.StorageClassName)
	assert.Equal(t, "20Gi", c.Persistence.Storage.String())
	assert.Equal(t, rabbitmqv1beta1.TLSSpec{SecretName: TLSSecret, CaSecretName: TLSSecret, DisableNonTLSListeners: true}, c.TLS)
	assert.Contains(t, c.Rabbitmq.AdditionalConfig, "default_queue_type = quorum")
	assert.Contains(t, c.Rabbitmq.AdditionalPlugins, rabbitmqv1beta1.Plugin("rabbitmq_federation"))
	// One node per zone, required in production, and a zone spread the
	// scheduler keeps, through the StatefulSet override.
	term := c.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
	assert.Equal(t, corev1.LabelTopologyZone, term.TopologyKey)
	assert.Equal(t, PodLabels(), term.LabelSelector.MatchLabels)
	pod := c.Override.StatefulSet.Spec.Template
	spread := pod.Spec.TopologySpreadConstraints[0]
	assert.Equal(t, corev1.LabelTopologyZone, spread.TopologyKey)
	assert.Equal(t, corev1.DoNotSchedule, spread.WhenUnsatisfiable)
	assert.Equal(t, "false", pod.Labels["sidecar.istio.io/inject"])
	// A budget of one node at a time.
	pdb := componenttest.Object[policyv1.PodDisruptionBudget](t, g, "kubernetes:policy/v1:PodDisruptionBudget", ClusterName)
	assert.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue())
	assert.Equal(t, PodLabels(), pdb.Spec.Selector.MatchLabels)
}

func TestTopology(t *testing.T) {
	g := run(t, prodArgs())
	orders := componenttest.Object[topologyv1beta1.Exchange](t, g, typ("Exchange"), "exchange-orders").Spec
	assert.Equal(t, "topic", orders.Type)
	assert.True(t, orders.Durable)
	for _, name := range []string{"orders.created", "orders.created.dlq", "orders.express", "orders.express.dlq"} {
		q := componenttest.Object[topologyv1beta1.Queue](t, g, typ("Queue"), objectName("queue", "/", name)).Spec
		assert.Equal(t, name, q.Name)
		assert.Equal(t, "quorum", q.Type, name)
		assert.True(t, q.Durable, name)
		assert.Equal(t, "quorum", args(t, q.Arguments)["x-queue-type"], name)
		assert.Equal(t, ClusterName, q.RabbitmqClusterReference.Name)
	}
	dlx := componenttest.Object[topologyv1beta1.Exchange](t, g, typ("Exchange"), "exchange-orders-created-dlx").Spec
	assert.Equal(t, "direct", dlx.Type)
	bind := componenttest.Object[topologyv1beta1.Binding](t, g, typ("Binding"), "binding-orders-created").Spec
	assert.Equal(t, topologyv1beta1.BindingSpec{Vhost: "/", Source: "orders", Destination: "orders.created", DestinationType: "queue",
		RoutingKey: "order.created", RabbitmqClusterReference: topologyv1beta1.RabbitmqClusterReference{Name: ClusterName}}, bind)
	dlqBind := componenttest.Object[topologyv1beta1.Binding](t, g, typ("Binding"), "binding-orders-created-dlq").Spec
	assert.Equal(t, "orders.created.dlx", dlqBind.Source)
	assert.Equal(t, "orders.created", dlqBind.RoutingKey)
	// The dead-letter settings are a policy matching the queue alone.
	p := componenttest.Object[topologyv1beta1.Policy](t, g, typ("Policy"), "policy-orders-created").Spec
	assert.Equal(t, "quorum_queues", p.ApplyTo)
	re := regexp.MustCompile(p.Pattern)
	assert.True(t, re.MatchString("orders.created"))
	assert.False(t, re.MatchString("ordersXcreated"))
	assert.False(t, re.MatchString("orders.created.dlq"))
	assert.Equal(t, map[string]any{"delivery-limit": 5.0, "dead-letter-exchange": "orders.created.dlx", "dead-letter-routing-key": "orders.created",
		"dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}, args(t, p.Definition))
	express := componenttest.Object[topologyv1beta1.Policy](t, g, typ("Policy"), "policy-orders-express").Spec
	assert.Equal(t, 3.0, args(t, express.Definition)["delivery-limit"])
}

func TestUsersAndPermissions(t *testing.T) {
	g := run(t, prodArgs())
	for _, svc := range []string{"api-service", "worker"} {
		u := componenttest.Object[topologyv1beta1.User](t, g, typ("User"), "user-"+UserName(svc)).Spec
		assert.Nil(t, u.ImportCredentialsSecret, "the operator generates %s's credentials", svc)
		assert.Empty(t, u.Tags, "no management access")
	}
	pub := componenttest.Object[topologyv1beta1.Permission](t, g, typ("Permission"), "permission-api-service").Spec
	assert.Equal(t, topologyv1beta1.VhostPermissions{Configure: "^$", Write: "^(orders)$", Read: "^$"}, pub.Permissions)
	assert.Equal(t, UserName("api-service"), pub.UserReference.Name)
	sub := componenttest.Object[topologyv1beta1.Permission](t, g, typ("Permission"), "permission-worker").Spec
	assert.Equal(t, topologyv1beta1.VhostPermissions{Configure: "^$", Write: "^$", Read: `^(orders\.created|orders\.express)$`}, sub.Permissions)
	e := NewEndpoint("cloudscale", prodArgs().Queues)
	assert.Equal(t, contract.SecretRef{Namespace: "cloudscale", Name: "rabbitmq-worker-user-credentials"}, e.Credentials["worker"])
}

func TestFederation(t *testing.T) {
	g := run(t, prodArgs())
	f := componenttest.Object[topologyv1beta1.Federation](t, g, typ("Federation"), "federation-eu-west").Spec
	assert.Equal(t, "eu-west", f.Name)
	assert.Equal(t, "rabbitmq-upstream-eu-west", f.UriSecret.Name)
	assert.Equal(t, "on-confirm", f.AckMode)
	p := componenttest.Object[topologyv1beta1.Policy](t, g, typ("Policy"), "policy-federation").Spec
	assert.Equal(t, "exchanges", p.ApplyTo)
	assert.Equal(t, "^(orders)$", p.Pattern)
	assert.Equal(t, map[string]any{"federation-upstream-set": "all"}, args(t, p.Definition))
	// Off when no upstream is given.
	a := prodArgs()
	a.Federation = Federation{}
	for _, r := range run(t, a).Resources {
		assert.NotEqual(t, typ("Federation"), r.Type)
		assert.NotEqual(t, "policy-federation", r.Name)
	}
}

func TestMetricsAndNetwork(t *testing.T) {
	g := run(t, prodArgs())
	sm := componenttest.Object[monitoringv1.ServiceMonitor](t, g, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "rabbitmq-monitor").Spec
	require.Len(t, sm.Endpoints, 2)
	assert.Equal(t, "prometheus-tls", sm.Endpoints[0].Port)
	assert.Equal(t, monitoringv1.SchemeHTTPS, *sm.Endpoints[0].Scheme)
	assert.Equal(t, "ca.crt", sm.Endpoints[0].TLSConfig.CA.Secret.Key)
	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", ClusterName).Spec
	var clients []string
	for _, r := range np.Ingress {
		if name := r.From[0].PodSelector; name != nil && r.From[0].NamespaceSelector == nil && r.Ports[0].Port.IntValue() == AMQPSPort && len(r.Ports) == 1 {
			clients = append(clients, name.MatchLabels[contract.NameLabel])
		}
	}
	assert.Equal(t, []string{"api-service", "worker"}, clients)
	last := np.Egress[len(np.Egress)-1]
	assert.Equal(t, AMQPSPort, last.Ports[0].Port.IntValue(), "federation reaches its upstreams")
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(a *Args)
		want string
	}{
		{"even", func(a *Args) { a.Replicas = 4 }, "replicas 4: an odd number, at least 3"},
		{"one in prod", func(a *Args) { a.Replicas = 1 }, "replicas 1: an odd number, at least 3"},
		{"reserved name", func(a *Args) { a.Queues[0].Name = "amq.orders" }, `queue "amq.orders": letters, digits`},
		{"tier suffix", func(a *Args) { a.Queues[0].Name = "orders.dlq" }, `queue "orders.dlq": letters, digits`},
		{"twice", func(a *Args) { a.Queues[1].Name = "orders.created" }, `queue "orders.created" is declared twice in vhost "/"`},
		{"no exchange", func(a *Args) { a.Queues[0].Exchange = "" }, `queue "orders.created": exchange "" is not an exchange name`},
		{"bad key", func(a *Args) { a.Queues[0].RoutingKey = "order created" }, `queue "orders.created": routingKey "order created" is not a binding key`},
		{"no limit", func(a *Args) { a.Queues[0].DeliveryLimit = 0 }, `queue "orders.created": deliveryLimit 0: at least 1`},
		{"no publisher", func(a *Args) { a.Queues[0].Publishers = nil }, `queue "orders.created": at least one publisher service`},
		{"unknown exchange", func(a *Args) { a.Federation.Exchanges = []string{"payments"} }, `federation: exchange "payments" is no declared queue's exchange`},
		{"bad upstream", func(a *Args) { a.Federation.Upstreams[0].Name = "EU West" }, `federation: upstream "EU West": a unique DNS label`},
		{"bad secret", func(a *Args) { a.Federation.Upstreams[0].URISecret = "amqps://u:p@host" }, `uriSecret "amqps://u:p@host" is not a Secret name`},
		{"nothing federated", func(a *Args) { a.Federation.Exchanges = nil }, "federation: upstreams without exchanges to federate"},
		{"no size", func(a *Args) { a.VolumeSize = "big" }, "a storage class and a volume size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := prodArgs()
			tc.edit(a)
			assert.ErrorContains(t, a.Validate(), tc.want)
			_, err := componenttest.Run(func(ctx *pulumi.Context) error {
				_, err := New(ctx, "rabbitmq", a)
				return err
			})
			assert.ErrorContains(t, err, tc.want)
		})
	}
	assert.NoError(t, prodArgs().Validate())
}

// The tier is born under the policy gate: its prod objects pass every
// rule, the data tier's (CS-HA-004/021..023, CS-ENC-005/010) included.
func TestPassesThePolicyGate(t *testing.T) {
	componenttest.PassesPolicies(t, run(t, prodArgs()), "prod", "cloudscale")
}
