package service

import (
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/monitoring"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/redis"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
)

const (
	ns       = "shop"
	digest   = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	canaryD  = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	image    = "ghcr.io/cloudscale/api-service@" + digest
	canaryIm = "ghcr.io/cloudscale/api-service@" + canaryD

	deploymentType = "kubernetes:apps/v1:Deployment"
)

// stores are what the data tiers export for the guide's topology.
func stores() Stores {
	cols := []mongodb.Collection{{Database: "catalog", Collection: "products", ShardKey: []string{"sku"}, Hashed: true,
		TextIndex: []string{"name", "description"}, Owner: "api-service"}}
	queues := []rabbitmq.Queue{
		{Name: "orders.created", Vhost: "/", Exchange: "orders", RoutingKey: "order.created", DeliveryLimit: 5, Publishers: []string{"api-service"}, Consumers: []string{"order-worker"}},
		{Name: "orders.express", Vhost: "/", Exchange: "orders", RoutingKey: "order.express", DeliveryLimit: 5, Priority: true, Publishers: []string{"api-service"}, Consumers: []string{"order-worker"}},
	}
	var rs []Redis
	for _, inst := range redis.Topology() {
		use := StateUse
		if inst.Name == "redis-cache" {
			use = CacheUse
		}
		rs = append(rs, Redis{Use: use, Endpoint: inst.Endpoint(ns, 3), CA: contract.SecretRef{Namespace: ns, Name: redis.TLSSecret}})
	}
	pg := postgres.Endpoints(ns, []postgres.Database{{Name: "orders", Owner: "api-service"}})[0]
	return Stores{
		Postgres: &Postgres{Endpoint: pg, User: "api_service"}, Redis: rs,
		MongoDB:  &MongoDB{Endpoint: mongodb.NewEndpoint(ns, cols), Collection: cols[0]},
		RabbitMQ: &RabbitMQ{Endpoint: rabbitmq.NewEndpoint(ns, queues), Publishes: queues},
	}
}

func api() *ServiceArgs {
	tracing := monitoring.TracingCollector()
	return &ServiceArgs{
		Namespace: ns, Image: image, Port: 8080, Replicas: 3, Production: true,
		Resources: workload.Resources{RequestCPU: "100m", RequestMemory: "128Mi", LimitCPU: "1", LimitMemory: "512Mi"},
		Canary:    &CanaryArgs{Image: canaryIm, Replicas: 3},
		Stores:    stores(),
		Callers:   []contract.Peer{{PodLabels: map[string]string{"istio": "ingressgateway"}, NamespaceLabels: contract.InNamespace("istio-ingress")}},
		Sidecar:   mesh.Sidecar(tracing, monitoring.Scraper()), Tracing: tracing, TraceSampling: 0.1,
	}
}

func run(t *testing.T, name string, a *ServiceArgs) (graph.Graph, error) {
	t.Helper()
	return componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewService(ctx, name, a)
		return err
	})
}

func envMap(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			out[e.Name] = "<from secret>"
			continue
		}
		out[e.Name] = e.Value
	}
	return out
}

