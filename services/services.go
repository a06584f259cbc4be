// Package services is the table of the platform's Go services and the lock
// of their images (images.json beside this file, written by `make images`).
//
// The stack reads the lock through Digests or Locked and references every
// workload's image as <registry prefix>/<name>@<digest>, so `pulumi up`
// builds nothing and deploys exactly the bytes CI built and tested. The
// package is deliberately light (no container or cloud SDK) so the stack
// can import it.
package services

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

// Service is one Go service the platform runs.
type Service struct {
	// Name is the service's name in the cluster and its image's name, e.g.
	// "api-service".
	Name string
	// Package is its main package relative to the module root, e.g.
	// "./services/api".
	Package string
	// Version labels the image (org.opencontainers.image.version) and is
	// the tag it is pushed under besides its digest. Registries keep tags
	// immutable, so a changed image needs a new version to be tagged.
	Version string
}

// Repository is the image's repository on the public registry,
// "ghcr.io/cloudscale/<name>", which the local stack pulls; a cloud stack
// pulls <its registry's prefix>/<name> (infra.Registry).
func (s Service) Repository() string { return PublicRegistry + "/" + s.Name }

// PublicRegistry is the prefix of the public repositories (an allowed
// registry of policy CS-SEC-007).
const PublicRegistry = "ghcr.io/cloudscale"

// All are the services, in build order.
var All = []Service{
	{Name: "api-service", Package: "./services/api", Version: "0.1.0"},
	{Name: "order-worker", Package: "./services/worker", Version: "0.1.0"},
	{Name: "slogate", Package: "./services/slogate", Version: "0.1.0"},
}

// Lookup returns the service named name.
func Lookup(name string) (Service, bool) {
	i := slices.IndexFunc(All, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return All[i], true
}

// Lock is the content of services/images.json: what `make images` built
// from the module's state, with the Go version that built it (the digest
// of a Go binary depends on the toolchain).
type Lock struct {
	// Go is the toolchain that built the images, e.g. "go1.26.8".
	Go string `json:"go"`
	// Images are the services' images, in the order of All.
	Images []Image `json:"images"`
}

// Image is one locked image.
type Image struct {
	// Name is the service's name.
	Name string `json:"name"`
	// Repository is the public repository, "ghcr.io/cloudscale/<name>";
	// the digest is the same in every registry it is pushed to.
	Repository string `json:"repository"`
	// Version is the image's version label and tag.
	Version string `json:"version"`
	// Digest is the image's digest, "sha256:<64 hex>": an OCI image index
	// over Platforms.
	Digest string `json:"digest"`
	// Platforms are the index's platforms, e.g. "linux/amd64".
	Platforms []string `json:"platforms"`
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ParseLock decodes and checks a lock: every image named, with a
// repository and a sha256 digest, no name twice, and the Go version set.
func ParseLock(b []byte) (Lock, error) {
	var l Lock
	if err := json.Unmarshal(b, &l); err != nil {
		return Lock{}, fmt.Errorf("images lock: %w", err)
	}
	if l.Go == "" {
		return Lock{}, fmt.Errorf("images lock: go: the Go version that built the images is missing")
	}
	seen := map[string]bool{}
	for i, im := range l.Images {
		switch {
		case im.Name == "":
			return Lock{}, fmt.Errorf("images lock: images[%d].name is empty", i)
		case seen[im.Name]:
			return Lock{}, fmt.Errorf("images lock: images[%d]: %s appears twice", i, im.Name)
		case im.Repository == "":
			return Lock{}, fmt.Errorf("images lock: %s: repository is empty", im.Name)
		case !digestRE.MatchString(im.Digest):
			return Lock{}, fmt.Errorf("images lock: %s: digest %q is not sha256:<64 hex>", im.Name, im.Digest)
		}
		seen[im.Name] = true
	}
	return l, nil
}

// Image returns the locked image of the service named name.
func (l Lock) Image(name string) (Image, bool) {
	i := slices.IndexFunc(l.Images, func(im Image) bool { return im.Name == name })
	if i < 0 {
		return Image{}, false
	}
	return l.Images[i], true
}

// Marshal is the lock as images.json holds it: indented, with a final
// newline.
func (l Lock) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

//go:embed images.json
var lockJSON []byte

// Locked is the lock embedded in the program (services/images.json).
func Locked() (Lock, error) { return ParseLock(lockJSON) }

// Digests maps each locked service's name to its image digest
// ("sha256:..."), from the embedded services/images.json. A workload's
// image is <registry>/<repository>@<digest>.
func Digests() (map[string]string, error) {
	l, err := Locked()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(l.Images))
	for _, im := range l.Images {
		out[im.Name] = im.Digest
	}
	return out, nil
}
