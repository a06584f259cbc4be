package policies

import (
	"context"
	"testing"

	"github.com/distribution/reference"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImageRefMatchesDistributionReference checks the rules' image-name
// normalisation (lib.image_ref, lib.image_tag) against
// github.com/distribution/reference, the parser container runtimes use, so
// the Rego (which also runs under conftest, without Go) reads names the way
// the runtime pulls them.
func TestImageRefMatchesDistributionReference(t *testing.T) {
	images := []string{
		"redis", "redis:7.2.4", "docker.io/redis:7.2.4", "index.docker.io/library/redis:7.2.4",
		"docker.io/library/redis", "bitnami/redis:7.2", "docker.io/bitnami/redis:7.2",
		"ghcr.io/cloudscale/web:1.4.2", "registry.k8s.io/pause:3.10", "localhost/app:dev",
		"localhost:5000/team/app:1.0", "registry.example.com:5000/app",
		"quay.io/jetstack/cert-manager-controller:v1.18.2",
		"redis:latest@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"ghcr.io/cloudscale/web@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"docker.io.evil.example/library/redis:7.2.4",
	}
	mods, err := Modules(false)
	require.NoError(t, err)
	var opts []func(*rego.Rego)
	for name, src := range mods {
		opts = append(opts, rego.Module(name, src))
	}
	q, err := rego.New(append(opts, rego.Query("ref := data.cloudscale.lib.image_ref(input); tag := data.cloudscale.lib.image_tag(input)"))...).
		PrepareForEval(context.Background())
	require.NoError(t, err)
	for _, img := range images {
		t.Run(img, func(t *testing.T) {
			named, err := reference.ParseNormalizedNamed(img)
			require.NoError(t, err)
			wantTag := ""
			if tagged, ok := named.(reference.Tagged); ok {
				wantTag = tagged.Tag()
			}
			if _, ok := named.(reference.Digested); ok {
				wantTag = "digest"
			}
			rs, err := q.Eval(context.Background(), rego.EvalInput(img))
			require.NoError(t, err)
			require.Len(t, rs, 1, "the rules give %s no name", img)
			assert.Equal(t, named.Name(), rs[0].Bindings["ref"], "image_ref(%q)", img)
			assert.Equal(t, wantTag, rs[0].Bindings["tag"], "image_tag(%q)", img)
		})
	}
}
