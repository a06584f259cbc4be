// Package mesh is the Istio service mesh: the pinned charts (base, CNI,
// istiod), the mesh config (TLS 1.3, access logs, tracing, registry-only
// egress), mesh-wide STRICT mTLS, deny-by-default authorization with an
// explicit allow per service, and per-service traffic policy with weighted
// canary subsets from the stack's config, and the mesh's telemetry (every
// proxy's and istiod's metrics scraped, and its health alerts). Every
// Istio object is built from Istio's own API types (istio.io/api,
// istio.io/client-go) at the version of the charts.
package mesh

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	telemetryapi "istio.io/api/telemetry/v1alpha1"
	istiotype "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	k8smeta "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// RootNamespace is where istiod runs and mesh-wide policy lives.
const RootNamespace = "istio-system"

// TracingProvider is the mesh's name for the tracing backend.
const TracingProvider = "otel-tracing"

// Ports of istiod and of every sidecar proxy (Istio's "Application
// Requirements" and "Ports used by Istio").
const (
	// XDSPort serves configuration and certificates over TLS (15010, the
	// plain-text xDS port, is never opened).
	XDSPort = 15012
	// MonitoringPort is istiod's metrics; WebhookPort its injection and
	// validation webhooks.
	MonitoringPort = 15014
	WebhookPort    = 15017
	// ProxyMergedMetricsPort and EnvoyMetricsPort are what a scraper reads
	// on every proxy.
	ProxyMergedMetricsPort = 15020
	EnvoyMetricsPort       = 15090
)

// ControlPlane is istiod: the endpoint every proxy gets its configuration
// and certificates from.
func ControlPlane() contract.Endpoint {
	return contract.Endpoint{
		Host: "istiod." + RootNamespace + ".svc", Port: XDSPort,
		Peer: contract.Peer{NamespaceLabels: contract.InNamespace(RootNamespace), PodLabels: map[string]string{"app": "istiod"}, Ports: []int{XDSPort}},
	}
}

// OperatorNamespace is istiod's namespace and ports: it serves xDS,
// metrics and webhooks and calls the API server (443 on managed clusters,
// 6443 elsewhere).
func OperatorNamespace() contract.OperatorNamespace {
	return contract.OperatorNamespace{Name: RootNamespace, IngressPorts: []int{XDSPort, MonitoringPort, WebhookPort}, EgressPorts: []int{443, 6443}}
}

// Sidecar is what every proxy of the mesh reaches and is reached by: the
// control plane, the tracing collector (the monitoring tier's), and the
// scraper (the monitoring tier's) on the proxies' metrics ports.
func Sidecar(tracing contract.Endpoint, scraper contract.Peer) contract.Sidecar {
	metrics := scraper
	metrics.Ports = []int{ProxyMergedMetricsPort, EnvoyMetricsPort}
	return contract.Sidecar{ControlPlane: ControlPlane().Peer, Tracing: tracing.Peer, Metrics: metrics}
}

// CircuitBreaker limits connections to a service and ejects failing pods.
type CircuitBreaker struct {
	MaxConnections, ConsecutiveErrors, EjectionSeconds int
}

// DefaultCircuitBreaker applies where a service sets none.
var DefaultCircuitBreaker = CircuitBreaker{MaxConnections: 1000, ConsecutiveErrors: 5, EjectionSeconds: 30}

// Service is a mesh service's traffic and access policy.
type Service struct {
	Name, Namespace string
	Port            int
	// Callers are the identities ("namespace/serviceaccount") allowed to
	// call it; everyone else is denied.
	Callers []string
	// CanaryWeight is the percentage of traffic sent to pods labelled
	// version=canary (the rest to version=stable); 0 means no canary.
	CanaryWeight   int
	CircuitBreaker *CircuitBreaker
	// ExtraPorts are further ports its callers may use (a Sentinel's
	// beside Redis's).
	ExtraPorts []int
	// Selector selects its pods (default app.kubernetes.io/name: Name),
	// for pods an operator labels its own way.
	Selector map[string]string
}

