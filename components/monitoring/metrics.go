package monitoring

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// Names of the metrics stack's objects.
const (
	// PrometheusName is the Prometheus object; the operator names its
	// pods prometheus-<name>-<n> and its governing Service
	// prometheus-operated.
	PrometheusName = "prometheus"
	// AlertmanagerName is the Alertmanager object (alertmanager-main-<n>,
	// Service alertmanager-operated).
	AlertmanagerName = "main"
	// PrometheusPort and AlertmanagerPort are their web ports.
	PrometheusPort   = 9090
	AlertmanagerPort = 9093
	// AlertmanagerMeshPort is the Alertmanager replicas' gossip.
	AlertmanagerMeshPort = 9094
	// AlertmanagerConfigSecret holds alertmanager.yaml.
	AlertmanagerConfigSecret = "alertmanager-main-config"
	// DashboardLabel marks the ConfigMaps the chart's Grafana sidecar
	// loads dashboards from (kube-prometheus-stack's
	// grafana.sidecar.dashboards.label, value "1").
	DashboardLabel = "grafana_dashboard"
)

// Defaults of the metrics stack.
const (
	// DefaultPrometheusReplicas is 2: the replicas scrape the same targets,
	// so one serves while the other is lost (not a quorum).
	DefaultPrometheusReplicas = 2
	// DefaultAlertmanagerReplicas is 3: replicas gossip silences and
	// notifications, and each notifies, so one survivor still pages.
	DefaultAlertmanagerReplicas = 3
	// DefaultRetention keeps 15 days of samples (Prometheus' default).
	DefaultRetention = "15d"
	// DefaultVolumeSize is each Prometheus replica's volume.
	DefaultVolumeSize = "50Gi"
	// AlertmanagerVolumeSize holds silences and the notification log.
	AlertmanagerVolumeSize = "2Gi"
)

// MetricsArgs configure cloudscale:monitoring:Metrics.
type MetricsArgs struct {
	// Mode is Charts on clouds and CRDsOnly on the local stack; the
	// kinds' definitions are installed before any tier (every tier
	// declares its own monitors), so Definitions is what the objects
	// depend on.
	Mode        upstream.Mode
	Definitions []pulumi.Resource
	// Cluster is the external label every series carries (the stack).
	Cluster    string
	Production bool
	// PrometheusReplicas (2) and AlertmanagerReplicas (3).
	PrometheusReplicas, AlertmanagerReplicas int
	// Retention is a Prometheus duration (15d); RetentionSize caps the
	// samples kept (default 85% of VolumeSize, so compaction never fills
	// the volume).
	Retention, RetentionSize string
	// StorageClass is the cluster's encrypted class; VolumeSize each
	// Prometheus replica's volume.
	StorageClass, VolumeSize string
	// SLOs are the services' objectives, written as rules here.
	SLOs      []slo.Objective
	Receivers []Receiver
	// ScrapeNamespaces are the namespaces of the tiers' workloads and
	// ScrapePorts their metrics ports, which Prometheus may reach there (a
	// NetworkPolicy peer names its namespaces and ports).
	ScrapeNamespaces []string
	ScrapePorts      []int
	// Dashboards are Grafana dashboards (name -> JSON model), provisioned
	// as ConfigMaps the chart's Grafana loads.
	Dashboards map[string][]byte
	Resources  workload.Resources
}

