package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/gateway"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/monitoring"
	"github.com/cloudscale/platform/components/monitoring/dashboards"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/redis"
	"github.com/cloudscale/platform/components/security"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/naming"
	"github.com/cloudscale/platform/stacks/spec"
)

// monitoringArgs are the monitoring tier's three components' arguments.
type monitoringArgs struct {
	metrics *monitoring.MetricsArgs
	logging *monitoring.LoggingArgs
	tracing *monitoring.TracingArgs
}

// scrapeNamespaces are the namespaces whose workloads the tiers' monitors
// select: Prometheus may reach their metrics ports there.
func scrapeNamespaces(s spec.Spec) []string {
	return []string{s.Namespace, spec.IngressNamespace, mesh.RootNamespace, security.VaultNamespace,
		security.CertManagerNamespace, security.ExternalSecretsNamespace, monitoring.Namespace, monitoring.NodeAgentNamespace}
}

// scrapePorts are the metrics ports the tiers' monitors name.
func scrapePorts() []int {
	return []int{
		mesh.ProxyMergedMetricsPort, mesh.EnvoyMetricsPort, mesh.MonitoringPort,
		security.VaultPort, security.CertManagerMetricsPort, security.ExternalSecretsMetricsPort,
		postgres.MetricsPort, postgres.PoolerMetricsPort, redis.ExporterPort, mongodb.ExporterPort, rabbitmq.MetricsPort,
		monitoring.PrometheusPort, monitoring.AlertmanagerPort, monitoring.FluentdMetricsPort, monitoring.FluentBitHTTPPort,
		monitoring.ElasticsearchExporterPort, monitoring.CollectorMetricsPort, gateway.RateLimitMetricsPort,
		kubeStateMetricsPort, grafanaPort,
	}
}

// The ports of the chart-run exporters the monitoring tier's chart
// brings (kube-prometheus-stack's kube-state-metrics and Grafana).
const (
	kubeStateMetricsPort = 8080
	grafanaPort          = 3000
)

// planMonitoring derives the monitoring tier's arguments: HA as the
// environment asks, the objectives of every service that serves requests
// (served; see servedServices), the receivers, and what Prometheus may
// scrape.
func planMonitoring(s spec.Spec, mode upstream.Mode, res workload.Resources, served map[string]bool) (*monitoringArgs, error) {
	m := s.Monitoring
	var objectives []slo.Objective
	for _, svc := range s.Services {
		if !served[svc.Name] {
			continue
		}
		o := svc.Objectives()
		objectives = append(objectives, slo.Objective{Service: svc.Name, Namespace: s.Namespace,
			Availability: o.Availability, LatencyMs: o.LatencyMs, LatencyTarget: o.LatencyTarget})
	}
	var receivers []monitoring.Receiver
	for _, r := range m.Receivers {
		receivers = append(receivers, monitoring.Receiver{Name: r.Name, Severity: r.Severity, Type: r.Type, Channel: r.Channel, URL: r.URL, VaultPath: r.VaultPath})
	}
	// Rendered here, so a dashboard that cannot be built stops the stack
	// before anything is registered.
	boards, err := dashboards.ForObjectives(objectives)
	if err != nil {
		return nil, err
	}
	prod := s.Environment.Production()
	fluentd := monitoring.DefaultFluentdReplicas
	if !prod {
		fluentd = 2 // the workload helper's floor of 3 is production's
	}
	return &monitoringArgs{
		metrics: &monitoring.MetricsArgs{
			Mode: mode, Cluster: s.Stack, Production: prod,
			PrometheusReplicas: m.Prometheus.Replicas, AlertmanagerReplicas: m.AlertmanagerReplicas,
			Retention: m.Prometheus.Retention, RetentionSize: m.Prometheus.RetentionSize,
			StorageClass: naming.StorageClass, VolumeSize: m.Prometheus.VolumeSize,
			SLOs: objectives, Receivers: receivers, Dashboards: boards,
			ScrapeNamespaces: scrapeNamespaces(s), ScrapePorts: scrapePorts(), Resources: res,
		},
		logging: &monitoring.LoggingArgs{
			Mode: mode, Production: prod, ElasticsearchNodes: m.Logs.ElasticsearchNodes, KibanaReplicas: m.Logs.KibanaReplicas,
			FluentdReplicas: fluentd, RetentionDays: m.Logs.RetentionDays, StorageClass: naming.StorageClass,
			VolumeSize: m.Logs.VolumeSize, Resources: res, Scraper: monitoring.Scraper(),
		},
		tracing: &monitoring.TracingArgs{
			Mode: mode, Production: prod, Replicas: m.CollectorReplicas,
			Clients:     []string{s.Namespace, spec.IngressNamespace, mesh.RootNamespace},
			UINamespace: spec.IngressNamespace, Resources: res, Scraper: monitoring.Scraper(),
		},
	}, nil
}

// monitoringTiers composes the metrics, logs and traces on the cluster's
// encrypted class; definitions are the monitoring kinds' (installed
// before every tier, which declare their monitors).
func monitoringTiers(ctx *pulumi.Context, t *tierArgs, storageClass string, definitions []pulumi.Resource, opts ...pulumi.ResourceOption) error {
	t.monitoring.metrics.StorageClass, t.monitoring.logging.StorageClass = storageClass, storageClass
	t.monitoring.metrics.Definitions = definitions
	if _, err := monitoring.NewMetrics(ctx, "metrics", t.monitoring.metrics, opts...); err != nil {
		return err
	}
	logs, err := monitoring.NewLogging(ctx, "logging", t.monitoring.logging, definitions, opts...)
	if err != nil {
		return err
	}
	_, err = monitoring.NewTracing(ctx, "tracing", t.monitoring.tracing, definitions, append(opts, pulumi.DependsOn([]pulumi.Resource{logs}))...)
	return err
}
