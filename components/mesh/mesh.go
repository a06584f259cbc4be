// Package mesh is the Istio service mesh: the pinned charts (base, CNI,
// istiod), the mesh config (TLS 1.3, access logs, tracing, registry-only
// egress), mesh-wide STRICT mTLS, deny-by-default authorization with an
// explicit allow per service, and per-service traffic policy with weighted
// canary subsets from the stack's config.
package mesh

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/upstream"
)

// RootNamespace is where istiod runs and mesh-wide policy lives.
const RootNamespace = "istio-system"

// TracingProvider is the mesh's name for the tracing backend.
const TracingProvider = "otel-tracing"

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
}

// Host is the service's in-cluster name.
func (s Service) Host() string { return fmt.Sprintf("%s.%s.svc.cluster.local", s.Name, s.Namespace) }

// Args configure the mesh.
type Args struct {
	Mode upstream.Mode
	// IstiodReplicas is at least 2 (a PDB keeps one up).
	IstiodReplicas int
	// TracingSampling is the percentage of requests traced (0-100).
	TracingSampling float64
	// TracingService and TracingPort are the OpenTelemetry collector of the
	// tracing backend.
	TracingService string
	TracingPort    int
	// AppNamespaces get sidecars and deny-by-default authorization.
	AppNamespaces []string
	Services      []Service
	// Resources of istiod: requests and limits.
	RequestCPU, RequestMemory, LimitCPU, LimitMemory string
	// Platform is the CNI's platform setting: "gke" on GKE (its CNI
	// binaries live elsewhere), empty on other clusters.
	Platform string
	// DependsOn are resources (the namespaces) that must exist first.
	DependsOn []pulumi.Resource
}

// Mesh is the component.
type Mesh struct {
	pulumi.ResourceState

	// Ready are the resources Istio custom objects must wait for.
	Ready []pulumi.Resource
	// RootNamespace is istio-system.
	RootNamespace pulumi.StringOutput
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
	if a.TracingService == "" || a.TracingPort < 1 {
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
	m := &Mesh{}
	if err := ctx.RegisterComponentResource("cloudscale:mesh:Mesh", name, m, opts...); err != nil {
		return nil, err
	}
	child := []pulumi.ResourceOption{pulumi.Parent(m), pulumi.DependsOn(args.DependsOn)}

	meshConfig, err := ConfigMapData(args)
	if err != nil {
		return nil, err
	}
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

	base, err := upstream.Install(ctx, "istio-base", upstream.IstioBase, args.Mode, RootNamespace, pulumi.Map{
		"defaultRevision": pulumi.String("default"),
	}, child...)
	if err != nil {
		return nil, err
	}
	ready := base
	if args.Mode == upstream.Charts {
		// The CNI node agent sets up pod traffic redirection, so injected
		// pods need no privileged init container and namespaces can stay
		// "restricted".
		cni, err := upstream.Install(ctx, "istio-cni", upstream.IstioCNI, args.Mode, "kube-system", pulumi.Map{
			"global": pulumi.Map{"platform": pulumi.String(args.Platform)},
		}, append(child, pulumi.DependsOn(base))...)
		if err != nil {
			return nil, err
		}
		istiod, err := upstream.Install(ctx, "istiod", upstream.Istiod, args.Mode, RootNamespace, IstiodValues(args),
			append(child, pulumi.DependsOn(append(append([]pulumi.Resource{cm}, base...), cni...)))...)
		if err != nil {
			return nil, err
		}
		ready = append(append(ready, cni...), istiod...)
	}
	m.Ready = ready
	cr := func(res, apiVersion, kind, ns, objName string, spec map[string]any) error {
		_, err := upstream.NewObject(ctx, res, upstream.Object{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: objName, Spec: spec},
			pulumi.Parent(m), pulumi.DependsOn(ready))
		return err
	}
	if err := cr(name+"-mtls", "security.istio.io/v1", "PeerAuthentication", RootNamespace, "default",
		map[string]any{"mtls": map[string]any{"mode": "STRICT"}}); err != nil {
		return nil, err
	}
	if err := cr(name+"-telemetry", "telemetry.istio.io/v1", "Telemetry", RootNamespace, "mesh-default", map[string]any{
		"tracing": []any{map[string]any{
			"providers":                []any{map[string]any{"name": TracingProvider}},
			"randomSamplingPercentage": args.TracingSampling,
		}},
		"accessLogging": []any{map[string]any{"providers": []any{map[string]any{"name": "envoy"}}}},
	}); err != nil {
		return nil, err
	}
	for _, ns := range args.AppNamespaces {
		// An ALLOW policy with no rules matches nothing: every request to
		// the namespace is denied unless a service's own policy allows it.
		if err := cr(name+"-deny-"+ns, "security.istio.io/v1", "AuthorizationPolicy", ns, "allow-nothing", map[string]any{}); err != nil {
			return nil, err
		}
	}
	for _, s := range args.Services {
		if err := service(s, name, cr); err != nil {
			return nil, err
		}
	}

	m.RootNamespace = pulumi.String(RootNamespace).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{"rootNamespace": m.RootNamespace}); err != nil {
		return nil, err
	}
	return m, nil
}