var (
	promDuration = regexp.MustCompile(`^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`)
	promBytes    = regexp.MustCompile(`^([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B$`)
	dashboardRe  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$`)
)

// Default fills what is unset.
func (a *MetricsArgs) Default() {
	if a.PrometheusReplicas == 0 {
		a.PrometheusReplicas = DefaultPrometheusReplicas
	}
	if a.AlertmanagerReplicas == 0 {
		a.AlertmanagerReplicas = DefaultAlertmanagerReplicas
	}
	if a.Retention == "" {
		a.Retention = DefaultRetention
	}
	if a.VolumeSize == "" {
		a.VolumeSize = DefaultVolumeSize
	}
	if q, err := resource.ParseQuantity(a.VolumeSize); err == nil && a.RetentionSize == "" {
		a.RetentionSize = strconv.FormatInt(q.Value()*85/100>>30, 10) + "GiB"
	}
}

// Validate checks the arguments; NewMetrics registers nothing unless
// they pass.
func (a *MetricsArgs) Validate() error {
	var errs []error
	if a.PrometheusReplicas < 1 || a.AlertmanagerReplicas < 1 {
		errs = append(errs, fmt.Errorf("replicas: prometheus %d and alertmanager %d must be 1 or more", a.PrometheusReplicas, a.AlertmanagerReplicas))
	}
	if a.Production && (a.PrometheusReplicas < 2 || a.AlertmanagerReplicas < 2) {
		errs = append(errs, fmt.Errorf("replicas: staging and prod run 2 or more Prometheus and Alertmanager replicas, not %d and %d", a.PrometheusReplicas, a.AlertmanagerReplicas))
	}
	if a.Retention == "" || a.Retention == "0" || !promDuration.MatchString(a.Retention) {
		errs = append(errs, fmt.Errorf("retention %q is not a Prometheus duration such as 15d (and not 0)", a.Retention))
	}
	if a.RetentionSize != "" && !promBytes.MatchString(a.RetentionSize) {
		errs = append(errs, fmt.Errorf("retentionSize %q is not a size such as 40GiB", a.RetentionSize))
	}
	if q, err := resource.ParseQuantity(a.VolumeSize); err != nil || q.Sign() <= 0 {
		errs = append(errs, fmt.Errorf("volumeSize %q is not a positive quantity", a.VolumeSize))
	}
	if a.StorageClass == "" {
		errs = append(errs, errors.New("storageClass is required (the cluster's encrypted class)"))
	}
	seen := map[string]bool{}
	for _, s := range a.SLOs {
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("slo: %w", err))
		}
		if seen[s.Service] {
			errs = append(errs, fmt.Errorf("slo: service %s has two objectives", s.Service))
		}
		seen[s.Service] = true
	}
	if err := ValidateReceivers(a.Receivers); err != nil {
		errs = append(errs, err)
	}
	for _, p := range a.ScrapePorts {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("scrape port %d is not a TCP port", p))
		}
	}
	for _, ns := range a.ScrapeNamespaces {
		if !dnsRe.MatchString(ns) {
			errs = append(errs, fmt.Errorf("scrape namespace %q is not a namespace name", ns))
		}
	}
	for name := range a.Dashboards {
		if !dashboardRe.MatchString(name) {
			errs = append(errs, fmt.Errorf("dashboard %q: name must be a short DNS label", name))
		}
	}
	return errors.Join(errs...)
}

// PrometheusPodLabels are the labels the operator gives a Prometheus's
// pods (pkg/prometheus/server/statefulset.go); the Scraper peer selects
// the first.
func PrometheusPodLabels() map[string]string {
	return map[string]string{contract.NameLabel: "prometheus", "prometheus": PrometheusName}
}

// AlertmanagerPodLabels are an Alertmanager's pods' labels
// (pkg/alertmanager/statefulset.go).
func AlertmanagerPodLabels() map[string]string {
	return map[string]string{contract.NameLabel: "alertmanager", "alertmanager": AlertmanagerName}
}

// Metrics is the component. Prometheus and Alertmanager are where the
// stack's series and alerts are read (the operator's Services).
type Metrics struct {
	pulumi.ResourceState

	Prometheus, Alertmanager contract.Endpoint
}

// PrometheusEndpoint is the Prometheus API inside the cluster.
func PrometheusEndpoint() contract.Endpoint {
	return contract.Endpoint{Host: "prometheus-operated." + Namespace + ".svc.cluster.local", Port: PrometheusPort,
		Peer: contract.Peer{NamespaceLabels: contract.InNamespace(Namespace), PodLabels: PrometheusPodLabels(), Ports: []int{PrometheusPort}}}
}

// NewMetrics registers kube-prometheus-stack (the operator, Grafana and
// kube-state-metrics; its own Prometheus,
// Alertmanager, rules and definitions off), the platform's Prometheus and
// Alertmanager with their RBAC, budgets and NetworkPolicies, the SLO
// rules, the Alertmanager configuration and the dashboards.
func NewMetrics(ctx *pulumi.Context, name string, args *MetricsArgs, opts ...pulumi.ResourceOption) (*Metrics, error) {
	if args == nil {
		return nil, fmt.Errorf("metrics %s: args are required", name)
	}
	a := *args
	a.Default()
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("metrics %s: %w", name, err)
	}
	amConfig, err := AlertmanagerConfig(a.Receivers)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", name, err)
	}
	m := &Metrics{Prometheus: PrometheusEndpoint(), Alertmanager: contract.Endpoint{
		Host: "alertmanager-operated." + Namespace + ".svc.cluster.local", Port: AlertmanagerPort,
		Peer: contract.Peer{NamespaceLabels: contract.InNamespace(Namespace), PodLabels: AlertmanagerPodLabels(), Ports: []int{AlertmanagerPort}},
	}}
	if err := ctx.RegisterComponentResource("cloudscale:monitoring:Metrics", name, m, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(m, opts)
	stack, err := upstream.Install(ctx, name+"-stack", upstream.KubePrometheusStack, a.Mode, Namespace, StackValues(), nil, child...)
	if err != nil {
		return nil, err
	}
	kinds := append(append([]pulumi.Resource(nil), a.Definitions...), stack...)
	sa, err := prometheusAccess(ctx, name, child)
	if err != nil {
		return nil, err
	}
	cfg, err := corev1.NewSecret(ctx, name+"-alertmanager-config", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(AlertmanagerConfigSecret), Namespace: pulumi.String(Namespace), Labels: pulumi.ToStringMap(partOf())},
		// No secret in it: receivers' credentials are mounted files.
		StringData: pulumi.StringMap{"alertmanager.yaml": pulumi.String(string(amConfig))},
	}, child...)
	if err != nil {
		return nil, err
	}
	after := append(append([]pulumi.ResourceOption(nil), child...), pulumi.DependsOn(append(kinds, sa, cfg)))
	if _, err := upstream.NewObject(ctx, name+"-prometheus", Prometheus(&a), nil, after...); err != nil {
		return nil, err
	}
	if _, err := upstream.NewObject(ctx, name+"-alertmanager", Alertmanager(&a), nil, after...); err != nil {
		return nil, err
	}
	for _, pm := range SelfMonitors() {
		if _, err := upstream.NewObject(ctx, name+"-"+pm.Labels[contract.NameLabel], pm, nil, after...); err != nil {
			return nil, err
		}
	}
	for _, s := range a.SLOs {
		if _, err := upstream.NewObject(ctx, name+"-slo-"+s.Service, s.Rules(Namespace), nil, after...); err != nil {
			return nil, err
		}
	}
	if err := metricsAvailability(ctx, name, &a, child); err != nil {
		return nil, err
	}
	if err := dashboards(ctx, name, a.Dashboards, child); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{
		"prometheus": pulumi.String(m.Prometheus.Address()), "alertmanager": pulumi.String(m.Alertmanager.Address()),
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// metricsAvailability registers both servers' budgets and NetworkPolicies.
func metricsAvailability(ctx *pulumi.Context, name string, a *MetricsArgs, child []pulumi.ResourceOption) error {
	for _, w := range []struct {
		name   string
		labels map[string]string
	}{{"prometheus", PrometheusPodLabels()}, {"alertmanager", AlertmanagerPodLabels()}} {
		if _, err := workload.NewBudget(ctx, name+"-"+w.name, Namespace, w.labels, child...); err != nil {
			return err
		}
	}
	pin, pout := prometheusPeers(a)
	if _, err := workload.NewNetworkPolicy(ctx, name+"-prometheus", Namespace, PrometheusPodLabels(), pin, pout, child...); err != nil {
		return err
	}
	ain, aout := alertmanagerPeers(a)
	_, err := workload.NewNetworkPolicy(ctx, name+"-alertmanager", Namespace, AlertmanagerPodLabels(), ain, aout, child...)
	return err
}

// kubeletPort is scraped on the nodes' addresses (cAdvisor and the
// kubelet's own metrics).
const kubeletPort = 10250

// inMonitoring is every pod of the monitoring namespace (Grafana, the
// other replicas).
func inMonitoring(ports ...int) contract.Peer {
	return contract.Peer{NamespaceLabels: contract.InNamespace(Namespace), PodLabels: map[string]string{}, Ports: ports}
}

// prometheusPeers: Grafana and the other replicas query it; it scrapes
// the tiers' metrics ports in their namespaces and the kubelets on the
// nodes, calls the API server (discovery) and notifies the Alertmanagers.
func prometheusPeers(a *MetricsArgs) (ingress, egress []contract.Peer) {
	ingress = []contract.Peer{inMonitoring(PrometheusPort)}
	ports := slices.Compact(slices.Sorted(slices.Values(a.ScrapePorts)))
	egress = []contract.Peer{
		{PodLabels: AlertmanagerPodLabels(), Ports: []int{AlertmanagerPort}},
		{CIDRs: []string{"0.0.0.0/0"}, Ports: []int{443, 6443, kubeletPort}},
	}
	if len(ports) > 0 {
		for _, ns := range slices.Compact(slices.Sorted(slices.Values(a.ScrapeNamespaces))) {
			egress = append(egress, contract.Peer{NamespaceLabels: contract.InNamespace(ns), PodLabels: map[string]string{}, Ports: ports})
		}
	}
	return ingress, egress
}

// alertmanagerPeers: Prometheus and Grafana reach it, the replicas gossip;
// it notifies the receivers (https anywhere, or a webhook's port).
func alertmanagerPeers(a *MetricsArgs) (ingress, egress []contract.Peer) {
	self := contract.Peer{PodLabels: AlertmanagerPodLabels(), Ports: []int{AlertmanagerMeshPort}}
	ingress = []contract.Peer{self, inMonitoring(AlertmanagerPort)}
	egress = []contract.Peer{self, {CIDRs: []string{"0.0.0.0/0"}, Ports: []int{443}}}
	for _, r := range a.Receivers {
		if r.Type != Webhook {
			continue
		}
		if p := urlPort(r.URL); p != 443 {
			// A webhook inside the cluster (http to *.svc): its namespace.
			egress = append(egress, contract.Peer{NamespaceLabels: contract.InNamespace(svcNamespace(r.URL)), PodLabels: map[string]string{}, Ports: []int{p}})
		}
	}
	return ingress, egress
}

var (
	portRe  = regexp.MustCompile(`^https?://[^/:]+:([0-9]+)`)
	svcHost = regexp.MustCompile(`^https?://[a-z0-9-]+\.([a-z0-9-]+)\.svc`)
)

