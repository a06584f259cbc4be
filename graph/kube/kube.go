// Package kube reads the Kubernetes objects of a graph.Graph the way the
// API server and its controllers do: kinds whatever the version, object
// references, controlling owners, the replica floor an autoscaler owns, and
// the disruption controller's arithmetic for PodDisruptionBudgets. The
// policy engine and the failure-domain analysis (chaos/spof) both read
// objects through it, so they agree on what an object guarantees.
package kube

import (
	"encoding/json"
	"fmt"
	"strings"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cloudscale/platform/graph"
)

// Kind maps a Kubernetes type token ("kubernetes:apps/v1:Deployment",
// "kubernetes:core/v1:Service") to "<group>/<Kind>" ("apps/Deployment",
// "core/Service"), the same for every version; other types map to "".
func Kind(typ string) string {
	if !strings.HasPrefix(typ, "kubernetes:") {
		return ""
	}
	parts := strings.Split(typ, ":")
	if len(parts) != 3 {
		return ""
	}
	group := parts[1]
	if i := strings.LastIndex(group, "/"); i >= 0 {
		group = group[:i]
	}
	return group + "/" + parts[2]
}

// KindName is the Kind of a "<group>/<Kind>" key ("Deployment").
func KindName(kind string) string { return kind[strings.LastIndex(kind, "/")+1:] }

// Namespace is metadata.namespace, or "default" when unset (what the API
// server gives a namespaced object created without one).
func Namespace(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	if s, _ := md["namespace"].(string); s != "" {
		return s
	}
	return "default"
}

// Name is metadata.name.
func Name(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	s, _ := md["name"].(string)
	return s
}

// Ref names one object: its namespace, its bare Kind ("Deployment", as
// ownerReferences and scaleTargetRefs name it) and its name.
type Ref struct{ Namespace, Kind, Name string }

// String is "<namespace>/<Kind>/<name>".
func (r Ref) String() string { return r.Namespace + "/" + r.Kind + "/" + r.Name }

// RefOf is the reference of a Kubernetes resource; ok is false for other
// resources.
func RefOf(r graph.Resource) (ref Ref, ok bool) {
	k := Kind(r.Type)
	if k == "" {
		return Ref{}, false
	}
	return Ref{Namespace(r.Inputs), KindName(k), Name(r.Inputs)}, true
}

// Present is the set of Kubernetes objects in rs, for ownerReferences to
// find their owner.
func Present(rs []graph.Resource) map[Ref]bool {
	out := map[Ref]bool{}
	for _, r := range rs {
		if ref, ok := RefOf(r); ok {
			out[ref] = true
		}
	}
	return out
}

// ControllerOf is the object's managing controller (the ownerReference
// with controller: true). Owners live in the object's namespace:
// cluster-scoped owners do not own pods.
func ControllerOf(obj map[string]any) (Ref, bool) {
	md, _ := obj["metadata"].(map[string]any)
	refs, _ := md["ownerReferences"].([]any)
	for _, x := range refs {
		ref, _ := x.(map[string]any)
		if c, _ := ref["controller"].(bool); !c {
			continue
		}
		kind, _ := ref["kind"].(string)
		name, _ := ref["name"].(string)
		if kind != "" && name != "" {
			return Ref{Namespace(obj), kind, name}, true
		}
	}
	return Ref{}, false
}

// Owned reports whether the object's controller is in the set, so that a
// reader judges the owner (a Deployment) and not what it generates (its
// ReplicaSets and Pods).
func Owned(obj map[string]any, present map[Ref]bool) bool {
	owner, ok := ControllerOf(obj)
	return ok && present[owner]
}

