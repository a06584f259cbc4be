package monitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	commonv1 "github.com/elastic/cloud-on-k8s/v3/pkg/apis/common/v1"
	esv1 "github.com/elastic/cloud-on-k8s/v3/pkg/apis/elasticsearch/v1"
	kbv1 "github.com/elastic/cloud-on-k8s/v3/pkg/apis/kibana/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// Names and ports of the logs' pipeline: Fluent Bit on every node tails
// the containers' logs and forwards them (TLS, both sides authenticated)
// to the Fluentd aggregator, which buffers them on disk and writes them
// into Elasticsearch's data stream under an index lifecycle policy;
// Kibana reads them.
const (
	// ElasticsearchName names the Elasticsearch and Kibana objects; ECK
	// names the HTTP Service logs-es-http and the elastic user's Secret
	// logs-es-elastic-user.
	ElasticsearchName = "logs"
	ElasticsearchPort = 9200
	TransportPort     = 9300
	KibanaPort        = 5601
	// ElasticsearchExporterPort is the exporter sidecar's (its default).
	ElasticsearchExporterPort = 9114
	// ElasticsearchTLSSecret is the HTTP layer's certificate, from the
	// platform's CA (ECK's own self-signed CA is not used).
	ElasticsearchTLSSecret = "logs-es-http-tls"
	// ElasticsearchCASecret is ECK's copy of the HTTP certificate without
	// its key (ca.crt, tls.crt), which clients mount to trust it.
	ElasticsearchCASecret = ElasticsearchName + "-es-http-certs-public"
	// ElasticUserSecret is the Secret ECK generates for the elastic
	// user (key "elastic").
	ElasticUserSecret = ElasticsearchName + "-es-elastic-user"

	// FluentdName is the aggregator's workload, Service and ConfigMap
	// prefix; ForwardPort Fluentd's forward input (TLS), FluentdMetricsPort
	// its Prometheus plugin's.
	FluentdName        = "fluentd"
	ForwardPort        = 24224
	FluentdMetricsPort = 24231
	FluentdTLSSecret   = "fluentd-tls"
	// LogsDataStream is the data stream every container's log goes to.
	LogsDataStream = "kubernetes-logs"
	// ILMPolicyName is the data stream's index lifecycle policy.
	ILMPolicyName = "kubernetes-logs"

	// NodeAgentNamespace runs Fluent Bit: it reads the nodes' /var/log
	// through hostPath volumes, which only a privileged namespace admits,
	// so it is kept apart from the monitoring namespace.
	NodeAgentNamespace = "logging"
	FluentBitName      = "fluent-bit"
	FluentBitTLSSecret = "fluent-bit-tls"
	FluentBitHTTPPort  = 2020
	// ECKNamespace runs the ECK operator.
	ECKNamespace = "elastic-system"
)

// Defaults of the logs.
const (
	DefaultElasticsearchNodes = 3
	DefaultKibanaReplicas     = 2
	// DefaultFluentdReplicas is the workload helper's production floor.
	DefaultFluentdReplicas  = 3
	DefaultLogRetentionDays = 14
	DefaultLogVolumeSize    = "100Gi"
	DefaultBufferSize       = "10Gi"
)

// LoggingArgs configure cloudscale:monitoring:Logging.
type LoggingArgs struct {
	Mode       upstream.Mode
	Production bool
	// ElasticsearchNodes are master-eligible data nodes, one zone each
	// (3, odd: a majority of masters survives a zone).
	ElasticsearchNodes int
	KibanaReplicas     int
	FluentdReplicas    int
	// RetentionDays is how long a log is kept (its index is deleted
	// RetentionDays after rollover).
	RetentionDays int
	// StorageClass is the encrypted class; VolumeSize each Elasticsearch
	// node's, BufferSize each Fluentd replica's buffer volume.
	StorageClass, VolumeSize, BufferSize string
	Resources                            workload.Resources
	// Scraper is the monitoring tier's Prometheus (the same tier, but
	// the peer is the one every tier admits).
	Scraper contract.Peer
}

