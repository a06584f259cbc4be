package cloudscale.rules.network_test

import rego.v1

import data.cloudscale.fixtures as fx
import data.cloudscale.rules.network as net

test_cs_net_001_pass if {
	count(net.cs_net_001) == 0 with input as fx.cloud([
		fx.res("aws:eks/cluster:Cluster", "eks", {"vpcConfig": {"endpointPublicAccess": true, "publicAccessCidrs": ["203.0.113.0/24"]}}),
		fx.res("azure-native:containerservice:ManagedCluster", "aks", {"apiServerAccessProfile": {"enablePrivateCluster": true}}),
		fx.res("gcp:container/cluster:Cluster", "gke", {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]}}),
	])
}

test_cs_net_001_fail if {
	net.cs_net_001 == {
		{"urn": "urn:eks", "msg": "EKS cluster eks has a public endpoint open to [\"0.0.0.0/0\"]"},
		{"urn": "urn:aks", "msg": "AKS aks has a public API server with authorized ranges []"},
		{"urn": "urn:gke", "msg": "GKE cluster gke has a public endpoint with authorized networks [\"0.0.0.0/0\"]"},
	} with input as fx.cloud([
		fx.res("aws:eks/cluster:Cluster", "eks", {"vpcConfig": {}}),
		fx.res("azure-native:containerservice:ManagedCluster", "aks", {}),
		fx.res("gcp:container/cluster:Cluster", "gke", {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]}}),
	])
}

test_cs_net_002_pass if {
	count(net.cs_net_002) == 0 with input as fx.cloud([
		fx.res("aws:ec2/securityGroup:SecurityGroup", "lb", {"tags": {"cloudscale.io/role": "gateway-lb"}, "ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]}),
		fx.res("aws:ec2/securityGroup:SecurityGroup", "db", {"ingress": [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/16"]}]}),
		fx.res("azure-native:network:NetworkSecurityGroup", "nsg", {"securityRules": [{"name": "https", "direction": "Inbound", "access": "Allow", "sourceAddressPrefix": "Internet", "destinationPortRange": "443"}]}),
		fx.res("gcp:compute/firewall:Firewall", "fw", {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["443"]}]}),
	])
}

test_cs_net_002_fail if {
	net.cs_net_002 == {
		{"urn": "urn:ssh", "msg": "security group ssh admits 0.0.0.0/0 on ports 22-22"},
		{"urn": "urn:nsg", "msg": "NSG nsg rule rdp admits * on port 3389"},
		{"urn": "urn:fw", "msg": "firewall fw admits 0.0.0.0/0 to tcp ports [\"22\"]"},
	} with input as fx.cloud([
		fx.res("aws:ec2/securityGroup:SecurityGroup", "ssh", {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}),
		fx.res("azure-native:network:NetworkSecurityGroup", "nsg", {"securityRules": [{"name": "rdp", "direction": "Inbound", "access": "Allow", "sourceAddressPrefix": "*", "destinationPortRange": "3389"}]}),
		fx.res("gcp:compute/firewall:Firewall", "fw", {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["22"]}]}),
	])
}

test_cs_net_003_pass if {
	count(net.cs_net_003) == 0 with input as fx.cloud([
		fx.res("azure-native:containerservice:ManagedCluster", "aks", {"networkProfile": {"networkPolicy": "cilium"}}),
		fx.res("gcp:container/cluster:Cluster", "gke", {"datapathProvider": "ADVANCED_DATAPATH"}),
	])
}

test_cs_net_003_fail if {
	net.cs_net_003 == {
		{"urn": "urn:aks", "msg": "AKS aks enforces no network policy (networkPolicy unset)"},
		{"urn": "urn:gke", "msg": "GKE cluster gke enforces no network policy (no Dataplane V2, networkPolicy off)"},
	} with input as fx.cloud([
		fx.res("azure-native:containerservice:ManagedCluster", "aks", {"networkProfile": {}}),
		fx.res("gcp:container/cluster:Cluster", "gke", {}),
	])
}

svc(name, t, labels) := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop", "labels": labels}, "spec": {"type": t}}

test_cs_net_006_pass if {
	count(net.cs_net_006) == 0 with input as fx.kube([svc("gw", "LoadBalancer", {"cloudscale.io/role": "gateway"}), svc("api", "ClusterIP", {})])
}

test_cs_net_006_fail if {
	net.cs_net_006 == {{"urn": "urn:web", "msg": "Service shop/web is of type NodePort"}} with input as fx.kube([svc("web", "NodePort", {})])
}

test_cs_net_007_pass if {
	count(net.cs_net_007) == 0 with input as fx.cloud([
		fx.res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", {"blockPublicAcls": true, "blockPublicPolicy": true, "ignorePublicAcls": true, "restrictPublicBuckets": true}),
		fx.res("azure-native:storage:StorageAccount", "sa", {"allowBlobPublicAccess": false}),
		fx.res("azure-native:storage:BlobContainer", "c", {"publicAccess": "None"}),
		fx.res("gcp:storage/bucket:Bucket", "b", {"publicAccessPrevention": "enforced"}),
	])
}

test_cs_net_007_fail if {
	net.cs_net_007 == {
		{"urn": "urn:pab", "msg": "public access block pab leaves restrictPublicBuckets off"},
		{"urn": "urn:sa", "msg": "storage account sa allows public blob access"},
		{"urn": "urn:c", "msg": "blob container c is public (Blob)"},
		{"urn": "urn:b", "msg": "bucket b does not enforce public access prevention"},
		{"urn": "urn:m", "msg": "bucket binding m grants roles/storage.objectViewer to allUsers"},
	} with input as fx.cloud([
		fx.res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", {"blockPublicAcls": true, "blockPublicPolicy": true, "ignorePublicAcls": true}),
		fx.res("azure-native:storage:StorageAccount", "sa", {}),
		fx.res("azure-native:storage:BlobContainer", "c", {"publicAccess": "Blob"}),
		fx.res("gcp:storage/bucket:Bucket", "b", {"publicAccessPrevention": "inherited"}),
		fx.res("gcp:storage/bucketIAMMember:BucketIAMMember", "m", {"role": "roles/storage.objectViewer", "member": "allUsers"}),
	])
}

mesh(mode) := {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"}, "data": {"mesh": sprintf("outboundTrafficPolicy:\n  mode: %s\n", [mode])}}

test_cs_net_008_pass if {
	count(net.cs_net_008) == 0 with input as fx.kube([mesh("REGISTRY_ONLY")])
}

test_cs_net_008_fail if {
	net.cs_net_008 == {{"urn": "urn:istio", "msg": "mesh config istio-system/istio lets workloads reach any destination (outboundTrafficPolicy ALLOW_ANY)"}} with input as fx.kube([mesh("ALLOW_ANY")])
}
