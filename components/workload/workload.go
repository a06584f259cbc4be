// Package workload is the one place that turns a small description of a
// workload into Kubernetes objects with the platform's HA and security
// defaults: replicas, zone and host spread, a disruption budget, probes, a
// restricted security context, requests and limits, a pinned image, a
// service account without a token, an optional autoscaler, and the
// NetworkPolicy that admits exactly the declared peers. Every tier and
// service calls it; none hand-rolls these.
package workload

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
)

// Port is a port the workload serves.
type Port struct {
	Name string
	Port int
	// ServicePort is the port the Service exposes it on (default Port),
	// e.g. 443 in front of an unprivileged 8443.
	ServicePort int
}

// Volume mounts a ConfigMap or a Secret (exactly one) read-only.
type Volume struct {
	Name, MountPath   string
	ConfigMap, Secret string
	// Keys, when set, are the only keys mounted (each a file of its
	// name under MountPath), e.g. a store's ca.crt without the tls.key
	// beside it, or one service's password of a Secret holding several.
	Keys []string
}

// VersionLabel is the pod label that tells the versions of a workload
// apart (Version): the mesh's canary subsets select it.
const VersionLabel = "version"

// Version is one of several Deployments of a workload behind its one
// Service (a stable release and a canary): its pods carry VersionLabel:
// Name, which its Deployment's selector and spread include and the
// Service's selector does not.
type Version struct {
	// Name is the label's value, a DNS label ("stable", "canary"). The
	// first version's Deployment is named after the workload, the
	// others' <workload>-<Name>.
	Name string
	// Image is the version's image, pinned like the workload's; empty
	// runs the workload's.
	Image string
	// Replicas of the version (the workload's floors apply); 0 takes
	// the workload's.
	Replicas int
	// Env are the version's own variables of the main container (e.g.
	// the version it reports), over the workload's Env.
	Env map[string]string
}

// Resources are one container's requests and limits (Kubernetes quantities).
type Resources struct {
	RequestCPU, RequestMemory, LimitCPU, LimitMemory string
}

// Requirements are the resources as Kubernetes' own type, for chart
// values; an error names a value that is not a quantity.
func (r Resources) Requirements() (k8scorev1.ResourceRequirements, error) {
	list := func(cpu, memory string) (k8scorev1.ResourceList, error) {
		c, err := resource.ParseQuantity(cpu)
		if err != nil {
			return nil, fmt.Errorf("cpu %q: %w", cpu, err)
		}
		m, err := resource.ParseQuantity(memory)
		if err != nil {
			return nil, fmt.Errorf("memory %q: %w", memory, err)
		}
		return k8scorev1.ResourceList{k8scorev1.ResourceCPU: c, k8scorev1.ResourceMemory: m}, nil
	}
	requests, err := list(r.RequestCPU, r.RequestMemory)
	if err != nil {
		return k8scorev1.ResourceRequirements{}, fmt.Errorf("requests: %w", err)
	}
	limits, err := list(r.LimitCPU, r.LimitMemory)
	if err != nil {
		return k8scorev1.ResourceRequirements{}, fmt.Errorf("limits: %w", err)
	}
	return k8scorev1.ResourceRequirements{Requests: requests, Limits: limits}, nil
}

// Spread is the zone and host spread of a replicated workload that a chart
// runs, as Kubernetes' own type for its values: at most one replica more
// in any zone than in another (DoNotSchedule, so a zone never holds more
// than its share and the loss of one leaves the rest: chaos/spof checks
// it), and a host spread the scheduler may relax. podLabels must be the
// labels the chart gives the workload's pods, or the constraint counts
// nothing.
func Spread(podLabels map[string]string) []k8scorev1.TopologySpreadConstraint {
	sel := &k8smetav1.LabelSelector{MatchLabels: podLabels}
	return []k8scorev1.TopologySpreadConstraint{
		{MaxSkew: 1, TopologyKey: k8scorev1.LabelTopologyZone, WhenUnsatisfiable: k8scorev1.DoNotSchedule, LabelSelector: sel},
		{MaxSkew: 1, TopologyKey: k8scorev1.LabelHostname, WhenUnsatisfiable: k8scorev1.ScheduleAnyway, LabelSelector: sel},
	}
}

