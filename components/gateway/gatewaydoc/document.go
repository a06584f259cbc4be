// Package gatewaydoc reads and checks the guide's Gateway document
// (apiVersion gateway.cloudscale.io/v1, kind Gateway); a bad one fails with
// the field named, before anything is built. It needs no Pulumi SDK, so
// the stack's config validation uses it too.
package gatewaydoc

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cloudscale/platform/strict"
)

// ServedPort is the one port the gateway serves (HTTPS).
const ServedPort = 443

// APIVersion and Kind identify the document.
const (
	APIVersion = "gateway.cloudscale.io/v1"
	Kind       = "Gateway"
)

// GuideExample is the Configuration example of the guide's API Gateway
// section, verbatim.
const GuideExample = `apiVersion: gateway.cloudscale.io/v1
kind: Gateway
metadata:
  name: main-gateway
spec:
  listeners:
    - port: 443
      protocol: HTTPS
      tls:
        mode: TERMINATE
        certificateRef: production-cert
  routes:
    - match:
        path: /api/v1/*
      backend:
        service: api-service
        port: 8080
`

// Document is the guide's Gateway configuration.
type Document struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
}

// Metadata names the gateway.
type Metadata struct {
	Name string `json:"name"`
}

// Spec holds listeners and routes.
type Spec struct {
	Listeners []Listener `json:"listeners"`
	Routes    []Route    `json:"routes"`
}

// Listener is a port the gateway serves.
type Listener struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	TLS      *TLS   `json:"tls,omitempty"`
}

// TLS says how a listener terminates TLS.
type TLS struct {
	Mode           string `json:"mode"`
	CertificateRef string `json:"certificateRef"`
}

// Route sends matching requests to a backend.
type Route struct {
	Match   Match   `json:"match"`
	Backend Backend `json:"backend"`
	// The rest extends the guide's example with the features its API
	// Gateway section lists; all optional.
	RateLimit      *RateLimit      `json:"rateLimit,omitempty"`
	Auth           *Auth           `json:"auth,omitempty"`
	Rewrite        *Rewrite        `json:"rewrite,omitempty"`
	Headers        *Headers        `json:"headers,omitempty"`
	CircuitBreaker *CircuitBreaker `json:"circuitBreaker,omitempty"`
	Timeout        string          `json:"timeout,omitempty"`
}

// Match selects requests by path pattern ("/api/v1/*" is a prefix) and
// exact header values.
type Match struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Backend is a Kubernetes service and port.
type Backend struct {
	Service string `json:"service"`
	Port    int    `json:"port"`
}

// RateLimit throttles a route: RequestsPerSecond (with Burst) is enforced
// by each gateway replica on its own (Envoy local rate limit);
// GlobalRequestsPerMinute is per client address over all replicas, counted
// in Redis by the Envoy rate-limit service.
type RateLimit struct {
	RequestsPerSecond       int `json:"requestsPerSecond"`
	Burst                   int `json:"burst,omitempty"`
	GlobalRequestsPerMinute int `json:"globalRequestsPerMinute,omitempty"`
}

// Auth requires a valid token (OIDC JWT) or, for service-to-service
// calls, an API key.
type Auth struct {
	Required bool `json:"required"`
	APIKeys  bool `json:"apiKeys,omitempty"`
}

// Rewrite replaces the matched path prefix.
type Rewrite struct {
	Prefix string `json:"prefix"`
}

// Headers are set on requests and responses, or removed from them.
type Headers struct {
	Request  *HeaderOps `json:"request,omitempty"`
	Response *HeaderOps `json:"response,omitempty"`
}

