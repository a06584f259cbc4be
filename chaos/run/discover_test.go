package run

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/chaos/spof"
)

// Discover analyses what the API server holds: the platform's web as
// deployed (it survives every domain) and a copy pinned to one zone (a
// zone spof), with their budgets and Services; status and server-set
// metadata do not reach the analysis, and other namespaces are not read.
func TestDiscoverAnalysesLiveObjects(t *testing.T) {
	var web appsv1.Deployment
	require.NoError(t, yaml.Unmarshal([]byte(webDeployment), &web))
	web.ResourceVersion, web.UID = "42", "uid-web"
	web.Status.ReadyReplicas = 3
	pinned := web.DeepCopy()
	pinned.Name, pinned.UID = "pinned", "uid-pinned"
	labels := map[string]string{"app": "pinned"}
	pinned.Labels, pinned.Spec.Selector.MatchLabels, pinned.Spec.Template.Labels = labels, labels, labels
	pinned.Spec.Template.Spec.TopologySpreadConstraints, pinned.Spec.Template.Spec.Affinity = nil, nil
	pinned.Spec.Template.Spec.NodeSelector = map[string]string{corev1.LabelTopologyZone: "zone-a"}
	elsewhere := web.DeepCopy()
	elsewhere.Namespace = "other"
	one := intstr.FromInt32(1)
	kube := fake.NewClientset(&web, pinned, elsewhere,
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "cloudscale"},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "cloudscale"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}})

	g, rep, err := Discover(context.Background(), kube, []string{"cloudscale"}, "staging", spof.Topology{Zones: 3, Nodes: 6})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Components, "the other namespace is not read")
	for _, r := range g.Resources {
		_, hasStatus := r.Inputs["status"]
		assert.False(t, hasStatus, r.URN)
		md, _ := r.Inputs["metadata"].(map[string]any)
		assert.NotContains(t, md, "resourceVersion", r.URN)
		assert.NotContains(t, md, "uid", r.URN)
	}
	types := g.Types()
	assert.Equal(t, 2, types["kubernetes:apps/v1:Deployment"])
	assert.Equal(t, 1, types["kubernetes:policy/v1:PodDisruptionBudget"])
	assert.Equal(t, 1, types["kubernetes:core/v1:Service"])
	for _, d := range []spof.Domain{spof.Pod, spof.Node, spof.Zone, spof.Drain} {
		assert.Equal(t, spof.Survives, rep.Verdict("cloudscale", "web", d), "web %s", d)
	}
	assert.Equal(t, spof.SPOF, rep.Verdict("cloudscale", "pinned", spof.Zone))

	comps := Components(rep, []string{"cloudscale"})
	require.Len(t, comps, 2)
	assert.Equal(t, "cloudscale/pinned", comps[0].Key())
	assert.Equal(t, 2, comps[0].Weight, "in the request path")
	assert.Equal(t, "spof", comps[0].Predicted["zone"])
	assert.NotEmpty(t, comps[0].Reasons["zone"])
	assert.Equal(t, "survives", comps[1].Predicted["zone"])
}
