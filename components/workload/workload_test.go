package workload

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/componenttest"
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
		Ingress:     []Peer{{PodLabels: map[string]string{"app.kubernetes.io/name": "gateway"}, NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "istio-ingress"}, Ports: []int{8080}}},
		Egress:      []Peer{{PodLabels: map[string]string{"app.kubernetes.io/name": "postgres"}, Ports: []int{5432}}},
		Autoscaling: &Autoscaling{Min: 3, Max: 10, CPUUtilization: 70},
	}
}

func TestProductionDeployment(t *testing.T) {
	g, err := run(t, "api", api())
	require.NoError(t, err)
	dep, ok := g.Named("kubernetes:apps/v1:Deployment", "api")
	require.True(t, ok)
	assert.Equal(t, 3.0, dep.Inputs["spec"].(map[string]any)["replicas"])
	pod := dep.Inputs["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	spread := pod["topologySpreadConstraints"].([]any)
	assert.Equal(t, "topology.kubernetes.io/zone", spread[0].(map[string]any)["topologyKey"])
	assert.Equal(t, "DoNotSchedule", spread[0].(map[string]any)["whenUnsatisfiable"], "prod: hard zone spread")
	assert.Equal(t, "kubernetes.io/hostname", spread[1].(map[string]any)["topologyKey"])
	assert.Equal(t, false, pod["automountServiceAccountToken"])
	c := pod["containers"].([]any)[0].(map[string]any)
	sc := c["securityContext"].(map[string]any)
	assert.Equal(t, true, sc["runAsNonRoot"])
	assert.Equal(t, true, sc["readOnlyRootFilesystem"])
	assert.Equal(t, false, sc["allowPrivilegeEscalation"])
	assert.Equal(t, []any{"ALL"}, sc["capabilities"].(map[string]any)["drop"])
	assert.Equal(t, "RuntimeDefault", sc["seccompProfile"].(map[string]any)["type"])
	for _, p := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
		assert.Equal(t, "/healthz", c[p].(map[string]any)["httpGet"].(map[string]any)["path"], p)
	}

	pdb, ok := g.Named("kubernetes:policy/v1:PodDisruptionBudget", "api")
	require.True(t, ok)
	assert.Equal(t, 1.0, pdb.Inputs["spec"].(map[string]any)["maxUnavailable"])
	sa, ok := g.Named("kubernetes:core/v1:ServiceAccount", "api")
	require.True(t, ok)
	assert.Equal(t, false, sa.Inputs["automountServiceAccountToken"])
	hpa, ok := g.Named("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "api")
	require.True(t, ok)
	assert.Equal(t, 3.0, hpa.Inputs["spec"].(map[string]any)["minReplicas"])

	np, ok := g.Named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "api")
	require.True(t, ok)
	spec := np.Inputs["spec"].(map[string]any)
	assert.Equal(t, []any{"Ingress", "Egress"}, spec["policyTypes"])
	ingress := spec["ingress"].([]any)
	require.Len(t, ingress, 1)
	assert.Equal(t, []any{map[string]any{"protocol": "TCP", "port": 8080.0}}, ingress[0].(map[string]any)["ports"])
	egress := spec["egress"].([]any)
	require.Len(t, egress, 1)
	assert.Equal(t, map[string]any{"app.kubernetes.io/name": "postgres"}, egress[0].(map[string]any)["to"].([]any)[0].(map[string]any)["podSelector"].(map[string]any)["matchLabels"])
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
		{"stateful without volume", func(a *Args) { a.Stateful = true }, "a stateful workload needs a volume size"},
		{"load balancer without firewall", func(a *Args) { a.ServiceType = "LoadBalancer" }, "a LoadBalancer service needs source ranges (its firewall)"},
		{"source ranges on ClusterIP", func(a *Args) { a.SourceRanges = []string{"10.0.0.0/8"} }, "source ranges apply only to a LoadBalancer service"},
		{"selector label", func(a *Args) { a.PodLabels = map[string]string{"app.kubernetes.io/name": "other"} },
			"pod label app.kubernetes.io/name is the selector's; it cannot be overridden"},
		{"NodePort", func(a *Args) { a.ServiceType = "NodePort" }, `service type "NodePort": allowed ClusterIP, LoadBalancer`},
		{"volume with two sources", func(a *Args) { a.Volumes = []Volume{{Name: "v", MountPath: "/v", ConfigMap: "c", Secret: "s"}} },
			`volume "v": a name, an absolute mount path and exactly one of configMap or secret`},
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
	a.Ingress = []Peer{{CIDRs: []string{"203.0.113.0/24"}, Ports: []int{8443}}}
	a.Egress = nil
	a.Sidecar = &Sidecar{
		ControlPlane: Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "istio-system"}, PodLabels: map[string]string{"app": "istiod"}, Ports: []int{15012}},
		Tracing:      Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, PodLabels: map[string]string{"app.kubernetes.io/name": "jaeger"}, Ports: []int{4317}},
		Metrics:      Peer{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}, PodLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}, Ports: []int{15020}},
	}
	g, err := run(t, "edge", a)
	require.NoError(t, err)

	svc, _ := g.Named("kubernetes:core/v1:Service", "edge")
	ss := svc.Inputs["spec"].(map[string]any)
	assert.Equal(t, "LoadBalancer", ss["type"])
	assert.Equal(t, "Local", ss["externalTrafficPolicy"])
	assert.Equal(t, []any{"203.0.113.0/24"}, ss["loadBalancerSourceRanges"])
	assert.Equal(t, map[string]any{"name": "https", "port": 443.0, "targetPort": 8443.0}, ss["ports"].([]any)[1])
	assert.Equal(t, "gateway", svc.Inputs["metadata"].(map[string]any)["labels"].(map[string]any)["cloudscale.io/role"])

	dep, _ := g.Named("kubernetes:apps/v1:Deployment", "edge")
	tpl := dep.Inputs["spec"].(map[string]any)["template"].(map[string]any)
	meta := tpl["metadata"].(map[string]any)
	assert.Equal(t, "ingressgateway", meta["labels"].(map[string]any)["istio"])
	assert.Equal(t, "edge", meta["labels"].(map[string]any)["app.kubernetes.io/name"], "the selector's label stays")
	assert.Equal(t, "gateway", meta["annotations"].(map[string]any)["inject.istio.io/templates"])
	pod := tpl["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	assert.Equal(t, "istio-proxy", c["name"])
	assert.Contains(t, c["volumeMounts"], map[string]any{"name": "keys", "mountPath": "/etc/keys", "readOnly": true})
	assert.Contains(t, pod["volumes"], map[string]any{"name": "config", "configMap": map[string]any{"name": "cfg"}})
	assert.Equal(t, 15021.0, c["readinessProbe"].(map[string]any)["httpGet"].(map[string]any)["port"], "probes use the first port")

	np, _ := g.Named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "edge")
	from := np.Inputs["spec"].(map[string]any)["ingress"].([]any)[0].(map[string]any)["from"]
	assert.Equal(t, []any{map[string]any{"ipBlock": map[string]any{"cidr": "203.0.113.0/24"}}}, from)
	// The proxy reaches istiod and the tracing collector and is scraped.
	spec := np.Inputs["spec"].(map[string]any)
	var egressPorts, ingressPorts []float64
	for _, r := range spec["egress"].([]any) {
		egressPorts = append(egressPorts, r.(map[string]any)["ports"].([]any)[0].(map[string]any)["port"].(float64))
	}
	for _, r := range spec["ingress"].([]any) {
		ingressPorts = append(ingressPorts, r.(map[string]any)["ports"].([]any)[0].(map[string]any)["port"].(float64))
	}
	assert.Equal(t, []float64{15012, 4317}, egressPorts)
	assert.Equal(t, []float64{8443, 15020}, ingressPorts)
}
