package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/policies"
)

func build(t *testing.T, src string, args Args) (graph.Graph, error) {
	t.Helper()
	d, errs := gatewaydoc.Parse([]byte(src), field.NewPath("document"))
	require.Empty(t, errs)
	args.Document = d
	return componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, "main", &args)
		return err
	})
}

func base() Args {
	return Args{
		Namespace: "istio-ingress", BackendNamespace: "cloudscale", Services: map[string]bool{"api-service": true},
		Hosts: []string{"api.example.com"}, Production: true, MinReplicas: 3, MaxReplicas: 10,
		Resources:   workload.Resources{RequestCPU: "500m", RequestMemory: "512Mi", LimitCPU: "2", LimitMemory: "1Gi"},
		ServiceType: "LoadBalancer", SourceRanges: []string{"0.0.0.0/0"},
		Sidecar: contract.Sidecar{
			ControlPlane: contract.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "istio-system"}, PodLabels: map[string]string{"app": "istiod"}, Ports: []int{15012}},
			Tracing:      contract.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, PodLabels: map[string]string{"app.kubernetes.io/name": "jaeger"}, Ports: []int{4317}},
			Metrics:      contract.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, PodLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}, Ports: []int{15020, 15090}},
		},
	}
}

const (
	envoyFilterType    = "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter"
	virtualServiceType = "kubernetes:networking.istio.io/v1:VirtualService"
	authzType          = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
	deploymentType     = "kubernetes:apps/v1:Deployment"
)

// envoyValue decodes an EnvoyFilter patch's value into Envoy's own type.
func envoyValue[T any, M interface {
	*T
	proto.Message
}](t *testing.T, p *networkingapi.EnvoyFilter_EnvoyConfigObjectPatch) M {
	t.Helper()
	js, err := protojson.Marshal(p.GetPatch().GetValue())
	require.NoError(t, err)
	m := M(new(T))
	require.NoError(t, protojson.Unmarshal(js, m), "the patch is Envoy's %T", m)
	return m
}

// typedConfig unpacks an Any into Envoy's own type.
func typedConfig[T any, M interface {
	*T
	proto.Message
}](t *testing.T, a interface{ UnmarshalTo(proto.Message) error }) M {
	t.Helper()
	m := M(new(T))
	require.NoError(t, a.UnmarshalTo(m))
	return m
}

func routes(t *testing.T, g graph.Graph) []*networkingapi.HTTPRoute {
	t.Helper()
	return componenttest.Object[networkingv1.VirtualService](t, g, virtualServiceType, "main-routes").Spec.Http
}

