// Package resilience is the chaos tier (cloudscale:chaos:Resilience): Chaos
// Mesh, confined to the platform's application namespaces; the stack's
// Schedule of experiments (built by chaos/experiments from the stack's own
// resource graph); and the SLO gate (services/slogate) the experiments'
// StatusChecks ask, with read-only access to the application namespaces.
//
// On clouds it installs the pinned Chaos Mesh chart; on the local stack,
// whose simulated nodes run no containers, it installs every Chaos Mesh
// kind as a real CRD generated from the api module, so a controller run
// beside the simulated control plane can act on the Schedule.
package resilience

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/services/slogate/gate"
)

// The tier's names. The experiments' StatusChecks call the gate at
// experiments.DefaultSLOGate, which these make up.
const (
	// Namespace is where Chaos Mesh, the Schedule and the gate live.
	Namespace = experiments.Namespace
	// Release is the Chaos Mesh chart's release name.
	Release = "chaos-mesh"
	// GateName names the SLO gate's workload, Service and ConfigMap.
	GateName = "slo-gate"
	// GatePort serves the gate's HTTP API.
	GatePort = 8080
	// WebhookPort is where the API server calls the controller's
	// admission webhooks (the chart's controllerManager.env.WEBHOOK_PORT).
	WebhookPort = 9443
)

// DNSPorts are the ports of Chaos Mesh's DNS server, UDP and TCP: the
// Service's 53 and the pod port it maps to (5353 in the chart's current
// templates, 53 in older ones; a NetworkPolicy matches the pod's port).
var DNSPorts = []int{53, 5353}

// InjectAnnotation is the annotation Chaos Mesh's controller looks for on
// a namespace when it filters namespaces (controllerManager
// .enableFilterNamespace): only namespaces annotated
// chaos-mesh.org/inject=enabled can be targets. The security baseline sets
// it on the application namespaces, never on the operators'.
func InjectAnnotation() map[string]string {
	return map[string]string{"chaos-mesh.org/inject": "enabled"}
}

// GateURL is the gate's in-cluster address.
func GateURL() string {
	return "http://" + GateName + "." + Namespace + ".svc:" + strconv.Itoa(GatePort)
}

// OperatorNamespace is the chaos namespace as the security baseline opens
// it: the admission webhook served to the API server; calls to the API
// server (443 and 6443). Pod security is "privileged" where chaos-daemon
// runs (it is privileged, with host volumes and the host's PID namespace,
// to enter the target containers' namespaces), "restricted" where it does
// not. The PromQL SLOs' egress to Prometheus comes with the monitoring
// tier's peer.
func OperatorNamespace(daemon bool) contract.OperatorNamespace {
	ns := contract.OperatorNamespace{Name: Namespace, IngressPorts: []int{WebhookPort}, EgressPorts: []int{443, 6443}}
	if daemon {
		ns.PodSecurity = "privileged"
	}
	return ns
}

// Runtime is the container runtime chaos-daemon acts through and the
// path of its socket on the nodes.
type Runtime struct {
	Name, Socket string
}

// RuntimeOf is the runtime of a cluster distribution (infra.Distribution
// values): EKS (Amazon EKS: "Dockershim deprecation", containerd only from
// 1.24), AKS ("Container runtime configuration": containerd for Linux
// node pools from 1.19) and GKE ("Migrate nodes to containerd": the only
// runtime from 1.24) all run containerd at its default socket; k3s
// embeds its own, under /run/k3s.
func RuntimeOf(distribution string) Runtime {
	if distribution == "k3s" {
		return Runtime{Name: "containerd", Socket: "/run/k3s/containerd/containerd.sock"}
	}
	return Runtime{Name: "containerd", Socket: "/run/containerd/containerd.sock"}
}

