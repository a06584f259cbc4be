package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
)

// awsNetwork is what the network step hands to the cluster step.
type awsNetwork struct {
	vpc       *ec2.Vpc
	private   []*ec2.Subnet
	public    []*ec2.Subnet
	clusterSG *ec2.SecurityGroup
	gatewaySG *ec2.SecurityGroup
}

// The address plan: private node subnets are /19s (8,190 pod and node
// addresses each with the VPC CNI) at the bottom of the VPC; public subnets,
// for load balancers only, are /24s at the top.
func privateCIDR(vpc string, i int) string { return infra.MustSubnet(vpc, 3, i) }
func publicCIDR(vpc string, i int) string  { return infra.MustSubnet(vpc, 8, 240+i) }

// network is the VPC over the zones: public subnets for load balancers
// (and the NAT gateways, one per zone in prod), private subnets for the
// nodes, flow logs, and the control plane's and gateway's security groups.
func (b *builder) network(logKey *kms.Key) (*awsNetwork, error) {
	n := &awsNetwork{}
	igw, publicRT, err := b.vpc(n)
	if err != nil {
		return nil, err
	}
	nats, err := b.publicSubnets(n, igw, publicRT)
	if err != nil {
		return nil, err
	}
	if err := b.privateSubnets(n, nats); err != nil {
		return nil, err
	}
	if err := b.flowLogs(n.vpc, logKey); err != nil {
		return nil, err
	}
	if err := b.securityGroups(n); err != nil {
		return nil, err
	}
	return n, nil
}

// vpc is the VPC with its default security group stripped, the internet
// gateway and the public route table.
func (b *builder) vpc(n *awsNetwork) (*ec2.InternetGateway, *ec2.RouteTable, error) {
	ctx, a := b.ctx, b.a
	var err error
	n.vpc, err = ec2.NewVpc(ctx, b.name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(a.NetworkCIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               pulumi.StringMap{"Name": pulumi.String(b.cloudName("vpc", 255))},
	}, b.opts()...)
	if err != nil {
		return nil, nil, err
	}
	// The default security group admits traffic between its members; strip
	// it so nothing can use it by accident.
	if _, err := ec2.NewDefaultSecurityGroup(ctx, b.name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: n.vpc.ID(),
	}, b.opts()...); err != nil {
		return nil, nil, err
	}
	igw, err := ec2.NewInternetGateway(ctx, b.name+"-igw", &ec2.InternetGatewayArgs{VpcId: n.vpc.ID()}, b.opts()...)
	if err != nil {
		return nil, nil, err
	}
	publicRT, err := ec2.NewRouteTable(ctx, b.name+"-public-rt", &ec2.RouteTableArgs{
		VpcId: n.vpc.ID(),
		Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{
			CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID(),
		}},
	}, b.opts()...)
	return igw, publicRT, err
}

// publicSubnets are one public subnet per zone (load balancers only) and
// the NAT gateways: one per zone with NATPerZone, else one in the first.
func (b *builder) publicSubnets(n *awsNetwork, igw *ec2.InternetGateway, publicRT *ec2.RouteTable) ([]*ec2.NatGateway, error) {
	ctx, a := b.ctx, b.a
	clusterTag := "kubernetes.io/cluster/" + b.cloudName("eks", 100)
	var nats []*ec2.NatGateway
	for i, zone := range a.Zones {
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%s", b.name, zone), &ec2.SubnetArgs{
			VpcId:               n.vpc.ID(),
			AvailabilityZone:    pulumi.String(zone),
			CidrBlock:           pulumi.String(publicCIDR(a.NetworkCIDR, i)),
			MapPublicIpOnLaunch: pulumi.Bool(false), // load balancers only; no instance gets a public address
			Tags: pulumi.StringMap{
				"Name":                   pulumi.String(b.cloudName("public-"+zone, 255)),
				"kubernetes.io/role/elb": pulumi.String("1"),
				clusterTag:               pulumi.String("shared"),
			},
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		n.public = append(n.public, pub)
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%s", b.name, zone), &ec2.RouteTableAssociationArgs{
			SubnetId: pub.ID(), RouteTableId: publicRT.ID(),
		}, b.opts()...); err != nil {
			return nil, err
		}
		if !a.NATPerZone && i > 0 {
			continue
		}
		eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%s", b.name, zone), &ec2.EipArgs{Domain: pulumi.String("vpc")}, b.opts()...)
		if err != nil {
			return nil, err
		}
		nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%s", b.name, zone), &ec2.NatGatewayArgs{
			AllocationId: eip.ID(), SubnetId: pub.ID(),
			Tags: pulumi.StringMap{"Name": pulumi.String(b.cloudName("nat-"+zone, 255))},
		}, b.opts(pulumi.DependsOn([]pulumi.Resource{igw}))...)
		if err != nil {
			return nil, err
		}
		nats = append(nats, nat)
	}
	return nats, nil
}

