package tier

import (
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder keeps each custom resource's parent and dependencies.
type recorder struct {
	mu      sync.Mutex
	parents map[string]string
	deps    map[string][]string
}

func (r *recorder) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parents[a.Name] = a.RegisterRPC.GetParent()
	r.deps[a.Name] = a.RegisterRPC.GetDependencies()
	return a.Name + "-id", a.Inputs, nil
}

func (r *recorder) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

type component struct{ pulumi.ResourceState }

type object struct{ pulumi.CustomResourceState }

// A tier's children wait for what the tier was given to wait for: all of
// another tier's children, when that is a component. Without it, they
// wait for nothing.
func TestChildrenInheritTheTiersDependencies(t *testing.T) {
	rec := &recorder{parents: map[string]string{}, deps: map[string][]string{}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		baseline := &component{}
		if err := ctx.RegisterComponentResource("test:index:Baseline", "baseline", baseline); err != nil {
			return err
		}
		var ns object
		if err := ctx.RegisterResource("test:index:Object", "namespace", nil, &ns, pulumi.Parent(baseline)); err != nil {
			return err
		}
		opts := []pulumi.ResourceOption{pulumi.DependsOn([]pulumi.Resource{baseline})}
		mesh := &component{}
		if err := ctx.RegisterComponentResource("test:index:Mesh", "mesh", mesh, opts...); err != nil {
			return err
		}
		var inherited, loose object
		if err := ctx.RegisterResource("test:index:Object", "inherited", nil, &inherited, Children(mesh, opts)...); err != nil {
			return err
		}
		return ctx.RegisterResource("test:index:Object", "loose", nil, &loose, Children(mesh, nil)...)
	}, pulumi.WithMocks("project", "stack", rec))
	require.NoError(t, err)
	require.Len(t, rec.deps["inherited"], 1)
	assert.True(t, strings.HasSuffix(rec.deps["inherited"][0], "::namespace"), "the baseline's child: %v", rec.deps["inherited"])
	assert.True(t, strings.HasSuffix(rec.parents["inherited"], "::mesh"), rec.parents["inherited"])
	assert.Empty(t, rec.deps["loose"])
	assert.True(t, strings.HasSuffix(rec.parents["loose"], "::mesh"))
}