// HeaderOps set and remove headers.
type HeaderOps struct {
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// CircuitBreaker ejects failing backends.
type CircuitBreaker struct {
	MaxConnections    int `json:"maxConnections"`
	ConsecutiveErrors int `json:"consecutiveErrors"`
	EjectionSeconds   int `json:"ejectionSeconds"`
}

// Parse reads a Gateway document (YAML or JSON) strictly: every unknown
// or duplicate field is an error, named under root.
func Parse(data []byte, root *field.Path) (*Document, field.ErrorList) {
	var d Document
	if errs := strict.DecodeYAML(data, &d, root); len(errs) > 0 {
		return nil, errs
	}
	return &d, nil
}

// Validate checks the document against the services the platform defines
// (nil skips that check); every problem is reported, its field under root.
// This is the one place the route rules are checked.
func (d *Document) Validate(root *field.Path, services map[string]bool) field.ErrorList {
	var errs field.ErrorList
	if d.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(root.Child("apiVersion"), d.APIVersion, []string{APIVersion}))
	}
	if d.Kind != Kind {
		errs = append(errs, field.NotSupported(root.Child("kind"), d.Kind, []string{Kind}))
	}
	if d.Metadata.Name == "" {
		errs = append(errs, field.Required(root.Child("metadata", "name"), "the gateway's name"))
	}
	spec := root.Child("spec")
	errs = append(errs, d.validateListeners(spec.Child("listeners"))...)
	return append(errs, d.validateRoutes(spec.Child("routes"), services)...)
}

func (d *Document) validateListeners(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(d.Spec.Listeners) == 0 {
		errs = append(errs, field.Required(p, "at least one listener"))
	}
	ports := map[int]bool{}
	for i, l := range d.Spec.Listeners {
		f := p.Index(i)
		switch {
		case l.Port < 1 || l.Port > 65535:
			errs = append(errs, field.Invalid(f.Child("port"), l.Port, "out of range; allowed: 1 to 65535"))
		case l.Port != ServedPort:
			errs = append(errs, field.Invalid(f.Child("port"), l.Port, fmt.Sprintf("not served; the platform's load balancer and firewall admit HTTPS on %d only", ServedPort)))
		case ports[l.Port]:
			errs = append(errs, field.Duplicate(f.Child("port"), l.Port))
		}
		ports[l.Port] = true
		switch l.Protocol {
		case "HTTPS":
			if l.TLS == nil || l.TLS.CertificateRef == "" {
				errs = append(errs, field.Required(f.Child("tls", "certificateRef"), "for protocol HTTPS"))
			}
			if l.TLS != nil && l.TLS.Mode != "TERMINATE" {
				errs = append(errs, field.NotSupported(f.Child("tls", "mode"), l.TLS.Mode, []string{"TERMINATE"}))
			}
		case "HTTP":
			errs = append(errs, field.Invalid(f.Child("protocol"), l.Protocol, "plain HTTP is not served; use HTTPS with a certificateRef"))
		default:
			errs = append(errs, field.NotSupported(f.Child("protocol"), l.Protocol, []string{"HTTPS"}))
		}
	}
	return errs
}

