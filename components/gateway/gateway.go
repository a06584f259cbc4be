package gateway

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// IngressSelector selects the Istio ingress gateway pods the Gateway
// configures.
var IngressSelector = map[string]any{"istio": "ingressgateway"}

// Args say where the gateway's Istio objects go and how tokens are checked.
type Args struct {
	Document *Document
	// Services the routes may name (the platform's own); nil skips the check.
	Services map[string]bool
	// Namespace of the ingress gateway; BackendNamespace of the services.
	Namespace, BackendNamespace string
	// Issuer and JWKSURI validate tokens on routes with auth.required.
	Issuer, JWKSURI string
}

// Gateway is the ingress built from the document.
type Gateway struct {
	pulumi.ResourceState

	Name pulumi.StringOutput
}

// New validates the document, then registers the Istio Gateway (443,
// TLS 1.3 minimum, the referenced certificate), one VirtualService routing
// by path and headers with rewrites, header changes and timeouts, a
// DestinationRule per backend with connection limits and outlier ejection,
// and token validation for protected routes.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Gateway, error) {
	if args == nil || args.Document == nil {
		return nil, fmt.Errorf("gateway %s: a Gateway document is required", name)
	}
	if err := args.Document.Validate(args.Services); err != nil {
		return nil, fmt.Errorf("gateway %s: %w", name, err)
	}
	if args.Namespace == "" || args.BackendNamespace == "" {
		return nil, fmt.Errorf("gateway %s: namespace and backend namespace are required", name)
	}
	g := &Gateway{}
	if err := ctx.RegisterComponentResource("cloudscale:gateway:Gateway", name, g, opts...); err != nil {
		return nil, err
	}
	d := args.Document
	cr := func(suffix, apiVersion, kind, ns string, spec map[string]any) error {
		_, err := apiextensions.NewCustomResource(ctx, name+suffix, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(apiVersion),
			Kind:        pulumi.String(kind),
			Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(d.Metadata.Name + suffix), Namespace: pulumi.String(ns)},
			OtherFields: kubernetes.UntypedArgs{"spec": spec},
		}, pulumi.Parent(g))
		return err
	}

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
	if err := cr("", "networking.istio.io/v1", "Gateway", args.Namespace, map[string]any{"selector": IngressSelector, "servers": servers}); err != nil {
		return nil, err
	}

	var routes []any
	backends := map[string]Route{}
	var protected []any
	for _, r := range d.Spec.Routes {
		host := fmt.Sprintf("%s.%s.svc.cluster.local", r.Backend.Service, args.BackendNamespace)
		prefix, exact := r.Match.PathPrefix()
		uri := map[string]any{"prefix": prefix}
		if exact {
			uri = map[string]any{"exact": prefix}
		}
		match := map[string]any{"uri": uri}
		if len(r.Match.Headers) > 0 {
			h := map[string]any{}
			for k, v := range r.Match.Headers {
				h[k] = map[string]any{"exact": v}
			}
			match["headers"] = h
		}
		route := map[string]any{
			"match": []any{match},
			"route": []any{map[string]any{"destination": map[string]any{"host": host, "port": map[string]any{"number": r.Backend.Port}}}},
		}
		if r.Rewrite != nil {
			route["rewrite"] = map[string]any{"uri": r.Rewrite.Prefix}
		}
		if r.Timeout != "" {
			route["timeout"] = r.Timeout
		}
		if r.Headers != nil {
			h := map[string]any{}
			for side, ops := range map[string]*HeaderOps{"request": r.Headers.Request, "response": r.Headers.Response} {
				if ops != nil {
					h[side] = map[string]any{"set": ops.Set, "remove": ops.Remove}
				}
			}
			route["headers"] = h
		}
		routes = append(routes, route)
		backends[host] = r
		if r.Auth != nil && r.Auth.Required {
			protected = append(protected, prefix+map[bool]string{true: "", false: "*"}[exact])
		}
	}
	if err := cr("-routes", "networking.istio.io/v1", "VirtualService", args.Namespace, map[string]any{
		"hosts": []any{"*"}, "gateways": []any{args.Namespace + "/" + d.Metadata.Name}, "http": routes,
	}); err != nil {
		return nil, err
	}
	i := 0
	for _, host := range sortedHosts(backends) {
		cb := backends[host].CircuitBreaker
		if cb == nil {
			cb = &CircuitBreaker{MaxConnections: 1000, ConsecutiveErrors: 5, EjectionSeconds: 30}
		}
		if err := cr(fmt.Sprintf("-backend-%d", i), "networking.istio.io/v1", "DestinationRule", args.Namespace, map[string]any{
			"host": host,
			"trafficPolicy": map[string]any{
				"tls":            map[string]any{"mode": "ISTIO_MUTUAL"},
				"connectionPool": map[string]any{"tcp": map[string]any{"maxConnections": cb.MaxConnections}},
				"outlierDetection": map[string]any{
					"consecutive5xxErrors": cb.ConsecutiveErrors, "interval": "10s",
					"baseEjectionTime": fmt.Sprintf("%ds", cb.EjectionSeconds), "maxEjectionPercent": 50,
				},
			},
		}); err != nil {
			return nil, err
		}
		i++
	}
	if len(protected) > 0 {
		if args.Issuer == "" || args.JWKSURI == "" {
			return nil, fmt.Errorf("gateway %s: routes require tokens, so an issuer and JWKS URI are required", name)
		}
		if err := cr("-jwt", "security.istio.io/v1", "RequestAuthentication", args.Namespace, map[string]any{
			"selector": map[string]any{"matchLabels": IngressSelector},
			"jwtRules": []any{map[string]any{"issuer": args.Issuer, "jwksUri": args.JWKSURI, "forwardOriginalToken": false}},
		}); err != nil {
			return nil, err
		}
		if err := cr("-require-token", "security.istio.io/v1", "AuthorizationPolicy", args.Namespace, map[string]any{
			"selector": map[string]any{"matchLabels": IngressSelector},
			"action":   "DENY",
			"rules": []any{map[string]any{
				"from": []any{map[string]any{"source": map[string]any{"notRequestPrincipals": []any{"*"}}}},
				"to":   []any{map[string]any{"operation": map[string]any{"paths": protected}}},
			}},
		}); err != nil {
			return nil, err
		}
	}
	g.Name = pulumi.String(d.Metadata.Name).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{"name": g.Name}); err != nil {
		return nil, err
	}
	return g, nil
}

func sortedHosts(m map[string]Route) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
