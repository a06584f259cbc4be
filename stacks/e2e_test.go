package stacks_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cloudscale/platform/cmd/cloudscale/engine"
	"github.com/cloudscale/platform/infra/local/controlplane"
	"github.com/cloudscale/platform/stacks"
)

// TestLocalStackEndToEnd is the main job on the local default, for real: a
// fresh simulated control plane (etcd, kube-apiserver, controller manager,
// scheduler, kwok), the local stack deployed by the Pulumi engine with the
// Kubernetes provider, checked with client-go, redeployed without changes
// (after a killed run's stale lock), destroyed, and the cluster stopped.
func TestLocalStackEndToEnd(t *testing.T) {
	project, err := filepath.Abs("..")
	require.NoError(t, err)
	bin := engine.BinDir(project)
	for _, tool := range []string{"pulumi", "pulumi-resource-kubernetes", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "etcd"} {
		_, err := os.Stat(filepath.Join(bin, tool))
		require.NoError(t, err, "%s is missing: run `make tools` (the README's `make test` does)", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var log bytes.Buffer
	// One simulated cluster at a time on this machine (see Exclusive).
	release, err := controlplane.Exclusive(controlplane.ExclusiveLock())
	require.NoError(t, err)
	t.Cleanup(release)
	cp := controlplane.New(filepath.Join(t.TempDir(), "cluster"), bin, &log)
	cp.Ports = controlplane.DefaultPorts.Offset(100) // beside a developer's own local cluster
	t.Cleanup(func() { assert.NoError(t, cp.Stop()) })
	require.NoError(t, cp.Start(ctx, true), log.String())
	client, err := cp.Client()
	require.NoError(t, err)

	st, err := cp.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Healthy(), "%+v", st)
	assert.Equal(t, map[string]int{"zone-a": 2, "zone-b": 2, "zone-c": 2}, st.NodesPerZone)

	// A component that dies is reported and restarted by the next start.
	sched := st.Processes[3]
	require.Equal(t, "kube-scheduler", sched.Name)
	require.NoError(t, syscall.Kill(sched.PID, syscall.SIGKILL))
	require.Eventually(t, func() bool { s, _ := cp.Status(ctx); return !s.Healthy() }, 10*time.Second, 100*time.Millisecond)
	require.NoError(t, cp.Start(ctx, false), log.String())
	st, err = cp.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Healthy())
	assert.NotEqual(t, sched.PID, st.Processes[3].PID)

	// The local stack, deployed by the real engine into that cluster.
	state := t.TempDir()
	t.Setenv("PULUMI_BACKEND_URL", "file://"+state)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "")
	var out bytes.Buffer
	op := func(o engine.Op) engine.Summary {
		t.Helper()
		sum, err := engine.Run(ctx, engine.Request{Op: o, Stack: "local", ProjectDir: project, Out: &out,
			Program: stacks.Program(stacks.Options{Kubeconfig: cp.Kubeconfig(), StacksDir: project + "/stacks"})})
		require.NoError(t, err, out.String())
		return sum
	}

	first := op(engine.Up)
	assert.Greater(t, first.Changes["create"], 5, out.String())
	ns, err := client.CoreV1().Namespaces().Get(ctx, "cloudscale", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])
	pols, err := client.NetworkingV1().NetworkPolicies("cloudscale").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var policyNames []string
	for _, p := range pols.Items {
		policyNames = append(policyNames, p.Name)
	}
	// The namespace's default deny and DNS, then one per workload: the
	// database's instances and poolers, the Redis instances, MongoDB's
	// members and routers, RabbitMQ's nodes, the services.
	assert.ElementsMatch(t, []string{"default-deny", "allow-dns", "postgres-orders", "postgres-orders-pooler-rw",
		"postgres-orders-pooler-ro", "redis-state", "redis-cache", "mongodb-members", "mongodb-clients", "rabbitmq",
		"api-service", "order-worker"}, policyNames)
	sc, err := client.StorageV1().StorageClasses().Get(ctx, "cloudscale-encrypted", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "true", sc.Annotations["storageclass.kubernetes.io/is-default-class"])

	// The tiers' objects are stored by the real API server: the gateway's
	// pods run on the simulated nodes, its Istio, cert-manager and External
	// Secrets objects are accepted under their (stand-in) kinds.
	tiersDeployed(t, ctx, client, cp.Kubeconfig())

	// The data tier: CloudNativePG's and the Barman Cloud plugin's objects
	// under their own schemas, Redis running with its volumes bound.
	dataTierDeployed(t, ctx, client, cp.Kubeconfig())
	monitoringDeployed(t, ctx, client, cp.Kubeconfig())
	// The services, ready behind the gateway's routes, with their canary
	// and monitors.
	servicesDeployed(t, ctx, client, cp.Kubeconfig())
	credentials := plantCredentials(t, ctx, client)

	// The simulated nodes run pods, and the real scheduler spreads replicas
	// over the zones, as every platform workload will ask it to.
	probeSpread(t, ctx, client)

	// A killed run leaves its lock; the next run clears it and changes nothing.
	lockDir := filepath.Join(state, ".pulumi", "locks", "organization", "cloudscale", "local")
	require.NoError(t, os.MkdirAll(lockDir, 0o755))
	host, _ := os.Hostname()
	require.NoError(t, os.WriteFile(filepath.Join(lockDir, "killed.json"),
		[]byte(`{"pid":`+strconv.Itoa(deadPID(t))+`,"username":"ci","hostname":"`+host+`","timestamp":"2026-11-27T00:00:00Z"}`), 0o644))
	second := op(engine.Up)
	assert.Zero(t, second.Changes["create"]+second.Changes["update"]+second.Changes["replace"]+second.Changes["delete"], out.String())
	assert.Contains(t, out.String(), "removed a stale lock")
	notExported(t, ctx, project, credentials)

	op(engine.Destroy)
	_, err = client.StorageV1().StorageClasses().Get(ctx, "cloudscale-encrypted", metav1.GetOptions{})
	assert.True(t, err != nil, "destroy leaves no storage class")
	require.Eventually(t, func() bool {
		_, err := client.CoreV1().Namespaces().Get(ctx, "cloudscale", metav1.GetOptions{})
		return err != nil
	}, 60*time.Second, time.Second, "the namespace is gone after destroy")
}

