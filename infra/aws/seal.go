package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
)

// seal lets Vault's service account (alone, through IRSA) encrypt and
// decrypt with the secrets key, which auto-unseals Vault.
func (b *builder) seal(key *kms.Key, oidc *iam.OpenIdConnectProvider) (*infra.VaultSeal, error) {
	role, err := b.irsaRole("vault", oidc, infra.VaultServiceAccount)
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicy(b.ctx, b.name+"-vault-unseal", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: key.Arn.ApplyT(func(arn string) (string, error) {
			return jsonString(map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{map[string]any{"Effect": "Allow",
					"Action": []string{"kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"}, "Resource": arn}},
			})
		}).(pulumi.StringOutput),
	}, b.opts()...); err != nil {
		return nil, err
	}
	return &infra.VaultSeal{
		Stanza: key.Arn.ApplyT(func(arn string) string {
			return fmt.Sprintf("seal \"awskms\" {\n  region     = %q\n  kms_key_id = %q\n}\n", b.a.Region, arn)
		}).(pulumi.StringOutput),
		Annotations: pulumi.StringMap{"eks.amazonaws.com/role-arn": role.Arn}.ToStringMapOutput(),
	}, nil
}
