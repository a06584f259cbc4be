package rabbitmq

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// RabbitMQ is the component. Endpoint is how the services reach it.
type RabbitMQ struct {
	pulumi.ResourceState

	Endpoint Endpoint
}

// New registers both operators, the cluster, its disruption budget,
// NetworkPolicy and ServiceMonitor, and the declared topology. The nodes'
// certificate (Certificate) is issued by the certificate tier, which the
// topology operator's webhooks need too: it is given as a dependency.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*RabbitMQ, error) {
	if args == nil {
		return nil, fmt.Errorf("rabbitmq %s: args are required", name)
	}
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("rabbitmq %s: %w", name, err)
	}
	r := &RabbitMQ{Endpoint: NewEndpoint(args.Namespace, args.Queues)}
	if err := ctx.RegisterComponentResource("cloudscale:data:RabbitMQ", name, r, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(r, opts)
	operator, err := upstream.Install(ctx, name+"-cluster-operator", upstream.RabbitMQClusterOperator, args.Mode, OperatorNamespace, nil, nil, child...)
	if err != nil {
		return nil, err
	}
	// The topology operator's types reference RabbitmqClusters.
	topology, err := upstream.Install(ctx, name+"-topology-operator", upstream.RabbitMQTopologyOperator, args.Mode, OperatorNamespace, nil, nil,
		append(child, pulumi.DependsOn(operator))...)
	if err != nil {
		return nil, err
	}
	cluster, err := upstream.NewObject(ctx, name, Cluster(args), nil, append(child, pulumi.DependsOn(operator))...)
	if err != nil {
		return nil, err
	}
	// The operator writes no budget.
	if _, err := workload.NewBudget(ctx, name, args.Namespace, PodLabels(), child...); err != nil {
		return nil, err
	}
	in, out := peers(args)
	if _, err := workload.NewNetworkPolicy(ctx, name, args.Namespace, PodLabels(), in, out, child...); err != nil {
		return nil, err
	}
	if _, err := upstream.NewObject(ctx, name+"-monitor", ServiceMonitor(args), nil, child...); err != nil {
		return nil, err
	}
	if _, err := upstream.NewObject(ctx, name+"-alerts", Alerts(args), nil, child...); err != nil {
		return nil, err
	}
	after := append(child, pulumi.DependsOn(append([]pulumi.Resource{cluster}, topology...)))
	if err := upstream.NewObjects(ctx, Topology(args), after...); err != nil {
		return nil, err
	}
	creds := pulumi.StringMap{}
	for svc, s := range r.Endpoint.Credentials {
		creds[svc] = pulumi.String(s.Namespace + "/" + s.Name)
	}
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"amqps": pulumi.Sprintf("amqps://%s:%d", r.Endpoint.Host, r.Endpoint.Port), "credentials": creds,
		"ca": pulumi.String(r.Endpoint.CA.Namespace + "/" + r.Endpoint.CA.Name),
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// peers are who reaches the nodes (each other for clustering and quorum
// replication, the services that publish or consume on AMQPS, the
// topology operator on the management API, the scraper on the metrics
// port) and whom they reach (each other; the API server for peer
// discovery; the upstreams' AMQPS when federating).
func peers(a *Args) (ingress, egress []contract.Peer) {
	self := contract.Peer{PodLabels: PodLabels(), Ports: []int{EPMDPort, DistributionPort, AMQPSPort, ManagementPort}}
	ingress = []contract.Peer{self}
	for _, g := range Grants(a.Queues) {
		p := contract.Peer{PodLabels: map[string]string{contract.NameLabel: g.Service}, Ports: []int{AMQPSPort}}
		if !containsPeer(ingress, p) {
			ingress = append(ingress, p)
		}
	}
	ingress = append(ingress, contract.Peer{NamespaceLabels: contract.InNamespace(OperatorNamespace), PodLabels: map[string]string{}, Ports: []int{ManagementPort}})
	if a.Scraper.Selects() {
		s := a.Scraper
		s.Ports = []int{MetricsPort}
		ingress = append(ingress, s)
	}
	egress = []contract.Peer{self, {CIDRs: []string{"0.0.0.0/0"}, Ports: []int{443, 6443}}}
	if len(a.Federation.Upstreams) > 0 {
		egress = append(egress, contract.Peer{CIDRs: []string{"0.0.0.0/0"}, Ports: []int{AMQPSPort}})
	}
	return ingress, egress
}

func containsPeer(ps []contract.Peer, p contract.Peer) bool {
	for _, q := range ps {
		if q.PodLabels[contract.NameLabel] == p.PodLabels[contract.NameLabel] && len(q.NamespaceLabels) == 0 && len(q.CIDRs) == 0 {
			return true
		}
	}
	return false
}
