package gateway

import (
	"fmt"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ratelimitconfv3 "github.com/envoyproxy/go-control-plane/envoy/config/ratelimit/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
	"github.com/cloudscale/platform/components/upstream"
)

// Names of the Envoy HTTP filters the gateway adds.
const (
	LocalRateLimitFilter = "envoy.filters.http.local_ratelimit"
	RateLimitFilter      = "envoy.filters.http.ratelimit"
	BasicAuthFilter      = "envoy.filters.http.basic_auth"
)

// envoyFilters patch the ingress pods' Envoy configuration: local limits,
// global limits and API keys, each only when a route uses it.
func envoyFilters(name string, a *Args, routes []route) ([]upstream.NamedObject, error) {
	var objs []upstream.NamedObject
	for _, f := range []struct {
		suffix  string
		patches func(*Args, []route) ([]*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch, error)
	}{{"-local-ratelimit", localLimits}, {"-global-ratelimit", globalLimitPatches}, {"-api-keys", apiKeys}} {
		patches, err := f.patches(a, routes)
		if err != nil {
			return nil, fmt.Errorf("envoy filter %s: %w", name+f.suffix, err)
		}
		if patches == nil {
			continue
		}
		objs = append(objs, upstream.NamedObject{Name: name + f.suffix, Object: &networkingv1alpha3.EnvoyFilter{
			TypeMeta:   metav1.TypeMeta{APIVersion: networkingv1alpha3.SchemeGroupVersion.String(), Kind: "EnvoyFilter"},
			ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.Document.Metadata.Name + f.suffix},
			Spec: networkingapi.EnvoyFilter{
				WorkloadSelector: &networkingapi.WorkloadSelector{Labels: IngressSelector},
				ConfigPatches:    patches,
			},
		}})
	}
	return objs, nil
}

// structOf is an Envoy message as the google.protobuf.Struct an
// EnvoyFilter patch carries (Istio's API types the patch value so, since
// it may be any Envoy message); Any fields keep their @type.
func structOf(m proto.Message) (*structpb.Struct, error) {
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	return s, protojson.Unmarshal(js, s)
}

// httpFilter inserts the named HTTP filter before the router on the
// gateway's listeners.
func httpFilter(name string, config proto.Message) (*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	typed, err := anypb.New(config)
	if err != nil {
		return nil, err
	}
	value, err := structOf(&hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: typed}})
	if err != nil {
		return nil, err
	}
	return &networkingapi.EnvoyFilter_EnvoyConfigObjectPatch{
		ApplyTo: networkingapi.EnvoyFilter_HTTP_FILTER,
		Match: &networkingapi.EnvoyFilter_EnvoyConfigObjectMatch{
			Context: networkingapi.EnvoyFilter_GATEWAY,
			ObjectTypes: &networkingapi.EnvoyFilter_EnvoyConfigObjectMatch_Listener{Listener: &networkingapi.EnvoyFilter_ListenerMatch{
				FilterChain: &networkingapi.EnvoyFilter_ListenerMatch_FilterChainMatch{Filter: &networkingapi.EnvoyFilter_ListenerMatch_FilterMatch{
					Name:      "envoy.filters.network.http_connection_manager",
					SubFilter: &networkingapi.EnvoyFilter_ListenerMatch_SubFilterMatch{Name: "envoy.filters.http.router"},
				}},
			}},
		},
		Patch: &networkingapi.EnvoyFilter_Patch{Operation: networkingapi.EnvoyFilter_Patch_INSERT_BEFORE, Value: value},
	}, nil
}

// routePatch merges value (a partial Envoy route) into the named gateway
// route.
func routePatch(routeName string, value *routev3.Route) (*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	v, err := structOf(value)
	if err != nil {
		return nil, err
	}
	return &networkingapi.EnvoyFilter_EnvoyConfigObjectPatch{
		ApplyTo: networkingapi.EnvoyFilter_HTTP_ROUTE,
		Match: &networkingapi.EnvoyFilter_EnvoyConfigObjectMatch{
			Context: networkingapi.EnvoyFilter_GATEWAY,
			ObjectTypes: &networkingapi.EnvoyFilter_EnvoyConfigObjectMatch_RouteConfiguration{RouteConfiguration: &networkingapi.EnvoyFilter_RouteConfigurationMatch{
				Vhost: &networkingapi.EnvoyFilter_RouteConfigurationMatch_VirtualHostMatch{Route: &networkingapi.EnvoyFilter_RouteConfigurationMatch_RouteMatch{Name: routeName}},
			}},
		},
		Patch: &networkingapi.EnvoyFilter_Patch{Operation: networkingapi.EnvoyFilter_Patch_MERGE, Value: v},
	}, nil
}

