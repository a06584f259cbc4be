package rabbitmq

import (
	"encoding/json"
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	topologyv1beta1 "github.com/rabbitmq/messaging-topology-operator/api/v1beta1"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// Config is the nodes' rabbitmq.conf additions: quorum queues unless a
// queue says otherwise (RabbitMQ 4's default_queue_type for new
// virtual hosts, the default one included), and TLS 1.3 and 1.2 only.
const Config = `default_queue_type = quorum
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
ssl_options.fail_if_no_peer_cert = false
management.ssl.versions.1 = tlsv1.3
management.ssl.versions.2 = tlsv1.2
`

// Plugins are added to the operator's (management, Prometheus, peer
// discovery): federation and its management page.
var Plugins = []rabbitmqv1beta1.Plugin{"rabbitmq_federation", "rabbitmq_federation_management"}

func meta(ns, name string) k8smetav1.ObjectMeta {
	return k8smetav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}}
}

func typeMeta(kind string) k8smetav1.TypeMeta {
	return k8smetav1.TypeMeta{APIVersion: topologyv1beta1.GroupVersion.String(), Kind: kind}
}

// Cluster is the RabbitmqCluster: Replicas nodes spread over the zones
// through the StatefulSet override (the operator adds no zone spread; in
// production one node per zone is required), persistence on the encrypted
// class, TLS only, outside the mesh (the nodes speak TLS themselves and
// the operators, outside it, call them).
func Cluster(a *Args) *rabbitmqv1beta1.RabbitmqCluster {
	res, _ := a.Resources.Requirements()
	class := a.StorageClass
	size := resource.MustParse(a.VolumeSize)
	return &rabbitmqv1beta1.RabbitmqCluster{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: rabbitmqv1beta1.GroupVersion.String(), Kind: "RabbitmqCluster"},
		ObjectMeta: meta(a.Namespace, ClusterName),
		Spec: rabbitmqv1beta1.RabbitmqClusterSpec{
			Replicas: ptr.To(int32(a.Replicas)), Image: upstream.RabbitMQImage, Resources: &res,
			Persistence: rabbitmqv1beta1.RabbitmqClusterPersistenceSpec{StorageClassName: &class, Storage: &size},
			TLS:         rabbitmqv1beta1.TLSSpec{SecretName: TLSSecret, CaSecretName: TLSSecret, DisableNonTLSListeners: true},
			Affinity:    workload.ZoneAntiAffinity(PodLabels(), a.Production),
			Rabbitmq:    rabbitmqv1beta1.RabbitmqClusterConfigurationSpec{AdditionalPlugins: Plugins, AdditionalConfig: Config},
			Override: rabbitmqv1beta1.RabbitmqClusterOverrideSpec{StatefulSet: &rabbitmqv1beta1.StatefulSet{
				Spec: &rabbitmqv1beta1.StatefulSetSpec{Template: &rabbitmqv1beta1.PodTemplateSpec{
					EmbeddedObjectMeta: &rabbitmqv1beta1.EmbeddedObjectMeta{Labels: map[string]string{
						"sidecar.istio.io/inject": "false", "app.kubernetes.io/part-of": "cloudscale"}},
					// containers: [] because the PodSpec type requires it;
					// the operator merges the override into its own.
					Spec: &k8scorev1.PodSpec{Containers: []k8scorev1.Container{}, TopologySpreadConstraints: workload.Spread(PodLabels())},
				}},
			}},
		},
	}
}

func ref(*Args) topologyv1beta1.RabbitmqClusterReference {
	return topologyv1beta1.RabbitmqClusterReference{Name: ClusterName}
}

func raw(v map[string]any) *runtime.RawExtension {
	data, _ := json.Marshal(v)
	return &runtime.RawExtension{Raw: data}
}

// objectName is a Kubernetes name for a RabbitMQ name in a vhost.
func objectName(prefix, vhost, name string) string {
	n := prefix + "-" + strings.NewReplacer(".", "-", "_", "-", ":", "-").Replace(strings.ToLower(name))
	if vhost != DefaultVhost {
		n += "-" + strings.NewReplacer("/", "", ".", "-", "_", "-").Replace(strings.ToLower(vhost))
	}
	return n
}

