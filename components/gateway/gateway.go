// Package gateway turns the guide's Gateway document into the platform's
// ingress: the Istio ingress gateway pods (through the workload helper, so
// they get the platform's HA and security defaults and the policy gate sees
// them), the Istio Gateway with TLS 1.3, routes by path and header with
// rewrites, header changes, timeouts and canary weights, local and global
// rate limits, token validation and API keys, and its telemetry (the
// rate-limit service's metrics, the gateway's alerts; the ingress proxies
// are scraped by the mesh's monitor). Istio objects are built from
// Istio's API types, and Envoy's filter configuration from Envoy's
// (go-control-plane).
package gateway

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// IngressSelector selects the ingress gateway pods the Gateway configures.
var IngressSelector = map[string]string{"istio": "ingressgateway"}

// Names of what the gateway runs.
const (
	IngressName    = "ingress-gateway"
	RateLimitName  = "ratelimit"
	RateLimitPort  = 8081
	HTTPSPort      = 8443 // behind the Service's 443: no privileged port needed
	StatusPort     = 15021
	RateLimitScope = "cloudscale-gateway"
	// APIKeysSecret holds the service API keys, delivered from Vault's
	// APIKeysVaultPath by the secrets tier.
	APIKeysSecret    = "gateway-api-keys"
	APIKeysVaultPath = "gateway/api-keys"
	// APIKeysFile is where the ingress pods read the API keys (an htpasswd
	// file of SHA digests).
	APIKeysFile = "/etc/cloudscale/api-keys/htpasswd"
	// APIKeysProperty is the key of the API-key Secret holding that file.
	APIKeysProperty = "htpasswd"
	// APIClientHeader carries the name of a caller whose API key was checked.
	APIClientHeader = "x-cloudscale-client"
	// SubjectHeader carries the verified token's subject (its sub claim)
	// on the routes that require a token; the other routes remove it.
	SubjectHeader = "x-cloudscale-subject"
	// SubjectClaim is the token claim SubjectHeader carries.
	SubjectClaim = "sub"
	// NoAPIKeys is the key file before Vault's keys arrive: one entry no key
	// matches (the SHA-1 of 32 random bytes nobody kept).
	NoAPIKeys = "nobody:{SHA}hugm4EIv33duPE3alWsXKUr+Bwg=\n"
)

// Args say how the document becomes the platform's ingress. The tiers it
// must wait for (the namespaces, the mesh) are given as pulumi.DependsOn.
type Args struct {
	Document *gatewaydoc.Document
	// Services the routes may name (the platform's own); nil skips the check.
	Services map[string]bool
	// Namespace of the ingress gateway; BackendNamespace of the services.
	Namespace, BackendNamespace string
	// Hosts are the DNS names of the gateway's certificate.
	Hosts []string
	// Issuer and JWKSURI validate tokens on routes with auth.required.
	Issuer, JWKSURI string
	// Canaries maps a backend service to the percentage sent to its canary
	// subset (the mesh defines the subsets).
	Canaries map[string]int
	// Production makes the replicas' zone spread hard and needs 3 or more.
	Production  bool
	MinReplicas int
	MaxReplicas int
	Resources   workload.Resources
	// ServiceType is LoadBalancer on clouds (with SourceRanges as its
	// firewall) and ClusterIP where no load balancer exists (local).
	ServiceType  string
	SourceRanges []string
	// ServiceAnnotations choose the cloud's load balancer (the cloud
	// tier's, e.g. an AWS NLB, which keeps the client's address).
	ServiceAnnotations map[string]string
	// Counters is the Redis the rate-limit service counts global limits
	// in; required when a route has one.
	Counters *contract.Redis
	// Sidecar is what the gateway's proxies (and the rate-limit service's
	// sidecars) must reach: the mesh's control plane, the tracing
	// collector, the scraper.
	Sidecar contract.Sidecar
}

// Gateway is the ingress built from the document.
type Gateway struct {
	pulumi.ResourceState

	Name pulumi.StringOutput
	// Service is the ingress Service whose address clients use.
	Service pulumi.StringOutput
	// ServiceAccount is the ingress pods' identity ("namespace/name"),
	// which backends admit.
	ServiceAccount string
}

