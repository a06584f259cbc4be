// Package aws is the cloud tier on AWS: a private VPC over three zones, EKS
// with envelope-encrypted secrets and every control-plane log, managed node
// groups per zone on encrypted gp3 volumes with IMDSv2, KMS keys rotated
// every 90 days, an encrypted, versioned backup bucket reached through
// IRSA, and an ECR repository per service (immutable tags, scan on push,
// KMS).
package aws

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
)

// KeyRotationDays is the guide's key rotation period.
const KeyRotationDays = 90

// ControlPlaneLogTypes are every EKS control-plane log.
var ControlPlaneLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// ClusterArgs describe the cluster to build; stacks.Deploy fills them from
// the validated spec.
type ClusterArgs struct {
	infra.ClusterSpec
	// NATPerZone gives every zone its own NAT gateway (prod); otherwise one
	// NAT gateway serves all zones (dev).
	NATPerZone bool
}

// Cluster is the AWS cloud tier.
type Cluster struct {
	pulumi.ResourceState

	VpcID         pulumi.StringOutput
	ClusterName   pulumi.StringOutput
	SecretsKeyArn pulumi.StringOutput
	StorageKeyArn pulumi.StringOutput
	BackupBucket  pulumi.StringOutput
	BackupRoleArn pulumi.StringOutput
	// GatewaySecurityGroupID is the only group open to the internet (443).
	GatewaySecurityGroupID pulumi.StringOutput
	Out                    infra.Cluster
}

// NewCluster registers the AWS cloud tier.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil {
		return nil, errors.New("aws cluster: args are required")
	}
	if err := args.Validate("aws"); err != nil {
		return nil, err
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("cloudscale:infra:AwsCluster", name, c, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, c: c, a: args, name: name}
	if err := b.build(); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"vpcId":                  c.VpcID,
		"clusterName":            c.ClusterName,
		"secretsKeyArn":          c.SecretsKeyArn,
		"storageKeyArn":          c.StorageKeyArn,
		"backupBucket":           c.BackupBucket,
		"backupRoleArn":          c.BackupRoleArn,
		"gatewaySecurityGroupId": c.GatewaySecurityGroupID,
		"kubeconfig":             c.Out.Kubeconfig,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

type builder struct {
	ctx  *pulumi.Context
	c    *Cluster
	a    *ClusterArgs
	name string
	p    *aws.Provider

	account, partition string
}

func (b *builder) opts(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(b.c), pulumi.Provider(b.p)}, extra...)
}

func (b *builder) cloudName(part string, max int) string {
	return naming.Resource(b.a.Stack, part, max)
}

