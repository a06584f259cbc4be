package workload

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/policies"
)

func run(t *testing.T, name string, args *Args) (graph.Graph, error) {
	t.Helper()
	return componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := New(ctx, name, args)
		return err
	})
}

func api() *Args {
	return &Args{
		Namespace: "shop", Image: "ghcr.io/cloudscale/api:1.4.2", Replicas: 3, Production: true,
		Ports: []Port{{Name: "http", Port: 8080}}, HealthPath: "/healthz",
		Resources:   Resources{RequestCPU: "250m", RequestMemory: "256Mi", LimitCPU: "1", LimitMemory: "512Mi"},
		Env:         map[string]string{"LOG_LEVEL": "info"},
		Ingress:     []contract.Peer{{PodLabels: map[string]string{"app.kubernetes.io/name": "gateway"}, NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "istio-ingress"}, Ports: []int{8080}}},
		Egress:      []contract.Peer{{PodLabels: map[string]string{"app.kubernetes.io/name": "postgres"}, Ports: []int{5432}}},
		Autoscaling: &Autoscaling{Min: 3, Max: 10, CPUUtilization: 70},
	}
}

const (
	deploymentType    = "kubernetes:apps/v1:Deployment"
	networkPolicyType = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
)

func TestProductionDeployment(t *testing.T) {
	g, err := run(t, "api", api())
	require.NoError(t, err)
	dep := componenttest.Object[appsv1.Deployment](t, g, deploymentType, "api")
	assert.Equal(t, int32(3), *dep.Spec.Replicas)
	pod := dep.Spec.Template.Spec
	spread := pod.TopologySpreadConstraints
	require.Len(t, spread, 2)
	assert.Equal(t, corev1.LabelTopologyZone, spread[0].TopologyKey)
	assert.Equal(t, corev1.DoNotSchedule, spread[0].WhenUnsatisfiable, "prod: hard zone spread")
	assert.Equal(t, corev1.LabelHostname, spread[1].TopologyKey)
	assert.False(t, *pod.AutomountServiceAccountToken)
	c := pod.Containers[0]
	sc := c.SecurityContext
	assert.True(t, *sc.RunAsNonRoot)
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type)
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		assert.Equal(t, "/healthz", p.HTTPGet.Path, name)
	}

	pdb := componenttest.Object[policyv1.PodDisruptionBudget](t, g, "kubernetes:policy/v1:PodDisruptionBudget", "api")
	assert.Equal(t, intstr.FromInt32(1), *pdb.Spec.MaxUnavailable)
	sa := componenttest.Object[corev1.ServiceAccount](t, g, "kubernetes:core/v1:ServiceAccount", "api")
	assert.False(t, *sa.AutomountServiceAccountToken)
	hpa := componenttest.Object[autoscalingv2.HorizontalPodAutoscaler](t, g, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "api")
	assert.Equal(t, int32(3), *hpa.Spec.MinReplicas)

	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, networkPolicyType, "api").Spec
	assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, np.PolicyTypes)
	require.Len(t, np.Ingress, 1)
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(8080)
	assert.Equal(t, []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}, np.Ingress[0].Ports)
	require.Len(t, np.Egress, 1)
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "postgres"}, np.Egress[0].To[0].PodSelector.MatchLabels)
}

