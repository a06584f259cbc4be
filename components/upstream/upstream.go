// Package upstream is the one place where the versions of what the
// platform installs from other projects are pinned, Helm charts (with the
// custom resource kinds the platform writes for them) and container
// images, and the one typed path by which the platform writes objects of
// those projects' kinds:
//   - NewObject registers any typed Kubernetes object (an operator's Go API
//     type) as a Pulumi resource, with outputs folded in;
//   - Install puts a chart into the cluster with typed values, or, where
//     charts cannot be fetched (the local simulated cluster, offline), only
//     the CustomResourceDefinitions of the kinds the platform writes:
//     generated from the operators' own types where they carry
//     kubebuilder markers, open otherwise.
package upstream

import (
	"fmt"
	"regexp"
	"strings"

	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	yamlv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/yaml/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Kind is a custom resource kind a chart defines and the platform writes.
type Kind struct {
	Group, Kind, Plural string
	// Versions served; the first is stored.
	Versions   []string
	Namespaced bool
	// Generated kinds have a CRD that controller-gen generated from the
	// operator's own Go API types (crds/, `make crds`), so the API server
	// checks objects against the operator's schema; the others get an
	// open schema (Istio's types are protobuf, without kubebuilder markers).
	Generated bool
	// Opaque names properties of a generated schema, at any depth, that
	// Definition keeps as any value instead of their full schema: parts of
	// a large definition the platform never writes (Definition says why).
	Opaque []string
}

// Chart is a Helm chart at an exact version, or an operator's release
// manifest where the project publishes no chart.
type Chart struct {
	Name, Repo, Version string
	// Manifest is the URL of a release manifest (https, naming Version),
	// applied instead of a chart; Repo is then empty.
	Manifest string
	// Kinds are the chart's custom resources the platform writes.
	Kinds []Kind
}

// IstioVersion is the mesh release; the charts and the proxy image share it.
const IstioVersion = "1.27.3"

var istioRepo = "https://istio-release.storage.googleapis.com/charts"

// The pinned charts.
var (
	IstioBase = Chart{Name: "base", Repo: istioRepo, Version: IstioVersion, Kinds: []Kind{
		{Group: "networking.istio.io", Kind: "Gateway", Plural: "gateways", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "networking.istio.io", Kind: "VirtualService", Plural: "virtualservices", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "networking.istio.io", Kind: "DestinationRule", Plural: "destinationrules", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "networking.istio.io", Kind: "EnvoyFilter", Plural: "envoyfilters", Versions: []string{"v1alpha3"}, Namespaced: true},
		{Group: "security.istio.io", Kind: "PeerAuthentication", Plural: "peerauthentications", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "security.istio.io", Kind: "AuthorizationPolicy", Plural: "authorizationpolicies", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "security.istio.io", Kind: "RequestAuthentication", Plural: "requestauthentications", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "telemetry.istio.io", Kind: "Telemetry", Plural: "telemetries", Versions: []string{"v1", "v1alpha1"}, Namespaced: true},
	}}
	IstioCNI = Chart{Name: "cni", Repo: istioRepo, Version: IstioVersion}
	Istiod   = Chart{Name: "istiod", Repo: istioRepo, Version: IstioVersion}

	CertManager = Chart{Name: "cert-manager", Repo: "https://charts.jetstack.io", Version: "v1.20.2", Kinds: []Kind{
		{Group: "cert-manager.io", Kind: "ClusterIssuer", Plural: "clusterissuers", Versions: []string{"v1"}, Generated: true},
		{Group: "cert-manager.io", Kind: "Issuer", Plural: "issuers", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		{Group: "cert-manager.io", Kind: "Certificate", Plural: "certificates", Versions: []string{"v1"}, Namespaced: true, Generated: true},
	}}
	Vault = Chart{Name: "vault", Repo: "https://helm.releases.hashicorp.com", Version: "0.31.0"}

	ExternalSecrets = Chart{Name: "external-secrets", Repo: "https://charts.external-secrets.io", Version: "0.19.2", Kinds: []Kind{
		{Group: "external-secrets.io", Kind: "ClusterSecretStore", Plural: "clustersecretstores", Versions: []string{"v1"}, Generated: true},
		{Group: "external-secrets.io", Kind: "ExternalSecret", Plural: "externalsecrets", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		// PushSecret and the Password generator: a password generated
		// in the cluster and written to the store (the Redis tier's).
		{Group: "external-secrets.io", Kind: "PushSecret", Plural: "pushsecrets", Versions: []string{"v1alpha1"}, Namespaced: true, Generated: true},
		{Group: "generators.external-secrets.io", Kind: "Password", Plural: "passwords", Versions: []string{"v1alpha1"}, Namespaced: true, Generated: true},
	}}
)

// cnpgRepo serves CloudNativePG's charts: the operator's and its Barman
// Cloud plugin's.
var cnpgRepo = "https://cloudnative-pg.github.io/charts"

// The data tier's charts. Their kinds' definitions are generated from the
// modules go.mod pins (cloudnative-pg v1.30.0, plugin-barman-cloud
// v0.13.0, prometheus-operator v0.92.0), which are the versions the charts
// ship.
var (
	// CloudNativePG is the PostgreSQL operator: chart 0.29.0 is the one
	// with appVersion 1.30.0 (the repository's index.yaml, released the
	// day the operator was).
	CloudNativePG = Chart{Name: "cloudnative-pg", Repo: cnpgRepo, Version: "0.29.0", Kinds: []Kind{
		{Group: "postgresql.cnpg.io", Kind: "Cluster", Plural: "clusters", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		{Group: "postgresql.cnpg.io", Kind: "Pooler", Plural: "poolers", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		{Group: "postgresql.cnpg.io", Kind: "ScheduledBackup", Plural: "scheduledbackups", Versions: []string{"v1"}, Namespaced: true, Generated: true},
	}}
	// BarmanCloud is CloudNativePG's backup plugin (base backups and WAL
	// to an object store, through a sidecar in each instance pod): chart
	// 0.7.0 is the one that moved the plugin and sidecar images from
	// v0.12.0 to v0.13.0 (0.7.1 ships v0.14.0). It runs in the
	// operator's namespace, and the operator and the plugin authenticate
	// each other with certificates (cert-manager's, as the plugin's
	// documentation recommends).
	BarmanCloud = Chart{Name: "plugin-barman-cloud", Repo: cnpgRepo, Version: "0.7.0", Kinds: []Kind{
		{Group: "barmancloud.cnpg.io", Kind: "ObjectStore", Plural: "objectstores", Versions: []string{"v1"}, Namespaced: true, Generated: true},
	}}
	// PrometheusOperatorCRDs are prometheus-operator's definitions alone:
	// chart 30.0.0 is the one that moved to operator v0.92.0 (30.0.1 ships
	// v0.92.1).
	PrometheusOperatorCRDs = Chart{Name: "prometheus-operator-crds", Repo: "https://prometheus-community.github.io/helm-charts", Version: "30.0.0", Kinds: []Kind{
		{Group: "monitoring.coreos.com", Kind: "PodMonitor", Plural: "podmonitors", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		{Group: "monitoring.coreos.com", Kind: "ServiceMonitor", Plural: "servicemonitors", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		{Group: "monitoring.coreos.com", Kind: "PrometheusRule", Plural: "prometheusrules", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		{Group: "monitoring.coreos.com", Kind: "Prometheus", Plural: "prometheuses", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		{Group: "monitoring.coreos.com", Kind: "Alertmanager", Plural: "alertmanagers", Versions: []string{"v1"}, Namespaced: true, Generated: true},
	}}
)

// The monitoring tier's charts. Their kinds' definitions are generated
// from the modules go.mod pins (prometheus-operator v0.92.0, ECK v3.5.0,
// opentelemetry-operator apis v0.157.0), the versions the charts ship.
var (
	// KubePrometheusStack runs prometheus-operator, Grafana,
	// kube-state-metrics and the node exporter: chart 87.0.0 is the one
	// that moved to operator v0.92.0 (helm-charts PR #7012). Its
	// definitions come from PrometheusOperatorCRDs (crds.enabled false);
	// the platform writes its own Prometheus and Alertmanager.
	KubePrometheusStack = Chart{Name: "kube-prometheus-stack", Repo: "https://prometheus-community.github.io/helm-charts", Version: "87.0.0"}
	// ECKOperator is Elastic Cloud on Kubernetes, which runs the logs'
	// Elasticsearch and Kibana: chart 3.5.0 ships operator 3.5.0.
	ECKOperator = Chart{Name: "eck-operator", Repo: "https://helm.elastic.co", Version: "3.5.0", Kinds: []Kind{
		{Group: "elasticsearch.k8s.elastic.co", Kind: "Elasticsearch", Plural: "elasticsearches", Versions: []string{"v1"}, Namespaced: true, Generated: true},
		{Group: "kibana.k8s.elastic.co", Kind: "Kibana", Plural: "kibanas", Versions: []string{"v1"}, Namespaced: true, Generated: true},
	}}
	// OpenTelemetryOperator runs the tracing tier's collector (Jaeger v2,
	// which is an OpenTelemetry Collector distribution): chart 0.121.0
	// ships operator 0.157.0 (opentelemetry-helm-charts PR #2349).
	OpenTelemetryOperator = Chart{Name: "opentelemetry-operator", Repo: "https://open-telemetry.github.io/opentelemetry-helm-charts", Version: "0.121.0", Kinds: []Kind{
		{Group: "opentelemetry.io", Kind: "OpenTelemetryCollector", Plural: "opentelemetrycollectors", Versions: []string{"v1beta1"}, Namespaced: true, Generated: true},
	}}
	// FluentBit is the node agent that tails every container's log and
	// forwards it to the Fluentd aggregator: chart 0.58.2 (Fluent Bit 5.1.2).
	FluentBit = Chart{Name: "fluent-bit", Repo: "https://fluent.github.io/helm-charts", Version: "0.58.2"}
)

// The monitoring tier's images and versions.
const (
	// PrometheusVersion and AlertmanagerVersion are operator v0.92.0's
	// defaults (pkg/operator/defaults.go), written so an operator upgrade
	// does not move them unnoticed.
	PrometheusVersion   = "v3.12.0"
	AlertmanagerVersion = "v0.33.0"
	// ElasticStackVersion is Elasticsearch's and Kibana's: 8.19, which ECK
	// 3.5 supports, Jaeger v2 stores spans in, and Fluentd's
	// elasticsearch8 image (the elasticsearch 8.19 gem) writes to; an 8.x
	// client cannot talk to Elasticsearch 9.
	ElasticStackVersion = "8.19.18"
	// FluentdImage is the aggregator: Fluentd 1.19 with
	// fluent-plugin-elasticsearch 5.4 (the project's Kubernetes image).
	FluentdImage = "docker.io/fluent/fluentd-kubernetes-daemonset:v1.19.2-debian-elasticsearch8-1.6"
	// ElasticsearchExporterImage is the Prometheus community's exporter,
	// a sidecar of each Elasticsearch node.
	ElasticsearchExporterImage = "quay.io/prometheuscommunity/elasticsearch-exporter:v1.9.0"
	// JaegerImage is Jaeger v2, run by the OpenTelemetry operator as a
	// collector.
	JaegerImage = "docker.io/jaegertracing/jaeger:2.21.0"
)

// The data tier's second set: the document store and the message queue.
// Their kinds' definitions are generated from the modules go.mod pins
// (percona-server-mongodb-operator v1.22.0, rabbitmq/cluster-operator
// v2.20.0, messaging-topology-operator v1.19.1), the versions installed.
var (
	// PerconaMongoDB is Percona's operator for Percona Server for MongoDB:
	// chart psmdb-operator 1.22.0 ships operator 1.22.0 (its appVersion).
	PerconaMongoDB = Chart{Name: "psmdb-operator", Repo: "https://percona.github.io/percona-helm-charts", Version: "1.22.0", Kinds: []Kind{
		{Group: "psmdb.percona.com", Kind: "PerconaServerMongoDB", Plural: "perconaservermongodbs", Versions: []string{"v1"}, Namespaced: true, Generated: true,
			// Each replica set embeds three more member kinds and sidecar
			// pods: 85% of a 0.5 MB schema the platform never writes.
			Opaque: []string{"arbiter", "nonvoting", "hidden", "sidecars", "sidecarVolumes", "sidecarPVCs"}},
	}}
	// RabbitMQClusterOperator is the RabbitMQ team's cluster operator. The
	// team publishes no Helm chart (Bitnami's wraps images now behind a
	// subscription), only a release manifest, which Install applies.
	RabbitMQClusterOperator = Chart{Name: "rabbitmq-cluster-operator", Version: "2.20.0",
		Manifest: "https://github.com/rabbitmq/cluster-operator/releases/download/v2.20.0/cluster-operator.yml", Kinds: []Kind{
			{Group: "rabbitmq.com", Kind: "RabbitmqCluster", Plural: "rabbitmqclusters", Versions: []string{"v1beta1"}, Namespaced: true, Generated: true},
		}}
	// RabbitMQTopologyOperator declares queues, exchanges, bindings,
	// policies, users, permissions and federation upstreams through the
	// management API; its webhooks' certificate comes from cert-manager
	// (the "with-certmanager" manifest).
	RabbitMQTopologyOperator = Chart{Name: "messaging-topology-operator", Version: "1.19.1",
		Manifest: "https://github.com/rabbitmq/messaging-topology-operator/releases/download/v1.19.1/messaging-topology-operator-with-certmanager.yaml", Kinds: []Kind{
			topologyKind("Queue", "queues"), topologyKind("Exchange", "exchanges"), topologyKind("Binding", "bindings"),
			topologyKind("Policy", "policies"), topologyKind("User", "users"), topologyKind("Permission", "permissions"),
			topologyKind("Federation", "federations"),
		}}
)

// topologyKind is a messaging-topology-operator kind (rabbitmq.com/v1beta1).
func topologyKind(kind, plural string) Kind {
	return Kind{Group: "rabbitmq.com", Kind: kind, Plural: plural, Versions: []string{"v1beta1"}, Namespaced: true, Generated: true}
}

// BarmanCloudPlugin is the name a Cluster's spec.plugins gives the Barman
// Cloud plugin.
const BarmanCloudPlugin = "barman-cloud.cloudnative-pg.io"

// ChaosMeshVersion is the Chaos Mesh release; the chart and its images
// share it. The platform's objects are typed from the chaos-mesh api
// module go.mod pins, whose kinds and fields the 2.7 CRDs serve.
const ChaosMeshVersion = "2.7.3"

// chaosMeshKind is a Chaos Mesh kind (chaos-mesh.org/v1alpha1), its CRD
// generated from the api module.
func chaosMeshKind(kind, plural string, namespaced bool) Kind {
	return Kind{Group: "chaos-mesh.org", Kind: kind, Plural: plural, Versions: []string{"v1alpha1"}, Namespaced: namespaced, Generated: true}
}

// ChaosMesh is the chaos tier's chart. Its kinds are every kind the
// controller serves, not only the Schedule the platform writes: the local
// stack installs them all so the real chaos-controller-manager can run
// against the simulated cluster (it watches each of them).
var ChaosMesh = Chart{Name: "chaos-mesh", Repo: "https://charts.chaos-mesh.org", Version: ChaosMeshVersion, Kinds: []Kind{
	chaosMeshKind("AWSChaos", "awschaos", true), chaosMeshKind("AzureChaos", "azurechaos", true),
	chaosMeshKind("BlockChaos", "blockchaos", true), chaosMeshKind("DNSChaos", "dnschaos", true),
	chaosMeshKind("GCPChaos", "gcpchaos", true), chaosMeshKind("HTTPChaos", "httpchaos", true),
	chaosMeshKind("IOChaos", "iochaos", true), chaosMeshKind("JVMChaos", "jvmchaos", true),
	chaosMeshKind("KernelChaos", "kernelchaos", true), chaosMeshKind("NetworkChaos", "networkchaos", true),
	chaosMeshKind("PhysicalMachineChaos", "physicalmachinechaos", true), chaosMeshKind("PhysicalMachine", "physicalmachines", true),
	chaosMeshKind("PodChaos", "podchaos", true), chaosMeshKind("PodHttpChaos", "podhttpchaos", true),
	chaosMeshKind("PodIOChaos", "podiochaos", true), chaosMeshKind("PodNetworkChaos", "podnetworkchaos", true),
	chaosMeshKind("RemoteCluster", "remoteclusters", false), chaosMeshKind("Schedule", "schedules", true),
	chaosMeshKind("StatusCheck", "statuschecks", true), chaosMeshKind("StressChaos", "stresschaos", true),
	chaosMeshKind("TimeChaos", "timechaos", true), chaosMeshKind("WorkflowNode", "workflownodes", true),
	chaosMeshKind("Workflow", "workflows", true),
}}

// The pinned images the platform runs itself (charts pin their own).
const (
	// ProxyImage is replaced by the injector with the same version; it is
	// named so the object is complete where no injector runs.
	ProxyImage = "docker.io/istio/proxyv2:" + IstioVersion
	// RateLimitImage is envoyproxy/ratelimit at 05c08d03 (the build Envoy
	// Gateway's release/v1.6 pins, April 2026): it serves Prometheus
	// metrics itself (USE_PROMETHEUS, since ratelimit PR #681, 2024-09),
	// which the 2021 build 6f5de117 did not.
	RateLimitImage = "docker.io/envoyproxy/ratelimit:05c08d03"
	// PauseImage is what Chaos Mesh's pod-failure swaps a container's
	// image for (the chart's default is an unpinned :latest).
	PauseImage = "registry.k8s.io/pause:3.10"
	// SLOGateImage is the platform's own SLO gate (services/slogate),
	// built to an image with the platform's services; the stacks run its
	// locked digest instead (services/images.json, SLOGateService).
	SLOGateImage = "ghcr.io/cloudscale/slogate:0.1.0"
	// SLOGateService is the SLO gate's name in the images lock.
	SLOGateService = "slogate"

	// PostgresImage is the PostgreSQL the data tier's Clusters run: 17,
	// at the minor released with CloudNativePG 1.30's default (18.4,
	// versions.DefaultImageName), in the "standard" flavour: 1.30's
	// default "system" flavour carries Barman Cloud for the in-core
	// backups, which the project deprecates for the plugin (BarmanCloud),
	// whose sidecar brings its own.
	PostgresImage = "ghcr.io/cloudnative-pg/postgresql:17.10-standard-trixie"
	// PgBouncerImage is CloudNativePG 1.30's PgBouncer for Poolers
	// (versions.DefaultPgbouncerImage; a test keeps them equal).
	PgBouncerImage = "ghcr.io/cloudnative-pg/pgbouncer:1.25.1"
	// ValkeyImage is the cache tier's server: Valkey, the Linux
	// Foundation's BSD-3-Clause fork of Redis 7.2, protocol-compatible
	// with Redis clients. Redis itself is licensed RSALv2/SSPLv1 from
	// 7.4 (AGPLv3 added in 8.0), which the platform does not ship.
	ValkeyImage = "docker.io/valkey/valkey:8.1.4"

	// MongoDBImage is Percona Server for MongoDB 8.0, the release the
	// operator 1.22.0 ships in its deploy/cr.yaml; PBMImage is Percona
	// Backup for MongoDB, its backup agent, likewise.
	MongoDBImage = "docker.io/percona/percona-server-mongodb:8.0.19-7"
	PBMImage     = "docker.io/percona/percona-backup-mongodb:2.12.0"
	// RabbitMQImage is the cluster-operator v2.20.0 default (cmd/main.go):
	// RabbitMQ 4.1, whose quorum queues take message priorities (from 4.0:
	// two levels, priority 0-4 normal and 5 and above high) and whose
	// management plugin the topology operator calls.
	RabbitMQImage = "docker.io/rabbitmq:4.1.3-management"

	// RedisExporterImage exports the cache tier's Valkey to Prometheus
	// (a sidecar beside each server, speaking TLS to it); MongoDBExporterImage
	// Percona's exporter for MongoDB, a sidecar of each replica set member.
	RedisExporterImage   = "docker.io/oliver006/redis_exporter:v1.91.1"
	MongoDBExporterImage = "docker.io/percona/mongodb_exporter:0.53.0"
)

// Mode says how Install provides a chart.
type Mode int

const (
	// Charts installs the pinned chart (clouds).
	Charts Mode = iota
	// CRDsOnly installs only the definitions of the chart's kinds the
	// platform writes (local: charts cannot be fetched offline and the
	// simulated nodes run no containers), so the real API server still
	// stores, and where it can validates, the platform's objects.
	CRDsOnly
	// Omitted registers nothing for the chart: for an evaluation of a
	// stack that reads only its workloads (the chaos plan's derivation,
	// stacks.ChaosPlan), where the definitions change nothing and weigh
	// most of the local stack's graph.
	Omitted
)

func (m Mode) String() string {
	switch m {
	case CRDsOnly:
		return "crds-only"
	case Omitted:
		return "omitted"
	}
	return "charts"
}

var exactVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+$`)

// Validate refuses a chart that is not pinned to an exact version of an
// HTTPS repository.
func (c Chart) Validate() error {
	if !exactVersion.MatchString(c.Version) {
		return fmt.Errorf("chart %s: version %q is not an exact version (x.y.z)", c.Name, c.Version)
	}
	if c.Manifest != "" {
		if !strings.HasPrefix(c.Manifest, "https://") || !strings.Contains(c.Manifest, "/v"+strings.TrimPrefix(c.Version, "v")+"/") {
			return fmt.Errorf("chart %s: manifest %q is not an https URL of release v%s", c.Name, c.Manifest, strings.TrimPrefix(c.Version, "v"))
		}
		return nil
	}
	if !strings.HasPrefix(c.Repo, "https://") {
		return fmt.Errorf("chart %s: repository %q is not an https URL", c.Name, c.Repo)
	}
	return nil
}

// Install provides chart c in namespace ns as the release name: the chart
// itself with values (a typed struct, see Values) and outputs folded into
// them, or only the definitions of its kinds. The returned resources are
// what objects of the chart's kinds must depend on.
func Install(ctx *pulumi.Context, name string, c Chart, mode Mode, ns string, values any, outputs Outputs, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch mode {
	case CRDsOnly:
		return Definitions(ctx, c.Kinds, opts...)
	case Omitted:
		return nil, nil
	}
	if c.Manifest != "" {
		// A release manifest: applied as the project publishes it (its
		// namespace is its own; values do not apply).
		r, err := yamlv2.NewConfigFile(ctx, name, &yamlv2.ConfigFileArgs{File: pulumi.String(c.Manifest)}, opts...)
		if err != nil {
			return nil, err
		}
		return []pulumi.Resource{r}, nil
	}
	v, err := Values(values, outputs)
	if err != nil {
		return nil, fmt.Errorf("chart %s: values: %w", c.Name, err)
	}
	r, err := helmv3.NewRelease(ctx, name, &helmv3.ReleaseArgs{
		Name:           pulumi.String(name),
		Chart:          pulumi.String(c.Name),
		Version:        pulumi.String(c.Version),
		RepositoryOpts: &helmv3.RepositoryOptsArgs{Repo: pulumi.String(c.Repo)},
		Namespace:      pulumi.String(ns),
		Values:         v,
		Atomic:         pulumi.Bool(true),
		CleanupOnFail:  pulumi.Bool(true),
		MaxHistory:     pulumi.Int(10),
		Timeout:        pulumi.Int(900),
	}, opts...)
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{r}, nil
}
