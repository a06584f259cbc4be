// Package gateway turns the guide's Gateway document into the platform's
// ingress: the Istio ingress gateway pods (through the workload helper, so
// they get the platform's HA and security defaults and the policy gate sees
// them), the Istio Gateway with TLS 1.3, routes by path and header with
// rewrites, header changes, timeouts and canary weights, local and global
// rate limits, token validation and API keys.
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
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// IngressSelector selects the ingress gateway pods the Gateway configures.
var IngressSelector = map[string]any{"istio": "ingressgateway"}

// Names of what the gateway runs.
const (
	IngressName    = "ingress-gateway"
	RateLimitName  = "ratelimit"
	RateLimitPort  = 8081
	HTTPSPort      = 8443 // behind the Service's 443: no privileged port needed
	StatusPort     = 15021
	RateLimitScope = "cloudscale-gateway"
	// APIKeysFile is where the ingress pods read the API keys (an htpasswd
	// file of SHA digests, delivered from Vault by an ExternalSecret).
	APIKeysFile = "/etc/cloudscale/api-keys/htpasswd"
	// APIKeysProperty is the key of the API-key Secret holding that file.
	APIKeysProperty = "htpasswd"
	// APIClientHeader carries the name of a caller whose API key was checked.
	APIClientHeader = "x-cloudscale-client"
	// NoAPIKeys is the key file before Vault's keys arrive: one entry no key
	// matches (the SHA-1 of 32 random bytes nobody kept).
	NoAPIKeys = "nobody:{SHA}hugm4EIv33duPE3alWsXKUr+Bwg=\n"
)

// Counters is the Redis the rate-limit service counts global limits in.
type Counters struct {
	// Type is SINGLE, SENTINEL or CLUSTER (the rate-limit service's REDIS_TYPE).
	Type string
	// URL is host:port, or for SENTINEL "master,host:port,...".
	URL string
	// Selector and Namespace select the Redis pods egress is opened to.
	PodLabels, NamespaceLabels map[string]string
	Ports                      []int
}

// Args say how the document becomes the platform's ingress.
type Args struct {
	Document *gatewaydoc.Document
	// Services the routes may name (the platform's own); nil skips the check.
	Services map[string]bool
	// Namespace of the ingress gateway; BackendNamespace of the services.
	Namespace, BackendNamespace string
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
	// ServiceAnnotations choose the cloud's load balancer (e.g. an AWS NLB,
	// which keeps the client's address).
	ServiceAnnotations map[string]string
	// Counters is required when a route has a global limit.
	Counters *Counters
	// APIKeysSecret is the Secret (key "htpasswd") with the service API
	// keys; required when a route accepts API keys.
	APIKeysSecret string
	// Sidecar is what the gateway's proxies (and the rate-limit service's
	// sidecars) must reach: istiod, the tracing collector, the scraper.
	Sidecar workload.Sidecar
	// Ready are resources (mesh, namespaces) that must exist first.
	Ready []pulumi.Resource
}

// Gateway is the ingress built from the document.
type Gateway struct {
	pulumi.ResourceState

	Name pulumi.StringOutput
	// Service is the ingress Service whose address clients use.
	Service pulumi.StringOutput
	// ServiceAccount is the ingress pods' identity, which backends admit.
	ServiceAccount string
}

// ServiceAccountOf is the identity ("namespace/name") of the ingress pods in ns.
func ServiceAccountOf(ns string) string { return ns + "/" + IngressName }