func TestStableAndCanaryBehindOneService(t *testing.T) {
	g, err := run(t, "api-service", api())
	require.NoError(t, err)
	_, ok := g.Named("cloudscale:services:Service", "api-service")
	require.True(t, ok, "the component's token")

	stable := componenttest.Object[appsv1.Deployment](t, g, deploymentType, "api-service")
	canary := componenttest.Object[appsv1.Deployment](t, g, deploymentType, "api-service-canary")
	for version, d := range map[string]*appsv1.Deployment{Stable: stable, Canary: canary} {
		labels := d.Spec.Template.Labels
		assert.Equal(t, "api-service", labels[contract.NameLabel], version)
		assert.Equal(t, version, labels[workload.VersionLabel])
		assert.Equal(t, map[string]string{contract.NameLabel: "api-service", workload.VersionLabel: version}, d.Spec.Selector.MatchLabels,
			"each Deployment selects its own version only")
		assert.Equal(t, int32(3), *d.Spec.Replicas, "the production floor")
		spread := d.Spec.Template.Spec.TopologySpreadConstraints
		require.Len(t, spread, 2)
		assert.Equal(t, version, spread[0].LabelSelector.MatchLabels[workload.VersionLabel], "each version spreads its own pods")
		assert.Equal(t, corev1.DoNotSchedule, spread[0].WhenUnsatisfiable)
	}
	// The mesh's canary subsets select exactly these versions.
	for _, sub := range mesh.Subsets() {
		assert.Contains(t, []string{Stable, Canary}, sub.GetLabels()[workload.VersionLabel], sub.GetName())
	}
	svc := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", "api-service")
	assert.Equal(t, map[string]string{contract.NameLabel: "api-service"}, svc.Spec.Selector, "the Service selects every version")
	assert.Equal(t, int32(8080), svc.Spec.Ports[0].Port)

	app := stable.Spec.Template.Spec.Containers[0]
	assert.Equal(t, image, app.Image, "by digest")
	assert.Equal(t, canaryIm, canary.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, ReadyPath, app.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, HealthPath, app.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, HealthPath, app.StartupProbe.HTTPGet.Path)
	assert.Equal(t, "sha256-0123456789ab", envMap(app)["SERVICE_VERSION"])
	assert.Equal(t, "sha256-fedcba987654", envMap(canary.Spec.Template.Spec.Containers[0])["SERVICE_VERSION"], "the canary reports its own build")
	assert.Equal(t, MetricsAnnotations(8080), stable.Spec.Template.Annotations)
	assert.False(t, *stable.Spec.Template.Spec.AutomountServiceAccountToken)
	assert.Equal(t, "api-service", stable.Spec.Template.Spec.ServiceAccountName)
}

func TestEnvironmentNamesStoresAndFiles(t *testing.T) {
	g, err := run(t, "api-service", api())
	require.NoError(t, err)
	pod := componenttest.Object[appsv1.Deployment](t, g, deploymentType, "api-service").Spec.Template.Spec
	env := envMap(pod.Containers[0])
	want := map[string]string{
		"SERVICE_NAME": "api-service", "LISTEN_ADDR": ":8080", "TRACE_SAMPLING": "0.1",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + monitoring.TracingCollector().Address(),
		"POSTGRES_HOST":               "postgres-orders-pooler-rw.shop.svc.cluster.local", "POSTGRES_PORT": "5432", "POSTGRES_DATABASE": "orders",
		"POSTGRES_USER": "api_service", "POSTGRES_SSLMODE": "require",
		"POSTGRES_PASSWORD_FILE": SecretsDir + "/postgres-orders-app/password",
		"REDIS_STATE_MASTER":     "redis-state",
		"REDIS_STATE_SENTINELS": "redis-state-0.redis-state.shop.svc.cluster.local:26379,redis-state-1.redis-state.shop.svc.cluster.local:26379," +
			"redis-state-2.redis-state.shop.svc.cluster.local:26379",
		"REDIS_STATE_PASSWORD_FILE": SecretsDir + "/redis-auth/password", "REDIS_STATE_CA_FILE": SecretsDir + "/redis-tls/ca.crt",
		"REDIS_CACHE_MASTER": "redis-cache", "REDIS_CACHE_PASSWORD_FILE": SecretsDir + "/redis-auth/password",
		"REDIS_CACHE_CA_FILE": SecretsDir + "/redis-tls/ca.crt",
		"MONGODB_URI": "mongodb://mongodb-mongos.shop.svc.cluster.local:27017/?tls=true&authSource=admin" +
			"&tlsCAFile=%2Fetc%2Fcloudscale%2Fsecrets%2Fmongodb-ssl%2Fca.crt",
		"MONGODB_USER": "api-service", "MONGODB_PASSWORD_FILE": SecretsDir + "/mongodb-custom-user-secret/api-service",
		"MONGODB_DATABASE": "catalog", "MONGODB_COLLECTION": "products",
		"MONGODB_TEXT_INDEX": "name,description",
		"RABBITMQ_HOST":      "rabbitmq.shop.svc.cluster.local", "RABBITMQ_PORT": "5671", "RABBITMQ_VHOST": "/",
		"RABBITMQ_USERNAME_FILE": SecretsDir + "/rabbitmq-api-service-user-credentials/username",
		"RABBITMQ_PASSWORD_FILE": SecretsDir + "/rabbitmq-api-service-user-credentials/password",
		"RABBITMQ_CA_FILE":       SecretsDir + "/rabbitmq-tls/ca.crt",
	}
	for k, v := range want {
		assert.Equal(t, v, env[k], k)
	}
	for k, v := range env {
		assert.NotEqual(t, "<from secret>", v, "%s: secrets are files, not variables", k)
	}

	// Each Secret is mounted read-only with only the keys the service
	// reads: never the stores' private keys, nor other users' passwords.
	mounted := map[string][]string{}
	for _, v := range pod.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, it := range v.Secret.Items {
			mounted[v.Secret.SecretName] = append(mounted[v.Secret.SecretName], it.Key)
		}
	}
	assert.Equal(t, map[string][]string{
		"postgres-orders-app": {"password"}, "redis-auth": {"password"}, "redis-tls": {"ca.crt"},
		"mongodb-custom-user-secret": {"api-service"}, "mongodb-ssl": {"ca.crt"},
		"rabbitmq-api-service-user-credentials": {"username", "password"}, "rabbitmq-tls": {"ca.crt"},
	}, mounted)
	for _, m := range pod.Containers[0].VolumeMounts {
		if strings.HasPrefix(m.MountPath, SecretsDir) {
			assert.True(t, m.ReadOnly, m.MountPath)
		}
	}
}