// ServiceAccountOf is the identity ("namespace/name") of the ingress pods in ns.
func ServiceAccountOf(ns string) string { return ns + "/" + IngressName }

// Backend is a service the gateway routes to, with the circuit breaker of
// its first route that sets one (nil: the mesh's default).
type Backend struct {
	Service        string
	CircuitBreaker *mesh.CircuitBreaker
}

// Backends are the services the document routes to, in route order.
func (a *Args) Backends() []Backend {
	var out []Backend
	index := map[string]int{}
	for _, r := range a.Document.Spec.Routes {
		i, seen := index[r.Backend.Service]
		if !seen {
			i = len(out)
			index[r.Backend.Service] = i
			out = append(out, Backend{Service: r.Backend.Service})
		}
		if cb := r.CircuitBreaker; cb != nil && out[i].CircuitBreaker == nil {
			out[i].CircuitBreaker = &mesh.CircuitBreaker{MaxConnections: cb.MaxConnections, ConsecutiveErrors: cb.ConsecutiveErrors, EjectionSeconds: cb.EjectionSeconds}
		}
	}
	return out
}

// Certificates are what the gateway needs issued: one public certificate
// for Hosts per listener certificateRef, in its namespace.
func (a *Args) Certificates() []contract.Certificate {
	var out []contract.Certificate
	for _, l := range a.Document.Spec.Listeners {
		if l.TLS != nil && l.TLS.CertificateRef != "" {
			out = append(out, contract.Certificate{Name: l.TLS.CertificateRef, Namespace: a.Namespace, DNSNames: a.Hosts, Public: true})
		}
	}
	if c := a.counters(); c != nil && c.TLS {
		// Its ca.crt is the platform's CA, which the Redis members'
		// certificate chains to.
		out = append(out, contract.Certificate{Name: RateLimitRedisTLS, Namespace: a.Namespace,
			DNSNames: []string{RateLimitName + "." + a.Namespace + ".svc.cluster.local"}})
	}
	return out
}

// The rate-limit service's Secrets for its Redis: the platform's CA (and a
// client certificate) and the password delivered from Vault.
const (
	RateLimitRedisTLS  = RateLimitName + "-redis-tls"
	RateLimitRedisAuth = RateLimitName + "-redis-auth"
)

// counters is the Redis the rate-limit service counts in, when a route
// has a global limit.
func (a *Args) counters() *contract.Redis {
	if a.Document == nil || a.Document.Needs().GlobalLimits < 0 {
		return nil
	}
	return a.Counters
}

// VaultSecrets are what the gateway needs delivered from Vault: the API
// keys, when a route accepts them, merged into the placeholder Secret the
// gateway creates.
func (a *Args) VaultSecrets() []contract.VaultSecret {
	var out []contract.VaultSecret
	if a.Document.Needs().APIKeys >= 0 {
		out = append(out, contract.VaultSecret{Name: APIKeysSecret, Namespace: a.Namespace, VaultPath: APIKeysVaultPath,
			Keys: map[string]string{APIKeysProperty: APIKeysProperty}, Merge: true})
	}
	if c := a.counters(); c != nil && c.AuthVaultPath != "" {
		out = append(out, contract.VaultSecret{Name: RateLimitRedisAuth, Namespace: a.Namespace, VaultPath: c.AuthVaultPath,
			Keys: map[string]string{"password": "password"}})
	}
	return out
}

