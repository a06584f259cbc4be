package stacks

import (
	"errors"
	"fmt"

	acmev1 "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/gateway"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/monitoring"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/redis"
	"github.com/cloudscale/platform/components/resilience"
	"github.com/cloudscale/platform/components/security"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
	"github.com/cloudscale/platform/stacks/spec"
)

// tierArgs are the arguments of every Kubernetes tier of one stack.
type tierArgs struct {
	baseline   *security.BaselineArgs
	mesh       *mesh.Args
	certs      *security.CertsArgs
	vault      *security.VaultArgs
	secrets    *security.SecretsArgs
	gateway    *gateway.Args
	postgres   *postgres.Args
	redis      *redis.Args
	mongodb    *mongodb.Args
	rabbitmq   *rabbitmq.Args
	monitoring *monitoringArgs
	services   []serviceArgs
	chaos      *resilience.Args
}

// planTiers derives every tier's arguments from the spec and the tiers'
// contracts, before the cluster exists; what the cloud tier provides (the
// storage class, the seal, the load balancer) is added by kubernetesTiers.
func planTiers(s spec.Spec, opts Options) (*tierArgs, error) {
	mode := upstream.Charts
	if s.Cloud == spec.Local {
		mode = upstream.CRDsOnly // no chart can be fetched offline; the kinds are defined so the objects apply
		if opts.deriving {
			mode = upstream.Omitted // the chaos plan reads workloads, not definitions
		}
	}
	res := workload.Resources{
		RequestCPU: s.Resources.Requests.CPU, RequestMemory: s.Resources.Requests.Memory,
		LimitCPU: s.Resources.Limits.CPU, LimitMemory: s.Resources.Limits.Memory,
	}
	tracing := monitoring.TracingCollector()
	gw := &gateway.Args{
		Document: s.Gateway.Document, Services: s.Services.Names(),
		Namespace: spec.IngressNamespace, BackendNamespace: s.Namespace, Hosts: s.Gateway.Hosts,
		Issuer: s.Gateway.OIDC.Issuer, JWKSURI: s.Gateway.OIDC.JWKSURI, Canaries: canaries(s.Services),
		Production: s.Environment.Production(), MinReplicas: s.Gateway.MinReplicas, MaxReplicas: s.Gateway.MaxReplicas,
		Resources: res, ServiceType: "LoadBalancer", SourceRanges: s.Gateway.SourceRanges,
		Sidecar: mesh.Sidecar(tracing, monitoring.Scraper()),
	}
	data := planData(s, mode, res, gw)
	// The gateway's global limits count in the state instance.
	state := redis.Topology()[0].Endpoint(s.Namespace, data.redis.Replicas)
	gw.Counters = &state
	if s.Cloud == spec.Local {
		// The simulated cluster has no load balancer controller.
		gw.ServiceType, gw.SourceRanges = "ClusterIP", nil
	}
	var acme *security.ACME
	if a := s.Security.ACME; a != nil {
		acme = &security.ACME{Email: a.Email, Server: a.Server, DNS01: dns01(s)}
	}
	chaos := ChaosConfig(s)
	mon, err := planMonitoring(s, mode, res, servedServices(s, gw))
	if err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	svcs, err := planServices(s, data, gw, res)
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	system := []contract.OperatorNamespace{mesh.OperatorNamespace(), security.CertManagerOperatorNamespace(),
		security.VaultOperatorNamespace(), security.ExternalSecretsOperatorNamespace(),
		resilience.OperatorNamespace(chaos.Daemon), postgres.OperatorNamespaceAccess(), monitoring.OperatorNamespace(),
		mongodb.OperatorNamespaceAccess(), rabbitmq.OperatorNamespaceAccess(), monitoring.TracingOperatorNamespace()}
	system = append(system, monitoring.LoggingOperatorNamespaces()...)
	return &tierArgs{
		baseline: &security.BaselineArgs{
			Namespaces: []string{s.Namespace, spec.IngressNamespace}, Mesh: true,
			System: system,
			// Only the application namespaces accept chaos.
			Annotations: resilience.InjectAnnotation(),
		},
		mesh: &mesh.Args{
			Mode: mode, IstiodReplicas: s.Mesh.IstiodReplicas, TracingSampling: s.Mesh.TracingSampling, Tracing: tracing,
			AppNamespaces: []string{s.Namespace, spec.IngressNamespace}, Services: append(meshServices(s, gw), data.meshServices()...), Resources: res,
		},
		certs: &security.CertsArgs{Mode: mode, ACME: acme,
			Certificates: append(append(append(gw.Certificates(), security.VaultCertificate()), data.certificates()...), monitoring.LoggingCertificates()...)},
		vault: &security.VaultArgs{
			Mode: mode, Replicas: max(3, s.ReplicaCount), StorageClass: naming.StorageClass, VolumeSize: "10Gi", Resources: res,
		},
		secrets: &security.SecretsArgs{Mode: mode, Secrets: append(append(gw.VaultSecrets(), data.vaultSecrets(s)...), monitoring.ReceiverSecrets(mon.metrics.Receivers)...),
			Vault: security.VaultEndpoint()},
		gateway:    gw,
		postgres:   data.postgres,
		redis:      data.redis,
		mongodb:    data.mongodb,
		rabbitmq:   data.rabbitmq,
		monitoring: mon,
		services:   svcs,
		chaos: &resilience.Args{
			Mode: mode, AppNamespaces: chaos.Namespaces, Replicas: s.ReplicaCount, Zones: len(s.Zones),
			// The managed clouds' default; the cluster's distribution decides.
			Runtime:    resilience.RuntimeOf(""),
			Production: s.Environment.Production(), Resources: res,
			Prometheus: monitoring.PrometheusEndpoint(), Scraper: monitoring.Scraper(),
		},
	}, nil
}