// AutoscalerTarget is what an autoscaler object scales and its floor: a
// HorizontalPodAutoscaler's spec.minReplicas (default 1), a KEDA
// ScaledObject's spec.minReplicaCount (default 0; its target kind defaults
// to Deployment, keda.sh docs). ok is false for other kinds.
func AutoscalerTarget(kind string, obj map[string]any) (target Ref, floor int32, ok bool) {
	spec, _ := obj["spec"].(map[string]any)
	ref, _ := spec["scaleTargetRef"].(map[string]any)
	name, _ := ref["name"].(string)
	tk, _ := ref["kind"].(string)
	switch kind {
	case "autoscaling/HorizontalPodAutoscaler":
		floor := int32(1)
		if n, ok := Number(spec["minReplicas"]); ok {
			floor = int32(n)
		}
		return Ref{Namespace(obj), tk, name}, floor, name != ""
	case "keda.sh/ScaledObject":
		if tk == "" {
			tk = "Deployment"
		}
		n, _ := Number(spec["minReplicaCount"])
		return Ref{Namespace(obj), tk, name}, int32(n), name != ""
	}
	return Ref{}, 0, false
}

// ReplicaFloors maps each autoscaled object to the lowest floor of the
// autoscalers that scale it: an autoscaler owns the replica count, so its
// floor is what every HA judgement reads.
func ReplicaFloors(rs []graph.Resource) map[Ref]int32 {
	out := map[Ref]int32{}
	for _, r := range rs {
		t, floor, ok := AutoscalerTarget(Kind(r.Type), r.Inputs)
		if !ok {
			continue
		}
		if cur, seen := out[t]; !seen || floor < cur {
			out[t] = floor
		}
	}
	return out
}

// Replicas is a scalable object's replica floor: its autoscalers' floor,
// else spec.replicas, which the API server defaults to 1.
func Replicas(obj map[string]any, floors map[Ref]int32, ref Ref) int32 {
	if f, ok := floors[ref]; ok {
		return f
	}
	spec, _ := obj["spec"].(map[string]any)
	if n, ok := Number(spec["replicas"]); ok {
		return int32(n)
	}
	return 1
}

// Number reads a JSON or YAML number of any Go type the decoders give.
func Number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// Decode gives the typed view of an object's inputs (a Deployment, a
// CloudNativePG Cluster): a JSON round trip, so every field decodes with
// the API type's own rules (IntOrString, quantities). An error names the
// field that does not fit the type.
func Decode[T any](obj map[string]any) (T, error) {
	var out T
	raw, err := json.Marshal(obj)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("does not decode as its API type: %w", err)
	}
	return out, nil
}

// DisruptionsAllowed is the number of pods the eviction API lets go at
// once from a budget whose selected pods' controllers expect `expected`
// and of which `healthy` run, computed as the disruption controller does
// (pkg/controller/disruption, getExpectedPodCount and updatePdbStatus):
// percentages are scaled against expected and rounded up, desired healthy
// is minAvailable or expected minus maxUnavailable, allowed is healthy
// minus desired and never below 0; a policy/v1 budget that sets neither
// bound expects nothing and allows nothing. An error names a value the
// API server refuses.
func DisruptionsAllowed(spec policyv1.PodDisruptionBudgetSpec, expected, healthy int32) (int32, error) {
	n := int(expected)
	var desired int
	switch {
	case spec.MaxUnavailable != nil:
		v, err := scaled(spec.MaxUnavailable, n, "maxUnavailable")
		if err != nil {
			return 0, err
		}
		desired = max(n-v, 0)
	case spec.MinAvailable != nil:
		v, err := scaled(spec.MinAvailable, n, "minAvailable")
		if err != nil {
			return 0, err
		}
		desired = v
	default:
		return 0, nil
	}
	if expected <= 0 {
		return 0, nil
	}
	return int32(max(int(healthy)-desired, 0)), nil
}

func scaled(v *intstr.IntOrString, n int, field string) (int, error) {
	if v.Type == intstr.String && !strings.HasSuffix(v.StrVal, "%") {
		return 0, fmt.Errorf("%s %q: want an integer or a percentage", field, v.StrVal)
	}
	out, err := intstr.GetScaledValueFromIntOrPercent(v, n, true)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if out < 0 || (v.Type == intstr.String && out > n) {
		return 0, fmt.Errorf("%s %s: want a non-negative integer or a percentage up to 100%%", field, v.String())
	}
	return out, nil
}