// Default fills what is unset.
func (a *LoggingArgs) Default() {
	for _, d := range []struct {
		v   *int
		def int
	}{{&a.ElasticsearchNodes, DefaultElasticsearchNodes}, {&a.KibanaReplicas, DefaultKibanaReplicas},
		{&a.FluentdReplicas, DefaultFluentdReplicas}, {&a.RetentionDays, DefaultLogRetentionDays}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if a.VolumeSize == "" {
		a.VolumeSize = DefaultLogVolumeSize
	}
	if a.BufferSize == "" {
		a.BufferSize = DefaultBufferSize
	}
}

// Validate checks the arguments; NewLogging registers nothing unless they
// pass.
func (a *LoggingArgs) Validate() error {
	var errs []error
	if a.ElasticsearchNodes < 1 || a.ElasticsearchNodes%2 == 0 {
		errs = append(errs, fmt.Errorf("elasticsearchNodes %d must be odd (a majority of master-eligible nodes elects)", a.ElasticsearchNodes))
	}
	if a.Production && a.ElasticsearchNodes < 3 {
		errs = append(errs, fmt.Errorf("elasticsearchNodes %d: staging and prod run 3 or more, one per zone", a.ElasticsearchNodes))
	}
	if a.KibanaReplicas < 1 || a.FluentdReplicas < 1 {
		errs = append(errs, fmt.Errorf("kibana %d and fluentd %d replicas must be 1 or more", a.KibanaReplicas, a.FluentdReplicas))
	}
	if a.Production && (a.KibanaReplicas < 2 || a.FluentdReplicas < 3) {
		errs = append(errs, fmt.Errorf("staging and prod run 2 or more Kibana and 3 or more Fluentd replicas, not %d and %d", a.KibanaReplicas, a.FluentdReplicas))
	}
	if a.RetentionDays < 1 || a.RetentionDays > 3650 {
		errs = append(errs, fmt.Errorf("retentionDays %d must be between 1 and 3650", a.RetentionDays))
	}
	for k, v := range map[string]string{"volumeSize": a.VolumeSize, "bufferSize": a.BufferSize} {
		if q, err := resource.ParseQuantity(v); err != nil || q.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("%s %q is not a positive quantity", k, v))
		}
	}
	if a.StorageClass == "" {
		errs = append(errs, errors.New("storageClass is required (the cluster's encrypted class)"))
	}
	return errors.Join(errs...)
}

// ElasticsearchPodLabels select the Elasticsearch nodes (ECK's label).
func ElasticsearchPodLabels() map[string]string {
	return map[string]string{"elasticsearch.k8s.elastic.co/cluster-name": ElasticsearchName}
}

// KibanaPodLabels select Kibana's pods (ECK's label).
func KibanaPodLabels() map[string]string {
	return map[string]string{"kibana.k8s.elastic.co/name": ElasticsearchName}
}

// FluentBitPodLabels are the chart's pod labels.
func FluentBitPodLabels() map[string]string {
	return map[string]string{contract.NameLabel: FluentBitName, "app.kubernetes.io/instance": FluentBitName}
}

// ElasticsearchEndpoint is the logs' Elasticsearch HTTPS API; clients
// trust the platform's CA and log in with ElasticUserSecret.
func ElasticsearchEndpoint() contract.Endpoint {
	return contract.Endpoint{Host: ElasticsearchName + "-es-http." + Namespace + ".svc", Port: ElasticsearchPort,
		Peer:   contract.Peer{NamespaceLabels: contract.InNamespace(Namespace), PodLabels: ElasticsearchPodLabels(), Ports: []int{ElasticsearchPort}},
		Secret: contract.SecretRef{Namespace: Namespace, Name: ElasticUserSecret}}
}

