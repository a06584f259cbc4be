package mocks

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"

	"github.com/cloudscale/platform/graph"
)

func TestPlainHidesSecrets(t *testing.T) {
	pm := resource.PropertyMap{
		"name":     resource.NewProperty("db"),
		"password": resource.MakeSecret(resource.NewProperty("hunter2")),
		"nested": resource.NewProperty(resource.PropertyMap{
			"token": resource.MakeSecret(resource.NewProperty("abc")),
			"ports": resource.NewProperty([]resource.PropertyValue{resource.NewProperty(443.0)}),
		}),
		"pending":    resource.MakeComputed(resource.NewProperty("")),
		"__defaults": resource.NewProperty([]resource.PropertyValue{}),
	}
	assert.Equal(t, map[string]any{
		"name":     "db",
		"password": graph.SecretValue,
		"nested":   map[string]any{"token": graph.SecretValue, "ports": []any{443.0}},
		"pending":  nil,
	}, Plain(pm))
}
