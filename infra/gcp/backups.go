package gcp

import (
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

type gcpBackups struct {
	bucket  *storage.Bucket
	account *serviceaccount.Account
}

// backups is a regional bucket encrypted with the storage key, uniform
// access, public access prevention enforced, versioned, with soft delete;
// one Kubernetes service account may write to it through workload identity.
func (b *builder) backups(k *gcpKeys, gke *gcpGKE) (*gcpBackups, error) {
	ctx, a := b.ctx, b.a
	out := &gcpBackups{}
	var err error
	// k.grants include the Cloud Storage agent's use of the key, which the
	// bucket needs before it can be created with it.
	out.bucket, err = storage.NewBucket(ctx, b.name+"-backups", &storage.BucketArgs{
		Name:                     pulumi.String(naming.Global(a.Stack, "backups", a.Project, 63)),
		Location:                 pulumi.String(a.Region),
		StorageClass:             pulumi.String("STANDARD"),
		UniformBucketLevelAccess: pulumi.Bool(true),
		PublicAccessPrevention:   pulumi.String("enforced"),
		Versioning:               &storage.BucketVersioningArgs{Enabled: pulumi.Bool(true)},
		Encryption:               &storage.BucketEncryptionArgs{DefaultKmsKeyName: k.storage.ID()},
		SoftDeletePolicy:         &storage.BucketSoftDeletePolicyArgs{RetentionDurationSeconds: pulumi.Int(30 * 24 * 3600)},
		ForceDestroy:             pulumi.Bool(false),
	}, b.opts(pulumi.DependsOn(k.grants))...)
	if err != nil {
		return nil, err
	}
	out.account, err = b.workloadAccount("backup", "database backups", gke, infra.BackupServiceAccount(a.Namespace))
	if err != nil {
		return nil, err
	}
	if _, err := storage.NewBucketIAMMember(ctx, b.name+"-backup-writer", &storage.BucketIAMMemberArgs{
		Bucket: out.bucket.Name,
		Role:   pulumi.String("roles/storage.objectAdmin"),
		Member: pulumi.Sprintf("serviceAccount:%s", out.account.Email),
	}, b.opts()...); err != nil {
		return nil, err
	}
	return out, nil
}
