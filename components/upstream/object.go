package upstream

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is a typed Kubernetes object: a Go struct with TypeMeta and
// ObjectMeta, from an operator's own API module (Istio's client-go,
// cert-manager, ...), from k8s.io/api, or, where an operator's module
// cannot be built here, a small struct of the project's own.
type Object interface {
	GetObjectKind() schema.ObjectKind
	GetName() string
}

// Outputs fold values other resources produce into an object or chart
// values: each key is a dotted path of JSON keys ("spec.target.name",
// "server.ha.raft.config") and replaces what the typed value holds there.
// A path's last key may hold a map (e.g. annotations keyed by DNS names).
type Outputs map[string]pulumi.Input

// NamedObject is an object and the Pulumi resource name it is registered as.
type NamedObject struct {
	Name   string
	Object Object
}

// NewObjects registers each object in order with the same options; it
// stops at the first that fails.
func NewObjects(ctx *pulumi.Context, objs []NamedObject, opts ...pulumi.ResourceOption) error {
	for _, o := range objs {
		if _, err := NewObject(ctx, o.Name, o.Object, nil, opts...); err != nil {
			return err
		}
	}
	return nil
}

// NewObject registers obj as the Pulumi resource name. Its apiVersion and
// kind come from the object's TypeMeta, every field from its JSON form
// (status is left out: the controller writes it), and outputs are folded
// in at their paths. opts carry the parent and what defines the kind (the
// chart or the CRDs). It fails, registering nothing, when the object has
// no apiVersion or kind or an output's path does not fit the object.
func NewObject(ctx *pulumi.Context, name string, obj Object, outputs Outputs, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	if gvk.Version == "" || kind == "" {
		return nil, fmt.Errorf("object %s (%T) has no apiVersion or kind: set its TypeMeta", name, obj)
	}
	tree, err := jsonTree(obj)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", name, err)
	}
	delete(tree, "status")
	if err := fold(tree, outputs); err != nil {
		return nil, fmt.Errorf("object %s: %w", name, err)
	}
	args := kubernetes.UntypedArgs{}
	for k, v := range tree {
		if in := toInput(v); in != nil {
			args[k] = in
		}
	}
	var res apiextensions.CustomResource
	if err := ctx.RegisterResource(fmt.Sprintf("kubernetes:%s:%s", apiVersion, kind), name, args, &res, opts...); err != nil {
		return nil, err
	}
	return &res, nil
}

// Values turns typed chart values (a struct with json tags, the way
// Pulumi's own chart components type them) into a Helm release's values,
// with outputs folded in at their paths.
func Values(v any, outputs Outputs) (pulumi.Map, error) {
	tree, err := jsonTree(v)
	if err != nil {
		return nil, err
	}
	if err := fold(tree, outputs); err != nil {
		return nil, err
	}
	out := pulumi.Map{}
	for k, v := range tree {
		if in := toInput(v); in != nil {
			out[k] = in
		}
	}
	return out, nil
}

// jsonTree is v's JSON form as nested maps and lists.
func jsonTree(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var tree map[string]any
	if err := json.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("%T is not a JSON object: %w", v, err)
	}
	if tree == nil {
		tree = map[string]any{}
	}
	return tree, nil
}

// fold places each output at its path, creating the objects on the way.
func fold(tree map[string]any, outputs Outputs) error {
	paths := make([]string, 0, len(outputs))
	for p := range outputs {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		keys := strings.Split(p, ".")
		cur := tree
		for _, k := range keys[:len(keys)-1] {
			next, ok := cur[k]
			if !ok || next == nil {
				m := map[string]any{}
				cur[k] = m
				cur = m
				continue
			}
			m, ok := next.(map[string]any)
			if !ok {
				return fmt.Errorf("output path %s: %s is not an object", p, k)
			}
			cur = m
		}
		cur[keys[len(keys)-1]] = outputs[p]
	}
	return nil
}

// toInput converts a JSON tree, with outputs folded in, to Pulumi inputs;
// JSON null (an unset pointer) becomes nil and is left out.
func toInput(v any) pulumi.Input {
	switch t := v.(type) {
	case pulumi.Input:
		return t
	case map[string]any:
		m := pulumi.Map{}
		for k, e := range t {
			if in := toInput(e); in != nil {
				m[k] = in
			}
		}
		return m
	case []any:
		a := pulumi.Array{}
		for _, e := range t {
			if in := toInput(e); in != nil {
				a = append(a, in)
			}
		}
		return a
	case string:
		return pulumi.String(t)
	case float64:
		return pulumi.Float64(t)
	case bool:
		return pulumi.Bool(t)
	}
	return nil
}
