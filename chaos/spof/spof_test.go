package spof

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/load"
)

// deployment is a Deployment of app with replicas (omitted when 0) and
// pod spec lines (indented under spec.template.spec).
func deployment(app string, replicas int, podSpec string) string {
	r := ""
	if replicas > 0 {
		r = "  replicas: " + strconv.Itoa(replicas) + "\n"
	}
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + app + `, namespace: shop}
spec:
` + r + `  selector: {matchLabels: {app: ` + app + `}}
  template:
    metadata: {labels: {app: ` + app + `}}
    spec:
      containers: [{name: c, image: "registry.example.com/` + app + `:1.0"}]
` + indent(podSpec, "      ")
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

const zoneSpread = `topologySpreadConstraints:
- {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: APP}}}
`

func spreadFor(app string) string { return strings.ReplaceAll(zoneSpread, "APP", app) }

func pdb(app, field, value string) string {
	return `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: ` + app + `, namespace: shop}
spec:
  ` + field + `: ` + value + `
  selector: {matchLabels: {app: ` + app + `}}
`
}

// want is a component's expected verdict per domain ("" skips a domain).
type want map[Domain]Verdict

func TestAnalyzeShapes(t *testing.T) {
	all := func(v Verdict) want { return want{Pod: v, Node: v, Zone: v, Drain: v} }
	cases := []struct {
		name  string
		docs  []string
		wants map[string]want
		// reasons are substrings the finding of "component/domain" gives.
		reasons map[string]string
		remain  map[string]int
	}{
		{
			name:    "zone spread DoNotSchedule with a budget of one survives everything",
			docs:    []string{deployment("web", 3, spreadFor("web")), pdb("web", "maxUnavailable", "1")},
			wants:   map[string]want{"web": all(Survives)},
			reasons: map[string]string{"web/zone": "topologySpreadConstraint on topology.kubernetes.io/zone, DoNotSchedule, maxSkew 1"},
			remain:  map[string]int{"web/zone": 2},
		},
		{
			name:    "a Deployment pinned to one zone",
			docs:    []string{deployment("web", 3, spreadFor("web")+"nodeSelector: {topology.kubernetes.io/zone: us-east-1a}\n"), pdb("web", "maxUnavailable", "1")},
			wants:   map[string]want{"web": {Pod: Survives, Zone: SPOF}},
			reasons: map[string]string{"web/zone": "spec.template.spec.nodeSelector pins every replica to topology.kubernetes.io/zone=us-east-1a"},
			remain:  map[string]int{"web/zone": 0},
		},
		{
			name: "hostname-only required anti-affinity survives a node, not a zone",
			docs: []string{deployment("web", 3, `affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}}
`), pdb("web", "maxUnavailable", "1")},
			wants:   map[string]want{"web": {Pod: Survives, Node: Survives, Zone: SPOF}},
			reasons: map[string]string{"web/zone": "nothing keeps the replicas out of one zone", "web/node": "required podAntiAffinity on kubernetes.io/hostname"},
		},
		{
			name: "an HPA floor of 1 is the replica count",
			docs: []string{deployment("web", 3, spreadFor("web")), `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 1, maxReplicas: 10}
`},
			wants:   map[string]want{"web": {Pod: SPOF, Node: SPOF, Zone: SPOF}},
			reasons: map[string]string{"web/pod": "a single replica: losing its pod stops it; set the autoscaler's minReplicas"},
		},
		{
			name: "an HPA floor of 3 with no spec.replicas",
			docs: []string{deployment("web", 0, spreadFor("web")), pdb("web", "maxUnavailable", "1"), `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 3, maxReplicas: 10}
`},
			wants: map[string]want{"web": all(Survives)},
		},
		{
			name:    "a PDB with minAvailable equal to replicas blocks every drain",
			docs:    []string{deployment("web", 3, spreadFor("web")), pdb("web", "minAvailable", "3")},
			wants:   map[string]want{"web": {Zone: Survives, Drain: Degraded}},
			reasons: map[string]string{"web/drain": "PodDisruptionBudget web (minAvailable 3) allows no disruption"},
		},
		{
			name:    "a PDB with maxUnavailable 0% blocks every drain",
			docs:    []string{deployment("web", 3, spreadFor("web")), pdb("web", "maxUnavailable", `"0%"`)},
			wants:   map[string]want{"web": {Drain: Degraded}},
			reasons: map[string]string{"web/drain": "allows no disruption"},
		},
		{
			name: "a two-member quorum system is a single point of failure",
			docs: []string{`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: etcd, namespace: shop}
spec:
  replicas: 2
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
`},
			wants:   map[string]want{"etcd": {Pod: SPOF, Node: SPOF, Zone: SPOF, Quorum: SPOF}},
			reasons: map[string]string{"etcd/quorum": "2 member(s) need 2 for a majority", "etcd/pod": "2 members: losing one leaves 1"},
		},
		{
			name: "an even quorum adds no tolerance",
			docs: []string{`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: zk, namespace: shop}
spec:
  replicas: 4
  serviceName: zk
  selector: {matchLabels: {app: zookeeper}}
  template:
    metadata: {labels: {app: zookeeper}}
    spec:
      containers: [{name: zk, image: "zookeeper:3.9"}]
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: zookeeper}}}
`},
			wants: map[string]want{"zk": {Pod: Survives, Quorum: Degraded, Zone: SPOF}},
		},
		{
			name: "a RabbitmqCluster of three without zone spread",
			docs: []string{`apiVersion: rabbitmq.com/v1beta1
kind: RabbitmqCluster
metadata: {name: events, namespace: shop}
spec: {replicas: 3}
`},
			wants: map[string]want{"events": {Pod: Survives, Node: SPOF, Zone: SPOF, Quorum: Survives}},
			reasons: map[string]string{
				"events/zone": "the topologySpreadConstraint on topology.kubernetes.io/zone is ScheduleAnyway",
				"events/node": "spec.override.statefulSet.spec.template.spec",
			},
		},
		{
			name: "a RabbitmqCluster of three spread over zones by the StatefulSet override",
			docs: []string{`apiVersion: rabbitmq.com/v1beta1
kind: RabbitmqCluster
metadata: {name: events, namespace: shop}
spec:
  replicas: 3
  override:
    statefulSet:
      spec:
        template:
          spec:
            topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app.kubernetes.io/name: events}}}
`, `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: events, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app.kubernetes.io/name: events}}}
`},
			wants:  map[string]want{"events": {Pod: Survives, Node: Survives, Zone: Survives, Drain: Survives, Quorum: Survives}},
			remain: map[string]int{"events/zone": 2},
		},
		{
			name: "a CloudNativePG Cluster of one",
			docs: []string{`apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: orders, namespace: shop}
spec: {instances: 1, storage: {size: 10Gi}}
`},
			wants:   map[string]want{"orders": {Pod: SPOF, Node: SPOF, Zone: SPOF, Drain: Degraded}},
			reasons: map[string]string{"orders/pod": "set spec.instances to 2 or more", "orders/drain": "allows no disruption"},
		},
		{
			name: "a CloudNativePG Cluster of three with its default (preferred) anti-affinity",
			docs: []string{`apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: orders, namespace: shop}
spec: {instances: 3, storage: {size: 10Gi}}
`},
			wants: map[string]want{"orders": {Pod: Survives, Node: SPOF, Zone: SPOF}},
			reasons: map[string]string{
				"orders/node": "the podAntiAffinity on kubernetes.io/hostname is preferred",
				"orders/zone": "set spec.affinity.podAntiAffinityType: required and spec.affinity.topologyKey: topology.kubernetes.io/zone",
			},
		},
		{
			name: "a CloudNativePG Cluster of three with required zone anti-affinity",
			docs: []string{`apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: orders, namespace: shop}
spec:
  instances: 3
  storage: {size: 10Gi}
  affinity: {podAntiAffinityType: required, topologyKey: topology.kubernetes.io/zone}
`},
			wants:  map[string]want{"orders": all(Survives)},
			remain: map[string]int{"orders/zone": 2, "orders/drain": 2},
		},
		{
			name: "CloudNativePG: two required synchronous standbys cannot survive a zone",
			docs: []string{`apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: orders, namespace: shop}
spec:
  instances: 3
  storage: {size: 10Gi}
  affinity: {podAntiAffinityType: required, topologyKey: topology.kubernetes.io/zone}
  postgresql: {synchronous: {method: any, number: 2}}
`},
			wants:   map[string]want{"orders": {Pod: SPOF, Zone: SPOF}},
			reasons: map[string]string{"orders/zone": "the 3 a primary and 2 synchronous standby(s) need"},
		},
		{
			name: "CloudNativePG: preferred data durability degrades instead",
			docs: []string{`apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: orders, namespace: shop}
spec:
  instances: 3
  storage: {size: 10Gi}
  affinity: {podAntiAffinityType: required, topologyKey: topology.kubernetes.io/zone}
  postgresql: {synchronous: {method: any, number: 2, dataDurability: preferred}}
`},
			wants: map[string]want{"orders": {Pod: Degraded, Zone: Degraded, Drain: Degraded}},
		},
		{
			name: "a DaemonSet is per node by design",
			docs: []string{`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: "fluent/fluent-bit:3.2"}]}
`},
			wants:   map[string]want{"agent": all(Survives)},
			reasons: map[string]string{"agent/node": "one pod per node by design"},
		},
		{
			name: "preferred zone anti-affinity guarantees nothing",
			docs: []string{deployment("web", 3, `affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm: {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app: web}}}
`), pdb("web", "maxUnavailable", "1")},
			wants:   map[string]want{"web": {Zone: SPOF, Node: SPOF}},
			reasons: map[string]string{"web/zone": "the podAntiAffinity on topology.kubernetes.io/zone is preferred"},
		},
		{
			name:    "a ScheduleAnyway zone spread guarantees nothing",
			docs:    []string{deployment("web", 3, strings.ReplaceAll(spreadFor("web"), "DoNotSchedule", "ScheduleAnyway")), pdb("web", "maxUnavailable", "1")},
			wants:   map[string]want{"web": {Zone: SPOF}},
			reasons: map[string]string{"web/zone": "is ScheduleAnyway"},
		},
		{
			name:    "a spread constraint that selects other pods guarantees nothing",
			docs:    []string{deployment("cart", 3, spreadFor("api")), pdb("cart", "maxUnavailable", "1")},
			wants:   map[string]want{"cart": {Zone: SPOF, Drain: Survives}},
			reasons: map[string]string{"cart/zone": "does not select the pods' own labels"},
		},
		{
			name: "a bare Pod, and the Service that goes dark with it",
			docs: []string{`apiVersion: v1
kind: Pod
metadata: {name: lonely, namespace: shop, labels: {app: lonely}}
spec: {containers: [{name: c, image: "registry.example.com/lonely:1.0"}]}
`, `apiVersion: v1
kind: Service
metadata: {name: lonely, namespace: shop}
spec: {selector: {app: lonely}, ports: [{port: 80}]}
`},
			wants:   map[string]want{"lonely": all(SPOF)},
			reasons: map[string]string{"lonely/pod": "a bare Pod: nothing recreates it"},
		},
		{
			name: "a budget that lets a quorum lose its majority in one drain",
			docs: []string{`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: vault, namespace: shop}
spec:
  replicas: 3
  serviceName: vault
  selector: {matchLabels: {app.kubernetes.io/name: vault}}
  template:
    metadata: {labels: {app.kubernetes.io/name: vault}}
    spec:
      containers: [{name: vault, image: "hashicorp/vault:1.20.0"}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app.kubernetes.io/name: vault}}}
`, `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: vault, namespace: shop}
spec: {maxUnavailable: 2, selector: {matchLabels: {app.kubernetes.io/name: vault}}}
`},
			wants:   map[string]want{"vault": {Pod: Survives, Node: Survives, Zone: SPOF, Drain: SPOF, Quorum: Survives}},
			reasons: map[string]string{"vault/drain": "allows 2 disruptions at once and one zone holds 3: a drain leaves 1, fewer than the 2 a majority of 3 members needs; lower the budget to 1"},
		},
		{
			name: "a budget looser than a spread quorum can lose is reported",
			docs: []string{`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: vault, namespace: shop}
spec:
  replicas: 3
  serviceName: vault
  selector: {matchLabels: {app.kubernetes.io/name: vault}}
  template:
    metadata: {labels: {app.kubernetes.io/name: vault}}
    spec:
      containers: [{name: vault, image: "hashicorp/vault:1.20.0"}]
` + indent(strings.ReplaceAll(zoneSpread, "{app: APP}", "{app.kubernetes.io/name: vault}"), "      "), `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: vault, namespace: shop}
spec: {maxUnavailable: "100%", selector: {matchLabels: {app.kubernetes.io/name: vault}}}
`},
			wants:   map[string]want{"vault": {Zone: Survives, Drain: Degraded}},
			reasons: map[string]string{"vault/drain": "allows 3 disruptions at once, more than the 1 the component can lose"},
		},
		{
			name: "required node affinity on one zone pins like a node selector",
			docs: []string{deployment("web", 3, spreadFor("web")+`affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
      - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [europe-west1-b]}]
`), pdb("web", "maxUnavailable", "1")},
			wants:   map[string]want{"web": {Zone: SPOF}},
			reasons: map[string]string{"web/zone": "pins every replica to zone europe-west1-b"},
		},
		{
			name: "node affinity to two zones still survives one zone with a spread",
			docs: []string{deployment("web", 3, spreadFor("web")+`affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
      - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [a, b]}]
`), pdb("web", "maxUnavailable", "1")},
			wants:  map[string]want{"web": {Zone: Survives}},
			remain: map[string]int{"web/zone": 1},
		},
		{
			name: "required hostname anti-affinity with more replicas than nodes leaves some Pending",
			docs: []string{deployment("web", 5, `affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}}
`), pdb("web", "maxUnavailable", "1")},
			wants:  map[string]want{"web": {Node: Survives}},
			remain: map[string]int{"web/node": 2},
		},
		{
			name: "what a Deployment owns is not judged twice",
			docs: []string{deployment("web", 3, spreadFor("web")), pdb("web", "maxUnavailable", "1"), `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d4f
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, controller: true, uid: "1"}]
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "registry.example.com/web:1.0"}]}
`},
			wants: map[string]want{"web": all(Survives)},
		},
		{
			name: "an anti-affinity whose namespace selector misses the pods' namespace guarantees nothing",
			docs: []string{deployment("web", 3, `affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}, namespaceSelector: {matchLabels: {team: payments}}}
`), pdb("web", "maxUnavailable", "1")},
			wants:   map[string]want{"web": {Node: SPOF}},
			reasons: map[string]string{"web/node": "does not select the pods' own labels"},
		},
		{
			name: "an empty namespace selector is every namespace, the pods' own included",
			docs: []string{deployment("web", 3, `affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}, namespaceSelector: {}}
`), pdb("web", "maxUnavailable", "1")},
			wants: map[string]want{"web": {Node: Survives}},
		},
		{
			name: "a spread over a label other components share bounds their sum, not the component",
			docs: []string{
				strings.ReplaceAll(deployment("web", 3, strings.ReplaceAll(spreadFor("web"), "{app: web}", "{tier: backend}")), "labels: {app: web}", "labels: {app: web, tier: backend}"),
				strings.ReplaceAll(deployment("api", 6, strings.ReplaceAll(spreadFor("api"), "{app: api}", "{tier: backend}")), "labels: {app: api}", "labels: {app: api, tier: backend}"),
				pdb("web", "maxUnavailable", "1"), pdb("api", "maxUnavailable", "1"),
			},
			wants:   map[string]want{"web": {Zone: SPOF}, "api": {Zone: Survives}},
			reasons: map[string]string{"web/zone": "over the 9 pods its selector matches"},
		},
		{
			name:    "a budget that sets neither bound allows nothing",
			docs:    []string{deployment("web", 3, spreadFor("web")), strings.ReplaceAll(pdb("web", "maxUnavailable", "1"), "  maxUnavailable: 1\n", "")},
			wants:   map[string]want{"web": {Drain: Degraded}},
			reasons: map[string]string{"web/drain": "(neither minAvailable nor maxUnavailable) allows no disruption"},
		},
		{
			name: "Pending replicas are not healthy: the budget allows nothing, and a quorum of 5 that runs 3",
			docs: []string{`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: etcd, namespace: shop}
spec:
  replicas: 5
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
`, `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: etcd, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app.kubernetes.io/name: etcd}}}
`},
			wants:   map[string]want{"etcd": {Pod: SPOF, Zone: SPOF, Drain: Degraded, Quorum: SPOF}},
			reasons: map[string]string{"etcd/quorum": "only 3 of 5 members can run", "etcd/drain": "allows no disruption", "etcd/pod": "3 of 5 replicas can run"},
			remain:  map[string]int{"etcd/zone": 2},
		},
		{
			name:    "a zone drain stalls when the spread still counts cordoned nodes",
			docs:    []string{deployment("web", 6, spreadFor("web")), pdb("web", "maxUnavailable", "1")},
			wants:   map[string]want{"web": {Zone: Survives, Drain: Degraded}},
			reasons: map[string]string{"web/drain": "set nodeTaintsPolicy: Honor"},
		},
		{
			name:  "with nodeTaintsPolicy Honor the drain moves the zone's pods",
			docs:  []string{deployment("web", 6, strings.ReplaceAll(spreadFor("web"), "whenUnsatisfiable: DoNotSchedule,", "whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor,")), pdb("web", "maxUnavailable", "1")},
			wants: map[string]want{"web": {Drain: Survives}},
		},
		{
			name: "pinned to one zone, nodes may be as few as one there",
			docs: []string{deployment("web", 2, `nodeSelector: {topology.kubernetes.io/zone: us-east-1a}
topologySpreadConstraints:
- {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
`), pdb("web", "maxUnavailable", "1")},
			wants: map[string]want{"web": {Node: SPOF, Zone: SPOF}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkFindings(t, analyzeYAML(t, DefaultTopology, tc.docs...), tc.wants, tc.reasons, tc.remain)
		})
	}
}

// checkFindings asserts a report's verdicts per component and domain,
// the reasons' substrings and the replicas that remain, each keyed
// "component/domain".
func checkFindings(t *testing.T, rep *Report, wants map[string]want, reasons map[string]string, remain map[string]int) {
	t.Helper()
	got := map[string]Finding{}
	for _, f := range rep.Findings {
		got[f.Component+"/"+string(f.Domain)] = f
	}
	for comp, w := range wants {
		for d, v := range w {
			f, ok := got[comp+"/"+string(d)]
			if assert.True(t, ok, "no finding for %s/%s", comp, d) {
				assert.Equal(t, v, f.Verdict, "%s/%s: %s", comp, d, f.Reason)
			}
		}
	}
	for key, sub := range reasons {
		assert.Contains(t, got[key].Reason, sub, key)
	}
	for key, n := range remain {
		assert.Equal(t, n, got[key].Remaining, "%s: %s", key, got[key].Reason)
	}
}

func analyzeYAML(t *testing.T, topo Topology, docs ...string) *Report {
	t.Helper()
	file := filepath.Join(t.TempDir(), "m.yaml")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(docs, "---\n")), 0o600))
	g, err := load.Manifests(file)
	require.NoError(t, err)
	rep, err := Analyze(g, "prod", topo)
	require.NoError(t, err)
	return rep
}

