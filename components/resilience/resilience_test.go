package resilience

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/services/slogate/gate"
)

const (
	releaseType = "kubernetes:helm.sh/v3:Release"
	crdType     = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
	roleType    = "kubernetes:rbac.authorization.k8s.io/v1:Role"
	bindingType = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
	deployType  = "kubernetes:apps/v1:Deployment"
	cmType      = "kubernetes:core/v1:ConfigMap"
	scheduleTyp = "kubernetes:chaos-mesh.org/v1alpha1:Schedule"
	npType      = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
)

var resources = workload.Resources{RequestCPU: "100m", RequestMemory: "128Mi", LimitCPU: "500m", LimitMemory: "256Mi"}

// schedule is a typed object of the Schedule's kind; the tier takes any.
type schedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              map[string]string `json:"spec"`
}

func args(mode upstream.Mode) *Args {
	return &Args{
		Mode: mode, AppNamespaces: []string{"cloudscale", "istio-ingress"}, Runtime: RuntimeOf("eks"),
		Replicas: 3, Production: true, Zones: 3, Resources: resources,
		Gate: gate.Config{Components: map[string]gate.Component{
			"ingress-gateway": {Namespace: "istio-ingress", Services: []string{"ingress-gateway"}, Needed: 1},
		}},
		Schedule: &schedule{
			TypeMeta:   metav1.TypeMeta{APIVersion: "chaos-mesh.org/v1alpha1", Kind: "Schedule"},
			ObjectMeta: metav1.ObjectMeta{Name: experiments.ScheduleName, Namespace: Namespace},
			Spec:       map[string]string{"schedule": "0 10 * * 2"},
		},
	}
}

func run(t *testing.T, a *Args) graph.Graph {
	t.Helper()
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, "chaos", a)
		return err
	})
	require.NoError(t, err)
	return g
}

// The StatusChecks the experiments build ask the gate this tier runs.
func TestGateIsWhereTheExperimentsAsk(t *testing.T) {
	assert.Equal(t, experiments.DefaultSLOGate, GateURL())
	assert.Equal(t, experiments.Namespace, Namespace)
}