// Host is the service's in-cluster name.
func (s Service) Host() string { return fmt.Sprintf("%s.%s.svc.cluster.local", s.Name, s.Namespace) }

// Args configure the mesh. The tiers it must wait for (the namespaces)
// are given as pulumi.DependsOn.
type Args struct {
	Mode upstream.Mode
	// IstiodReplicas is at least 2 (a PDB keeps one up).
	IstiodReplicas int
	// TracingSampling is the percentage of requests traced (0-100).
	TracingSampling float64
	// Tracing is the OpenTelemetry collector of the tracing backend.
	Tracing contract.Endpoint
	// AppNamespaces get sidecars and deny-by-default authorization.
	AppNamespaces []string
	Services      []Service
	// Resources of istiod.
	Resources workload.Resources
	// Distribution is the cluster's Kubernetes distribution (the cloud
	// tier's infra.Distribution): on "gke" the CNI's binaries live
	// elsewhere, which the CNI chart's platform setting says.
	Distribution string
}

// Mesh is the component.
type Mesh struct {
	pulumi.ResourceState

	// RootNamespace is istio-system.
	RootNamespace pulumi.StringOutput
	// ControlPlane is istiod (see ControlPlane).
	ControlPlane contract.Endpoint
}

// Validate checks the arguments; New registers nothing unless they pass.
func (a *Args) Validate() error {
	if a == nil {
		return errors.New("args are required")
	}
	var errs []error
	if a.IstiodReplicas < 2 {
		errs = append(errs, fmt.Errorf("istiod replicas %d: at least 2", a.IstiodReplicas))
	}
	if a.TracingSampling < 0 || a.TracingSampling > 100 {
		errs = append(errs, fmt.Errorf("tracing sampling %g: a percentage from 0 to 100", a.TracingSampling))
	}
	if a.Tracing.Host == "" || a.Tracing.Port < 1 {
		errs = append(errs, errors.New("a tracing service and port are required"))
	}
	seen := map[string]bool{}
	for _, s := range a.Services {
		if seen[s.Host()] {
			errs = append(errs, fmt.Errorf("service %s/%s is listed twice", s.Namespace, s.Name))
		}
		seen[s.Host()] = true
		if s.CanaryWeight < 0 || s.CanaryWeight > 100 {
			errs = append(errs, fmt.Errorf("service %s: canary weight %d is not a percentage", s.Name, s.CanaryWeight))
		}
		if s.Port < 1 || s.Port > 65535 {
			errs = append(errs, fmt.Errorf("service %s: port %d out of range", s.Name, s.Port))
		}
		for _, c := range s.Callers {
			if ns, sa, ok := strings.Cut(c, "/"); !ok || ns == "" || sa == "" {
				errs = append(errs, fmt.Errorf("service %s: caller %q is not namespace/serviceaccount", s.Name, c))
			}
		}
	}
	return errors.Join(errs...)
}

// New installs and configures the mesh.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Mesh, error) {
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("mesh %s: %w", name, err)
	}
	meshConfig, err := ConfigMapData(args)
	if err != nil {
		return nil, fmt.Errorf("mesh %s: %w", name, err)
	}
	m := &Mesh{ControlPlane: ControlPlane()}
	if err := ctx.RegisterComponentResource("cloudscale:mesh:Mesh", name, m, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(m, opts)
	// istiod reads the mesh config from this ConfigMap (its chart is told
	// not to write one), so the policy gate checks what istiod enforces.
	cm, err := corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("istio"), Namespace: pulumi.String(RootNamespace),
			Labels: pulumi.StringMap{"istio.io/rev": pulumi.String("default"), "app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		Data: pulumi.StringMap{"mesh": pulumi.String(meshConfig), "meshNetworks": pulumi.String("networks: {}\n")},
	}, child...)
	if err != nil {
		return nil, err
	}
	ready, err := m.install(ctx, args, cm, child)
	if err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, Objects(name, args), append(child, pulumi.DependsOn(ready))...); err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, MonitoringObjects(name, args), child...); err != nil {
		return nil, err
	}
	m.RootNamespace = pulumi.String(RootNamespace).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{"rootNamespace": m.RootNamespace}); err != nil {
		return nil, err
	}
	return m, nil
}

