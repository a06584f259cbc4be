package image_test

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services"
	"github.com/cloudscale/platform/services/image"
)

// root is the module's root, where the go command builds from.
const root = "../.."

func slogate(t *testing.T) services.Service {
	t.Helper()
	s, ok := services.Lookup("slogate")
	require.True(t, ok, "slogate is in services.All")
	return s
}

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// entry is a file of an image as its layers leave it.
type entry struct {
	typ      byte
	mode     int64
	uid, gid int
	body     []byte
}

// files reads every layer of img in order into one file system view.
func files(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	out := map[string]entry{}
	for _, l := range layers {
		mt, err := l.MediaType()
		require.NoError(t, err)
		assert.Equal(t, types.OCILayer, mt)
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			body, err := io.ReadAll(tr)
			require.NoError(t, err)
			out["/"+strings.TrimSuffix(h.Name, "/")] = entry{typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, body: body}
		}
		require.NoError(t, rc.Close())
	}
	return out
}

func TestImageContentAndConfig(t *testing.T) {
	s := slogate(t)
	img, err := image.BuildImage(context.Background(), root, s, amd64, image.Options{Revision: "abc123"})
	require.NoError(t, err)

	mt, err := img.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, mt)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, "amd64", cf.Architecture)
	assert.Equal(t, "65532:65532", cf.Config.User, "runs as the non-root user")
	assert.Equal(t, []string{"/usr/local/bin/slogate"}, cf.Config.Entrypoint)
	assert.Empty(t, cf.Config.Cmd)
	assert.Contains(t, cf.Config.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
	assert.Equal(t, "/", cf.Config.WorkingDir)
	assert.Equal(t, map[string]struct{}{"8080/tcp": {}}, cf.Config.ExposedPorts)
	assert.Equal(t, map[string]string{
		"org.opencontainers.image.title":    "slogate",
		"org.opencontainers.image.source":   "https://github.com/cloudscale/platform",
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": "abc123",
	}, cf.Config.Labels)
	assert.Equal(t, int64(0), cf.Created.Unix(), "created at the epoch")
	assert.Len(t, cf.History, 2)

	fs := files(t, img)
	paths := make([]string, 0, len(fs))
	for p := range fs {
		paths = append(paths, p)
	}
	// Exactly these files: no shell, no package manager, nothing else.
	assert.ElementsMatch(t, []string{
		"/etc", "/etc/group", "/etc/passwd", "/etc/ssl", "/etc/ssl/certs", "/etc/ssl/certs/ca-certificates.crt",
		"/home", "/home/nonroot", "/root", "/tmp", "/usr", "/usr/local", "/usr/local/bin", "/usr/local/bin/slogate",
	}, paths)
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/sh"} {
		assert.NotContains(t, fs, sh)
	}

	modes := []struct {
		path     string
		typ      byte
		mode     int64
		uid, gid int
	}{
		{"/usr/local/bin/slogate", tar.TypeReg, 0o755, 0, 0},
		{"/tmp", tar.TypeDir, 0o1777, 0, 0},
		{"/home/nonroot", tar.TypeDir, 0o700, 65532, 65532},
		{"/etc/passwd", tar.TypeReg, 0o644, 0, 0},
		{"/etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, 0},
	}
	for _, m := range modes {
		e := fs[m.path]
		assert.Equal(t, m.typ, e.typ, m.path)
		assert.Equalf(t, m.mode, e.mode, "%s mode %o", m.path, e.mode)
		assert.Equal(t, []int{m.uid, m.gid}, []int{e.uid, e.gid}, m.path)
	}
	assert.Contains(t, string(fs["/etc/passwd"].body), "nonroot:x:65532:65532:")
	assert.Contains(t, string(fs["/etc/group"].body), "nonroot:x:65532:")
	assert.Equal(t, "\x7fELF", string(fs["/usr/local/bin/slogate"].body[:4]), "a Linux binary")

	// The CA bundle is PEM certificates only, enough of them to reach
	// any public endpoint.
	rest, n := fs["/etc/ssl/certs/ca-certificates.crt"].body, 0
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		require.NotNil(t, b, "the bundle holds only PEM blocks")
		require.Equal(t, "CERTIFICATE", b.Type)
		_, err := x509.ParseCertificate(b.Bytes)
		require.NoError(t, err)
		n++
	}
	assert.Greater(t, n, 100, "roots in the bundle")
	t.Logf("CA bundle: %d roots, %d bytes", n, len(fs["/etc/ssl/certs/ca-certificates.crt"].body))
}