// LoggingCertificates are the certificates the logs need issued:
// Elasticsearch's HTTP layer, Fluentd's forward input, and Fluent Bit's
// client certificate.
func LoggingCertificates() []contract.Certificate {
	svc := func(name, ns string) []string {
		return []string{name, name + "." + ns, name + "." + ns + ".svc", name + "." + ns + ".svc.cluster.local"}
	}
	return []contract.Certificate{
		{Name: ElasticsearchTLSSecret, Namespace: Namespace, DNSNames: append(svc(ElasticsearchName+"-es-http", Namespace), "localhost"), IPAddresses: []string{"127.0.0.1"}},
		{Name: FluentdTLSSecret, Namespace: Namespace, DNSNames: svc(FluentdName, Namespace)},
		{Name: FluentBitTLSSecret, Namespace: NodeAgentNamespace, DNSNames: svc(FluentBitName, NodeAgentNamespace)},
	}
}

// LoggingOperatorNamespaces are the namespaces the security baseline
// opens for the logs: ECK's (its webhook, the API server and the
// Elasticsearch and Kibana APIs) and the node agents' (privileged:
// hostPath; it forwards to Fluentd).
func LoggingOperatorNamespaces() []contract.OperatorNamespace {
	return []contract.OperatorNamespace{
		{Name: ECKNamespace, IngressPorts: []int{9443}, EgressPorts: []int{443, 6443, ElasticsearchPort, KibanaPort}},
		{Name: NodeAgentNamespace, IngressPorts: []int{FluentBitHTTPPort}, EgressPorts: []int{443, 6443, ForwardPort}, PodSecurity: "privileged"},
	}
}

// Logging is the component.
type Logging struct {
	pulumi.ResourceState

	Elasticsearch contract.Endpoint
}

// NewLogging registers ECK, Elasticsearch and Kibana, the Fluentd
// aggregator (through the workload helper) with its configuration, Fluent
// Bit, their monitors, budgets and NetworkPolicies. Definitions are what
// objects of the monitoring kinds depend on (installed by the stack).
func NewLogging(ctx *pulumi.Context, name string, args *LoggingArgs, definitions []pulumi.Resource, opts ...pulumi.ResourceOption) (*Logging, error) {
	if args == nil {
		return nil, fmt.Errorf("logging %s: args are required", name)
	}
	a := *args
	a.Default()
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("logging %s: %w", name, err)
	}
	l := &Logging{Elasticsearch: ElasticsearchEndpoint()}
	if err := ctx.RegisterComponentResource("cloudscale:monitoring:Logging", name, l, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(l, opts)
	eck, err := upstream.Install(ctx, name+"-eck", upstream.ECKOperator, a.Mode, ECKNamespace, eckValues{}, nil, child...)
	if err != nil {
		return nil, err
	}
	withKinds := append(append([]pulumi.ResourceOption(nil), child...), pulumi.DependsOn(append(append([]pulumi.Resource(nil), definitions...), eck...)))
	es, err := upstream.NewObject(ctx, name+"-elasticsearch", Elasticsearch(&a), nil, withKinds...)
	if err != nil {
		return nil, err
	}
	if _, err := upstream.NewObject(ctx, name+"-kibana", Kibana(&a), nil, append(withKinds, pulumi.DependsOn([]pulumi.Resource{es}))...); err != nil {
		return nil, err
	}
	if _, err := workload.NewBudget(ctx, name+"-kibana", Namespace, KibanaPodLabels(), child...); err != nil {
		return nil, err
	}
	if err := fluentd(ctx, name, &a, child); err != nil {
		return nil, err
	}
	if _, err := upstream.Install(ctx, name+"-fluent-bit", upstream.FluentBit, a.Mode, NodeAgentNamespace, FluentBitValues(), nil, child...); err != nil {
		return nil, err
	}
	for _, pm := range LoggingMonitors() {
		if _, err := upstream.NewObject(ctx, name+"-monitor-"+pm.Name, pm, nil, withKinds...); err != nil {
			return nil, err
		}
	}
	if err := loggingPolicies(ctx, name, &a, child); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(l, pulumi.Map{"elasticsearch": pulumi.String("https://" + l.Elasticsearch.Address())}); err != nil {
		return nil, err
	}
	return l, nil
}

