package stacks_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/services"
	"github.com/cloudscale/platform/stacks/spec"
)

func TestAWSProd(t *testing.T) {
	res := run(t, "prod")
	g := res.Graph
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}

	// Invokes the program makes are answered by the mocks.
	for _, tok := range []string{"aws:index/getAvailabilityZones:getAvailabilityZones", "aws:index/getCallerIdentity:getCallerIdentity", "aws:index/getPartition:getPartition"} {
		assert.True(t, invoked(res, tok), tok)
	}

	// KMS keys: rotation on, every 90 days.
	keys := g.OfType("aws:kms/key:Key")
	require.Len(t, keys, 2)
	for _, k := range keys {
		assert.Equal(t, true, k.Inputs["enableKeyRotation"], k.Name)
		assert.Equal(t, 90.0, k.Inputs["rotationPeriodInDays"], k.Name)
	}
	secretsKey := res.Output(named(t, g, "aws:kms/key:Key", "aws-secrets-key"), "arn")
	storageKey := res.Output(named(t, g, "aws:kms/key:Key", "aws-storage-key"), "arn")
	require.NotEmpty(t, secretsKey)
	require.NotEqual(t, secretsKey, storageKey)

	// EKS: configured version, envelope encryption with the CMK, private
	// endpoint, every control-plane log.
	eks := one(t, g, "aws:eks/cluster:Cluster")
	assert.Equal(t, "1.33", eks.Inputs["version"])
	assert.Equal(t, secretsKey, get(eks, "encryptionConfig.provider.keyArn"))
	assert.Equal(t, []any{"secrets"}, get(eks, "encryptionConfig.resources"))
	assert.Equal(t, true, get(eks, "vpcConfig.endpointPrivateAccess"))
	assert.Equal(t, false, get(eks, "vpcConfig.endpointPublicAccess"))
	assert.Nil(t, get(eks, "vpcConfig.publicAccessCidrs"))
	assert.ElementsMatch(t, []any{"api", "audit", "authenticator", "controllerManager", "scheduler"}, eks.Inputs["enabledClusterLogTypes"])
	cni := named(t, g, "aws:eks/addon:Addon", "aws-vpc-cni")
	assert.JSONEq(t, `{"enableNetworkPolicy":"true"}`, cni.String("configurationValues"), "cluster-level network policy enforcement")
	oidc := one(t, g, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
	assert.Contains(t, oidc.Inputs["url"], "https://oidc.eks.us-east-1.amazonaws.com/id/")

	// Subnets: private per zone for nodes, public per zone for load balancers only.
	var privZones, pubZones []string
	privateByID := map[string]string{}
	for _, s := range g.OfType("aws:ec2/subnet:Subnet") {
		assert.NotEqual(t, true, s.Inputs["mapPublicIpOnLaunch"], "%s maps public IPs", s.Name)
		if tags, _ := s.Inputs["tags"].(map[string]any); tags["kubernetes.io/role/elb"] == "1" {
			pubZones = append(pubZones, s.String("availabilityZone"))
		} else {
			privZones = append(privZones, s.String("availabilityZone"))
			privateByID[s.Name] = s.String("availabilityZone")
		}
	}
	sort.Strings(privZones)
	sort.Strings(pubZones)
	assert.Equal(t, zones, privZones)
	assert.Equal(t, zones, pubZones)
	assert.Len(t, g.OfType("aws:ec2/natGateway:NatGateway"), 3, "one NAT gateway per zone in prod")
	flow := one(t, g, "aws:ec2/flowLog:FlowLog")
	assert.Equal(t, "ALL", flow.Inputs["trafficType"])

	// Nodes: a managed group per zone, 2 nodes each (6 in all), 32 GiB, on
	// 100 GB gp3 volumes encrypted with the CMK, IMDSv2 only.
	groups := g.OfType("aws:eks/nodeGroup:NodeGroup")
	require.Len(t, groups, 3)
	total := 0.0
	for _, ng := range groups {
		assert.Len(t, ng.Inputs["subnetIds"], 1)
		assert.Equal(t, []any{"m6i.2xlarge"}, ng.Inputs["instanceTypes"])
		assert.GreaterOrEqual(t, spec.Sizes[spec.AWS]["m6i.2xlarge"].MemoryGiB, 16)
		total += get(ng, "scalingConfig.desiredSize").(float64)
		assert.Equal(t, 2.0, get(ng, "scalingConfig.minSize"))
	}
	assert.Equal(t, 6.0, total)
	lt := one(t, g, "aws:ec2/launchTemplate:LaunchTemplate")
	assert.Equal(t, 100.0, get(lt, "blockDeviceMappings.0.ebs.volumeSize"))
	assert.Equal(t, "gp3", get(lt, "blockDeviceMappings.0.ebs.volumeType"))
	assert.Equal(t, "true", get(lt, "blockDeviceMappings.0.ebs.encrypted"))
	assert.Equal(t, storageKey, get(lt, "blockDeviceMappings.0.ebs.kmsKeyId"))
	assert.Equal(t, "required", get(lt, "metadataOptions.httpTokens"))

	// Security groups: 0.0.0.0/0 only on 443 of the gateway's load balancer.
	for _, sg := range g.OfType("aws:ec2/securityGroup:SecurityGroup") {
		ingress, _ := sg.Inputs["ingress"].([]any)
		for _, rule := range ingress {
			r := rule.(map[string]any)
			for _, c := range r["cidrBlocks"].([]any) {
				if c == "0.0.0.0/0" {
					tags, _ := sg.Inputs["tags"].(map[string]any)
					assert.Equal(t, "gateway-lb", tags["cloudscale.io/role"], "%s opens %v to the internet", sg.Name, r)
					assert.Equal(t, 443.0, r["fromPort"])
					assert.Equal(t, 443.0, r["toPort"])
				}
			}
		}
	}

	// Backups: SSE-KMS with the CMK, versioned, no public access, TLS only,
	// assumable only by the backup service account.
	bucket := one(t, g, "aws:s3/bucketV2:BucketV2")
	assert.Regexp(t, `^cloudscale-prod-backups-[0-9a-f]{8}$`, bucket.Inputs["bucket"])
	sse := one(t, g, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
	assert.Equal(t, "aws:kms", get(sse, "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm"))
	assert.Equal(t, storageKey, get(sse, "rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId"))
	ver := one(t, g, "aws:s3/bucketVersioningV2:BucketVersioningV2")
	assert.Equal(t, "Enabled", get(ver, "versioningConfiguration.status"))
	pab := one(t, g, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		assert.Equal(t, true, pab.Inputs[k], k)
	}
	var policy map[string]any
	require.NoError(t, json.Unmarshal([]byte(one(t, g, "aws:s3/bucketPolicy:BucketPolicy").String("policy")), &policy))
	stmt := policy["Statement"].([]any)[0].(map[string]any)
	assert.Equal(t, "Deny", stmt["Effect"])
	assert.Equal(t, map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}, stmt["Condition"])

	backupRole := named(t, g, "aws:iam/role:Role", "aws-backup")
	var trust map[string]any
	require.NoError(t, json.Unmarshal([]byte(backupRole.String("assumeRolePolicy")), &trust))
	cond := trust["Statement"].([]any)[0].(map[string]any)["Condition"].(map[string]any)["StringEquals"].(map[string]any)
	var subs []any
	for k, v := range cond {
		if len(k) > 4 && k[len(k)-4:] == ":sub" {
			subs = append(subs, v)
		}
	}
	assert.Equal(t, []any{"system:serviceaccount:cloudscale:cloudscale-backup"}, subs)

	// The Kubernetes tiers get a provider whose kubeconfig is a secret, and
	// an encrypted default storage class on the CMK.
	k8s := named(t, g, "pulumi:providers:kubernetes", "aws-k8s")
	assert.Equal(t, graph.SecretValue, k8s.Inputs["kubeconfig"])
	sc := named(t, g, "kubernetes:storage.k8s.io/v1:StorageClass", "aws-storage")
	assert.Equal(t, "ebs.csi.aws.com", sc.Inputs["provisioner"])
	assert.Equal(t, map[string]any{"type": "gp3", "encrypted": "true", "kmsKeyId": storageKey}, sc.Inputs["parameters"])

	// The services' images: one ECR repository per service in the stack's
	// namespace, immutable tags, scanned on push, encrypted with the
	// storage key, untagged images expired; the nodes pull through their
	// role's read-only ECR policy.
	repos := g.OfType("aws:ecr/repository:Repository")
	require.Len(t, repos, len(services.All))
	for _, s := range services.All {
		repo := named(t, g, "aws:ecr/repository:Repository", "aws-image-"+s.Name)
		assert.Equal(t, "cloudscale-prod/"+s.Name, repo.Inputs["name"])
		assert.Equal(t, "IMMUTABLE", repo.Inputs["imageTagMutability"])
		assert.Equal(t, true, get(repo, "imageScanningConfiguration.scanOnPush"))
		assert.Equal(t, []any{map[string]any{"encryptionType": "KMS", "kmsKey": storageKey}}, repo.Inputs["encryptionConfigurations"])
		tags, _ := repo.Inputs["tags"].(map[string]any)
		assert.Equal(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com", tags["cloudscale.io/registry-host"], "the host policy CS-SEC-007 reads")
		lp := named(t, g, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws-image-"+s.Name+"-lifecycle")
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(lp.String("policy")), &doc))
		rule := doc["rules"].([]any)[0].(map[string]any)
		assert.Equal(t, "untagged", rule["selection"].(map[string]any)["tagStatus"])
		assert.Equal(t, map[string]any{"type": "expire"}, rule["action"])
	}
	pull := false
	for _, a := range g.OfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		if a.Name == "aws-eks-node-AmazonEC2ContainerRegistryReadOnly" {
			pull = strings.HasSuffix(a.String("policyArn"), ":policy/AmazonEC2ContainerRegistryReadOnly")
		}
	}
	assert.True(t, pull, "the nodes may pull from ECR")
}

