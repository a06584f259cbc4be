package gateway

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/policies"
)

func build(t *testing.T, src string, args Args) (graph.Graph, error) {
	t.Helper()
	d, err := Parse([]byte(src))
	require.NoError(t, err)
	args.Document = d
	return componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, "main", &args)
		return err
	})
}

func spec(t *testing.T, g graph.Graph, typ, name string) map[string]any {
	t.Helper()
	r, ok := g.Named(typ, name)
	require.True(t, ok, "%s %s", typ, name)
	return r.Inputs["spec"].(map[string]any)
}

var base = Args{Namespace: "istio-ingress", BackendNamespace: "cloudscale", Services: map[string]bool{"api-service": true}}

func TestGuideExampleBecomesIstioObjects(t *testing.T) {
	g, err := build(t, guideExample, base)
	require.NoError(t, err)
	gw := spec(t, g, "kubernetes:networking.istio.io/v1:Gateway", "main")
	server := gw["servers"].([]any)[0].(map[string]any)
	assert.Equal(t, map[string]any{"number": 443.0, "name": "https-443", "protocol": "HTTPS"}, server["port"])
	assert.Equal(t, map[string]any{"mode": "SIMPLE", "credentialName": "production-cert", "minProtocolVersion": "TLSV1_3"}, server["tls"])

	vs := spec(t, g, "kubernetes:networking.istio.io/v1:VirtualService", "main-routes")
	route := vs["http"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{map[string]any{"uri": map[string]any{"prefix": "/api/v1/"}}}, route["match"])
	assert.Equal(t, "api-service.cloudscale.svc.cluster.local", route["route"].([]any)[0].(map[string]any)["destination"].(map[string]any)["host"])

	dr := spec(t, g, "kubernetes:networking.istio.io/v1:DestinationRule", "main-backend-0")
	tp := dr["trafficPolicy"].(map[string]any)
	assert.Equal(t, "ISTIO_MUTUAL", tp["tls"].(map[string]any)["mode"])
	assert.Equal(t, 5.0, tp["outlierDetection"].(map[string]any)["consecutive5xxErrors"])
	_, hasJWT := g.Named("kubernetes:security.istio.io/v1:RequestAuthentication", "main-jwt")
	assert.False(t, hasJWT, "no route asks for tokens")

	e, err := policies.New()
	require.NoError(t, err)
	rep, err := e.Check(context.Background(), g, "prod")
	require.NoError(t, err)
	for _, f := range rep.Findings {
		if f.RuleID == "CS-ENC-008" {
			t.Errorf("%s: %s", f.RuleID, f.Message)
		}
	}
}

func TestHeaderRoutesRewritesAndTokens(t *testing.T) {
	src := guideExample + canaryRoute + `      rewrite:
        prefix: /v1/
      timeout: 5s
      auth:
        required: true
      circuitBreaker:
        maxConnections: 100
        consecutiveErrors: 3
        ejectionSeconds: 60
`
	_, err := build(t, src, base)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "an issuer and JWKS URI are required")

	args := base
	args.Issuer, args.JWKSURI = "https://id.example.com", "https://id.example.com/jwks"
	g, err := build(t, src, args)
	require.NoError(t, err)
	vs := spec(t, g, "kubernetes:networking.istio.io/v1:VirtualService", "main-routes")
	canary := vs["http"].([]any)[1].(map[string]any)
	assert.Equal(t, []any{map[string]any{"uri": map[string]any{"prefix": "/api/v1/"}, "headers": map[string]any{"x-canary": map[string]any{"exact": "true"}}}}, canary["match"])
	assert.Equal(t, map[string]any{"uri": "/v1/"}, canary["rewrite"])
	assert.Equal(t, "5s", canary["timeout"])

	ra := spec(t, g, "kubernetes:security.istio.io/v1:RequestAuthentication", "main-jwt")
	assert.Equal(t, "https://id.example.com", ra["jwtRules"].([]any)[0].(map[string]any)["issuer"])
	ap := spec(t, g, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "main-require-token")
	assert.Equal(t, "DENY", ap["action"])
	assert.Equal(t, []any{"/api/v1/*"}, ap["rules"].([]any)[0].(map[string]any)["to"].([]any)[0].(map[string]any)["operation"].(map[string]any)["paths"])
}

func TestBadDocumentRegistersNothing(t *testing.T) {
	g, err := build(t, guideExample, Args{Namespace: "istio-ingress", BackendNamespace: "cloudscale", Services: map[string]bool{"web": true}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `spec.routes[0].backend.service: "api-service" is not a service the platform defines; defined: web`)
	assert.Empty(t, g.Resources)
}