// svcNamespace is the namespace of a cluster Service URL
// (http://name.namespace.svc...).
func svcNamespace(u string) string {
	if m := svcHost.FindStringSubmatch(u); m != nil {
		return m[1]
	}
	return Namespace
}

// urlPort is a URL's port (80 or 443 by scheme when none is written).
func urlPort(u string) int {
	if m := portRe.FindStringSubmatch(u); m != nil {
		p, _ := strconv.Atoi(m[1])
		return p
	}
	if len(u) > 5 && u[:5] == "https" {
		return 443
	}
	return 80
}

// prometheusAccess is Prometheus's service account and what it may read
// for discovery: the kube-prometheus ClusterRole.
func prometheusAccess(ctx *pulumi.Context, name string, child []pulumi.ResourceOption) (pulumi.Resource, error) {
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(PrometheusName), Namespace: pulumi.String(Namespace), Labels: pulumi.ToStringMap(partOf())}
	sa, err := corev1.NewServiceAccount(ctx, name+"-prometheus", &corev1.ServiceAccountArgs{Metadata: meta}, child...)
	if err != nil {
		return nil, err
	}
	role, err := rbacv1.NewClusterRole(ctx, name+"-prometheus", &rbacv1.ClusterRoleArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("cloudscale-prometheus"), Labels: pulumi.ToStringMap(partOf())},
		Rules: rbacv1.PolicyRuleArray{
			&rbacv1.PolicyRuleArgs{ApiGroups: pulumi.StringArray{pulumi.String("")},
				Resources: pulumi.ToStringArray([]string{"nodes", "nodes/metrics", "services", "endpoints", "pods"}),
				Verbs:     pulumi.ToStringArray([]string{"get", "list", "watch"})},
			&rbacv1.PolicyRuleArgs{ApiGroups: pulumi.StringArray{pulumi.String("discovery.k8s.io")},
				Resources: pulumi.StringArray{pulumi.String("endpointslices")}, Verbs: pulumi.ToStringArray([]string{"get", "list", "watch"})},
			&rbacv1.PolicyRuleArgs{ApiGroups: pulumi.StringArray{pulumi.String("")},
				Resources: pulumi.StringArray{pulumi.String("configmaps")}, Verbs: pulumi.StringArray{pulumi.String("get")}},
			&rbacv1.PolicyRuleArgs{NonResourceURLs: pulumi.StringArray{pulumi.String("/metrics")}, Verbs: pulumi.StringArray{pulumi.String("get")}},
		},
	}, child...)
	if err != nil {
		return nil, err
	}
	_, err = rbacv1.NewClusterRoleBinding(ctx, name+"-prometheus", &rbacv1.ClusterRoleBindingArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("cloudscale-prometheus"), Labels: pulumi.ToStringMap(partOf())},
		RoleRef:  &rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: role.Metadata.Name().Elem()},
		Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(PrometheusName), Namespace: pulumi.String(Namespace)}},
	}, child...)
	return sa, err
}

