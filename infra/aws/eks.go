package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
)

// EKSOIDCThumbprint is the root CA thumbprint AWS documents for EKS OIDC
// issuers; IAM no longer checks it for EKS but the API still takes one.
const EKSOIDCThumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"

// awsEKS is what the cluster step hands to the rest of the tier.
type awsEKS struct {
	cluster *eks.Cluster
	oidc    *iam.OpenIdConnectProvider
	// nodes are the node groups: the Kubernetes provider waits for them.
	nodes []pulumi.Resource
	// csi provisions the encrypted volumes: the storage class waits for it.
	csi pulumi.Resource
}

// eks builds the cluster: control plane, OIDC issuer and CNI, one node
// group per zone, and the EBS CSI driver.
func (b *builder) eks(n *awsNetwork, secretsKey, storageKey *kms.Key) (*awsEKS, error) {
	cluster, err := b.controlPlane(n, secretsKey, storageKey)
	if err != nil {
		return nil, err
	}
	oidc, err := b.identityAndCNI(cluster)
	if err != nil {
		return nil, err
	}
	nodes, err := b.nodeGroups(cluster, n, storageKey)
	if err != nil {
		return nil, err
	}
	csi, err := b.ebsCSI(cluster, oidc, storageKey, nodes)
	if err != nil {
		return nil, err
	}
	return &awsEKS{cluster: cluster, oidc: oidc, nodes: nodes, csi: csi}, nil
}

// controlPlane is the EKS control plane: private endpoint (public only for
// the allowed CIDRs), secrets envelope-encrypted with the secrets key,
// every control-plane log to an encrypted group kept a year.
func (b *builder) controlPlane(n *awsNetwork, secretsKey, storageKey *kms.Key) (*eks.Cluster, error) {
	ctx, a := b.ctx, b.a
	clusterName := b.cloudName("eks", 100)
	clusterRole, err := b.serviceRole("eks-cluster", "eks.amazonaws.com", "AmazonEKSClusterPolicy")
	if err != nil {
		return nil, err
	}
	// EKS writes control-plane logs to this group; creating it first lets
	// the platform own its encryption and retention.
	logs, err := cloudwatch.NewLogGroup(ctx, b.name+"-eks-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/eks/" + clusterName + "/cluster"),
		RetentionInDays: pulumi.Int(365),
		KmsKeyId:        storageKey.Arn,
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	var privateIDs pulumi.StringArray
	for _, s := range n.private {
		privateIDs = append(privateIDs, s.ID())
	}
	vpc := &eks.ClusterVpcConfigArgs{
		SubnetIds:             privateIDs,
		SecurityGroupIds:      pulumi.StringArray{n.clusterSG.ID()},
		EndpointPrivateAccess: pulumi.Bool(true),
		EndpointPublicAccess:  pulumi.Bool(len(a.APIAllowedCIDRs) > 0),
	}
	if len(a.APIAllowedCIDRs) > 0 {
		vpc.PublicAccessCidrs = pulumi.ToStringArray(a.APIAllowedCIDRs)
	}
	return eks.NewCluster(ctx, b.name+"-eks", &eks.ClusterArgs{
		Name:      pulumi.String(clusterName),
		Version:   pulumi.String(a.KubernetesVersion),
		RoleArn:   clusterRole.Arn,
		VpcConfig: vpc,
		EncryptionConfig: &eks.ClusterEncryptionConfigArgs{
			Provider:  &eks.ClusterEncryptionConfigProviderArgs{KeyArn: secretsKey.Arn},
			Resources: pulumi.StringArray{pulumi.String("secrets")},
		},
		EnabledClusterLogTypes: pulumi.ToStringArray(ControlPlaneLogTypes),
		AccessConfig: &eks.ClusterAccessConfigArgs{
			AuthenticationMode:                      pulumi.String("API"),
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(true),
		},
		UpgradePolicy: &eks.ClusterUpgradePolicyArgs{SupportType: pulumi.String("STANDARD")},
	}, b.opts(pulumi.DependsOn([]pulumi.Resource{logs}))...)
}