// Args configure the chaos tier.
type Args struct {
	// Mode is Charts on clouds and CRDsOnly on the local stack.
	Mode upstream.Mode
	// AppNamespaces are the namespaces experiments may target; the gate
	// lists their EndpointSlices, and their pods may query the chaos DNS
	// server.
	AppNamespaces []string
	// Runtime is chaos-daemon's container runtime (Charts only).
	Runtime Runtime
	// Replicas of the gate (and of the controller manager outside
	// production, see ControllerReplicas); Production makes their zone
	// spread required.
	Replicas   int
	Production bool
	// Zones is the cluster's zone count (production needs 3 or more).
	Zones     int
	Resources workload.Resources
	// Gate is the SLO gate's configuration: a component per experiment
	// target, what it needs ready (from the failure-domain analysis).
	Gate gate.Config
	// Prometheus is the Prometheus HTTP API the gate's PromQL SLOs query
	// (the monitoring tier's); unset (empty Host), the gate reads only
	// readiness.
	Prometheus contract.Endpoint
	// Scraper is the monitoring tier's Prometheus, which reads the gate's
	// metrics.
	Scraper contract.Peer
	// Schedule is the stack's chaos Schedule (experiments.Plan.Schedule),
	// a typed Chaos Mesh object; nil when the stack's chaos is disabled.
	Schedule upstream.Object
	// GateImage is the SLO gate's image (services/slogate), by digest
	// from the images lock (services/images.json) in the stack's
	// registry; empty: upstream.SLOGateImage, the published tag.
	GateImage string
}

// Validate checks the arguments; New registers nothing unless they pass.
func (a *Args) Validate() error {
	if a == nil {
		return errors.New("args are required")
	}
	var errs []error
	if len(a.AppNamespaces) == 0 {
		errs = append(errs, errors.New("at least one application namespace is required"))
	}
	for _, ns := range a.AppNamespaces {
		if ns == Namespace || ns == "kube-system" {
			errs = append(errs, fmt.Errorf("application namespaces: %s cannot be a chaos target", ns))
		}
	}
	if a.Replicas < 1 {
		errs = append(errs, fmt.Errorf("replicas: %d, want at least 1", a.Replicas))
	}
	if a.Production && a.Zones < 3 {
		errs = append(errs, fmt.Errorf("zones: %d; production spreads the controller one per zone over at least 3", a.Zones))
	}
	if a.Mode == upstream.Charts && (a.Runtime.Name == "" || a.Runtime.Socket == "") {
		errs = append(errs, errors.New("runtime: chaos-daemon needs the container runtime and its socket"))
	}
	if len(a.Gate.Components) > 0 {
		if err := a.Gate.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("gate: %w", err))
		}
		for name, c := range a.Gate.Components {
			if !slices.Contains(a.AppNamespaces, c.Namespace) {
				errs = append(errs, fmt.Errorf("gate: components.%s: namespace %s is not an application namespace the gate may read", name, c.Namespace))
			}
		}
	}
	if a.Schedule != nil {
		if gvk := a.Schedule.GetObjectKind().GroupVersionKind(); gvk.Group != "chaos-mesh.org" || gvk.Kind != "Schedule" {
			errs = append(errs, fmt.Errorf("schedule: a %s, not a chaos-mesh.org Schedule", gvk.String()))
		}
	}
	return errors.Join(errs...)
}

// GateResources are the SLO gate's container's: it answers a StatusCheck
// every few seconds with one List of EndpointSlices per Service and, on
// clouds, a PromQL query or two.
var GateResources = workload.Resources{RequestCPU: "50m", RequestMemory: "64Mi", LimitCPU: "250m", LimitMemory: "128Mi"}

// Resilience is the chaos tier of one stack.
type Resilience struct {
	pulumi.ResourceState

	// GateURL is the SLO gate's in-cluster address.
	GateURL pulumi.StringOutput
	// Schedule is the Schedule's name ("" when chaos is disabled).
	Schedule pulumi.StringOutput
}

