// Package mocks is the Pulumi mock monitor every reader of a stack's graph
// uses: it records every resource a program registers as plain data
// (graph.Resource) and answers data-source calls and provider outputs with
// realistic values for the stack's cloud and region. The stack program uses
// it too, to derive its chaos Schedule from its own graph (stacks.Plan).
package mocks

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/stacks/spec"
)

// Project is the Pulumi project name the URNs carry.
const Project = "cloudscale"

// Invoke is one function call the program made (a data source).
type Invoke struct {
	Token string         `json:"token"`
	Args  map[string]any `json:"args"`
}

// Result is what a mocked run registered.
type Result struct {
	Graph   graph.Graph
	Invokes []Invoke
	Spec    spec.Spec
	// State is what the mocks answered for each resource (inputs plus the
	// outputs a provider computes, such as ARNs), by URN: tests use it to
	// check that one resource's output is wired into another's input.
	State map[string]map[string]any
}

// Output returns the mocked output key of a resource.
func (r Result) Output(res graph.Resource, key string) any {
	return r.State[res.URN][key]
}

// New returns the mock monitor of stack s; Result reads what a run under
// it registered.
func New(s spec.Spec) *Monitor { return &Monitor{spec: s} }

// Monitor records every registration and answers invokes with realistic
// values for the stack's cloud and region. It is safe for concurrent use.
type Monitor struct {
	spec spec.Spec

	mu        sync.Mutex
	resources []graph.Resource
	state     map[string]map[string]any
	invokes   []Invoke
	seq       int
}

// NewResource records a registration and answers with its outputs.
func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	parent := ""
	if args.RegisterRPC != nil {
		parent = args.RegisterRPC.GetParent()
	}
	urn := newURN(m.spec.Stack, parent, args.TypeToken, args.Name)
	m.mu.Lock()
	m.seq++
	seq := m.seq
	m.resources = append(m.resources, graph.Resource{
		Type:   args.TypeToken,
		Name:   args.Name,
		URN:    urn,
		Parent: parent,
		Inputs: Plain(args.Inputs),
	})
	m.mu.Unlock()

	id := args.ID
	if id == "" {
		id = fmt.Sprintf("%s-%04d", args.Name, seq)
	}
	outputs := outputsFor(m.spec, args.TypeToken, args.Name, id, args.Inputs)
	// Where the cloud's id is a path (ARM ids, Cloud KMS names), the mock
	// answers with it, as the provider would.
	if v, ok := outputs["id"]; ok && v.IsString() && args.ID == "" {
		id = v.StringValue()
	}
	state := merge(args.Inputs.Copy(), outputs)
	m.mu.Lock()
	if m.state == nil {
		m.state = map[string]map[string]any{}
	}
	m.state[urn] = Plain(state)
	m.mu.Unlock()
	return id, state, nil
}

// merge lays provider-computed outputs over the inputs, object by object,
// so an output inside an input object (an issuer URL next to "enabled")
// keeps both.
func merge(state, outputs resource.PropertyMap) resource.PropertyMap {
	for k, v := range outputs {
		if old, ok := state[k]; ok && old.IsObject() && v.IsObject() {
			state[k] = resource.NewProperty(merge(old.ObjectValue().Copy(), v.ObjectValue()))
			continue
		}
		state[k] = v
	}
	return state
}

// newURN names a resource the way the engine (and the SDK's mock monitor)
// does: children of the stack carry no parent type.
func newURN(stack, parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(stack), tokens.PackageName(Project), parentType, tokens.Type(typ), name))
}

// Call records a data-source call and answers it as the cloud would.
func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.invokes = append(m.invokes, Invoke{Token: args.Token, Args: Plain(args.Args)})
	m.mu.Unlock()
	out, ok := invoke(m.spec, args.Token, args.Args)
	if !ok {
		// A new data source must get a realistic answer here, not a silent
		// empty one that hides a wiring mistake.
		return nil, fmt.Errorf("mocks: no mock answer for invoke %s; add one to stacks/mocks/invokes.go", args.Token)
	}
	return resource.NewPropertyMapFromMap(out), nil
}

// Result is everything registered so far.
func (m *Monitor) Result() Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	res := append([]graph.Resource(nil), m.resources...)
	inv := append([]Invoke(nil), m.invokes...)
	sort.SliceStable(inv, func(i, j int) bool { return inv[i].Token < inv[j].Token })
	return Result{
		Graph:   graph.Graph{Source: "mocks:" + m.spec.Stack, Resources: res},
		Invokes: inv,
		Spec:    m.spec,
		State:   m.state,
	}
}

// Plain converts Pulumi property values to plain Go values. Secrets become
// graph.SecretValue, so a graph never carries a secret in clear; unknown
// values become nil; resource references become their URN.
func Plain(pm resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(pm))
	for k, v := range pm {
		if strings.HasPrefix(string(k), "__") {
			continue // SDK bookkeeping such as __defaults
		}
		out[string(k)] = plainValue(v)
	}
	return out
}

func plainValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return graph.SecretValue
	case v.IsComputed(), v.IsOutput() && !v.OutputValue().Known:
		return nil
	case v.IsOutput():
		if v.OutputValue().Secret {
			return graph.SecretValue
		}
		return plainValue(v.OutputValue().Element)
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsObject():
		return Plain(v.ObjectValue())
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = plainValue(e)
		}
		return out
	case v.IsNull():
		return nil
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsBool():
		return v.BoolValue()
	case v.IsAsset():
		return v.AssetValue().Path
	case v.IsArchive():
		return v.ArchiveValue().Path
	}
	return v.V
}
