package experiments

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	networkingapi "istio.io/api/networking/v1alpha3"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph/load"
)

// services put the shop's web and api behind Services.
const services = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, ports: [{port: 8080}]}
`

// ingress is the shop's ingress Gateway.
const ingress = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop-gateway, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 443, name: https-443, protocol: HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: shop-cert}}]
`

// gatewayRoutesYAML is the gateway's VirtualService of two routes: api
// (two matches, a timeout) and an unnamed catch-all split 90/10 between
// web and api.
const gatewayRoutesYAML = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-routes, namespace: istio-ingress}
spec:
  hosts: ["*"]
  gateways: [istio-ingress/shop-gateway]
  http:
  - name: api
    match:
    - uri: {prefix: /api/}
    - uri: {prefix: /v2/}
      headers: {x-canary: {exact: always}}
    route:
    - destination: {host: api.shop.svc.cluster.local, port: {number: 8080}}
    timeout: 5s
  - route:
    - destination: {host: web.shop.svc.cluster.local, port: {number: 80}}
      weight: 90
    - destination: {host: api.shop.svc.cluster.local, port: {number: 8080}}
      weight: 10
`

// meshRoutes is a VirtualService of the sidecars only.
const meshRoutes = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: shop}
spec:
  hosts: [api]
  gateways: [mesh]
  http:
  - route: [{destination: {host: api}}]
`

// planOf is the catalogue of the shop with more manifests.
func planOf(t *testing.T, docs ...string) *Plan {
	t.Helper()
	file := filepath.Join(t.TempDir(), "shop.yaml")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(append([]string{shop}, docs...), "\n---\n")), 0o600))
	g, err := load.Manifests(file)
	require.NoError(t, err)
	rep, err := spof.Analyze(g, "prod", spof.Topology{Zones: 3, Nodes: 6})
	require.NoError(t, err)
	p, err := New(g, rep, DefaultConfig("prod", zones, []string{"shop", "istio-ingress"}, true))
	require.NoError(t, err)
	return p
}

func routeFaults(p *Plan) []Experiment {
	var out []Experiment
	for _, e := range p.Experiments {
		if e.Route != nil {
			out = append(out, e)
		}
	}
	return out
}

// original is the gateway's VirtualService as the graph holds it.
func original(t *testing.T) *istionetworkingv1.VirtualService {
	t.Helper()
	var vs istionetworkingv1.VirtualService
	require.NoError(t, yaml.Unmarshal([]byte(gatewayRoutesYAML), &vs))
	return &vs
}

// Per route and destination, an abort and a delay: the original route,
// first in a copy of its VirtualService, with the fault for 50% of the
// requests carrying the experiment's header at the ingress gateway, to
// the same destination; the other routes unchanged.
func TestRouteFaults(t *testing.T) {
	p := planOf(t, services, ingress, gatewayRoutesYAML, meshRoutes)
	es := byName(p)
	orig := original(t)
	cases := []struct {
		name, route string
		fault       Fault
		predicted   spof.Verdict
		index, dest int // the original route and destination
		targets     []string
	}{
		{"api-http-abort-api", "api", HTTPAbort, spof.SPOF, 0, 0, []string{"istio-ingress/VirtualService/shop-routes", "shop/Deployment/api"}},
		{"api-http-delay-api", "api", HTTPDelay, spof.SPOF, 0, 0, []string{"istio-ingress/VirtualService/shop-routes", "shop/Deployment/api"}},
		{"web-http-abort-http-1", "http-1", HTTPAbort, spof.Survives, 1, 0, []string{"istio-ingress/VirtualService/shop-routes", "shop/Deployment/web"}},
		{"web-http-delay-http-1", "http-1", HTTPDelay, spof.Survives, 1, 0, []string{"istio-ingress/VirtualService/shop-routes", "shop/Deployment/web"}},
		{"api-http-abort-http-1", "http-1", HTTPAbort, spof.SPOF, 1, 1, []string{"istio-ingress/VirtualService/shop-routes", "shop/Deployment/api"}},
		{"api-http-delay-http-1", "http-1", HTTPDelay, spof.SPOF, 1, 1, []string{"istio-ingress/VirtualService/shop-routes", "shop/Deployment/api"}},
	}
	require.Len(t, routeFaults(p), len(cases), "the mesh's own VirtualService has no gateway route")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := es[tc.name]
			require.True(t, ok, "no experiment %s", tc.name)
			assert.Equal(t, tc.fault, e.Fault)
			assert.Equal(t, GatewayRoute, e.Domain)
			assert.Equal(t, tc.predicted, e.Predicted)
			assert.Equal(t, tc.targets, e.Targets)
			assert.Equal(t, ClusterRunner, e.Executor)
			assert.False(t, e.NeedsDaemon)
			assert.False(t, e.Scheduled)
			assert.Equal(t, "run by `cloudscale chaos run`: Chaos Mesh cannot apply an Istio VirtualService", e.Why)
			assert.Nil(t, e.Chaos)
			assert.NotEmpty(t, e.Hypothesis)
			assert.Contains(t, e.BlastRadius, "x-chaos-experiment: "+tc.name)
			assert.Equal(t, tc.route, e.Route.Route)
			_, err := p.Workflow(e)
			assert.Error(t, err, "no Workflow: Chaos Mesh cannot apply it")

			vs, err := p.VirtualService(e)
			require.NoError(t, err)
			assert.Equal(t, "VirtualService", vs.Kind)
			assert.Equal(t, "networking.istio.io/v1", vs.APIVersion)
			assert.Equal(t, "shop-routes", vs.Name, "it replaces the original for the run")
			assert.Equal(t, "istio-ingress", vs.Namespace)
			require.Len(t, vs.Spec.Http, len(orig.Spec.Http)+1)
			for i, r := range orig.Spec.Http {
				assert.True(t, proto.Equal(r, vs.Spec.Http[i+1]), "route %d changed", i)
			}
			assert.True(t, proto.Equal(&orig.Spec, &e.Route.Original.Spec), "the original is kept to restore")

			chaos, want := vs.Spec.Http[0], orig.Spec.Http[tc.index]
			assert.Equal(t, tc.name, chaos.Name)
			require.Len(t, chaos.Route, 1)
			assert.True(t, proto.Equal(want.Route[tc.dest].Destination, chaos.Route[0].Destination), "same destination")
			assert.True(t, proto.Equal(want.Timeout, chaos.Timeout))
			matches := max(len(want.Match), 1) // a catch-all gets one match
			require.Len(t, chaos.Match, matches)
			for i, m := range chaos.Match {
				assert.Equal(t, tc.name, m.Headers[ExperimentHeader].GetExact(), "only test requests")
				assert.Equal(t, []string{"istio-ingress/shop-gateway"}, m.Gateways, "only at the gateway")
				if i < len(want.Match) {
					assert.True(t, proto.Equal(want.Match[i].Uri, m.Uri), "the route's own conditions")
					for k, v := range want.Match[i].Headers {
						assert.True(t, proto.Equal(v, m.Headers[k]), k)
					}
				}
			}
			switch tc.fault {
			case HTTPAbort:
				assert.Nil(t, chaos.Fault.Delay)
				assert.Equal(t, int32(503), chaos.Fault.Abort.GetHttpStatus())
				assert.Equal(t, 50.0, chaos.Fault.Abort.GetPercentage().GetValue())
			case HTTPDelay:
				assert.Nil(t, chaos.Fault.Abort)
				assert.Equal(t, 200*time.Millisecond, chaos.Fault.Delay.GetFixedDelay().AsDuration())
				assert.Equal(t, 50.0, chaos.Fault.Delay.GetPercentage().GetValue())
			}
		})
	}
}

