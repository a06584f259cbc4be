package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/policies"
)

func build(t *testing.T, src string, args Args) (graph.Graph, error) {
	t.Helper()
	d, err := gatewaydoc.Parse([]byte(src))
	require.NoError(t, err)
	args.Document = d
	return componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, "main", &args)
		return err
	})
}

func base() Args {
	return Args{
		Namespace: "istio-ingress", BackendNamespace: "cloudscale", Services: map[string]bool{"api-service": true},
		Production: true, MinReplicas: 3, MaxReplicas: 10,
		Resources:   workload.Resources{RequestCPU: "500m", RequestMemory: "512Mi", LimitCPU: "2", LimitMemory: "1Gi"},
		ServiceType: "LoadBalancer", SourceRanges: []string{"0.0.0.0/0"},
		Sidecar: workload.Sidecar{
			ControlPlane: workload.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "istio-system"}, PodLabels: map[string]string{"app": "istiod"}, Ports: []int{15012}},
			Tracing:      workload.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, PodLabels: map[string]string{"app.kubernetes.io/name": "jaeger"}, Ports: []int{4317}},
			Metrics:      workload.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, PodLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}, Ports: []int{15020, 15090}},
		},
	}
}

const (
	envoyFilter = "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter"
	deployment  = "kubernetes:apps/v1:Deployment"
)

