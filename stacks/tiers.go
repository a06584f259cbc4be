package stacks

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/gateway"
	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
	"github.com/cloudscale/platform/components/mesh"
	"github.com/cloudscale/platform/components/security"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/infra"
	"github.com/cloudscale/platform/naming"
	"github.com/cloudscale/platform/stacks/spec"
)

// Namespaces of the Kubernetes tiers besides the platform's own.
const (
	IngressNamespace = "istio-ingress"
	// APIKeysSecret holds the gateway's service API keys (from Vault).
	APIKeysSecret = "gateway-api-keys"
	// APIKeysVaultPath is where the keys live in Vault's KV store.
	APIKeysVaultPath = "gateway/api-keys"
	// MonitoringNamespace is where the monitoring tier runs Jaeger (whose
	// collector takes the proxies' spans over OpenTelemetry) and Prometheus.
	MonitoringNamespace = "monitoring"
	TracingService      = "jaeger-collector." + MonitoringNamespace + ".svc.cluster.local"
	TracingPort         = 4317
)

// sidecar is what every mesh proxy must reach and be reached by: istiod
// (xDS and certificates on 15012), the Jaeger collector, and Prometheus
// scraping the proxy's merged metrics (15020) and Envoy's own (15090).
var sidecar = workload.Sidecar{
	ControlPlane: workload.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": mesh.RootNamespace},
		PodLabels: map[string]string{"app": "istiod"}, Ports: []int{15012}},
	Tracing: workload.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": MonitoringNamespace},
		PodLabels: map[string]string{"app.kubernetes.io/name": "jaeger"}, Ports: []int{TracingPort}},
	Metrics: workload.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": MonitoringNamespace},
		PodLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}, Ports: []int{15020, 15090}},
}

// counters is the Redis the stack names for global rate limits (nil when
// it names none, and then no route may have one).
func counters(r *spec.RedisTarget) *gateway.Counters {
	if r == nil {
		return nil
	}
	return &gateway.Counters{
		Type: r.Type, URL: r.URL,
		PodLabels:       map[string]string{"app.kubernetes.io/name": "redis"},
		NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": r.Namespace},
		Ports:           []int{6379, 26379},
	}
}

