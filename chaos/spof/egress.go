package spof

import (
	"fmt"
	"strings"

	"github.com/cloudscale/platform/graph"
)

// Type tokens of the egress paths the cloud tiers register.
const (
	awsNAT         = "aws:ec2/natGateway:NatGateway"
	awsRouteTable  = "aws:ec2/routeTable:RouteTable"
	awsRoute       = "aws:ec2/route:Route"
	awsAssociation = "aws:ec2/routeTableAssociation:RouteTableAssociation"
	azureNAT       = "azure-native:network:NatGateway"
	gcpRouterNAT   = "gcp:compute/routerNat:RouterNat"
)

// anywhere is the default route's destination.
const anywhere = "0.0.0.0/0"

// egressFindings judge whether one zone's outage cuts another zone's
// egress to the internet (image pulls, the cloud's APIs, backups): a
// single point of failure where the gate is enforced, advisory elsewhere
// (egressVerdict).
func egressFindings(_ graph.Graph, x refs, env string, _ Topology) []Finding {
	out := awsEgress(x, env)
	out = append(out, azureEgress(x, env)...)
	return append(out, gcpEgress(x)...)
}

// awsEgress judges every route table whose default route goes through a
// NAT gateway, over the subnets associated with it. A NAT gateway is
// zonal ("NAT gateways in each Availability Zone are implemented with
// redundancy in that zone... if a NAT gateway's Availability Zone is down,
// resources in other Availability Zones that use it lose internet access",
// Amazon VPC User Guide, NAT gateways), unless its availabilityMode is
// regional (a regional NAT gateway spans the VPC's zones). A table that no
// association in the graph uses (the VPC's main table) is not judged.
func awsEgress(x refs, env string) []Finding {
	var out []Finding
	for _, rt := range x.byType[awsRouteTable] {
		nat, field := defaultNAT(x, rt)
		subnets := associated(x, rt)
		if nat == "" || len(subnets) == 0 {
			continue
		}
		out = append(out, judgeRoute(x, rt, nat, field, subnets, env))
	}
	return out
}

// defaultNAT is the NAT gateway a route table's default route names
// (inline in routes, or a separate Route resource), and its field.
func defaultNAT(x refs, rt graph.Resource) (nat, field string) {
	v, _ := rt.Get("routes")
	routes, _ := v.([]any)
	for i, it := range routes {
		m, _ := it.(map[string]any)
		if id, _ := m["natGatewayId"].(string); m["cidrBlock"] == anywhere && id != "" {
			return id, fmt.Sprintf("routes[%d].natGatewayId", i)
		}
	}
	for _, r := range x.byType[awsRoute] {
		t, ok := x.find(awsRouteTable, r.String("routeTableId"))
		if id := r.String("natGatewayId"); ok && t.URN == rt.URN && r.String("destinationCidrBlock") == anywhere && id != "" {
			return id, fmt.Sprintf("the natGatewayId of Route %s", r.Name)
		}
	}
	return "", ""
}

// associated are the subnet ids a route table's associations name.
func associated(x refs, rt graph.Resource) []string {
	var out []string
	for _, a := range x.byType[awsAssociation] {
		if t, ok := x.find(awsRouteTable, a.String("routeTableId")); ok && t.URN == rt.URN && a.String("subnetId") != "" {
			out = append(out, a.String("subnetId"))
		}
	}
	return out
}

// judgeRoute judges a route table's subnets against its NAT gateway's
// zone (replicas: the subnets' zones; needed: those other than the NAT
// gateway's, which must keep egress when its zone is lost).
func judgeRoute(x refs, rt graph.Resource, natRef, field string, subnets []string, env string) Finding {
	f := func(v Verdict, zones, needed, remaining int, reason string) Finding {
		return cloudFinding(rt, rt.Name, Zone, v, zones, remaining, needed, reason)
	}
	nat, ok := x.find(awsNAT, natRef)
	if !ok {
		return f(Degraded, 0, 0, 0, unresolved(field, natRef)+", so the analysis cannot tell which zone its egress depends on")
	}
	if strings.EqualFold(nat.String("availabilityMode"), "regional") {
		return f(Survives, 0, 0, 0, fmt.Sprintf("%s is NAT gateway %s, a regional one that spans the VPC's Availability Zones: no zone's outage cuts another's egress", field, nat.Name))
	}
	s, ok := x.find(awsSubnet, nat.String("subnetId"))
	natZone := awsZone(s)
	if !ok || natZone == "" {
		return f(Degraded, 0, 0, 0, fmt.Sprintf("NAT gateway %s: %s, so the analysis cannot tell its zone", nat.Name, unresolved("subnetId", nat.String("subnetId"))))
	}
	zones, cross, crossSubnets, unknown := set{}, set{}, set{}, ""
	for _, id := range subnets {
		sub, ok := x.find(awsSubnet, id)
		z := awsZone(sub)
		switch {
		case !ok || z == "":
			unknown = or(unknown, unresolved("an associated subnetId", id))
		case z != natZone:
			cross[z], crossSubnets[sub.Name] = true, true
		}
		zones.add(setOf(z))
	}
	others := len(zones.minus(setOf(natZone)))
	switch {
	case len(cross) > 0:
		fix := fmt.Sprintf("give %s its own NAT gateway and point %s at it", cross, field)
		if len(zones) > 1 {
			fix = fmt.Sprintf("give each of %s a NAT gateway in that zone and a route table of its own that routes through it", zones)
		}
		return f(egressVerdict(env), len(zones), others, others-len(cross), fmt.Sprintf("%s sends %s through NAT gateway %s in %s: losing %s cuts the egress of %s in %s (a NAT gateway is zonal); %s",
			rt.Name, anywhere, nat.Name, natZone, natZone, crossSubnets, cross, fix))
	case unknown != "":
		return f(Degraded, len(zones), others, 0, fmt.Sprintf("%s, so the analysis cannot tell whether its subnets share NAT gateway %s's zone %s", unknown, nat.Name, natZone))
	}
	return f(Survives, len(zones), 0, 0, fmt.Sprintf("%s sends %s through NAT gateway %s in its own zone %s: no other zone's egress depends on that zone", rt.Name, anywhere, nat.Name, natZone))
}