// Validate checks the arguments; New registers nothing unless they pass.
func (a *Args) Validate() error {
	if a == nil || a.Document == nil {
		return errors.New("a Gateway document is required")
	}
	if errs := a.Document.Validate(field.NewPath("document"), a.Services); len(errs) > 0 {
		return errs.ToAggregate()
	}
	var errs []error
	if a.Namespace == "" || a.BackendNamespace == "" {
		errs = append(errs, errors.New("namespace and backend namespace are required"))
	}
	if a.MinReplicas < 1 || a.MaxReplicas < a.MinReplicas || (a.Production && a.MinReplicas < 3) {
		errs = append(errs, fmt.Errorf("replicas %d-%d: at least 1 (3 in production), max at least min", a.MinReplicas, a.MaxReplicas))
	}
	if len(a.Sidecar.ControlPlane.Ports) == 0 {
		errs = append(errs, errors.New("the mesh's control plane (Sidecar.ControlPlane) is required: the proxies get their configuration from it"))
	}
	needs := a.Document.Needs()
	if needs.UserTokens >= 0 && (a.Issuer == "" || a.JWKSURI == "") {
		errs = append(errs, errors.New("routes require tokens, so an issuer and JWKS URI are required"))
	}
	if needs.GlobalLimits >= 0 && (a.Counters == nil || a.Counters.URL == "") {
		errs = append(errs, errors.New("routes have global rate limits, so a Redis for the counters is required"))
	}
	if err := ingressArgs(a, planRoutes(a)).Validate(IngressName); err != nil {
		errs = append(errs, err)
	}
	if needs.GlobalLimits >= 0 && a.Counters != nil {
		if err := rateLimitArgs(a).Validate(RateLimitName); err != nil {
			errs = append(errs, err)
		}
	}
	for svc, w := range a.Canaries {
		if w < 0 || w > 100 {
			errs = append(errs, fmt.Errorf("canary weight of %s: %d is not a percentage", svc, w))
		}
	}
	return errors.Join(errs...)
}

// New validates the document and builds the ingress.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Gateway, error) {
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("gateway %s: %w", name, err)
	}
	routes := planRoutes(args)
	objs, err := objects(name, args, routes)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", name, err)
	}
	g := &Gateway{ServiceAccount: ServiceAccountOf(args.Namespace)}
	if err := ctx.RegisterComponentResource("cloudscale:gateway:Gateway", name, g, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, a: args, child: tier.Children(g, opts)}
	ingress, err := b.ingress(routes)
	if err != nil {
		return nil, err
	}
	if err := b.readCertificates(); err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, objs, b.child...); err != nil {
		return nil, err
	}
	if err := b.rateLimitService(); err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, MonitoringObjects(name, args), b.child...); err != nil {
		return nil, err
	}
	g.Name = pulumi.String(args.Document.Metadata.Name).ToStringOutput()
	g.Service = ingress.Service
	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{"name": g.Name, "service": g.Service}); err != nil {
		return nil, err
	}
	return g, nil
}

// objects are every Istio object of the gateway.
func objects(name string, a *Args, routes []route) ([]upstream.NamedObject, error) {
	objs := istioObjects(name, a, routes)
	filters, err := envoyFilters(name, a, routes)
	if err != nil {
		return nil, err
	}
	return append(objs, filters...), nil
}

type builder struct {
	ctx   *pulumi.Context
	name  string
	a     *Args
	child []pulumi.ResourceOption
}

// route is one document route with what the builders need.
type route struct {
	gatewaydoc.Route
	// Name is the VirtualService route name EnvoyFilters patch by.
	Name   string
	Host   string
	Prefix string
	Exact  bool
}

func planRoutes(a *Args) []route {
	var out []route
	for i, r := range a.Document.Spec.Routes {
		prefix, exact := r.Match.PathPrefix()
		out = append(out, route{
			Route: r, Name: fmt.Sprintf("route-%d", i),
			Host:   fmt.Sprintf("%s.%s.svc.cluster.local", r.Backend.Service, a.BackendNamespace),
			Prefix: prefix, Exact: exact,
		})
	}
	return out
}

// ingress runs the Istio ingress gateway pods: gateway injection turns
// them into Envoy proxies; the helper gives them replicas, autoscaling,
// a disruption budget, spread, and the NetworkPolicy.
func (b *builder) ingress(routes []route) (*workload.Workload, error) {
	opts := b.child
	if b.a.Document.Needs().APIKeys >= 0 {
		placeholder, err := b.apiKeysPlaceholder()
		if err != nil {
			return nil, err
		}
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{placeholder}))
	}
	return workload.New(b.ctx, IngressName, ingressArgs(b.a, routes), opts...)
}