// Validate checks the arguments; New registers nothing unless they pass.
func (a *Args) Validate() error {
	if a == nil || a.Document == nil {
		return errors.New("a Gateway document is required")
	}
	if err := a.Document.Validate(a.Services); err != nil {
		return err
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
	for _, r := range a.Document.Spec.Routes {
		if r.Auth != nil && r.Auth.Required && (a.Issuer == "" || a.JWKSURI == "") {
			errs = append(errs, errors.New("routes require tokens, so an issuer and JWKS URI are required"))
			break
		}
	}
	for _, r := range a.Document.Spec.Routes {
		if r.RateLimit != nil && r.RateLimit.GlobalRequestsPerMinute > 0 && (a.Counters == nil || a.Counters.URL == "") {
			errs = append(errs, errors.New("routes have global rate limits, so a Redis for the counters is required"))
			break
		}
	}
	for _, r := range a.Document.Spec.Routes {
		if r.Auth != nil && r.Auth.APIKeys && a.APIKeysSecret == "" {
			errs = append(errs, errors.New("routes accept API keys, so an API-key Secret is required"))
			break
		}
	}
	if err := ingressArgs(a, planRoutes(a)).Validate(IngressName); err != nil {
		errs = append(errs, err)
	}
	if limited, _ := hasGlobalLimits(a.Document); limited && a.Counters != nil {
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
	g := &Gateway{ServiceAccount: ServiceAccountOf(args.Namespace)}
	if err := ctx.RegisterComponentResource("cloudscale:gateway:Gateway", name, g, opts...); err != nil {
		return nil, err
	}
	d := args.Document
	b := &builder{ctx: ctx, g: g, name: name, a: args}
	routes := planRoutes(args)

	ingress, err := b.ingress(routes)
	if err != nil {
		return nil, err
	}
	if err := b.readCertificates(); err != nil {
		return nil, err
	}
	if err := b.istioObjects(routes); err != nil {
		return nil, err
	}
	if err := b.localLimits(routes); err != nil {
		return nil, err
	}
	if err := b.globalLimits(routes); err != nil {
		return nil, err
	}
	if err := b.apiKeys(routes); err != nil {
		return nil, err
	}
	g.Name = pulumi.String(d.Metadata.Name).ToStringOutput()
	g.Service = ingress.Service
	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{"name": g.Name, "service": g.Service}); err != nil {
		return nil, err
	}
	return g, nil
}

type builder struct {
	ctx  *pulumi.Context
	g    *Gateway
	name string
	a    *Args
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

func (b *builder) cr(suffix, apiVersion, kind string, spec map[string]any) error {
	_, err := upstream.NewObject(b.ctx, b.name+suffix, upstream.Object{
		APIVersion: apiVersion, Kind: kind, Namespace: b.a.Namespace, Name: b.a.Document.Metadata.Name + suffix, Spec: spec,
	}, pulumi.Parent(b.g), pulumi.DependsOn(b.a.Ready))
	return err
}

// ingress runs the Istio ingress gateway pods: gateway injection turns
// them into Envoy proxies; the helper gives them replicas, autoscaling,
// a disruption budget, spread, and the NetworkPolicy.
func (b *builder) ingress(routes []route) (*workload.Workload, error) {
	var deps []pulumi.Resource
	if b.a.APIKeysSecret != "" {
		placeholder, err := b.apiKeysPlaceholder()
		if err != nil {
			return nil, err
		}
		deps = append(deps, placeholder)
	}
	return workload.New(b.ctx, IngressName, ingressArgs(b.a, routes), pulumi.Parent(b.g), pulumi.DependsOn(b.a.Ready), pulumi.DependsOn(deps))
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
	egress := []workload.Peer{
		{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": a.BackendNamespace}, PodLabels: map[string]string{}, Ports: ports},
		{PodLabels: map[string]string{"app.kubernetes.io/name": RateLimitName}, Ports: []int{RateLimitPort}},
	}
	var volumes []workload.Volume
	if a.APIKeysSecret != "" {
		volumes = append(volumes, workload.Volume{Name: "api-keys", Secret: a.APIKeysSecret, MountPath: APIKeysFile[:strings.LastIndex(APIKeysFile, "/")]})
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
		Ingress:            []workload.Peer{{CIDRs: clients, Ports: []int{HTTPSPort}}},
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
	a := b.a
	return corev1.NewSecret(b.ctx, b.name+"-api-keys", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(a.APIKeysSecret), Namespace: pulumi.String(a.Namespace),
			Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		StringData: pulumi.StringMap{APIKeysProperty: pulumi.String(NoAPIKeys)},
	}, pulumi.Parent(b.g), pulumi.DependsOn(a.Ready), pulumi.IgnoreChanges([]string{"data", "stringData"}))
}

// readCertificates lets the ingress pods' identity read the Secrets in
// its namespace: istiod serves a Gateway's credentialName only to a proxy
// that may read it.
func (b *builder) readCertificates() error {
	a := b.a
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(IngressName + "-certificates"), Namespace: pulumi.String(a.Namespace)}
	role, err := rbacv1.NewRole(b.ctx, b.name+"-certificates", &rbacv1.RoleArgs{
		Metadata: meta,
		Rules: rbacv1.PolicyRuleArray{&rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.StringArray{pulumi.String("")}, Resources: pulumi.StringArray{pulumi.String("secrets")},
			Verbs: pulumi.ToStringArray([]string{"get", "watch", "list"}),
		}},
	}, pulumi.Parent(b.g), pulumi.DependsOn(a.Ready))
	if err != nil {
		return err
	}
	_, err = rbacv1.NewRoleBinding(b.ctx, b.name+"-certificates", &rbacv1.RoleBindingArgs{
		Metadata: meta,
		RoleRef:  &rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: role.Metadata.Name().Elem()},
		Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(IngressName), Namespace: pulumi.String(a.Namespace)}},
	}, pulumi.Parent(b.g))
	return err
}

