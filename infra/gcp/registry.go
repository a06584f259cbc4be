package gcp

import (
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/artifactregistry"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/kms"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/projects"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
)

// registryAPIs are enabled for the registry: Artifact Registry itself, and
// Container Scanning, which scans every image pushed to a repository whose
// vulnerability scanning is INHERITED (from the project).
var registryAPIs = []string{"artifactregistry.googleapis.com", "containerscanning.googleapis.com"}

// registry is one Artifact Registry Docker repository for the stack,
// <region>-docker.pkg.dev/<project>/cloudscale-<stack>-images/<service>:
// immutable tags, scanned on push, encrypted with the storage key (its
// service agent may use that key and nothing else). The nodes pull
// through their service account's roles/artifactregistry.reader
// (nodeRoles).
func (b *builder) registry(keys *gcpKeys) (infra.Registry, error) {
	ctx, a := b.ctx, b.a
	var deps []pulumi.Resource
	for _, api := range registryAPIs {
		s, err := projects.NewService(ctx, b.name+"-api-"+api, &projects.ServiceArgs{
			Project:          pulumi.String(a.Project),
			Service:          pulumi.String(api),
			DisableOnDestroy: pulumi.Bool(false), // other tenants of the project may use it
		}, b.opts()...)
		if err != nil {
			return infra.Registry{}, err
		}
		deps = append(deps, s)
	}
	agent, err := projects.NewServiceIdentity(ctx, b.name+"-artifactregistry-agent", &projects.ServiceIdentityArgs{
		Project: pulumi.String(a.Project),
		Service: pulumi.String("artifactregistry.googleapis.com"),
	}, b.opts(pulumi.DependsOn(deps))...)
	if err != nil {
		return infra.Registry{}, err
	}
	grant, err := kms.NewCryptoKeyIAMMember(ctx, b.name+"-artifactregistry-key", &kms.CryptoKeyIAMMemberArgs{
		CryptoKeyId: keys.storage.ID(),
		Role:        pulumi.String("roles/cloudkms.cryptoKeyEncrypterDecrypter"),
		Member:      pulumi.String("serviceAccount:service-" + b.projectNumber + "@gcp-sa-artifactregistry.iam.gserviceaccount.com"),
	}, b.opts(pulumi.DependsOn([]pulumi.Resource{agent}))...)
	if err != nil {
		return infra.Registry{}, err
	}
	id := b.cloudName("images", 63)
	repo, err := artifactregistry.NewRepository(ctx, b.name+"-images", &artifactregistry.RepositoryArgs{
		Project:      pulumi.String(a.Project),
		Location:     pulumi.String(a.Region),
		RepositoryId: pulumi.String(id),
		Format:       pulumi.String("DOCKER"),
		Mode:         pulumi.String("STANDARD_REPOSITORY"),
		Description:  pulumi.String("CloudScale " + a.Stack + ": the services' images, by digest"),
		KmsKeyName:   keys.storage.ID(),
		DockerConfig: &artifactregistry.RepositoryDockerConfigArgs{ImmutableTags: pulumi.Bool(true)},
		VulnerabilityScanningConfig: &artifactregistry.RepositoryVulnerabilityScanningConfigArgs{
			EnablementConfig: pulumi.String("INHERITED"),
		},
	}, b.opts(pulumi.DependsOn(append(deps, grant)))...)
	if err != nil {
		return infra.Registry{}, err
	}
	return infra.Registry{
		Prefix:    a.Region + "-docker.pkg.dev/" + a.Project + "/" + id,
		Resources: append(deps, agent, grant, repo),
	}, nil
}