// New installs Chaos Mesh (or its kinds), the SLO gate with its RBAC, and
// the stack's Schedule.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Resilience, error) {
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("chaos tier %s: %w", name, err)
	}
	values, err := NewValues(args)
	if err != nil {
		return nil, fmt.Errorf("chaos tier %s: %w", name, err)
	}
	config, err := yaml.Marshal(args.Gate)
	if err != nil {
		return nil, fmt.Errorf("chaos tier %s: gate configuration: %w", name, err)
	}
	r := &Resilience{}
	if err := ctx.RegisterComponentResource("cloudscale:chaos:Resilience", name, r, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(r, opts)
	kinds, err := upstream.Install(ctx, Release, upstream.ChaosMesh, args.Mode, Namespace, values, nil, child...)
	if err != nil {
		return nil, err
	}
	if args.Mode == upstream.Charts {
		// The chart has no budget for the controller, which serves every
		// chaos kind's webhook and recovers injected faults: a drain could
		// evict all its replicas at once.
		if _, err := workload.NewBudget(ctx, Release+"-controller-manager", Namespace, ControllerLabels(), append(child, pulumi.DependsOn(kinds))...); err != nil {
			return nil, err
		}
		if err := openChaosDNS(ctx, name, args.AppNamespaces, child); err != nil {
			return nil, err
		}
	}
	if err := newGate(ctx, name, args, string(config), child); err != nil {
		return nil, err
	}
	if _, err := upstream.NewObject(ctx, name+"-"+GateName+"-monitor", GateMonitor(), nil, child...); err != nil {
		return nil, err
	}
	r.GateURL = pulumi.String(GateURL()).ToStringOutput()
	r.Schedule = pulumi.String("").ToStringOutput()
	if args.Schedule != nil {
		s, err := upstream.NewObject(ctx, name+"-schedule", args.Schedule, nil, append(child, pulumi.DependsOn(kinds))...)
		if err != nil {
			return nil, err
		}
		r.Schedule = s.Metadata.Name().Elem()
	}
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{"gateURL": r.GateURL, "schedule": r.Schedule}); err != nil {
		return nil, err
	}
	return r, nil
}

// GateMonitor has the monitoring tier's Prometheus scrape the gate's
// /metrics (services/slogate: its verdicts by status and their duration).
func GateMonitor() *monitoringv1.PodMonitor {
	return &monitoringv1.PodMonitor{
		TypeMeta: k8smetav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: GateName, Namespace: Namespace,
			Labels: map[string]string{contract.NameLabel: GateName, "app.kubernetes.io/part-of": "cloudscale"}},
		Spec: monitoringv1.PodMonitorSpec{
			Selector:            k8smetav1.LabelSelector{MatchLabels: map[string]string{contract.NameLabel: GateName}},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{Port: ptr.To("http"), Path: "/metrics"}},
		},
	}
}

// GateMetrics are the metric names the gate exports (services/slogate).
var GateMetrics = []string{"slogate_requests_total", "slogate_request_duration_seconds_bucket", "slogate_request_duration_seconds_count"}