// podSecurity is the pods' security context: non-root, the operator's
// default user and group (the images' nobody-like 1000/2000).
func podSecurity() *k8scorev1.PodSecurityContext {
	return &k8scorev1.PodSecurityContext{
		RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](2000), FSGroup: ptr.To[int64](2000),
		SeccompProfile: &k8scorev1.SeccompProfile{Type: k8scorev1.SeccompProfileTypeRuntimeDefault},
	}
}

// claim is a volume claim template on the encrypted class.
func claim(class, size string) monitoringv1.EmbeddedPersistentVolumeClaim {
	return monitoringv1.EmbeddedPersistentVolumeClaim{Spec: k8scorev1.PersistentVolumeClaimSpec{
		StorageClassName: ptr.To(class), AccessModes: []k8scorev1.PersistentVolumeAccessMode{k8scorev1.ReadWriteOnce},
		Resources: k8scorev1.VolumeResourceRequirements{Requests: k8scorev1.ResourceList{k8scorev1.ResourceStorage: resource.MustParse(size)}},
	}}
}

// everything selects every object in every namespace.
func everything() *k8smetav1.LabelSelector { return &k8smetav1.LabelSelector{} }

// Prometheus is the platform's Prometheus: a.PrometheusReplicas replicas
// spread over the zones (one per zone required in prod), each with its
// own volume on the encrypted class and the retention set, reading every
// ServiceMonitor, PodMonitor and PrometheusRule of every namespace (each
// tier declares its own), and notifying the Alertmanagers.
func Prometheus(a *MetricsArgs) *monitoringv1.Prometheus {
	labels := PrometheusPodLabels()
	var spread []monitoringv1.TopologySpreadConstraint
	for _, c := range workload.Spread(labels) {
		spread = append(spread, monitoringv1.TopologySpreadConstraint{CoreV1TopologySpreadConstraint: monitoringv1.CoreV1TopologySpreadConstraint(c)})
	}
	res, _ := a.Resources.Requirements()
	p := &monitoringv1.Prometheus{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PrometheusesKind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: PrometheusName, Namespace: Namespace, Labels: partOf()},
		Spec: monitoringv1.PrometheusSpec{
			CommonPrometheusFields: monitoringv1.CommonPrometheusFields{
				Version: upstream.PrometheusVersion, Replicas: ptr.To(int32(a.PrometheusReplicas)),
				ServiceAccountName:     PrometheusName,
				ServiceMonitorSelector: everything(), ServiceMonitorNamespaceSelector: everything(),
				PodMonitorSelector: everything(), PodMonitorNamespaceSelector: everything(),
				ScrapeInterval: "30s", ExternalLabels: map[string]string{"cluster": a.Cluster},
				Storage:                   &monitoringv1.StorageSpec{VolumeClaimTemplate: claim(a.StorageClass, a.VolumeSize)},
				TopologySpreadConstraints: spread, Affinity: workload.ZoneAntiAffinity(labels, a.Production),
				SecurityContext: podSecurity(), Resources: res,
			},
			Retention: monitoringv1.Duration(a.Retention), RetentionSize: monitoringv1.ByteSize(a.RetentionSize),
			RuleSelector: everything(), RuleNamespaceSelector: everything(), EvaluationInterval: "30s",
			Alerting: &monitoringv1.AlertingSpec{Alertmanagers: []monitoringv1.AlertmanagerEndpoints{{
				Namespace: ptr.To(Namespace), Name: "alertmanager-operated", Port: intstr.FromString("web"),
				APIVersion: ptr.To(monitoringv1.AlertmanagerAPIVersion2),
			}}},
		},
	}
	return p
}

