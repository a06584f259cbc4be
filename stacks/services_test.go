package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/services"
)

// Every stack runs the services, and the chaos tier's SLO gate, from its
// cloud's registry (the public one on the local stack), by the digest the
// images lock holds.
func TestServicesRunTheLockedImages(t *testing.T) {
	digests, err := services.Digests()
	require.NoError(t, err)
	for stack, prefix := range map[string]string{"local": services.PublicRegistry, "prod": `\.dkr\.ecr\.us-east-1\.amazonaws\.com/`,
		"prod-gcp": `us-central1-docker\.pkg\.dev/cloudscale-prod/`, "prod-azure": `\.azurecr\.io/`} {
		t.Run(stack, func(t *testing.T) {
			g := run(t, stack).Graph
			for name, deployment := range map[string]string{"api-service": "api-service", "order-worker": "order-worker", "slogate": "slo-gate"} {
				d := componenttest.Object[appsv1.Deployment](t, g, "kubernetes:apps/v1:Deployment", deployment)
				image := d.Spec.Template.Spec.Containers[0].Image
				digest, locked := digests[name]
				require.True(t, locked, "services/images.json holds %s", name)
				assert.Regexp(t, `@`+digest+`$`, image, name)
				assert.Regexp(t, prefix, image, name)
				assert.Regexp(t, `/`+name+`@sha256:[0-9a-f]{64}$`, image, name)
			}
		})
	}
}
