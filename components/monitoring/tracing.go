package monitoring

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	otelv1beta1 "github.com/open-telemetry/opentelemetry-operator/apis/v1beta1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8scorev1 "k8s.io/api/core/v1"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// Names and ports of the tracing tier: Jaeger v2 (an OpenTelemetry
// Collector distribution) run by the OpenTelemetry operator as the
// OpenTelemetryCollector "jaeger", whose Service the operator names
// jaeger-collector and whose pods it labels app.kubernetes.io/name
// jaeger-collector (internal/manifests/collector in the operator).
const (
	TracingName = "jaeger"
	// OTLPHTTPPort is OTLP over HTTP; TracingPort (4317) OTLP over gRPC.
	OTLPHTTPPort = 4318
	// QueryPort is Jaeger's query API and UI (the jaeger_query extension).
	QueryPort = 16686
	// CollectorMetricsPort is the collector's own telemetry.
	CollectorMetricsPort = 8888
	// CollectorHealthPort is the healthcheckv2 extension's.
	CollectorHealthPort = 13133
	// OpenTelemetryNamespace runs the OpenTelemetry operator.
	OpenTelemetryNamespace = "opentelemetry-operator-system"
	// DefaultCollectorReplicas is 2: spans keep arriving through the loss
	// of one replica (the senders retry against the Service).
	DefaultCollectorReplicas = 2
)

// CollectorPodLabels select the collector's pods (the operator's labels).
func CollectorPodLabels() map[string]string {
	return map[string]string{contract.NameLabel: TracingName + "-collector"}
}

// TracingOperatorNamespace is the OpenTelemetry operator's namespace as
// the security baseline opens it (its webhook, the API server).
func TracingOperatorNamespace() contract.OperatorNamespace {
	return contract.OperatorNamespace{Name: OpenTelemetryNamespace, IngressPorts: []int{9443}, EgressPorts: []int{443, 6443}}
}

// TracingArgs configure cloudscale:monitoring:Tracing.
type TracingArgs struct {
	Mode       upstream.Mode
	Production bool
	Replicas   int
	// Clients are the namespaces whose pods (the mesh's proxies, the
	// services' SDKs) send spans.
	Clients []string
	// UINamespace is the ingress gateway's namespace, from which the
	// query UI is reached.
	UINamespace string
	Resources   workload.Resources
	Scraper     contract.Peer
}

// Default fills what is unset.
func (a *TracingArgs) Default() {
	if a.Replicas == 0 {
		a.Replicas = DefaultCollectorReplicas
	}
}

// Validate checks the arguments; NewTracing registers nothing unless they
// pass.
func (a *TracingArgs) Validate() error {
	var errs []error
	if a.Replicas < 1 || (a.Production && a.Replicas < 2) {
		errs = append(errs, fmt.Errorf("replicas %d: 1 or more, 2 or more in staging and prod", a.Replicas))
	}
	if len(a.Clients) == 0 {
		errs = append(errs, errors.New("clients: at least one namespace sends spans"))
	}
	for _, ns := range append(slices.Clone(a.Clients), a.UINamespace) {
		if !dnsRe.MatchString(ns) {
			errs = append(errs, fmt.Errorf("namespace %q is not a namespace name", ns))
		}
	}
	return errors.Join(errs...)
}

// Tracing is the component; Collector is where spans are sent (the
// contract the mesh and the services already use).
type Tracing struct {
	pulumi.ResourceState

	Collector contract.Endpoint
}