// Topology are the objects the topology operator declares, in the order
// they must exist: exchanges, queues, bindings, policies, users and their
// permissions, federation upstreams and the federation policy.
func Topology(a *Args) []upstream.NamedObject {
	var out []upstream.NamedObject
	add := func(name string, o upstream.Object) { out = append(out, upstream.NamedObject{Name: name, Object: o}) }
	exchanges := map[string]bool{}
	for _, q := range a.Queues {
		vh := q.vhost()
		if !exchanges[vh+"/"+q.Exchange] {
			exchanges[vh+"/"+q.Exchange] = true
			add(objectName("exchange", vh, q.Exchange), &topologyv1beta1.Exchange{TypeMeta: typeMeta("Exchange"), ObjectMeta: meta(a.Namespace, objectName("exchange", vh, q.Exchange)),
				Spec: topologyv1beta1.ExchangeSpec{Name: q.Exchange, Vhost: vh, Type: "topic", Durable: true, RabbitmqClusterReference: ref(a)}})
		}
		add(objectName("exchange", vh, q.DeadLetterExchange()), &topologyv1beta1.Exchange{TypeMeta: typeMeta("Exchange"), ObjectMeta: meta(a.Namespace, objectName("exchange", vh, q.DeadLetterExchange())),
			Spec: topologyv1beta1.ExchangeSpec{Name: q.DeadLetterExchange(), Vhost: vh, Type: "direct", Durable: true, RabbitmqClusterReference: ref(a)}})
		for _, name := range []string{q.Name, q.DeadLetterQueue()} {
			add(objectName("queue", vh, name), &topologyv1beta1.Queue{TypeMeta: typeMeta("Queue"), ObjectMeta: meta(a.Namespace, objectName("queue", vh, name)),
				Spec: topologyv1beta1.QueueSpec{Name: name, Vhost: vh, Type: "quorum", Durable: true,
					// Declared quorum explicitly: a vhost created before
					// default_queue_type would give classic.
					Arguments: raw(map[string]any{"x-queue-type": "quorum"}), RabbitmqClusterReference: ref(a)}})
		}
		add(objectName("binding", vh, q.Name), &topologyv1beta1.Binding{TypeMeta: typeMeta("Binding"), ObjectMeta: meta(a.Namespace, objectName("binding", vh, q.Name)),
			Spec: topologyv1beta1.BindingSpec{Vhost: vh, Source: q.Exchange, Destination: q.Name, DestinationType: "queue", RoutingKey: q.RoutingKey, RabbitmqClusterReference: ref(a)}})
		add(objectName("binding", vh, q.DeadLetterQueue()), &topologyv1beta1.Binding{TypeMeta: typeMeta("Binding"), ObjectMeta: meta(a.Namespace, objectName("binding", vh, q.DeadLetterQueue())),
			Spec: topologyv1beta1.BindingSpec{Vhost: vh, Source: q.DeadLetterExchange(), Destination: q.DeadLetterQueue(), DestinationType: "queue", RoutingKey: q.Name, RabbitmqClusterReference: ref(a)}})
		add(objectName("policy", vh, q.Name), QueuePolicy(a, q))
	}
	for _, g := range Grants(a.Queues) {
		user := UserName(g.Service)
		if !hasObject(out, "user-"+user) { // one user per service, whatever its vhosts
			add("user-"+user, &topologyv1beta1.User{TypeMeta: typeMeta("User"), ObjectMeta: meta(a.Namespace, user),
				// No importCredentialsSecret: the operator generates the
				// username and password into <user>-user-credentials.
				Spec: topologyv1beta1.UserSpec{RabbitmqClusterReference: ref(a)}})
		}
		configure, write, read := g.Permissions()
		name := objectName("permission", g.Vhost, g.Service)
		add(name, &topologyv1beta1.Permission{TypeMeta: typeMeta("Permission"), ObjectMeta: meta(a.Namespace, name),
			Spec: topologyv1beta1.PermissionSpec{UserReference: &k8scorev1.LocalObjectReference{Name: user}, Vhost: g.Vhost,
				Permissions: topologyv1beta1.VhostPermissions{Configure: configure, Write: write, Read: read}, RabbitmqClusterReference: ref(a)}})
	}
	out = append(out, federation(a)...)
	return out
}

func hasObject(objs []upstream.NamedObject, name string) bool {
	for _, o := range objs {
		if o.Name == name {
			return true
		}
	}
	return false
}

