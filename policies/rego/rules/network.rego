# Network rules: nothing reachable from the internet but the gateway on 443,
# cluster network policy enforced, no public storage. Mandatory everywhere.
package cloudscale.rules.network

import rego.v1

import data.cloudscale.lib

# METADATA
# title: The cluster API endpoint is not open to the internet
# description: A public Kubernetes API endpoint must be limited to listed CIDRs, never 0.0.0.0/0.
# custom:
#   id: CS-NET-001
#   severity: critical
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "EKS: endpointPublicAccess false, or publicAccessCidrs listing your ranges; AKS: a private cluster or authorizedIPRanges; GKE: enablePrivateEndpoint or masterAuthorizedNetworksConfig.cidrBlocks."
cs_net_001 contains f if {
	some r in input.by_type["aws:eks/cluster:Cluster"]
	object.get(r.inputs, ["vpcConfig", "endpointPublicAccess"], true)
	cidrs := object.get(r.inputs, ["vpcConfig", "publicAccessCidrs"], ["0.0.0.0/0"])
	open_or_empty(cidrs)
	f := {"urn": r.urn, "msg": sprintf("EKS cluster %s has a public endpoint open to %v", [r.name, cidrs])}
}

cs_net_001 contains f if {
	some r in input.by_type["azure-native:containerservice:ManagedCluster"]
	not object.get(r.inputs, ["apiServerAccessProfile", "enablePrivateCluster"], false)
	cidrs := object.get(r.inputs, ["apiServerAccessProfile", "authorizedIPRanges"], [])
	open_or_empty(cidrs)
	f := {"urn": r.urn, "msg": sprintf("AKS %s has a public API server with authorized ranges %v", [r.name, cidrs])}
}

cs_net_001 contains f if {
	some r in input.by_type["gcp:container/cluster:Cluster"]
	not object.get(r.inputs, ["privateClusterConfig", "enablePrivateEndpoint"], false)
	blocks := [b.cidrBlock | some b in object.get(r.inputs, ["masterAuthorizedNetworksConfig", "cidrBlocks"], [])]
	open_or_empty(blocks)
	f := {"urn": r.urn, "msg": sprintf("GKE cluster %s has a public endpoint with authorized networks %v", [r.name, blocks])}
}

open_or_empty(cidrs) if count(cidrs) == 0

open_or_empty(cidrs) if {
	some c in cidrs
	c in lib.open_cidrs
}

# METADATA
# title: Only the gateway's 443 is open to the internet
# description: No security group, NSG or firewall rule may admit 0.0.0.0/0 except HTTPS (443) to the gateway's load balancer.
# custom:
#   id: CS-NET-002
#   severity: critical
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Narrow the source to known CIDRs, or, for the gateway load balancer, admit only port 443 (tag the AWS group cloudscale.io/role=gateway-lb).
cs_net_002 contains f if {
	some r in input.by_type["aws:ec2/securityGroup:SecurityGroup"]
	some rule in object.get(r.inputs, "ingress", [])
	some c in array.concat(object.get(rule, "cidrBlocks", []), object.get(rule, "ipv6CidrBlocks", []))
	c in lib.open_cidrs
	not aws_gateway_https(r, rule)
	f := {"urn": r.urn, "msg": sprintf("security group %s admits %s on ports %v-%v", [r.name, c, rule.fromPort, rule.toPort])}
}

aws_gateway_https(r, rule) if {
	r.inputs.tags["cloudscale.io/role"] == "gateway-lb"
	rule.fromPort == 443
	rule.toPort == 443
	rule.protocol == "tcp"
}

cs_net_002 contains f if {
	some r in input.by_type["aws:ec2/securityGroupRule:SecurityGroupRule"]
	r.inputs.type == "ingress"
	some c in object.get(r.inputs, "cidrBlocks", [])
	c in lib.open_cidrs
	not r.inputs.fromPort == 443
	f := {"urn": r.urn, "msg": sprintf("security group rule %s admits %s on ports %v-%v", [r.name, c, r.inputs.fromPort, r.inputs.toPort])}
}

cs_net_002 contains f if {
	some r in input.by_type["azure-native:network:NetworkSecurityGroup"]
	some rule in object.get(r.inputs, "securityRules", [])
	lower(rule.direction) == "inbound"
	lower(rule.access) == "allow"
	object.get(rule, "sourceAddressPrefix", "") in lib.open_cidrs
	object.get(rule, "destinationPortRange", "*") != "443"
	f := {"urn": r.urn, "msg": sprintf("NSG %s rule %s admits %s on port %v", [r.name, rule.name, rule.sourceAddressPrefix, object.get(rule, "destinationPortRange", "*")])}
}

cs_net_002 contains f if {
	some r in input.by_type["gcp:compute/firewall:Firewall"]
	object.get(r.inputs, "direction", "INGRESS") == "INGRESS"
	some src in object.get(r.inputs, "sourceRanges", [])
	src in lib.open_cidrs
	some a in object.get(r.inputs, "allows", [])
	object.get(a, "ports", []) != ["443"]
	f := {"urn": r.urn, "msg": sprintf("firewall %s admits %s to %v ports %v", [r.name, src, a.protocol, object.get(a, "ports", ["all"])])}
}

