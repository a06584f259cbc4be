package gatewaydoc

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestGuideExampleVerbatim(t *testing.T) {
	d, err := Parse([]byte(GuideExample))
	require.NoError(t, err)
	require.NoError(t, d.Validate(map[string]bool{"api-service": true}))
	assert.Equal(t, "main-gateway", d.Metadata.Name)
	assert.Equal(t, Listener{Port: 443, Protocol: "HTTPS", TLS: &TLS{Mode: "TERMINATE", CertificateRef: "production-cert"}}, d.Spec.Listeners[0])
	prefix, exact := d.Spec.Routes[0].Match.PathPrefix()
	assert.Equal(t, "/api/v1/", prefix)
	assert.False(t, exact)
	assert.Equal(t, Backend{Service: "api-service", Port: 8080}, d.Spec.Routes[0].Backend)
}

func TestBadDocuments(t *testing.T) {
	services := map[string]bool{"api-service": true, "web": true}
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown apiVersion", "gateway.cloudscale.io/v1", "gateway.cloudscale.io/v2", `apiVersion: "gateway.cloudscale.io/v2" is not supported; want gateway.cloudscale.io/v1`},
		{"unknown kind", "kind: Gateway", "kind: Ingress", `kind: "Ingress" is not supported; want Gateway`},
		{"port out of range", "- port: 443", "- port: 70000", "spec.listeners[0].port: 70000 is out of range; allowed: 1 to 65535"},
		{"port not served", "- port: 443", "- port: 8443", "spec.listeners[0].port: 8443 is not served; the platform's load balancer and firewall admit HTTPS on 443 only"},
		{"shadowed route", "        port: 8080\n", "        port: 8080\n    - match:\n        path: /api/v1/orders\n        headers:\n          x-tenant: a\n      backend:\n        service: web\n        port: 80\n",
			"spec.routes[1].match: is never reached: spec.routes[0] matches every request it does and comes first; put the more specific route first"},
		{"HTTPS without certificateRef", "        certificateRef: production-cert\n", "", "spec.listeners[0].tls.certificateRef: required for protocol HTTPS"},
		{"plain HTTP", "protocol: HTTPS", "protocol: HTTP", "spec.listeners[0].protocol: plain HTTP is not served; use HTTPS with a certificateRef"},
		{"backend not defined", "service: api-service", "service: billing", `spec.routes[0].backend.service: "billing" is not a service the platform defines; defined: api-service, web`},
		{"backend port out of range", "port: 8080", "port: 0", "spec.routes[0].backend.port: 0 is out of range; allowed: 1 to 65535"},
		{"duplicate route", "        port: 8080\n", "        port: 8080\n    - match:\n        path: /api/v1/*\n      backend:\n        service: web\n        port: 80\n", "spec.routes[1].match: duplicates spec.routes[0] (same path and headers)"},
		{"negative global limit", "        port: 8080\n", "        port: 8080\n      rateLimit:\n        requestsPerSecond: 10\n        globalRequestsPerMinute: -1\n", "spec.routes[0].rateLimit: requestsPerSecond must be at least 1, burst and globalRequestsPerMinute not negative"},
		{"token and api key", "        port: 8080\n", "        port: 8080\n      auth:\n        required: true\n        apiKeys: true\n", "spec.routes[0].auth: required (a user token) and apiKeys (a service's key) exclude each other; pick one"},
		{"unknown field", "  routes:", "  rutes: []\n  routes:", `unknown field "rutes"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(GuideExample, tc.from, tc.to, 1)
			require.NotEqual(t, GuideExample, src, "the case changes the document")
			d, err := Parse([]byte(src))
			if err == nil {
				err = d.Validate(services)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestHeaderMatchesMakeRoutesDistinct(t *testing.T) {
	// The header route first: both are reachable.
	src := strings.Replace(GuideExample, "  routes:\n", "  routes:\n"+canaryRoute, 1)
	d, err := Parse([]byte(src))
	require.NoError(t, err)
	assert.NoError(t, d.Validate(map[string]bool{"api-service": true}), "same path, different headers")
	// After the route without headers it would never be reached.
	d, err = Parse([]byte(GuideExample + canaryRoute))
	require.NoError(t, err)
	assert.EqualError(t, d.Validate(map[string]bool{"api-service": true}),
		"spec.routes[1].match: is never reached: spec.routes[0] matches every request it does and comes first; put the more specific route first")
}
