// Package gate is the SLO gate: the steady state of each component, as an
// HTTP answer a Chaos Mesh StatusCheck can judge. GET /slo/<component>
// answers 200 while the component's steady state holds and 503 with a
// JSON reason when it does not; GET /slo/platform answers for every
// component at once.
//
// Two sources decide the steady state:
//   - Kubernetes readiness, everywhere: the ready endpoints of the
//     component's Services (EndpointSlices, through client-go) against
//     what the failure-domain analysis says it needs (1, or a majority);
//   - PromQL SLO expressions, where a Prometheus serves them: an
//     availability ratio against its objective and a latency (in seconds)
//     against its threshold in milliseconds.
//
// A source that cannot be read is a failed check: the gate never answers
// 200 for a steady state it could not observe.
package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cloudscale/platform/strict"
)

// Platform is the component name that asks about every component.
const Platform = "platform"

// Config is the gate's configuration file: the components it answers for.
type Config struct {
	Components map[string]Component `json:"components"`
}

// Component is one component's steady state.
type Component struct {
	// Namespace and Services are where its ready endpoints are counted.
	Namespace string   `json:"namespace"`
	Services  []string `json:"services"`
	// Needed is how many ready endpoints each Service needs (default 1; a
	// majority for a quorum).
	Needed int `json:"needed,omitempty"`
	// Availability and Latency are PromQL SLOs, read when the gate has a
	// Prometheus.
	Availability *Objective `json:"availability,omitempty"`
	Latency      *Objective `json:"latency,omitempty"`
}

// Objective is a PromQL expression that returns one number and the bound
// it must keep: for availability a ratio at least Objective (0.999), for
// latency seconds at most ThresholdMs milliseconds.
type Objective struct {
	Query       string  `json:"query"`
	Objective   float64 `json:"objective,omitempty"`
	ThresholdMs float64 `json:"thresholdMs,omitempty"`
}

// LoadConfig reads a configuration file strictly: unknown keys, missing
// namespaces or services and bounds out of range are refused together,
// each with its key.
func LoadConfig(file string) (Config, error) {
	var c Config
	raw, err := os.ReadFile(file)
	if err != nil {
		return c, err
	}
	if errs := strict.DecodeYAML(raw, &c, nil); len(errs) > 0 {
		return c, fmt.Errorf("%s: %w", file, errs.ToAggregate())
	}
	return c, c.Validate()
}

// Validate checks every component.
func (c Config) Validate() error {
	var errs []error
	names := make([]string, 0, len(c.Components))
	for n := range c.Components {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		comp := c.Components[n]
		key := "components." + n
		switch {
		case n == Platform:
			errs = append(errs, fmt.Errorf("%s: %q is reserved for every component at once", key, Platform))
		case comp.Namespace == "" || len(comp.Services) == 0:
			errs = append(errs, fmt.Errorf("%s: namespace and services are required", key))
		case comp.Needed < 0:
			errs = append(errs, fmt.Errorf("%s.needed %d: want 1 or more", key, comp.Needed))
		}
		if a := comp.Availability; a != nil && (a.Query == "" || a.Objective <= 0 || a.Objective > 1) {
			errs = append(errs, fmt.Errorf("%s.availability: want a query and an objective in (0, 1]", key))
		}
		if l := comp.Latency; l != nil && (l.Query == "" || l.ThresholdMs <= 0) {
			errs = append(errs, fmt.Errorf("%s.latency: want a query and a thresholdMs above 0", key))
		}
	}
	return errors.Join(errs...)
}

// Gate answers for the configured components.
type Gate struct {
	Config Config
	// Kubernetes reads EndpointSlices; Prometheus, when set, runs the
	// PromQL SLOs.
	Kubernetes kubernetes.Interface
	Prometheus promv1.API
	// Timeout bounds one answer (default 5 s).
	Timeout time.Duration
}

// NewPrometheus is the Prometheus HTTP API at address.
func NewPrometheus(address string) (promv1.API, error) {
	c, err := promapi.NewClient(promapi.Config{Address: address})
	if err != nil {
		return nil, err
	}
	return promv1.NewAPI(c), nil
}