// istioObjects are the Gateway, the routes, token validation and the
// authorization that admits clients to the ingress pods.
func (b *builder) istioObjects(routes []route) error {
	a, d := b.a, b.a.Document
	var servers []any
	for _, l := range d.Spec.Listeners {
		servers = append(servers, map[string]any{
			"port":  map[string]any{"number": l.Port, "name": fmt.Sprintf("https-%d", l.Port), "protocol": "HTTPS"},
			"hosts": []any{"*"},
			"tls": map[string]any{
				"mode": "SIMPLE", "credentialName": l.TLS.CertificateRef, "minProtocolVersion": "TLSV1_3",
			},
		})
	}
	if err := b.cr("", "networking.istio.io/v1", "Gateway", map[string]any{"selector": IngressSelector, "servers": servers}); err != nil {
		return err
	}
	var http []any
	var protected []any
	for _, r := range routes {
		uri := map[string]any{"prefix": r.Prefix}
		if r.Exact {
			uri = map[string]any{"exact": r.Prefix}
		}
		match := map[string]any{"uri": uri}
		if len(r.Match.Headers) > 0 {
			h := map[string]any{}
			for k, v := range r.Match.Headers {
				h[k] = map[string]any{"exact": v}
			}
			match["headers"] = h
		}
		dest := []any{map[string]any{"destination": map[string]any{"host": r.Host, "port": map[string]any{"number": r.Backend.Port}}}}
		if w := a.Canaries[r.Backend.Service]; w > 0 {
			dest = mesh.WeightedRoute(r.Host, r.Backend.Port, w)
		}
		hr := map[string]any{"name": r.Name, "match": []any{match}, "route": dest}
		if r.Rewrite != nil {
			hr["rewrite"] = map[string]any{"uri": r.Rewrite.Prefix}
		}
		if r.Timeout != "" {
			hr["timeout"] = r.Timeout
		}
		if h := headerOps(r); h != nil {
			hr["headers"] = h
		}
		http = append(http, hr)
		if r.Auth != nil && r.Auth.Required {
			protected = append(protected, r.Prefix+map[bool]string{true: "", false: "*"}[r.Exact])
		}
	}
	if err := b.cr("-routes", "networking.istio.io/v1", "VirtualService", map[string]any{
		"hosts": []any{"*"}, "gateways": []any{a.Namespace + "/" + d.Metadata.Name}, "http": http,
	}); err != nil {
		return err
	}
	// The mesh denies by default; the ingress pods admit clients on HTTPS.
	if err := b.cr("-admit-clients", "security.istio.io/v1", "AuthorizationPolicy", map[string]any{
		"selector": map[string]any{"matchLabels": IngressSelector},
		"action":   "ALLOW",
		"rules":    []any{map[string]any{"to": []any{map[string]any{"operation": map[string]any{"ports": []any{fmt.Sprint(HTTPSPort)}}}}}},
	}); err != nil {
		return err
	}
	if len(protected) == 0 {
		return nil
	}
	if err := b.cr("-jwt", "security.istio.io/v1", "RequestAuthentication", map[string]any{
		"selector": map[string]any{"matchLabels": IngressSelector},
		"jwtRules": []any{map[string]any{"issuer": a.Issuer, "jwksUri": a.JWKSURI, "forwardOriginalToken": false}},
	}); err != nil {
		return err
	}
	return b.cr("-require-token", "security.istio.io/v1", "AuthorizationPolicy", map[string]any{
		"selector": map[string]any{"matchLabels": IngressSelector},
		"action":   "DENY",
		"rules": []any{map[string]any{
			"from": []any{map[string]any{"source": map[string]any{"notRequestPrincipals": []any{"*"}}}},
			"to":   []any{map[string]any{"operation": map[string]any{"paths": protected}}},
		}},
	})
}