// ZoneAntiAffinity is the affinity of a replicated workload that a chart
// runs whose values take an affinity but no spread constraints: one
// replica per zone, required (a zone's loss takes at most one; with
// replicas fewer than the zones, a rollout's surge pod still has a free
// zone) or preferred (the scheduler may stack them). podLabels must be the
// labels the chart gives the workload's pods.
func ZoneAntiAffinity(podLabels map[string]string, required bool) *k8scorev1.Affinity {
	term := k8scorev1.PodAffinityTerm{LabelSelector: &k8smetav1.LabelSelector{MatchLabels: podLabels}, TopologyKey: k8scorev1.LabelTopologyZone}
	if required {
		return &k8scorev1.Affinity{PodAntiAffinity: &k8scorev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []k8scorev1.PodAffinityTerm{term}}}
	}
	return &k8scorev1.Affinity{PodAntiAffinity: &k8scorev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []k8scorev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}},
	}}
}

// NewBudget registers the disruption budget every workload gets (one pod
// at a time, maxUnavailable 1) for pods a chart runs without one, selected
// by podLabels in namespace ns.
func NewBudget(ctx *pulumi.Context, name, ns string, podLabels map[string]string, opts ...pulumi.ResourceOption) (*policyv1.PodDisruptionBudget, error) {
	return policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(ns),
			Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(podLabels)},
		},
	}, opts...)
}

// SecretKey is one key of a Secret in the workload's namespace.
type SecretKey struct {
	Secret, Key string
}

// Container is a further container of the workload's pods (a sidecar such
// as Redis Sentinel beside Redis, or a metrics exporter). It runs the
// workload's image, or Image, with the same security context, resources
// and volume mounts; its ports are added to the pod and the Service.
type Container struct {
	Name string
	// Image is the container's own image, pinned like the workload's;
	// empty runs the workload's image.
	Image         string
	Command, Args []string
	Env           map[string]string
	SecretEnv     map[string]SecretKey
	Ports         []Port
	// ProbeCommand is its readiness and liveness check (exec); without
	// one, HealthPath is served over HTTP on its first port (an image
	// without a shell, such as an exporter's); without either, it is
	// probed like the main container.
	ProbeCommand []string
	HealthPath   string
}

// Autoscaling adds a HorizontalPodAutoscaler on CPU.
type Autoscaling struct {
	Min, Max       int
	CPUUtilization int
}

// Args describe a workload.
type Args struct {
	Namespace string
	// Image must carry a version tag or digest; latest is refused.
	Image string
	// Command replaces the image's entrypoint when set.
	Command []string
	Args    []string
	Env     map[string]string
	// SecretEnv are environment variables read from Secrets (secretKeyRef),
	// so no secret value is written into the pod template.
	SecretEnv map[string]SecretKey
	Ports     []Port
	Replicas  int
	Resources Resources
	// Production makes the zone spread a hard constraint.
	Production bool
	// HealthPath is served on the first port for the probes, unless
	// ProbeCommand is set (an exec probe, for servers that speak no HTTP).
	HealthPath   string
	ProbeCommand []string
	// ReadinessPath, when set, is served on the first port for the
	// readiness probe instead of HealthPath (ready only when the
	// workload's dependencies answer; HealthPath then says only that the
	// process is alive, for liveness and startup).
	ReadinessPath string
	// Containers are further containers of the pod (sidecars).
	Containers []Container
	// Stateful makes a StatefulSet whose pods mount a volume "data" at
	// /data: a claim of VolumeSize on StorageClass (empty: the cluster's
	// default class), or, with no VolumeSize, an emptyDir (pods keep a
	// stable identity without durable data).
	Stateful     bool
	VolumeSize   string
	StorageClass string
	// Headless makes the Service headless and publishes not-ready pods, so
	// that a StatefulSet's members resolve each other by pod name
	// (<pod>.<service>) before they are ready, as Sentinel and replication
	// need.
	Headless bool
	Ingress  []contract.Peer
	Egress   []contract.Peer
	// Autoscaling, when set, adds an HPA (its Min overrides Replicas as the floor).
	Autoscaling *Autoscaling

	// Container names the container (default: the workload's name).
	Container string
	// PodLabels and PodAnnotations are added to the pod template (e.g. what
	// the mesh's injector reads).
	PodLabels, PodAnnotations map[string]string
	Volumes                   []Volume
	// ServiceType is ClusterIP unless set; LoadBalancer needs SourceRanges,
	// the addresses its cloud firewall admits.
	ServiceType   string
	SourceRanges  []string
	ServiceLabels map[string]string
	// ServiceAnnotations configure the cloud's load balancer.
	ServiceAnnotations map[string]string
	// Versions, when set, run the workload as one Deployment per version
	// behind its one Service (see Version); not with Stateful or
	// Autoscaling. Empty: one Deployment, no version label.
	Versions []Version
	// Sidecar, when set, opens what the workload's mesh proxy needs.
	Sidecar *contract.Sidecar
	// KubernetesAPI mounts the service account's token into the pod: the
	// workload calls the Kubernetes API, with only the RBAC its tier binds
	// to Workload.ServiceAccount. Off, no token is mounted.
	KubernetesAPI bool
}