func TestNetworkPolicyReachesExactlyItsStores(t *testing.T) {
	g, err := run(t, "api-service", api())
	require.NoError(t, err)
	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "api-service").Spec
	assert.Equal(t, map[string]string{contract.NameLabel: "api-service"}, np.PodSelector.MatchLabels, "both versions")
	type peer struct {
		pods  string
		ports []int32
	}
	peers := func(rules []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) peer {
		p := peer{pods: selector(rules[0].PodSelector.MatchLabels)}
		for _, port := range ports {
			p.ports = append(p.ports, port.Port.IntVal)
		}
		return p
	}
	var egress []peer
	for _, r := range np.Egress {
		egress = append(egress, peers(r.To, r.Ports))
	}
	assert.ElementsMatch(t, []peer{
		{"cnpg.io/poolerName=postgres-orders-pooler-rw", []int32{5432}},
		{"app.kubernetes.io/name=redis-state", []int32{6379, 26379}},
		{"app.kubernetes.io/name=redis-cache", []int32{6379, 26379}},
		{selector(mongodb.MongosLabels()), []int32{27017}},
		{"app.kubernetes.io/name=rabbitmq", []int32{5671}},
		{"app=istiod", []int32{15012}},
		{selector(monitoring.CollectorPodLabels()), []int32{4317}},
	}, egress)
	var ingress []peer
	for _, r := range np.Ingress {
		ingress = append(ingress, peers(r.From, r.Ports))
	}
	assert.ElementsMatch(t, []peer{
		{"istio=ingressgateway", []int32{8080}},
		{"app.kubernetes.io/name=prometheus", []int32{mesh.ProxyMergedMetricsPort, mesh.EnvoyMetricsPort}},
	}, ingress)
}

// selector is a label selector's text, sorted.
func selector(labels map[string]string) string {
	return k8slabels.SelectorFromSet(labels).String()
}

func TestMonitorAndAlert(t *testing.T) {
	g, err := run(t, "api-service", api())
	require.NoError(t, err)
	pm := componenttest.Object[monitoringv1.PodMonitor](t, g, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "api-service-monitor")
	assert.Equal(t, ns, pm.Namespace)
	assert.Equal(t, map[string]string{contract.NameLabel: "api-service"}, pm.Spec.Selector.MatchLabels)
	ep := pm.Spec.PodMetricsEndpoints[0]
	assert.Equal(t, MergedMetricsPath, ep.Path)
	assert.Equal(t, "$1:15020", *ep.RelabelConfigs[1].Replacement, "the sidecar's merged metrics")
	assert.Equal(t, "(envoy|istio)_.*", ep.MetricRelabelConfigs[0].Regex, "the proxy's own series come from the mesh's monitor")
	rule := componenttest.Object[monitoringv1.PrometheusRule](t, g, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "api-service-alerts")
	r := rule.Spec.Groups[0].Rules[0]
	assert.Equal(t, "ServiceDown", r.Alert)
	assert.Equal(t, `absent(up{namespace="shop", job="shop/api-service"} == 1)`, r.Expr.String())
	assert.Equal(t, "api-service", r.Labels["service"])
}