// loadBalancer chooses the cloud's load balancer for the gateway: on AWS a
// Network Load Balancer, which keeps the client's address (with
// externalTrafficPolicy Local) and honours loadBalancerSourceRanges.
func loadBalancer(c spec.Cloud) map[string]string {
	if c == spec.AWS {
		return map[string]string{"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
	}
	return nil
}

// operatorNamespaces are the charts' namespaces and the ports their pods
// serve and call (the API server is 443 on managed clusters, 6443 on
// others; cloud KMS, DNS and ACME are 443).
var operatorNamespaces = []security.SystemNamespace{
	// 15012 (xDS and certificates over TLS), 15014 (metrics), 15017
	// (webhooks); not 15010, istiod's plain-text xDS.
	{Name: mesh.RootNamespace, IngressPorts: []int{15012, 15014, 15017}, EgressPorts: []int{443, 6443}},
	{Name: security.CertManagerNamespace, IngressPorts: []int{10250, 9402}, EgressPorts: []int{443, 6443}},
	{Name: security.VaultNamespace, IngressPorts: []int{8200, 8201}, EgressPorts: []int{443, 6443}},
	{Name: security.ExternalSecretsNamespace, IngressPorts: []int{10250, 8080}, EgressPorts: []int{443, 6443, 8200}},
}

// tierArgs are the arguments of every Kubernetes tier of one stack.
type tierArgs struct {
	baseline *security.BaselineArgs
	mesh     *mesh.Args
	certs    *security.CertsArgs
	vault    *security.VaultArgs
	secrets  *security.SecretsArgs
	gateway  *gateway.Args
}

// planTiers derives every tier's arguments from the spec, before the
// cluster exists; what the cloud tier provides (the seal) is added by
// kubernetesTiers.
func planTiers(s spec.Spec) (*tierArgs, error) {
	mode := upstream.Charts
	if s.Cloud == spec.Local {
		mode = upstream.StandIns // no chart can be fetched offline; the kinds are defined so the objects apply
	}
	doc, err := gatewaydoc.Parse(s.Gateway.Document)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Gateway.DocumentSource, err)
	}
	res := workload.Resources{
		RequestCPU: s.Resources.Requests.CPU, RequestMemory: s.Resources.Requests.Memory,
		LimitCPU: s.Resources.Limits.CPU, LimitMemory: s.Resources.Limits.Memory,
	}

	// Backends the gateway routes to admit the ingress pods; each service's
	// circuit breaker comes from its first route that sets one.
	gwSA := gateway.ServiceAccountOf(IngressNamespace)
	breakers := map[string]*mesh.CircuitBreaker{}
	routed := map[string]bool{}
	keyed := false
	for _, r := range doc.Spec.Routes {
		routed[r.Backend.Service] = true
		if cb := r.CircuitBreaker; cb != nil && breakers[r.Backend.Service] == nil {
			breakers[r.Backend.Service] = &mesh.CircuitBreaker{MaxConnections: cb.MaxConnections, ConsecutiveErrors: cb.ConsecutiveErrors, EjectionSeconds: cb.EjectionSeconds}
		}
		keyed = keyed || (r.Auth != nil && r.Auth.APIKeys)
	}
	var services []mesh.Service
	canaries := map[string]int{}
	defined := map[string]bool{}
	for _, svc := range s.Services {
		var callers []string
		if routed[svc.Name] {
			callers = append(callers, gwSA)
		}
		for _, c := range svc.Callers {
			callers = append(callers, s.Namespace+"/"+c)
		}
		services = append(services, mesh.Service{
			Name: svc.Name, Namespace: s.Namespace, Port: svc.Port, Callers: callers,
			CanaryWeight: svc.CanaryWeight, CircuitBreaker: breakers[svc.Name],
		})
		defined[svc.Name] = true
		if svc.CanaryWeight > 0 {
			canaries[svc.Name] = svc.CanaryWeight
		}
	}

	var certRefs []security.Certificate
	for _, l := range doc.Spec.Listeners {
		if l.TLS != nil && l.TLS.CertificateRef != "" {
			certRefs = append(certRefs, security.Certificate{Name: l.TLS.CertificateRef, Namespace: IngressNamespace, DNSNames: s.Gateway.Hosts, Public: true})
		}
	}
	vaultDNS := []string{"vault", "vault.vault", "vault.vault.svc", "vault.vault.svc.cluster.local", "*.vault-internal", "*.vault-internal.vault.svc.cluster.local"}
	// 127.0.0.1: the Vault CLI inside a server pod (operator init, raft
	// commands) talks to its own listener.
	certRefs = append(certRefs, security.Certificate{Name: security.VaultTLSSecret, Namespace: security.VaultNamespace, DNSNames: vaultDNS,
		IPAddresses: []string{"127.0.0.1"}})
	var acme *security.ACME
	if s.Security.ACMEEmail != "" {
		acme = &security.ACME{Email: s.Security.ACMEEmail, Server: s.Security.ACMEServer, DNS01: dns01(s)}
	}

	vault := &security.VaultArgs{
		Mode: mode, Replicas: max(3, s.ReplicaCount), StorageClass: naming.StorageClass, VolumeSize: "10Gi",
		RequestCPU: res.RequestCPU, RequestMemory: res.RequestMemory, LimitCPU: res.LimitCPU, LimitMemory: res.LimitMemory,
	}
	var secrets []security.AppSecret
	if keyed {
		secrets = append(secrets, security.AppSecret{Name: APIKeysSecret, Namespace: IngressNamespace,
			VaultPath: APIKeysVaultPath, Keys: map[string]string{gateway.APIKeysProperty: gateway.APIKeysProperty},
			Merge: true}) // into the gateway's placeholder
	}
	gw := &gateway.Args{
		Document: doc, Services: defined, Namespace: IngressNamespace, BackendNamespace: s.Namespace,
		Issuer: s.Gateway.OIDCIssuer, JWKSURI: s.Gateway.OIDCJWKSURI, Canaries: canaries,
		Production: s.Environment.Production(), MinReplicas: s.Gateway.MinReplicas, MaxReplicas: s.Gateway.MaxReplicas,
		Resources: res, ServiceType: "LoadBalancer", SourceRanges: s.Gateway.SourceRanges,
		ServiceAnnotations: loadBalancer(s.Cloud), Counters: counters(s.Gateway.RateLimitRedis), Sidecar: sidecar,
	}
	if keyed {
		gw.APIKeysSecret = APIKeysSecret
	}
	if s.Cloud == spec.Local {
		// The simulated cluster has no load balancer controller.
		gw.ServiceType, gw.SourceRanges = "ClusterIP", nil
	}
	return &tierArgs{
		baseline: &security.BaselineArgs{Namespaces: []string{s.Namespace, IngressNamespace}, Mesh: true, System: operatorNamespaces},
		mesh: &mesh.Args{
			Mode: mode, IstiodReplicas: s.Mesh.IstiodReplicas, TracingSampling: s.Mesh.TracingSampling,
			TracingService: TracingService, TracingPort: TracingPort,
			AppNamespaces: []string{s.Namespace, IngressNamespace}, Services: services, Platform: cniPlatform(s.Cloud),
			RequestCPU: res.RequestCPU, RequestMemory: res.RequestMemory, LimitCPU: res.LimitCPU, LimitMemory: res.LimitMemory,
		},
		certs:   &security.CertsArgs{Mode: mode, ACME: acme, Certificates: certRefs},
		vault:   vault,
		secrets: &security.SecretsArgs{Mode: mode, Secrets: secrets},
		gateway: gw,
	}, nil
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
	} {
		if c.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.tier, c.err))
		}
	}
	return errors.Join(errs...)
}