// Helm releases appear in a stack's graph (not in manifests): the
// analysis reads the values the platform sets and the charts' defaults.
func TestReleases(t *testing.T) {
	spread := []any{map[string]any{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
		"labelSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "vault", "component": "server"}}}}
	vault := graph.Resource{Type: helmRelease, Name: "vault", URN: "urn:vault", Inputs: map[string]any{
		"name": "vault", "chart": "vault", "version": "0.31.0", "namespace": "vault",
		"values": map[string]any{"server": map[string]any{
			"ha":                        map[string]any{"enabled": true, "replicas": 3, "raft": map[string]any{"enabled": true}, "disruptionBudget": map[string]any{"enabled": true, "maxUnavailable": 1}},
			"topologySpreadConstraints": spread,
		}},
	}}
	istiod := graph.Resource{Type: helmRelease, Name: "istiod", URN: "urn:istiod", Inputs: map[string]any{
		"name": "istiod", "chart": "istiod", "namespace": "istio-system",
		"values": map[string]any{"replicaCount": 3, "autoscaleMin": 3, "pilot": map[string]any{"replicaCount": 3, "autoscaleMin": 3}},
	}}
	rep, err := Analyze(graph.Graph{Source: "test", Resources: []graph.Resource{vault, istiod}}, "prod", DefaultTopology)
	require.NoError(t, err)
	got := map[string]Finding{}
	for _, f := range rep.Findings {
		got[f.Component+"/"+string(f.Domain)] = f
	}
	for key, v := range map[string]Verdict{
		"vault/pod": Survives, "vault/node": Survives, "vault/zone": Survives, "vault/drain": Survives, "vault/quorum": Survives,
		"istiod/pod": Survives, "istiod/zone": SPOF, "istiod/node": SPOF, "istiod/drain": Survives,
	} {
		assert.Equal(t, v, got[key].Verdict, "%s: %s", key, got[key].Reason)
	}
	assert.Equal(t, "helm.sh/Release", got["vault/zone"].Kind)
	assert.Equal(t, 2, got["vault/zone"].Needed)
	assert.Contains(t, got["istiod/zone"].Reason, "the chart's values")
	assert.Contains(t, got["istiod/drain"].Reason, "the chart's PodDisruptionBudget (minAvailable 1) lets 2 go at a time")

	// The chart's default affinity (required on the hostname) holds when
	// the values leave server.affinity unset.
	assert.Contains(t, got["vault/node"].Reason, "required podAntiAffinity on kubernetes.io/hostname")
}