// What the helper produces passes every rule of the policy gate in prod,
// given the namespace's default deny (the security baseline's job).
func TestPassesThePolicyGate(t *testing.T) {
	for _, stateful := range []bool{false, true} {
		args := api()
		if stateful {
			args.Stateful, args.VolumeSize, args.Autoscaling = true, "10Gi", nil
		}
		g, err := run(t, "api", args)
		require.NoError(t, err)
		g.Resources = append(g.Resources, graph.Resource{
			Type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", Name: "default-deny", URN: "default-deny",
			Inputs: map[string]any{"metadata": map[string]any{"name": "default-deny", "namespace": "shop"},
				"spec": map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress", "Egress"}}},
		})
		e, err := policies.New()
		require.NoError(t, err)
		rep, err := e.Check(context.Background(), g, "prod")
		require.NoError(t, err)
		for _, f := range rep.Findings {
			t.Errorf("stateful=%v: %s %s: %s", stateful, f.RuleID, f.Name, f.Message)
		}
	}
}

func TestBadArgs(t *testing.T) {
	cases := []struct {
		name string
		mod  func(a *Args)
		want string
	}{
		{"latest", func(a *Args) { a.Image = "nginx:latest" }, `image "nginx:latest" uses latest; pin a version`},
		{"untagged", func(a *Args) { a.Image = "ghcr.io/cloudscale/api" }, `image "ghcr.io/cloudscale/api" has no tag; pin a version`},
		{"prod replicas", func(a *Args) { a.Replicas = 2 }, "replicas 2: production needs at least 3"},
		{"no ports", func(a *Args) { a.Ports = nil }, "at least one port is required"},
		{"no limits", func(a *Args) { a.Resources.LimitMemory = "" }, "requests and limits for cpu and memory are required"},
		{"hpa floor", func(a *Args) { a.Autoscaling.Min = 1 }, "autoscaling 1-10: min at least 1 (3 in production)"},
		{"volume without state", func(a *Args) { a.VolumeSize = "1Gi" }, "a volume size needs a stateful workload"},
		{"headless load balancer", func(a *Args) {
			a.Headless, a.ServiceType, a.SourceRanges = true, "LoadBalancer", []string{"10.0.0.0/8"}
		},
			"a headless service cannot be a LoadBalancer"},
		{"sidecar named as the main container", func(a *Args) { a.Containers = []Container{{Name: "api"}} }, `container "api": a DNS label, unique in the pod`},
		{"load balancer without firewall", func(a *Args) { a.ServiceType = "LoadBalancer" }, "a LoadBalancer service needs source ranges (its firewall)"},
		{"source ranges on ClusterIP", func(a *Args) { a.SourceRanges = []string{"10.0.0.0/8"} }, "source ranges apply only to a LoadBalancer service"},
		{"selector label", func(a *Args) { a.PodLabels = map[string]string{"app.kubernetes.io/name": "other"} },
			"pod label app.kubernetes.io/name is the selector's; it cannot be overridden"},
		{"NodePort", func(a *Args) { a.ServiceType = "NodePort" }, `service type "NodePort": allowed ClusterIP, LoadBalancer`},
		{"sidecar image latest", func(a *Args) {
			a.Containers = []Container{{Name: "exporter", Image: "oliver006/redis_exporter:latest"}}
		},
			`container "exporter": image "oliver006/redis_exporter:latest" uses latest; pin a version`},
		{"sidecar image untagged", func(a *Args) { a.Containers = []Container{{Name: "exporter", Image: "oliver006/redis_exporter"}} },
			`container "exporter": image "oliver006/redis_exporter" has no tag; pin a version`},
		{"sidecar health path without port", func(a *Args) { a.Containers = []Container{{Name: "exporter", HealthPath: "/health"}} },
			`container "exporter": a health path needs a port (probes use the first)`},
		{"volume with two sources", func(a *Args) { a.Volumes = []Volume{{Name: "v", MountPath: "/v", ConfigMap: "c", Secret: "s"}} },
			`volume "v": a name, an absolute mount path and exactly one of configMap or secret`},
		{"volume key a path", func(a *Args) {
			a.Volumes = []Volume{{Name: "v", MountPath: "/v", Secret: "s", Keys: []string{"../ca.crt"}}}
		},
			`volume "v": key "../ca.crt" is not a file name`},
		{"versions autoscaled", func(a *Args) { a.Versions = []Version{{Name: "stable"}} },
			"versions run as Deployments without an autoscaler; not with stateful or autoscaling"},
		{"version twice", func(a *Args) { a.Autoscaling, a.Versions = nil, []Version{{Name: "stable"}, {Name: "stable"}} },
			`version "stable": a DNS label, unique`},
		{"version below the floor", func(a *Args) {
			a.Autoscaling, a.Versions = nil, []Version{{Name: "stable"}, {Name: "canary", Replicas: 1}}
		},
			`version "canary": replicas 1: at least 1 (3 in production)`},
		{"version image by tag latest", func(a *Args) {
			a.Autoscaling, a.Versions = nil, []Version{{Name: "stable"}, {Name: "canary", Image: "ghcr.io/cloudscale/api:latest"}}
		}, `version "canary": image "ghcr.io/cloudscale/api:latest" uses latest`},
		{"version label set", func(a *Args) {
			a.Autoscaling, a.Versions, a.PodLabels = nil, []Version{{Name: "stable"}}, map[string]string{VersionLabel: "x"}
		}, "pod label version is the versions'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := api()
			tc.mod(a)
			g, err := run(t, "api", a)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "workload api: "+tc.want)
			assert.Empty(t, g.Resources, "nothing registered")
		})
	}
}