// headerOps are the route's header changes. Where API keys are checked,
// the caller's key is not passed on, and on the other routes a client
// cannot pose as a keyed caller by sending the client header itself.
func headerOps(r route) map[string]any {
	var req, resp *gatewaydoc.HeaderOps
	if r.Headers != nil {
		req, resp = r.Headers.Request, r.Headers.Response
	}
	// Backends may trust the client header on every stack, keyed routes or not.
	strip := []string{APIClientHeader}
	if r.Auth != nil && r.Auth.APIKeys {
		strip = []string{"authorization"}
	}
	if req == nil && resp == nil && strip == nil {
		return nil
	}
	h := map[string]any{}
	if req != nil || strip != nil {
		ops := map[string]any{}
		var remove []string
		if req != nil {
			if len(req.Set) > 0 {
				ops["set"] = req.Set
			}
			remove = append(remove, req.Remove...)
		}
		if remove = append(remove, strip...); len(remove) > 0 {
			ops["remove"] = remove
		}
		h["request"] = ops
	}
	if resp != nil {
		h["response"] = map[string]any{"set": resp.Set, "remove": resp.Remove}
	}
	return h
}

func gatewayFilter(patches []any) map[string]any {
	return map[string]any{
		"workloadSelector": map[string]any{"labels": IngressSelector},
		"configPatches":    patches,
	}
}

// hcmFilter inserts an HTTP filter before the router on the gateway.
func hcmFilter(name string, typedConfig map[string]any) map[string]any {
	return map[string]any{
		"applyTo": "HTTP_FILTER",
		"match": map[string]any{"context": "GATEWAY", "listener": map[string]any{"filterChain": map[string]any{"filter": map[string]any{
			"name": "envoy.filters.network.http_connection_manager", "subFilter": map[string]any{"name": "envoy.filters.http.router"},
		}}}},
		"patch": map[string]any{"operation": "INSERT_BEFORE", "value": map[string]any{"name": name, "typed_config": typedConfig}},
	}
}

// routePatch merges value into the named gateway route.
func routePatch(routeName string, value map[string]any) map[string]any {
	return map[string]any{
		"applyTo": "HTTP_ROUTE",
		"match":   map[string]any{"context": "GATEWAY", "routeConfiguration": map[string]any{"vhost": map[string]any{"route": map[string]any{"name": routeName}}}},
		"patch":   map[string]any{"operation": "MERGE", "value": value},
	}
}