// meshServices are the stack's services as the mesh serves them: each
// admits its declared callers, and the gateway's identity where a route
// points at it, whose first circuit breaker it takes.
func meshServices(s spec.Spec, gw *gateway.Args) []mesh.Service {
	backends := map[string]gateway.Backend{}
	for _, b := range gw.Backends() {
		backends[b.Service] = b
	}
	var out []mesh.Service
	for _, svc := range s.Services {
		ms := mesh.Service{Name: svc.Name, Namespace: s.Namespace, Port: svc.Port, CanaryWeight: svc.CanaryWeight}
		if b, routed := backends[svc.Name]; routed {
			ms.Callers = append(ms.Callers, gateway.ServiceAccountOf(gw.Namespace))
			ms.CircuitBreaker = b.CircuitBreaker
		}
		for _, c := range svc.Callers {
			ms.Callers = append(ms.Callers, s.Namespace+"/"+c)
		}
		out = append(out, ms)
	}
	return out
}

// servedServices are the services that serve requests through the mesh:
// those the gateway routes to and those other services call. The others
// (queue consumers such as order-worker) get no request SLO: there is no
// request of theirs to count, so its alerts could never fire and its
// dashboard would stay empty; their health alert (service.Alerts) and the
// queues' backlog alerts (rabbitmq.Alerts) watch them instead.
func servedServices(s spec.Spec, gw *gateway.Args) map[string]bool {
	out := map[string]bool{}
	for _, b := range gw.Backends() {
		out[b.Service] = true
	}
	for _, svc := range s.Services {
		for _, c := range svc.Callers {
			if c != "" {
				out[svc.Name] = true
			}
		}
	}
	return out
}

// canaries maps each service with a canary to its weight.
func canaries(services spec.Services) map[string]int {
	out := map[string]int{}
	for _, svc := range services {
		if svc.CanaryWeight > 0 {
			out[svc.Name] = svc.CanaryWeight
		}
	}
	return out
}