func TestExposedWorkload(t *testing.T) {
	a := api()
	a.Container = "istio-proxy"
	a.Ports = []Port{{Name: "status", Port: 15021}, {Name: "https", Port: 8443, ServicePort: 443}}
	a.PodLabels = map[string]string{"istio": "ingressgateway"}
	a.PodAnnotations = map[string]string{"inject.istio.io/templates": "gateway"}
	a.ServiceType, a.SourceRanges = "LoadBalancer", []string{"203.0.113.0/24"}
	a.ServiceLabels = map[string]string{"cloudscale.io/role": "gateway"}
	a.Volumes = []Volume{{Name: "keys", Secret: "api-keys", MountPath: "/etc/keys"}, {Name: "config", ConfigMap: "cfg", MountPath: "/etc/cfg"}}
	a.Ingress = []contract.Peer{{CIDRs: []string{"203.0.113.0/24"}, Ports: []int{8443}}}
	a.Egress = nil
	a.Sidecar = &contract.Sidecar{
		ControlPlane: contract.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "istio-system"}, PodLabels: map[string]string{"app": "istiod"}, Ports: []int{15012}},
		Tracing:      contract.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, PodLabels: map[string]string{"app.kubernetes.io/name": "jaeger"}, Ports: []int{4317}},
		Metrics:      contract.Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, PodLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}, Ports: []int{15020}},
	}
	g, err := run(t, "edge", a)
	require.NoError(t, err)

	svc := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", "edge")
	assert.Equal(t, corev1.ServiceTypeLoadBalancer, svc.Spec.Type)
	assert.Equal(t, corev1.ServiceExternalTrafficPolicyLocal, svc.Spec.ExternalTrafficPolicy)
	assert.Equal(t, []string{"203.0.113.0/24"}, svc.Spec.LoadBalancerSourceRanges)
	assert.Equal(t, corev1.ServicePort{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}, svc.Spec.Ports[1])
	assert.Equal(t, "gateway", svc.Labels["cloudscale.io/role"])

	tpl := componenttest.Object[appsv1.Deployment](t, g, deploymentType, "edge").Spec.Template
	assert.Equal(t, "ingressgateway", tpl.Labels["istio"])
	assert.Equal(t, "edge", tpl.Labels["app.kubernetes.io/name"], "the selector's label stays")
	assert.Equal(t, "gateway", tpl.Annotations["inject.istio.io/templates"])
	c := tpl.Spec.Containers[0]
	assert.Equal(t, "istio-proxy", c.Name)
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "keys", MountPath: "/etc/keys", ReadOnly: true})
	assert.Contains(t, tpl.Spec.Volumes, corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}})
	assert.Equal(t, intstr.FromInt32(15021), c.ReadinessProbe.HTTPGet.Port, "probes use the first port")

	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, networkPolicyType, "edge").Spec
	assert.Equal(t, []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "203.0.113.0/24"}}}, np.Ingress[0].From)
	// The proxy reaches istiod and the tracing collector and is scraped.
	var egressPorts, ingressPorts []int32
	for _, r := range np.Egress {
		egressPorts = append(egressPorts, r.Ports[0].Port.IntVal)
	}
	for _, r := range np.Ingress {
		ingressPorts = append(ingressPorts, r.Ports[0].Port.IntVal)
	}
	assert.Equal(t, []int32{15012, 4317}, egressPorts)
	assert.Equal(t, []int32{8443, 15020}, ingressPorts)
}

