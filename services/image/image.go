// Package image builds the services' OCI images offline, without Docker
// and without pulling a base image: a static Go binary (CGO off, trimmed
// paths, no build id, so the same source and toolchain give the same
// bytes), a non-root user, a CA bundle from a pinned Go module and a
// world-writable /tmp, and nothing else (no shell, no package manager).
//
// An image is an OCI image index over Options.Platforms (linux/amd64 and
// linux/arm64 by default) whose digest is reproducible: services/images.json
// locks it, and the stack deploys <registry>/cloudscale/<name>@<digest>.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cloudscale/platform/services"
)

// Paths and identities inside every image; the Dockerfiles use the same.
const (
	// BinDir holds the service's binary, /usr/local/bin/<name>.
	BinDir = "/usr/local/bin"
	// CABundle is the PEM bundle of trusted roots; SSL_CERT_FILE names it.
	CABundle = "/etc/ssl/certs/ca-certificates.crt"
	// User is the non-root user:group the service runs as (distroless's
	// "nonroot").
	User = "65532:65532"
	// UID and GID of User.
	UID, GID = 65532, 65532
	// Port is the port every service listens on.
	Port = "8080/tcp"
	// DefaultSource is the org.opencontainers.image.source label.
	DefaultSource = "https://github.com/cloudscale/platform"
)

// Binary is the path of service name's binary in its image, also its
// entrypoint.
func Binary(name string) string { return BinDir + "/" + name }

// DefaultPlatforms are the platforms an image is built for unless
// Options.Platforms says otherwise.
var DefaultPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// epoch is every timestamp in an image (config, history, files): the
// Unix epoch, so that a rebuild gives the same digest.
var epoch = time.Unix(0, 0).UTC()

// Options tune a build; the zero value builds the default platforms with
// the go command found on PATH.
type Options struct {
	// Platforms to build (only linux/amd64 and linux/arm64 are known);
	// empty means DefaultPlatforms.
	Platforms []v1.Platform
	// Source is the org.opencontainers.image.source label (default
	// DefaultSource).
	Source string
	// Revision, when set, is the org.opencontainers.image.revision label
	// (a commit). Left empty by `make images` so the lock does not go
	// stale on every commit.
	Revision string
	// Go is the go command (default "go").
	Go string
}

func (o Options) platforms() []v1.Platform {
	if len(o.Platforms) == 0 {
		return DefaultPlatforms
	}
	return o.Platforms
}

func (o Options) goCmd() string {
	if o.Go == "" {
		return "go"
	}
	return o.Go
}

// ParsePlatform reads "os/arch" (e.g. "linux/arm64") as one of the
// platforms Build knows.
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", s, err)
	}
	if _, ok := goarchLevel[p.Architecture]; !ok || p.OS != "linux" || p.Variant != "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want linux/amd64 or linux/arm64", s)
	}
	return *p, nil
}

// goarchLevel pins each architecture's instruction-set level, so the
// binary does not depend on the builder's GOAMD64/GOARM64.
var goarchLevel = map[string]string{"amd64": "GOAMD64=v1", "arm64": "GOARM64=v8.0"}

// Build compiles service s of the module at root for every platform of o
// and returns the OCI image index over those images. Errors carry the go
// command's output.
func Build(ctx context.Context, root string, s services.Service, o Options) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.platforms() {
		img, err := BuildImage(ctx, root, s, p, o)
		if err != nil {
			return nil, err
		}
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx, nil
}