// eckValues are the eck-operator chart's values the platform sets: none
// (the chart's defaults install its definitions and watch every
// namespace); its release is the namespace's only workload.
type eckValues struct{}

// Elasticsearch is the logs' cluster: a.ElasticsearchNodes
// master-eligible data nodes in one nodeSet with ECK's zone awareness
// (ECK 3.4+: one node per zone, DoNotSchedule, and shard allocation
// awareness on the zone, so a zone's loss keeps a copy of every shard and
// a majority of masters), volumes on the encrypted class, HTTPS with the
// platform's certificate, and the Prometheus exporter as a sidecar.
func Elasticsearch(a *LoggingArgs) *esv1.Elasticsearch {
	res, _ := a.Resources.Requirements()
	exporter := k8scorev1.Container{
		Name: "exporter", Image: upstream.ElasticsearchExporterImage,
		Args: []string{"--es.uri=https://localhost:9200", "--es.ca=/etc/elasticsearch-exporter/ca.crt",
			"--es.all", "--es.indices", "--es.shards", "--web.listen-address=:" + strconv.Itoa(ElasticsearchExporterPort)},
		Env: []k8scorev1.EnvVar{
			{Name: "ES_USERNAME", Value: "elastic"},
			{Name: "ES_PASSWORD", ValueFrom: &k8scorev1.EnvVarSource{SecretKeyRef: &k8scorev1.SecretKeySelector{
				LocalObjectReference: k8scorev1.LocalObjectReference{Name: ElasticUserSecret}, Key: "elastic"}}},
		},
		Ports:           []k8scorev1.ContainerPort{{Name: "metrics", ContainerPort: ElasticsearchExporterPort, Protocol: k8scorev1.ProtocolTCP}},
		VolumeMounts:    []k8scorev1.VolumeMount{{Name: "http-ca", MountPath: "/etc/elasticsearch-exporter", ReadOnly: true}},
		SecurityContext: restricted(), Resources: k8scorev1.ResourceRequirements{Requests: k8scorev1.ResourceList{
			k8scorev1.ResourceCPU: resource.MustParse("50m"), k8scorev1.ResourceMemory: resource.MustParse("64Mi")}},
	}
	node := k8scorev1.Container{Name: "elasticsearch", Resources: res, SecurityContext: restricted()}
	return &esv1.Elasticsearch{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: esv1.GroupVersion.String(), Kind: esv1.Kind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: ElasticsearchName, Namespace: Namespace, Labels: partOf()},
		Spec: esv1.ElasticsearchSpec{
			Version: upstream.ElasticStackVersion,
			HTTP:    commonv1.HTTPConfigWithClientOptions{TLS: commonv1.TLSWithClientOptions{TLSOptions: commonv1.TLSOptions{Certificate: commonv1.SecretRef{SecretName: ElasticsearchTLSSecret}}}},
			NodeSets: []esv1.NodeSet{{
				Name: "default", Count: int32(a.ElasticsearchNodes),
				Config: &commonv1.Config{Data: map[string]any{
					"node.roles": []any{"master", "data", "ingest"},
					// No privileged init container raises vm.max_map_count
					// under restricted Pod Security (ECK's documented choice).
					"node.store.allow_mmap": false,
				}},
				ZoneAwareness: &esv1.ZoneAwareness{},
				PodTemplate: k8scorev1.PodTemplateSpec{Spec: k8scorev1.PodSpec{
					Containers: []k8scorev1.Container{node, exporter}, SecurityContext: podSecurity(),
					Volumes: []k8scorev1.Volume{{Name: "http-ca", VolumeSource: k8scorev1.VolumeSource{
						Secret: &k8scorev1.SecretVolumeSource{SecretName: ElasticsearchCASecret}}}},
				}},
				VolumeClaimTemplates: []k8scorev1.PersistentVolumeClaim{{
					ObjectMeta: k8smetav1.ObjectMeta{Name: "elasticsearch-data"},
					Spec: k8scorev1.PersistentVolumeClaimSpec{
						StorageClassName: ptr.To(a.StorageClass), AccessModes: []k8scorev1.PersistentVolumeAccessMode{k8scorev1.ReadWriteOnce},
						Resources: k8scorev1.VolumeResourceRequirements{Requests: k8scorev1.ResourceList{k8scorev1.ResourceStorage: resource.MustParse(a.VolumeSize)}},
					},
				}},
			}},
		},
	}
}

