package experiments

// Route faults: Istio fault injection on the ingress gateway's routes.
//
// A gateway route is one HTTP route (spec.http[i]) of an Istio
// VirtualService bound (spec.gateways) to an Istio Gateway of the graph,
// that forwards to destinations (spec.http[i].route[j].destination):
//
//	VirtualService istio-ingress/main-gateway-routes
//	  gateways: [istio-ingress/main-gateway]
//	  http:
//	  - name: route-0
//	    match: [{uri: {prefix: /api/v1/}}]
//	    route: [{destination: {host: api-service.cloudscale.svc.cluster.local, port: {number: 8080}}}]
//
// Per route and destination, http-abort and http-delay inject Istio's
// HTTPFaultInjection (https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPFaultInjection,
// the task https://istio.io/latest/docs/tasks/traffic-management/fault-injection/)
// into a copy of the route placed first in its VirtualService, so that it
// wins over the original (Istio evaluates routes in order):
//
//	http:
//	- name: <experiment>            # the original route, with
//	  match:                        # each match (or one, for a catch-all)
//	  - uri: {prefix: /api/v1/}     #   keeping its conditions,
//	    headers:                    #   and requiring the test header
//	      x-chaos-experiment: {exact: <experiment>}
//	    gateways: [istio-ingress/main-gateway]   # only at the gateway
//	  route: [<that one destination>]
//	  fault:
//	    abort: {httpStatus: 503, percentage: {value: 50}}   # or
//	    delay: {fixedDelay: 200ms, percentage: {value: 50}}
//	- name: route-0                 # the original routes, unchanged
//	  ...
//
// Only requests carrying the test header, and of those only
// FaultPercentage percent, are hit: real users are not. Chaos Mesh cannot
// apply a VirtualService, so `cloudscale chaos run` replaces the original
// with RouteFault.Fault for the run and applies RouteFault.Original after
// it, one route fault at a time (the faults of one VirtualService replace
// the same object); the Schedule never runs them.
//
// Istio enables no retries and no timeout on a route with a fault
// (HTTPRoute.fault, virtual_service.proto), and an aborted request never
// reaches the backend: neither the gateway's retries nor the backend's
// circuit breaker (its DestinationRule's outlier detection) can hide an
// abort, so its hypothesis is the documented error for the faulted share
// and a healthy rest of the platform.

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	networkingapi "istio.io/api/networking/v1alpha3"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// The route faults (run by the ClusterRunner).
const (
	// HTTPAbort answers AbortStatus at the gateway for FaultPercentage of
	// the test requests on one route.
	HTTPAbort Fault = "http-abort"
	// HTTPDelay holds FaultPercentage of the test requests on one route
	// for Config.Delay before forwarding them.
	HTTPDelay Fault = "http-delay"
)

// GatewayRoute is the failure domain of a route fault: a share of the
// requests one route of the ingress gateway forwards to one destination.
// No pod, node or zone is lost, so none of chaos/spof's domains fits.
const GatewayRoute spof.Domain = "route"

const (
	// ExperimentHeader is the test header a route fault requires; its
	// value is the experiment's name.
	ExperimentHeader = "x-chaos-experiment"
	// FaultPercentage is the share of test requests a route fault hits.
	FaultPercentage = 50.0
	// AbortStatus is what an aborted request gets: 503, the gateway's
	// answer when a backend is unavailable.
	AbortStatus int32 = 503
)

// RouteFault is a route fault's route and the VirtualService that
// injects it.
type RouteFault struct {
	// VirtualService is the route's VirtualService ("<namespace>/<name>")
	// and Route the route's name (or "http-<index>" when it has none).
	VirtualService string `json:"virtualService"`
	Route          string `json:"route"`
	// Gateways are the ingress Gateways the fault acts at
	// ("<namespace>/<name>").
	Gateways []string `json:"gateways"`
	// Destination is "<host>:<port>" and, with a subset, " (subset <s>)".
	Destination string `json:"destination"`
	// Header is the test header requests must carry ("<name>: <value>").
	Header     string  `json:"header"`
	Percentage float64 `json:"percentage"`
	HTTPStatus int32   `json:"httpStatus,omitempty"`
	Delay      string  `json:"delay,omitempty"`
	// Fault is what the runner applies in place of Original for the run;
	// Original is what it applies after.
	Fault    *istionetworkingv1.VirtualService `json:"-"`
	Original *istionetworkingv1.VirtualService `json:"-"`
}