// On clouds: the pinned chart with the controller confined to annotated
// namespaces, replicated across zones, the dashboard in security mode,
// chaos-daemon on the cluster's runtime, every image pinned.
func TestChartValues(t *testing.T) {
	g := run(t, args(upstream.Charts))
	r, ok := g.Named(releaseType, Release)
	require.True(t, ok)
	assert.Equal(t, upstream.ChaosMesh.Version, r.Inputs["version"])
	assert.Equal(t, Namespace, r.Inputs["namespace"])
	v := componenttest.Decode[Values](t, r.Inputs["values"], "chaos-mesh values")
	assert.True(t, v.ControllerManager.EnableFilterNamespace)
	assert.True(t, v.Dashboard.SecurityMode)
	assert.Equal(t, "ClusterIP", v.Dashboard.Service.Type)
	assert.Equal(t, "v"+upstream.ChaosMeshVersion, v.Images.Tag)
	assert.Equal(t, upstream.PauseImage, v.ControllerManager.PodChaos.PodFailure.PauseImage)
	assert.Equal(t, ChaosDaemon{Runtime: "containerd", SocketPath: "/run/containerd/containerd.sock", Resources: v.ChaosDaemon.Resources}, v.ChaosDaemon)
	assert.False(t, v.EnableProfiling)
	assert.False(t, v.EnableCtrlServer)
	assert.Equal(t, 2, v.ControllerManager.ReplicaCount, "one per zone, a zone free for a rollout's surge pod")
	assert.True(t, v.ControllerManager.LeaderElection.Enabled)
	anti := v.ControllerManager.Affinity.PodAntiAffinity
	require.Len(t, anti.RequiredDuringSchedulingIgnoredDuringExecution, 1, "production: one controller per zone")
	assert.Equal(t, corev1.LabelTopologyZone, anti.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey)
	assert.Equal(t, ControllerLabels(), anti.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchLabels)
	assert.True(t, v.Webhook.CertManager.Enabled)
	_, crds := g.Named(crdType, "schedules.chaos-mesh.org")
	assert.False(t, crds, "the chart brings its own definitions")

	a := args(upstream.Charts)
	a.Production = false
	v = componenttest.Decode[Values](t, must(run(t, a).Named(releaseType, Release)).Inputs["values"], "dev values")
	assert.Empty(t, v.ControllerManager.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
	assert.Len(t, v.ControllerManager.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, 1)
}

func must(r graph.Resource, ok bool) graph.Resource {
	if !ok {
		panic("missing resource")
	}
	return r
}

// On the local stack: every Chaos Mesh kind as a generated CRD, no chart.
func TestLocalDefinesEveryKind(t *testing.T) {
	g := run(t, args(upstream.CRDsOnly))
	_, ok := g.Named(releaseType, Release)
	assert.False(t, ok)
	for _, k := range upstream.ChaosMesh.Kinds {
		_, ok := g.Named(crdType, k.Plural+"."+k.Group)
		assert.True(t, ok, k.Kind)
	}
	_, ok = g.Named(scheduleTyp, "chaos-schedule")
	assert.True(t, ok)
}

// The gate: the workload helper's Deployment with the API token mounted
// (it reads EndpointSlices), its configuration from the analysis, and in
// each application namespace a Role that only reads EndpointSlices and
// pods, bound to its service account; nothing cluster-wide.
func TestGateAndItsRBAC(t *testing.T) {
	a := args(upstream.Charts)
	g := run(t, a)
	d := componenttest.Object[appsv1.Deployment](t, g, deployType, GateName)
	assert.Equal(t, Namespace, d.Namespace)
	assert.Equal(t, int32(3), *d.Spec.Replicas)
	assert.True(t, *d.Spec.Template.Spec.AutomountServiceAccountToken)
	assert.Equal(t, upstream.SLOGateImage, d.Spec.Template.Spec.Containers[0].Image, "the published tag when the stack gives no digest")
	locked := "ghcr.io/cloudscale/slogate@sha256:" + strings.Repeat("ab", 32)
	a.GateImage = locked
	pinned := componenttest.Object[appsv1.Deployment](t, run(t, a), deployType, GateName)
	assert.Equal(t, locked, pinned.Spec.Template.Spec.Containers[0].Image)
	a.GateImage = ""

	cm := componenttest.Object[corev1.ConfigMap](t, g, cmType, "chaos-"+GateName)
	var c gate.Config
	require.NoError(t, yaml.UnmarshalStrict([]byte(cm.Data["config.yaml"]), &c))
	assert.Equal(t, a.Gate, c)

	roles := 0
	for _, r := range g.Resources {
		if r.Type == roleType || r.Type == bindingType {
			roles++
		}
	}
	assert.Equal(t, 2*len(a.AppNamespaces), roles, "a Role and its binding per application namespace, nothing else")
	for _, ns := range a.AppNamespaces {
		role := componenttest.Object[rbacv1.Role](t, g, roleType, "chaos-"+GateName+"-"+ns)
		assert.Equal(t, ns, role.Namespace)
		assert.Equal(t, []rbacv1.PolicyRule{
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list"}},
		}, role.Rules, "the one call the gate makes")
		b := componenttest.Object[rbacv1.RoleBinding](t, g, bindingType, "chaos-"+GateName+"-"+ns)
		assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: GateName, Namespace: Namespace}}, b.Subjects)
	}
	s, ok := g.Named(scheduleTyp, "chaos-schedule")
	require.True(t, ok)
	assert.Equal(t, "0 10 * * 2", s.String("spec.schedule"))

	a.Schedule = nil
	for _, r := range run(t, a).Resources {
		assert.NotEqual(t, scheduleTyp, r.Type, "chaos disabled: no Schedule")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Args)
		want string
	}{
		{"no namespaces", func(a *Args) { a.AppNamespaces = nil }, "at least one application namespace is required"},
		{"kube-system", func(a *Args) { a.AppNamespaces = append(a.AppNamespaces, "kube-system") }, "application namespaces: kube-system cannot be a chaos target"},
		{"its own namespace", func(a *Args) { a.AppNamespaces = append(a.AppNamespaces, Namespace) }, "application namespaces: chaos cannot be a chaos target"},
		{"no replicas", func(a *Args) { a.Replicas = 0 }, "replicas: 0, want at least 1"},
		{"no runtime", func(a *Args) { a.Runtime = Runtime{} }, "runtime: chaos-daemon needs the container runtime and its socket"},
		{"two zones in production", func(a *Args) { a.Zones = 2 }, "zones: 2; production spreads the controller one per zone over at least 3"},
		{"gate outside", func(a *Args) {
			a.Gate.Components["vault"] = gate.Component{Namespace: "vault", Services: []string{"vault"}}
		}, "gate: components.vault: namespace vault is not an application namespace the gate may read"},
		{"not a schedule", func(a *Args) {
			a.Schedule = &schedule{TypeMeta: metav1.TypeMeta{APIVersion: "chaos-mesh.org/v1alpha1", Kind: "PodChaos"}}
		}, "schedule: a chaos-mesh.org/v1alpha1, Kind=PodChaos, not a chaos-mesh.org Schedule"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := args(upstream.Charts)
			tc.edit(a)
			assert.ErrorContains(t, a.Validate(), tc.want)
			g, err := componenttest.Run(func(ctx *pulumi.Context) error { _, err := New(ctx, "chaos", a); return err })
			assert.Error(t, err)
			assert.Empty(t, g.Resources, "nothing is registered")
		})
	}
	a := args(upstream.CRDsOnly)
	a.Runtime = Runtime{}
	assert.NoError(t, a.Validate(), "no chaos-daemon on the local stack")
}

