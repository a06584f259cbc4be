// Package stacks composes the CloudScale platform for one environment
// stack. Its Pulumi.<stack>.yaml files hold the stacks' configuration;
// stacks/spec types and validates it; Deploy builds the tiers in
// dependency order under one root component.
package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/gateway"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/redis"
	"github.com/cloudscale/platform/components/resilience"
	"github.com/cloudscale/platform/components/security"
	"github.com/cloudscale/platform/components/service"
	"github.com/cloudscale/platform/infra"
	awsinfra "github.com/cloudscale/platform/infra/aws"
	azureinfra "github.com/cloudscale/platform/infra/azure"
	gcpinfra "github.com/cloudscale/platform/infra/gcp"
	"github.com/cloudscale/platform/infra/local"
	"github.com/cloudscale/platform/stacks/spec"
)

// Options change how a stack is deployed without changing its config.
type Options struct {
	// RenderDir renders the local stack's Kubernetes objects as YAML into
	// this absolute directory instead of deploying them.
	RenderDir string
	// Kubeconfig, when set, replaces cloudscale:local.kubeconfig (tests use
	// a cluster of their own).
	Kubeconfig string
	// StacksDir is where files the config names (gateway.documentFile) are
	// read from; default the project root's stacks directory.
	StacksDir string

	// deriving marks the evaluation of the stack under mocks from which
	// its chaos Schedule is derived (ChaosPlan): it registers the chaos
	// tier without the Schedule and the gate's components.
	deriving bool
}

// Deploy is the Pulumi program: `pulumi up -s <stack>` runs it.
func Deploy(ctx *pulumi.Context) error { return Program(Options{})(ctx) }

// Program returns the Pulumi program with options, for the Automation API.
func Program(opts Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		s, err := LoadSpec(ctx, opts.StacksDir)
		if err != nil {
			return err
		}
		_, err = NewPlatform(ctx, s, opts)
		return err
	}
}

// LoadSpec reads the stack's config once and validates it before anything
// is registered; files it names are read from dir (default: the project
// root's stacks directory).
func LoadSpec(ctx *pulumi.Context, dir string) (spec.Spec, error) {
	raw := map[string]string{}
	for _, k := range spec.TopKeys() {
		if v, ok := ctx.GetConfig(spec.Key(k)); ok {
			raw[spec.Key(k)] = v
		}
	}
	// The SDK offers no way to list config keys, so misspelt top-level keys
	// are found in the environment the CLI hands a program, when present.
	if env := os.Getenv(pulumi.EnvConfig); env != "" {
		var all map[string]string
		if json.Unmarshal([]byte(env), &all) == nil {
			for k, v := range all {
				if strings.HasPrefix(k, spec.Namespace+":") {
					raw[k] = v
				}
			}
		}
	}
	if root := ctx.RootDirectory(); dir == "" && root != "" {
		dir = filepath.Join(root, "stacks")
	}
	return spec.LoadIn(dir, ctx.Stack(), raw)
}

// Platform is the root component of one stack; every tier is its child.
type Platform struct {
	pulumi.ResourceState

	Spec     spec.Spec
	Cluster  infra.Cluster
	Baseline *security.Baseline
	Gateway  *gateway.Gateway
	Postgres *postgres.Postgres
	Redis    *redis.Redis
	MongoDB  *mongodb.MongoDB
	RabbitMQ *rabbitmq.RabbitMQ
	// Services are the declared services, in the order declared.
	Services []*service.Service
	Chaos    *resilience.Resilience
}

