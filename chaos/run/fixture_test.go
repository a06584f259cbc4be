package run

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/chaos/experiments"
	"github.com/cloudscale/platform/chaos/report"
	"github.com/cloudscale/platform/chaos/spof"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
	"github.com/cloudscale/platform/graph/load"
)

var testZones = []string{"zone-a", "zone-b", "zone-c"}

// web is spread over the zones and kept apart per node: it survives a
// pod, a node and a zone.
const webDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: cloudscale, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.example.com/web:1.0"}]
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}}
`

// etcd is a quorum of 3 in the application namespace.
const etcdStatefulSet = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: etcd, namespace: cloudscale}
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
`

// tool is a single replica outside the application namespaces.
const toolDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: tool, namespace: ops}
spec:
  replicas: 1
  selector: {matchLabels: {app: tool}}
  template:
    metadata: {labels: {app: tool}}
    spec: {containers: [{name: tool, image: "registry.example.com/tool:1.0"}]}
`

// analysed is a graph of docs with its analysis and plan (application
// namespace cloudscale, three zones).
type analysed struct {
	g    graph.Graph
	rep  *spof.Report
	plan *experiments.Plan
}

func analyse(t *testing.T, daemon bool, docs ...string) analysed {
	t.Helper()
	g := graph.Graph{Source: "test"}
	for _, d := range docs {
		var m map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(d), &m))
		r, err := load.Object(m)
		require.NoError(t, err)
		g.Resources = append(g.Resources, r)
	}
	rep, err := spof.Analyze(g, "staging", spof.Topology{Zones: 3, Nodes: 6})
	require.NoError(t, err)
	plan, err := experiments.New(g, rep, experiments.DefaultConfig("staging", slices.Clone(testZones), []string{"cloudscale"}, daemon))
	require.NoError(t, err)
	return analysed{g: g, rep: rep, plan: plan}
}

// components are the run's components for the analysis, as prepare makes
// them (sorted by key).
func (a analysed) components() []report.Component {
	var out []report.Component
	for _, t := range a.rep.Targets {
		if t.Agent {
			continue
		}
		out = append(out, report.Component{Name: t.Name, Namespace: t.Namespace, Kind: kube.KindName(t.Kind), Replicas: t.Replicas, Needed: max(t.Needed, 1)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

func (a analysed) experiment(t *testing.T, name string) experiments.Experiment {
	t.Helper()
	for _, e := range a.plan.Experiments {
		if e.Name == name {
			return e
		}
	}
	var names []string
	for _, e := range a.plan.Experiments {
		names = append(names, e.Name)
	}
	t.Fatalf("no experiment %s in %s", name, strings.Join(names, ", "))
	return experiments.Experiment{}
}