func TestBuildIsReproducible(t *testing.T) {
	s := slogate(t)
	ctx := context.Background()
	a, err := image.Build(ctx, root, s, image.Options{})
	require.NoError(t, err)
	b, err := image.Build(ctx, root, s, image.Options{})
	require.NoError(t, err)
	da, err := a.Digest()
	require.NoError(t, err)
	db, err := b.Digest()
	require.NoError(t, err)
	assert.Equal(t, da, db, "two builds of the same source give the same digest")
	t.Logf("slogate: %s", da)

	m, err := a.IndexManifest()
	require.NoError(t, err)
	assert.Equal(t, types.OCIImageIndex, m.MediaType)
	require.Len(t, m.Manifests, 2)
	var base []v1.Hash
	for i, want := range []string{"linux/amd64", "linux/arm64"} {
		require.NotNil(t, m.Manifests[i].Platform)
		assert.Equal(t, want, m.Manifests[i].Platform.String())
		img, err := a.Image(m.Manifests[i].Digest)
		require.NoError(t, err)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, m.Manifests[i].Platform.Architecture, cf.Architecture)
		ls, err := img.Layers()
		require.NoError(t, err)
		d, err := ls[0].Digest()
		require.NoError(t, err)
		base = append(base, d)
	}
	assert.Equal(t, base[0], base[1], "every image shares the base layer")

	entry, err := image.LockEntry(s, a)
	require.NoError(t, err)
	assert.Equal(t, services.Image{Name: "slogate", Repository: "ghcr.io/cloudscale/slogate", Version: s.Version, Digest: da.String(), Platforms: []string{"linux/amd64", "linux/arm64"}}, entry)
}