// withRoutePatches appends a route patch for every route value gives a
// partial route for (nil: leave the route alone).
func withRoutePatches(patches []*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch, routes []route,
	value func(route) (*routev3.Route, error)) ([]*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	for _, r := range routes {
		v, err := value(r)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		p, err := routePatch(r.Name, v)
		if err != nil {
			return nil, err
		}
		patches = append(patches, p)
	}
	return patches, nil
}

// perRouteConfig is a route's typed_per_filter_config for one filter.
func perRouteConfig(filter string, config proto.Message) (*routev3.Route, error) {
	typed, err := anypb.New(config)
	if err != nil {
		return nil, err
	}
	return &routev3.Route{TypedPerFilterConfig: map[string]*anypb.Any{filter: typed}}, nil
}

// LocalLimit is a route's token bucket on each gateway replica (Envoy's
// local rate limit): RequestsPerSecond refilled every second, up to
// Burst, always enforced, answered with x-cloudscale-rate-limited: local.
func LocalLimit(rl *gatewaydoc.RateLimit) *localratelimitv3.LocalRateLimit {
	all := &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED}}
	return &localratelimitv3.LocalRateLimit{
		StatPrefix: "http_local_rate_limiter",
		TokenBucket: &typev3.TokenBucket{
			MaxTokens:     uint32(max(rl.Burst, rl.RequestsPerSecond)),
			TokensPerFill: wrapperspb.UInt32(uint32(rl.RequestsPerSecond)),
			FillInterval:  durationpb.New(time.Second),
		},
		FilterEnabled:  withRuntimeKey(all, "local_rate_limit_enabled"),
		FilterEnforced: withRuntimeKey(all, "local_rate_limit_enforced"),
		ResponseHeadersToAdd: []*corev3.HeaderValueOption{{
			Header:       &corev3.HeaderValue{Key: "x-cloudscale-rate-limited", Value: "local"},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}},
	}
}

func withRuntimeKey(p *corev3.RuntimeFractionalPercent, key string) *corev3.RuntimeFractionalPercent {
	c := proto.Clone(p).(*corev3.RuntimeFractionalPercent)
	c.RuntimeKey = key
	return c
}

// localLimits give each gateway replica a token bucket per limited route.
// The filter is installed without a bucket (so it limits nothing) and each
// route enables its own.
func localLimits(_ *Args, routes []route) ([]*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	limited := false
	for _, r := range routes {
		limited = limited || r.RateLimit != nil
	}
	if !limited {
		return nil, nil
	}
	filter, err := httpFilter(LocalRateLimitFilter, &localratelimitv3.LocalRateLimit{StatPrefix: "http_local_rate_limiter"})
	if err != nil {
		return nil, err
	}
	return withRoutePatches([]*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch{filter}, routes, func(r route) (*routev3.Route, error) {
		if r.RateLimit == nil {
			return nil, nil
		}
		return perRouteConfig(LocalRateLimitFilter, LocalLimit(r.RateLimit))
	})
}