# METADATA
# title: The cluster enforces network policy
# description: A NetworkPolicy only protects when the cluster's dataplane enforces it.
# custom:
#   id: CS-NET-003
#   severity: high
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "AKS: networkProfile.networkPolicy azure, cilium or calico; GKE: datapathProvider ADVANCED_DATAPATH or networkPolicy.enabled; EKS: the vpc-cni add-on with enableNetworkPolicy (CS-NET-103)."
cs_net_003 contains f if {
	some r in input.by_type["azure-native:containerservice:ManagedCluster"]
	not object.get(r.inputs, ["networkProfile", "networkPolicy"], "none") in {"azure", "cilium", "calico"}
	f := {"urn": r.urn, "msg": sprintf("AKS %s enforces no network policy (networkPolicy %v)", [r.name, object.get(r.inputs, ["networkProfile", "networkPolicy"], "unset")])}
}

cs_net_003 contains f if {
	some r in input.by_type["gcp:container/cluster:Cluster"]
	object.get(r.inputs, "datapathProvider", "LEGACY_DATAPATH") != "ADVANCED_DATAPATH"
	not object.get(r.inputs, ["networkPolicy", "enabled"], false)
	f := {"urn": r.urn, "msg": sprintf("GKE cluster %s enforces no network policy (no Dataplane V2, networkPolicy off)", [r.name])}
}

# METADATA
# title: Only the gateway is exposed as a LoadBalancer or NodePort
# description: Services of type LoadBalancer or NodePort bypass the gateway's TLS, auth and rate limits.
# custom:
#   id: CS-NET-006
#   severity: high
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Use type ClusterIP and route through the gateway; the gateway's own Service carries the label cloudscale.io/role=gateway.
cs_net_006 contains f if {
	some r in input.kinds["core/Service"]
	t := object.get(r.inputs, ["spec", "type"], "ClusterIP")
	t in {"LoadBalancer", "NodePort"}
	not gateway_service(r)
	f := {"urn": r.urn, "msg": sprintf("Service %s/%s is of type %s", [lib.namespace(r), lib.name(r), t])}
}

gateway_service(r) if r.inputs.metadata.labels["cloudscale.io/role"] == "gateway"

# METADATA
# title: No storage is public
# description: Buckets, containers and storage accounts must never be readable by the public.
# custom:
#   id: CS-NET-007
#   severity: critical
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: "S3: a public access block with all four settings true (CS-NET-107); Azure: allowBlobPublicAccess false, containers publicAccess None; GCS: publicAccessPrevention enforced, no allUsers bindings."
cs_net_007 contains f if {
	some r in input.by_type["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
	some k in ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]
	not r.inputs[k] == true
	f := {"urn": r.urn, "msg": sprintf("public access block %s leaves %s off", [r.name, k])}
}

cs_net_007 contains f if {
	some r in input.by_type["azure-native:storage:StorageAccount"]
	object.get(r.inputs, "allowBlobPublicAccess", true) != false
	f := {"urn": r.urn, "msg": sprintf("storage account %s allows public blob access", [r.name])}
}

cs_net_007 contains f if {
	some r in input.by_type["azure-native:storage:BlobContainer"]
	object.get(r.inputs, "publicAccess", "None") != "None"
	f := {"urn": r.urn, "msg": sprintf("blob container %s is public (%s)", [r.name, r.inputs.publicAccess])}
}

cs_net_007 contains f if {
	some r in input.by_type["gcp:storage/bucket:Bucket"]
	object.get(r.inputs, "publicAccessPrevention", "inherited") != "enforced"
	f := {"urn": r.urn, "msg": sprintf("bucket %s does not enforce public access prevention", [r.name])}
}

cs_net_007 contains f if {
	some t in ["gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding"]
	some r in input.by_type[t]
	some m in array.concat([object.get(r.inputs, "member", "")], object.get(r.inputs, "members", []))
	m in {"allUsers", "allAuthenticatedUsers"}
	f := {"urn": r.urn, "msg": sprintf("bucket binding %s grants %s to %s", [r.name, r.inputs.role, m])}
}

# METADATA
# title: Egress is restricted
# description: The mesh admits only registered destinations (outboundTrafficPolicy REGISTRY_ONLY).
# custom:
#   id: CS-NET-008
#   severity: medium
#   category: network
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set meshConfig.outboundTrafficPolicy.mode REGISTRY_ONLY and add ServiceEntries for allowed destinations.
cs_net_008 contains f if {
	some r in input.kinds["core/ConfigMap"]
	lib.name(r) == "istio"
	mesh := yaml.unmarshal(r.inputs.data.mesh)
	object.get(mesh, ["outboundTrafficPolicy", "mode"], "ALLOW_ANY") != "REGISTRY_ONLY"
	f := {"urn": r.urn, "msg": sprintf("mesh config %s/istio lets workloads reach any destination (outboundTrafficPolicy %v)", [lib.namespace(r), object.get(mesh, ["outboundTrafficPolicy", "mode"], "ALLOW_ANY")])}
}
