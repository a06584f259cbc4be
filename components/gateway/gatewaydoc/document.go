// Package gatewaydoc reads and checks the guide's Gateway document
// (apiVersion gateway.cloudscale.io/v1, kind Gateway); a bad one fails with
// the field named, before anything is built. It needs no Pulumi SDK, so
// the stack's config validation uses it too.
package gatewaydoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
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

// Parse reads a Gateway document strictly: an unknown field is an error.
func Parse(data []byte) (*Document, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("gateway document: invalid YAML: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("gateway document: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	return &d, nil
}

// Validate checks the document against the services the platform defines;
// every problem is reported, each naming its field.
func (d *Document) Validate(services map[string]bool) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if d.APIVersion != APIVersion {
		add("apiVersion", "%q is not supported; want %s", d.APIVersion, APIVersion)
	}
	if d.Kind != Kind {
		add("kind", "%q is not supported; want %s", d.Kind, Kind)
	}
	if d.Metadata.Name == "" {
		add("metadata.name", "required")
	}
	if len(d.Spec.Listeners) == 0 {
		add("spec.listeners", "at least one listener is required")
	}
	ports := map[int]int{}
	for i, l := range d.Spec.Listeners {
		f := fmt.Sprintf("spec.listeners[%d]", i)
		if l.Port < 1 || l.Port > 65535 {
			add(f+".port", "%d is out of range; allowed: 1 to 65535", l.Port)
		} else if l.Port != ServedPort {
			add(f+".port", "%d is not served; the platform's load balancer and firewall admit HTTPS on %d only", l.Port, ServedPort)
		}
		if j, dup := ports[l.Port]; dup {
			add(f+".port", "%d is already spec.listeners[%d]'s", l.Port, j)
		}
		ports[l.Port] = i
		switch l.Protocol {
		case "HTTPS":
			if l.TLS == nil || l.TLS.CertificateRef == "" {
				add(f+".tls.certificateRef", "required for protocol HTTPS")
			}
			if l.TLS != nil && l.TLS.Mode != "TERMINATE" {
				add(f+".tls.mode", "%q is not supported; want TERMINATE", l.TLS.Mode)
			}
		case "HTTP":
			add(f+".protocol", "plain HTTP is not served; use HTTPS with a certificateRef")
		default:
			add(f+".protocol", "%q is not supported; want HTTPS", l.Protocol)
		}
	}
	seen := map[string]int{}
	for i, r := range d.Spec.Routes {
		f := fmt.Sprintf("spec.routes[%d]", i)
		if !strings.HasPrefix(r.Match.Path, "/") {
			add(f+".match.path", "%q must start with /", r.Match.Path)
		}
		key := r.Match.Path + "\x00" + headerKey(r.Match.Headers)
		if j, dup := seen[key]; dup {
			add(f+".match", "duplicates spec.routes[%d] (same path and headers)", j)
		} else {
			for j := 0; j < i; j++ {
				if covers(d.Spec.Routes[j].Match, r.Match) {
					add(f+".match", "is never reached: spec.routes[%d] matches every request it does and comes first; put the more specific route first", j)
					break
				}
			}
		}
		seen[key] = i
		if r.Backend.Service == "" {
			add(f+".backend.service", "required")
		} else if services != nil && !services[r.Backend.Service] {
			add(f+".backend.service", "%q is not a service the platform defines; defined: %s", r.Backend.Service, strings.Join(sortedNames(services), ", "))
		}
		if r.Backend.Port < 1 || r.Backend.Port > 65535 {
			add(f+".backend.port", "%d is out of range; allowed: 1 to 65535", r.Backend.Port)
		}
		if rl := r.RateLimit; rl != nil && (rl.RequestsPerSecond < 1 || rl.Burst < 0 || rl.GlobalRequestsPerMinute < 0) {
			add(f+".rateLimit", "requestsPerSecond must be at least 1, burst and globalRequestsPerMinute not negative")
		}
		if a := r.Auth; a != nil && a.Required && a.APIKeys {
			add(f+".auth", "required (a user token) and apiKeys (a service's key) exclude each other; pick one")
		}
		if rw := r.Rewrite; rw != nil && !strings.HasPrefix(rw.Prefix, "/") {
			add(f+".rewrite.prefix", "%q must start with /", rw.Prefix)
		}
	}
	return errors.Join(errs...)
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