// globalLimitPatches make the gateway ask the rate-limit service, per
// route and client address, before forwarding. The gateway fails open if
// the service is down: the local limits still hold, and the rate-limit
// service is no single point of failure for traffic.
func globalLimitPatches(a *Args, routes []route) ([]*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	if a.Document.Needs().GlobalLimits < 0 {
		return nil, nil
	}
	host := fmt.Sprintf("%s.%s.svc.cluster.local", RateLimitName, a.Namespace)
	cluster := fmt.Sprintf("outbound|%d||%s", RateLimitPort, host)
	filter, err := httpFilter(RateLimitFilter, &ratelimitv3.RateLimit{
		Domain:          RateLimitScope,
		FailureModeDeny: false,
		Timeout:         durationpb.New(50 * time.Millisecond),
		RateLimitService: &ratelimitconfv3.RateLimitServiceConfig{
			GrpcService:         &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: cluster, Authority: host}}},
			TransportApiVersion: corev3.ApiVersion_V3,
		},
	})
	if err != nil {
		return nil, err
	}
	return withRoutePatches([]*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch{filter}, routes, func(r route) (*routev3.Route, error) {
		if r.RateLimit == nil || r.RateLimit.GlobalRequestsPerMinute == 0 {
			return nil, nil
		}
		return &routev3.Route{Action: &routev3.Route_Route{Route: &routev3.RouteAction{RateLimits: []*routev3.RateLimit{{
			Actions: []*routev3.RateLimit_Action{
				{ActionSpecifier: &routev3.RateLimit_Action_GenericKey_{GenericKey: &routev3.RateLimit_Action_GenericKey{DescriptorValue: r.Name}}},
				{ActionSpecifier: &routev3.RateLimit_Action_RemoteAddress_{RemoteAddress: &routev3.RateLimit_Action_RemoteAddress{}}},
			},
		}}}}}, nil
	})
}

// apiKeys check service-to-service calls on routes with auth.apiKeys:
// the caller sends its name and key as HTTP Basic credentials, checked
// against SHA digests in a file mounted from the API-key Secret, whose
// entries External Secrets merges in from Vault (the program holds
// digests of no real key; the state records whatever the cluster's Secret
// holds when it is refreshed, encrypted). Envoy reads the file when the
// listener is built: after keys are stored or rotated, restart the ingress
// pods. Other routes switch the check off.
func apiKeys(a *Args, routes []route) ([]*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	if a.Document.Needs().APIKeys < 0 {
		return nil, nil
	}
	filter, err := httpFilter(BasicAuthFilter, &basicauthv3.BasicAuth{
		Users:                 &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: APIKeysFile}},
		ForwardUsernameHeader: APIClientHeader,
	})
	if err != nil {
		return nil, err
	}
	return withRoutePatches([]*networkingapi.EnvoyFilter_EnvoyConfigObjectPatch{filter}, routes, func(r route) (*routev3.Route, error) {
		if r.Auth != nil && r.Auth.APIKeys {
			return nil, nil
		}
		return perRouteConfig(BasicAuthFilter, &routev3.FilterConfig{Disabled: true})
	})
}

// RateLimitConfig is the rate-limit service's configuration (the
// envoyproxy/ratelimit YAML): per route, per client address,
// GlobalRequestsPerMinute. It reports false when no route has a global
// limit.
func RateLimitConfig(routes []gatewaydoc.Route) (string, bool, error) {
	cfg := RateLimitDomain{Domain: RateLimitScope}
	for i, r := range routes {
		if r.RateLimit == nil || r.RateLimit.GlobalRequestsPerMinute == 0 {
			continue
		}
		cfg.Descriptors = append(cfg.Descriptors, RateLimitDescriptor{
			Key: "generic_key", Value: fmt.Sprintf("route-%d", i),
			Descriptors: []RateLimitDescriptor{{
				Key: "remote_address", RateLimit: &RateLimitPolicy{Unit: "minute", RequestsPerUnit: r.RateLimit.GlobalRequestsPerMinute},
			}},
		})
	}
	if cfg.Descriptors == nil {
		return "", false, nil
	}
	out, err := yaml.Marshal(cfg)
	return string(out), true, err
}

// RateLimitDomain is the envoyproxy/ratelimit service's configuration
// file (its own Go types are internal to the service).
type RateLimitDomain struct {
	Domain      string                `json:"domain"`
	Descriptors []RateLimitDescriptor `json:"descriptors"`
}

// RateLimitDescriptor matches a descriptor entry, and limits it or
// descends into nested entries.
type RateLimitDescriptor struct {
	Key         string                `json:"key"`
	Value       string                `json:"value,omitempty"`
	RateLimit   *RateLimitPolicy      `json:"rate_limit,omitempty"`
	Descriptors []RateLimitDescriptor `json:"descriptors,omitempty"`
}

// RateLimitPolicy is requests per unit (second, minute, hour, day).
type RateLimitPolicy struct {
	Unit            string `json:"unit"`
	RequestsPerUnit int    `json:"requests_per_unit"`
}