// String is "<virtualService> <route> -> <destination>".
func (r RouteFault) String() string {
	return fmt.Sprintf("%s %s -> %s", r.VirtualService, r.Route, r.Destination)
}

// VirtualService is the VirtualService a route fault applies (a copy),
// for `cloudscale chaos run --experiment`; other experiments have none.
func (p *Plan) VirtualService(e Experiment) (*istionetworkingv1.VirtualService, error) {
	if e.Route == nil || e.Route.Fault == nil {
		return nil, fmt.Errorf("experiment %s: %s injects no Istio fault", e.Name, e.Fault)
	}
	return e.Route.Fault.DeepCopy(), nil
}

// VirtualServices are the VirtualServices of every route fault, in plan
// order.
func (p *Plan) VirtualServices() []*istionetworkingv1.VirtualService {
	var out []*istionetworkingv1.VirtualService
	for _, e := range p.Experiments {
		if vs, err := p.VirtualService(e); err == nil {
			out = append(out, vs)
		}
	}
	return out
}

// gatewayRoute is a VirtualService bound to ingress Gateways of the graph.
type gatewayRoute struct {
	vs *istionetworkingv1.VirtualService
	// gateways are the ingress Gateways it is bound to ("<ns>/<name>").
	gateways []string
}

// gatewayRoutes are the graph's VirtualServices (any version of
// networking.istio.io) bound to one of its Gateways.
func gatewayRoutes(g graph.Graph) ([]gatewayRoute, error) {
	ingress := map[string]bool{}
	for _, r := range g.Resources {
		if kube.Kind(r.Type) == "networking.istio.io/Gateway" {
			ingress[kube.Namespace(r.Inputs)+"/"+kube.Name(r.Inputs)] = true
		}
	}
	var out []gatewayRoute
	for _, r := range g.Resources {
		if kube.Kind(r.Type) != "networking.istio.io/VirtualService" {
			continue
		}
		vs, err := kube.Decode[istionetworkingv1.VirtualService](r.Inputs)
		if err != nil {
			return nil, fmt.Errorf("networking.istio.io/VirtualService %s: %w", r.Name, err)
		}
		vs.Namespace = kube.Namespace(r.Inputs)
		if gws := boundGateways(vs.Spec.Gateways, vs.Namespace, ingress); len(gws) > 0 {
			out = append(out, gatewayRoute{vs: &vs, gateways: gws})
		}
	}
	return out, nil
}

