// Package componenttest runs one component under Pulumi mocks and returns
// what it registered as graph resources, so component tests assert on
// inputs (and can hand them to the policy gate) without a whole stack.
package componenttest

import (
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/graph"
)

// recorder is a mock monitor that keeps every registration; resources
// echo their inputs as outputs.
type recorder struct {
	mu  sync.Mutex
	res []graph.Resource
}

func (r *recorder) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res = append(r.res, graph.Resource{Type: a.TypeToken, Name: a.Name, URN: a.TypeToken + "::" + a.Name, Inputs: a.Inputs.Mappable()})
	return a.Name + "-id", a.Inputs, nil
}

func (r *recorder) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// Run runs program under mocks and returns what it registered, even when
// it fails (so a test can assert that nothing was).
func Run(program pulumi.RunFunc) (graph.Graph, error) {
	rec := &recorder{}
	err := pulumi.RunErr(program, pulumi.WithMocks("cloudscale", "test", rec))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return graph.Graph{Source: "componenttest", Resources: append([]graph.Resource(nil), rec.res...)}, err
}

// Spec returns the spec input of the resource of type typ named name,
// failing the test when there is none.
func Spec(t testing.TB, g graph.Graph, typ, name string) map[string]any {
	t.Helper()
	r, ok := g.Named(typ, name)
	if !ok {
		t.Fatalf("no %s %s registered", typ, name)
	}
	spec, ok := r.Inputs["spec"].(map[string]any)
	if !ok {
		t.Fatalf("%s %s has no spec", typ, name)
	}
	return spec
}