// newGate runs the SLO gate through the workload helper, its configuration
// in a ConfigMap, and in every application namespace a Role that lists
// EndpointSlices (the one call the gate makes: readiness comes from the
// slices' endpoint conditions, so it needs no pods, whose specs may carry
// environment values), bound to the gate's service account: nothing
// else, nowhere else.
func newGate(ctx *pulumi.Context, name string, args *Args, config string, child []pulumi.ResourceOption) error {
	cm, err := corev1.NewConfigMap(ctx, name+"-"+GateName, &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(GateName), Namespace: pulumi.String(Namespace),
			Labels: pulumi.StringMap{contract.NameLabel: pulumi.String(GateName), "app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		Data: pulumi.StringMap{"config.yaml": pulumi.String(config)},
	}, child...)
	if err != nil {
		return err
	}
	env := map[string]string{"SLOGATE_CONFIG": "/etc/slogate/config.yaml", "SLOGATE_LISTEN": ":" + strconv.Itoa(GatePort)}
	// Only Chaos Mesh's controller (which runs the StatusChecks) asks; the
	// scraper reads /metrics.
	ingress := []contract.Peer{{PodLabels: ControllerLabels(), Ports: []int{GatePort}}}
	if args.Scraper.Selects() {
		s := args.Scraper
		s.Ports = []int{GatePort}
		ingress = append(ingress, s)
	}
	var egress []contract.Peer
	if p := args.Prometheus; p.Host != "" {
		env["SLOGATE_PROMETHEUS_URL"] = "http://" + p.Address()
		egress = append(egress, p.Peer)
	}
	w, err := workload.New(ctx, GateName, &workload.Args{
		Namespace: Namespace, Image: cmp.Or(args.GateImage, upstream.SLOGateImage), Env: env,
		Ports:    []workload.Port{{Name: "http", Port: GatePort}},
		Replicas: max(2, args.Replicas), Production: args.Production, Resources: GateResources,
		HealthPath: "/healthz", KubernetesAPI: true,
		Volumes: []workload.Volume{{Name: "config", MountPath: "/etc/slogate", ConfigMap: GateName}},
		Ingress: ingress, Egress: egress,
	}, append(child, pulumi.DependsOn([]pulumi.Resource{cm}))...)
	if err != nil {
		return err
	}
	for _, ns := range args.AppNamespaces {
		meta := &metav1.ObjectMetaArgs{Name: pulumi.String(GateName), Namespace: pulumi.String(ns),
			Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cloudscale")}}
		role, err := rbacv1.NewRole(ctx, name+"-"+GateName+"-"+ns, &rbacv1.RoleArgs{
			Metadata: meta,
			Rules: rbacv1.PolicyRuleArray{
				&rbacv1.PolicyRuleArgs{ApiGroups: pulumi.StringArray{pulumi.String("discovery.k8s.io")},
					Resources: pulumi.StringArray{pulumi.String("endpointslices")}, Verbs: pulumi.StringArray{pulumi.String("list")}},
			},
		}, child...)
		if err != nil {
			return err
		}
		if _, err := rbacv1.NewRoleBinding(ctx, name+"-"+GateName+"-"+ns, &rbacv1.RoleBindingArgs{
			Metadata: meta,
			RoleRef:  &rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: role.Metadata.Name().Elem()},
			Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: w.ServiceAccount, Namespace: pulumi.String(Namespace)}},
		}, child...); err != nil {
			return err
		}
	}
	return nil
}

// DNSServerLabels select Chaos Mesh's DNS server pods (the chart's
// selector labels plus the component).
func DNSServerLabels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "chaos-mesh",
		"app.kubernetes.io/instance":  Release,
		"app.kubernetes.io/component": "chaos-dns-server",
	}
}

// openChaosDNS lets the application namespaces' pods query Chaos Mesh's
// DNS server, and the server answer them: a DNSChaos points the target
// pods' resolver at it (chaos-daemon rewrites their resolv.conf), and the
// baseline's default deny admits DNS to kube-dns only. The experiments'
// DNS failure answers every name with an error ("*"), so the server needs
// no upstream resolver.
func openChaosDNS(ctx *pulumi.Context, name string, appNamespaces []string, child []pulumi.ResourceOption) error {
	var ports networkingv1.NetworkPolicyPortArray
	for _, p := range DNSPorts {
		for _, proto := range []string{"UDP", "TCP"} {
			ports = append(ports, &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String(proto), Port: pulumi.Int(p)})
		}
	}
	server := &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(DNSServerLabels())}
	labels := pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cloudscale")}
	var clients networkingv1.NetworkPolicyPeerArray
	for _, ns := range appNamespaces {
		clients = append(clients, &networkingv1.NetworkPolicyPeerArgs{
			NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(contract.InNamespace(ns))},
			PodSelector:       &metav1.LabelSelectorArgs{},
		})
		if _, err := networkingv1.NewNetworkPolicy(ctx, name+"-dns-"+ns, &networkingv1.NetworkPolicyArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("chaos-dns"), Namespace: pulumi.String(ns), Labels: labels},
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: &metav1.LabelSelectorArgs{},
				PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
				Egress: networkingv1.NetworkPolicyEgressRuleArray{&networkingv1.NetworkPolicyEgressRuleArgs{
					To: networkingv1.NetworkPolicyPeerArray{&networkingv1.NetworkPolicyPeerArgs{
						NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(contract.InNamespace(Namespace))},
						PodSelector:       server,
					}},
					Ports: ports,
				}},
			},
		}, child...); err != nil {
			return err
		}
	}
	_, err := networkingv1.NewNetworkPolicy(ctx, name+"-dns-server", &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("chaos-dns-server"), Namespace: pulumi.String(Namespace), Labels: labels},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: server,
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
			Ingress:     networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{From: clients, Ports: ports}},
		},
	}, child...)
	return err
}