// BuildImage compiles service s for one platform and returns its image:
// two layers (the shared base: users, CA bundle, /tmp; then the binary),
// the config of a non-root service on port 8080, created at the epoch.
func BuildImage(ctx context.Context, root string, s services.Service, p v1.Platform, o Options) (v1.Image, error) {
	if s.Name == "" || s.Package == "" {
		return nil, fmt.Errorf("image: service %+v: name and package are required", s)
	}
	if _, err := ParsePlatform(p.OS + "/" + p.Architecture); err != nil {
		return nil, fmt.Errorf("image %s: %w", s.Name, err)
	}
	bin, err := compile(ctx, root, s, p, o)
	if err != nil {
		return nil, err
	}
	base, err := baseLayer()
	if err != nil {
		return nil, err
	}
	app, err := layer([]file{
		{path: "usr/", dir: true, mode: 0o755},
		{path: "usr/local/", dir: true, mode: 0o755},
		{path: "usr/local/bin/", dir: true, mode: 0o755},
		{path: strings.TrimPrefix(Binary(s.Name), "/"), mode: 0o755, body: bin},
	})
	if err != nil {
		return nil, fmt.Errorf("image %s: binary layer: %w", s.Name, err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, config(s, p, o))
	if err != nil {
		return nil, err
	}
	return mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "cloudscale images: /etc/passwd, /etc/group, " + CABundle + ", /tmp"}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "cloudscale images: go build " + s.Package}},
	)
}

func config(s services.Service, p v1.Platform, o Options) *v1.ConfigFile {
	source := o.Source
	if source == "" {
		source = DefaultSource
	}
	labels := map[string]string{
		"org.opencontainers.image.title":   s.Name,
		"org.opencontainers.image.source":  source,
		"org.opencontainers.image.version": s.Version,
	}
	if o.Revision != "" {
		labels["org.opencontainers.image.revision"] = o.Revision
	}
	return &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Created:      v1.Time{Time: epoch},
		Config: v1.Config{
			User:         User,
			Entrypoint:   []string{Binary(s.Name)},
			Env:          []string{"PATH=" + BinDir, "SSL_CERT_FILE=" + CABundle},
			WorkingDir:   "/",
			ExposedPorts: map[string]struct{}{Port: {}},
			Labels:       labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
}

// compile runs go build for one platform with everything that would make
// the binary differ between builders pinned or stripped, and returns the
// binary.
func compile(ctx context.Context, root string, s services.Service, p v1.Platform, o Options) ([]byte, error) {
	dir, err := os.MkdirTemp("", "cloudscale-image-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	out := filepath.Join(dir, s.Name)
	cmd := exec.CommandContext(ctx, o.goCmd(), "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, s.Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture, goarchLevel[p.Architecture], "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("image %s: go build %s for %s/%s: %w\n%s", s.Name, s.Package, p.OS, p.Architecture, err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(out)
}

// GoVersion is the version of the go command o builds with, e.g.
// "go1.26.8".
func GoVersion(ctx context.Context, o Options) (string, error) {
	out, err := exec.CommandContext(ctx, o.goCmd(), "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("%s env GOVERSION: %w", o.goCmd(), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// passwd and group know root and the non-root user; nobody gets a shell.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// baseLayer is the layer every image shares (same bytes, same digest, so
// a registry stores it once).
func baseLayer() (v1.Layer, error) {
	l, err := layer([]file{
		{path: "etc/", dir: true, mode: 0o755},
		{path: "etc/group", mode: 0o644, body: []byte(group)},
		{path: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{path: "etc/ssl/", dir: true, mode: 0o755},
		{path: "etc/ssl/certs/", dir: true, mode: 0o755},
		{path: strings.TrimPrefix(CABundle, "/"), mode: 0o644, body: caBundle()},
		{path: "home/", dir: true, mode: 0o755},
		{path: "home/nonroot/", dir: true, mode: 0o700, uid: UID, gid: GID},
		{path: "root/", dir: true, mode: 0o700},
		{path: "tmp/", dir: true, mode: 0o1777},
	})
	if err != nil {
		return nil, fmt.Errorf("image: base layer: %w", err)
	}
	return l, nil
}

// file is one entry of a layer; paths are relative to / and directories
// end in "/".
type file struct {
	path     string
	dir      bool
	mode     int64
	uid, gid int
	body     []byte
}

// layer writes files, in the order given, into a tar with fixed times
// and owners, and wraps it as a gzip-compressed OCI layer.
func layer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: epoch, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}