func (b *builder) build() error {
	if err := b.provider(); err != nil {
		return err
	}
	secretsKey, err := b.key("secrets", "EKS secrets envelope encryption and Vault auto-unseal")
	if err != nil {
		return err
	}
	storageKey, err := b.key("storage", "node volumes, persistent volumes, logs and backups")
	if err != nil {
		return err
	}
	net, err := b.network(storageKey)
	if err != nil {
		return err
	}
	k8s, err := b.eks(net, secretsKey, storageKey)
	if err != nil {
		return err
	}
	bucket, backupRole, err := b.backups(storageKey, k8s.oidc)
	if err != nil {
		return err
	}
	seal, err := b.seal(secretsKey, k8s.oidc)
	if err != nil {
		return err
	}
	registry, err := b.registry(storageKey)
	if err != nil {
		return err
	}
	clusterName := b.cloudName("eks", 100)
	kubeconfig := pulumi.ToSecret(pulumi.All(k8s.cluster.Endpoint, k8s.cluster.CertificateAuthority.Data().Elem()).ApplyT(
		func(v []any) (string, error) {
			return Kubeconfig(clusterName, b.a.Region, v[0].(string), v[1].(string))
		})).(pulumi.StringOutput)
	provider, err := infra.NewKubernetes(b.ctx, b.name, b.c, kubeconfig, infra.StorageClassArgs{
		Provisioner: "ebs.csi.aws.com",
		Parameters:  pulumi.StringMap{"type": pulumi.String("gp3"), "encrypted": pulumi.String("true"), "kmsKeyId": storageKey.Arn},
	}, k8s.nodes, []pulumi.Resource{k8s.csi})
	if err != nil {
		return err
	}

	c := b.c
	c.VpcID = net.vpc.ID().ToStringOutput()
	c.ClusterName = k8s.cluster.Name
	c.SecretsKeyArn = secretsKey.Arn
	c.StorageKeyArn = storageKey.Arn
	c.BackupBucket = bucket.Bucket
	c.BackupRoleArn = backupRole.Arn
	c.GatewaySecurityGroupID = net.gatewaySG.ID().ToStringOutput()
	c.Out = infra.Cluster{
		Name:         clusterName,
		Distribution: infra.EKS,
		Provider:     provider,
		Kubeconfig:   kubeconfig,
		Zones:        b.a.Zones,
		StorageClass: naming.StorageClass,
		Backups: infra.BackupStore{
			Kind:     infra.S3,
			Bucket:   bucket.Bucket,
			Endpoint: pulumi.Sprintf("s3://%s", bucket.Bucket),
			Region:   b.a.Region,
		},
		Keys:     infra.Keys{Secrets: secretsKey.Arn, Storage: storageKey.Arn},
		Registry: registry,
		Seal:     seal,
		// A Network Load Balancer keeps the client's address (with
		// externalTrafficPolicy Local) and honours loadBalancerSourceRanges.
		LoadBalancerAnnotations: map[string]string{"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
		Identity: infra.WorkloadIdentity{
			BackupServiceAccount: infra.BackupServiceAccount(b.a.Namespace),
			Annotations:          pulumi.StringMap{"eks.amazonaws.com/role-arn": backupRole.Arn}.ToStringMapOutput(),
		},
	}
	return nil
}

// provider is the AWS provider for the stack's region with the platform's
// default tags; it checks the zones against the region's and reads the
// account and partition ARNs are built from.
func (b *builder) provider() error {
	ctx, a := b.ctx, b.a
	var err error
	b.p, err = aws.NewProvider(ctx, b.name, &aws.ProviderArgs{
		Region: pulumi.String(a.Region),
		DefaultTags: &aws.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{
			"cloudscale.io/stack": pulumi.String(a.Stack),
			"managed-by":          pulumi.String("pulumi"),
		}},
	}, pulumi.Parent(b.c))
	if err != nil {
		return err
	}
	invoke := pulumi.Provider(b.p)
	azs, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")}, invoke)
	if err != nil {
		return fmt.Errorf("aws cluster: availability zones of %s: %w", a.Region, err)
	}
	for _, z := range a.Zones {
		if !slices.Contains(azs.Names, z) {
			return fmt.Errorf("aws cluster: zone %s is not available in %s (available: %v)", z, a.Region, azs.Names)
		}
	}
	who, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{}, invoke)
	if err != nil {
		return fmt.Errorf("aws cluster: caller identity: %w", err)
	}
	part, err := aws.GetPartition(ctx, &aws.GetPartitionArgs{}, invoke)
	if err != nil {
		return fmt.Errorf("aws cluster: partition: %w", err)
	}
	b.account, b.partition = who.AccountId, part.Partition
	return nil
}

// key is a customer-managed KMS key rotated every 90 days. Its policy lets
// the account administer it and the EC2 Auto Scaling service-linked role
// use it, which encrypted node volumes need.
func (b *builder) key(purpose, description string) (*kms.Key, error) {
	root := fmt.Sprintf("arn:%s:iam::%s:root", b.partition, b.account)
	asg := fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", b.partition, b.account)
	policy, err := jsonString(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			map[string]any{"Sid": "AccountAdministers", "Effect": "Allow", "Principal": map[string]any{"AWS": root},
				"Action": "kms:*", "Resource": "*"},
			map[string]any{"Sid": "AutoScalingUsesForVolumes", "Effect": "Allow", "Principal": map[string]any{"AWS": asg},
				"Action":   []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"},
				"Resource": "*"},
			map[string]any{"Sid": "AutoScalingGrants", "Effect": "Allow", "Principal": map[string]any{"AWS": asg},
				"Action": "kms:CreateGrant", "Resource": "*",
				"Condition": map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": true}}},
			map[string]any{"Sid": "CloudWatchLogsUses", "Effect": "Allow",
				"Principal": map[string]any{"Service": fmt.Sprintf("logs.%s.amazonaws.com", b.a.Region)},
				"Action":    []string{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"},
				"Resource":  "*"},
		},
	})
	if err != nil {
		return nil, err
	}
	k, err := kms.NewKey(b.ctx, b.name+"-"+purpose+"-key", &kms.KeyArgs{
		Description:           pulumi.Sprintf("CloudScale %s: %s", b.a.Stack, description),
		KeyUsage:              pulumi.String("ENCRYPT_DECRYPT"),
		CustomerMasterKeySpec: pulumi.String("SYMMETRIC_DEFAULT"),
		EnableKeyRotation:     pulumi.Bool(true),
		RotationPeriodInDays:  pulumi.Int(KeyRotationDays),
		DeletionWindowInDays:  pulumi.Int(30),
		Policy:                pulumi.String(policy),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	_, err = kms.NewAlias(b.ctx, b.name+"-"+purpose+"-alias", &kms.AliasArgs{
		Name:        pulumi.String("alias/" + b.cloudName(purpose, 200)),
		TargetKeyId: k.KeyId,
	}, b.opts()...)
	return k, err
}

func jsonString(v any) (string, error) {
	out, err := json.Marshal(v)
	return string(out), err
}
