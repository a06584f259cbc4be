package spof

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph"
)

// The cloud tier's shapes are built by hand as the providers' inputs
// (plain maps); references use the ids Pulumi mocks give ("<name>-0001")
// or the resource's name, as the stacks' graphs do.

func res(typ, name string, inputs map[string]any) graph.Resource {
	return graph.Resource{Type: typ, Name: name, URN: "urn:" + typ + "::" + name, Inputs: inputs}
}

func arr[T any](xs ...T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// AWS: an EKS cluster, private subnets in three zones, node groups, NAT
// gateways in public subnets, route tables and their associations.

var (
	eks          = res(eksCluster, "aws-eks", map[string]any{"name": "cloudscale-eks"})
	awsPrivate   = []graph.Resource{awsSubnetIn("private-a", "us-east-1a"), awsSubnetIn("private-b", "us-east-1b"), awsSubnetIn("private-c", "us-east-1c")}
	awsPublic    = []graph.Resource{awsSubnetIn("public-a", "us-east-1a"), awsSubnetIn("public-b", "us-east-1b"), awsSubnetIn("public-c", "us-east-1c")}
	awsZoneNames = []string{"a", "b", "c"}
)

func awsSubnetIn(name, zone string) graph.Resource {
	return res(awsSubnet, name, map[string]any{"availabilityZone": zone, "vpcId": "vpc-0001"})
}

func nodeGroup(name string, minSize int, subnets ...string) graph.Resource {
	return res(eksNodeGroup, name, map[string]any{
		"clusterName": "cloudscale-eks", "subnetIds": arr(subnets...),
		"scalingConfig": map[string]any{"minSize": minSize, "desiredSize": max(minSize, 1), "maxSize": 6},
	})
}

func withEKS(rs ...graph.Resource) []graph.Resource {
	return append(append([]graph.Resource{eks}, awsPrivate...), rs...)
}

func natGateway(name, subnet string) graph.Resource {
	return res(awsNAT, name, map[string]any{"subnetId": subnet + "-0002", "allocationId": name + "-eip-0003"})
}

func routeTable(name, nat string) graph.Resource {
	return res(awsRouteTable, name, map[string]any{"vpcId": "vpc-0001", "routes": arr(map[string]any{"cidrBlock": anywhere, "natGatewayId": nat})})
}

func association(rt, subnet string) graph.Resource {
	return res(awsAssociation, rt+"-"+subnet, map[string]any{"routeTableId": rt + "-0005", "subnetId": subnet + "-0004"})
}

// awsEgressVia routes each private subnet's zone through the NAT gateway
// natFor names ("nat-a"), each in its own route table.
func awsEgressVia(natFor func(zone string) string, nats ...string) []graph.Resource {
	rs := append(append([]graph.Resource{}, awsPrivate...), awsPublic...)
	for _, n := range nats {
		rs = append(rs, natGateway(n, "public-"+strings.TrimPrefix(n, "nat-")))
	}
	for _, z := range awsZoneNames {
		rs = append(rs, routeTable("rt-"+z, natFor(z)+"-0006"), association("rt-"+z, "private-"+z))
	}
	return rs
}

// GKE: a regional cluster and its node pools.

func gke(extra map[string]any) graph.Resource {
	in := map[string]any{"name": "cloudscale-gke", "location": "us-central1", "removeDefaultNodePool": true, "initialNodeCount": 1}
	for k, v := range extra {
		in[k] = v
	}
	return res(gkeCluster, "gke", in)
}

func nodePool(name string, in map[string]any) graph.Resource {
	in["cluster"] = "gke-0001"
	return res(gkeNodePool, name, in)
}

var gcpZones = arr("us-central1-a", "us-central1-b", "us-central1-c")

// AKS: a cluster with inline agent pool profiles.

func aks(network map[string]any, profiles ...map[string]any) graph.Resource {
	return res(aksCluster, "aks", map[string]any{"resourceName": "cloudscale-aks", "agentPoolProfiles": arr(profiles...), "networkProfile": network})
}

func agentPool(name string, count int, zones ...string) map[string]any {
	p := map[string]any{"name": name, "mode": "User", "count": count, "vmSize": "Standard_D8s_v5"}
	if len(zones) > 0 {
		p["availabilityZones"] = arr(zones...)
	}
	return p
}

func systemPool() map[string]any {
	p := agentPool("system", 3, "1", "2", "3")
	p["mode"], p["nodeTaints"] = "System", arr("CriticalAddonsOnly=true:NoSchedule")
	return p
}

var standardLB = map[string]any{"loadBalancerSku": "standard", "outboundType": "loadBalancer"}

// Storage classes.

func storageClass(name, provisioner, mode string, params map[string]any) graph.Resource {
	in := map[string]any{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": map[string]any{"name": name}, "provisioner": provisioner, "parameters": params}
	if mode != "" {
		in["volumeBindingMode"] = mode
	}
	return res("kubernetes:storage.k8s.io/v1:StorageClass", name, in)
}

// cloudCase is a graph of cloud resources and the verdicts, reasons and
// remaining counts of its findings, keyed "<component>/<domain>"; absent
// are keys that must have no finding.
type cloudCase struct {
	name      string
	env       string   // prod when ""
	topo      Topology // DefaultTopology when zero
	resources []graph.Resource
	wants     map[string]Verdict
	reasons   map[string]string
	remain    map[string]int
	absent    []string
}

func runCloudCases(t *testing.T, cases []cloudCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, topo := or(tc.env, "prod"), tc.topo
			if topo == (Topology{}) {
				topo = DefaultTopology
			}
			rep, err := Analyze(graph.Graph{Source: "test", Resources: tc.resources}, env, topo)
			require.NoError(t, err)
			got := map[string]Finding{}
			for _, f := range rep.Findings {
				key := f.Component + "/" + string(f.Domain)
				require.NotContains(t, got, key, "two findings for %s", key)
				got[key] = f
			}
			for key, v := range tc.wants {
				f, ok := got[key]
				if assert.True(t, ok, "no finding for %s", key) {
					assert.Equal(t, v, f.Verdict, "%s: %s", key, f.Reason)
					assert.NotEmpty(t, f.URN, key)
				}
			}
			for key, sub := range tc.reasons {
				assert.Contains(t, got[key].Reason, sub, key)
			}
			for key, n := range tc.remain {
				assert.Equal(t, n, got[key].Remaining, key)
			}
			for _, key := range tc.absent {
				assert.NotContains(t, got, key)
			}
		})
	}
}