// Workload is the component.
type Workload struct {
	pulumi.ResourceState

	Name           pulumi.StringOutput
	ServiceAccount pulumi.StringOutput
	Service        pulumi.StringOutput
}

var (
	tagged = regexp.MustCompile(`^[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	dnsRe  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// Validate checks the arguments; New registers nothing unless they pass.
func (a *Args) Validate(name string) error {
	var errs []error
	if !dnsRe.MatchString(name) || len(name) > 52 {
		errs = append(errs, fmt.Errorf("name %q must be a DNS label of at most 52 characters", name))
	}
	if a.Namespace == "" {
		errs = append(errs, errors.New("namespace is required"))
	}
	if err := validateImage(a.Image); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, a.validateReplicas()...)
	if len(a.Ports) == 0 {
		errs = append(errs, errors.New("at least one port is required (probes use the first)"))
	}
	if a.Resources.RequestCPU == "" || a.Resources.RequestMemory == "" || a.Resources.LimitCPU == "" || a.Resources.LimitMemory == "" {
		errs = append(errs, errors.New("requests and limits for cpu and memory are required"))
	}
	if a.VolumeSize != "" && !a.Stateful {
		errs = append(errs, errors.New("a volume size needs a stateful workload"))
	}
	if a.Headless && a.ServiceType == "LoadBalancer" {
		errs = append(errs, errors.New("a headless service cannot be a LoadBalancer"))
	}
	names := map[string]bool{a.containerName(name): true}
	for _, c := range a.Containers {
		errs = append(errs, c.validate(names)...)
	}
	if err := a.validateService(); err != nil {
		errs = append(errs, err)
	}
	if _, override := a.PodLabels[contract.NameLabel]; override {
		errs = append(errs, errors.New("pod label app.kubernetes.io/name is the selector's; it cannot be overridden"))
	}
	if sc := a.Sidecar; sc != nil {
		for _, name := range []string{"control plane", "metrics", "tracing"} {
			// A peer without ports or a selector would admit everything.
			if p := sc.Peers()[name]; len(p.Ports) == 0 || !p.Selects() {
				errs = append(errs, fmt.Errorf("sidecar %s peer needs ports and a selector", name))
			}
		}
	}
	for _, v := range a.Volumes {
		errs = append(errs, v.validate()...)
	}
	errs = append(errs, a.validateVersions(name)...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("workload %s: %w", name, err)
	}
	return nil
}

// validate checks a further container against the pod's names so far
// (and adds its own).
func (c Container) validate(names map[string]bool) []error {
	var errs []error
	if !dnsRe.MatchString(c.Name) || names[c.Name] {
		errs = append(errs, fmt.Errorf("container %q: a DNS label, unique in the pod", c.Name))
	}
	names[c.Name] = true
	if c.Image != "" {
		if err := validateImage(c.Image); err != nil {
			errs = append(errs, fmt.Errorf("container %q: %w", c.Name, err))
		}
	}
	if c.HealthPath != "" && len(c.ProbeCommand) == 0 && len(c.Ports) == 0 {
		errs = append(errs, fmt.Errorf("container %q: a health path needs a port (probes use the first)", c.Name))
	}
	return errs
}

// containerName is the main container's name.
func (a *Args) containerName(workload string) string {
	if a.Container != "" {
		return a.Container
	}
	return workload
}

// validateImage refuses an image without a pinned version.
func validateImage(image string) error {
	last := image[strings.LastIndex(image, "/")+1:]
	switch {
	case image == "" || !tagged.MatchString(image):
		return fmt.Errorf("image %q is not an image reference", image)
	case !strings.Contains(last, ":") && !strings.Contains(image, "@"):
		return fmt.Errorf("image %q has no tag; pin a version", image)
	case strings.HasSuffix(last, ":latest"):
		return fmt.Errorf("image %q uses latest; pin a version", image)
	}
	return nil
}

// validateReplicas checks the replica floor and the autoscaler's.
func (a *Args) validateReplicas() []error {
	var errs []error
	if a.Replicas < 1 {
		errs = append(errs, fmt.Errorf("replicas %d: at least 1", a.Replicas))
	}
	if a.Production && a.Replicas < 3 {
		errs = append(errs, fmt.Errorf("replicas %d: production needs at least 3", a.Replicas))
	}
	if s := a.Autoscaling; s != nil && (s.Min < 1 || s.Max < s.Min || (a.Production && s.Min < 3)) {
		errs = append(errs, fmt.Errorf("autoscaling %d-%d: min at least 1 (3 in production) and max at least min", s.Min, s.Max))
	}
	return errs
}

// validate checks a volume: named, mounted at an absolute path, from one
// source, its keys file names.
func (v Volume) validate() []error {
	var errs []error
	if v.Name == "" || !strings.HasPrefix(v.MountPath, "/") || (v.ConfigMap == "") == (v.Secret == "") {
		errs = append(errs, fmt.Errorf("volume %q: a name, an absolute mount path and exactly one of configMap or secret", v.Name))
	}
	for _, k := range v.Keys {
		if k == "" || strings.Contains(k, "/") || strings.HasPrefix(k, "..") {
			errs = append(errs, fmt.Errorf("volume %q: key %q is not a file name", v.Name, k))
		}
	}
	return errs
}

// validateVersions checks the versions: named once each as DNS labels
// (the Deployments' names within 52 characters), pinned, with the
// replica floors, and only for Deployments without an autoscaler.
func (a *Args) validateVersions(name string) []error {
	if len(a.Versions) == 0 {
		return nil
	}
	var errs []error
	if a.Stateful || a.Autoscaling != nil {
		errs = append(errs, errors.New("versions run as Deployments without an autoscaler; not with stateful or autoscaling"))
	}
	seen := map[string]bool{}
	for i, v := range a.Versions {
		if !dnsRe.MatchString(v.Name) || seen[v.Name] || (i > 0 && len(name)+1+len(v.Name) > 52) {
			errs = append(errs, fmt.Errorf("version %q: a DNS label, unique, with the workload's name at most 52 characters", v.Name))
		}
		seen[v.Name] = true
		if v.Image != "" {
			if err := validateImage(v.Image); err != nil {
				errs = append(errs, fmt.Errorf("version %q: %w", v.Name, err))
			}
		}
		if r := v.replicas(a); r < 1 || (a.Production && r < 3) {
			errs = append(errs, fmt.Errorf("version %q: replicas %d: at least 1 (3 in production)", v.Name, r))
		}
	}
	if _, set := a.PodLabels[VersionLabel]; set {
		errs = append(errs, fmt.Errorf("pod label %s is the versions'; it cannot be set too", VersionLabel))
	}
	return errs
}

// replicas are the version's replicas, or the workload's.
func (v Version) replicas(a *Args) int {
	if v.Replicas > 0 {
		return v.Replicas
	}
	return a.Replicas
}

// deployment is the version's Deployment name: the first is the
// workload's.
func (v Version) deployment(workload string, first bool) string {
	if first {
		return workload
	}
	return workload + "-" + v.Name
}

// validateService checks the Service's type against its source ranges.
func (a *Args) validateService() error {
	switch a.ServiceType {
	case "", "ClusterIP":
		if len(a.SourceRanges) > 0 {
			return errors.New("source ranges apply only to a LoadBalancer service")
		}
	case "LoadBalancer":
		if len(a.SourceRanges) == 0 {
			return errors.New("a LoadBalancer service needs source ranges (its firewall)")
		}
	default:
		return fmt.Errorf("service type %q: allowed ClusterIP, LoadBalancer", a.ServiceType)
	}
	return nil
}

// New registers a workload and everything that keeps it available and
// contained.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Workload, error) {
	if args == nil {
		return nil, fmt.Errorf("workload %s: args are required", name)
	}
	if err := args.Validate(name); err != nil {
		return nil, err
	}
	w := &Workload{}
	if err := ctx.RegisterComponentResource("cloudscale:workload:Workload", name, w, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, a: args, child: tier.Children(w, opts),
		labels:   pulumi.StringMap{contract.NameLabel: pulumi.String(name), "app.kubernetes.io/part-of": pulumi.String("cloudscale")},
		selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{contract.NameLabel: pulumi.String(name)}},
	}
	sa, err := corev1.NewServiceAccount(ctx, name, &corev1.ServiceAccountArgs{
		Metadata:                     b.meta(),
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, b.child...)
	if err != nil {
		return nil, err
	}
	svc, ports, err := b.service()
	if err != nil {
		return nil, err
	}
	kind, err := b.controllers(sa, ports)
	if err != nil {
		return nil, err
	}
	if err := b.availability(kind); err != nil {
		return nil, err
	}
	if _, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: b.meta(),
		Spec:     policySpec(args, b.selector),
	}, b.child...); err != nil {
		return nil, err
	}
	w.Name = pulumi.String(name).ToStringOutput()
	w.ServiceAccount = sa.Metadata.Name().Elem()
	w.Service = svc.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(w, pulumi.Map{"name": w.Name, "serviceAccount": w.ServiceAccount, "service": w.Service}); err != nil {
		return nil, err
	}
	return w, nil
}

// builder registers one workload's objects.
type builder struct {
	ctx      *pulumi.Context
	name     string
	a        *Args
	child    []pulumi.ResourceOption
	labels   pulumi.StringMap
	selector *metav1.LabelSelectorArgs
}

func (b *builder) meta() *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{Name: pulumi.String(b.name), Namespace: pulumi.String(b.a.Namespace), Labels: b.labels}
}

// service is the workload's Service (a LoadBalancer with its firewall and
// the client's address kept, where asked) and the container ports.
func (b *builder) service() (*corev1.Service, corev1.ContainerPortArray, error) {
	a := b.a
	var svcPorts corev1.ServicePortArray
	var cPorts corev1.ContainerPortArray
	all := append([]Port(nil), a.Ports...)
	for _, c := range a.Containers {
		all = append(all, c.Ports...)
	}
	for i, p := range all {
		sp := p.Port
		if p.ServicePort != 0 {
			sp = p.ServicePort
		}
		svcPorts = append(svcPorts, &corev1.ServicePortArgs{Name: pulumi.String(p.Name), Port: pulumi.Int(sp), TargetPort: pulumi.Int(p.Port)})
		if i < len(a.Ports) {
			cPorts = append(cPorts, &corev1.ContainerPortArgs{Name: pulumi.String(p.Name), ContainerPort: pulumi.Int(p.Port)})
		}
	}
	spec := &corev1.ServiceSpecArgs{Type: pulumi.String("ClusterIP"), Selector: b.selector.MatchLabels, Ports: svcPorts}
	if a.Headless {
		spec.ClusterIP = pulumi.String("None")
		spec.PublishNotReadyAddresses = pulumi.Bool(true)
	}
	meta := b.meta()
	if a.ServiceType == "LoadBalancer" {
		spec.Type = pulumi.String("LoadBalancer")
		spec.LoadBalancerSourceRanges = pulumi.ToStringArray(a.SourceRanges)
		// Local keeps the client's address, so the NetworkPolicy's source
		// ranges and per-client rate limits see it.
		spec.ExternalTrafficPolicy = pulumi.String("Local")
	}
	if len(a.ServiceAnnotations) > 0 {
		meta.Annotations = pulumi.ToStringMap(a.ServiceAnnotations)
	}
	if len(a.ServiceLabels) > 0 {
		l := pulumi.StringMap{}
		for k, v := range b.labels {
			l[k] = v
		}
		for k, v := range a.ServiceLabels {
			l[k] = pulumi.String(v)
		}
		meta.Labels = l
	}
	svc, err := corev1.NewService(b.ctx, b.name, &corev1.ServiceArgs{Metadata: meta, Spec: spec}, b.child...)
	return svc, cPorts, err
}

// controllers run the pods: one controller (see controller), or a
// Deployment per version, each selecting its version's pods. It returns
// the kind.
func (b *builder) controllers(sa *corev1.ServiceAccount, ports corev1.ContainerPortArray) (string, error) {
	a := b.a
	if len(a.Versions) == 0 {
		replicas := a.Replicas
		if a.Autoscaling != nil {
			replicas = max(replicas, a.Autoscaling.Min)
		}
		return b.controller(b.name, replicas, b.selector, podTemplate(b.name, a, Version{Image: a.Image}, b.labels, sa, ports))
	}
	for i, v := range a.Versions {
		if v.Image == "" {
			v.Image = a.Image
		}
		if _, err := b.controller(v.deployment(b.name, i == 0), v.replicas(a), b.versionSelector(v), podTemplate(b.name, a, v, b.labels, sa, ports)); err != nil {
			return "", err
		}
	}
	return "Deployment", nil
}

// controller runs the pods as name: a StatefulSet with a volume per pod,
// or a Deployment that rolls one surge pod at a time and never below its
// replicas. It returns the kind.
func (b *builder) controller(name string, replicas int, selector *metav1.LabelSelectorArgs, pod *corev1.PodTemplateSpecArgs) (string, error) {
	a := b.a
	meta := b.meta()
	meta.Name = pulumi.String(name)
	if a.Stateful {
		var claims corev1.PersistentVolumeClaimTypeArray
		if a.VolumeSize != "" {
			claim := &corev1.PersistentVolumeClaimSpecArgs{
				AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
				Resources:   &corev1.VolumeResourceRequirementsArgs{Requests: pulumi.StringMap{"storage": pulumi.String(a.VolumeSize)}},
			}
			if a.StorageClass != "" {
				claim.StorageClassName = pulumi.String(a.StorageClass)
			}
			claims = corev1.PersistentVolumeClaimTypeArray{&corev1.PersistentVolumeClaimTypeArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("data")}, Spec: claim,
			}}
		}
		_, err := appsv1.NewStatefulSet(b.ctx, name, &appsv1.StatefulSetArgs{
			Metadata: meta,
			Spec: &appsv1.StatefulSetSpecArgs{
				Replicas: pulumi.Int(replicas), Selector: selector, ServiceName: pulumi.String(b.name), Template: pod,
				PodManagementPolicy:  pulumi.String("Parallel"),
				VolumeClaimTemplates: claims,
			},
		}, b.child...)
		return "StatefulSet", err
	}
	_, err := appsv1.NewDeployment(b.ctx, name, &appsv1.DeploymentArgs{
		Metadata: meta,
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(replicas), Selector: selector, Template: pod,
			Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("RollingUpdate"), RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
				MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1),
			}},
		},
	}, b.child...)
	return "Deployment", err
}

// versionSelector selects the pods of one version of the workload.
func (b *builder) versionSelector(v Version) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{contract.NameLabel: pulumi.String(b.name), VersionLabel: pulumi.String(v.Name)}}
}

// availability is the disruption budget (one pod at a time) and, when
// asked, the CPU autoscaler of the controller of kind. With versions each
// Deployment has its own budget, named as it is: one budget over all of
// them would let a zone drain evict only one of the zone's pods (say the
// stable one) and refuse the others (the canary's) until the first is
// replaced, and a pod under two budgets cannot be evicted at all.
func (b *builder) availability(kind string) error {
	budget := func(name string, selector *metav1.LabelSelectorArgs) error {
		meta := b.meta()
		meta.Name = pulumi.String(name)
		_, err := policyv1.NewPodDisruptionBudget(b.ctx, name, &policyv1.PodDisruptionBudgetArgs{
			Metadata: meta,
			Spec:     &policyv1.PodDisruptionBudgetSpecArgs{Selector: selector, MaxUnavailable: pulumi.Int(1)},
		}, b.child...)
		return err
	}
	if len(b.a.Versions) == 0 {
		if err := budget(b.name, b.selector); err != nil {
			return err
		}
	}
	for i, v := range b.a.Versions {
		if err := budget(v.deployment(b.name, i == 0), b.versionSelector(v)); err != nil {
			return err
		}
	}
	s := b.a.Autoscaling
	if s == nil {
		return nil
	}
	_, err := autoscalingv2.NewHorizontalPodAutoscaler(b.ctx, b.name, &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: b.meta(),
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String(kind), Name: pulumi.String(b.name)},
			MinReplicas:    pulumi.Int(s.Min), MaxReplicas: pulumi.Int(s.Max),
			Metrics: autoscalingv2.MetricSpecArray{&autoscalingv2.MetricSpecArgs{
				Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{Name: pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(max(s.CPUUtilization, 1))}},
			}},
		},
	}, b.child...)
	return err
}

// args is a readiness, liveness or startup probe that fails after
// failures tries: exec when command is set, else an HTTP GET of path on
// port.
func (c check) args(failures int) *corev1.ProbeArgs {
	p := &corev1.ProbeArgs{PeriodSeconds: pulumi.Int(10), FailureThreshold: pulumi.Int(failures)}
	if len(c.command) > 0 {
		p.Exec = &corev1.ExecActionArgs{Command: pulumi.ToStringArray(c.command)}
		p.TimeoutSeconds = pulumi.Int(5)
	} else {
		p.HttpGet = &corev1.HTTPGetActionArgs{Path: pulumi.String(c.path), Port: pulumi.Int(c.port)}
	}
	return p
}

// envVars are plain values and Secret references, sorted by name.
func envVars(plain map[string]string, secret map[string]SecretKey) corev1.EnvVarArray {
	var env corev1.EnvVarArray
	for _, k := range slices.Sorted(maps.Keys(plain)) {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(plain[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(secret)) {
		ref := secret[k]
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(k), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String(ref.Secret), Key: pulumi.String(ref.Key)},
		}})
	}
	return env
}

// check is how a container is probed: exec of command when set, else an
// HTTP GET of path on port (of readyPath, when set, for readiness).
type check struct {
	command         []string
	path, readyPath string
	port            int
}

// readiness is the readiness probe's check.
func (c check) readiness() check {
	if c.readyPath != "" && len(c.command) == 0 {
		c.path = c.readyPath
	}
	return c
}

// mainCheck is the main container's probe: HealthPath on the first port
// (ReadinessPath for readiness).
func (a *Args) mainCheck() check {
	c := check{command: a.ProbeCommand, path: a.HealthPath, readyPath: a.ReadinessPath}
	if len(a.Ports) > 0 {
		c.port = a.Ports[0].Port
	}
	return c
}

// check is a further container's probe: its own command, or its own
// health path on its first port, or else the main container's.
func (c Container) check(a *Args) check {
	switch {
	case len(c.ProbeCommand) > 0:
		return check{command: c.ProbeCommand}
	case c.HealthPath != "" && len(c.Ports) > 0:
		return check{path: c.HealthPath, port: c.Ports[0].Port}
	}
	return a.mainCheck()
}

// container is one container with the platform's security context and
// the workload's resources and mounts, running image; ports may be nil.
func container(name, image string, a *Args, command, args []string, env corev1.EnvVarArray, ports corev1.ContainerPortArray, probe check, mounts corev1.VolumeMountArray) *corev1.ContainerArgs {
	return &corev1.ContainerArgs{
		Name: pulumi.String(name), Image: pulumi.String(image), Command: pulumi.ToStringArray(command), Args: pulumi.ToStringArray(args),
		Env: env, Ports: ports,
		Resources: &corev1.ResourceRequirementsArgs{
			Requests: pulumi.StringMap{"cpu": pulumi.String(a.Resources.RequestCPU), "memory": pulumi.String(a.Resources.RequestMemory)},
			Limits:   pulumi.StringMap{"cpu": pulumi.String(a.Resources.LimitCPU), "memory": pulumi.String(a.Resources.LimitMemory)},
		},
		SecurityContext: &corev1.SecurityContextArgs{
			RunAsNonRoot: pulumi.Bool(true), AllowPrivilegeEscalation: pulumi.Bool(false), ReadOnlyRootFilesystem: pulumi.Bool(true),
			Privileged:     pulumi.Bool(false),
			Capabilities:   &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
			SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
		ReadinessProbe: probe.readiness().args(3),
		LivenessProbe:  probe.args(3),
		StartupProbe:   probe.args(30), // up to 5 minutes to start before liveness counts
		VolumeMounts:   mounts,
	}
}

// podTemplate is the pods of version ver (its Name empty: the
// workload's only controller) running ver.Image.
func podTemplate(name string, a *Args, ver Version, labels pulumi.StringMap, sa *corev1.ServiceAccount, ports corev1.ContainerPortArray) *corev1.PodTemplateSpecArgs {
	zoneSkew := "ScheduleAnyway"
	if a.Production {
		zoneSkew = "DoNotSchedule" // a zone never holds more than its share in prod
	}
	matchLabels := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(name)}
	if ver.Name != "" {
		// Each version spreads its own pods: a canary is never stacked
		// in the zone its stable pods leave free.
		matchLabels[VersionLabel] = pulumi.String(ver.Name)
	}
	match := &metav1.LabelSelectorArgs{MatchLabels: matchLabels}
	volumes := corev1.VolumeArray{&corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}}}
	mounts := corev1.VolumeMountArray{&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}}
	for _, v := range a.Volumes {
		vol := &corev1.VolumeArgs{Name: pulumi.String(v.Name)}
		var items corev1.KeyToPathArray
		for _, k := range v.Keys {
			items = append(items, &corev1.KeyToPathArgs{Key: pulumi.String(k), Path: pulumi.String(k)})
		}
		if v.ConfigMap != "" {
			vol.ConfigMap = &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(v.ConfigMap), Items: items}
		} else {
			vol.Secret = &corev1.SecretVolumeSourceArgs{SecretName: pulumi.String(v.Secret), Items: items}
		}
		volumes = append(volumes, vol)
		mounts = append(mounts, &corev1.VolumeMountArgs{Name: pulumi.String(v.Name), MountPath: pulumi.String(v.MountPath), ReadOnly: pulumi.Bool(true)})
	}
	podLabels := pulumi.StringMap{}
	for k, v := range labels {
		podLabels[k] = v
	}
	for k, v := range a.PodLabels {
		podLabels[k] = pulumi.String(v)
	}
	if ver.Name != "" {
		podLabels[VersionLabel] = pulumi.String(ver.Name)
	}
	if a.Stateful {
		mounts = append(mounts, &corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/data")})
		if a.VolumeSize == "" {
			volumes = append(volumes, &corev1.VolumeArgs{Name: pulumi.String("data"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}})
		}
	}
	env := a.Env
	if len(ver.Env) > 0 {
		env = maps.Clone(a.Env)
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, ver.Env)
	}
	containers := corev1.ContainerArray{container(a.containerName(name), ver.Image, a, a.Command, a.Args, envVars(env, a.SecretEnv), ports, a.mainCheck(), mounts)}
	for _, c := range a.Containers {
		var cPorts corev1.ContainerPortArray
		for _, p := range c.Ports {
			cPorts = append(cPorts, &corev1.ContainerPortArgs{Name: pulumi.String(p.Name), ContainerPort: pulumi.Int(p.Port)})
		}
		image := c.Image
		if image == "" {
			image = ver.Image
		}
		containers = append(containers, container(c.Name, image, a, c.Command, c.Args, envVars(c.Env, c.SecretEnv), cPorts, c.check(a), mounts))
	}
	return &corev1.PodTemplateSpecArgs{
		Metadata: &metav1.ObjectMetaArgs{Labels: podLabels, Annotations: pulumi.ToStringMap(a.PodAnnotations)},
		Spec: &corev1.PodSpecArgs{
			ServiceAccountName:           sa.Metadata.Name().Elem(),
			AutomountServiceAccountToken: pulumi.Bool(a.KubernetesAPI),
			SecurityContext: &corev1.PodSecurityContextArgs{
				RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(65532), RunAsGroup: pulumi.Int(65532), FsGroup: pulumi.Int(65532),
				SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
			},
			TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{
				&corev1.TopologySpreadConstraintArgs{MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("topology.kubernetes.io/zone"),
					WhenUnsatisfiable: pulumi.String(zoneSkew), LabelSelector: match},
				&corev1.TopologySpreadConstraintArgs{MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("kubernetes.io/hostname"),
					WhenUnsatisfiable: pulumi.String("ScheduleAnyway"), LabelSelector: match},
			},
			Volumes:    volumes,
			Containers: containers,
		},
	}
}

// policySpec admits exactly the declared peers on the declared ports; the
// namespace's default-deny covers everything else.
func policySpec(a *Args, selector *metav1.LabelSelectorArgs) *networkingv1.NetworkPolicySpecArgs {
	peer := func(p contract.Peer) *networkingv1.NetworkPolicyPeerArgs {
		np := &networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(p.PodLabels)}}
		if p.NamespaceLabels != nil {
			np.NamespaceSelector = &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(p.NamespaceLabels)}
		}
		return np
	}
	peers := func(p contract.Peer) networkingv1.NetworkPolicyPeerArray {
		if len(p.CIDRs) > 0 {
			var out networkingv1.NetworkPolicyPeerArray
			for _, c := range p.CIDRs {
				out = append(out, &networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(c)}})
			}
			return out
		}
		return networkingv1.NetworkPolicyPeerArray{peer(p)}
	}
	ports := func(ps []int) networkingv1.NetworkPolicyPortArray {
		var out networkingv1.NetworkPolicyPortArray
		for _, p := range ps {
			out = append(out, &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(p)})
		}
		return out
	}
	spec := &networkingv1.NetworkPolicySpecArgs{
		PodSelector: selector,
		PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
	}
	ingress, egress := a.Ingress, a.Egress
	if sc := a.Sidecar; sc != nil {
		egress = append(append([]contract.Peer(nil), egress...), sc.ControlPlane, sc.Tracing)
		ingress = append(append([]contract.Peer(nil), ingress...), sc.Metrics)
	}
	var in networkingv1.NetworkPolicyIngressRuleArray
	for _, p := range ingress {
		in = append(in, &networkingv1.NetworkPolicyIngressRuleArgs{From: peers(p), Ports: ports(p.Ports)})
	}
	var out networkingv1.NetworkPolicyEgressRuleArray
	for _, p := range egress {
		out = append(out, &networkingv1.NetworkPolicyEgressRuleArgs{To: peers(p), Ports: ports(p.Ports)})
	}
	spec.Ingress, spec.Egress = in, out
	return spec
}

// NewNetworkPolicy registers the NetworkPolicy that admits exactly the
// given peers to and from pods a chart or an operator runs (selected by
// podLabels in namespace ns), the same way New does for its own pods; the
// namespace's default-deny covers everything else.
func NewNetworkPolicy(ctx *pulumi.Context, name, ns string, podLabels map[string]string, ingress, egress []contract.Peer, opts ...pulumi.ResourceOption) (*networkingv1.NetworkPolicy, error) {
	for _, p := range append(append([]contract.Peer(nil), ingress...), egress...) {
		if !p.Selects() || len(p.Ports) == 0 {
			return nil, fmt.Errorf("network policy %s: every peer needs a selector or address block and ports (it would admit everything)", name)
		}
	}
	a := &Args{Ingress: ingress, Egress: egress}
	return networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(ns),
			Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		Spec: policySpec(a, &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(podLabels)}),
	}, opts...)
}