// A StatefulSet with a sidecar, secrets from Secrets, exec probes, a
// headless Service and a claim on a named class: what the Redis tier asks.
func TestStatefulSidecar(t *testing.T) {
	a := api()
	a.Autoscaling = nil
	a.Stateful, a.VolumeSize, a.StorageClass, a.Headless = true, "10Gi", "cloudscale-encrypted", true
	a.Command, a.Args = []string{"/bin/sh", "/scripts/run.sh"}, []string{"--port", "0"}
	a.ProbeCommand = []string{"/bin/sh", "/scripts/ping.sh"}
	a.SecretEnv = map[string]SecretKey{"PASSWORD": {Secret: "auth", Key: "password"}}
	a.Containers = []Container{{Name: "sentinel", Command: []string{"/bin/sh", "/scripts/sentinel.sh"}, Env: map[string]string{"QUORUM": "2"},
		SecretEnv: map[string]SecretKey{"PASSWORD": {Secret: "auth", Key: "password"}}, Ports: []Port{{Name: "sentinel", Port: 26379}},
		ProbeCommand: []string{"/bin/sh", "/scripts/sentinel-ping.sh"}}}
	g, err := run(t, "store", a)
	require.NoError(t, err)
	sts := componenttest.Object[appsv1.StatefulSet](t, g, "kubernetes:apps/v1:StatefulSet", "store")
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	assert.Equal(t, "cloudscale-encrypted", *sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName)
	pod := sts.Spec.Template.Spec
	require.Len(t, pod.Containers, 2)
	main, side := pod.Containers[0], pod.Containers[1]
	assert.Equal(t, []string{"/bin/sh", "/scripts/run.sh"}, main.Command)
	assert.Equal(t, []string{"/bin/sh", "/scripts/ping.sh"}, main.ReadinessProbe.Exec.Command)
	assert.Nil(t, main.ReadinessProbe.HTTPGet)
	require.Len(t, main.Env, 2)
	assert.Equal(t, "PASSWORD", main.Env[1].Name)
	assert.Empty(t, main.Env[1].Value, "a secret is referenced, never copied")
	assert.Equal(t, "auth", main.Env[1].ValueFrom.SecretKeyRef.Name)
	assert.Equal(t, "sentinel", side.Name)
	assert.Equal(t, int32(26379), side.Ports[0].ContainerPort)
	assert.True(t, *side.SecurityContext.ReadOnlyRootFilesystem)
	assert.Equal(t, main.Resources, side.Resources)
	svc := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", "store")
	assert.Equal(t, "None", svc.Spec.ClusterIP)
	assert.True(t, svc.Spec.PublishNotReadyAddresses)
	require.Len(t, svc.Spec.Ports, 2, "the sidecar's port is served too")

	// Without a volume size the data volume is an emptyDir.
	a.VolumeSize = ""
	g, err = run(t, "cache", a)
	require.NoError(t, err)
	sts = componenttest.Object[appsv1.StatefulSet](t, g, "kubernetes:apps/v1:StatefulSet", "cache")
	assert.Empty(t, sts.Spec.VolumeClaimTemplates)
	var data *corev1.Volume
	for i, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == "data" {
			data = &sts.Spec.Template.Spec.Volumes[i]
		}
	}
	require.NotNil(t, data)
	assert.NotNil(t, data.EmptyDir)
}

// A sidecar may run its own pinned image (an exporter beside a server) and,
// having no shell, be probed over HTTP on its own first port, while the
// main container keeps its image and exec probe, and a sidecar without
// either keeps the workload's image and is probed like the main container.
func TestSidecarWithItsOwnImage(t *testing.T) {
	a := api()
	a.Autoscaling = nil
	a.ProbeCommand = []string{"/bin/sh", "/scripts/ping.sh"}
	a.Containers = []Container{
		{Name: "exporter", Image: "docker.io/oliver006/redis_exporter:v1.91.1", HealthPath: "/health",
			Ports:     []Port{{Name: "metrics", Port: 9121}},
			SecretEnv: map[string]SecretKey{"REDIS_PASSWORD": {Secret: "auth", Key: "password"}}},
		{Name: "helper", Ports: []Port{{Name: "helper", Port: 9000}}},
	}
	g, err := run(t, "cache", a)
	require.NoError(t, err)
	pod := componenttest.Object[appsv1.Deployment](t, g, deploymentType, "cache").Spec.Template.Spec
	require.Len(t, pod.Containers, 3)
	main, exporter, helper := pod.Containers[0], pod.Containers[1], pod.Containers[2]
	assert.Equal(t, "ghcr.io/cloudscale/api:1.4.2", main.Image)
	assert.Equal(t, []string{"/bin/sh", "/scripts/ping.sh"}, main.LivenessProbe.Exec.Command)
	assert.Equal(t, "docker.io/oliver006/redis_exporter:v1.91.1", exporter.Image)
	for name, p := range map[string]*corev1.Probe{"readiness": exporter.ReadinessProbe, "liveness": exporter.LivenessProbe, "startup": exporter.StartupProbe} {
		assert.Nil(t, p.Exec, name)
		require.NotNil(t, p.HTTPGet, name)
		assert.Equal(t, "/health", p.HTTPGet.Path, name)
		assert.Equal(t, intstr.FromInt32(9121), p.HTTPGet.Port, name)
	}
	assert.Equal(t, "auth", exporter.Env[0].ValueFrom.SecretKeyRef.Name)
	assert.True(t, *exporter.SecurityContext.ReadOnlyRootFilesystem, "the platform's security context")
	assert.Equal(t, main.Image, helper.Image, "no image: the workload's")
	assert.Equal(t, main.LivenessProbe, helper.LivenessProbe, "no probe of its own: the main container's")
}

