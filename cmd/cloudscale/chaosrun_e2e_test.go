package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudscale/platform/chaos/report"
	chaosrun "github.com/cloudscale/platform/chaos/run"
	"github.com/cloudscale/platform/cmd/cloudscale/engine"
	"github.com/cloudscale/platform/infra/local/controlplane"
	"github.com/cloudscale/platform/stacks"
)

// syncBuffer is a progress writer the runner and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestChaosRunOnTheSimulatedCluster is the resilience proof on the local
// default, for real: a fresh simulated control plane with the genuine
// Chaos Mesh controller, the local stack deployed by the Pulumi engine, a
// zone outage and a zone drain that every platform workload holds, a pod
// kill executed by the controller, a weakened copy of a workload shown
// breached as predicted, and an interrupted run that leaves nothing behind.
func TestChaosRunOnTheSimulatedCluster(t *testing.T) {
	project, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := engine.BinDir(project)
	for _, tool := range []string{"pulumi", "pulumi-resource-kubernetes", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "etcd", controlplane.ChaosControllerBinary} {
		_, err := os.Stat(filepath.Join(bin, tool))
		require.NoError(t, err, "%s is missing: run `make tools` (the README's `make test` does)", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	var log syncBuffer
	// One simulated cluster at a time on this machine (see Exclusive).
	release, err := controlplane.Exclusive(controlplane.ExclusiveLock())
	require.NoError(t, err)
	t.Cleanup(release)
	cp := controlplane.New(filepath.Join(t.TempDir(), "cluster"), bin, &log)
	cp.Ports = controlplane.DefaultPorts.Offset(200) // beside a developer's cluster and the stacks e2e test's
	require.True(t, cp.ChaosMesh, "New runs the Chaos Mesh controller when it is built")
	t.Cleanup(func() { assert.NoError(t, cp.Stop()) })
	require.NoError(t, cp.Start(ctx, true), log.String())

	t.Setenv("PULUMI_BACKEND_URL", "file://"+t.TempDir())
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "")
	var out bytes.Buffer
	_, err = engine.Run(ctx, engine.Request{Op: engine.Up, Stack: "local", ProjectDir: project, Out: &out,
		Program: stacks.Program(stacks.Options{Kubeconfig: cp.Kubeconfig(), StacksDir: project + "/stacks"})})
	require.NoError(t, err, out.String())

	s, err := loadStack(project, "local")
	require.NoError(t, err)
	kube, c, err := clients(cp.Kubeconfig())
	require.NoError(t, err)

	// The API server enforces Chaos Mesh's own validation through the
	// controller's webhook: a fixed-mode PodChaos without a value is refused.
	bad := &chaosv1alpha1.PodChaos{
		ObjectMeta: metav1.ObjectMeta{Name: "no-value", Namespace: "chaos"},
		Spec: chaosv1alpha1.PodChaosSpec{Action: chaosv1alpha1.PodKillAction, ContainerSelector: chaosv1alpha1.ContainerSelector{
			PodSelector: chaosv1alpha1.PodSelector{Mode: chaosv1alpha1.FixedMode, Selector: chaosv1alpha1.PodSelectorSpec{
				GenericSelectorSpec: chaosv1alpha1.GenericSelectorSpec{Namespaces: []string{"istio-ingress"}}}}}},
	}
	err = c.Create(ctx, bad)
	require.Error(t, err, "the webhook refuses a PodChaos Chaos Mesh calls invalid")
	assert.Contains(t, err.Error(), "admission webhook")

	runWith := func(t *testing.T, ctx context.Context, set func(*chaosrun.Options)) (*report.Run, *report.Report, string, error) {
		t.Helper()
		o, err := runOptions(s, kube, c, cp.Kubeconfig())
		require.NoError(t, err)
		progress := &syncBuffer{}
		o.Dir, o.Progress, o.FaultDuration, o.RecoveryLimit = t.TempDir(), progress, 30*time.Second, 90*time.Second
		if testing.Verbose() {
			o.Progress = io.MultiWriter(progress, os.Stderr)
		}
		set(&o)
		run, err := chaosrun.Execute(ctx, o)
		require.NotNil(t, run, progress.String())
		saved, lerr := report.Load(o.Dir)
		require.NoError(t, lerr)
		assert.Equal(t, len(run.Experiments), len(saved.Experiments), "the record on disk is the run's")
		return run, report.Judge(run), progress.String(), err
	}

	t.Run("zone outage and drain: every platform workload holds", func(t *testing.T) {
		run, rep, progress, err := runWith(t, ctx, func(o *chaosrun.Options) {
			o.Domains, o.Zones = []string{"zone", "drain"}, []string{"zone-a"}
		})
		require.NoError(t, err, progress)
		require.Len(t, run.Experiments, 2, progress)
		for _, e := range run.Experiments {
			assert.Equal(t, report.Ran, e.Status, "%s: %s", e.Name, e.Error)
			assert.Positive(t, e.Injected, "%s hit pods", e.Name)
		}
		assert.Empty(t, run.Experiments[1].Blocked, "no PodDisruptionBudget blocks a one-zone drain")
		assert.False(t, rep.Failed(), "%v\n%s", rep.Findings, progress)
		components := map[string]bool{}
		for _, p := range rep.Pairs {
			components[p.Component] = true
			assert.Equal(t, report.VerdictHeld, p.Verdict, "%s %s: %s", p.Component, p.Domain, p.Reason)
			assert.GreaterOrEqual(t, p.MinReady, p.Needed, "%s %s", p.Component, p.Domain)
			assert.Less(t, p.MinReady, p.Replicas, "%s %s: the fault took a replica", p.Component, p.Domain)
			assert.Equal(t, report.MatchConfirmed, p.Match, "%s %s", p.Component, p.Domain)
		}
		assert.True(t, components["istio-ingress/ingress-gateway"] && components["chaos/slo-gate"], "%v", components)
		require.NotNil(t, rep.Summary.Score)
		assert.InDelta(t, 100, *rep.Summary.Score, 0.01)
	})

	t.Run("pod kill executed by the Chaos Mesh controller", func(t *testing.T) {
		run, rep, progress, err := runWith(t, ctx, func(o *chaosrun.Options) { o.Experiment = "ingress-gateway-pod-kill" })
		require.NoError(t, err, progress)
		require.Len(t, run.Experiments, 1)
		e := run.Experiments[0]
		assert.Equal(t, report.Ran, e.Status, e.Error)
		assert.Equal(t, 1, e.Injected, "PodChaos mode one: one pod, from the controller's records")
		require.Len(t, e.Targets, 1)
		assert.True(t, strings.HasPrefix(e.Targets[0], "istio-ingress/ingress-gateway-"), e.Targets[0])
		assert.False(t, e.Aborted)
		assert.NotEmpty(t, e.StatusChecks, "the workflow's StatusChecks asked the SLO gate")
		for _, r := range e.StatusChecks {
			assert.Equal(t, "Success", r.Outcome, r.Check)
		}
		p, ok := rep.Pair("istio-ingress/ingress-gateway", "pod")
		require.True(t, ok)
		assert.Equal(t, report.VerdictHeld, p.Verdict, p.Reason)
		assert.Equal(t, 1, p.Injected)
	})

	t.Run("a weakened copy breaches, as predicted", func(t *testing.T) {
		weakenedCopy(t, ctx, kube)
		run, rep, progress, err := runWith(t, ctx, func(o *chaosrun.Options) {
			o.Domains, o.Zones = []string{"zone"}, []string{"zone-a"}
		})
		require.NoError(t, err, progress)
		require.Len(t, run.Experiments, 1)
		p, ok := rep.Pair("istio-ingress/weak-gateway", "zone")
		require.True(t, ok, "%+v", rep.Pairs)
		assert.Equal(t, report.VerdictBreached, p.Verdict, p.Reason)
		assert.Zero(t, p.MinReady)
		assert.Equal(t, "spof", p.Predicted, "the analysis of the live objects predicts it")
		assert.Equal(t, report.MatchConfirmed, p.Match)
		held, ok := rep.Pair("istio-ingress/ingress-gateway", "zone")
		require.True(t, ok)
		assert.Equal(t, report.VerdictHeld, held.Verdict)
		assert.True(t, rep.Failed())
		require.NoError(t, kube.AppsV1().Deployments("istio-ingress").Delete(ctx, "weak-gateway", metav1.DeleteOptions{}))
	})

	t.Run("an interrupted zone outage leaves nothing behind", func(t *testing.T) {
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			// Interrupt once the zone's nodes are lost (as Ctrl-C would).
			for rctx.Err() == nil {
				nodes, err := kube.CoreV1().Nodes().List(rctx, metav1.ListOptions{})
				if err == nil && lost(nodes.Items) > 0 {
					stop()
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
		run, _, progress, err := runWith(t, rctx, func(o *chaosrun.Options) {
			o.Domains, o.Zones = []string{"zone"}, []string{"zone-b"}
		})
		require.ErrorIs(t, err, context.Canceled, progress)
		assert.True(t, run.Interrupted)
		require.Len(t, run.Experiments, 1)
		assert.Equal(t, report.Failed, run.Experiments[0].Status)
		assertClean(t, ctx, kube, c)

		// A run killed outright cleans nothing: the next `cluster status`
		// (or run) does, stuck finalizers included.
		require.NoError(t, patchNodeLost(ctx, kube, "sim-zone-c-1"))
		wf := &chaosv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Name: chaosrun.WorkflowPrefix + "killed-run-000000", Namespace: "chaos",
				Labels: map[string]string{chaosrun.RunLabel: "000000"}, Finalizers: []string{"cloudscale.io/test-stuck"}},
			Spec: chaosv1alpha1.WorkflowSpec{Entry: "pause", Templates: []chaosv1alpha1.Template{{Name: "pause", Type: chaosv1alpha1.TypeSuspend, Deadline: ptr("1h")}}},
		}
		require.NoError(t, c.Create(ctx, wf))
		var status bytes.Buffer
		require.NoError(t, cleanLeftovers(ctx, cp, &status))
		assert.Contains(t, status.String(), "restored nodes sim-zone-c-1")
		assert.Contains(t, status.String(), "removed stuck finalizers of")
		assert.Contains(t, status.String(), "Workflow/"+wf.Name)
		assertClean(t, ctx, kube, c)
	})
}

func ptr[T any](v T) *T { return &v }

func lost(nodes []corev1.Node) int {
	n := 0
	for _, node := range nodes {
		if _, ok := node.Annotations[chaosrun.LostAnnotation]; ok {
			n++
		}
	}
	return n
}

func patchNodeLost(ctx context.Context, kube kubernetes.Interface, name string) error {
	n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	n.Annotations[chaosrun.LostAnnotation] = "killed"
	delete(n.Labels, controlplane.KubeletLabel)
	_, err = kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	return err
}

// assertClean: no node lost or cordoned, and no chaos object of a run.
func assertClean(t *testing.T, ctx context.Context, kube kubernetes.Interface, c client.Client) {
	t.Helper()
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, n := range nodes.Items {
		assert.NotContains(t, n.Annotations, chaosrun.LostAnnotation, n.Name)
		assert.NotContains(t, n.Annotations, chaosrun.CordonAnnotation, n.Name)
		assert.False(t, n.Spec.Unschedulable, n.Name)
		assert.Equal(t, controlplane.KubeletValue, n.Labels[controlplane.KubeletLabel], n.Name)
	}
	var wfs chaosv1alpha1.WorkflowList
	require.NoError(t, c.List(ctx, &wfs, client.InNamespace("chaos")))
	var kills chaosv1alpha1.PodChaosList
	require.NoError(t, c.List(ctx, &kills, client.InNamespace("chaos")))
	for _, w := range wfs.Items {
		assert.False(t, strings.HasPrefix(w.Name, chaosrun.WorkflowPrefix), "workflow %s left", w.Name)
	}
	assert.Empty(t, kills.Items)
}

// weakenedCopy copies the ingress gateway's Deployment as weak-gateway,
// pinned to zone-a: the same hardened pods, all in one zone.
func weakenedCopy(t *testing.T, ctx context.Context, kube kubernetes.Interface) {
	t.Helper()
	src, err := kube.AppsV1().Deployments("istio-ingress").Get(ctx, "ingress-gateway", metav1.GetOptions{})
	require.NoError(t, err)
	labels := map[string]string{"app.kubernetes.io/name": "weak-gateway", "app.kubernetes.io/part-of": "cloudscale"}
	tmpl := *src.Spec.Template.DeepCopy()
	tmpl.Labels = labels
	tmpl.Spec.TopologySpreadConstraints = nil
	tmpl.Spec.Affinity = nil
	tmpl.Spec.NodeSelector = map[string]string{corev1.LabelTopologyZone: "zone-a"}
	replicas := int32(2)
	_, err = kube.AppsV1().Deployments("istio-ingress").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "weak-gateway", Labels: labels},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		d, err := kube.AppsV1().Deployments("istio-ingress").Get(ctx, "weak-gateway", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 2
	}, 60*time.Second, 500*time.Millisecond, "the weakened copy runs")
}