// boundGateways are the names of gateways ("<ns>/<name>", or "<name>"
// in the VirtualService's namespace; "mesh" is the sidecars) that are
// ingress Gateways, as "<ns>/<name>".
func boundGateways(names []string, ns string, ingress map[string]bool) []string {
	var out []string
	for _, n := range names {
		if n == "mesh" {
			continue
		}
		if !strings.Contains(n, "/") {
			n = ns + "/" + n
		}
		if ingress[n] && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// routeExperiments are the route faults of every gateway route, per route
// and destination, named uniquely.
func routeExperiments(g graph.Graph, rep *spof.Report, cfg Config) ([]Experiment, error) {
	routes, err := gatewayRoutes(g)
	if err != nil {
		return nil, err
	}
	delay, err := time.ParseDuration(cfg.Delay)
	if err != nil {
		return nil, fmt.Errorf("chaos.delay %q: %w", cfg.Delay, err)
	}
	var out []Experiment
	seen := map[string]bool{}
	for _, gr := range routes {
		for i, hr := range gr.vs.Spec.Http {
			matches := gatewayMatches(hr.Match, gr.vs.Namespace, gr.gateways)
			if matches == nil {
				continue // the route serves the sidecars only
			}
			label := cmp.Or(hr.Name, fmt.Sprintf("http-%d", i))
			for _, d := range hr.Route {
				if d.GetDestination() == nil {
					continue
				}
				be := backendOf(rep, d.Destination.Host, gr.vs.Namespace)
				for _, f := range []Fault{HTTPAbort, HTTPDelay} {
					e := be.experiment(f, label, d.Destination, seen)
					fault := httpFault(f, delay)
					e.Route = routeFault(e.Name, gr, label, d, matches, hr, fault)
					e.Targets = append([]string{gr.vs.Namespace + "/VirtualService/" + gr.vs.Name}, e.Targets...)
					describe(&e, cfg.Delay)
					if be.unserved {
						e.Hypothesis += "; predicted to fail: no component of the stack serves " + be.namespace + "/" + be.service + ", so the route fails without the fault"
					}
					out = append(out, e)
				}
			}
		}
	}
	return out, nil
}

// gatewayMatches are a route's match conditions that apply at the
// ingress gateways, each restricted to them (HTTPMatchRequest.gateways
// overrides the VirtualService's): one match of the gateways for a route
// without conditions, nil when every condition names other gateways only.
func gatewayMatches(in []*networkingapi.HTTPMatchRequest, ns string, ingress []string) []*networkingapi.HTTPMatchRequest {
	if len(in) == 0 {
		return []*networkingapi.HTTPMatchRequest{{Gateways: slices.Clone(ingress)}}
	}
	set := map[string]bool{}
	for _, gw := range ingress {
		set[gw] = true
	}
	var out []*networkingapi.HTTPMatchRequest
	for _, m := range in {
		gws := ingress
		if len(m.Gateways) > 0 {
			gws = boundGateways(m.Gateways, ns, set)
		}
		if len(gws) == 0 {
			continue
		}
		m = m.DeepCopy()
		m.Gateways = slices.Clone(gws)
		out = append(out, m)
	}
	return out
}

// backend is what a destination reaches: the components serving its
// Service (by the report's Services), or only the Service when the stack
// deploys none of them.
type backend struct {
	namespace, service string
	targets            []spof.Target
	predicted          spof.Verdict
	// unserved: no component of the stack serves the destination.
	unserved bool
}

// clusterDomain is the suffix of a Service's fully qualified name.
const clusterDomain = ".svc.cluster.local"

// backendOf resolves a destination host: "<svc>" (in the VirtualService's
// namespace, as Istio reads a short name) or "<svc>.<ns>.svc.cluster.local".
// Its prediction is the worst verdict of its components for one pod lost:
// what an aborted or slow share of requests stands for. Another host (a
// ServiceEntry's) has neither components nor a prediction.
func backendOf(rep *spof.Report, host, ns string) backend {
	b := backend{namespace: ns, service: host}
	if fq, ok := strings.CutSuffix(host, clusterDomain); ok {
		svc, svcNS, _ := strings.Cut(fq, ".")
		b.namespace, b.service = svcNS, svc
	} else if strings.Contains(host, ".") {
		return backend{service: host}
	}
	want := b.namespace + "/" + b.service
	for _, t := range rep.Targets {
		if !serves(rep, t, want) {
			continue
		}
		b.targets = append(b.targets, t)
		if v := rep.Verdict(t.Namespace, t.Name, spof.Pod); b.predicted == "" || rank(v) > rank(b.predicted) {
			b.predicted = v
		}
	}
	if len(b.targets) == 0 {
		// Nothing in the stack serves the route: it fails with or without
		// the fault (the services arrive with their own tiers).
		b.predicted, b.unserved = spof.SPOF, true
	}
	return b
}

// serves reports whether the report finds Service svc ("<ns>/<name>")
// selecting t's pods.
func serves(rep *spof.Report, t spof.Target, svc string) bool {
	return slices.ContainsFunc(rep.Findings, func(f spof.Finding) bool {
		return f.Namespace == t.Namespace && f.Component == t.Name && slices.Contains(f.Services, svc)
	})
}

// experiment is a route fault's experiment against the backend, named
// "<component>-<fault>-<route>[-<subset>]" (a number added when taken).
func (b backend) experiment(f Fault, route string, d *networkingapi.Destination, seen map[string]bool) Experiment {
	e := Experiment{
		Fault: f, Domain: GatewayRoute, Component: b.service, Namespace: b.namespace,
		Predicted: b.predicted, Executor: ClusterRunner,
	}
	if b.namespace != "" {
		e.Kind, e.Targets = "core/Service", []string{b.namespace + "/Service/" + b.service}
	}
	if len(b.targets) > 0 {
		e.Component, e.Kind, e.Targets = b.targets[0].Name, b.targets[0].Kind, nil
		for _, t := range b.targets {
			e.Targets = append(e.Targets, ref(t))
		}
	}
	e.Name = name(e.Component, string(f), route, d.Subset)
	for n, base := 2, e.Name; seen[e.Name]; n++ {
		e.Name = name(fmt.Sprintf("%.60s-%d", base, n))
	}
	seen[e.Name] = true
	return e
}

// httpFault is the fault stanza: a 503 or a fixed delay for
// FaultPercentage of the requests the route matches.
func httpFault(f Fault, delay time.Duration) *networkingapi.HTTPFaultInjection {
	pct := &networkingapi.Percent{Value: FaultPercentage}
	if f == HTTPDelay {
		return &networkingapi.HTTPFaultInjection{Delay: &networkingapi.HTTPFaultInjection_Delay{
			HttpDelayType: &networkingapi.HTTPFaultInjection_Delay_FixedDelay{FixedDelay: durationpb.New(delay)}, Percentage: pct,
		}}
	}
	return &networkingapi.HTTPFaultInjection{Abort: &networkingapi.HTTPFaultInjection_Abort{
		ErrorType: &networkingapi.HTTPFaultInjection_Abort_HttpStatus{HttpStatus: AbortStatus}, Percentage: pct,
	}}
}

// routeFault is the route with the fault stanza, the test header and the
// one destination, first in a copy of its VirtualService.
func routeFault(exp string, gr gatewayRoute, label string, d *networkingapi.HTTPRouteDestination, matches []*networkingapi.HTTPMatchRequest, hr *networkingapi.HTTPRoute, fault *networkingapi.HTTPFaultInjection) *RouteFault {
	chaos := hr.DeepCopy()
	chaos.Name, chaos.Fault = exp, fault
	chaos.Match = nil
	for _, m := range matches {
		m = m.DeepCopy()
		if m.Headers == nil {
			m.Headers = map[string]*networkingapi.StringMatch{}
		}
		m.Headers[ExperimentHeader] = &networkingapi.StringMatch{MatchType: &networkingapi.StringMatch_Exact{Exact: exp}}
		chaos.Match = append(chaos.Match, m)
	}
	one := d.DeepCopy()
	one.Weight = 0 // the only destination takes every request
	chaos.Route = []*networkingapi.HTTPRouteDestination{one}

	vs := gr.vs.DeepCopy()
	vs.TypeMeta = metav1.TypeMeta{APIVersion: istionetworkingv1.SchemeGroupVersion.String(), Kind: "VirtualService"}
	vs.Spec.Http = append([]*networkingapi.HTTPRoute{chaos}, vs.Spec.Http...)
	vs.Labels = maps.Clone(vs.Labels)
	if vs.Labels == nil {
		vs.Labels = map[string]string{}
	}
	vs.Labels["chaos.cloudscale.io/experiment"] = exp
	original := gr.vs.DeepCopy()
	original.TypeMeta = vs.TypeMeta

	rf := &RouteFault{
		VirtualService: gr.vs.Namespace + "/" + gr.vs.Name, Route: label, Gateways: slices.Clone(gr.gateways),
		Destination: destinationText(d.Destination), Header: ExperimentHeader + ": " + exp, Percentage: FaultPercentage,
		Fault: vs, Original: original,
	}
	if a := fault.GetAbort(); a != nil {
		rf.HTTPStatus = a.GetHttpStatus()
	}
	if dl := fault.GetDelay(); dl != nil {
		rf.Delay = dl.GetFixedDelay().AsDuration().String()
	}
	return rf
}

// routeText is a route fault for the table: "<route>, abort 503|delay
// 200ms for 50% of requests with <header>".
func routeText(r RouteFault) string {
	what := fmt.Sprintf("abort %d", r.HTTPStatus)
	if r.Delay != "" {
		what = "delay " + r.Delay
	}
	return fmt.Sprintf("%s, %s for %g%% of requests with %s", r, what, r.Percentage, r.Header)
}

func destinationText(d *networkingapi.Destination) string {
	s := d.Host
	if p := d.GetPort().GetNumber(); p != 0 {
		s += fmt.Sprint(":", p)
	}
	if d.Subset != "" {
		s += " (subset " + d.Subset + ")"
	}
	return s
}

// describe writes a route fault's hypothesis and blast radius.
func describe(e *Experiment, delay string) {
	r := e.Route
	who := fmt.Sprintf("about %g%% of the requests on route %s of %s carrying %s", r.Percentage, r.Route, r.VirtualService, r.Header)
	healthy := e.Component + " and the rest of the platform stay healthy"
	switch e.Fault {
	case HTTPAbort:
		e.Hypothesis = fmt.Sprintf("clients get the documented HTTP %d for %s, answered by the gateway itself (Istio enables no retry on a faulted route, and an aborted request never reaches the backend or its circuit breaker); every request without the header keeps the route's error budget, and %s", r.HTTPStatus, who, healthy)
	case HTTPDelay:
		e.Hypothesis = fmt.Sprintf("%s are delayed by %s and still succeed; every request without the header keeps the route's latency SLO and error budget, and %s", who, delay, healthy)
	}
	e.BlastRadius = who + " (to " + r.Destination + "), at " + strings.Join(r.Gateways, ", ") + "; no pod and no other request"
}
