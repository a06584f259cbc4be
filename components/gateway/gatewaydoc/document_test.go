package gatewaydoc

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// canaryRoute is a route on the example's path, told apart by a header.
const canaryRoute = `    - match:
        path: /api/v1/*
        headers:
          x-canary: "true"
      backend:
        service: api-service
        port: 8080
`

var doc = field.NewPath("doc")

func parse(t *testing.T, src string) *Document {
	t.Helper()
	d, errs := Parse([]byte(src), doc)
	require.Empty(t, errs)
	return d
}

func TestGuideExampleVerbatim(t *testing.T) {
	d := parse(t, GuideExample)
	require.Empty(t, d.Validate(doc, map[string]bool{"api-service": true}))
	assert.Equal(t, "main-gateway", d.Metadata.Name)
	assert.Equal(t, Listener{Port: 443, Protocol: "HTTPS", TLS: &TLS{Mode: "TERMINATE", CertificateRef: "production-cert"}}, d.Spec.Listeners[0])
	prefix, exact := d.Spec.Routes[0].Match.PathPrefix()
	assert.Equal(t, "/api/v1/", prefix)
	assert.False(t, exact)
	assert.Equal(t, Backend{Service: "api-service", Port: 8080}, d.Spec.Routes[0].Backend)
	assert.Equal(t, Needs{UserTokens: -1, GlobalLimits: -1, APIKeys: -1}, d.Needs())
}

func TestBadDocuments(t *testing.T) {
	services := map[string]bool{"api-service": true, "web": true}
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown apiVersion", "gateway.cloudscale.io/v1", "gateway.cloudscale.io/v2", `doc.apiVersion: Unsupported value: "gateway.cloudscale.io/v2": supported values: "gateway.cloudscale.io/v1"`},
		{"unknown kind", "kind: Gateway", "kind: Ingress", `doc.kind: Unsupported value: "Ingress": supported values: "Gateway"`},
		{"port out of range", "- port: 443", "- port: 70000", "doc.spec.listeners[0].port: Invalid value: 70000: out of range; allowed: 1 to 65535"},
		{"port not served", "- port: 443", "- port: 8443", "doc.spec.listeners[0].port: Invalid value: 8443: not served; the platform's load balancer and firewall admit HTTPS on 443 only"},
		{"shadowed route", "        port: 8080\n", "        port: 8080\n    - match:\n        path: /api/v1/orders\n        headers:\n          x-tenant: a\n      backend:\n        service: web\n        port: 80\n",
			`doc.spec.routes[1].match: Invalid value: "/api/v1/orders": never reached: doc.spec.routes[0] matches every request it does and comes first; put the more specific route first`},
		{"HTTPS without certificateRef", "        certificateRef: production-cert\n", "", "doc.spec.listeners[0].tls.certificateRef: Required value: for protocol HTTPS"},
		{"plain HTTP", "protocol: HTTPS", "protocol: HTTP", `doc.spec.listeners[0].protocol: Invalid value: "HTTP": plain HTTP is not served; use HTTPS with a certificateRef`},
		{"backend not defined", "service: api-service", "service: billing", `doc.spec.routes[0].backend.service: Unsupported value: "billing": supported values: "api-service", "web"`},
		{"backend port out of range", "port: 8080", "port: 0", "doc.spec.routes[0].backend.port: Invalid value: 0: out of range; allowed: 1 to 65535"},
		{"duplicate route", "        port: 8080\n", "        port: 8080\n    - match:\n        path: /api/v1/*\n      backend:\n        service: web\n        port: 80\n",
			`doc.spec.routes[1].match: Invalid value: "/api/v1/*": duplicates doc.spec.routes[0] (same path and headers)`},
		{"negative global limit", "        port: 8080\n", "        port: 8080\n      rateLimit:\n        requestsPerSecond: 10\n        globalRequestsPerMinute: -1\n",
			"doc.spec.routes[0].rateLimit: Invalid value: {\"requestsPerSecond\":10,\"globalRequestsPerMinute\":-1}: requestsPerSecond must be at least 1, burst and globalRequestsPerMinute not negative"},
		{"token and api key", "        port: 8080\n", "        port: 8080\n      auth:\n        required: true\n        apiKeys: true\n",
			"doc.spec.routes[0].auth: Invalid value: {\"required\":true,\"apiKeys\":true}: required (a user token) and apiKeys (a service's key) exclude each other; pick one"},
		{"unknown field", "  routes:", "  rutes: []\n  routes:", `doc.spec.rutes: Unsupported value: unknown key (did you mean "routes"?); allowed: listeners, routes`},
		{"unknown nested field", "        port: 8080\n", "        port: 8080\n        weight: 5\n", `doc.spec.routes[0].backend.weight: Unsupported value: unknown key; allowed: service, port`},
		{"wrong type", "- port: 443", "- port: https", `doc.spec.listeners.port: Invalid value: string where an integer is expected`},
		{"invalid YAML", "  routes:", "  routes: [", `doc: Invalid value: invalid YAML`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(GuideExample, tc.from, tc.to, 1)
			require.NotEqual(t, GuideExample, src, "the case changes the document")
			d, errs := Parse([]byte(src), doc)
			if len(errs) == 0 {
				errs = d.Validate(doc, services)
			}
			require.NotEmpty(t, errs)
			assert.Contains(t, errs.ToAggregate().Error(), tc.want)
		})
	}
}

func TestHeaderMatchesMakeRoutesDistinct(t *testing.T) {
	// The header route first: both are reachable.
	d := parse(t, strings.Replace(GuideExample, "  routes:\n", "  routes:\n"+canaryRoute, 1))
	assert.Empty(t, d.Validate(doc, map[string]bool{"api-service": true}), "same path, different headers")
	// After the route without headers it would never be reached.
	d = parse(t, GuideExample+canaryRoute)
	assert.EqualError(t, d.Validate(doc, map[string]bool{"api-service": true}).ToAggregate(),
		`doc.spec.routes[1].match: Invalid value: "/api/v1/*": never reached: doc.spec.routes[0] matches every request it does and comes first; put the more specific route first`)
}

func TestNeeds(t *testing.T) {
	d := parse(t, GuideExample+`    - match:
        path: /me
      backend: {service: api-service, port: 8080}
      auth: {required: true}
    - match:
        path: /internal/*
      backend: {service: api-service, port: 8080}
      auth: {apiKeys: true}
      rateLimit: {requestsPerSecond: 5, globalRequestsPerMinute: 60}
`)
	assert.Equal(t, Needs{UserTokens: 1, GlobalLimits: 2, APIKeys: 2}, d.Needs())
}
