package gateway

import (
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/types/known/durationpb"
	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	istiotype "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/upstream"
)

// istioObjects are the Gateway, the routes, the authorization that admits
// clients to the ingress pods, token validation, and who may call the
// rate-limit service.
func istioObjects(name string, a *Args, routes []route) []upstream.NamedObject {
	d := a.Document
	meta := func(suffix string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: a.Namespace, Name: d.Metadata.Name + suffix}
	}
	networking := func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: networkingv1.SchemeGroupVersion.String(), Kind: kind}
	}
	security := metav1.TypeMeta{APIVersion: securityv1.SchemeGroupVersion.String(), Kind: "AuthorizationPolicy"}
	ingress := &istiotype.WorkloadSelector{MatchLabels: IngressSelector}

	var servers []*networkingapi.Server
	for _, l := range d.Spec.Listeners {
		servers = append(servers, &networkingapi.Server{
			Port:  &networkingapi.Port{Number: uint32(l.Port), Name: fmt.Sprintf("https-%d", l.Port), Protocol: "HTTPS"},
			Hosts: []string{"*"},
			Tls: &networkingapi.ServerTLSSettings{
				Mode: networkingapi.ServerTLSSettings_SIMPLE, CredentialName: l.TLS.CertificateRef,
				MinProtocolVersion: networkingapi.ServerTLSSettings_TLSV1_3,
			},
		})
	}
	var http []*networkingapi.HTTPRoute
	var protected []string
	for _, r := range routes {
		http = append(http, httpRoute(a, r))
		if r.Auth != nil && r.Auth.Required {
			protected = append(protected, r.Prefix+map[bool]string{true: "", false: "*"}[r.Exact])
		}
	}
	objs := []upstream.NamedObject{
		{Name: name, Object: &networkingv1.Gateway{TypeMeta: networking("Gateway"), ObjectMeta: meta(""),
			Spec: networkingapi.Gateway{Selector: IngressSelector, Servers: servers}}},
		{Name: name + "-routes", Object: &networkingv1.VirtualService{TypeMeta: networking("VirtualService"), ObjectMeta: meta("-routes"),
			Spec: networkingapi.VirtualService{Hosts: []string{"*"}, Gateways: []string{a.Namespace + "/" + d.Metadata.Name}, Http: http}}},
		// The mesh denies by default; the ingress pods admit clients on HTTPS.
		{Name: name + "-admit-clients", Object: &securityv1.AuthorizationPolicy{TypeMeta: security, ObjectMeta: meta("-admit-clients"),
			Spec: securityapi.AuthorizationPolicy{Selector: ingress, Action: securityapi.AuthorizationPolicy_ALLOW,
				Rules: []*securityapi.Rule{{To: []*securityapi.Rule_To{{Operation: &securityapi.Operation{Ports: []string{fmt.Sprint(HTTPSPort)}}}}}}}}},
	}
	if len(protected) > 0 {
		objs = append(objs,
			upstream.NamedObject{Name: name + "-jwt", Object: &securityv1.RequestAuthentication{
				TypeMeta: metav1.TypeMeta{APIVersion: securityv1.SchemeGroupVersion.String(), Kind: "RequestAuthentication"}, ObjectMeta: meta("-jwt"),
				Spec: securityapi.RequestAuthentication{Selector: ingress,
					JwtRules: []*securityapi.JWTRule{{Issuer: a.Issuer, JwksUri: a.JWKSURI, ForwardOriginalToken: false,
						// The verified subject, for the backends; the filter
						// overwrites a header of that name a client sent.
						OutputClaimToHeaders: []*securityapi.ClaimToHeader{{Header: SubjectHeader, Claim: SubjectClaim}}}}}}},
			upstream.NamedObject{Name: name + "-require-token", Object: &securityv1.AuthorizationPolicy{TypeMeta: security, ObjectMeta: meta("-require-token"),
				Spec: securityapi.AuthorizationPolicy{Selector: ingress, Action: securityapi.AuthorizationPolicy_DENY,
					Rules: []*securityapi.Rule{{
						From: []*securityapi.Rule_From{{Source: &securityapi.Source{NotRequestPrincipals: []string{"*"}}}},
						To:   []*securityapi.Rule_To{{Operation: &securityapi.Operation{Paths: protected}}},
					}}}}})
	}
	if d.Needs().GlobalLimits >= 0 {
		// The namespace denies by default: the ingress pods may ask.
		objs = append(objs, upstream.NamedObject{Name: name + "-ratelimit-callers", Object: &securityv1.AuthorizationPolicy{
			TypeMeta: security, ObjectMeta: meta("-ratelimit-callers"),
			Spec: securityapi.AuthorizationPolicy{
				Selector: &istiotype.WorkloadSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": RateLimitName}},
				Action:   securityapi.AuthorizationPolicy_ALLOW,
				Rules: []*securityapi.Rule{{
					From: []*securityapi.Rule_From{{Source: &securityapi.Source{Principals: []string{mesh.Principal(ServiceAccountOf(a.Namespace))}}}},
					To:   []*securityapi.Rule_To{{Operation: &securityapi.Operation{Ports: []string{fmt.Sprint(RateLimitPort)}}}},
				}}}}})
	}
	return objs
}