// QueuePolicy is q's policy: the delivery limit, the dead-letter exchange
// and routing key, and at-least-once dead-lettering, which needs
// overflow reject-publish (with drop-head RabbitMQ falls back to
// at-most-once). A policy, not queue arguments, so a change applies to
// the running queue (arguments are fixed at declaration).
func QueuePolicy(a *Args, q Queue) *topologyv1beta1.Policy {
	vh := q.vhost()
	return &topologyv1beta1.Policy{TypeMeta: typeMeta("Policy"), ObjectMeta: meta(a.Namespace, objectName("policy", vh, q.Name)),
		Spec: topologyv1beta1.PolicySpec{
			Name: "queue-" + q.Name, Vhost: vh, Pattern: "^" + regexpQuote(q.Name) + "$", ApplyTo: "quorum_queues", Priority: 10,
			Definition: raw(map[string]any{
				"delivery-limit": q.DeliveryLimit, "dead-letter-exchange": q.DeadLetterExchange(), "dead-letter-routing-key": q.Name,
				"dead-letter-strategy": "at-least-once", "overflow": "reject-publish",
			}),
			RabbitmqClusterReference: ref(a),
		}}
}

// federation is one Federation per upstream (its URI in its Secret) and a
// policy that federates the named exchanges from all of them; nothing
// when no upstream is given.
func federation(a *Args) []upstream.NamedObject {
	f := a.Federation
	if len(f.Upstreams) == 0 {
		return nil
	}
	var out []upstream.NamedObject
	for _, u := range f.Upstreams {
		name := "federation-" + u.Name
		out = append(out, upstream.NamedObject{Name: name, Object: &topologyv1beta1.Federation{
			TypeMeta: typeMeta("Federation"), ObjectMeta: meta(a.Namespace, name),
			Spec: topologyv1beta1.FederationSpec{
				Name: u.Name, Vhost: DefaultVhost, UriSecret: &k8scorev1.LocalObjectReference{Name: u.URISecret},
				// on-confirm: a message leaves the upstream only once this
				// cluster has confirmed it (no loss on a link failure).
				AckMode: "on-confirm", MaxHops: 1, RabbitmqClusterReference: ref(a),
			},
		}})
	}
	var quoted []string
	for _, x := range f.Exchanges {
		quoted = append(quoted, regexpQuote(x))
	}
	out = append(out, upstream.NamedObject{Name: "policy-" + FederationPolicy, Object: &topologyv1beta1.Policy{
		TypeMeta: typeMeta("Policy"), ObjectMeta: meta(a.Namespace, "policy-"+FederationPolicy),
		Spec: topologyv1beta1.PolicySpec{
			Name: FederationPolicy, Vhost: DefaultVhost, Pattern: "^(" + strings.Join(quoted, "|") + ")$", ApplyTo: "exchanges", Priority: 10,
			Definition: raw(map[string]any{"federation-upstream-set": "all"}), RabbitmqClusterReference: ref(a),
		},
	}})
	return out
}

// regexpQuote escapes a RabbitMQ name for a policy pattern (an Erlang
// regular expression: the same metacharacters as Go's).
func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ServiceMonitor scrapes the Prometheus plugin on its TLS port, trusting
// the platform's CA: /metrics, the node's metrics with queues aggregated,
// and /metrics/per-object, each queue's (depths, dead-letter counts), of
// which only the rabbitmq_queue_* families are kept. The per-object
// endpoint repeats every node-level family with the same labels (identity,
// alarms, totals), which two scrapes of one target must not both write.
func ServiceMonitor(a *Args) *monitoringv1.ServiceMonitor {
	scheme := monitoringv1.SchemeHTTPS
	server := fmt.Sprintf("%s.%s.svc", ClusterName, a.Namespace)
	tls := &monitoringv1.TLSConfig{SafeTLSConfig: monitoringv1.SafeTLSConfig{
		CA:         monitoringv1.SecretOrConfigMap{Secret: &k8scorev1.SecretKeySelector{LocalObjectReference: k8scorev1.LocalObjectReference{Name: TLSSecret}, Key: "ca.crt"}},
		ServerName: &server,
	}}
	ep := func(path string) monitoringv1.Endpoint {
		e := monitoringv1.Endpoint{Port: "prometheus-tls", Path: path, Scheme: &scheme}
		e.TLSConfig = tls
		return e
	}
	perObject := ep("/metrics/per-object")
	perObject.MetricRelabelConfigs = []monitoringv1.RelabelConfig{{
		SourceLabels: []monitoringv1.LabelName{"__name__"}, Regex: PerObjectMetrics, Action: "keep",
	}}
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: "ServiceMonitor"},
		ObjectMeta: meta(a.Namespace, ClusterName),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:  k8smetav1.LabelSelector{MatchLabels: map[string]string{contract.NameLabel: ClusterName, "app.kubernetes.io/component": "rabbitmq"}},
			Endpoints: []monitoringv1.Endpoint{ep("/metrics"), perObject},
		},
	}
}