// Alertmanager is the platform's Alertmanager: a.AlertmanagerReplicas
// gossiping replicas spread over the zones, its configuration from
// AlertmanagerConfigSecret and the receivers' credentials mounted.
func Alertmanager(a *MetricsArgs) *monitoringv1.Alertmanager {
	labels := AlertmanagerPodLabels()
	res, _ := a.Resources.Requirements()
	return &monitoringv1.Alertmanager{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.AlertmanagersKind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: AlertmanagerName, Namespace: Namespace, Labels: partOf()},
		Spec: monitoringv1.AlertmanagerSpec{
			Version: upstream.AlertmanagerVersion, Replicas: ptr.To(int32(a.AlertmanagerReplicas)),
			ConfigSecret: AlertmanagerConfigSecret, Secrets: receiverSecretNames(a.Receivers),
			// Only the platform's configuration: no AlertmanagerConfig
			// objects from other namespaces merge into it.
			AlertmanagerConfigSelector: nil,
			Retention:                  "120h",
			Storage:                    &monitoringv1.StorageSpec{VolumeClaimTemplate: claim(a.StorageClass, AlertmanagerVolumeSize)},
			TopologySpreadConstraints:  workload.Spread(labels), Affinity: workload.ZoneAntiAffinity(labels, a.Production),
			SecurityContext: podSecurity(), Resources: res,
		},
	}
}