// NewTracing registers the OpenTelemetry operator and the Jaeger
// collector storing spans in the logs' Elasticsearch, its monitor and
// NetworkPolicy.
func NewTracing(ctx *pulumi.Context, name string, args *TracingArgs, definitions []pulumi.Resource, opts ...pulumi.ResourceOption) (*Tracing, error) {
	if args == nil {
		return nil, fmt.Errorf("tracing %s: args are required", name)
	}
	a := *args
	a.Default()
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("tracing %s: %w", name, err)
	}
	t := &Tracing{Collector: TracingCollector()}
	if err := ctx.RegisterComponentResource("cloudscale:monitoring:Tracing", name, t, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(t, opts)
	op, err := upstream.Install(ctx, name+"-operator", upstream.OpenTelemetryOperator, a.Mode, OpenTelemetryNamespace, otelValues{}, nil, child...)
	if err != nil {
		return nil, err
	}
	withKinds := append(append([]pulumi.ResourceOption(nil), child...), pulumi.DependsOn(append(append([]pulumi.Resource(nil), definitions...), op...)))
	if _, err := upstream.NewObject(ctx, name+"-collector", Collector(&a), nil, withKinds...); err != nil {
		return nil, err
	}
	if _, err := upstream.NewObject(ctx, name+"-monitor", CollectorMonitor(), nil, withKinds...); err != nil {
		return nil, err
	}
	in, out := collectorPeers(&a)
	if _, err := workload.NewNetworkPolicy(ctx, name+"-collector", Namespace, CollectorPodLabels(), in, out, child...); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(t, pulumi.Map{"collector": pulumi.String(t.Collector.Address())}); err != nil {
		return nil, err
	}
	return t, nil
}

// otelValues are the opentelemetry-operator chart's values: the
// operator's webhook certificate from cert-manager (the chart's default).
type otelValues struct {
	Manager otelManager `json:"manager"`
}

type otelManager struct {
	// CollectorImage is the default collector image; the platform names
	// its own on the object.
	CollectorImage map[string]string `json:"collectorImage,omitempty"`
}

// JaegerConfig is the collector's configuration (Jaeger v2's
// config-elasticsearch.yaml shape): OTLP in, memory limit and batching,
// spans written to Elasticsearch through jaeger_storage, read by
// jaeger_query, the collector's metrics on CollectorMetricsPort.
func JaegerConfig() otelv1beta1.Config {
	es := ElasticsearchEndpoint()
	cfg := func(m map[string]any) *otelv1beta1.AnyConfig { return &otelv1beta1.AnyConfig{Object: m} }
	index := map[string]any{"date_layout": "2006-01-02", "rollover_frequency": "day", "shards": 3, "replicas": 1}
	return otelv1beta1.Config{
		Receivers: *cfg(map[string]any{"otlp": map[string]any{"protocols": map[string]any{
			"grpc": map[string]any{"endpoint": "0.0.0.0:" + strconv.Itoa(TracingPort)},
			"http": map[string]any{"endpoint": "0.0.0.0:" + strconv.Itoa(OTLPHTTPPort)},
		}}}),
		Processors: cfg(map[string]any{
			"memory_limiter": map[string]any{"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20},
			"batch":          map[string]any{},
		}),
		Exporters: *cfg(map[string]any{"jaeger_storage_exporter": map[string]any{"trace_storage": "elasticsearch"}}),
		Extensions: cfg(map[string]any{
			"healthcheckv2": map[string]any{"use_v2": true, "http": map[string]any{"endpoint": "0.0.0.0:" + strconv.Itoa(CollectorHealthPort)}},
			"jaeger_query":  map[string]any{"storage": map[string]any{"traces": "elasticsearch"}, "http": map[string]any{"endpoint": "0.0.0.0:" + strconv.Itoa(QueryPort)}},
			"jaeger_storage": map[string]any{"backends": map[string]any{"elasticsearch": map[string]any{"elasticsearch": map[string]any{
				"server_urls": []any{"https://" + es.Address()},
				"auth":        map[string]any{"basic": map[string]any{"username": "elastic", "password": "${env:ELASTIC_PASSWORD}"}},
				"tls":         map[string]any{"ca_file": "/etc/jaeger/elasticsearch/ca.crt"},
				"indices": map[string]any{"index_prefix": "jaeger", "spans": index, "services": index,
					"dependencies": index, "sampling": index},
			}}}},
		}),
		Service: otelv1beta1.Service{
			Extensions: []string{"jaeger_storage", "jaeger_query", "healthcheckv2"},
			Pipelines: map[string]*otelv1beta1.Pipeline{"traces": {
				Receivers: []string{"otlp"}, Processors: []string{"memory_limiter", "batch"}, Exporters: []string{"jaeger_storage_exporter"},
			}},
			Telemetry: cfg(map[string]any{"metrics": map[string]any{"level": "detailed", "readers": []any{map[string]any{"pull": map[string]any{
				"exporter": map[string]any{"prometheus": map[string]any{"host": "0.0.0.0", "port": CollectorMetricsPort}}}}}}}),
		},
	}
}

// Collector is the Jaeger collector: a.Replicas replicas spread over the
// zones with a disruption budget the operator writes, the elastic user's
// password from ECK's Secret and Elasticsearch's CA mounted.
func Collector(a *TracingArgs) *otelv1beta1.OpenTelemetryCollector {
	res, _ := a.Resources.Requirements()
	labels := CollectorPodLabels()
	return &otelv1beta1.OpenTelemetryCollector{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: otelv1beta1.GroupVersion.String(), Kind: "OpenTelemetryCollector"},
		ObjectMeta: k8smetav1.ObjectMeta{Name: TracingName, Namespace: Namespace, Labels: partOf()},
		Spec: otelv1beta1.OpenTelemetryCollectorSpec{
			Mode: otelv1beta1.ModeDeployment, Config: JaegerConfig(),
			// Written: the field has no omitempty, and the operator's
			// schema refuses the empty string (the local API server did).
			UpgradeStrategy: otelv1beta1.UpgradeStrategyAutomatic,
			OpenTelemetryCommonFields: otelv1beta1.OpenTelemetryCommonFields{
				Image: upstream.JaegerImage, Replicas: ptr.To(int32(a.Replicas)), Resources: res,
				PodDisruptionBudget: &otelv1beta1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1))},
				SecurityContext:     restricted(), PodSecurityContext: podSecurity(),
				TopologySpreadConstraints: workload.Spread(labels),
				Affinity:                  workload.ZoneAntiAffinity(labels, a.Production),
				Env: []k8scorev1.EnvVar{{Name: "ELASTIC_PASSWORD", ValueFrom: &k8scorev1.EnvVarSource{SecretKeyRef: &k8scorev1.SecretKeySelector{
					LocalObjectReference: k8scorev1.LocalObjectReference{Name: ElasticUserSecret}, Key: "elastic"}}}},
				Volumes: []k8scorev1.Volume{{Name: "elasticsearch-ca", VolumeSource: k8scorev1.VolumeSource{
					Secret: &k8scorev1.SecretVolumeSource{SecretName: ElasticsearchCASecret}}}},
				VolumeMounts: []k8scorev1.VolumeMount{{Name: "elasticsearch-ca", MountPath: "/etc/jaeger/elasticsearch", ReadOnly: true}},
				Ports:        []otelv1beta1.PortsSpec{{ServicePort: k8scorev1.ServicePort{Name: "query", Port: QueryPort, Protocol: k8scorev1.ProtocolTCP}}},
			},
		},
	}
}

