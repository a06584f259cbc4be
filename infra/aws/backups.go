package aws

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

// backups is the database backup bucket: SSE-KMS with the storage key,
// versioned, never public, TLS only, and writable by one service account.
func (b *builder) backups(key *kms.Key, oidc *iam.OpenIdConnectProvider) (*s3.BucketV2, *iam.Role, error) {
	ctx := b.ctx
	bucket, err := s3.NewBucketV2(ctx, b.name+"-backups", &s3.BucketV2Args{
		Bucket: pulumi.String(naming.Global(b.a.Stack, "backups", b.account, 63)),
	}, b.opts()...)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, b.name+"-backups", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.Bucket,
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, b.opts()...); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, b.name+"-backups", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.Bucket,
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, b.opts()...); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, b.name+"-backups", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.Bucket,
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm:   pulumi.String("aws:kms"),
				KmsMasterKeyId: key.Arn,
			},
			BucketKeyEnabled: pulumi.Bool(true),
		}},
	}, b.opts()...); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketVersioningV2(ctx, b.name+"-backups", &s3.BucketVersioningV2Args{
		Bucket:                  bucket.Bucket,
		VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
	}, b.opts()...); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketPolicy(ctx, b.name+"-backups", &s3.BucketPolicyArgs{
		Bucket: bucket.Bucket,
		Policy: bucket.Arn.ApplyT(func(arn string) (string, error) {
			return jsonString(map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{map[string]any{
					"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
					"Resource":  []string{arn, arn + "/*"},
					"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				}},
			})
		}).(pulumi.StringOutput),
	}, b.opts()...); err != nil {
		return nil, nil, err
	}

	role, err := b.irsaRole("backup", oidc, infra.BackupServiceAccount(b.a.Namespace))
	if err != nil {
		return nil, nil, err
	}
	if _, err := iam.NewRolePolicy(ctx, b.name+"-backup-bucket", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: pulumi.All(bucket.Arn, key.Arn).ApplyT(func(v []any) (string, error) {
			arn, keyArn := v[0].(string), v[1].(string)
			return jsonString(map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{
					map[string]any{"Effect": "Allow", "Action": []string{"s3:ListBucket", "s3:GetBucketLocation"}, "Resource": arn},
					map[string]any{"Effect": "Allow", "Action": []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, "Resource": arn + "/*"},
					map[string]any{"Effect": "Allow", "Action": []string{"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"}, "Resource": keyArn},
				},
			})
		}).(pulumi.StringOutput),
	}, b.opts()...); err != nil {
		return nil, nil, err
	}
	return bucket, role, nil
}