// azureEgress judges an AKS cluster's outbound type (AKS docs, Customize
// cluster egress with outbound types) and every NAT gateway.
// loadBalancer (the default) goes out through the Standard load
// balancer's frontend public IPs, which are zone-redundant (Azure docs,
// Public IP addresses: Standard SKU addresses are zone-redundant by
// default in regions with availability zones); a Basic load balancer has
// no zones. managedNATGateway is one Standard NAT gateway that AKS
// creates, and a Standard NAT gateway is zonal: it lives in one zone, or
// in no zone of Azure's choosing, and a subnet is regional, so nodes in
// every zone egress through it (Azure NAT Gateway docs, NAT gateway and
// availability zones); the StandardV2 SKU is zone-redundant.
// userAssignedNATGateway leaves it to the NAT gateway, judged on its own;
// userDefinedRouting to an appliance the analysis does not read.
func azureEgress(x refs, env string) []Finding {
	var out []Finding
	for _, c := range x.byType[aksCluster] {
		// The cluster's own zone finding is its nodes' coverage: its egress
		// is "<cluster>/outbound".
		f := func(v Verdict, reason string) Finding {
			return cloudFinding(c, c.Name+"/outbound", Zone, v, 0, 0, 0, reason)
		}
		switch outbound := or(c.String("networkProfile.outboundType"), "loadBalancer"); outbound {
		case "loadBalancer":
			if strings.EqualFold(c.String("networkProfile.loadBalancerSku"), "basic") {
				out = append(out, f(egressVerdict(env), "networkProfile.loadBalancerSku basic: a Basic load balancer's outbound IP has no zone redundancy; set it to standard"))
			} else {
				out = append(out, f(Survives, "networkProfile.outboundType loadBalancer: egress goes through the Standard load balancer's zone-redundant frontend IPs"))
			}
		case "managedNATGateway":
			out = append(out, f(egressVerdict(env), "networkProfile.outboundType managedNATGateway: AKS's managed NAT gateway is one zonal Standard NAT gateway that nodes in every zone egress through, so losing its zone cuts them all; set networkProfile.outboundType to loadBalancer, or userAssignedNATGateway with a StandardV2 (zone-redundant) NAT gateway"))
		case "userDefinedRouting":
			out = append(out, f(Degraded, "networkProfile.outboundType userDefinedRouting: egress goes to a next hop (Azure Firewall, an appliance) the analysis does not read, so it cannot tell whether a zone's outage cuts it"))
		}
	}
	for _, n := range x.byType[azureNAT] {
		if strings.EqualFold(n.String("sku.name"), "StandardV2") {
			out = append(out, cloudFinding(n, n.Name, Zone, Survives, 0, 0, 0, "sku StandardV2: the NAT gateway is zone-redundant"))
			continue
		}
		where := "no zone (Azure picks one)"
		if z := strs(n, "zones"); len(z) > 0 {
			where = "zone " + strings.Join(z, ", ")
		}
		out = append(out, cloudFinding(n, n.Name, Zone, egressVerdict(env), 0, 0, 0, fmt.Sprintf("a Standard NAT gateway lives in %s and the subnets it serves are regional, so nodes in every zone egress through it and losing its zone cuts them all; set sku.name to StandardV2 (zone-redundant)", where)))
	}
	return out
}

// gcpEgress judges Cloud NAT: a distributed, software-defined service of
// a regional Cloud Router, with no gateway instance in any zone (Cloud NAT
// overview, Architecture), so a zone's outage cuts no other zone's
// egress.
func gcpEgress(x refs) []Finding {
	var out []Finding
	for _, n := range x.byType[gcpRouterNAT] {
		out = append(out, cloudFinding(n, n.Name, Zone, Survives, 0, 0, 0, fmt.Sprintf("Cloud NAT on router %s is regional and has no gateway in any zone: no zone's outage cuts another's egress", or(n.String("router"), "?"))))
	}
	return out
}
