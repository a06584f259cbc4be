package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
	"github.com/cloudscale/platform/services"
)

// RegistryHostTag is the tag on each ECR repository that names its
// registry's host (<account>.dkr.ecr.<region>.amazonaws.com): policy
// CS-SEC-007 reads it to accept exactly the stack's own repositories.
const RegistryHostTag = "cloudscale.io/registry-host"

// UntaggedImageDays is how long an untagged image (a push replaced by a
// new version, an interrupted push) stays before ECR expires it.
const UntaggedImageDays = 14

// untaggedLifecyclePolicy expires untagged images; tagged ones (the
// versions, immutable) stay.
var untaggedLifecyclePolicy = map[string]any{
	"rules": []any{map[string]any{
		"rulePriority": 1,
		"description":  fmt.Sprintf("Expire untagged images %d days after their push", UntaggedImageDays),
		"selection": map[string]any{
			"tagStatus":   "untagged",
			"countType":   "sinceImagePushed",
			"countUnit":   "days",
			"countNumber": UntaggedImageDays,
		},
		"action": map[string]any{"type": "expire"},
	}},
}

// registry is one ECR repository per service,
// <account>.dkr.ecr.<region>.amazonaws.com/cloudscale-<stack>/<service>:
// immutable tags, scanned on push, encrypted with the storage key, untagged
// images expired. The nodes pull through their role's
// AmazonEC2ContainerRegistryReadOnly policy (nodeGroups).
func (b *builder) registry(storageKey *kms.Key) (infra.Registry, error) {
	host := fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com", b.account, b.a.Region)
	ns := naming.ImageNamespace(b.a.Stack)
	lifecycle, err := jsonString(untaggedLifecyclePolicy)
	if err != nil {
		return infra.Registry{}, err
	}
	r := infra.Registry{Prefix: host + "/" + ns}
	for _, s := range services.All {
		repo, err := ecr.NewRepository(b.ctx, b.name+"-image-"+s.Name, &ecr.RepositoryArgs{
			Name:                       pulumi.String(ns + "/" + s.Name),
			ImageTagMutability:         pulumi.String("IMMUTABLE"),
			ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
			EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{&ecr.RepositoryEncryptionConfigurationArgs{
				EncryptionType: pulumi.String("KMS"),
				KmsKey:         storageKey.Arn,
			}},
			Tags: pulumi.StringMap{RegistryHostTag: pulumi.String(host), "cloudscale.io/service": pulumi.String(s.Name)},
		}, b.opts()...)
		if err != nil {
			return infra.Registry{}, err
		}
		lp, err := ecr.NewLifecyclePolicy(b.ctx, b.name+"-image-"+s.Name+"-lifecycle", &ecr.LifecyclePolicyArgs{
			Repository: repo.Name,
			Policy:     pulumi.String(lifecycle),
		}, b.opts()...)
		if err != nil {
			return infra.Registry{}, err
		}
		r.Resources = append(r.Resources, repo, lp)
	}
	return r, nil
}
