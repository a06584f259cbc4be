package monitoring

import (
	"encoding/json"
	"strings"
	"testing"

	esv1 "github.com/elastic/cloud-on-k8s/v3/pkg/apis/elasticsearch/v1"
	kbv1 "github.com/elastic/cloud-on-k8s/v3/pkg/apis/kibana/v1"
	otelv1beta1 "github.com/open-telemetry/opentelemetry-operator/apis/v1beta1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
)

func prodLogging() *LoggingArgs {
	return &LoggingArgs{
		Mode: upstream.Charts, Production: true, RetentionDays: 30, StorageClass: "cloudscale-encrypted",
		Resources: workload.Resources{RequestCPU: "250m", RequestMemory: "512Mi", LimitCPU: "2", LimitMemory: "4Gi"},
		Scraper:   Scraper(),
	}
}

func runLogging(t *testing.T, a *LoggingArgs) graph.Graph {
	t.Helper()
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewLogging(ctx, "logging", a, nil)
		return err
	})
	require.NoError(t, err)
	return g
}

func TestElasticsearch(t *testing.T) {
	g := runLogging(t, prodLogging())
	es := componenttest.Object[esv1.Elasticsearch](t, g, "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch", "logging-elasticsearch")
	require.Len(t, es.Spec.NodeSets, 1)
	ns := es.Spec.NodeSets[0]
	assert.Equal(t, int32(3), ns.Count)
	assert.Equal(t, []any{"master", "data", "ingest"}, ns.Config.Data["node.roles"], "every node is master-eligible")
	require.NotNil(t, ns.ZoneAwareness, "ECK spreads the nodes over the zones and sets shard allocation awareness")
	assert.Equal(t, corev1.LabelTopologyZone, ns.ZoneAwareness.TopologyKeyOrDefault())
	assert.Equal(t, "cloudscale-encrypted", *ns.VolumeClaimTemplates[0].Spec.StorageClassName)
	assert.Equal(t, "elasticsearch-data", ns.VolumeClaimTemplates[0].Name)
	assert.Equal(t, ElasticsearchTLSSecret, es.Spec.HTTP.TLS.Certificate.SecretName, "HTTPS with the platform's certificate")
	assert.Equal(t, upstream.ElasticStackVersion, es.Spec.Version)
	var exporter *corev1.Container
	for i, c := range ns.PodTemplate.Spec.Containers {
		if c.Name == "exporter" {
			exporter = &ns.PodTemplate.Spec.Containers[i]
		}
	}
	require.NotNil(t, exporter)
	assert.Equal(t, ElasticUserSecret, exporter.Env[1].ValueFrom.SecretKeyRef.Name, "the password is read from ECK's Secret")

	kb := componenttest.Object[kbv1.Kibana](t, g, "kubernetes:kibana.k8s.elastic.co/v1:Kibana", "logging-kibana")
	assert.Equal(t, int32(2), kb.Spec.Count)
	assert.Equal(t, ElasticsearchName, kb.Spec.ElasticsearchRef.Name)
	assert.Equal(t, corev1.LabelTopologyZone, kb.Spec.PodTemplate.Spec.TopologySpreadConstraints[0].TopologyKey)
}

func TestFluentd(t *testing.T) {
	g := runLogging(t, prodLogging())
	sts := componenttest.Object[appsv1.StatefulSet](t, g, "kubernetes:apps/v1:StatefulSet", FluentdName)
	assert.Equal(t, int32(3), *sts.Spec.Replicas)
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1, "the buffer is on a volume")
	assert.Equal(t, "cloudscale-encrypted", *sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName)
	c := sts.Spec.Template.Spec.Containers[0]
	assert.Equal(t, upstream.FluentdImage, c.Image)
	var password bool
	for _, e := range c.Env {
		password = password || (e.Name == "ELASTIC_PASSWORD" && e.ValueFrom.SecretKeyRef.Name == ElasticUserSecret)
	}
	assert.True(t, password)

	cm := componenttest.Object[corev1.ConfigMap](t, g, "kubernetes:core/v1:ConfigMap", "logging-fluentd-config")
	conf := cm.Data["fluent.conf"]
	for _, want := range []string{"@type elasticsearch_data_stream", "@type file", "path /data/buffer", "retry_forever true",
		"overflow_action block", "client_cert_auth true", "total_limit_size 9216MB", "ssl_verify true"} {
		assert.Contains(t, conf, want)
	}
	var ilm struct {
		Policy struct {
			Phases map[string]struct {
				MinAge  string         `json:"min_age"`
				Actions map[string]any `json:"actions"`
			} `json:"phases"`
		} `json:"policy"`
	}
	require.NoError(t, json.Unmarshal([]byte(cm.Data["ilm-policy.json"]), &ilm))
	assert.Equal(t, "30d", ilm.Policy.Phases["delete"].MinAge)
	assert.Contains(t, ilm.Policy.Phases["delete"].Actions, "delete")
	assert.Contains(t, conf, "data_stream_ilm_policy "+cm.Data["ilm-policy.json"], "the policy Fluentd installs is the one on record")
	assert.NotContains(t, conf, "password elastic", "no literal password")
}