// install provides the charts (or, CRDsOnly, the kinds); it returns what
// the mesh's objects wait for.
func (m *Mesh) install(ctx *pulumi.Context, args *Args, cm pulumi.Resource, child []pulumi.ResourceOption) ([]pulumi.Resource, error) {
	base, err := upstream.Install(ctx, "istio-base", upstream.IstioBase, args.Mode, RootNamespace, BaseValues{DefaultRevision: "default"}, nil, child...)
	if err != nil || args.Mode != upstream.Charts {
		return base, err
	}
	// The CNI node agent sets up pod traffic redirection, so injected pods
	// need no privileged init container and namespaces can stay
	// "restricted".
	cni, err := upstream.Install(ctx, "istio-cni", upstream.IstioCNI, args.Mode, "kube-system",
		CNIValues{Global: CNIGlobal{Platform: cniPlatform(args.Distribution)}}, nil, append(child, pulumi.DependsOn(base))...)
	if err != nil {
		return nil, err
	}
	values, err := NewIstiodValues(args)
	if err != nil {
		return nil, err
	}
	istiod, err := upstream.Install(ctx, "istiod", upstream.Istiod, args.Mode, RootNamespace, values, nil,
		append(child, pulumi.DependsOn(append(append([]pulumi.Resource{cm}, base...), cni...)))...)
	if err != nil {
		return nil, err
	}
	return append(append(base, cni...), istiod...), nil
}

// cniPlatform is the CNI chart's platform for a distribution.
func cniPlatform(distribution string) string {
	if distribution == "gke" {
		return "gke"
	}
	return ""
}

// Objects are the mesh's Istio objects: mesh-wide STRICT mTLS, tracing
// and access logs, deny-by-default authorization per application
// namespace, and each service's traffic and access policy.
func Objects(name string, a *Args) []upstream.NamedObject {
	objs := []upstream.NamedObject{
		{Name: name + "-mtls", Object: &securityv1.PeerAuthentication{
			TypeMeta:   typeMeta(securityv1.SchemeGroupVersion.String(), "PeerAuthentication"),
			ObjectMeta: objectMeta(RootNamespace, "default"),
			Spec: securityapi.PeerAuthentication{Mtls: &securityapi.PeerAuthentication_MutualTLS{
				Mode: securityapi.PeerAuthentication_MutualTLS_STRICT,
			}},
		}},
		{Name: name + "-telemetry", Object: &telemetryv1.Telemetry{
			TypeMeta:   typeMeta(telemetryv1.SchemeGroupVersion.String(), "Telemetry"),
			ObjectMeta: objectMeta(RootNamespace, "mesh-default"),
			Spec: telemetryapi.Telemetry{
				Tracing: []*telemetryapi.Tracing{{
					Providers:                []*telemetryapi.ProviderRef{{Name: TracingProvider}},
					RandomSamplingPercentage: wrapperspb.Double(a.TracingSampling),
				}},
				AccessLogging: []*telemetryapi.AccessLogging{{Providers: []*telemetryapi.ProviderRef{{Name: "envoy"}}}},
			},
		}},
	}
	for _, ns := range a.AppNamespaces {
		// An ALLOW policy with no rules matches nothing: every request to
		// the namespace is denied unless a service's own policy allows it.
		objs = append(objs, upstream.NamedObject{Name: name + "-deny-" + ns, Object: &securityv1.AuthorizationPolicy{
			TypeMeta:   typeMeta(securityv1.SchemeGroupVersion.String(), "AuthorizationPolicy"),
			ObjectMeta: objectMeta(ns, "allow-nothing"),
		}})
	}
	for _, s := range a.Services {
		objs = append(objs, serviceObjects(name, s)...)
	}
	return objs
}