// checkTiers plans and checks every Kubernetes tier; the stack calls it
// before it registers anything, the cloud tier included.
func checkTiers(s spec.Spec) (*tierArgs, error) {
	t, err := planTiers(s)
	if err == nil {
		err = t.validate()
	}
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", s.Stack, err)
	}
	return t, nil
}

// kubernetesTiers composes the security baseline, the mesh, certificates,
// Vault, External Secrets and the gateway, in that order, on the cluster.
func kubernetesTiers(ctx *pulumi.Context, p *Platform, t *tierArgs, cluster infra.Cluster, opts ...pulumi.ResourceOption) error {
	t.vault.StorageClass = cluster.StorageClass
	if seal := cluster.Seal; seal != nil {
		t.vault.Seal, t.vault.ServiceAccountAnnotations, t.vault.PodLabels = seal.Stanza, seal.Annotations, seal.Labels
	}
	baseline, err := security.NewBaseline(ctx, "baseline", t.baseline, opts...)
	if err != nil {
		return err
	}
	p.Baseline = baseline
	var namespaces []pulumi.Resource
	for _, name := range slices.Sorted(maps.Keys(baseline.Namespaces)) {
		namespaces = append(namespaces, baseline.Namespaces[name])
	}
	t.mesh.DependsOn, t.certs.DependsOn, t.vault.DependsOn, t.secrets.DependsOn = namespaces, namespaces, namespaces, namespaces
	m, err := mesh.New(ctx, "mesh", t.mesh, opts...)
	if err != nil {
		return err
	}
	if _, err := security.NewCerts(ctx, "certs", t.certs, opts...); err != nil {
		return err
	}
	if _, err := security.NewVault(ctx, "vault", t.vault, opts...); err != nil {
		return err
	}
	if _, err := security.NewSecrets(ctx, "secrets", t.secrets, opts...); err != nil {
		return err
	}
	t.gateway.Ready = append(append([]pulumi.Resource(nil), namespaces...), m.Ready...)
	p.Gateway, err = gateway.New(ctx, "gateway", t.gateway, opts...)
	return err
}

// dns01 is cert-manager's DNS-01 solver for the stack's cloud, using the
// cluster's workload identity (ambient credentials).
func dns01(s spec.Spec) map[string]any {
	switch s.Cloud {
	case spec.AWS:
		return map[string]any{"route53": map[string]any{"region": s.Region}}
	case spec.Azure:
		return map[string]any{"azureDNS": map[string]any{
			"hostedZoneName": s.Security.ACMEZone, "subscriptionID": s.Security.ACMEZoneSubscription,
			"resourceGroupName": s.Security.ACMEZoneResourceGroup, "environment": "AzurePublicCloud",
		}}
	case spec.GCP:
		return map[string]any{"cloudDNS": map[string]any{"project": s.GCP.Project}}
	}
	return nil
}

// cniPlatform is the Istio CNI's platform setting for the stack's cloud.
func cniPlatform(c spec.Cloud) string {
	if c == spec.GCP {
		return "gke"
	}
	return ""
}