func TestFluentBit(t *testing.T) {
	g := runLogging(t, prodLogging())
	r, ok := g.Named("kubernetes:helm.sh/v3:Release", "logging-fluent-bit")
	require.True(t, ok)
	assert.Equal(t, NodeAgentNamespace, r.Inputs["namespace"])
	v := componenttest.Decode[fluentBitValues](t, r.Inputs["values"], "values")
	assert.Contains(t, v.Config.Inputs, "Path /var/log/containers/*.log")
	assert.Contains(t, v.Config.Inputs, "storage.type filesystem")
	assert.Contains(t, v.Config.Filters, "Name kubernetes")
	assert.Contains(t, v.Config.Filters, "Merge_Log On", "JSON logs become fields")
	assert.Contains(t, v.Config.Outputs, "Host fluentd.monitoring.svc.cluster.local")
	assert.Contains(t, v.Config.Outputs, "tls.verify On")
	assert.Contains(t, v.Config.Outputs, "Retry_Limit no_limits")
}

// TestLoggingMonitorsSelectThePods: each monitor selects the labels the
// pods carry (ECK's, the workload helper's, the chart's).
func TestLoggingMonitorsSelectThePods(t *testing.T) {
	g := runLogging(t, prodLogging())
	sts := componenttest.Object[appsv1.StatefulSet](t, g, "kubernetes:apps/v1:StatefulSet", FluentdName)
	pods := map[string]map[string]string{
		"elasticsearch": {"elasticsearch.k8s.elastic.co/cluster-name": ElasticsearchName, "elasticsearch.k8s.elastic.co/statefulset-name": "logs-es-default"},
		FluentdName:     sts.Spec.Template.Labels,
		FluentBitName:   {"app.kubernetes.io/name": "fluent-bit", "app.kubernetes.io/instance": "fluent-bit"},
	}
	for name, labels := range pods {
		pm := componenttest.Object[monitoringv1.PodMonitor](t, g, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "logging-monitor-"+name)
		for k, v := range pm.Spec.Selector.MatchLabels {
			assert.Equal(t, v, labels[k], "%s: %s", name, k)
		}
	}
	var port bool
	for _, p := range sts.Spec.Template.Spec.Containers[0].Ports {
		port = port || (p.Name == "metrics" && p.ContainerPort == FluentdMetricsPort)
	}
	assert.True(t, port)
}

func TestLoggingPassesPolicies(t *testing.T) {
	componenttest.PassesPolicies(t, runLogging(t, prodLogging()), "prod", Namespace)
}

func TestLoggingArgsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*LoggingArgs)
		want string
	}{
		{"even nodes", func(a *LoggingArgs) { a.ElasticsearchNodes = 4 }, "elasticsearchNodes 4 must be odd"},
		{"one node in prod", func(a *LoggingArgs) { a.ElasticsearchNodes = 1 }, "staging and prod run 3 or more"},
		{"retention", func(a *LoggingArgs) { a.RetentionDays = -1 }, "retentionDays -1"},
		{"buffer", func(a *LoggingArgs) { a.BufferSize = "big" }, `bufferSize "big"`},
		{"kibana", func(a *LoggingArgs) { a.KibanaReplicas = 1 }, "2 or more Kibana and 3 or more Fluentd"},
		{"class", func(a *LoggingArgs) { a.StorageClass = "" }, "storageClass is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := prodLogging()
			c.edit(a)
			g, err := componenttest.Run(func(ctx *pulumi.Context) error {
				_, err := NewLogging(ctx, "logging", a, nil)
				return err
			})
			assert.ErrorContains(t, err, c.want)
			assert.Empty(t, g.Resources)
		})
	}
}

func prodTracing() *TracingArgs {
	return &TracingArgs{Mode: upstream.Charts, Production: true, Clients: []string{"cloudscale", "istio-ingress", "istio-system"},
		UINamespace: "istio-ingress", Scraper: Scraper(),
		Resources: workload.Resources{RequestCPU: "250m", RequestMemory: "512Mi", LimitCPU: "2", LimitMemory: "4Gi"}}
}

func TestTracingCollector(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewTracing(ctx, "tracing", prodTracing(), nil)
		return err
	})
	require.NoError(t, err)
	c := componenttest.Object[otelv1beta1.OpenTelemetryCollector](t, g, "kubernetes:opentelemetry.io/v1beta1:OpenTelemetryCollector", "tracing-collector")
	assert.Equal(t, TracingName, c.Name, "the operator names the Service jaeger-collector, the contract's host")
	assert.True(t, strings.HasPrefix(TracingCollector().Host, c.Name+"-collector."))
	assert.Equal(t, int32(2), *c.Spec.Replicas)
	assert.Equal(t, upstream.JaegerImage, c.Spec.Image)
	assert.Equal(t, otelv1beta1.ModeDeployment, c.Spec.Mode)
	assert.Equal(t, otelv1beta1.UpgradeStrategyAutomatic, c.Spec.UpgradeStrategy)
	assert.Equal(t, 1, c.Spec.PodDisruptionBudget.MaxUnavailable.IntValue())
	assert.Len(t, c.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, 1)
	cfg, err := yaml.Marshal(&c.Spec.Config)
	require.NoError(t, err)
	for _, want := range []string{"endpoint: 0.0.0.0:4317", "trace_storage: elasticsearch", "https://logs-es-http.monitoring.svc:9200",
		"password: ${env:ELASTIC_PASSWORD}", "ca_file: /etc/jaeger/elasticsearch/ca.crt", "- jaeger_query"} {
		assert.Contains(t, string(cfg), want)
	}
	pm := componenttest.Object[monitoringv1.PodMonitor](t, g, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "tracing-monitor")
	assert.Equal(t, CollectorPodLabels(), pm.Spec.Selector.MatchLabels)
	componenttest.PassesPolicies(t, g, "prod", Namespace)
}