// NewPlatform composes the tiers of one stack.
func NewPlatform(ctx *pulumi.Context, s spec.Spec, opts Options) (*Platform, error) {
	// Every tier's arguments are checked before anything is registered.
	if opts.RenderDir != "" && s.Cloud != spec.Local {
		return nil, fmt.Errorf("stack %s: --render works only for cloud local; %s stacks deploy to their cloud", s.Stack, s.Cloud)
	}
	tiers, err := checkTiers(s, opts)
	if err != nil {
		return nil, err
	}
	if !opts.deriving {
		if err := tiers.deriveChaos(s); err != nil {
			return nil, fmt.Errorf("stack %s: chaos: %w", s.Stack, err)
		}
	}
	p := &Platform{Spec: s}
	if err := ctx.RegisterComponentResource("cloudscale:stack:Platform", s.Stack, p); err != nil {
		return nil, err
	}
	cluster, err := newCluster(ctx, s, opts, p)
	if err != nil {
		return nil, err
	}
	p.Cluster = cluster

	k8s := []pulumi.ResourceOption{pulumi.Parent(p), pulumi.Providers(cluster.Provider)}
	if len(cluster.Volumes) > 0 {
		// Destroyed after the tiers' namespaces, whose claims hold them.
		k8s = append(k8s, pulumi.DependsOn(cluster.Volumes))
	}
	if err := kubernetesTiers(ctx, p, tiers, cluster, k8s...); err != nil {
		return nil, err
	}

	outputs := pulumi.Map{
		"cloud":        pulumi.String(s.Cloud),
		"environment":  pulumi.String(s.Environment),
		"region":       pulumi.String(s.Region),
		"zones":        pulumi.ToStringArray(s.Zones),
		"namespace":    pulumi.String(s.Namespace),
		"storageClass": pulumi.String(cluster.StorageClass),
		"kubeconfig":   cluster.Kubeconfig,
		"backupBucket": cluster.Backups.Bucket,
		"gateway":      p.Gateway.Service,
		"sloGate":      p.Chaos.GateURL,
		// Where the services connect: endpoints and the names of the
		// Secrets that hold credentials, never their values.
		"redis": pulumi.StringMap{"state": pulumi.String(p.Redis.State.URL), "cache": pulumi.String(p.Redis.Cache.URL),
			"auth": pulumi.String(p.Redis.State.Auth.Namespace + "/" + p.Redis.State.Auth.Name)},
		"postgres": postgresOutputs(p.Postgres),
		"mongodb": pulumi.StringMap{"uri": pulumi.String(p.MongoDB.Endpoint.URI),
			"credentials": pulumi.String(p.MongoDB.Endpoint.Credentials.Namespace + "/" + p.MongoDB.Endpoint.Credentials.Name)},
		"rabbitmq": pulumi.StringMap{"amqps": pulumi.Sprintf("amqps://%s:%d", p.RabbitMQ.Endpoint.Host, p.RabbitMQ.Endpoint.Port)},
	}
	for k, v := range outputs {
		ctx.Export(k, v)
	}
	if err := ctx.RegisterResourceOutputs(p, outputs); err != nil {
		return nil, err
	}
	return p, nil
}

// newCluster builds the cloud tier the spec names.
func newCluster(ctx *pulumi.Context, s spec.Spec, opts Options, parent pulumi.Resource) (infra.Cluster, error) {
	switch s.Cloud {
	case spec.Local:
		kc := s.Local.Kubeconfig
		if opts.Kubeconfig != "" {
			kc = opts.Kubeconfig
		}
		if !filepath.IsAbs(kc) && ctx.RootDirectory() != "" {
			kc = filepath.Join(ctx.RootDirectory(), kc)
		}
		c, err := local.NewCluster(ctx, "local", &local.ClusterArgs{
			Kubeconfig: kc, RenderDir: opts.RenderDir, Zones: s.Zones, Namespace: s.Namespace,
		}, pulumi.Parent(parent))
		if err != nil {
			return infra.Cluster{}, err
		}
		return c.Out, nil
	}
	if opts.RenderDir != "" {
		return infra.Cluster{}, fmt.Errorf("stack %s: --render works only for cloud local; %s stacks deploy to their cloud", s.Stack, s.Cloud)
	}
	cs := infra.ClusterSpec{
		Stack: s.Stack, Region: s.Region, Zones: s.Zones,
		KubernetesVersion: s.Cluster.KubernetesVersion, NodeSize: s.Cluster.NodeSize,
		NodesPerZone: s.NodesPerZone(), NodeDiskGiB: s.Cluster.NodeDiskGiB,
		APIAllowedCIDRs: s.Cluster.APIAllowedCIDRs, NetworkCIDR: s.Network.CIDR, Namespace: s.Namespace,
	}
	opt := pulumi.Parent(parent)
	switch s.Cloud {
	case spec.AWS:
		c, err := awsinfra.NewCluster(ctx, "aws", &awsinfra.ClusterArgs{ClusterSpec: cs, NATPerZone: s.Environment.Production()}, opt)
		if err != nil {
			return infra.Cluster{}, err
		}
		return c.Out, nil
	case spec.Azure:
		c, err := azureinfra.NewCluster(ctx, "azure", &azureinfra.ClusterArgs{ClusterSpec: cs}, opt)
		if err != nil {
			return infra.Cluster{}, err
		}
		return c.Out, nil
	case spec.GCP:
		c, err := gcpinfra.NewCluster(ctx, "gcp", &gcpinfra.ClusterArgs{ClusterSpec: cs, Project: s.GCP.Project}, opt)
		if err != nil {
			return infra.Cluster{}, err
		}
		return c.Out, nil
	}
	return infra.Cluster{}, fmt.Errorf("stack %s: unknown cloud %q", s.Stack, s.Cloud)
}

// postgresOutputs are each database's poolers and credentials Secret.
func postgresOutputs(pg *postgres.Postgres) pulumi.Map {
	out := pulumi.Map{}
	for _, e := range pg.Endpoints {
		out[e.Database] = pulumi.StringMap{
			"readWrite": pulumi.String(e.ReadWrite.Address()), "readOnly": pulumi.String(e.ReadOnly.Address()),
			"credentials": pulumi.String(e.CredentialsSecret.Namespace + "/" + e.CredentialsSecret.Name),
		}
	}
	return out
}
