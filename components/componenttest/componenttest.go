// Package componenttest runs one component under Pulumi mocks and returns
// what it registered as graph resources, so component tests assert on
// inputs (and can hand them to the policy gate) without a whole stack.
package componenttest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/policies"
	"github.com/cloudscale/platform/strict"
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

// Object decodes the inputs of the resource of type typ named name into
// T, the object's own Go type (an operator's API type, a k8s.io/api type,
// or a chart's typed values), failing the test with a message when there
// is none or when the inputs do not fit T: a changed shape is a test
// failure, not a panic.
func Object[T any](t testing.TB, g graph.Graph, typ, name string) *T {
	t.Helper()
	r, ok := g.Named(typ, name)
	if !ok {
		t.Fatalf("no %s %s registered", typ, name)
	}
	return Decode[T](t, r.Inputs, typ+" "+name)
}

// Decode decodes v (registered inputs, or a part of them) into T
// strictly, failing the test with every key that does not fit.
func Decode[T any](t testing.TB, v any, what string) *T {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	out := new(T)
	if errs := strict.Decode(data, out, nil); len(errs) > 0 {
		t.Fatalf("%s does not decode into %T: %v", what, out, errs.ToAggregate())
	}
	return out
}

// PassesPolicies evaluates the policy gate on what a component registered
// under env's enforcement, with what other tiers provide around it: the
// security baseline's default deny in namespace ns and the cloud tier's
// encrypted StorageClass cloudscale-encrypted (an EBS class with a KMS
// key). Every finding fails the test by rule and message.
func PassesPolicies(t testing.TB, g graph.Graph, env, ns string) {
	t.Helper()
	g.Resources = append(append([]graph.Resource(nil), g.Resources...),
		graph.Resource{Type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", Name: "default-deny", URN: "default-deny",
			Inputs: map[string]any{"metadata": map[string]any{"name": "default-deny", "namespace": ns},
				"spec": map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress", "Egress"}}}},
		graph.Resource{Type: "kubernetes:storage.k8s.io/v1:StorageClass", Name: "cloudscale-encrypted", URN: "cloudscale-encrypted",
			Inputs: map[string]any{"metadata": map[string]any{"name": "cloudscale-encrypted"}, "provisioner": "ebs.csi.aws.com",
				"parameters": map[string]any{"encrypted": "true", "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k"}}})
	e, err := policies.New()
	if err != nil {
		t.Fatalf("policy engine: %v", err)
	}
	rep, err := e.Check(context.Background(), g, env)
	if err != nil {
		t.Fatalf("policy check: %v", err)
	}
	for _, f := range rep.Findings {
		t.Errorf("%s %s: %s", f.RuleID, f.Name, f.Message)
	}
}