func TestEKSNodeGroups(t *testing.T) {
	perZone := []graph.Resource{nodeGroup("nodes-a", 1, "private-a-0004"), nodeGroup("nodes-b", 1, "private-b-0004"), nodeGroup("nodes-c", 1, "private-c")}
	tainted := nodeGroup("system-c", 2, "private-c-0004")
	tainted.Inputs["taints"] = arr(map[string]any{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"})
	runCloudCases(t, []cloudCase{
		{
			name:      "a node group per zone keeps a node in every zone",
			resources: withEKS(perZone...),
			wants:     map[string]Verdict{"nodes-a/zone": Survives, "nodes-c/zone": Survives, "aws-eks/zone": Survives, "aws-eks/node": Survives},
			reasons:   map[string]string{"nodes-a/zone": "scalingConfig.minSize 1 keeps 1 node(s) in its zone us-east-1a", "aws-eks/zone": "every zone of the stack"},
			remain:    map[string]int{"aws-eks/zone": 2, "aws-eks/node": 2},
		},
		{
			name:      "the only node group, in one zone",
			resources: withEKS(nodeGroup("nodes", 3, "private-a-0004")),
			wants:     map[string]Verdict{"nodes/zone": SPOF, "aws-eks/zone": SPOF, "aws-eks/node": Survives},
			reasons: map[string]string{
				"nodes/zone":   "the cluster's only pool places every node in one zone (us-east-1a): losing it loses every node; set subnetIds to the stack's 3 zones",
				"aws-eks/zone": "none in us-east-1b, us-east-1c",
			},
			remain: map[string]int{"nodes/zone": 0, "aws-eks/zone": 0},
		},
		{
			name:      "per-zone groups that leave a zone out, and fewer nodes than the topology assumes",
			resources: withEKS(perZone[:2]...),
			wants:     map[string]Verdict{"nodes-a/zone": Survives, "aws-eks/zone": SPOF, "aws-eks/node": Degraded},
			reasons: map[string]string{
				"aws-eks/zone": "its pools keep nodes in 2 of the stack's 3 zones (us-east-1a, us-east-1b) and none in us-east-1c",
				"aws-eks/node": "its pools keep 2 nodes, fewer than the 3 the workload verdicts assume",
			},
		},
		{
			name:      "one group over three zones whose minSize cannot keep one node in each",
			resources: withEKS(nodeGroup("nodes", 2, "private-a-0004", "private-b-0004", "private-c-0004")),
			wants:     map[string]Verdict{"nodes/zone": SPOF, "aws-eks/zone": SPOF},
			reasons:   map[string]string{"nodes/zone": "scalingConfig.minSize 2 over 3 zones keeps a node in at most 2 of them, and no other pool keeps a node in us-east-1a, us-east-1b, us-east-1c; set scalingConfig.minSize to 3 or more"},
			remain:    map[string]int{"nodes/zone": 2},
		},
		{
			name:      "one group over three zones with a node per zone",
			resources: withEKS(nodeGroup("nodes", 3, "private-a-0004", "private-b-0004", "private-c-0004")),
			wants:     map[string]Verdict{"nodes/zone": Survives, "aws-eks/zone": Survives, "aws-eks/node": Survives},
			reasons:   map[string]string{"nodes/zone": "keeps at least 1 node(s) in each of its 3 zones (EC2 Auto Scaling balances"},
		},
		{
			name:      "a group that may scale to zero where another group covers its zone is degraded",
			resources: withEKS(nodeGroup("nodes", 3, "private-a-0004", "private-b-0004", "private-c-0004"), nodeGroup("spot-a", 0, "private-a-0004")),
			wants:     map[string]Verdict{"spot-a/zone": Degraded, "nodes/zone": Survives, "aws-eks/zone": Survives},
			reasons:   map[string]string{"spot-a/zone": "scalingConfig.minSize is 0: it may scale to no node in us-east-1a; the cluster's other pools keep a node"},
		},
		{
			name:      "a group that may scale to zero alone in its zone",
			resources: withEKS(perZone[0], perZone[1], nodeGroup("nodes-c", 0, "private-c-0004")),
			wants:     map[string]Verdict{"nodes-c/zone": SPOF, "aws-eks/zone": SPOF},
			reasons:   map[string]string{"nodes-c/zone": "no other pool keeps a node in us-east-1c; set scalingConfig.minSize to 1 or more"},
		},
		{
			name:      "a tainted group does not give workloads a zone",
			resources: withEKS(nodeGroup("nodes-a", 2, "private-a-0004"), nodeGroup("nodes-b", 2, "private-b-0004"), tainted),
			wants:     map[string]Verdict{"system-c/zone": Survives, "aws-eks/zone": SPOF},
			reasons:   map[string]string{"aws-eks/zone": "none in us-east-1c"},
		},
		{
			name:      "subnets outside the graph: the analysis cannot tell, and says so",
			resources: withEKS(nodeGroup("nodes", 3, "subnet-0abc", "subnet-0def", "subnet-0123")),
			wants:     map[string]Verdict{"nodes/zone": Degraded, "aws-eks/zone": Degraded},
			reasons:   map[string]string{"nodes/zone": "subnetIds subnet-0abc is not a resource of this stack", "aws-eks/zone": "subnet-0abc"},
		},
		{
			name:      "subnets not known until apply",
			resources: withEKS(nodeGroup("nodes", 3, unknownID)),
			wants:     map[string]Verdict{"nodes/zone": Degraded},
			reasons:   map[string]string{"nodes/zone": "subnetIds is not known until apply"},
		},
		{
			name:      "a stack of one zone",
			topo:      Topology{Zones: 1, Nodes: 2},
			resources: []graph.Resource{eks, awsPrivate[0], nodeGroup("nodes", 2, "private-a-0004")},
			wants:     map[string]Verdict{"nodes/zone": SPOF, "aws-eks/zone": SPOF, "aws-eks/node": Survives},
			reasons:   map[string]string{"aws-eks/zone": "the stack has one zone"},
		},
		{
			name:      "one node in all",
			topo:      Topology{Zones: 1, Nodes: 1},
			resources: []graph.Resource{eks, awsPrivate[0], nodeGroup("nodes", 1, "private-a-0004")},
			wants:     map[string]Verdict{"aws-eks/node": SPOF},
			reasons:   map[string]string{"aws-eks/node": "its pools keep 1 node(s): losing one stops every pod; raise scalingConfig.minSize"},
		},
	})
}

func TestAWSNATGateways(t *testing.T) {
	oneNAT := awsEgressVia(func(string) string { return "nat-a" }, "nat-a")
	perZone := awsEgressVia(func(z string) string { return "nat-" + z }, "nat-a", "nat-b", "nat-c")
	regional := awsEgressVia(func(string) string { return "nat-a" }, "nat-a")
	for i, r := range regional {
		if r.Type == awsNAT {
			regional[i] = res(awsNAT, r.Name, map[string]any{"availabilityMode": "regional", "vpcId": "vpc-0001"})
		}
	}
	// dev's shape with the default route a separate Route resource.
	separate := append([]graph.Resource{}, awsPrivate[1], awsPublic[0], natGateway("nat-a", "public-a"),
		res(awsRouteTable, "rt-b", map[string]any{"vpcId": "vpc-0001"}), association("rt-b", "private-b"),
		res(awsRoute, "rt-b-default", map[string]any{"routeTableId": "rt-b-0005", "destinationCidrBlock": anywhere, "natGatewayId": "nat-a-0006"}))
	shared := append(append([]graph.Resource{}, awsPrivate...), awsPublic[0], natGateway("nat-a", "public-a"), routeTable("rt-all", "nat-a-0006"),
		association("rt-all", "private-a"), association("rt-all", "private-b"), association("rt-all", "private-c"))
	outside := append(append([]graph.Resource{}, awsPrivate[1]), routeTable("rt-b", "nat-0abc"), association("rt-b", "private-b"))
	runCloudCases(t, []cloudCase{
		{
			name:      "one NAT gateway for three zones is a zone SPOF in prod",
			resources: oneNAT,
			wants:     map[string]Verdict{"rt-a/zone": Survives, "rt-b/zone": SPOF, "rt-c/zone": SPOF},
			reasons: map[string]string{
				"rt-a/zone": "through NAT gateway nat-a in its own zone us-east-1a",
				"rt-b/zone": "rt-b sends 0.0.0.0/0 through NAT gateway nat-a in us-east-1a: losing us-east-1a cuts the egress of private-b in us-east-1b (a NAT gateway is zonal); give us-east-1b its own NAT gateway and point routes[0].natGatewayId at it",
			},
			remain: map[string]int{"rt-b/zone": 0},
		},
		{
			name: "in staging too", env: "staging", resources: oneNAT,
			wants: map[string]Verdict{"rt-b/zone": SPOF, "rt-c/zone": SPOF},
		},
		{
			name: "advisory in dev", env: "dev", resources: oneNAT,
			wants: map[string]Verdict{"rt-a/zone": Survives, "rt-b/zone": Degraded, "rt-c/zone": Degraded},
		},
		{
			name:      "a NAT gateway per zone survives",
			resources: perZone,
			wants:     map[string]Verdict{"rt-a/zone": Survives, "rt-b/zone": Survives, "rt-c/zone": Survives},
			reasons:   map[string]string{"rt-c/zone": "through NAT gateway nat-c in its own zone us-east-1c"},
		},
		{
			name:      "a regional NAT gateway spans the zones",
			resources: regional,
			wants:     map[string]Verdict{"rt-b/zone": Survives},
			reasons:   map[string]string{"rt-b/zone": "a regional one"},
		},
		{
			name:      "a default route as a separate Route resource",
			resources: separate,
			wants:     map[string]Verdict{"rt-b/zone": SPOF},
			reasons:   map[string]string{"rt-b/zone": "point the natGatewayId of Route rt-b-default at it"},
		},
		{
			name:      "one route table for every zone",
			resources: shared,
			wants:     map[string]Verdict{"rt-all/zone": SPOF},
			reasons:   map[string]string{"rt-all/zone": "cuts the egress of private-b, private-c in us-east-1b, us-east-1c (a NAT gateway is zonal); give each of us-east-1a, us-east-1b, us-east-1c a NAT gateway in that zone and a route table of its own"},
			remain:    map[string]int{"rt-all/zone": 0},
		},
		{
			name:      "a NAT gateway outside the graph: the analysis cannot tell",
			resources: outside,
			wants:     map[string]Verdict{"rt-b/zone": Degraded},
			reasons:   map[string]string{"rt-b/zone": "routes[0].natGatewayId nat-0abc is not a resource of this stack"},
		},
		{
			name:      "a route table no subnet uses is not judged",
			resources: []graph.Resource{awsPublic[0], natGateway("nat-a", "public-a"), routeTable("rt-main", "nat-a-0006")},
			absent:    []string{"rt-main/zone"},
		},
	})
}

func TestGKENodePools(t *testing.T) {
	cloudNAT := res(gcpRouterNAT, "nat", map[string]any{"router": "cloudscale-router", "region": "us-central1", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"})
	tainted := nodePool("system", map[string]any{"nodeLocations": gcpZones, "nodeCount": 1,
		"nodeConfig": map[string]any{"taints": arr(map[string]any{"key": "dedicated", "value": "system", "effect": "NO_SCHEDULE"})}})
	runCloudCases(t, []cloudCase{
		{
			name: "a regional pool over three zones with a per-zone floor, and Cloud NAT",
			resources: []graph.Resource{gke(map[string]any{"nodeLocations": gcpZones}), cloudNAT,
				nodePool("general", map[string]any{"nodeLocations": gcpZones, "autoscaling": map[string]any{"minNodeCount": 1, "maxNodeCount": 3, "locationPolicy": "BALANCED"}})},
			wants:   map[string]Verdict{"general/zone": Survives, "gke/zone": Survives, "gke/node": Survives, "nat/zone": Survives},
			reasons: map[string]string{"general/zone": "autoscaling.minNodeCount 1 keeps at least 1 node(s) in each of its 3 zones (autoscaling.minNodeCount counts per zone)", "nat/zone": "Cloud NAT on router cloudscale-router is regional"},
			remain:  map[string]int{"gke/node": 2},
		},
		{
			name:      "a zonal cluster's pool lives in one zone",
			resources: []graph.Resource{gke(map[string]any{"location": "us-central1-a"}), nodePool("general", map[string]any{"nodeCount": 3})},
			wants:     map[string]Verdict{"general/zone": SPOF, "gke/zone": SPOF},
			reasons:   map[string]string{"general/zone": "one zone (us-central1-a)", "gke/zone": "keep nodes in 1 of the stack's 3 zones (us-central1-a) and none in 2 more zone(s)"},
		},
		{
			name:      "a regional pool without nodeLocations gets three of the region's zones",
			resources: []graph.Resource{gke(nil), nodePool("general", map[string]any{"nodeCount": 1})},
			wants:     map[string]Verdict{"general/zone": Survives, "gke/zone": Survives},
			reasons:   map[string]string{"gke/zone": "keep nodes in 3 zones"},
		},
		{
			name: "a total floor of 2 over three zones",
			resources: []graph.Resource{gke(map[string]any{"nodeLocations": gcpZones}),
				nodePool("general", map[string]any{"nodeLocations": gcpZones, "autoscaling": map[string]any{"totalMinNodeCount": 2, "totalMaxNodeCount": 9}})},
			wants:   map[string]Verdict{"general/zone": SPOF, "gke/zone": SPOF},
			reasons: map[string]string{"general/zone": "autoscaling.totalMinNodeCount 2 over 3 zones keeps a node in at most 2 of them"},
		},
		{
			name: "a total floor the ANY location policy does not balance",
			resources: []graph.Resource{gke(map[string]any{"nodeLocations": gcpZones}),
				nodePool("general", map[string]any{"nodeLocations": gcpZones, "autoscaling": map[string]any{"totalMinNodeCount": 3, "locationPolicy": "ANY"}})},
			wants:   map[string]Verdict{"general/zone": SPOF},
			reasons: map[string]string{"general/zone": "counts over all 3 zones and nothing balances it"},
		},
		{
			name: "a tainted pool does not give workloads a zone",
			resources: []graph.Resource{gke(map[string]any{"nodeLocations": gcpZones}), tainted,
				nodePool("general", map[string]any{"nodeLocations": arr("us-central1-a"), "nodeCount": 3})},
			wants:   map[string]Verdict{"system/zone": Survives, "general/zone": Survives, "gke/zone": SPOF},
			reasons: map[string]string{"gke/zone": "none in us-central1-b, us-central1-c"},
		},
		{
			name:      "the default pool counts unless removed",
			resources: []graph.Resource{gke(map[string]any{"nodeLocations": gcpZones, "removeDefaultNodePool": false, "initialNodeCount": 1})},
			wants:     map[string]Verdict{"gke/default-pool/zone": Survives, "gke/zone": Survives},
		},
		{
			name:      "Autopilot places its nodes itself",
			resources: []graph.Resource{gke(map[string]any{"enableAutopilot": true})},
			wants:     map[string]Verdict{"gke/zone": Survives, "gke/node": Survives},
			reasons:   map[string]string{"gke/zone": "Autopilot"},
		},
		{
			name:      "a cluster without pools: the analysis cannot tell",
			resources: []graph.Resource{gke(map[string]any{"nodeLocations": gcpZones})},
			wants:     map[string]Verdict{"gke/zone": Degraded, "gke/node": Degraded},
		},
	})
}

func TestAKSAgentPools(t *testing.T) {
	autoscaled := agentPool("user", 3, "1", "2", "3")
	autoscaled["enableAutoScaling"], autoscaled["minCount"], autoscaled["maxCount"] = true, 1, 9
	nat := func(sku string, zones ...string) graph.Resource {
		in := map[string]any{"natGatewayName": "cloudscale-nat", "sku": map[string]any{"name": sku}}
		if len(zones) > 0 {
			in["zones"] = arr(zones...)
		}
		return res(azureNAT, "nat", in)
	}
	userAssigned := map[string]any{"loadBalancerSku": "standard", "outboundType": "userAssignedNATGateway"}
	separate := res(aksAgentPool, "user-pool", map[string]any{"resourceName": "cloudscale-aks", "agentPoolName": "user", "count": 3, "availabilityZones": arr("1", "2", "3")})
	runCloudCases(t, []cloudCase{
		{
			name:      "a system and a user pool over three zones, out through the Standard load balancer",
			resources: []graph.Resource{aks(standardLB, systemPool(), agentPool("user", 6, "1", "2", "3"))},
			wants:     map[string]Verdict{"aks/system/zone": Survives, "aks/user/zone": Survives, "aks/zone": Survives, "aks/node": Survives, "aks/outbound/zone": Survives},
			reasons: map[string]string{
				"aks/user/zone":     "the user pool's count 6 keeps at least 2 node(s) in each of its 3 zones (AKS balances",
				"aks/outbound/zone": "zone-redundant",
			},
		},
		{
			name:      "a pool with no availabilityZones",
			resources: []graph.Resource{aks(standardLB, agentPool("user", 3))},
			wants:     map[string]Verdict{"aks/user/zone": SPOF, "aks/zone": SPOF},
			reasons:   map[string]string{"aks/user/zone": "the user pool's availabilityZones is empty: the nodes get no zone"},
		},
		{
			name:      "an autoscaled pool whose minCount leaves zones bare, and only the tainted system pool there",
			resources: []graph.Resource{aks(standardLB, systemPool(), autoscaled)},
			wants:     map[string]Verdict{"aks/user/zone": Degraded, "aks/zone": SPOF, "aks/node": SPOF},
			reasons: map[string]string{
				"aks/user/zone": "the user pool's minCount 1 over 3 zones keeps a node in at most 1 of them; the cluster's other pools keep a node in each of those zones",
				"aks/zone":      "none in 1, 2, 3",
			},
		},
		{
			name:      "an AgentPool resource joins its cluster by resourceName",
			resources: []graph.Resource{aks(standardLB, systemPool()), separate},
			wants:     map[string]Verdict{"user-pool/zone": Survives, "aks/zone": Survives},
		},
		{
			name:      "AKS's managed NAT gateway is zonal",
			resources: []graph.Resource{aks(map[string]any{"outboundType": "managedNATGateway"}, agentPool("user", 3, "1", "2", "3"))},
			wants:     map[string]Verdict{"aks/outbound/zone": SPOF},
			reasons:   map[string]string{"aks/outbound/zone": "set networkProfile.outboundType to loadBalancer"},
		},
		{
			name: "advisory in dev", env: "dev",
			resources: []graph.Resource{aks(map[string]any{"outboundType": "managedNATGateway"}, agentPool("user", 3, "1", "2", "3"))},
			wants:     map[string]Verdict{"aks/outbound/zone": Degraded},
		},
		{
			name:      "a Basic load balancer",
			resources: []graph.Resource{aks(map[string]any{"loadBalancerSku": "basic"}, agentPool("user", 3, "1", "2", "3"))},
			wants:     map[string]Verdict{"aks/outbound/zone": SPOF},
		},
		{
			name:      "a Standard NAT gateway in one zone",
			resources: []graph.Resource{aks(userAssigned, agentPool("user", 3, "1", "2", "3")), nat("Standard", "1")},
			wants:     map[string]Verdict{"nat/zone": SPOF},
			reasons:   map[string]string{"nat/zone": "lives in zone 1"},
			absent:    []string{"aks/outbound/zone"},
		},
		{
			name:      "a Standard NAT gateway in no zone",
			resources: []graph.Resource{nat("Standard")},
			wants:     map[string]Verdict{"nat/zone": SPOF},
			reasons:   map[string]string{"nat/zone": "no zone (Azure picks one)"},
		},
		{
			name:      "a StandardV2 NAT gateway is zone-redundant",
			resources: []graph.Resource{nat("StandardV2", "1", "2", "3")},
			wants:     map[string]Verdict{"nat/zone": Survives},
		},
		{
			name:      "user-defined routing: the analysis cannot tell",
			resources: []graph.Resource{aks(map[string]any{"outboundType": "userDefinedRouting"}, agentPool("user", 3, "1", "2", "3"))},
			wants:     map[string]Verdict{"aks/outbound/zone": Degraded},
		},
	})
}

func TestDiskStorageClasses(t *testing.T) {
	zoneA := storageClass("pinned", "ebs.csi.aws.com", "WaitForFirstConsumer", map[string]any{"type": "gp3"})
	zoneA.Inputs["allowedTopologies"] = arr(map[string]any{"matchLabelExpressions": arr(map[string]any{"key": "topology.ebs.csi.aws.com/zone", "values": arr("us-east-1a")})})
	runCloudCases(t, []cloudCase{
		{
			name: "EBS",
			resources: []graph.Resource{
				storageClass("immediate", "ebs.csi.aws.com", "Immediate", map[string]any{"type": "gp3"}),
				storageClass("defaulted", "kubernetes.io/aws-ebs", "", nil),
				storageClass("waits", "ebs.csi.aws.com", "WaitForFirstConsumer", map[string]any{"type": "gp3", "encrypted": "true"}),
				zoneA,
			},
			wants: map[string]Verdict{"immediate/zone": Degraded, "defaulted/zone": Degraded, "waits/zone": Survives, "pinned/zone": SPOF},
			reasons: map[string]string{
				"immediate/zone": "volumeBindingMode Immediate and an EBS volume lives in one Availability Zone: the disk is provisioned before the pod is scheduled, in a zone its spread did not choose, and pins the pod there for good (several replicas possibly in one zone); set volumeBindingMode: WaitForFirstConsumer",
				"waits/zone":     "provisioned in the zone the scheduler chose for its pod",
				"pinned/zone":    "allowedTopologies leave one zone (us-east-1a)",
			},
		},
		{
			name: "GCP persistent disks",
			resources: []graph.Resource{
				storageClass("regional", "pd.csi.storage.gke.io", "Immediate", map[string]any{"type": "pd-ssd", "replication-type": "regional-pd"}),
				storageClass("zonal", "kubernetes.io/gce-pd", "Immediate", map[string]any{"type": "pd-ssd"}),
			},
			wants:   map[string]Verdict{"regional/zone": Survives, "zonal/zone": Degraded},
			reasons: map[string]string{"regional/zone": "replication-type regional-pd replicates each disk over two zones"},
			remain:  map[string]int{"regional/zone": 1},
		},
		{
			name: "Azure managed disks",
			resources: []graph.Resource{
				storageClass("zrs", "disk.csi.azure.com", "Immediate", map[string]any{"skuName": "Premium_ZRS"}),
				storageClass("lrs", "kubernetes.io/azure-disk", "Immediate", map[string]any{"storageaccounttype": "Premium_LRS"}),
				storageClass("lrs-waits", "disk.csi.azure.com", "WaitForFirstConsumer", map[string]any{"skuname": "StandardSSD_LRS"}),
			},
			wants:   map[string]Verdict{"zrs/zone": Survives, "lrs/zone": Degraded, "lrs-waits/zone": Survives},
			reasons: map[string]string{"zrs/zone": "skuName Premium_ZRS replicates each disk over three zones", "lrs/zone": "a Premium_LRS managed disk lives in one zone"},
		},
		{
			name:      "a class that provisions no cloud disk is not judged",
			resources: []graph.Resource{storageClass("local", "kubernetes.io/no-provisioner", "Immediate", nil)},
			absent:    []string{"local/zone"},
		},
	})
}

// A graph with no cloud resource (the local stack, rendered YAML) gives
// no cloud finding.
func TestNoCloudNoCloudFindings(t *testing.T) {
	rep := analyzeYAML(t, DefaultTopology, deployment("web", 3, spreadFor("web")), pdb("web", "maxUnavailable", "1"), `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: cloudscale-encrypted}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
`)
	assert.Zero(t, rep.Cloud)
	assert.Equal(t, 1, rep.Components)
	for _, f := range rep.Findings {
		assert.Equal(t, "shop", f.Namespace, "%s %s", f.Kind, f.Component)
	}
}

// The committed stacks' cloud tiers, as the mocks register them
// (testdata/cloud): what each gets, and dev's single NAT gateway, which is
// advisory in dev and would fail the gate where it is enforced.
func TestCloudTiersOfTheStacks(t *testing.T) {
	cases := []struct {
		file, env string
		topo      Topology
		cloud     int
		verdicts  map[Verdict]int
		reasons   map[string]string
	}{
		{"aws-dev.json", "dev", Topology{Zones: 3, Nodes: 3}, 8, map[Verdict]int{Survives: 7, Degraded: 2},
			map[string]string{"aws-private-us-east-1b/zone": "through NAT gateway aws-nat-us-east-1a in us-east-1a: losing us-east-1a cuts the egress of aws-private-us-east-1b in us-east-1b"}},
		{"aws-dev.json", "prod", Topology{Zones: 3, Nodes: 3}, 8, map[Verdict]int{Survives: 7, SPOF: 2}, nil},
		{"aws-prod.json", "prod", Topology{Zones: 3, Nodes: 6}, 8, map[Verdict]int{Survives: 9},
			map[string]string{"aws-eks/zone": "every zone of the stack", "aws-eks/node": "keep at least 6 nodes", "aws-nodes-us-east-1a/zone": "scalingConfig.minSize 2 keeps 2 node(s) in its zone us-east-1a"}},
		{"azure-prod.json", "prod", Topology{Zones: 3, Nodes: 6}, 5, map[Verdict]int{Survives: 6},
			map[string]string{"azure-aks/zone": "keep nodes in 3 zones (1, 2, 3)", "cloudscale-encrypted/zone": "Premium_ZRS"}},
		{"gcp-prod.json", "prod", Topology{Zones: 3, Nodes: 6}, 4, map[Verdict]int{Survives: 5},
			map[string]string{"gcp-nodes/zone": "autoscaling.minNodeCount 2", "gcp-nat/zone": "Cloud NAT"}},
	}
	for _, tc := range cases {
		t.Run(tc.file+" in "+tc.env, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "cloud", tc.file))
			require.NoError(t, err)
			var g graph.Graph
			require.NoError(t, json.Unmarshal(raw, &g))
			rep, err := Analyze(g, tc.env, tc.topo)
			require.NoError(t, err)
			assert.Equal(t, tc.cloud, rep.Cloud)
			got, byKey := map[Verdict]int{}, map[string]string{}
			for _, f := range rep.Findings {
				got[f.Verdict]++
				byKey[f.Component+"/"+string(f.Domain)] = f.Reason
			}
			assert.Equal(t, tc.verdicts, got, "%v", rep.Findings)
			for key, sub := range tc.reasons {
				assert.Contains(t, byKey[key], sub, key)
			}
		})
	}
}
