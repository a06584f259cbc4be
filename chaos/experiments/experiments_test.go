package experiments

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph/load"
)

// shop is a small stack: web (3, spread over zones, a budget) calls api
// (1 replica: a single point of failure), and etcd is a quorum of 3.
const shop = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.example.com/web:1.0"}]
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: api}}}]
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}, podSelector: {matchLabels: {app.kubernetes.io/name: etcd}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: "registry.example.com/api:1.0"}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: etcd, namespace: shop}
spec:
  replicas: 3
  serviceName: etcd
  selector: {matchLabels: {app.kubernetes.io/name: etcd}}
  template:
    metadata: {labels: {app.kubernetes.io/name: etcd}}
    spec:
      containers: [{name: etcd, image: "registry.k8s.io/etcd:3.5.21-0"}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app.kubernetes.io/name: etcd}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: etcd, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app.kubernetes.io/name: etcd}}}
`

var zones = []string{"zone-a", "zone-b", "zone-c"}

func plan(t *testing.T, daemon bool) *Plan {
	t.Helper()
	file := filepath.Join(t.TempDir(), "shop.yaml")
	require.NoError(t, os.WriteFile(file, []byte(shop), 0o600))
	g, err := load.Manifests(file)
	require.NoError(t, err)
	rep, err := spof.Analyze(g, "prod", spof.Topology{Zones: 3, Nodes: 6})
	require.NoError(t, err)
	p, err := New(g, rep, DefaultConfig("prod", zones, []string{"shop"}, daemon))
	require.NoError(t, err)
	return p
}

func byName(p *Plan) map[string]Experiment {
	out := map[string]Experiment{}
	for _, e := range p.Experiments {
		out[e.Name] = e
	}
	return out
}

func TestCatalogue(t *testing.T) {
	p := plan(t, true)
	es := byName(p)
	cases := []struct {
		name      string
		fault     Fault
		predicted spof.Verdict
		scheduled bool
		mode      chaosv1alpha1.SelectorMode
		value     string
		targets   []string
	}{
		{"web-pod-kill", PodKill, spof.Survives, true, chaosv1alpha1.OneMode, "", []string{"shop/Deployment/web"}},
		{"api-pod-kill", PodKill, spof.SPOF, false, chaosv1alpha1.OneMode, "", []string{"shop/Deployment/api"}},
		{"etcd-pod-kill-all-but-quorum", PodKillAllButQuorum, spof.Survives, true, chaosv1alpha1.FixedMode, "1", []string{"shop/StatefulSet/etcd"}},
		{"web-node-loss", NodeLoss, spof.Survives, false, chaosv1alpha1.AllMode, "", []string{"shop/Deployment/web"}},
		{"web-zone-outage-zone-b", ZoneOutage, spof.Survives, true, chaosv1alpha1.AllMode, "", []string{"shop/Deployment/web"}},
		{"zone-outage-zone-a", ZoneOutage, spof.SPOF, false, chaosv1alpha1.AllMode, "", []string{"shop/Deployment/api", "shop/Deployment/web", "shop/StatefulSet/etcd"}},
		{"web-partition-api", NetworkPartition, spof.Degraded, true, chaosv1alpha1.AllMode, "", []string{"shop/Deployment/web", "shop/Deployment/api"}},
		{"web-partition-etcd", NetworkPartition, spof.Degraded, true, chaosv1alpha1.AllMode, "", []string{"shop/Deployment/web", "shop/StatefulSet/etcd"}},
		{"web-cpu-stress", CPUStress, spof.Survives, true, chaosv1alpha1.OneMode, "", []string{"shop/Deployment/web"}},
		{"web-dns-failure", DNSFailure, spof.Survives, true, chaosv1alpha1.OneMode, "", []string{"shop/Deployment/web"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := es[tc.name]
			require.True(t, ok, "no experiment %s", tc.name)
			assert.Equal(t, tc.fault, e.Fault)
			assert.Equal(t, tc.predicted, e.Predicted)
			assert.Equal(t, tc.scheduled, e.Scheduled, e.Why)
			assert.Equal(t, tc.mode, e.Selector.Mode)
			assert.Equal(t, tc.value, e.Selector.Value)
			assert.Equal(t, tc.targets, e.Targets)
			assert.NotEmpty(t, e.Hypothesis)
			assert.NotEmpty(t, e.BlastRadius)
		})
	}
	// One zone outage per zone, selected by the zone's nodes.
	for _, z := range zones {
		e := es["zone-outage-"+z]
		assert.Equal(t, map[string]string{"topology.kubernetes.io/zone": z}, e.Selector.Selector.NodeSelectors)
		assert.Equal(t, chaosv1alpha1.PodFailureAction, e.Chaos.PodChaos.Action)
	}
	assert.Equal(t, map[string]string{"app": "api"}, es["web-partition-api"].Chaos.NetworkChaos.Target.Selector.LabelSelectors)
	assert.Nil(t, es["web-node-loss"].Chaos, "Chaos Mesh has no node-loss kind")
	// A DaemonSet-free stack without chaos-daemon schedules no in-container fault.
	for _, e := range plan(t, false).Experiments {
		if e.NeedsDaemon {
			assert.False(t, e.Scheduled, e.Name)
			assert.Contains(t, e.Why, "chaos-daemon")
		}
	}
}

// The Schedule and every Workflow pass Chaos Mesh's own admission
// validation, forbid concurrency, and guard every fault with a continuous
// status check that aborts.
func TestObjectsPassChaosMeshValidation(t *testing.T) {
	p := plan(t, true)
	s := p.Schedule()
	require.NotNil(t, s)
	assert.Equal(t, chaosv1alpha1.ForbidConcurrent, s.Spec.ConcurrencyPolicy)
	assert.Equal(t, 5, s.Spec.HistoryLimit)
	assert.Equal(t, DefaultSchedule, s.Spec.Schedule)
	require.NoError(t, s.Default(context.Background(), s))
	_, err := s.ValidateCreate(context.Background(), s)
	require.NoError(t, err)
	guarded(t, s.Spec.Workflow.Templates)

	for _, e := range p.Experiments {
		if e.Chaos == nil {
			_, err := p.Workflow(e)
			assert.Error(t, err)
			continue
		}
		w, err := p.Workflow(e)
		require.NoError(t, err)
		require.NoError(t, w.Default(context.Background(), w))
		_, err = w.ValidateCreate(context.Background(), w)
		require.NoError(t, err, e.Name)
		guarded(t, w.Spec.Templates)
	}
}

// guarded checks that every chaos template runs beside a continuous
// status check with abortWithStatusCheck, and that names are unique.
func guarded(t *testing.T, templates []chaosv1alpha1.Template) {
	t.Helper()
	byName := map[string]chaosv1alpha1.Template{}
	for _, tm := range templates {
		_, dup := byName[tm.Name]
		require.False(t, dup, "template %s twice", tm.Name)
		byName[tm.Name] = tm
	}
	faults := 0
	for _, tm := range templates {
		if tm.EmbedChaos == nil {
			continue
		}
		faults++
		found := false
		for _, par := range templates {
			if par.Type != chaosv1alpha1.TypeParallel {
				continue
			}
			for _, c := range par.Children {
				if c != tm.Name {
					continue
				}
				for _, sib := range par.Children {
					chk := byName[sib]
					found = found || (chk.Type == chaosv1alpha1.TypeStatusCheck && chk.AbortWithStatusCheck && chk.StatusCheck.Mode == chaosv1alpha1.StatusCheckContinuous)
				}
			}
		}
		assert.True(t, found, "fault %s has no aborting status check beside it", tm.Name)
	}
	assert.Positive(t, faults)
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name, schedule string
		business       bool
		err            string
	}{
		{"weekdays at ten", "0 10 * * 1-5", true, ""},
		{"every half hour in office hours", "*/30 9-16 * * MON-FRI", true, ""},
		{"at night in prod", "0 22 * * 1-5", true, "fires at 22:00, outside 09:00-17:00"},
		{"at night in dev", "0 22 * * *", false, ""},
		{"not cron", "every day", false, `chaos.schedule "every day"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig("prod", zones, []string{"shop"}, true)
			c.Schedule, c.BusinessHoursOnly = tc.schedule, tc.business
			err := c.Validate()
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
	c := DefaultConfig("dev", zones, nil, false)
	c.HistoryLimit, c.Duration = 0, "soon"
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{"chaos.historyLimit 0", `chaos.duration "soon"`} {
		assert.True(t, strings.Contains(err.Error(), want), "%v lacks %s", err, want)
	}
}