// restricted is a container security context the restricted Pod Security
// level admits.
func restricted() *k8scorev1.SecurityContext {
	return &k8scorev1.SecurityContext{
		RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:   &k8scorev1.Capabilities{Drop: []k8scorev1.Capability{"ALL"}},
		SeccompProfile: &k8scorev1.SeccompProfile{Type: k8scorev1.SeccompProfileTypeRuntimeDefault},
	}
}

// Kibana reads the logs: a.KibanaReplicas replicas spread over the zones.
func Kibana(a *LoggingArgs) *kbv1.Kibana {
	res, _ := a.Resources.Requirements()
	return &kbv1.Kibana{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: kbv1.GroupVersion.String(), Kind: kbv1.Kind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: ElasticsearchName, Namespace: Namespace, Labels: partOf()},
		Spec: kbv1.KibanaSpec{
			Version: upstream.ElasticStackVersion, Count: int32(a.KibanaReplicas),
			ElasticsearchRef: commonv1.ElasticsearchSelector{ObjectSelector: commonv1.ObjectSelector{Name: ElasticsearchName}},
			PodTemplate: k8scorev1.PodTemplateSpec{Spec: k8scorev1.PodSpec{
				Containers:                []k8scorev1.Container{{Name: "kibana", Resources: res, SecurityContext: restricted()}},
				SecurityContext:           podSecurity(),
				TopologySpreadConstraints: workload.Spread(KibanaPodLabels()),
			}},
		},
	}
}

// ILMPolicy is the logs' index lifecycle: roll the data stream's backing
// index over daily or at 50 GB a primary shard, delete an index
// retentionDays after its rollover.
func ILMPolicy(retentionDays int) ([]byte, error) {
	return json.Marshal(map[string]any{"policy": map[string]any{"phases": map[string]any{
		"hot":    map[string]any{"actions": map[string]any{"rollover": map[string]any{"max_age": "1d", "max_primary_shard_size": "50gb"}}},
		"delete": map[string]any{"min_age": fmt.Sprintf("%dd", retentionDays), "actions": map[string]any{"delete": map[string]any{}}},
	}}})
}

