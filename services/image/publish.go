package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cloudscale/platform/services"
)

// Named is a built image with the service it is of.
type Named struct {
	Service services.Service
	Index   v1.ImageIndex
}

// WriteLayout writes images as a fresh OCI image layout in dir (index.json
// lists exactly these images, each annotated with
// org.opencontainers.image.ref.name = ghcr.io/cloudscale/<name>:<version>; blobs
// already in dir are kept and shared).
func WriteLayout(dir string, images ...Named) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	for _, im := range images {
		ref := im.Service.Repository() + ":" + im.Service.Version
		if err := p.AppendIndex(im.Index, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
			return fmt.Errorf("OCI layout %s: %s: %w", dir, ref, err)
		}
	}
	return nil
}

// Repository is service s's repository under prefix, a registry's host
// with an optional path (infra.Registry.Prefix:
// "123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudscale-prod",
// "ghcr.io/cloudscale", "127.0.0.1:5000"): <prefix>/<name>.
func Repository(prefix string, s services.Service) (name.Repository, error) {
	r := strings.TrimSuffix(prefix, "/") + "/" + s.Name
	repo, err := name.NewRepository(r, name.StrictValidation)
	if err != nil {
		return name.Repository{}, fmt.Errorf("registry prefix %q: %s is not a repository: %w", prefix, r, err)
	}
	return repo, nil
}

// Push uploads idx to repo by its digest, then tags it with tags (a
// registry with immutable tags refuses a tag that names another digest:
// give the image a new version). Credentials come from kc, e.g.
// authn.DefaultKeychain (docker config, credential helpers). It returns
// the reference by digest.
func Push(ctx context.Context, repo name.Repository, idx v1.ImageIndex, tags []string, kc authn.Keychain, opts ...remote.Option) (name.Digest, error) {
	d, err := idx.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	ref := repo.Digest(d.String())
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}, opts...)
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	for _, t := range tags {
		tag := repo.Tag(t)
		if err := remote.Tag(tag, idx, opts...); err != nil {
			return name.Digest{}, fmt.Errorf("tag %s as %s: %w", ref, tag, err)
		}
	}
	return ref, nil
}

// LockEntry is service s's entry of services/images.json for idx.
func LockEntry(s services.Service, idx v1.ImageIndex) (services.Image, error) {
	d, err := idx.Digest()
	if err != nil {
		return services.Image{}, fmt.Errorf("image %s: %w", s.Name, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return services.Image{}, fmt.Errorf("image %s: %w", s.Name, err)
	}
	var platforms []string
	for _, desc := range m.Manifests {
		if desc.Platform != nil {
			platforms = append(platforms, desc.Platform.String())
		}
	}
	return services.Image{Name: s.Name, Repository: s.Repository(), Version: s.Version, Digest: d.String(), Platforms: platforms}, nil
}