// SelfMonitors are the PodMonitors of Prometheus and the Alertmanagers,
// on their pods' web port (the operator names it "web"), labelled with
// the server they watch.
func SelfMonitors() []*monitoringv1.PodMonitor {
	var out []*monitoringv1.PodMonitor
	for _, sel := range []map[string]string{PrometheusPodLabels(), AlertmanagerPodLabels()} {
		labels := partOf()
		labels[contract.NameLabel] = sel[contract.NameLabel]
		out = append(out, &monitoringv1.PodMonitor{
			TypeMeta:   k8smetav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
			ObjectMeta: k8smetav1.ObjectMeta{Name: sel[contract.NameLabel], Namespace: Namespace, Labels: labels},
			Spec: monitoringv1.PodMonitorSpec{
				Selector:            k8smetav1.LabelSelector{MatchLabels: sel},
				PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{Port: ptr.To("web")}},
			},
		})
	}
	return out
}

// dashboards provisions each dashboard as a ConfigMap in the monitoring
// namespace labelled for Grafana's sidecar.
func dashboards(ctx *pulumi.Context, name string, ds map[string][]byte, child []pulumi.ResourceOption) error {
	for _, d := range slices.Sorted(maps.Keys(ds)) {
		labels := partOf()
		labels[DashboardLabel] = "1"
		if _, err := corev1.NewConfigMap(ctx, name+"-dashboard-"+d, &corev1.ConfigMapArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("dashboard-" + d), Namespace: pulumi.String(Namespace), Labels: pulumi.ToStringMap(labels)},
			Data:     pulumi.StringMap{d + ".json": pulumi.String(string(ds[d]))},
		}, child...); err != nil {
			return err
		}
	}
	return nil
}