// No gateway route, no route fault: routes of the sidecars only, or bound
// to a Gateway the stack does not have.
func TestNoRouteFaultsWithoutGatewayRoutes(t *testing.T) {
	cases := []struct {
		name string
		docs []string
	}{
		{"no VirtualService", []string{services, ingress}},
		{"the mesh's only", []string{services, ingress, meshRoutes}},
		{"no Gateway", []string{services, gatewayRoutesYAML}},
		{"routes matching the sidecars only", []string{services, ingress, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: both, namespace: istio-ingress}
spec:
  hosts: ["*"]
  gateways: [mesh, shop-gateway]
  http:
  - match: [{gateways: [mesh], uri: {prefix: /}}]
    route: [{destination: {host: api.shop.svc.cluster.local}}]
  - redirect: {uri: /elsewhere}
`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := planOf(t, tc.docs...)
			assert.Empty(t, routeFaults(p))
			assert.Empty(t, p.VirtualServices())
		})
	}
}

// Route faults are never in the Schedule, and every format lists them.
func TestRouteFaultsAreRunNotScheduled(t *testing.T) {
	p := planOf(t, services, ingress, gatewayRoutesYAML)
	faults := routeFaults(p)
	require.NotEmpty(t, faults)
	s := p.Schedule()
	require.NotNil(t, s)
	for _, tm := range s.Spec.Workflow.Templates {
		for _, e := range faults {
			assert.False(t, strings.HasPrefix(tm.Name, e.Name), "%s in the Schedule", e.Name)
		}
	}

	var table, js, ym bytes.Buffer
	require.NoError(t, Write(&table, "table", []*Plan{p}))
	require.NoError(t, Write(&js, "json", []*Plan{p}))
	require.NoError(t, Write(&ym, "yaml", []*Plan{p}))
	assert.Contains(t, table.String(), "- api-http-abort-api")
	assert.Contains(t, table.String(), "route:    istio-ingress/shop-routes api -> api.shop.svc.cluster.local:8080, abort 503 for 50% of requests with x-chaos-experiment: api-http-abort-api")
	assert.Contains(t, table.String(), "targets:  istio-ingress/VirtualService/shop-routes, shop/Deployment/api")
	assert.Contains(t, js.String(), `"header": "x-chaos-experiment: web-http-delay-http-1"`)

	// The yaml ends with each route fault's VirtualService, as typed.
	docs := strings.Split(ym.String(), "\n---\n")
	vss := docs[len(docs)-len(faults):]
	for i, e := range faults {
		var vs istionetworkingv1.VirtualService
		require.NoError(t, yaml.Unmarshal([]byte(vss[i]), &vs))
		assert.Equal(t, e.Name, vs.Labels["chaos.cloudscale.io/experiment"])
		assert.True(t, proto.Equal(&e.Route.Fault.Spec, &vs.Spec), e.Name)
		assert.IsType(t, &networkingapi.HTTPFaultInjection{}, vs.Spec.Http[0].Fault)
	}
}

// A route to a Service no workload of the stack serves fails without any
// fault: the experiments are listed, predicted spof, and say why.
func TestRouteFaultsToAnUnservedService(t *testing.T) {
	unserved := strings.ReplaceAll(strings.ReplaceAll(gatewayRoutesYAML, "api.shop.svc", "orders.shop.svc"), "web.shop.svc", "orders.shop.svc")
	faults := routeFaults(planOf(t, services, ingress, unserved))
	require.NotEmpty(t, faults)
	for _, e := range faults {
		assert.Equal(t, spof.SPOF, e.Predicted, e.Name)
		assert.Equal(t, "orders", e.Component)
		assert.Contains(t, e.Targets, "shop/Service/orders")
		assert.Contains(t, e.Hypothesis, "no component of the stack serves shop/orders, so the route fails without the fault")
	}
}
