// Package graph holds the normalised resource shape that every reader of a
// stack (policy engine, SPOF analysis, chaos planner) consumes. It is plain
// data on purpose: readers import this package and no cloud SDK, so their
// tests link in seconds.
package graph

import (
	"encoding/json"
	"sort"
	"strings"
)

// SecretValue replaces every secret in Inputs, so a graph can be printed,
// written to a report or handed to a policy without leaking a secret.
const SecretValue = "[secret]"

// Resource is one registered resource, whatever produced it: Pulumi mocks, a
// real preview or export, or rendered Kubernetes YAML.
type Resource struct {
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	URN    string         `json:"urn"`
	Parent string         `json:"parent,omitempty"`
	Inputs map[string]any `json:"inputs"`
}

// Graph is the resource set of one stack or one set of manifests.
type Graph struct {
	Source    string     `json:"source"`
	Resources []Resource `json:"resources"`
}

// OfType returns the resources with the given type token, in registration order.
func (g Graph) OfType(typ string) []Resource {
	var out []Resource
	for _, r := range g.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Named returns the first resource with the given type and logical name.
func (g Graph) Named(typ, name string) (Resource, bool) {
	for _, r := range g.Resources {
		if r.Type == typ && r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// Children returns the resources whose parent is urn.
func (g Graph) Children(urn string) []Resource {
	var out []Resource
	for _, r := range g.Resources {
		if r.Parent == urn {
			out = append(out, r)
		}
	}
	return out
}

// Types counts resources per type token, for summaries.
func (g Graph) Types() map[string]int {
	out := map[string]int{}
	for _, r := range g.Resources {
		out[r.Type]++
	}
	return out
}

// TypeNames returns the distinct type tokens, sorted.
func (g Graph) TypeNames() []string {
	var out []string
	for t := range g.Types() {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Get walks a dotted path ("encryptionConfig.provider.keyArn") through nested
// maps; a numeric segment indexes a list.
func (r Resource) Get(path string) (any, bool) {
	var cur any = r.Inputs
	for _, seg := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, ok := index(seg)
			if !ok || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// String returns the value at path when it is a string.
func (r Resource) String(path string) string {
	v, _ := r.Get(path)
	s, _ := v.(string)
	return s
}

func index(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// JSON renders the graph for machine readers.
func (g Graph) JSON() ([]byte, error) {
	return json.MarshalIndent(g, "", "  ")
}