// CollectorMonitor scrapes the collector's own metrics.
func CollectorMonitor() *monitoringv1.PodMonitor {
	labels := partOf()
	labels[contract.NameLabel] = TracingName
	return &monitoringv1.PodMonitor{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: TracingName, Namespace: Namespace, Labels: labels},
		Spec: monitoringv1.PodMonitorSpec{
			Selector:            k8smetav1.LabelSelector{MatchLabels: CollectorPodLabels()},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{Port: ptr.To("metrics")}},
		},
	}
}

// collectorPeers: the clients' namespaces send OTLP, the ingress
// gateway's reaches the query UI, the scraper the metrics; it writes to
// Elasticsearch.
func collectorPeers(a *TracingArgs) (ingress, egress []contract.Peer) {
	for _, ns := range a.Clients {
		ingress = append(ingress, contract.Peer{NamespaceLabels: contract.InNamespace(ns), PodLabels: map[string]string{}, Ports: []int{TracingPort, OTLPHTTPPort}})
	}
	if a.UINamespace != "" {
		ingress = append(ingress, contract.Peer{NamespaceLabels: contract.InNamespace(a.UINamespace), PodLabels: map[string]string{}, Ports: []int{QueryPort}})
	}
	if a.Scraper.Selects() {
		ingress = append(ingress, withPorts(a.Scraper, CollectorMetricsPort))
	}
	egress = []contract.Peer{{PodLabels: ElasticsearchPodLabels(), Ports: []int{ElasticsearchPort}}}
	return ingress, egress
}
