package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services"
)

// runSplit executes the CLI in-process with stdout and stderr apart.
func runSplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--project-dir", "../.."}, args...))
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestImagesBuildLayoutAndPush(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := filepath.Join(t.TempDir(), "layout")

	stdout, stderr, err := runSplit(t, "images", "build", "--service", "slogate", "--platform", "linux/amd64",
		"--output", dir, "--push", host+"/cloudscale", "--format", "json")
	require.NoError(t, err, stderr)
	assert.Regexp(t, `building slogate \.\.\. [0-9.]+s, sha256:[0-9a-f]{64}`, stderr)
	assert.Contains(t, stderr, "pushed "+host+"/cloudscale/slogate@sha256:")
	assert.Contains(t, stderr, "-- images: 1 built with go")

	var rep imagesReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
	require.Len(t, rep.Images, 1)
	im := rep.Images[0]
	s, _ := services.Lookup("slogate")
	assert.Equal(t, "slogate", im.Name)
	assert.Equal(t, "ghcr.io/cloudscale/slogate", im.Repository)
	assert.Equal(t, []string{"linux/amd64"}, im.Platforms)
	assert.Equal(t, host+"/cloudscale/slogate@"+im.Digest, im.Pushed)
	assert.Equal(t, dir, rep.Layout)
	assert.Empty(t, rep.Lock)
	t.Logf("slogate linux/amd64: %s in %.1fs", im.Digest, im.Seconds)

	// The layout holds the image under its digest.
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	idx, err := p.ImageIndex()
	require.NoError(t, err)
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 1)
	assert.Equal(t, im.Digest, m.Manifests[0].Digest.String())

	// The registry serves it by digest and by its version tag.
	ref, err := name.NewDigest(im.Pushed)
	require.NoError(t, err)
	pulled, err := remote.Index(ref)
	require.NoError(t, err)
	d, err := pulled.Digest()
	require.NoError(t, err)
	assert.Equal(t, im.Digest, d.String())
	tag, err := name.NewTag(host + "/cloudscale/slogate:" + s.Version)
	require.NoError(t, err)
	desc, err := remote.Get(tag)
	require.NoError(t, err)
	assert.Equal(t, im.Digest, desc.Digest.String())

	// The text summary is a table.
	stdout, stderr, err = runSplit(t, "images", "build", "--service", "slogate", "--platform", "linux/amd64")
	require.NoError(t, err, stderr)
	assert.Regexp(t, `SERVICE\s+VERSION\s+DIGEST\s+PLATFORMS\s+SECONDS\nslogate\s+`+s.Version+`\s+`+im.Digest+`\s+linux/amd64`, stdout)
}

func TestImagesBuildUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown service", []string{"--service", "web"}, `--service "web": want one of api-service, order-worker, slogate`},
		{"unknown format", []string{"--format", "yaml"}, `--format "yaml": want text or json`},
		{"unknown platform", []string{"--platform", "linux/s390x"}, `--platform: platform "linux/s390x": want linux/amd64 or linux/arm64`},
		{"lock of a subset of platforms", []string{"--write-lock", "--platform", "linux/amd64"}, "--write-lock locks the default images: not with --platform or --revision"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := run(t, append([]string{"images", "build"}, tc.args...)...)
			assert.Equal(t, 2, code, out)
			assert.Contains(t, out, tc.want)
		})
	}
}

func TestWriteLockMergesSubset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "images.json")
	digest := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	img := func(n, c string) services.Image {
		return services.Image{Name: n, Repository: "ghcr.io/cloudscale/" + n, Version: "0.1.0", Digest: digest(c), Platforms: []string{"linux/amd64", "linux/arm64"}}
	}
	all := []builtImage{{Image: img("slogate", "c")}, {Image: img("order-worker", "b")}, {Image: img("api-service", "a")}}
	require.NoError(t, writeLock(path, "go1.26.8", all))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lock, err := services.ParseLock(b)
	require.NoError(t, err)
	assert.Equal(t, "go1.26.8", lock.Go)
	assert.Equal(t, []services.Image{img("api-service", "a"), img("order-worker", "b"), img("slogate", "c")}, lock.Images, "in the order of services.All")

	// One service rebuilt: the others stay.
	require.NoError(t, writeLock(path, "go1.26.8", []builtImage{{Image: img("slogate", "d")}}))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	lock, err = services.ParseLock(b)
	require.NoError(t, err)
	assert.Equal(t, []services.Image{img("api-service", "a"), img("order-worker", "b"), img("slogate", "d")}, lock.Images)

	// Another toolchain cannot update a subset.
	err = writeLock(path, "go1.27.0", []builtImage{{Image: img("slogate", "e")}})
	assert.ErrorContains(t, err, "was built with go1.26.8, this is go1.27.0: rebuild every service (no --service)")
}