// Check is one check of a component's steady state.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
}

// Answer is the gate's answer for a component.
type Answer struct {
	Component string  `json:"component"`
	OK        bool    `json:"ok"`
	Reason    string  `json:"reason,omitempty"`
	Checks    []Check `json:"checks"`
}

// ServeHTTP answers GET /slo/<component> (200 or 503 with an Answer, 404
// for a component it does not know) and GET /healthz.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/slo/")
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if _, known := g.Config.Components[name]; !known && name != Platform {
		writeJSON(w, http.StatusNotFound, Answer{Component: name, Reason: "unknown component"})
		return
	}
	timeout := g.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	a := g.Answer(ctx, name)
	code := http.StatusOK
	if !a.OK {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, a)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Answer checks one component (or every one, for Platform).
func (g *Gate) Answer(ctx context.Context, name string) Answer {
	names := []string{name}
	if name == Platform {
		names = names[:0]
		for n := range g.Config.Components {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	a := Answer{Component: name, OK: true}
	for _, n := range names {
		for _, c := range g.checks(ctx, n, g.Config.Components[n]) {
			if name == Platform {
				c.Name = n + ": " + c.Name
			}
			a.Checks = append(a.Checks, c)
			if !c.OK && a.OK {
				a.OK, a.Reason = false, c.Reason
			}
		}
	}
	return a
}

func (g *Gate) checks(ctx context.Context, name string, c Component) []Check {
	var out []Check
	needed := max(c.Needed, 1)
	for _, svc := range c.Services {
		out = append(out, g.ready(ctx, c.Namespace, svc, needed))
	}
	if g.Prometheus == nil {
		return out
	}
	if o := c.Availability; o != nil {
		out = append(out, g.slo(ctx, name+" availability", o.Query, func(v float64) (bool, string) {
			return v >= o.Objective, fmt.Sprintf("availability %.5f against an objective of %.5f", v, o.Objective)
		}))
	}
	if o := c.Latency; o != nil {
		out = append(out, g.slo(ctx, name+" latency", o.Query, func(v float64) (bool, string) {
			return v*1000 <= o.ThresholdMs, fmt.Sprintf("latency %.0f ms against a threshold of %.0f ms", v*1000, o.ThresholdMs)
		}))
	}
	return out
}

// ready counts a Service's ready endpoints in its EndpointSlices (an
// endpoint whose ready condition is unset counts as ready, as the API
// documents), each address once.
func (g *Gate) ready(ctx context.Context, ns, svc string, needed int) Check {
	name := fmt.Sprintf("service %s/%s ready endpoints", ns, svc)
	slices, err := g.Kubernetes.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return Check{Name: name, Reason: fmt.Sprintf("cannot read the EndpointSlices of %s/%s: %v", ns, svc, err)}
	}
	ready := map[string]bool{}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, addr := range e.Addresses {
				ready[addr] = true
			}
		}
	}
	ok := len(ready) >= needed
	return Check{Name: name, OK: ok, Reason: fmt.Sprintf("%s/%s has %d ready endpoints; it needs %d", ns, svc, len(ready), needed)}
}

// slo runs a PromQL expression and judges its one value.
func (g *Gate) slo(ctx context.Context, name, query string, judge func(float64) (bool, string)) Check {
	v, _, _, err := g.Prometheus.Query(ctx, query, time.Now())
	if err != nil {
		return Check{Name: name, Reason: fmt.Sprintf("cannot run %q on Prometheus: %v", query, err)}
	}
	var value float64
	switch x := v.(type) {
	case model.Vector:
		if len(x) == 0 {
			return Check{Name: name, Reason: fmt.Sprintf("%q returned no sample", query)}
		}
		value = float64(x[0].Value)
	case *model.Scalar:
		value = float64(x.Value)
	default:
		return Check{Name: name, Reason: fmt.Sprintf("%q returned a %s, not a number", query, v.Type())}
	}
	ok, reason := judge(value)
	return Check{Name: name, OK: ok, Reason: reason}
}