// service writes one service's DestinationRule (mutual TLS, connection
// pool, outlier ejection, stable/canary subsets), its mesh VirtualService
// when it has a canary, and the AuthorizationPolicy admitting its callers.
func service(s Service, name string, cr func(res, apiVersion, kind, ns, objName string, spec map[string]any) error) error {
	cb := DefaultCircuitBreaker
	if s.CircuitBreaker != nil {
		cb = *s.CircuitBreaker
	}
	dr := map[string]any{
		"host": s.Host(),
		"trafficPolicy": map[string]any{
			"tls":            map[string]any{"mode": "ISTIO_MUTUAL"},
			"connectionPool": map[string]any{"tcp": map[string]any{"maxConnections": cb.MaxConnections}},
			"outlierDetection": map[string]any{
				"consecutive5xxErrors": cb.ConsecutiveErrors, "interval": "10s",
				"baseEjectionTime": fmt.Sprintf("%ds", cb.EjectionSeconds), "maxEjectionPercent": 50,
			},
		},
	}
	if s.CanaryWeight > 0 {
		dr["subsets"] = Subsets()
	}
	res := name + "-" + s.Namespace + "-" + s.Name
	if err := cr(res, "networking.istio.io/v1", "DestinationRule", s.Namespace, s.Name, dr); err != nil {
		return err
	}
	if s.CanaryWeight > 0 {
		if err := cr(res, "networking.istio.io/v1", "VirtualService", s.Namespace, s.Name, map[string]any{
			"hosts":    []any{s.Host()},
			"gateways": []any{"mesh"},
			"http":     []any{map[string]any{"route": WeightedRoute(s.Host(), s.Port, s.CanaryWeight)}},
		}); err != nil {
			return err
		}
	}
	var principals []any
	callers := append([]string(nil), s.Callers...)
	sort.Strings(callers)
	for _, c := range callers {
		principals = append(principals, "cluster.local/ns/"+nsSA(c))
	}
	allow := map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": s.Name}},
		"action":   "ALLOW",
	}
	if len(principals) > 0 {
		allow["rules"] = []any{map[string]any{
			"from": []any{map[string]any{"source": map[string]any{"principals": principals}}},
			"to":   []any{map[string]any{"operation": map[string]any{"ports": []any{fmt.Sprint(s.Port)}}}},
		}}
	}
	return cr(res+"-allow", "security.istio.io/v1", "AuthorizationPolicy", s.Namespace, s.Name+"-allow", allow)
}

// nsSA turns "namespace/serviceaccount" into the principal's path.
func nsSA(caller string) string {
	ns, sa, _ := strings.Cut(caller, "/")
	return ns + "/sa/" + sa
}

// Subsets are the two versions a canary splits traffic between.
func Subsets() []any {
	return []any{
		map[string]any{"name": "stable", "labels": map[string]any{"version": "stable"}},
		map[string]any{"name": "canary", "labels": map[string]any{"version": "canary"}},
	}
}

// WeightedRoute sends canary percent of requests to the canary subset.
func WeightedRoute(host string, port, canary int) []any {
	dest := func(subset string, weight int) map[string]any {
		return map[string]any{
			"destination": map[string]any{"host": host, "subset": subset, "port": map[string]any{"number": port}},
			"weight":      weight,
		}
	}
	return []any{dest("stable", 100-canary), dest("canary", canary)}
}

// ConfigMapData is the mesh config istiod runs with.
func ConfigMapData(a *Args) (string, error) {
	mc := map[string]any{
		"accessLogFile":     "/dev/stdout",
		"accessLogEncoding": "JSON",
		"enableTracing":     true,
		"defaultConfig": map[string]any{
			"holdApplicationUntilProxyStarts": true,
			"tracing":                         map[string]any{},
		},
		"defaultProviders":      map[string]any{"tracing": []any{TracingProvider}, "accessLogging": []any{"envoy"}},
		"outboundTrafficPolicy": map[string]any{"mode": "REGISTRY_ONLY"},
		"meshMTLS":              map[string]any{"minProtocolVersion": "TLSV1_3"},
		"tlsDefaults":           map[string]any{"minProtocolVersion": "TLSV1_3"},
		"extensionProviders": []any{map[string]any{
			"name":          TracingProvider,
			"opentelemetry": map[string]any{"service": a.TracingService, "port": a.TracingPort},
		}},
		"trustDomain":   "cluster.local",
		"rootNamespace": RootNamespace,
	}
	out, err := yaml.Marshal(mc)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// IstiodValues are the istiod chart's values: replicas with a floor the
// autoscaler keeps, a disruption budget, the CNI, the seccomp profile the
// namespace's "restricted" level requires, and no chart-written mesh config
// (the component writes it). Since Istio 1.24 the chart reads these at the
// top level and still accepts them under pilot; both are set.
func IstiodValues(a *Args) pulumi.Map {
	pilot := func() pulumi.Map {
		return pulumi.Map{
			"replicaCount":   pulumi.Int(a.IstiodReplicas),
			"autoscaleMin":   pulumi.Int(a.IstiodReplicas),
			"autoscaleMax":   pulumi.Int(a.IstiodReplicas * 3),
			"cni":            pulumi.Map{"enabled": pulumi.Bool(true)},
			"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String(a.RequestCPU), "memory": pulumi.String(a.RequestMemory)},
				"limits":   pulumi.Map{"cpu": pulumi.String(a.LimitCPU), "memory": pulumi.String(a.LimitMemory)},
			},
		}
	}
	v := pilot()
	v["configMap"] = pulumi.Bool(false)
	v["pilot"] = pilot()
	v["global"] = pulumi.Map{
		"defaultPodDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(true)},
		"logAsJson":                  pulumi.Bool(true),
	}
	return v
}