func TestGuideExampleBecomesIstioObjects(t *testing.T) {
	g, err := build(t, gatewaydoc.GuideExample, base())
	require.NoError(t, err)
	gw := componenttest.Spec(t, g, "kubernetes:networking.istio.io/v1:Gateway", "main")
	server := gw["servers"].([]any)[0].(map[string]any)
	assert.Equal(t, map[string]any{"number": 443.0, "name": "https-443", "protocol": "HTTPS"}, server["port"])
	assert.Equal(t, map[string]any{"mode": "SIMPLE", "credentialName": "production-cert", "minProtocolVersion": "TLSV1_3"}, server["tls"])

	vs := componenttest.Spec(t, g, "kubernetes:networking.istio.io/v1:VirtualService", "main-routes")
	route := vs["http"].([]any)[0].(map[string]any)
	assert.Equal(t, "route-0", route["name"])
	assert.Equal(t, []any{map[string]any{"uri": map[string]any{"prefix": "/api/v1/"}}}, route["match"])
	assert.Equal(t, "api-service.cloudscale.svc.cluster.local", route["route"].([]any)[0].(map[string]any)["destination"].(map[string]any)["host"])
	assert.Equal(t, []any{"istio-ingress/main-gateway"}, vs["gateways"])
	assert.Equal(t, map[string]any{"remove": []any{APIClientHeader}}, route["headers"].(map[string]any)["request"],
		"a client cannot pose as a keyed caller, even where no route is keyed")

	for _, absent := range [][2]string{
		{"kubernetes:security.istio.io/v1:RequestAuthentication", "main-jwt"},
		{envoyFilter, "main-local-ratelimit"}, {envoyFilter, "main-global-ratelimit"}, {envoyFilter, "main-api-keys"},
		{deployment, "ratelimit"},
	} {
		_, has := g.Named(absent[0], absent[1])
		assert.False(t, has, "the example asks for no %s %s", absent[0], absent[1])
	}

	// The ingress pods: 3+ replicas with an HPA and a PDB, gateway
	// injection, HTTPS on 8443 behind the Service's 443, the firewall.
	dep, ok := g.Named(deployment, IngressName)
	require.True(t, ok)
	tpl := dep.Inputs["spec"].(map[string]any)["template"].(map[string]any)
	assert.Equal(t, "ingressgateway", tpl["metadata"].(map[string]any)["labels"].(map[string]any)["istio"])
	assert.Equal(t, "gateway", tpl["metadata"].(map[string]any)["annotations"].(map[string]any)["inject.istio.io/templates"])
	assert.Equal(t, 3.0, dep.Inputs["spec"].(map[string]any)["replicas"])
	hpa := componenttest.Spec(t, g, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", IngressName)
	assert.Equal(t, 3.0, hpa["minReplicas"])
	assert.Equal(t, 10.0, hpa["maxReplicas"])
	assert.Equal(t, 1.0, componenttest.Spec(t, g, "kubernetes:policy/v1:PodDisruptionBudget", IngressName)["maxUnavailable"])
	svc, _ := g.Named("kubernetes:core/v1:Service", IngressName)
	ss := svc.Inputs["spec"].(map[string]any)
	assert.Equal(t, "LoadBalancer", ss["type"])
	assert.Equal(t, []any{"0.0.0.0/0"}, ss["loadBalancerSourceRanges"])
	assert.Equal(t, map[string]any{"name": "https", "port": 443.0, "targetPort": 8443.0}, ss["ports"].([]any)[1])
	assert.Equal(t, "gateway", svc.Inputs["metadata"].(map[string]any)["labels"].(map[string]any)["cloudscale.io/role"])

	// istiod hands the certificate only to a proxy that may read it.
	role, ok := g.Named("kubernetes:rbac.authorization.k8s.io/v1:Role", "main-certificates")
	require.True(t, ok)
	assert.Equal(t, []any{"secrets"}, role.Inputs["rules"].([]any)[0].(map[string]any)["resources"])
	binding, ok := g.Named("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "main-certificates")
	require.True(t, ok)
	assert.Equal(t, IngressName, binding.Inputs["subjects"].([]any)[0].(map[string]any)["name"])

	// Everything the gateway writes passes the gate in prod.
	e, err := policies.New()
	require.NoError(t, err)
	rep, err := e.Check(context.Background(), g, "prod")
	require.NoError(t, err)
	for _, f := range rep.Findings {
		// Two rules ask the stack for what other tiers write: mesh-wide mTLS
		// (CS-ENC-012, the mesh) and namespace default-deny (CS-NET-004, the
		// baseline); the stacks' tests check them.
		if f.Enforcement == "mandatory" && f.RuleID != "CS-ENC-012" && f.RuleID != "CS-NET-004" {
			t.Errorf("%s: %s", f.RuleID, f.Message)
		}
	}
}

// canaryRoute is a route on the example's path told apart by a header;
// it goes before the example's route (see first).
const canaryRoute = `    - match:
        path: /api/v1/*
        headers:
          x-canary: "true"
      backend:
        service: api-service
        port: 8080
`

func TestHeaderRoutesRewritesAndTokens(t *testing.T) {
	src := first(canaryRoute + `      rewrite:
        prefix: /v1/
      timeout: 5s
      auth:
        required: true
      headers:
        request:
          set: {x-cloudscale-route: canary}
        response:
          remove: [server]
`)
	_, err := build(t, src, base())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "an issuer and JWKS URI are required")

	args := base()
	args.Issuer, args.JWKSURI = "https://id.example.com", "https://id.example.com/jwks"
	g, err := build(t, src, args)
	require.NoError(t, err)
	vs := componenttest.Spec(t, g, "kubernetes:networking.istio.io/v1:VirtualService", "main-routes")
	canary := vs["http"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{map[string]any{"uri": map[string]any{"prefix": "/api/v1/"}, "headers": map[string]any{"x-canary": map[string]any{"exact": "true"}}}}, canary["match"])
	assert.Equal(t, map[string]any{"uri": "/v1/"}, canary["rewrite"])
	assert.Equal(t, "5s", canary["timeout"])
	assert.Equal(t, map[string]any{"x-cloudscale-route": "canary"}, canary["headers"].(map[string]any)["request"].(map[string]any)["set"])
	assert.Equal(t, []any{"server"}, canary["headers"].(map[string]any)["response"].(map[string]any)["remove"])

	ra := componenttest.Spec(t, g, "kubernetes:security.istio.io/v1:RequestAuthentication", "main-jwt")
	assert.Equal(t, "https://id.example.com", ra["jwtRules"].([]any)[0].(map[string]any)["issuer"])
	ap := componenttest.Spec(t, g, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "main-require-token")
	assert.Equal(t, "DENY", ap["action"])
	assert.Equal(t, []any{"/api/v1/*"}, ap["rules"].([]any)[0].(map[string]any)["to"].([]any)[0].(map[string]any)["operation"].(map[string]any)["paths"])
}

func TestCanaryWeightsSplitTheRoute(t *testing.T) {
	args := base()
	args.Canaries = map[string]int{"api-service": 10}
	g, err := build(t, gatewaydoc.GuideExample, args)
	require.NoError(t, err)
	vs := componenttest.Spec(t, g, "kubernetes:networking.istio.io/v1:VirtualService", "main-routes")
	dests := vs["http"].([]any)[0].(map[string]any)["route"].([]any)
	require.Len(t, dests, 2)
	assert.Equal(t, "stable", dests[0].(map[string]any)["destination"].(map[string]any)["subset"])
	assert.Equal(t, 90.0, dests[0].(map[string]any)["weight"])
	assert.Equal(t, "canary", dests[1].(map[string]any)["destination"].(map[string]any)["subset"])
	assert.Equal(t, 10.0, dests[1].(map[string]any)["weight"])
}

const limitedRoute = `    - match:
        path: /api/v1/orders
      backend:
        service: api-service
        port: 8080
      rateLimit:
        requestsPerSecond: 50
        burst: 100
        globalRequestsPerMinute: 600
    - match:
        path: /internal/*
      backend:
        service: api-service
        port: 8080
      auth:
        apiKeys: true
`

// first puts routes before the guide example's catch-all /api/v1/* route.
func first(routes string) string {
	return strings.Replace(gatewaydoc.GuideExample, "  routes:\n", "  routes:\n"+routes, 1)
}

func TestRateLimitsAndAPIKeys(t *testing.T) {
	src := first(limitedRoute)
	_, err := build(t, src, base())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a Redis for the counters is required")
	assert.Contains(t, err.Error(), "an API-key Secret is required")

	args := base()
	args.Counters = &Counters{Type: "SENTINEL", URL: "mymaster,redis-sentinel.cloudscale:26379",
		PodLabels: map[string]string{"app.kubernetes.io/name": "redis"}, NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "cloudscale"}, Ports: []int{6379, 26379}}
	args.APIKeysSecret = "gateway-api-keys"
	g, err := build(t, src, args)
	require.NoError(t, err)

	// Local: a token bucket on route-0 only.
	local := componenttest.Spec(t, g, envoyFilter, "main-local-ratelimit")
	patches := local["configPatches"].([]any)
	require.Len(t, patches, 2)
	assert.Equal(t, "HTTP_FILTER", patches[0].(map[string]any)["applyTo"])
	rp := patches[1].(map[string]any)
	assert.Equal(t, "route-0", rp["match"].(map[string]any)["routeConfiguration"].(map[string]any)["vhost"].(map[string]any)["route"].(map[string]any)["name"])
	bucket := rp["patch"].(map[string]any)["value"].(map[string]any)["typed_per_filter_config"].(map[string]any)["envoy.filters.http.local_ratelimit"].(map[string]any)["value"].(map[string]any)["token_bucket"]
	assert.Equal(t, map[string]any{"max_tokens": 100.0, "tokens_per_fill": 50.0, "fill_interval": "1s"}, bucket)

	// Global: the service's config counts route-0 per client per minute.
	cm, ok := g.Named("kubernetes:core/v1:ConfigMap", "main-ratelimit")
	require.True(t, ok)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cm.Inputs["data"].(map[string]any)["config.yaml"].(string)), &cfg))
	assert.Equal(t, RateLimitScope, cfg["domain"])
	d := cfg["descriptors"].([]any)[0].(map[string]any)
	assert.Equal(t, "route-0", d["value"])
	assert.Equal(t, map[string]any{"unit": "minute", "requests_per_unit": 600.0}, d["descriptors"].([]any)[0].(map[string]any)["rate_limit"])
	rl, ok := g.Named(deployment, RateLimitName)
	require.True(t, ok)
	env := rl.Inputs["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["env"].([]any)
	assert.Contains(t, env, map[string]any{"name": "REDIS_URL", "value": "mymaster,redis-sentinel.cloudscale:26379"})
	global := componenttest.Spec(t, g, envoyFilter, "main-global-ratelimit")
	filter := global["configPatches"].([]any)[0].(map[string]any)["patch"].(map[string]any)["value"].(map[string]any)["typed_config"].(map[string]any)
	assert.Equal(t, false, filter["failure_mode_deny"], "the gateway fails open; local limits still hold")

	// API keys: checked from the mounted file, switched off on the other routes.
	keys := componenttest.Spec(t, g, envoyFilter, "main-api-keys")
	kp := keys["configPatches"].([]any)
	assert.Equal(t, map[string]any{"filename": APIKeysFile}, kp[0].(map[string]any)["patch"].(map[string]any)["value"].(map[string]any)["typed_config"].(map[string]any)["users"])
	require.Len(t, kp, 3, "the filter plus route-0 and route-2 switched off")
	ing, _ := g.Named(deployment, IngressName)
	vols := ing.Inputs["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["volumes"].([]any)
	assert.Contains(t, vols, map[string]any{"name": "api-keys", "secret": map[string]any{"secretName": "gateway-api-keys"}})
	// Until Vault's keys arrive the file exists with an entry no key matches
	// (Envoy refuses a listener whose key file is missing).
	placeholder, ok := g.Named("kubernetes:core/v1:Secret", "main-api-keys")
	require.True(t, ok)
	data, isSecret := placeholder.Inputs["stringData"].(*resource.Secret)
	require.True(t, isSecret, "Secret data is a Pulumi secret")
	assert.Equal(t, NoAPIKeys, data.Element.ObjectValue()[APIKeysProperty].StringValue())
	// The keyed route does not pass the key on; the others drop a client
	// header a caller might send to pose as a keyed service.
	http := componenttest.Spec(t, g, "kubernetes:networking.istio.io/v1:VirtualService", "main-routes")["http"].([]any)
	assert.Equal(t, []any{APIClientHeader}, http[0].(map[string]any)["headers"].(map[string]any)["request"].(map[string]any)["remove"])
	assert.Equal(t, []any{"authorization"}, http[1].(map[string]any)["headers"].(map[string]any)["request"].(map[string]any)["remove"])
	assert.Equal(t, []any{APIClientHeader}, http[2].(map[string]any)["headers"].(map[string]any)["request"].(map[string]any)["remove"])
	// Only the ingress pods may ask the rate-limit service.
	callers := componenttest.Spec(t, g, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "main-ratelimit-callers")
	assert.Equal(t, []any{"cluster.local/ns/istio-ingress/sa/ingress-gateway"},
		callers["rules"].([]any)[0].(map[string]any)["from"].([]any)[0].(map[string]any)["source"].(map[string]any)["principals"])
}

func TestBadArgs(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Args)
		want string
	}{
		{"service not defined", func(a *Args) { a.Services = map[string]bool{"web": true} },
			`spec.routes[0].backend.service: "api-service" is not a service the platform defines; defined: web`},
		{"too few replicas in prod", func(a *Args) { a.MinReplicas = 2 }, "replicas 2-10: at least 1 (3 in production)"},
		{"load balancer without firewall", func(a *Args) { a.SourceRanges = nil }, "a LoadBalancer service needs source ranges"},
		{"no control plane", func(a *Args) { a.Sidecar = workload.Sidecar{} }, "the mesh's control plane (Sidecar.ControlPlane) is required"},
		// The workload helper's own checks of the pods run before anything is registered.
		{"pods without limits", func(a *Args) { a.Resources = workload.Resources{} }, "workload ingress-gateway: requests and limits for cpu and memory are required"},
		{"scraper without selector", func(a *Args) { a.Sidecar.Metrics = workload.Peer{Ports: []int{15020}} }, "workload ingress-gateway: sidecar metrics peer needs ports and a selector"},
		{"canary weight", func(a *Args) { a.Canaries = map[string]int{"api-service": 101} }, "canary weight of api-service: 101 is not a percentage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := base()
			tc.edit(&args)
			g, err := build(t, gatewaydoc.GuideExample, args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, g.Resources, "nothing is registered")
		})
	}
}

func TestRateLimitPodsAreCheckedFirst(t *testing.T) {
	args := base()
	args.Counters = &Counters{Type: "SINGLE", URL: "redis.cloudscale:6379",
		PodLabels: map[string]string{"app.kubernetes.io/name": "redis"}, NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "cloudscale"}, Ports: []int{6379}}
	args.MinReplicas = 3
	args.Resources.LimitMemory = "" // both workloads need limits; the rate-limit one is reported too
	g, err := build(t, first(`    - match:
        path: /api/v1/orders
      backend:
        service: api-service
        port: 8080
      rateLimit:
        requestsPerSecond: 5
        globalRequestsPerMinute: 60
`), args)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "workload ratelimit: requests and limits for cpu and memory are required")
	assert.Empty(t, g.Resources)
}