func TestPushPullAndLayout(t *testing.T) {
	s := slogate(t)
	ctx := context.Background()
	idx, err := image.Build(ctx, root, s, image.Options{Platforms: []v1.Platform{amd64}})
	require.NoError(t, err)
	want, err := idx.Digest()
	require.NoError(t, err)

	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	require.True(t, strings.HasPrefix(host, "127.0.0.1:"), host)
	repo, err := image.Repository(host, s)
	require.NoError(t, err)
	ref, err := image.Push(ctx, repo, idx, []string{s.Version}, authn.DefaultKeychain)
	require.NoError(t, err)
	assert.Equal(t, host+"/slogate@"+want.String(), ref.String())
	// Pushing the same image again is a no-op, not an error.
	_, err = image.Push(ctx, repo, idx, []string{s.Version}, authn.DefaultKeychain)
	require.NoError(t, err)

	pulled, err := remote.Index(ref, remote.WithContext(ctx))
	require.NoError(t, err)
	got, err := pulled.Digest()
	require.NoError(t, err)
	assert.Equal(t, want, got, "pulled by digest")
	desc, err := remote.Get(repo.Tag(s.Version), remote.WithContext(ctx))
	require.NoError(t, err)
	assert.Equal(t, want, desc.Digest, "the version tag names the same index")
	img, err := pulled.Image(mustManifests(t, pulled)[0].Digest)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", cf.Config.User)

	dir := t.TempDir()
	require.NoError(t, image.WriteLayout(dir, image.Named{Service: s, Index: idx}))
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	li, err := p.ImageIndex()
	require.NoError(t, err)
	lm, err := li.IndexManifest()
	require.NoError(t, err)
	require.Len(t, lm.Manifests, 1)
	assert.Equal(t, want, lm.Manifests[0].Digest)
	assert.Equal(t, "ghcr.io/cloudscale/slogate:"+s.Version, lm.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	// Written again, the layout still lists the image once.
	require.NoError(t, image.WriteLayout(dir, image.Named{Service: s, Index: idx}))
	li, err = p.ImageIndex()
	require.NoError(t, err)
	assert.Len(t, mustManifests(t, li), 1)
}

func mustManifests(t *testing.T, idx v1.ImageIndex) []v1.Descriptor {
	t.Helper()
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	return m.Manifests
}

func TestRepositoryAndPlatform(t *testing.T) {
	s := slogate(t)
	for _, tc := range []struct{ registry, want string }{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudscale-prod", "123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudscale-prod/slogate"},
		{"europe-west1-docker.pkg.dev/cloudscale-prod/cloudscale-prod-gcp-images/", "europe-west1-docker.pkg.dev/cloudscale-prod/cloudscale-prod-gcp-images/slogate"},
		{"ghcr.io/cloudscale", "ghcr.io/cloudscale/slogate"},
	} {
		r, err := image.Repository(tc.registry, s)
		require.NoError(t, err)
		assert.Equal(t, tc.want, r.String())
	}
	_, err := image.Repository("Bad Registry", s)
	assert.ErrorContains(t, err, `registry prefix "Bad Registry"`)

	p, err := image.ParsePlatform("linux/arm64")
	require.NoError(t, err)
	assert.Equal(t, "arm64", p.Architecture)
	_, err = image.ParsePlatform("windows/amd64")
	assert.ErrorContains(t, err, `platform "windows/amd64": want linux/amd64 or linux/arm64`)
}

// update rewrites services/images.json instead of checking it (what
// `make images` does, without building the CLI).
var update = flag.Bool("update", false, "rewrite services/images.json from this build")

// TestLockIsFresh rebuilds every service and compares it with
// services/images.json: a lock that no longer matches the source fails
// here, not at deploy time.
func TestLockIsFresh(t *testing.T) {
	lock, err := services.Locked()
	require.NoError(t, err)
	ctx := context.Background()
	goVersion, err := image.GoVersion(ctx, image.Options{})
	require.NoError(t, err)
	if *update {
		fresh := services.Lock{Go: goVersion}
		for _, s := range services.All {
			start := time.Now()
			idx, err := image.Build(ctx, root, s, image.Options{})
			require.NoError(t, err)
			e, err := image.LockEntry(s, idx)
			require.NoError(t, err)
			t.Logf("%s: %s in %.1fs", s.Name, e.Digest, time.Since(start).Seconds())
			fresh.Images = append(fresh.Images, e)
		}
		b, err := fresh.Marshal()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(root, "services", "images.json"), b, 0o644))
		return
	}
	require.Equalf(t, lock.Go, goVersion, "services/images.json was built with %s, this is %s: run `make images`", lock.Go, goVersion)
	for _, s := range services.All {
		t.Run(s.Name, func(t *testing.T) {
			locked, ok := lock.Image(s.Name)
			require.Truef(t, ok, "services/images.json has no %s: run `make images`", s.Name)
			start := time.Now()
			idx, err := image.Build(ctx, root, s, image.Options{})
			require.NoError(t, err)
			got, err := image.LockEntry(s, idx)
			require.NoError(t, err)
			if got.Digest != locked.Digest {
				t.Fatalf("services/images.json is stale for %s: run `make images` (locked %s, built %s)", s.Name, locked.Digest, got.Digest)
			}
			assert.Equalf(t, got, locked, "services/images.json is stale for %s: run `make images`", s.Name)
			t.Logf("%s: %s in %.1fs", s.Name, got.Digest, time.Since(start).Seconds())
		})
	}
	assert.Len(t, lock.Images, len(services.All), "services/images.json lists exactly the services of services.All")
}

// TestDockerfiles reads each service's Dockerfile (for users with Docker;
// not built here): its final stage is distroless non-root and runs the
// binary at the path the image package uses.
func TestDockerfiles(t *testing.T) {
	for _, s := range services.All {
		t.Run(s.Name, func(t *testing.T) {
			path := filepath.Join(root, s.Package, "Dockerfile")
			f, err := os.Open(path)
			require.NoError(t, err)
			defer func() { _ = f.Close() }()
			var froms, final []string
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
					froms = append(froms, line)
					final = nil
				}
				final = append(final, line)
			}
			require.NoError(t, sc.Err())
			require.GreaterOrEqual(t, len(froms), 2, "%s: multi-stage", path)
			assert.Regexp(t, `(?i)^FROM (--platform=\S+ )?golang:1\.26\S* AS \w+`, froms[0], path)
			assert.Equal(t, "FROM gcr.io/distroless/static-debian12:nonroot", final[0], path)
			body := strings.Join(final, "\n")
			assert.Contains(t, body, "\nUSER 65532:65532", path)
			assert.Contains(t, body, `ENTRYPOINT ["`+image.Binary(s.Name)+`"]`, path)
			assert.Regexp(t, `COPY --from=\w+ \S+ `+image.Binary(s.Name), body, path)
			assert.NotContains(t, body, "RUN ", "%s: the final stage has no shell to run anything", path)
		})
	}
}