// identityAndCNI registers the cluster's OIDC issuer (for IRSA) and the
// VPC CNI with NetworkPolicy enforcement.
func (b *builder) identityAndCNI(cluster *eks.Cluster) (*iam.OpenIdConnectProvider, error) {
	oidc, err := iam.NewOpenIdConnectProvider(b.ctx, b.name+"-oidc", &iam.OpenIdConnectProviderArgs{
		Url:             cluster.Identities.Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().Elem(),
		ClientIdLists:   pulumi.StringArray{pulumi.String("sts.amazonaws.com")},
		ThumbprintLists: pulumi.StringArray{pulumi.String(EKSOIDCThumbprint)},
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	// The VPC CNI enforces Kubernetes NetworkPolicies only when asked to;
	// the platform's default-deny baseline depends on it.
	_, err = eks.NewAddon(b.ctx, b.name+"-vpc-cni", &eks.AddonArgs{
		ClusterName:              cluster.Name,
		AddonName:                pulumi.String("vpc-cni"),
		ConfigurationValues:      pulumi.String(`{"enableNetworkPolicy":"true"}`),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
	}, b.opts()...)
	return oidc, err
}

// launchTemplate gives nodes an encrypted gp3 root volume and IMDSv2 only.
func (b *builder) launchTemplate(storageKey *kms.Key) (*ec2.LaunchTemplate, error) {
	return ec2.NewLaunchTemplate(b.ctx, b.name+"-nodes", &ec2.LaunchTemplateArgs{
		Description: pulumi.String("CloudScale nodes: encrypted gp3 root volume, IMDSv2 only"),
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{&ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeSize:          pulumi.Int(b.a.NodeDiskGiB),
				VolumeType:          pulumi.String("gp3"),
				Encrypted:           pulumi.String("true"),
				KmsKeyId:            storageKey.Arn,
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"),
			HttpTokens:   pulumi.String("required"),
			// One hop keeps pods off the node's credentials: they use IRSA.
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{&ec2.LaunchTemplateTagSpecificationArgs{
			ResourceType: pulumi.String("instance"),
			Tags:         pulumi.StringMap{"Name": pulumi.String(b.cloudName("node", 255))},
		}},
	}, b.opts()...)
}

// nodeGroups are one managed group per zone: EBS volumes are zonal, so
// each zone keeps its own capacity and the autoscaler can grow the zone
// that needs it.
func (b *builder) nodeGroups(cluster *eks.Cluster, n *awsNetwork, storageKey *kms.Key) ([]pulumi.Resource, error) {
	a := b.a
	nodeRole, err := b.serviceRole("eks-node", "ec2.amazonaws.com",
		"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy")
	if err != nil {
		return nil, err
	}
	lt, err := b.launchTemplate(storageKey)
	if err != nil {
		return nil, err
	}
	var groups []pulumi.Resource
	for i, zone := range a.Zones {
		g, err := eks.NewNodeGroup(b.ctx, fmt.Sprintf("%s-nodes-%s", b.name, zone), &eks.NodeGroupArgs{
			ClusterName:   cluster.Name,
			NodeGroupName: pulumi.String(b.cloudName("nodes-"+zone, 63)),
			NodeRoleArn:   nodeRole.Arn,
			SubnetIds:     pulumi.StringArray{n.private[i].ID()},
			InstanceTypes: pulumi.StringArray{pulumi.String(a.NodeSize)},
			AmiType:       pulumi.String("AL2023_x86_64_STANDARD"),
			CapacityType:  pulumi.String("ON_DEMAND"),
			ScalingConfig: &eks.NodeGroupScalingConfigArgs{
				MinSize:     pulumi.Int(a.NodesPerZone),
				DesiredSize: pulumi.Int(a.NodesPerZone),
				MaxSize:     pulumi.Int(a.NodesPerZone * 3),
			},
			UpdateConfig: &eks.NodeGroupUpdateConfigArgs{MaxUnavailable: pulumi.Int(1)},
			LaunchTemplate: &eks.NodeGroupLaunchTemplateArgs{
				Id:      lt.ID(),
				Version: lt.LatestVersion.ApplyT(func(v int) string { return fmt.Sprint(v) }).(pulumi.StringOutput),
			},
			Labels: pulumi.StringMap{"cloudscale.io/pool": pulumi.String("general")},
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// ebsCSI installs the EBS CSI driver, which provisions the encrypted
// volumes, as its own IRSA role allowed to use the storage key.
func (b *builder) ebsCSI(cluster *eks.Cluster, oidc *iam.OpenIdConnectProvider, storageKey *kms.Key, nodes []pulumi.Resource) (pulumi.Resource, error) {
	ctx := b.ctx
	csiRole, err := b.irsaRole("ebs-csi", oidc, infra.ServiceAccount{Namespace: "kube-system", Name: "ebs-csi-controller-sa"})
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, b.name+"-ebs-csi", &iam.RolePolicyAttachmentArgs{
		Role:      csiRole.Name,
		PolicyArn: pulumi.String(b.managedPolicy("service-role/AmazonEBSCSIDriverPolicy")),
	}, b.opts()...); err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicy(ctx, b.name+"-ebs-csi-kms", &iam.RolePolicyArgs{
		Role:   csiRole.ID(),
		Policy: keyUsePolicy(storageKey.Arn, true),
	}, b.opts()...); err != nil {
		return nil, err
	}
	return eks.NewAddon(ctx, b.name+"-ebs-csi", &eks.AddonArgs{
		ClusterName:              cluster.Name,
		AddonName:                pulumi.String("aws-ebs-csi-driver"),
		ServiceAccountRoleArn:    csiRole.Arn,
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
	}, b.opts(pulumi.DependsOn(nodes))...)
}

func (b *builder) managedPolicy(name string) string {
	return fmt.Sprintf("arn:%s:iam::aws:policy/%s", b.partition, name)
}

// serviceRole is a role an AWS service assumes, with managed policies.
func (b *builder) serviceRole(part, service string, policies ...string) (*iam.Role, error) {
	trust, err := jsonString(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect": "Allow", "Action": "sts:AssumeRole",
			"Principal": map[string]any{"Service": service},
		}},
	})
	if err != nil {
		return nil, err
	}
	role, err := iam.NewRole(b.ctx, b.name+"-"+part, &iam.RoleArgs{
		Name:             pulumi.String(b.cloudName(part, 64)),
		AssumeRolePolicy: pulumi.String(trust),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	for _, p := range policies {
		if _, err := iam.NewRolePolicyAttachment(b.ctx, b.name+"-"+part+"-"+p, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(b.managedPolicy(p)),
		}, b.opts()...); err != nil {
			return nil, err
		}
	}
	return role, nil
}

// irsaRole is a role only one Kubernetes service account can assume, through
// the cluster's OIDC issuer.
func (b *builder) irsaRole(part string, oidc *iam.OpenIdConnectProvider, sa infra.ServiceAccount) (*iam.Role, error) {
	trust := pulumi.All(oidc.Arn, oidc.Url).ApplyT(func(v []any) (string, error) {
		issuer := trimScheme(v[1].(string))
		return jsonString(map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect":    "Allow",
				"Action":    "sts:AssumeRoleWithWebIdentity",
				"Principal": map[string]any{"Federated": v[0].(string)},
				"Condition": map[string]any{"StringEquals": map[string]any{
					issuer + ":sub": sa.Subject(),
					issuer + ":aud": "sts.amazonaws.com",
				}},
			}},
		})
	}).(pulumi.StringOutput)
	return iam.NewRole(b.ctx, b.name+"-"+part, &iam.RoleArgs{
		Name:             pulumi.String(b.cloudName(part, 64)),
		AssumeRolePolicy: trust,
	}, b.opts()...)
}

func trimScheme(url string) string {
	const https = "https://"
	if len(url) > len(https) && url[:len(https)] == https {
		return url[len(https):]
	}
	return url
}

// keyUsePolicy lets a role encrypt and decrypt with one key (and, for the
// CSI driver, create the grants EBS needs).
func keyUsePolicy(keyArn pulumi.StringOutput, grants bool) pulumi.StringOutput {
	return keyArn.ApplyT(func(arn string) (string, error) {
		stmts := []any{map[string]any{
			"Effect":   "Allow",
			"Action":   []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"},
			"Resource": arn,
		}}
		if grants {
			stmts = append(stmts, map[string]any{
				"Effect": "Allow", "Action": []string{"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"},
				"Resource":  arn,
				"Condition": map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": true}},
			})
		}
		return jsonString(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	}).(pulumi.StringOutput)
}
