package mongodb

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8scorev1 "k8s.io/api/core/v1"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// MongoDB is the component. Endpoint is how the services reach it.
type MongoDB struct {
	pulumi.ResourceState

	Endpoint Endpoint
}

// OperatorValues are the psmdb-operator chart's values the platform sets:
// one operator watching every namespace (a restart pauses reconciliation,
// never the databases, which run without it).
type OperatorValues struct {
	WatchAllNamespaces bool                           `json:"watchAllNamespaces"`
	ReplicaCount       int                            `json:"replicaCount"`
	Resources          k8scorev1.ResourceRequirements `json:"resources"`
	// DisableTelemetry: the operator reports nothing to Percona.
	DisableTelemetry bool `json:"disableTelemetry"`
}

// New registers the operator, the cluster and the NetworkPolicies that
// admit exactly its members, the operator and the services that use it.
// The client and member certificates (Certificates) are issued by the
// certificate tier; the backup service account is the data tier's
// (cloudscale-backup, created with PostgreSQL's): both are given as
// dependencies.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*MongoDB, error) {
	if args == nil {
		return nil, fmt.Errorf("mongodb %s: args are required", name)
	}
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("mongodb %s: %w", name, err)
	}
	m := &MongoDB{Endpoint: NewEndpoint(args.Namespace, args.Collections)}
	if err := ctx.RegisterComponentResource("cloudscale:data:MongoDB", name, m, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(m, opts)
	res, _ := args.Resources.Requirements()
	operator, err := upstream.Install(ctx, name+"-operator", upstream.PerconaMongoDB, args.Mode, OperatorNamespace,
		OperatorValues{WatchAllNamespaces: true, ReplicaCount: 1, Resources: res, DisableTelemetry: true}, nil, child...)
	if err != nil {
		return nil, err
	}
	var outputs upstream.Outputs
	if b := args.Backups; b != nil {
		outputs = upstream.Outputs{BucketField(b.Kind): b.Bucket}
	}
	if _, err := upstream.NewObject(ctx, name, Cluster(args), outputs, append(child, pulumi.DependsOn(operator))...); err != nil {
		return nil, err
	}
	in, out := peers(args)
	if _, err := workload.NewNetworkPolicy(ctx, name+"-members", args.Namespace, ClusterLabels(), in, out, child...); err != nil {
		return nil, err
	}
	var clients []contract.Peer
	for _, svc := range services(args.Collections) {
		clients = append(clients, contract.Peer{PodLabels: map[string]string{contract.NameLabel: svc}, Ports: []int{Port}})
	}
	if len(clients) > 0 {
		if _, err := workload.NewNetworkPolicy(ctx, name+"-clients", args.Namespace, MongosLabels(), clients, nil, child...); err != nil {
			return nil, err
		}
	}
	if err := upstream.NewObjects(ctx, []upstream.NamedObject{
		{Name: name + "-monitor", Object: Monitor(args.Namespace)},
		{Name: name + "-alerts", Object: Alerts(args)},
	}, child...); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{
		"uri": pulumi.String(m.Endpoint.URI), "credentials": pulumi.String(m.Endpoint.Credentials.Namespace + "/" + m.Endpoint.Credentials.Name),
		"ca": pulumi.String(m.Endpoint.CA.Namespace + "/" + m.Endpoint.CA.Name),
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// peers are who reaches the cluster's pods (its own members and routers,
// the operator, the scraper on the members' exporters) and whom they reach
// (each other; the API server and the object store on 443 and 6443, for
// the backup agent).
func peers(a *Args) (ingress, egress []contract.Peer) {
	self := contract.Peer{PodLabels: ClusterLabels(), Ports: []int{Port}}
	operator := contract.Peer{NamespaceLabels: contract.InNamespace(OperatorNamespace), PodLabels: map[string]string{}, Ports: []int{Port}}
	store := contract.Peer{CIDRs: []string{"0.0.0.0/0"}, Ports: []int{443, 6443}}
	ingress = []contract.Peer{self, operator}
	if a.Scraper.Selects() {
		scraper := a.Scraper
		scraper.Ports = []int{ExporterPort}
		ingress = append(ingress, scraper)
	}
	return ingress, []contract.Peer{self, store}
}

// services are the services that use a collection, sorted.
func services(cols []Collection) []string {
	return sortedKeys(Users(cols))
}