// httpRoute is one route of the gateway's VirtualService.
func httpRoute(a *Args, r route) *networkingapi.HTTPRoute {
	uri := &networkingapi.StringMatch{MatchType: &networkingapi.StringMatch_Prefix{Prefix: r.Prefix}}
	if r.Exact {
		uri = &networkingapi.StringMatch{MatchType: &networkingapi.StringMatch_Exact{Exact: r.Prefix}}
	}
	match := &networkingapi.HTTPMatchRequest{Uri: uri}
	for _, k := range slices.Sorted(maps.Keys(r.Match.Headers)) {
		if match.Headers == nil {
			match.Headers = map[string]*networkingapi.StringMatch{}
		}
		match.Headers[k] = &networkingapi.StringMatch{MatchType: &networkingapi.StringMatch_Exact{Exact: r.Match.Headers[k]}}
	}
	dest := []*networkingapi.HTTPRouteDestination{{Destination: &networkingapi.Destination{Host: r.Host, Port: &networkingapi.PortSelector{Number: uint32(r.Backend.Port)}}}}
	if w := a.Canaries[r.Backend.Service]; w > 0 {
		dest = mesh.WeightedRoute(r.Host, r.Backend.Port, w)
	}
	hr := &networkingapi.HTTPRoute{Name: r.Name, Match: []*networkingapi.HTTPMatchRequest{match}, Route: dest, Headers: headerOps(r)}
	if r.Rewrite != nil {
		hr.Rewrite = &networkingapi.HTTPRewrite{Uri: r.Rewrite.Prefix}
	}
	if d, ok := r.TimeoutDuration(); ok {
		hr.Timeout = durationpb.New(d)
	}
	return hr
}

// headerOps are the route's header changes. Where API keys are checked,
// the caller's key is not passed on, and on the other routes a client
// cannot pose as a keyed caller by sending the client header itself.
// Likewise, where no token is required a client cannot pose as a user by
// sending the subject header: it is removed there.
//
// Where a token is required the subject header stays: the route's
// removals are applied by the router, after the JWT filter has verified
// the token and written the subject into that header (overwriting any a
// client sent), so removing it there would remove the verified subject.
func headerOps(r route) *networkingapi.Headers {
	var req, resp *gatewaydoc.HeaderOps
	if r.Headers != nil {
		req, resp = r.Headers.Request, r.Headers.Response
	}
	// Backends may trust the client header on every stack, keyed routes or not.
	strip := []string{APIClientHeader}
	if r.Auth != nil && r.Auth.APIKeys {
		strip = []string{"authorization"}
	}
	if r.Auth == nil || !r.Auth.Required {
		strip = append(strip, SubjectHeader)
	}
	request := &networkingapi.Headers_HeaderOperations{}
	if req != nil {
		request.Set = req.Set
		request.Remove = append(request.Remove, req.Remove...)
	}
	request.Remove = append(request.Remove, strip...)
	h := &networkingapi.Headers{Request: request}
	if resp != nil {
		h.Response = &networkingapi.Headers_HeaderOperations{Set: resp.Set, Remove: resp.Remove}
	}
	return h
}
