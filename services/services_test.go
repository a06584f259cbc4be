package services_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services"
)

func TestTable(t *testing.T) {
	s, ok := services.Lookup("api-service")
	require.True(t, ok)
	assert.Equal(t, "./services/api", s.Package)
	assert.Equal(t, "ghcr.io/cloudscale/api-service", s.Repository())
	_, ok = services.Lookup("web")
	assert.False(t, ok)
	for _, s := range services.All {
		assert.NotEmpty(t, s.Version, s.Name)
		assert.True(t, strings.HasPrefix(s.Package, "./services/"), s.Package)
	}
}

func TestParseLock(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	cases := []struct{ name, body, err string }{
		{"ok", `{"go":"go1.26.8","images":[{"name":"slogate","repository":"cloudscale/slogate","digest":"` + d + `"}]}`, ""},
		{"not JSON", `{`, "images lock: unexpected end of JSON input"},
		{"no Go version", `{"images":[]}`, "the Go version that built the images is missing"},
		{"no name", `{"go":"go1","images":[{"repository":"r","digest":"` + d + `"}]}`, "images[0].name is empty"},
		{"twice", `{"go":"go1","images":[{"name":"a","repository":"r","digest":"` + d + `"},{"name":"a","repository":"r","digest":"` + d + `"}]}`, "images[1]: a appears twice"},
		{"no repository", `{"go":"go1","images":[{"name":"a","digest":"` + d + `"}]}`, "a: repository is empty"},
		{"bad digest", `{"go":"go1","images":[{"name":"a","repository":"r","digest":"sha256:abc"}]}`, `a: digest "sha256:abc" is not sha256:<64 hex>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := services.ParseLock([]byte(tc.body))
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			im, ok := l.Image("slogate")
			require.True(t, ok)
			assert.Equal(t, d, im.Digest)
		})
	}
}

// The embedded lock parses and names only known services; its freshness
// is services/image's TestLockIsFresh.
func TestEmbeddedLock(t *testing.T) {
	lock, err := services.Locked()
	require.NoError(t, err)
	digests, err := services.Digests()
	require.NoError(t, err)
	assert.Len(t, digests, len(lock.Images))
	for _, im := range lock.Images {
		s, ok := services.Lookup(im.Name)
		require.Truef(t, ok, "services/images.json: %s is not in services.All", im.Name)
		assert.Equal(t, s.Repository(), im.Repository)
		assert.Equal(t, im.Digest, digests[im.Name])
	}
}