// Versions run one Deployment each behind the workload's one Service,
// with only the keys asked for of a Secret mounted, and readiness on its
// own path.
func TestVersionsBehindOneService(t *testing.T) {
	a := api()
	a.Autoscaling = nil
	a.ReadinessPath = "/readyz"
	a.Env = map[string]string{"LOG_LEVEL": "info", "SERVICE_VERSION": "workload"}
	a.Versions = []Version{{Name: "stable", Env: map[string]string{"SERVICE_VERSION": "1"}},
		{Name: "canary", Image: "ghcr.io/cloudscale/api@sha256:" + strings.Repeat("ab", 32), Env: map[string]string{"SERVICE_VERSION": "2"}}}
	a.Volumes = []Volume{{Name: "db", MountPath: "/etc/db", Secret: "db-app", Keys: []string{"username", "password"}}}
	g, err := run(t, "api", a)
	require.NoError(t, err)
	require.Len(t, g.OfType(deploymentType), 2)
	for name, want := range map[string]struct{ version, image, env string }{
		"api":        {"stable", a.Image, "1"},
		"api-canary": {"canary", a.Versions[1].Image, "2"},
	} {
		dep := componenttest.Object[appsv1.Deployment](t, g, deploymentType, name)
		assert.Equal(t, map[string]string{"app.kubernetes.io/name": "api", VersionLabel: want.version}, dep.Spec.Selector.MatchLabels, name)
		assert.Equal(t, want.version, dep.Spec.Template.Labels[VersionLabel], name)
		assert.Equal(t, int32(3), *dep.Spec.Replicas, name)
		c := dep.Spec.Template.Spec.Containers[0]
		assert.Equal(t, want.image, c.Image, name)
		assert.Contains(t, c.Env, corev1.EnvVar{Name: "SERVICE_VERSION", Value: want.env}, name)
		assert.Contains(t, c.Env, corev1.EnvVar{Name: "LOG_LEVEL", Value: "info"}, name)
		assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, name)
		assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path, name)
		assert.Contains(t, dep.Spec.Template.Spec.Volumes, corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "db-app", Items: []corev1.KeyToPath{{Key: "username", Path: "username"}, {Key: "password", Path: "password"}}}}})
	}
	svc := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", "api")
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "api"}, svc.Spec.Selector)
	// A budget per Deployment: a zone drain evicts the zone's stable and
	// canary pods at once, and no pod is under two budgets.
	assert.Len(t, g.OfType("kubernetes:policy/v1:PodDisruptionBudget"), 2, "a budget per version")
	for name, version := range map[string]string{"api": "stable", "api-canary": "canary"} {
		pdb := componenttest.Object[policyv1.PodDisruptionBudget](t, g, "kubernetes:policy/v1:PodDisruptionBudget", name)
		assert.Equal(t, name, pdb.Name)
		assert.Equal(t, map[string]string{"app.kubernetes.io/name": "api", VersionLabel: version}, pdb.Spec.Selector.MatchLabels, name)
		assert.Equal(t, intstr.FromInt32(1), *pdb.Spec.MaxUnavailable, name)
	}
	assert.Equal(t, "workload", a.Env["SERVICE_VERSION"], "the workload's Env is not changed")
	componenttest.PassesPolicies(t, g, "prod", "shop")
}
