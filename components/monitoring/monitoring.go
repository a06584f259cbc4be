// Package monitoring is the observability tier: Prometheus, the
// Elasticsearch-Fluentd-Kibana logs and Jaeger tracing of the guide. This
// file is its contract with the other tiers, fixed before the tier's
// components land, so that the mesh's proxies and the gateway already
// send spans to its collector and admit its scraper.
package monitoring

import (
	"regexp"

	"github.com/cloudscale/platform/components/contract"
)

// Namespace is where the monitoring tier runs.
const Namespace = "monitoring"

// TracingPort is the OpenTelemetry (OTLP/gRPC) port of the collector.
const TracingPort = 4317

// TracingCollector is Jaeger's collector, which takes the proxies' spans
// over OpenTelemetry (the Service and pod labels the OpenTelemetry
// operator gives the collector "jaeger").
func TracingCollector() contract.Endpoint {
	return contract.Endpoint{
		Host: TracingName + "-collector." + Namespace + ".svc.cluster.local", Port: TracingPort,
		Peer: contract.Peer{NamespaceLabels: contract.InNamespace(Namespace),
			PodLabels: CollectorPodLabels(), Ports: []int{TracingPort}},
	}
}

// Scraper is Prometheus, which scrapes every tier; a tier admits it on its
// own metrics ports (Ports is left to the tier).
func Scraper() contract.Peer {
	return contract.Peer{NamespaceLabels: contract.InNamespace(Namespace), PodLabels: map[string]string{contract.NameLabel: "prometheus"}}
}

// OperatorNamespace is the monitoring namespace as the security baseline
// opens it; it holds prometheus-operator's definitions' release until the
// tier's own workloads land, and calls the API server.
func OperatorNamespace() contract.OperatorNamespace {
	return contract.OperatorNamespace{Name: Namespace, EgressPorts: []int{443, 6443}}
}

var dnsRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// partOf is the label every monitoring object of the platform carries.
func partOf() map[string]string { return map[string]string{"app.kubernetes.io/part-of": "cloudscale"} }

// Check validates a copy of the arguments with their defaults filled, as
// the constructor will: the stack checks every tier before it registers
// anything.
func (a MetricsArgs) Check() error { a.Default(); return a.Validate() }

// Check validates a copy of the arguments with their defaults filled.
func (a LoggingArgs) Check() error { a.Default(); return a.Validate() }

// Check validates a copy of the arguments with their defaults filled.
func (a TracingArgs) Check() error { a.Default(); return a.Validate() }