// localLimits give each gateway replica a token bucket per limited route.
// The filter is installed without a bucket (so it limits nothing) and each
// route enables its own.
func (b *builder) localLimits(routes []route) error {
	var patches []any
	for _, r := range routes {
		rl := r.RateLimit
		if rl == nil {
			continue
		}
		if patches == nil {
			patches = append(patches, hcmFilter("envoy.filters.http.local_ratelimit", map[string]any{
				"@type":    "type.googleapis.com/udpa.type.v1.TypedStruct",
				"type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
				"value":    map[string]any{"stat_prefix": "http_local_rate_limiter"},
			}))
		}
		burst := max(rl.Burst, rl.RequestsPerSecond)
		patches = append(patches, routePatch(r.Name, map[string]any{"typed_per_filter_config": map[string]any{
			"envoy.filters.http.local_ratelimit": map[string]any{
				"@type":    "type.googleapis.com/udpa.type.v1.TypedStruct",
				"type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
				"value": map[string]any{
					"stat_prefix":     "http_local_rate_limiter",
					"token_bucket":    map[string]any{"max_tokens": burst, "tokens_per_fill": rl.RequestsPerSecond, "fill_interval": "1s"},
					"filter_enabled":  map[string]any{"runtime_key": "local_rate_limit_enabled", "default_value": map[string]any{"numerator": 100, "denominator": "HUNDRED"}},
					"filter_enforced": map[string]any{"runtime_key": "local_rate_limit_enforced", "default_value": map[string]any{"numerator": 100, "denominator": "HUNDRED"}},
					"response_headers_to_add": []any{map[string]any{"append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
						"header": map[string]any{"key": "x-cloudscale-rate-limited", "value": "local"}}},
				},
			},
		}}))
	}
	if patches == nil {
		return nil
	}
	return b.cr("-local-ratelimit", "networking.istio.io/v1alpha3", "EnvoyFilter", gatewayFilter(patches))
}

// rateLimitArgs describe the rate-limit service to the workload helper.
func rateLimitArgs(a *Args) *workload.Args {
	c := a.Counters
	return &workload.Args{
		Namespace: a.Namespace, Image: upstream.RateLimitImage,
		Args:  []string{"/bin/ratelimit"},
		Ports: []workload.Port{{Name: "http", Port: 8080}, {Name: "grpc", Port: RateLimitPort}},
		Env: map[string]string{
			"USE_STATSD": "false", "LOG_FORMAT": "json",
			// The mesh's mutual TLS encrypts the connection to Redis.
			"REDIS_SOCKET_TYPE": "tcp", "REDIS_TYPE": c.Type, "REDIS_URL": c.URL,
			"RUNTIME_ROOT": "/data", "RUNTIME_SUBDIRECTORY": "ratelimit", "RUNTIME_WATCH_ROOT": "false",
			"RUNTIME_IGNOREDOTFILES": "true",
		},
		HealthPath: "/healthcheck",
		Replicas:   a.MinReplicas, Production: a.Production, Resources: a.Resources,
		Volumes: []workload.Volume{{Name: "config", ConfigMap: RateLimitName + "-config", MountPath: "/data/ratelimit/config"}},
		Ingress: []workload.Peer{{PodLabels: map[string]string{"app.kubernetes.io/name": IngressName}, Ports: []int{RateLimitPort}}},
		Egress:  []workload.Peer{{PodLabels: c.PodLabels, NamespaceLabels: c.NamespaceLabels, Ports: c.Ports}},
		Sidecar: &a.Sidecar,
	}
}

func hasGlobalLimits(d *gatewaydoc.Document) (bool, int) {
	for i, r := range d.Spec.Routes {
		if r.RateLimit != nil && r.RateLimit.GlobalRequestsPerMinute > 0 {
			return true, i
		}
	}
	return false, -1
}

// RateLimitConfig is the rate-limit service's configuration: per route,
// per client address, GlobalRequestsPerMinute.
func RateLimitConfig(routes []gatewaydoc.Route) (string, bool, error) {
	var descriptors []any
	for i, r := range routes {
		if r.RateLimit == nil || r.RateLimit.GlobalRequestsPerMinute == 0 {
			continue
		}
		descriptors = append(descriptors, map[string]any{
			"key": "generic_key", "value": fmt.Sprintf("route-%d", i),
			"descriptors": []any{map[string]any{
				"key":        "remote_address",
				"rate_limit": map[string]any{"unit": "minute", "requests_per_unit": r.RateLimit.GlobalRequestsPerMinute},
			}},
		})
	}
	if descriptors == nil {
		return "", false, nil
	}
	out, err := yaml.Marshal(map[string]any{"domain": RateLimitScope, "descriptors": descriptors})
	return string(out), true, err
}