// ingressArgs describe the ingress pods to the workload helper.
func ingressArgs(a *Args, routes []route) *workload.Args {
	backendPorts := map[int]bool{}
	for _, r := range routes {
		backendPorts[r.Backend.Port] = true
	}
	var ports []int
	for p := range backendPorts {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	clients := a.SourceRanges
	if len(clients) == 0 {
		clients = []string{"0.0.0.0/0"} // ClusterIP: in-cluster clients only
	}
	egress := []contract.Peer{
		{NamespaceLabels: contract.InNamespace(a.BackendNamespace), PodLabels: map[string]string{}, Ports: ports},
		{PodLabels: map[string]string{contract.NameLabel: RateLimitName}, Ports: []int{RateLimitPort}},
	}
	var volumes []workload.Volume
	if a.Document.Needs().APIKeys >= 0 {
		volumes = append(volumes, workload.Volume{Name: "api-keys", Secret: APIKeysSecret, MountPath: APIKeysFile[:strings.LastIndex(APIKeysFile, "/")]})
	}
	return &workload.Args{
		Namespace: a.Namespace, Image: upstream.ProxyImage, Container: "istio-proxy",
		Ports: []workload.Port{
			{Name: "status-port", Port: StatusPort},
			{Name: "https", Port: HTTPSPort, ServicePort: 443},
		},
		HealthPath: "/healthz/ready",
		Replicas:   a.MinReplicas, Production: a.Production, Resources: a.Resources,
		Autoscaling: &workload.Autoscaling{Min: a.MinReplicas, Max: a.MaxReplicas, CPUUtilization: 70},
		PodLabels:   map[string]string{"istio": "ingressgateway", "sidecar.istio.io/inject": "true"},
		// The injector fills the pod from Istio's gateway template.
		PodAnnotations: map[string]string{"inject.istio.io/templates": "gateway"},
		Volumes:        volumes,
		ServiceType:    a.ServiceType, SourceRanges: a.SourceRanges,
		ServiceLabels:      map[string]string{"cloudscale.io/role": "gateway"},
		ServiceAnnotations: a.ServiceAnnotations,
		Ingress:            []contract.Peer{{CIDRs: clients, Ports: []int{HTTPSPort}}},
		Egress:             egress,
		Sidecar:            &a.Sidecar,
	}
}

// apiKeysPlaceholder is the API-key Secret until the ExternalSecret
// merges the real keys from Vault into it: Envoy refuses the whole listener
// when the key file is missing, so it always exists. Its one entry is a
// digest of random bytes that were thrown away: nobody can present a
// matching key, so keyed routes answer 401 and the others are served.
// The program never changes its data after creating it.
func (b *builder) apiKeysPlaceholder() (*corev1.Secret, error) {
	return corev1.NewSecret(b.ctx, b.name+"-api-keys", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(APIKeysSecret), Namespace: pulumi.String(b.a.Namespace),
			Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		StringData: pulumi.StringMap{APIKeysProperty: pulumi.String(NoAPIKeys)},
	}, append(b.child, pulumi.IgnoreChanges([]string{"data", "stringData"}))...)
}

// readCertificates lets the ingress pods' identity read the Secrets in
// its namespace: istiod serves a Gateway's credentialName only to a proxy
// that may read it.
func (b *builder) readCertificates() error {
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(IngressName + "-certificates"), Namespace: pulumi.String(b.a.Namespace)}
	role, err := rbacv1.NewRole(b.ctx, b.name+"-certificates", &rbacv1.RoleArgs{
		Metadata: meta,
		Rules: rbacv1.PolicyRuleArray{&rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.StringArray{pulumi.String("")}, Resources: pulumi.StringArray{pulumi.String("secrets")},
			Verbs: pulumi.ToStringArray([]string{"get", "watch", "list"}),
		}},
	}, b.child...)
	if err != nil {
		return err
	}
	_, err = rbacv1.NewRoleBinding(b.ctx, b.name+"-certificates", &rbacv1.RoleBindingArgs{
		Metadata: meta,
		RoleRef:  &rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: role.Metadata.Name().Elem()},
		Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(IngressName), Namespace: pulumi.String(b.a.Namespace)}},
	}, b.child...)
	return err
}