// serviceObjects are one service's DestinationRule (mutual TLS,
// connection pool, outlier ejection, stable/canary subsets), its mesh
// VirtualService when it has a canary, and the AuthorizationPolicy
// admitting its callers.
func serviceObjects(name string, s Service) []upstream.NamedObject {
	cb := DefaultCircuitBreaker
	if s.CircuitBreaker != nil {
		cb = *s.CircuitBreaker
	}
	dr := &networkingv1.DestinationRule{
		TypeMeta:   typeMeta(networkingv1.SchemeGroupVersion.String(), "DestinationRule"),
		ObjectMeta: objectMeta(s.Namespace, s.Name),
		Spec: networkingapi.DestinationRule{
			Host: s.Host(),
			TrafficPolicy: &networkingapi.TrafficPolicy{
				Tls:            &networkingapi.ClientTLSSettings{Mode: networkingapi.ClientTLSSettings_ISTIO_MUTUAL},
				ConnectionPool: &networkingapi.ConnectionPoolSettings{Tcp: &networkingapi.ConnectionPoolSettings_TCPSettings{MaxConnections: int32(cb.MaxConnections)}},
				OutlierDetection: &networkingapi.OutlierDetection{
					Consecutive_5XxErrors: wrapperspb.UInt32(uint32(cb.ConsecutiveErrors)),
					Interval:              durationpb.New(10e9),
					BaseEjectionTime:      &durationpb.Duration{Seconds: int64(cb.EjectionSeconds)},
					MaxEjectionPercent:    50,
				},
			},
		},
	}
	res := name + "-" + s.Namespace + "-" + s.Name
	objs := []upstream.NamedObject{{Name: res, Object: dr}}
	if s.CanaryWeight > 0 {
		dr.Spec.Subsets = Subsets()
		objs = append(objs, upstream.NamedObject{Name: res, Object: &networkingv1.VirtualService{
			TypeMeta:   typeMeta(networkingv1.SchemeGroupVersion.String(), "VirtualService"),
			ObjectMeta: objectMeta(s.Namespace, s.Name),
			Spec: networkingapi.VirtualService{
				Hosts: []string{s.Host()}, Gateways: []string{"mesh"},
				Http: []*networkingapi.HTTPRoute{{Route: WeightedRoute(s.Host(), s.Port, s.CanaryWeight)}},
			},
		}})
	}
	allow := &securityv1.AuthorizationPolicy{
		TypeMeta:   typeMeta(securityv1.SchemeGroupVersion.String(), "AuthorizationPolicy"),
		ObjectMeta: objectMeta(s.Namespace, s.Name+"-allow"),
		Spec: securityapi.AuthorizationPolicy{
			Selector: &istiotype.WorkloadSelector{MatchLabels: selector(s)},
			Action:   securityapi.AuthorizationPolicy_ALLOW,
		},
	}
	callers := append([]string(nil), s.Callers...)
	sort.Strings(callers)
	if len(callers) > 0 {
		var principals []string
		for _, c := range callers {
			principals = append(principals, Principal(c))
		}
		allow.Spec.Rules = []*securityapi.Rule{{
			From: []*securityapi.Rule_From{{Source: &securityapi.Source{Principals: principals}}},
			To:   []*securityapi.Rule_To{{Operation: &securityapi.Operation{Ports: ports(s)}}},
		}}
	}
	return append(objs, upstream.NamedObject{Name: res + "-allow", Object: allow})
}

// selector selects a service's pods.
func selector(s Service) map[string]string {
	if len(s.Selector) > 0 {
		return s.Selector
	}
	return map[string]string{contract.NameLabel: s.Name}
}

// ports are the ports a service's callers may use.
func ports(s Service) []string {
	out := []string{fmt.Sprint(s.Port)}
	for _, p := range s.ExtraPorts {
		out = append(out, fmt.Sprint(p))
	}
	return out
}

