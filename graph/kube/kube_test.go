package kube

import (
	"testing"

	"github.com/stretchr/testify/assert"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The disruption controller's arithmetic (pkg/controller/disruption).
func TestDisruptionsAllowed(t *testing.T) {
	i := func(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }
	p := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	cases := []struct {
		name              string
		spec              policyv1.PodDisruptionBudgetSpec
		expected, healthy int32
		want              int32
		err               string
	}{
		{"maxUnavailable 1", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: i(1)}, 3, 3, 1, ""},
		{"maxUnavailable 0", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: i(0)}, 3, 3, 0, ""},
		{"maxUnavailable 10% of 3 rounds up to 1", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: p("10%")}, 3, 3, 1, ""},
		{"maxUnavailable 100%", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: p("100%")}, 3, 3, 3, ""},
		{"minAvailable equal to replicas", policyv1.PodDisruptionBudgetSpec{MinAvailable: i(3)}, 3, 3, 0, ""},
		{"minAvailable 50% of 3 rounds up to 2", policyv1.PodDisruptionBudgetSpec{MinAvailable: p("50%")}, 3, 3, 1, ""},
		{"minAvailable above replicas", policyv1.PodDisruptionBudgetSpec{MinAvailable: i(5)}, 3, 3, 0, ""},
		{"neither bound: expects nothing, allows nothing", policyv1.PodDisruptionBudgetSpec{}, 3, 3, 0, ""},
		{"Pending pods are not healthy", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: i(1)}, 5, 3, 0, ""},
		{"nothing expected", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: i(1)}, 0, 0, 0, ""},
		{"a number as a string", policyv1.PodDisruptionBudgetSpec{MinAvailable: p("1")}, 3, 3, 0, `minAvailable "1": want an integer or a percentage`},
		{"over 100%", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: p("150%")}, 3, 3, 0, "maxUnavailable 150%: want a non-negative integer or a percentage up to 100%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DisruptionsAllowed(tc.spec, tc.expected, tc.healthy)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestKindAndAutoscalers(t *testing.T) {
	assert.Equal(t, "apps/Deployment", Kind("kubernetes:apps/v1:Deployment"))
	assert.Equal(t, "core/Service", Kind("kubernetes:core/v1:Service"))
	assert.Equal(t, "", Kind("aws:eks/nodeGroup:NodeGroup"))
	hpa := map[string]any{"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec": map[string]any{"scaleTargetRef": map[string]any{"kind": "Deployment", "name": "web"}}}
	target, floor, ok := AutoscalerTarget("autoscaling/HorizontalPodAutoscaler", hpa)
	assert.True(t, ok)
	assert.Equal(t, Ref{"shop", "Deployment", "web"}, target)
	assert.Equal(t, int32(1), floor, "minReplicas defaults to 1")
	so := map[string]any{"metadata": map[string]any{"name": "web"}, "spec": map[string]any{"scaleTargetRef": map[string]any{"name": "web"}}}
	target, floor, ok = AutoscalerTarget("keda.sh/ScaledObject", so)
	assert.True(t, ok)
	assert.Equal(t, Ref{"default", "Deployment", "web"}, target)
	assert.Equal(t, int32(0), floor, "minReplicaCount defaults to 0")
}