// globalLimits run the Envoy rate-limit service (counters in Redis) and
// make the gateway ask it, per route and client address, before
// forwarding. The gateway fails open if the service is down: the local
// limits still hold, and the rate-limit service is no single point of
// failure for traffic.
func (b *builder) globalLimits(routes []route) error {
	a := b.a
	config, limited, err := RateLimitConfig(a.Document.Spec.Routes)
	if err != nil || !limited {
		return err
	}
	cm, err := corev1.NewConfigMap(b.ctx, b.name+"-ratelimit", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(RateLimitName + "-config"), Namespace: pulumi.String(a.Namespace)},
		Data:     pulumi.StringMap{"config.yaml": pulumi.String(config)},
	}, pulumi.Parent(b.g), pulumi.DependsOn(a.Ready))
	if err != nil {
		return err
	}
	if _, err := workload.New(b.ctx, RateLimitName, rateLimitArgs(a), pulumi.Parent(b.g), pulumi.DependsOn([]pulumi.Resource{cm})); err != nil {
		return err
	}
	// The namespace denies by default: the ingress pods may ask.
	if err := b.cr("-ratelimit-callers", "security.istio.io/v1", "AuthorizationPolicy", map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": RateLimitName}},
		"action":   "ALLOW",
		"rules": []any{map[string]any{
			"from": []any{map[string]any{"source": map[string]any{"principals": []any{"cluster.local/ns/" + a.Namespace + "/sa/" + IngressName}}}},
			"to":   []any{map[string]any{"operation": map[string]any{"ports": []any{fmt.Sprint(RateLimitPort)}}}},
		}},
	}); err != nil {
		return err
	}
	cluster := fmt.Sprintf("outbound|%d||%s.%s.svc.cluster.local", RateLimitPort, RateLimitName, a.Namespace)
	patches := []any{hcmFilter("envoy.filters.http.ratelimit", map[string]any{
		"@type":             "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit",
		"domain":            RateLimitScope,
		"failure_mode_deny": false,
		"timeout":           "50ms",
		"rate_limit_service": map[string]any{
			"grpc_service":          map[string]any{"envoy_grpc": map[string]any{"cluster_name": cluster, "authority": cluster[strings.LastIndex(cluster, "|")+1:]}},
			"transport_api_version": "V3",
		},
	})}
	for _, r := range routes {
		if r.RateLimit == nil || r.RateLimit.GlobalRequestsPerMinute == 0 {
			continue
		}
		patches = append(patches, routePatch(r.Name, map[string]any{"route": map[string]any{"rate_limits": []any{map[string]any{
			"actions": []any{
				map[string]any{"generic_key": map[string]any{"descriptor_value": r.Name}},
				map[string]any{"remote_address": map[string]any{}},
			},
		}}}}))
	}
	return b.cr("-global-ratelimit", "networking.istio.io/v1alpha3", "EnvoyFilter", gatewayFilter(patches))
}

// apiKeys check service-to-service calls on routes with auth.apiKeys:
// the caller sends its name and key as HTTP Basic credentials, checked
// against SHA digests in a file mounted from the API-key Secret, whose
// entries External Secrets merges in from Vault (the program holds
// digests of no real key; the state records whatever the cluster's Secret
// holds when it is refreshed, encrypted). Envoy reads the file when the
// listener is built: after keys are stored or rotated, restart the ingress
// pods. Other routes switch the check off.
func (b *builder) apiKeys(routes []route) error {
	var keyed bool
	for _, r := range routes {
		keyed = keyed || (r.Auth != nil && r.Auth.APIKeys)
	}
	if !keyed {
		return nil
	}
	patches := []any{hcmFilter("envoy.filters.http.basic_auth", map[string]any{
		"@type":                   "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth",
		"users":                   map[string]any{"filename": APIKeysFile},
		"forward_username_header": APIClientHeader,
	})}
	for _, r := range routes {
		if r.Auth != nil && r.Auth.APIKeys {
			continue
		}
		patches = append(patches, routePatch(r.Name, map[string]any{"typed_per_filter_config": map[string]any{
			"envoy.filters.http.basic_auth": map[string]any{"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": true},
		}}))
	}
	return b.cr("-api-keys", "networking.istio.io/v1alpha3", "EnvoyFilter", gatewayFilter(patches))
}