// validate checks every tier's arguments, so that a stack that cannot be
// built registers nothing rather than half of its tiers.
func (t *tierArgs) validate() error {
	var errs []error
	for _, c := range []struct {
		tier string
		err  error
	}{
		{"baseline", t.baseline.Validate()}, {"mesh", t.mesh.Validate()}, {"certs", t.certs.Validate()},
		{"vault", t.vault.Validate()}, {"secrets", t.secrets.Validate()}, {"gateway", t.gateway.Validate()},
		{"postgres", t.postgres.Validate()}, {"redis", t.redis.Validate()}, {"mongodb", t.mongodb.Validate()},
		{"rabbitmq", t.rabbitmq.Validate()}, {"chaos", t.chaos.Validate()},
		{"metrics", t.monitoring.metrics.Check()}, {"logging", t.monitoring.logging.Check()}, {"tracing", t.monitoring.tracing.Check()},
	} {
		if c.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.tier, c.err))
		}
	}
	for _, svc := range t.services {
		if err := svc.args.Validate(svc.name); err != nil {
			errs = append(errs, fmt.Errorf("services: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkTiers plans and checks every Kubernetes tier; the stack calls it
// before it registers anything, the cloud tier included.
func checkTiers(s spec.Spec, opts Options) (*tierArgs, error) {
	t, err := planTiers(s, opts)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", s.Stack, err)
	}
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("stack %s: %w", s.Stack, err)
	}
	return t, nil
}

// kubernetesTiers composes the security baseline, the mesh, certificates,
// Vault, External Secrets and the gateway on the cluster; each tier
// depends on the components it needs, not on their children.
func kubernetesTiers(ctx *pulumi.Context, p *Platform, t *tierArgs, cluster infra.Cluster, opts ...pulumi.ResourceOption) error {
	t.vault.StorageClass = cluster.StorageClass
	if seal := cluster.Seal; seal != nil {
		t.vault.Seal, t.vault.ServiceAccountAnnotations, t.vault.PodLabels = seal.Stanza, seal.Annotations, seal.Labels
	}
	t.mesh.Distribution = string(cluster.Distribution)
	t.chaos.Runtime = resilience.RuntimeOf(string(cluster.Distribution))
	t.gateway.ServiceAnnotations = cluster.LoadBalancerAnnotations
	after := func(deps ...pulumi.Resource) []pulumi.ResourceOption {
		return append(append([]pulumi.ResourceOption(nil), opts...), pulumi.DependsOn(deps))
	}
	baseline, err := security.NewBaseline(ctx, "baseline", t.baseline, opts...)
	if err != nil {
		return err
	}
	p.Baseline = baseline
	// The monitoring kinds' definitions come first: every tier declares
	// its own monitors and alerts.
	definitions, err := upstream.Install(ctx, "monitoring-crds", upstream.PrometheusOperatorCRDs, t.mesh.Mode, monitoring.Namespace, nil, nil, after(baseline)...)
	if err != nil {
		return err
	}
	base := append([]pulumi.Resource{baseline}, definitions...)
	m, err := mesh.New(ctx, "mesh", t.mesh, after(base...)...)
	if err != nil {
		return err
	}
	certs, err := security.NewCerts(ctx, "certs", t.certs, after(base...)...)
	if err != nil {
		return err
	}
	if _, err := security.NewVault(ctx, "vault", t.vault, after(base...)...); err != nil {
		return err
	}
	secrets, err := security.NewSecrets(ctx, "secrets", t.secrets, after(base...)...)
	if err != nil {
		return err
	}
	if err := dataTiers(ctx, p, t, cluster, after(append(base, m, certs, secrets)...)...); err != nil {
		return err
	}
	if err := monitoringTiers(ctx, t, cluster.StorageClass, definitions, after(append(base, certs, secrets)...)...); err != nil {
		return err
	}
	p.Gateway, err = gateway.New(ctx, "gateway", t.gateway, after(append(base, m, p.Redis)...)...)
	if err != nil {
		return err
	}
	// Beside the gateway, after the mesh and the stores whose Secrets
	// and certificates they mount.
	if err := servicesTier(ctx, p, t.services, cluster,
		after(append(base, m, certs, secrets, p.Postgres, p.Redis, p.MongoDB, p.RabbitMQ)...)...); err != nil {
		return err
	}
	// Last: its Schedule targets every other tier, and its webhook's
	// certificate comes from cert-manager. The SLO gate runs the locked
	// digest from the stack's registry, as the services do.
	gate, err := imageDigest(upstream.SLOGateService)
	if err != nil {
		return err
	}
	t.chaos.GateImage = cluster.Registry.Image(upstream.SLOGateService, gate)
	p.Chaos, err = resilience.New(ctx, "chaos", t.chaos, after(append(append(base, certs), cluster.Registry.Resources...)...)...)
	return err
}

// dns01 is cert-manager's DNS-01 solver for the stack's cloud, using the
// cluster's workload identity (ambient credentials).
func dns01(s spec.Spec) *acmev1.ACMEChallengeSolverDNS01 {
	a := s.Security.ACME
	switch s.Cloud {
	case spec.AWS:
		return &acmev1.ACMEChallengeSolverDNS01{Route53: &acmev1.ACMEIssuerDNS01ProviderRoute53{Region: s.Region}}
	case spec.Azure:
		return &acmev1.ACMEChallengeSolverDNS01{AzureDNS: &acmev1.ACMEIssuerDNS01ProviderAzureDNS{
			HostedZoneName: a.DNSZone, SubscriptionID: a.AzureSubscriptionID,
			ResourceGroupName: a.AzureResourceGroup, Environment: acmev1.AzurePublicCloud,
		}}
	case spec.GCP:
		return &acmev1.ACMEChallengeSolverDNS01{CloudDNS: &acmev1.ACMEIssuerDNS01ProviderCloudDNS{Project: s.GCP.Project}}
	}
	return nil
}