// privateSubnets are one node subnet per zone, each routed through its
// zone's NAT gateway (or the one NAT gateway).
func (b *builder) privateSubnets(n *awsNetwork, nats []*ec2.NatGateway) error {
	ctx, a := b.ctx, b.a
	clusterTag := "kubernetes.io/cluster/" + b.cloudName("eks", 100)
	for i, zone := range a.Zones {
		priv, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%s", b.name, zone), &ec2.SubnetArgs{
			VpcId:            n.vpc.ID(),
			AvailabilityZone: pulumi.String(zone),
			CidrBlock:        pulumi.String(privateCIDR(a.NetworkCIDR, i)),
			Tags: pulumi.StringMap{
				"Name":                            pulumi.String(b.cloudName("private-"+zone, 255)),
				"kubernetes.io/role/internal-elb": pulumi.String("1"),
				clusterTag:                        pulumi.String("shared"),
			},
		}, b.opts()...)
		if err != nil {
			return err
		}
		n.private = append(n.private, priv)
		nat := nats[0]
		if a.NATPerZone {
			nat = nats[i] // a zone's outage never cuts another zone's egress
		}
		rt, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-%s", b.name, zone), &ec2.RouteTableArgs{
			VpcId: n.vpc.ID(),
			Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{
				CidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: nat.ID(),
			}},
		}, b.opts()...)
		if err != nil {
			return err
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%s", b.name, zone), &ec2.RouteTableAssociationArgs{
			SubnetId: priv.ID(), RouteTableId: rt.ID(),
		}, b.opts()...); err != nil {
			return err
		}
	}
	return nil
}

// securityGroups are the control plane's extra group and the gateway load
// balancer's.
func (b *builder) securityGroups(n *awsNetwork) error {
	ctx, a := b.ctx, b.a
	var err error
	// The control plane's extra group admits the API only from inside the VPC.
	n.clusterSG, err = ec2.NewSecurityGroup(ctx, b.name+"-cluster-sg", &ec2.SecurityGroupArgs{
		VpcId:       n.vpc.ID(),
		Description: pulumi.String("EKS control plane: HTTPS from inside the VPC only"),
		Ingress: ec2.SecurityGroupIngressArray{&ec2.SecurityGroupIngressArgs{
			Description: pulumi.String("Kubernetes API from the VPC"),
			Protocol:    pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
			CidrBlocks: pulumi.StringArray{pulumi.String(a.NetworkCIDR)},
		}},
		Egress: ec2.SecurityGroupEgressArray{&ec2.SecurityGroupEgressArgs{
			Description: pulumi.String("to nodes in the VPC"),
			Protocol:    pulumi.String("-1"), FromPort: pulumi.Int(0), ToPort: pulumi.Int(0),
			CidrBlocks: pulumi.StringArray{pulumi.String(a.NetworkCIDR)},
		}},
	}, b.opts()...)
	if err != nil {
		return err
	}
	// The gateway's load balancer is the platform's single internet-facing
	// entry: 443 only, forwarding into the VPC only.
	n.gatewaySG, err = ec2.NewSecurityGroup(ctx, b.name+"-gateway-lb-sg", &ec2.SecurityGroupArgs{
		VpcId:       n.vpc.ID(),
		Description: pulumi.String("API gateway load balancer: HTTPS from the internet"),
		Ingress: ec2.SecurityGroupIngressArray{&ec2.SecurityGroupIngressArgs{
			Description: pulumi.String("HTTPS (TLS 1.3) to the API gateway"),
			Protocol:    pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
			CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
		}},
		Egress: ec2.SecurityGroupEgressArray{&ec2.SecurityGroupEgressArgs{
			Description: pulumi.String("to gateway pods in the VPC"),
			Protocol:    pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(8443),
			CidrBlocks: pulumi.StringArray{pulumi.String(a.NetworkCIDR)},
		}},
		Tags: pulumi.StringMap{"cloudscale.io/role": pulumi.String("gateway-lb")},
	}, b.opts()...)
	if err != nil {
		return err
	}
	return nil
}

// flowLogs records all VPC traffic to an encrypted log group kept a year.
func (b *builder) flowLogs(vpc *ec2.Vpc, key *kms.Key) error {
	ctx := b.ctx
	group, err := cloudwatch.NewLogGroup(ctx, b.name+"-flow-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/cloudscale/" + b.a.Stack + "/vpc-flow-logs"),
		RetentionInDays: pulumi.Int(365),
		KmsKeyId:        key.Arn,
	}, b.opts()...)
	if err != nil {
		return err
	}
	trust, err := jsonString(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect": "Allow", "Action": "sts:AssumeRole",
			"Principal": map[string]any{"Service": "vpc-flow-logs.amazonaws.com"},
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": b.account}},
		}},
	})
	if err != nil {
		return err
	}
	role, err := iam.NewRole(ctx, b.name+"-flow-logs", &iam.RoleArgs{AssumeRolePolicy: pulumi.String(trust)}, b.opts()...)
	if err != nil {
		return err
	}
	if _, err := iam.NewRolePolicy(ctx, b.name+"-flow-logs", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: group.Arn.ApplyT(func(arn string) (string, error) {
			return jsonString(map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{map[string]any{
					"Effect":   "Allow",
					"Action":   []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
					"Resource": []string{arn, arn + ":*"},
				}},
			})
		}).(pulumi.StringOutput),
	}, b.opts()...); err != nil {
		return err
	}
	_, err = ec2.NewFlowLog(ctx, b.name+"-flow-log", &ec2.FlowLogArgs{
		VpcId:              vpc.ID(),
		TrafficType:        pulumi.String("ALL"),
		LogDestinationType: pulumi.String("cloud-watch-logs"),
		LogDestination:     group.Arn,
		IamRoleArn:         role.Arn,
	}, b.opts()...)
	return err
}