func (d *Document) validateRoutes(p *field.Path, services map[string]bool) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]int{}
	for i, r := range d.Spec.Routes {
		f := p.Index(i)
		if !strings.HasPrefix(r.Match.Path, "/") {
			errs = append(errs, field.Invalid(f.Child("match", "path"), r.Match.Path, "must start with /"))
		}
		key := r.Match.Path + "\x00" + headerKey(r.Match.Headers)
		if j, dup := seen[key]; dup {
			errs = append(errs, field.Invalid(f.Child("match"), r.Match.Path, fmt.Sprintf("duplicates %s (same path and headers)", p.Index(j))))
		} else if j := d.coveredBy(i); j >= 0 {
			errs = append(errs, field.Invalid(f.Child("match"), r.Match.Path,
				fmt.Sprintf("never reached: %s matches every request it does and comes first; put the more specific route first", p.Index(j))))
		}
		seen[key] = i
		b := f.Child("backend")
		switch {
		case r.Backend.Service == "":
			errs = append(errs, field.Required(b.Child("service"), "the Kubernetes service to route to"))
		case services != nil && !services[r.Backend.Service]:
			errs = append(errs, field.NotSupported(b.Child("service"), r.Backend.Service, sortedNames(services)))
		}
		if r.Backend.Port < 1 || r.Backend.Port > 65535 {
			errs = append(errs, field.Invalid(b.Child("port"), r.Backend.Port, "out of range; allowed: 1 to 65535"))
		}
		if rl := r.RateLimit; rl != nil && (rl.RequestsPerSecond < 1 || rl.Burst < 0 || rl.GlobalRequestsPerMinute < 0) {
			errs = append(errs, field.Invalid(f.Child("rateLimit"), *rl, "requestsPerSecond must be at least 1, burst and globalRequestsPerMinute not negative"))
		}
		if a := r.Auth; a != nil && a.Required && a.APIKeys {
			errs = append(errs, field.Invalid(f.Child("auth"), *a, "required (a user token) and apiKeys (a service's key) exclude each other; pick one"))
		}
		if rw := r.Rewrite; rw != nil && !strings.HasPrefix(rw.Prefix, "/") {
			errs = append(errs, field.Invalid(f.Child("rewrite", "prefix"), rw.Prefix, "must start with /"))
		}
		if d, err := time.ParseDuration(r.Timeout); r.Timeout != "" && (err != nil || d <= 0) {
			errs = append(errs, field.Invalid(f.Child("timeout"), r.Timeout, "not a positive duration; e.g. 10s or 500ms"))
		}
	}
	return errs
}

// coveredBy returns the first route before i that matches every request
// route i does, or -1.
func (d *Document) coveredBy(i int) int {
	for j := range i {
		if covers(d.Spec.Routes[j].Match, d.Spec.Routes[i].Match) {
			return j
		}
	}
	return -1
}

// Needs are what the document's routes need from the rest of the stack:
// the index of the first route of each kind, or -1.
type Needs struct {
	// UserTokens: a route with auth.required needs an OIDC issuer.
	UserTokens int
	// GlobalLimits: a route with rateLimit.globalRequestsPerMinute needs a
	// Redis for the counters.
	GlobalLimits int
	// APIKeys: a route with auth.apiKeys needs the API-key Secret.
	APIKeys int
}

// Needs reports what the routes need.
func (d *Document) Needs() Needs {
	n := Needs{UserTokens: -1, GlobalLimits: -1, APIKeys: -1}
	for i, r := range d.Spec.Routes {
		if r.Auth != nil && r.Auth.Required && n.UserTokens < 0 {
			n.UserTokens = i
		}
		if r.Auth != nil && r.Auth.APIKeys && n.APIKeys < 0 {
			n.APIKeys = i
		}
		if r.RateLimit != nil && r.RateLimit.GlobalRequestsPerMinute > 0 && n.GlobalLimits < 0 {
			n.GlobalLimits = i
		}
	}
	return n
}

// TimeoutDuration is the route's timeout, when it sets a valid one.
func (r Route) TimeoutDuration() (time.Duration, bool) {
	d, err := time.ParseDuration(r.Timeout)
	return d, err == nil && d > 0
}

// PathPrefix is the prefix a route's path pattern matches ("/api/v1/*" ->
// "/api/v1/"); a path without * matches exactly.
func (m Match) PathPrefix() (prefix string, exact bool) {
	if p, ok := strings.CutSuffix(m.Path, "*"); ok {
		return p, false
	}
	return m.Path, true
}

// covers reports whether every request b matches is matched by a: a's
// path pattern includes b's and a asks for no header b does not.
func covers(a, b Match) bool {
	ap, aExact := a.PathPrefix()
	bp, bExact := b.PathPrefix()
	switch {
	case aExact && (!bExact || ap != bp):
		return false
	case !aExact && !strings.HasPrefix(bp, ap):
		return false
	}
	for k, v := range a.Headers {
		if bv, ok := lookupHeader(b.Headers, k); !ok || bv != v {
			return false
		}
	}
	return true
}

func lookupHeader(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func headerKey(h map[string]string) string {
	var parts []string
	for k, v := range h {
		parts = append(parts, strings.ToLower(k)+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

func sortedNames(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
