package stacks

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/stacks/spec"
)

// A stack whose tiers cannot all be built registers none of them: every
// tier's arguments are checked before the first is registered.
func TestTiersRegisterNothingWhenOneIsWrong(t *testing.T) {
	s, err := spec.LoadFile("Pulumi.staging.yaml")
	require.NoError(t, err)
	s.Gateway.MinReplicas = 2 // below the production floor (the spec refuses it too)
	s.Mesh.IstiodReplicas = 1 // a single istiod
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewPlatform(ctx, s, Options{})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stack staging: mesh: istiod replicas 1: at least 2")
	assert.Contains(t, err.Error(), "gateway: replicas 2-10: at least 1 (3 in production)")
	assert.Empty(t, g.Resources, "nothing was registered, not even the cloud tier")
}