func TestServicePassesThePolicyGate(t *testing.T) {
	g, err := run(t, "api-service", api())
	require.NoError(t, err)
	componenttest.PassesPolicies(t, g, "prod", ns)
}

func TestWorkerWithoutCallers(t *testing.T) {
	a := api()
	a.Canary, a.Callers = nil, nil
	st := stores()
	pg := postgres.Endpoints(ns, []postgres.Database{{Name: "orders", Owner: "api-service", Clients: []string{"order-worker"}}})[0]
	queues := st.RabbitMQ.Publishes
	a.Stores = Stores{Postgres: &Postgres{Endpoint: pg, User: "api_service"}, Redis: st.Redis, RabbitMQ: &RabbitMQ{Endpoint: rabbitmq.NewEndpoint(ns, queues), Consumes: queues}}
	a.Image = "ghcr.io/cloudscale/order-worker@" + digest
	g, err := run(t, "order-worker", a)
	require.NoError(t, err)
	deps := g.OfType(deploymentType)
	require.Len(t, deps, 1, "no canary")
	d := componenttest.Object[appsv1.Deployment](t, g, deploymentType, "order-worker")
	assert.Equal(t, Stable, d.Spec.Template.Labels[workload.VersionLabel])
	env := envMap(d.Spec.Template.Spec.Containers[0])
	assert.Equal(t, "orders.created,orders.express", env["QUEUES"])
	assert.NotContains(t, env, "MONGODB_URI")
	assert.Equal(t, SecretsDir+"/rabbitmq-order-worker-user-credentials/password", env["RABBITMQ_PASSWORD_FILE"])
	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "order-worker").Spec
	require.Len(t, np.Ingress, 1, "only the scraper, on the sidecar's ports")
	componenttest.PassesPolicies(t, g, "prod", ns)
}

func TestBadArgs(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*ServiceArgs)
		want   string
	}{
		{"tag only", func(a *ServiceArgs) { a.Image = "ghcr.io/cloudscale/api-service:1.0.0" }, `image "ghcr.io/cloudscale/api-service:1.0.0": reference it by digest`},
		{"canary by tag", func(a *ServiceArgs) { a.Canary.Image = "ghcr.io/cloudscale/api-service:canary" }, "canary image"},
		{"secret elsewhere", func(a *ServiceArgs) { a.Stores.Postgres.Endpoint.CredentialsSecret.Namespace = "other" },
			"secret other/postgres-orders-app: a store's Secret in namespace shop is required"},
		{"too few", func(a *ServiceArgs) { a.Replicas = 2 }, "production needs at least 3"},
		{"small canary", func(a *ServiceArgs) { a.Canary.Replicas = 1 }, `version "canary": replicas 1`},
		{"no collector", func(a *ServiceArgs) { a.Tracing = contract.Endpoint{} }, "a tracing collector"},
		{"open caller", func(a *ServiceArgs) { a.Callers = []contract.Peer{{}} }, "callers[0]"},
		{"no user", func(a *ServiceArgs) { a.Stores.RabbitMQ.Endpoint.Credentials = nil }, "rabbitmq: no user for api-service"},
		{"redis use", func(a *ServiceArgs) { a.Stores.Redis[0].Use = "SESSIONS" }, `use "SESSIONS"`},
		{"no role", func(a *ServiceArgs) { a.Stores.Postgres.User = "" }, "postgres orders: the role to log in as is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := api()
			c.change(a)
			g, err := run(t, "api-service", a)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Empty(t, g.Resources, "nothing registered")
		})
	}
}