// FluentdConfig is the aggregator's fluent.conf: the forward input over
// TLS (Fluent Bit authenticates with its certificate), the Prometheus
// plugin, and the Elasticsearch data stream output with the lifecycle
// policy, behind a file buffer on the replica's volume that retries
// forever and blocks (back-pressure to Fluent Bit, which buffers on the
// node's disk) when full, so an Elasticsearch outage loses no log
// (fluent-plugin-elasticsearch 5.4's elasticsearch_data_stream output).
func FluentdConfig(a *LoggingArgs) (string, error) {
	ilm, err := ILMPolicy(a.RetentionDays)
	if err != nil {
		return "", err
	}
	q := resource.MustParse(a.BufferSize)
	// 90% of the volume for chunks, the rest for the plugin's metadata.
	total := q.Value() * 9 / 10 >> 20
	return strings.Join([]string{
		`<system>`,
		`  log_level info`,
		`</system>`,
		`<source>`,
		`  @type forward`,
		`  bind 0.0.0.0`,
		`  port ` + strconv.Itoa(ForwardPort),
		`  <transport tls>`,
		`    cert_path /etc/fluentd/tls/tls.crt`,
		`    private_key_path /etc/fluentd/tls/tls.key`,
		`    ca_path /etc/fluentd/tls/ca.crt`,
		`    client_cert_auth true`,
		`    min_version TLS1_2`,
		`  </transport>`,
		`</source>`,
		`<source>`,
		`  @type prometheus`,
		`  bind 0.0.0.0`,
		`  port ` + strconv.Itoa(FluentdMetricsPort),
		`  metrics_path /metrics`,
		`</source>`,
		`<source>`,
		`  @type prometheus_output_monitor`,
		`</source>`,
		`<match kube.**>`,
		`  @type elasticsearch_data_stream`,
		`  @id elasticsearch`,
		`  data_stream_name ` + LogsDataStream,
		`  data_stream_ilm_name ` + ILMPolicyName,
		`  data_stream_ilm_policy ` + string(ilm),
		`  data_stream_ilm_policy_overwrite true`,
		`  hosts https://` + ElasticsearchEndpoint().Address(),
		`  user elastic`,
		`  password "#{ENV['ELASTIC_PASSWORD']}"`,
		`  ca_file /etc/fluentd/elasticsearch/ca.crt`,
		`  ssl_verify true`,
		`  ssl_version TLSv1_2`,
		`  include_timestamp true`,
		`  <buffer>`,
		`    @type file`,
		`    path /data/buffer`,
		`    flush_mode interval`,
		`    flush_interval 5s`,
		`    flush_thread_count 2`,
		`    chunk_limit_size 8MB`,
		`    total_limit_size ` + strconv.FormatInt(total, 10) + `MB`,
		`    overflow_action block`,
		`    retry_type exponential_backoff`,
		`    retry_forever true`,
		`    retry_max_interval 60s`,
		`  </buffer>`,
		`</match>`,
		``,
	}, "\n"), nil
}

// FluentdConfigMap is the aggregator's configuration ConfigMap; it also
// holds the lifecycle policy on its own (ilm-policy.json), which the
// policy gate reads.
const FluentdConfigMap = FluentdName + "-config"

// fluentd registers the aggregator's configuration and its StatefulSet
// through the workload helper.
func fluentd(ctx *pulumi.Context, name string, a *LoggingArgs, child []pulumi.ResourceOption) error {
	conf, err := FluentdConfig(a)
	if err != nil {
		return err
	}
	ilm, _ := ILMPolicy(a.RetentionDays)
	labels := partOf()
	labels[contract.NameLabel] = FluentdName
	cm, err := corev1.NewConfigMap(ctx, name+"-fluentd-config", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(FluentdConfigMap), Namespace: pulumi.String(Namespace), Labels: pulumi.ToStringMap(labels)},
		Data:     pulumi.StringMap{"fluent.conf": pulumi.String(conf), "ilm-policy.json": pulumi.String(string(ilm))},
	}, child...)
	if err != nil {
		return err
	}
	in, out := fluentdPeers(a)
	_, err = workload.New(ctx, FluentdName, &workload.Args{
		Namespace: Namespace, Image: upstream.FluentdImage, Replicas: a.FluentdReplicas, Production: a.Production,
		Command: []string{"fluentd", "-c", "/etc/fluentd/config/fluent.conf", "--no-supervisor"},
		// The probes read the first port: the Prometheus plugin's endpoint
		// answers once the inputs run.
		Ports:      []workload.Port{{Name: "metrics", Port: FluentdMetricsPort}, {Name: "forward", Port: ForwardPort}},
		HealthPath: "/metrics",
		SecretEnv:  map[string]workload.SecretKey{"ELASTIC_PASSWORD": {Secret: ElasticUserSecret, Key: "elastic"}},
		Volumes: []workload.Volume{
			{Name: "config", MountPath: "/etc/fluentd/config", ConfigMap: FluentdConfigMap},
			{Name: "tls", MountPath: "/etc/fluentd/tls", Secret: FluentdTLSSecret},
			{Name: "elasticsearch", MountPath: "/etc/fluentd/elasticsearch", Secret: ElasticsearchCASecret},
		},
		Stateful: true, VolumeSize: a.BufferSize, StorageClass: a.StorageClass,
		Resources: a.Resources, Ingress: in, Egress: out,
	}, append(child, pulumi.DependsOn([]pulumi.Resource{cm}))...)
	return err
}