// rateLimitArgs describe the rate-limit service to the workload helper.
func rateLimitArgs(a *Args) *workload.Args {
	c := a.Counters
	w := &workload.Args{
		Namespace: a.Namespace, Image: upstream.RateLimitImage,
		Args: []string{"/bin/ratelimit"},
		Ports: []workload.Port{{Name: "http", Port: 8080}, {Name: "grpc", Port: RateLimitPort},
			{Name: RateLimitMetricsPortName, Port: RateLimitMetricsPort}},
		Env: map[string]string{
			// Prometheus metrics from the service itself, not statsd
			// (envoyproxy/ratelimit src/settings; its runner refuses
			// statsd and Prometheus together, so USE_STATSD is false).
			"USE_STATSD": "false", "USE_PROMETHEUS": "true",
			"PROMETHEUS_ADDR": fmt.Sprintf(":%d", RateLimitMetricsPort), "PROMETHEUS_PATH": RateLimitMetricsPath,
			"LOG_FORMAT": "json", "REDIS_SOCKET_TYPE": "tcp", "REDIS_TYPE": string(c.Mode), "REDIS_URL": c.URL,
			"RUNTIME_ROOT": "/data", "RUNTIME_SUBDIRECTORY": "ratelimit", "RUNTIME_WATCH_ROOT": "false",
			"RUNTIME_IGNOREDOTFILES": "true",
		},
		HealthPath: "/healthcheck",
		Replicas:   a.MinReplicas, Production: a.Production, Resources: a.Resources,
		Volumes: []workload.Volume{{Name: "config", ConfigMap: RateLimitName + "-config", MountPath: "/data/ratelimit/config"}},
		// Prometheus, which scrapes the proxies (Sidecar.Metrics), reads
		// the service's metrics port too.
		Ingress: []contract.Peer{{PodLabels: map[string]string{contract.NameLabel: IngressName}, Ports: []int{RateLimitPort}},
			withPorts(a.Sidecar.Metrics, RateLimitMetricsPort)},
		Egress: []contract.Peer{c.Peer()},
		// The metrics port bypasses the sidecar: Prometheus is outside the
		// mesh and the mesh's mTLS is STRICT (Istio "Prometheus": metrics
		// of applications follow the workload's authentication policy).
		PodAnnotations: map[string]string{"traffic.sidecar.istio.io/excludeInboundPorts": fmt.Sprint(RateLimitMetricsPort)},
		Sidecar:        &a.Sidecar,
	}
	if c.TLS {
		w.Env["REDIS_TLS"] = "true"
		w.Env["REDIS_TLS_CACERT"] = "/redis-tls/ca.crt"
		w.Volumes = append(w.Volumes, workload.Volume{Name: "redis-tls", Secret: RateLimitRedisTLS, MountPath: "/redis-tls"})
	}
	if c.AuthVaultPath != "" {
		// The master's password and the Sentinels' (the same one).
		ref := workload.SecretKey{Secret: RateLimitRedisAuth, Key: "password"}
		w.SecretEnv = map[string]workload.SecretKey{"REDIS_AUTH": ref, "REDIS_SENTINEL_AUTH": ref}
	}
	return w
}

// rateLimitService runs the Envoy rate-limit service (counters in Redis)
// that the gateway asks, per route and client address, before forwarding
// (see envoyFilters); only when a route has a global limit.
func (b *builder) rateLimitService() error {
	a := b.a
	config, limited, err := RateLimitConfig(a.Document.Spec.Routes)
	if err != nil || !limited {
		return err
	}
	cm, err := corev1.NewConfigMap(b.ctx, b.name+"-ratelimit", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(RateLimitName + "-config"), Namespace: pulumi.String(a.Namespace)},
		Data:     pulumi.StringMap{"config.yaml": pulumi.String(config)},
	}, b.child...)
	if err != nil {
		return err
	}
	_, err = workload.New(b.ctx, RateLimitName, rateLimitArgs(a), append(b.child, pulumi.DependsOn([]pulumi.Resource{cm}))...)
	return err
}