// Principal is the mesh identity of a caller "namespace/serviceaccount".
func Principal(caller string) string {
	ns, sa, _ := strings.Cut(caller, "/")
	return "cluster.local/ns/" + ns + "/sa/" + sa
}

// Subsets are the two versions a canary splits traffic between.
func Subsets() []*networkingapi.Subset {
	return []*networkingapi.Subset{
		{Name: "stable", Labels: map[string]string{"version": "stable"}},
		{Name: "canary", Labels: map[string]string{"version": "canary"}},
	}
}

// WeightedRoute sends canary percent of requests to the canary subset.
func WeightedRoute(host string, port, canary int) []*networkingapi.HTTPRouteDestination {
	dest := func(subset string, weight int) *networkingapi.HTTPRouteDestination {
		return &networkingapi.HTTPRouteDestination{
			Destination: &networkingapi.Destination{Host: host, Subset: subset, Port: &networkingapi.PortSelector{Number: uint32(port)}},
			Weight:      int32(weight),
		}
	}
	return []*networkingapi.HTTPRouteDestination{dest("stable", 100-canary), dest("canary", canary)}
}

func typeMeta(apiVersion, kind string) k8smeta.TypeMeta {
	return k8smeta.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func objectMeta(ns, name string) k8smeta.ObjectMeta {
	return k8smeta.ObjectMeta{Namespace: ns, Name: name}
}

// MeshConfig is the mesh config istiod runs with.
func MeshConfig(a *Args) *meshv1alpha1.MeshConfig {
	tls13 := &meshv1alpha1.MeshConfig_TLSConfig{MinProtocolVersion: meshv1alpha1.MeshConfig_TLSConfig_TLSV1_3}
	return &meshv1alpha1.MeshConfig{
		AccessLogFile:     "/dev/stdout",
		AccessLogEncoding: meshv1alpha1.MeshConfig_JSON,
		EnableTracing:     true,
		DefaultConfig: &meshv1alpha1.ProxyConfig{
			HoldApplicationUntilProxyStarts: wrapperspb.Bool(true),
			// An empty tracer: the extension provider below is used.
			Tracing: &meshv1alpha1.Tracing{},
		},
		DefaultProviders:      &meshv1alpha1.MeshConfig_DefaultProviders{Tracing: []string{TracingProvider}, AccessLogging: []string{"envoy"}},
		OutboundTrafficPolicy: &meshv1alpha1.MeshConfig_OutboundTrafficPolicy{Mode: meshv1alpha1.MeshConfig_OutboundTrafficPolicy_REGISTRY_ONLY},
		MeshMTLS:              tls13,
		TlsDefaults:           tls13,
		ExtensionProviders: []*meshv1alpha1.MeshConfig_ExtensionProvider{{
			Name: TracingProvider,
			Provider: &meshv1alpha1.MeshConfig_ExtensionProvider_Opentelemetry{
				Opentelemetry: &meshv1alpha1.MeshConfig_ExtensionProvider_OpenTelemetryTracingProvider{Service: a.Tracing.Host, Port: uint32(a.Tracing.Port)},
			},
		}},
		TrustDomain:   "cluster.local",
		RootNamespace: RootNamespace,
	}
}

// ConfigMapData is MeshConfig as the YAML istiod reads. Proto3 JSON
// leaves out an enum's zero value, and REGISTRY_ONLY is the zero of the
// outbound policy's mode while istiod's default is ALLOW_ANY: that
// message is written with its default values, so the mode is stated.
func ConfigMapData(a *Args) (string, error) {
	mc := MeshConfig(a)
	js, err := protojson.Marshal(mc)
	if err != nil {
		return "", err
	}
	outbound, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(mc.GetOutboundTrafficPolicy())
	if err != nil {
		return "", err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(js, &doc); err != nil {
		return "", err
	}
	doc["outboundTrafficPolicy"] = outbound
	if js, err = json.Marshal(doc); err != nil {
		return "", err
	}
	out, err := yaml.JSONToYAML(js)
	return string(out), err
}