func TestAWSDevDiffersFromProd(t *testing.T) {
	dev, prod := run(t, "dev").Graph, run(t, "prod").Graph
	assert.Len(t, dev.OfType("aws:ec2/natGateway:NatGateway"), 1, "one NAT gateway in dev")
	assert.Len(t, prod.OfType("aws:ec2/natGateway:NatGateway"), 3)

	// Every private route in dev goes through the one NAT gateway.
	var natIDs []any
	for _, rt := range dev.OfType("aws:ec2/routeTable:RouteTable") {
		if id := get(rt, "routes.0.natGatewayId"); id != nil {
			natIDs = append(natIDs, id)
		}
	}
	require.Len(t, natIDs, 3)
	assert.Equal(t, natIDs[0], natIDs[1])
	assert.Equal(t, natIDs[0], natIDs[2])

	for _, ng := range dev.OfType("aws:eks/nodeGroup:NodeGroup") {
		assert.Equal(t, 1.0, get(ng, "scalingConfig.desiredSize"), "dev runs one node per zone")
		assert.Equal(t, []any{"m6i.xlarge"}, ng.Inputs["instanceTypes"])
	}
	// dev's API is reachable from the configured office range only.
	eks := one(t, dev, "aws:eks/cluster:Cluster")
	assert.Equal(t, true, get(eks, "vpcConfig.endpointPublicAccess"))
	assert.Equal(t, []any{"203.0.113.0/24"}, get(eks, "vpcConfig.publicAccessCidrs"))
	// Security stays the same: keys, encryption and private nodes do not relax.
	for _, k := range dev.OfType("aws:kms/key:Key") {
		assert.Equal(t, 90.0, k.Inputs["rotationPeriodInDays"])
	}
}