func TestRuntimeAndNamespace(t *testing.T) {
	for _, d := range []string{"eks", "aks", "gke", ""} {
		assert.Equal(t, Runtime{Name: "containerd", Socket: "/run/containerd/containerd.sock"}, RuntimeOf(d), d)
	}
	assert.Equal(t, "/run/k3s/containerd/containerd.sock", RuntimeOf("k3s").Socket)
	assert.Equal(t, "privileged", OperatorNamespace(true).PodSecurity, "chaos-daemon enters other containers")
	assert.Empty(t, OperatorNamespace(false).PodSecurity)
	assert.Equal(t, []int{WebhookPort}, OperatorNamespace(true).IngressPorts)
	assert.Equal(t, []int{443, 6443}, OperatorNamespace(true).EgressPorts, "the API server only")
}

func TestControllerReplicas(t *testing.T) {
	cases := []struct {
		production      bool
		zones, replicas int
		want            int
	}{
		{true, 3, 3, 2}, {true, 4, 3, 3}, {true, 5, 9, 4}, // one per zone, one zone free
		{false, 3, 2, 2}, {false, 3, 1, 1}, {false, 3, 5, 5}, // the stack's count, preferred spread
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, ControllerReplicas(&Args{Production: tc.production, Zones: tc.zones, Replicas: tc.replicas}), "%+v", tc)
	}
}

// DNSChaos points the targets' resolver at Chaos Mesh's DNS server: the
// application namespaces may reach it, and it admits them, on its ports,
// UDP and TCP; nothing else is opened.
func TestChaosDNSIsReachableFromTheApplicationNamespaces(t *testing.T) {
	a := args(upstream.Charts)
	g := run(t, a)
	var ports []networkingv1.NetworkPolicyPort
	for _, p := range DNSPorts {
		for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
			port := intstr.FromInt32(int32(p))
			ports = append(ports, networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &port})
		}
	}
	server := metav1.LabelSelector{MatchLabels: DNSServerLabels()}
	var clients []networkingv1.NetworkPolicyPeer
	for _, ns := range a.AppNamespaces {
		np := componenttest.Object[networkingv1.NetworkPolicy](t, g, npType, "chaos-dns-"+ns)
		assert.Equal(t, ns, np.Namespace)
		assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, np.Spec.PolicyTypes)
		require.Len(t, np.Spec.Egress, 1)
		assert.Equal(t, []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": Namespace}},
			PodSelector:       &server,
		}}, np.Spec.Egress[0].To)
		assert.Equal(t, ports, np.Spec.Egress[0].Ports)
		clients = append(clients, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			PodSelector:       &metav1.LabelSelector{},
		})
	}
	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, npType, "chaos-dns-server")
	assert.Equal(t, Namespace, np.Namespace)
	assert.Equal(t, server, np.Spec.PodSelector)
	assert.Equal(t, []networkingv1.NetworkPolicyIngressRule{{From: clients, Ports: ports}}, np.Spec.Ingress)

	for _, r := range run(t, args(upstream.CRDsOnly)).OfType(npType) {
		assert.NotContains(t, r.Name, "dns", "no DNS server where no chart runs")
	}
}

// chartKeys are the leaf keys of the chaos-mesh chart's values.yaml
// (helm/chaos-mesh/values.yaml at the chart's version) that Values sets;
// a key the chart does not have would be ignored by Helm without a word.
// Resources are given as Kubernetes' own type under each part's
// "resources" key, which the chart passes through.
var chartKeys = map[string]bool{
	"clusterScoped": true, "enableProfiling": true, "enableCtrlServer": true, "images.tag": true,
	"controllerManager.replicaCount": true, "controllerManager.enableFilterNamespace": true,
	"controllerManager.leaderElection.enabled": true, "controllerManager.podChaos.podFailure.pauseImage": true,
	"chaosDaemon.runtime": true, "chaosDaemon.socketPath": true,
	"dashboard.create": true, "dashboard.securityMode": true, "dashboard.service.type": true,
	"dnsServer.create": true, "webhook.certManager.enabled": true,
}

// passThrough are values the chart copies into a pod spec as they are.
var passThrough = []string{"controllerManager.resources", "controllerManager.affinity", "chaosDaemon.resources", "dashboard.resources"}

// Every value the tier sets is a key of the chart's values.yaml.
func TestValuesAreChartKeys(t *testing.T) {
	v, err := NewValues(args(upstream.Charts))
	require.NoError(t, err)
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	var tree map[string]any
	require.NoError(t, json.Unmarshal(raw, &tree))
	var leaves []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if slices.Contains(passThrough, prefix) {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			leaves = append(leaves, prefix)
			return
		}
		for k, c := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), c)
		}
	}
	walk("", tree)
	for _, l := range leaves {
		assert.True(t, chartKeys[l], "%s is not a key of the chart's values.yaml", l)
	}
	assert.Len(t, leaves, len(chartKeys), "every key the tier means to set is set")
}