// fluentdPeers: Fluent Bit forwards from the node agents' namespace, the
// scraper reads the metrics; it writes to Elasticsearch.
func fluentdPeers(a *LoggingArgs) (ingress, egress []contract.Peer) {
	ingress = []contract.Peer{{NamespaceLabels: contract.InNamespace(NodeAgentNamespace), PodLabels: FluentBitPodLabels(), Ports: []int{ForwardPort}}}
	if a.Scraper.Selects() {
		s := a.Scraper
		s.Ports = []int{FluentdMetricsPort}
		ingress = append(ingress, s)
	}
	egress = []contract.Peer{{PodLabels: ElasticsearchPodLabels(), Ports: []int{ElasticsearchPort}}}
	return ingress, egress
}

// loggingPolicies admit, besides the monitoring namespace's own traffic
// (the baseline's): ECK to the Elasticsearch and Kibana APIs, the scraper
// to the exporter, and the tracing collector's writes.
func loggingPolicies(ctx *pulumi.Context, name string, a *LoggingArgs, child []pulumi.ResourceOption) error {
	eck := contract.Peer{NamespaceLabels: contract.InNamespace(ECKNamespace), PodLabels: map[string]string{}}
	es := []contract.Peer{withPorts(eck, ElasticsearchPort), {PodLabels: ElasticsearchPodLabels(), Ports: []int{ElasticsearchPort, TransportPort}}}
	if a.Scraper.Selects() {
		es = append(es, withPorts(a.Scraper, ElasticsearchExporterPort))
	}
	self := []contract.Peer{{PodLabels: ElasticsearchPodLabels(), Ports: []int{ElasticsearchPort, TransportPort}}}
	if _, err := workload.NewNetworkPolicy(ctx, name+"-elasticsearch", Namespace, ElasticsearchPodLabels(), es, self, child...); err != nil {
		return err
	}
	kb := []contract.Peer{withPorts(eck, KibanaPort)}
	_, err := workload.NewNetworkPolicy(ctx, name+"-kibana", Namespace, KibanaPodLabels(), kb,
		[]contract.Peer{{PodLabels: ElasticsearchPodLabels(), Ports: []int{ElasticsearchPort}}}, child...)
	return err
}

func withPorts(p contract.Peer, ports ...int) contract.Peer {
	p.Ports = ports
	return p
}

// LoggingMonitors scrape the logs' pipeline: the Elasticsearch exporter
// sidecars, Fluentd's Prometheus plugin and Fluent Bit's HTTP server.
// Kibana exports no Prometheus metrics; its pods' readiness is read from
// kube-state-metrics.
func LoggingMonitors() []*monitoringv1.PodMonitor {
	pm := func(name, ns string, sel map[string]string, port, path string) *monitoringv1.PodMonitor {
		labels := partOf()
		labels[contract.NameLabel] = name
		return &monitoringv1.PodMonitor{
			TypeMeta:   k8smetav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
			ObjectMeta: k8smetav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: monitoringv1.PodMonitorSpec{
				Selector:            k8smetav1.LabelSelector{MatchLabels: sel},
				PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{Port: ptr.To(port), Path: path}},
			},
		}
	}
	return []*monitoringv1.PodMonitor{
		pm("elasticsearch", Namespace, ElasticsearchPodLabels(), "metrics", "/metrics"),
		pm(FluentdName, Namespace, map[string]string{contract.NameLabel: FluentdName}, "metrics", "/metrics"),
		pm(FluentBitName, NodeAgentNamespace, FluentBitPodLabels(), "http", "/api/v2/metrics/prometheus"),
	}
}