func TestGuideExampleBecomesIstioObjects(t *testing.T) {
	g, err := build(t, gatewaydoc.GuideExample, base())
	require.NoError(t, err)
	server := componenttest.Object[networkingv1.Gateway](t, g, "kubernetes:networking.istio.io/v1:Gateway", "main").Spec.Servers[0]
	assert.Equal(t, uint32(443), server.GetPort().GetNumber())
	assert.Equal(t, "HTTPS", server.GetPort().GetProtocol())
	assert.Equal(t, networkingapi.ServerTLSSettings_SIMPLE, server.GetTls().GetMode())
	assert.Equal(t, "production-cert", server.GetTls().GetCredentialName())
	assert.Equal(t, networkingapi.ServerTLSSettings_TLSV1_3, server.GetTls().GetMinProtocolVersion())

	vs := componenttest.Object[networkingv1.VirtualService](t, g, virtualServiceType, "main-routes")
	route := vs.Spec.Http[0]
	assert.Equal(t, "route-0", route.GetName())
	assert.Equal(t, "/api/v1/", route.Match[0].GetUri().GetPrefix())
	assert.Equal(t, "api-service.cloudscale.svc.cluster.local", route.Route[0].GetDestination().GetHost())
	assert.Equal(t, []string{"istio-ingress/main-gateway"}, vs.Spec.Gateways)
	assert.Equal(t, []string{APIClientHeader, SubjectHeader}, route.GetHeaders().GetRequest().GetRemove(),
		"a client cannot pose as a keyed caller, even where no route is keyed, nor as a user where no token is required")

	for _, absent := range [][2]string{
		{"kubernetes:security.istio.io/v1:RequestAuthentication", "main-jwt"},
		{envoyFilterType, "main-local-ratelimit"}, {envoyFilterType, "main-global-ratelimit"}, {envoyFilterType, "main-api-keys"},
		{deploymentType, "ratelimit"}, {"kubernetes:core/v1:Secret", "main-api-keys"},
	} {
		_, has := g.Named(absent[0], absent[1])
		assert.False(t, has, "the example asks for no %s %s", absent[0], absent[1])
	}

	// The ingress pods: 3+ replicas with an HPA and a PDB, gateway
	// injection, HTTPS on 8443 behind the Service's 443, the firewall.
	dep := componenttest.Object[appsv1.Deployment](t, g, deploymentType, IngressName)
	assert.Equal(t, "ingressgateway", dep.Spec.Template.Labels["istio"])
	assert.Equal(t, "gateway", dep.Spec.Template.Annotations["inject.istio.io/templates"])
	assert.Equal(t, int32(3), *dep.Spec.Replicas)
	hpa := componenttest.Object[autoscalingv2.HorizontalPodAutoscaler](t, g, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", IngressName)
	assert.Equal(t, int32(3), *hpa.Spec.MinReplicas)
	assert.Equal(t, int32(10), hpa.Spec.MaxReplicas)
	pdb := componenttest.Object[policyv1.PodDisruptionBudget](t, g, "kubernetes:policy/v1:PodDisruptionBudget", IngressName)
	assert.Equal(t, intstr.FromInt32(1), *pdb.Spec.MaxUnavailable)
	svc := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", IngressName)
	assert.Equal(t, corev1.ServiceTypeLoadBalancer, svc.Spec.Type)
	assert.Equal(t, []string{"0.0.0.0/0"}, svc.Spec.LoadBalancerSourceRanges)
	assert.Equal(t, corev1.ServicePort{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}, svc.Spec.Ports[1])
	assert.Equal(t, "gateway", svc.Labels["cloudscale.io/role"])

	// istiod hands the certificate only to a proxy that may read it.
	role := componenttest.Object[rbacv1.Role](t, g, "kubernetes:rbac.authorization.k8s.io/v1:Role", "main-certificates")
	assert.Equal(t, []string{"secrets"}, role.Rules[0].Resources)
	binding := componenttest.Object[rbacv1.RoleBinding](t, g, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "main-certificates")
	assert.Equal(t, IngressName, binding.Subjects[0].Name)

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

func TestContractWithTheOtherTiers(t *testing.T) {
	args := base()
	d, errs := gatewaydoc.Parse([]byte(first(limitedRoute)), field.NewPath("document"))
	require.Empty(t, errs)
	args.Document = d
	assert.Equal(t, []contract.Certificate{{Name: "production-cert", Namespace: "istio-ingress", DNSNames: []string{"api.example.com"}, Public: true}}, args.Certificates())
	assert.Equal(t, []contract.VaultSecret{{Name: APIKeysSecret, Namespace: "istio-ingress", VaultPath: APIKeysVaultPath,
		Keys: map[string]string{APIKeysProperty: APIKeysProperty}, Merge: true}}, args.VaultSecrets(), "keys merged into the gateway's placeholder")
	assert.Equal(t, []Backend{{Service: "api-service"}}, args.Backends())
	d, errs = gatewaydoc.Parse([]byte(gatewaydoc.GuideExample), field.NewPath("document"))
	require.Empty(t, errs)
	args.Document = d
	assert.Empty(t, args.VaultSecrets(), "no keyed route, no API keys")
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
	canary := routes(t, g)[0]
	assert.Equal(t, "/api/v1/", canary.Match[0].GetUri().GetPrefix())
	assert.Equal(t, "true", canary.Match[0].GetHeaders()["x-canary"].GetExact())
	assert.Equal(t, "/v1/", canary.GetRewrite().GetUri())
	assert.Equal(t, 5*time.Second, canary.GetTimeout().AsDuration())
	assert.Equal(t, map[string]string{"x-cloudscale-route": "canary"}, canary.GetHeaders().GetRequest().GetSet())
	assert.Equal(t, []string{"server"}, canary.GetHeaders().GetResponse().GetRemove())

	ra := componenttest.Object[securityv1.RequestAuthentication](t, g, "kubernetes:security.istio.io/v1:RequestAuthentication", "main-jwt")
	assert.Equal(t, "https://id.example.com", ra.Spec.JwtRules[0].GetIssuer())
	claims := ra.Spec.JwtRules[0].GetOutputClaimToHeaders()
	require.Len(t, claims, 1)
	assert.Equal(t, "sub", claims[0].GetClaim())
	assert.Equal(t, "x-cloudscale-subject", claims[0].GetHeader())
	// The token route keeps the subject the JWT filter verified (the
	// route's removals run after it); the catch-all route, which needs
	// no token, removes any a client sent.
	assert.Equal(t, []string{APIClientHeader}, canary.GetHeaders().GetRequest().GetRemove())
	assert.Equal(t, []string{APIClientHeader, SubjectHeader}, routes(t, g)[1].GetHeaders().GetRequest().GetRemove())
	ap := componenttest.Object[securityv1.AuthorizationPolicy](t, g, authzType, "main-require-token")
	assert.Equal(t, securityapi.AuthorizationPolicy_DENY, ap.Spec.GetAction())
	assert.Equal(t, []string{"/api/v1/*"}, ap.Spec.Rules[0].To[0].GetOperation().GetPaths())
	assert.Equal(t, []string{"*"}, ap.Spec.Rules[0].From[0].GetSource().GetNotRequestPrincipals())
}

func TestCanaryWeightsSplitTheRoute(t *testing.T) {
	args := base()
	args.Canaries = map[string]int{"api-service": 10}
	g, err := build(t, gatewaydoc.GuideExample, args)
	require.NoError(t, err)
	dests := routes(t, g)[0].Route
	require.Len(t, dests, 2)
	assert.Equal(t, "stable", dests[0].GetDestination().GetSubset())
	assert.Equal(t, int32(90), dests[0].GetWeight())
	assert.Equal(t, "canary", dests[1].GetDestination().GetSubset())
	assert.Equal(t, int32(10), dests[1].GetWeight())
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

	args := base()
	args.Counters = &contract.Redis{Mode: contract.RedisSentinel, URL: "mymaster,redis-sentinel.cloudscale:26379", Namespace: "cloudscale",
		TLS: true, AuthVaultPath: "redis/auth"}
	g, err := build(t, src, args)
	require.NoError(t, err)
	// The counters' Redis: TLS against the platform's CA (a certificate
	// in the gateway's namespace) and AUTH from Vault, never a value.
	args.Document, _ = gatewaydoc.Parse([]byte(src), field.NewPath("document"))
	assert.Contains(t, args.Certificates(), contract.Certificate{Name: RateLimitRedisTLS, Namespace: args.Namespace,
		DNSNames: []string{"ratelimit.istio-ingress.svc.cluster.local"}})
	assert.Contains(t, args.VaultSecrets(), contract.VaultSecret{Name: RateLimitRedisAuth, Namespace: args.Namespace, VaultPath: "redis/auth",
		Keys: map[string]string{"password": "password"}})

	// Local: a token bucket on route-0 only.
	local := &componenttest.Object[networkingv1alpha3.EnvoyFilter](t, g, envoyFilterType, "main-local-ratelimit").Spec
	assert.Equal(t, IngressSelector, local.GetWorkloadSelector().GetLabels())
	patches := local.ConfigPatches
	require.Len(t, patches, 2)
	assert.Equal(t, networkingapi.EnvoyFilter_HTTP_FILTER, patches[0].GetApplyTo())
	filter := envoyValue[hcmv3.HttpFilter](t, patches[0])
	assert.Equal(t, LocalRateLimitFilter, filter.GetName())
	assert.Nil(t, typedConfig[localratelimitv3.LocalRateLimit](t, filter.GetTypedConfig()).GetTokenBucket(), "installed without a bucket")
	assert.Equal(t, "route-0", patches[1].GetMatch().GetRouteConfiguration().GetVhost().GetRoute().GetName())
	perRoute := envoyValue[routev3.Route](t, patches[1]).GetTypedPerFilterConfig()[LocalRateLimitFilter]
	bucket := typedConfig[localratelimitv3.LocalRateLimit](t, perRoute).GetTokenBucket()
	assert.Equal(t, uint32(100), bucket.GetMaxTokens())
	assert.Equal(t, uint32(50), bucket.GetTokensPerFill().GetValue())
	assert.Equal(t, time.Second, bucket.GetFillInterval().AsDuration())

	// Global: the service's config counts route-0 per client per minute.
	cm := componenttest.Object[corev1.ConfigMap](t, g, "kubernetes:core/v1:ConfigMap", "main-ratelimit")
	var cfg RateLimitDomain
	require.NoError(t, yaml.UnmarshalStrict([]byte(cm.Data["config.yaml"]), &cfg))
	assert.Equal(t, RateLimitDomain{Domain: RateLimitScope, Descriptors: []RateLimitDescriptor{{Key: "generic_key", Value: "route-0",
		Descriptors: []RateLimitDescriptor{{Key: "remote_address", RateLimit: &RateLimitPolicy{Unit: "minute", RequestsPerUnit: 600}}}}}}, cfg)
	rl := componenttest.Object[appsv1.Deployment](t, g, deploymentType, RateLimitName)
	rlEnv := rl.Spec.Template.Spec.Containers[0].Env
	assert.Contains(t, rlEnv, corev1.EnvVar{Name: "REDIS_URL", Value: "mymaster,redis-sentinel.cloudscale:26379"})
	assert.Contains(t, rlEnv, corev1.EnvVar{Name: "REDIS_TLS", Value: "true"})
	assert.Contains(t, rlEnv, corev1.EnvVar{Name: "REDIS_TLS_CACERT", Value: "/redis-tls/ca.crt"})
	for _, name := range []string{"REDIS_AUTH", "REDIS_SENTINEL_AUTH"} {
		assert.Contains(t, rlEnv, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: RateLimitRedisAuth}, Key: "password"}}})
	}
	global := componenttest.Object[networkingv1alpha3.EnvoyFilter](t, g, envoyFilterType, "main-global-ratelimit").Spec.ConfigPatches
	rls := typedConfig[ratelimitv3.RateLimit](t, envoyValue[hcmv3.HttpFilter](t, global[0]).GetTypedConfig())
	assert.False(t, rls.GetFailureModeDeny(), "the gateway fails open; local limits still hold")
	assert.Equal(t, RateLimitScope, rls.GetDomain())
	assert.Equal(t, "outbound|8081||ratelimit.istio-ingress.svc.cluster.local", rls.GetRateLimitService().GetGrpcService().GetEnvoyGrpc().GetClusterName())
	actions := envoyValue[routev3.Route](t, global[1]).GetRoute().GetRateLimits()[0].GetActions()
	assert.Equal(t, "route-0", actions[0].GetGenericKey().GetDescriptorValue())
	assert.NotNil(t, actions[1].GetRemoteAddress())

	// API keys: checked from the mounted file, switched off on the other routes.
	keys := componenttest.Object[networkingv1alpha3.EnvoyFilter](t, g, envoyFilterType, "main-api-keys").Spec.ConfigPatches
	require.Len(t, keys, 3, "the filter plus route-0 and route-2 switched off")
	auth := typedConfig[basicauthv3.BasicAuth](t, envoyValue[hcmv3.HttpFilter](t, keys[0]).GetTypedConfig())
	assert.Equal(t, APIKeysFile, auth.GetUsers().GetFilename())
	assert.Equal(t, APIClientHeader, auth.GetForwardUsernameHeader())
	off := typedConfig[routev3.FilterConfig](t, envoyValue[routev3.Route](t, keys[1]).GetTypedPerFilterConfig()[BasicAuthFilter])
	assert.True(t, off.GetDisabled())
	ing := componenttest.Object[appsv1.Deployment](t, g, deploymentType, IngressName)
	assert.Contains(t, ing.Spec.Template.Spec.Volumes, corev1.Volume{Name: "api-keys", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: APIKeysSecret}}})
	// Until Vault's keys arrive the file exists with an entry no key matches
	// (Envoy refuses a listener whose key file is missing).
	placeholder, ok := g.Named("kubernetes:core/v1:Secret", "main-api-keys")
	require.True(t, ok)
	data, isSecret := placeholder.Inputs["stringData"].(*resource.Secret)
	require.True(t, isSecret, "Secret data is a Pulumi secret")
	assert.Equal(t, NoAPIKeys, data.Element.ObjectValue()[APIKeysProperty].StringValue())
	// The keyed route does not pass the key on; the others drop a client
	// header a caller might send to pose as a keyed service.
	http := routes(t, g)
	assert.Equal(t, []string{APIClientHeader, SubjectHeader}, http[0].GetHeaders().GetRequest().GetRemove())
	assert.Equal(t, []string{"authorization", SubjectHeader}, http[1].GetHeaders().GetRequest().GetRemove())
	assert.Equal(t, []string{APIClientHeader, SubjectHeader}, http[2].GetHeaders().GetRequest().GetRemove())
	// Only the ingress pods may ask the rate-limit service, which reaches
	// Redis and the Sentinels.
	callers := componenttest.Object[securityv1.AuthorizationPolicy](t, g, authzType, "main-ratelimit-callers")
	assert.Equal(t, []string{"cluster.local/ns/istio-ingress/sa/ingress-gateway"}, callers.Spec.Rules[0].From[0].GetSource().GetPrincipals())
	assert.Equal(t, []int{6379, 26379}, args.Counters.Peer().Ports)
}

func TestBadArgs(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Args)
		want string
	}{
		{"service not defined", func(a *Args) { a.Services = map[string]bool{"web": true} },
			`document.spec.routes[0].backend.service: Unsupported value: "api-service": supported values: "web"`},
		{"too few replicas in prod", func(a *Args) { a.MinReplicas = 2 }, "replicas 2-10: at least 1 (3 in production)"},
		{"load balancer without firewall", func(a *Args) { a.SourceRanges = nil }, "a LoadBalancer service needs source ranges"},
		{"no control plane", func(a *Args) { a.Sidecar = contract.Sidecar{} }, "the mesh's control plane (Sidecar.ControlPlane) is required"},
		// The workload helper's own checks of the pods run before anything is registered.
		{"pods without limits", func(a *Args) { a.Resources = workload.Resources{} }, "workload ingress-gateway: requests and limits for cpu and memory are required"},
		{"scraper without selector", func(a *Args) { a.Sidecar.Metrics = contract.Peer{Ports: []int{15020}} }, "workload ingress-gateway: sidecar metrics peer needs ports and a selector"},
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
	args.Counters = &contract.Redis{Mode: contract.RedisSingle, URL: "redis.cloudscale:6379", Namespace: "cloudscale"}
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
