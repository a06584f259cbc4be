package postgres

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8scorev1 "k8s.io/api/core/v1"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// Postgres is the component.
type Postgres struct {
	pulumi.ResourceState

	// Endpoints are the databases' poolers and credential Secrets, in the
	// order declared.
	Endpoints []Endpoint
}

// OperatorValues are the CloudNativePG chart's values the platform sets:
// two operator replicas (leader election) spread over zones.
type OperatorValues struct {
	ReplicaCount              int                                  `json:"replicaCount"`
	CRDs                      CreateValues                         `json:"crds"`
	Resources                 k8scorev1.ResourceRequirements       `json:"resources"`
	TopologySpreadConstraints []k8scorev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
	Config                    OperatorConfig                       `json:"config"`
	Monitoring                OperatorMonitoring                   `json:"monitoring"`
}

// CreateValues turn a part of a chart on or off.
type CreateValues struct {
	Create bool `json:"create"`
}

// OperatorConfig is the chart's config: the operator watches every
// namespace.
type OperatorConfig struct {
	ClusterWide bool `json:"clusterWide"`
}

// OperatorMonitoring is the chart's monitoring: the platform writes its own
// PodMonitors.
type OperatorMonitoring struct {
	PodMonitorEnabled bool `json:"podMonitorEnabled"`
}

// NewOperatorValues are the operator chart's values.
func NewOperatorValues(res k8scorev1.ResourceRequirements) OperatorValues {
	v := OperatorValues{ReplicaCount: 2, Resources: res,
		TopologySpreadConstraints: workload.Spread(map[string]string{contract.NameLabel: "cloudnative-pg"})}
	v.CRDs.Create = true
	v.Config.ClusterWide = true
	return v
}

// New registers the operator, the plugin and every declared database.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Postgres, error) {
	if args == nil {
		return nil, fmt.Errorf("postgres %s: args are required", name)
	}
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("postgres %s: %w", name, err)
	}
	p := &Postgres{Endpoints: Endpoints(args.Namespace, args.Databases)}
	if err := ctx.RegisterComponentResource("cloudscale:data:Postgres", name, p, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(p, opts)
	res, _ := args.Resources.Requirements()
	operator, err := upstream.Install(ctx, name+"-operator", upstream.CloudNativePG, args.Mode, OperatorNamespace, NewOperatorValues(res), nil, child...)
	if err != nil {
		return nil, err
	}
	plugin, err := upstream.Install(ctx, name+"-barman-cloud", upstream.BarmanCloud, args.Mode, OperatorNamespace, nil, nil,
		append(child, pulumi.DependsOn(operator))...)
	if err != nil {
		return nil, err
	}
	kinds := append(append([]pulumi.Resource(nil), operator...), plugin...)
	if b := args.Backups; b != nil {
		sa, err := corev1.NewServiceAccount(ctx, name+"-backup", &corev1.ServiceAccountArgs{
			// The instance manager reads its Cluster through the API, so the
			// token stays mounted (the operator binds its Role to it).
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(b.ServiceAccount), Namespace: pulumi.String(args.Namespace),
				Annotations: b.Annotations, Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		}, child...)
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, sa)
	}
	for _, d := range args.Databases {
		if err := database(ctx, name, args, d, append(child, pulumi.DependsOn(kinds))); err != nil {
			return nil, err
		}
	}
	outputs := pulumi.Map{}
	for _, e := range p.Endpoints {
		outputs[e.Database] = pulumi.StringMap{
			"readWrite": pulumi.String(e.ReadWrite.Address()), "readOnly": pulumi.String(e.ReadOnly.Address()),
			"credentials": pulumi.String(e.CredentialsSecret.Namespace + "/" + e.CredentialsSecret.Name),
		}
	}
	if _, err := upstream.NewObject(ctx, name+"-alerts", Alerts(args), nil, child...); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(p, outputs); err != nil {
		return nil, err
	}
	return p, nil
}

// database registers one database's Cluster and what serves and guards it.
func database(ctx *pulumi.Context, name string, a *Args, d Database, opts []pulumi.ResourceOption) error {
	cluster := ClusterName(d.Name)
	res := name + "-" + d.Name
	queries, err := corev1.NewConfigMap(ctx, res+"-queries", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(cluster + "-queries"), Namespace: pulumi.String(a.Namespace),
			// The operator reads only ConfigMaps it may watch: labelled for it.
			Labels: pulumi.StringMap{"cnpg.io/reload": pulumi.String(""), "app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		Data: pulumi.StringMap{QueriesKey: pulumi.String(CustomQueries)},
	}, opts...)
	if err != nil {
		return err
	}
	var deps []pulumi.Resource
	if a.Backups != nil {
		store, err := upstream.NewObject(ctx, res+"-backups", ObjectStore(a, cluster),
			upstream.Outputs{"spec.configuration.destinationPath": pulumi.Sprintf("%s/postgres", a.Backups.Endpoint)}, opts...)
		if err != nil {
			return err
		}
		deps = append(deps, store)
	}
	c, err := upstream.NewObject(ctx, res, Cluster(a, d), nil, append(opts, pulumi.DependsOn(append(deps, queries)))...)
	if err != nil {
		return err
	}
	after := append(opts, pulumi.DependsOn([]pulumi.Resource{c}))
	if a.Backups != nil {
		if _, err := upstream.NewObject(ctx, res+"-daily", ScheduledBackup(a, cluster), nil, after...); err != nil {
			return err
		}
	}
	for _, typ := range []string{"rw", "ro"} {
		pooler := PoolerName(cluster, typ)
		if _, err := upstream.NewObject(ctx, pooler, Pooler(a, cluster, typ), nil, after...); err != nil {
			return err
		}
		// The operator writes no budget for poolers.
		if _, err := workload.NewBudget(ctx, pooler, a.Namespace, PoolerLabels(pooler), opts...); err != nil {
			return err
		}
		in, out := poolerPeers(a, d, cluster)
		sidecar := a.Sidecar
		out = append(out, sidecar.ControlPlane, sidecar.Tracing)
		in = append(in, sidecar.Metrics)
		if _, err := workload.NewNetworkPolicy(ctx, pooler, a.Namespace, PoolerLabels(pooler), in, out, opts...); err != nil {
			return err
		}
	}
	if _, err := upstream.NewObject(ctx, res+"-monitor", PodMonitor(a, cluster), nil, opts...); err != nil {
		return err
	}
	if _, err := upstream.NewObject(ctx, res+"-pooler-monitor", PoolerMonitor(a, cluster), nil, opts...); err != nil {
		return err
	}
	in, out := clusterPeers(a, cluster)
	_, err = workload.NewNetworkPolicy(ctx, res, a.Namespace, clusterLabels(cluster), in, out, opts...)
	return err
}