func tiersDeployed(t *testing.T, ctx context.Context, client *kubernetes.Clientset, kubeconfig string) {
	t.Helper()
	for _, name := range []string{"ingress-gateway"} {
		d, err := client.AppsV1().Deployments("istio-ingress").Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, name)
		assert.Equal(t, int32(3), d.Status.ReadyReplicas, "%s ready replicas", name)
	}
	pods, err := client.CoreV1().Pods("istio-ingress").List(ctx, metav1.ListOptions{LabelSelector: "istio=ingressgateway"})
	require.NoError(t, err)
	nodes := map[string]bool{}
	for _, p := range pods.Items {
		assert.Equal(t, corev1.PodRunning, p.Status.Phase, p.Name)
		assert.Equal(t, "gateway", p.Annotations["inject.istio.io/templates"])
		nodes[p.Spec.NodeName] = true
	}
	assert.Len(t, nodes, 3, "three gateway replicas on three hosts")
	svc, err := client.CoreV1().Services("istio-ingress").Get(ctx, "ingress-gateway", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "gateway", svc.Labels["cloudscale.io/role"])

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	get := func(group, version, resource, ns, name string) *unstructured.Unstructured {
		t.Helper()
		obj, err := dyn.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: resource}).
			Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, "%s/%s %s/%s", group, resource, ns, name)
		return obj
	}
	gw := get("networking.istio.io", "v1", "gateways", "istio-ingress", "main-gateway")
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	require.Len(t, servers, 1)
	tls := servers[0].(map[string]any)["tls"].(map[string]any)
	assert.Equal(t, "TLSV1_3", tls["minProtocolVersion"])
	assert.Equal(t, "production-cert", tls["credentialName"])
	pa := get("security.istio.io", "v1", "peerauthentications", "istio-system", "default")
	mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode")
	assert.Equal(t, "STRICT", mode)
	get("networking.istio.io", "v1alpha3", "envoyfilters", "istio-ingress", "main-gateway-local-ratelimit")
	get("cert-manager.io", "v1", "certificates", "istio-ingress", "production-cert")
	get("cert-manager.io", "v1", "clusterissuers", "", "cloudscale")
	get("external-secrets.io", "v1", "externalsecrets", "istio-ingress", "gateway-api-keys")
	get("external-secrets.io", "v1", "clustersecretstores", "", "vault")
	// The API server checks the platform's objects against the operators'
	// own schemas (CRDs generated from their Go API types): a Certificate
	// without an issuer is refused.
	certificates := dyn.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}).Namespace("istio-ingress")
	_, err = certificates.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
		"metadata": map[string]any{"name": "no-issuer", "namespace": "istio-ingress"},
		"spec":     map[string]any{"secretName": "no-issuer"},
	}}, metav1.CreateOptions{})
	require.Error(t, err, "a Certificate without issuerRef")
	assert.Contains(t, err.Error(), "spec.issuerRef: Required value")
	mesh, err := client.CoreV1().ConfigMaps("istio-system").Get(ctx, "istio", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, mesh.Data["mesh"], "REGISTRY_ONLY")

	// The chaos tier: the stack's Schedule accepted under Chaos Mesh's own
	// schema (every kind defined, for a controller to act on), the SLO gate
	// running, the application namespaces open to injection.
	sched := get("chaos-mesh.org", "v1alpha1", "schedules", "chaos", "cloudscale-resilience")
	policy, _, _ := unstructured.NestedString(sched.Object, "spec", "concurrencyPolicy")
	assert.Equal(t, "Forbid", policy)
	templates, _, _ := unstructured.NestedSlice(sched.Object, "spec", "workflow", "templates")
	assert.NotEmpty(t, templates, "the workflow's templates survive the schema (nothing pruned)")
	for _, kind := range []string{"podchaos", "networkchaos", "stresschaos", "dnschaos", "workflows", "workflownodes", "statuschecks"} {
		_, err := dyn.Resource(schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: kind}).Namespace("chaos").
			List(ctx, metav1.ListOptions{})
		assert.NoError(t, err, "chaos-mesh.org %s is served", kind)
	}
	gate, err := client.AppsV1().Deployments("chaos").Get(ctx, "slo-gate", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(3), gate.Status.ReadyReplicas)
	app, err := client.CoreV1().Namespaces().Get(ctx, "cloudscale", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "enabled", app.Annotations["chaos-mesh.org/inject"])
}

func probeSpread(t *testing.T, ctx context.Context, client *kubernetes.Clientset) {
	t.Helper()
	labels := map[string]string{"app": "spread-probe"}
	replicas := int32(6)
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-probe"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	defer func() { _ = client.CoreV1().Namespaces().Delete(ctx, "e2e-probe", metav1.DeleteOptions{}) }()
	_, err = client.AppsV1().Deployments("e2e-probe").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "probe", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
					}},
				},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	zones := map[string]int{}
	require.Eventually(t, func() bool {
		pods, err := client.CoreV1().Pods("e2e-probe").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		zoneOf := map[string]string{}
		for _, n := range nodes.Items {
			zoneOf[n.Name] = n.Labels["topology.kubernetes.io/zone"]
		}
		running := 0
		clear(zones)
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
				zones[zoneOf[p.Spec.NodeName]]++
			}
		}
		return running == 6
	}, 90*time.Second, time.Second, "6 probe pods Running")
	assert.Equal(t, map[string]int{"zone-a": 2, "zone-b": 2, "zone-c": 2}, zones)
}

func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	require.NoError(t, err)
	_, err = p.Wait()
	require.NoError(t, err)
	return p.Pid
}
