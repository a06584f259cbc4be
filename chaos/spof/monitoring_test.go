package spof

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// row is what a case asserts of one finding.
type row struct {
	component string
	domain    Domain
	verdict   Verdict
	remaining int
	needed    int
}

func (r row) String() string {
	return fmt.Sprintf("%s/%s %s %d/%d", r.component, r.domain, r.verdict, r.remaining, r.needed)
}

// operatorCase is a table case over manifests: the exact findings of the
// report, and substrings of some reasons ("component/domain").
type operatorCase struct {
	name    string
	docs    []string
	rows    []row
	reasons map[string]string
}

func runOperatorCases(t *testing.T, cases []operatorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := analyzeYAML(t, DefaultTopology, tc.docs...)
			var got []string
			reasons := map[string]string{}
			for _, f := range rep.Findings {
				got = append(got, row{f.Component, f.Domain, f.Verdict, f.Remaining, f.Needed}.String())
				reasons[f.Component+"/"+string(f.Domain)] = f.Reason
			}
			var want []string
			for _, r := range tc.rows {
				want = append(want, r.String())
			}
			slices.Sort(got)
			slices.Sort(want)
			if !assert.Equal(t, want, got) {
				for k, r := range reasons {
					t.Logf("%s: %s", k, r)
				}
			}
			for key, sub := range tc.reasons {
				assert.Contains(t, reasons[key], sub, key)
			}
		})
	}
}

// prometheus is a Prometheus "main" in namespace monitoring with spec
// lines (indented under spec:).
func prometheus(spec string) string {
	return `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: main, namespace: monitoring}
spec:
` + indent(spec, "  ")
}

// alertmanager is an Alertmanager "main" in namespace monitoring.
func alertmanager(spec string) string {
	return `apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
metadata: {name: main, namespace: monitoring}
spec:
` + indent(spec, "  ")
}

// prometheusPDB is a budget of one over every pod of Prometheus "main".
const prometheusPDB = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: prometheus-main, namespace: monitoring}
spec: {maxUnavailable: 1, selector: {matchLabels: {prometheus: main}}}
`

// all4 are the rows of the four domains every component is judged in.
func all4(component string, v Verdict, remaining, needed int) []row {
	var out []row
	for _, d := range []Domain{Pod, Node, Zone, Drain} {
		out = append(out, row{component, d, v, remaining, needed})
	}
	return out
}

// The prometheus-operator's kinds, read as the operator runs them: a
// Prometheus is a StatefulSet per shard whose replicas each serve (no
// quorum), an Alertmanager a gossip cluster any one replica serves; both
// pass affinity, spread and node selector through, and neither gets a
// disruption budget from the operator.
func TestPrometheusOperator(t *testing.T) {
	shardSpread := func(extra string) string {
		return `shards: 2
replicas: 2
topologySpreadConstraints:
- {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule` + extra + `}
`
	}
	runOperatorCases(t, []operatorCase{
		{
			name: "a Prometheus of one replica is a single point of failure everywhere",
			docs: []string{prometheus("replicas: 1\n")},
			rows: all4("main", SPOF, 0, 1),
			reasons: map[string]string{
				"main/pod":   "a single replica: losing its pod stops it; set spec.replicas to 2 or more",
				"main/zone":  "set spec.replicas to 2 or more",
				"main/drain": "no PodDisruptionBudget",
			},
		},
		{
			name: "the default is one replica",
			docs: []string{prometheus("scrapeInterval: 30s\n")},
			rows: all4("main", SPOF, 0, 1),
		},
		{
			name: "a Prometheus of two with a required zone anti-affinity and a budget survives",
			docs: []string{prometheus(`replicas: 2
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {prometheus: main}}}
`), prometheusPDB},
			rows: all4("main", Survives, 1, 1),
			reasons: map[string]string{
				"main/zone":  "required podAntiAffinity on topology.kubernetes.io/zone",
				"main/drain": "PodDisruptionBudget prometheus-main (maxUnavailable 1) lets 1 go at a time",
			},
		},
		{
			name: "two shards of two spread over zones per shard (OnShard) each survive",
			docs: []string{prometheus(shardSpread(", additionalLabelSelectors: OnShard")), prometheusPDB},
			rows: append(all4("main-shard-0", Survives, 1, 1), all4("main-shard-1", Survives, 1, 1)...),
			reasons: map[string]string{
				"main-shard-1/zone": "topologySpreadConstraint on topology.kubernetes.io/zone, DoNotSchedule, maxSkew 1); losing it leaves 1 of the 1 needed",
			},
		},
		{
			name: "a spread over every shard's pods (OnResource) does not keep one shard out of a zone",
			docs: []string{prometheus(shardSpread(", additionalLabelSelectors: OnResource"))},
			rows: append(
				[]row{{"main-shard-0", Pod, Survives, 1, 1}, {"main-shard-0", Node, SPOF, 0, 1}, {"main-shard-0", Zone, SPOF, 0, 1}, {"main-shard-0", Drain, SPOF, 0, 1}},
				row{"main-shard-1", Pod, Survives, 1, 1}, row{"main-shard-1", Node, SPOF, 0, 1}, row{"main-shard-1", Zone, SPOF, 0, 1}, row{"main-shard-1", Drain, SPOF, 0, 1}),
			reasons: map[string]string{
				"main-shard-0/zone": "over the 4 pods its selector matches",
				"main-shard-1/zone": "additionalLabelSelectors: OnShard",
			},
		},
		{
			name: "a spread without a label selector counts no pod and guarantees nothing",
			docs: []string{prometheus("replicas: 2\ntopologySpreadConstraints:\n- {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}\n")},
			rows: []row{{"main", Pod, Survives, 1, 1}, {"main", Node, SPOF, 0, 1}, {"main", Zone, SPOF, 0, 1}, {"main", Drain, SPOF, 0, 1}},
			reasons: map[string]string{
				"main/zone": "does not select the pods' own labels",
			},
		},
		{
			name: "an Alertmanager of three without anti-affinity loses a node or a zone",
			docs: []string{alertmanager("replicas: 3\n")},
			rows: []row{{"main", Pod, Survives, 2, 1}, {"main", Node, SPOF, 0, 1}, {"main", Zone, SPOF, 0, 1}, {"main", Drain, SPOF, 0, 1}},
			reasons: map[string]string{
				"main/node": "add to spec.topologySpreadConstraints a constraint on kubernetes.io/hostname",
				"main/zone": "add to spec.topologySpreadConstraints a constraint on topology.kubernetes.io/zone with whenUnsatisfiable: DoNotSchedule selecting alertmanager: main",
			},
		},
		{
			name: "an Alertmanager of three spread over zones survives; without a budget a drain is unbounded",
			docs: []string{alertmanager(`replicas: 3
podMetadata: {labels: {team: observability}}
topologySpreadConstraints:
- {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {alertmanager: main, team: observability}}}
`)},
			rows: []row{{"main", Pod, Survives, 2, 1}, {"main", Node, Survives, 2, 1}, {"main", Zone, Survives, 2, 1}, {"main", Drain, Degraded, 2, 1}},
			reasons: map[string]string{
				"main/drain": "no PodDisruptionBudget: nothing limits evictions",
			},
		},
	})
}

// The operator's labels are what a budget, a spread or a Service selects.
func TestPrometheusOperatorLabels(t *testing.T) {
	rep := analyzeYAML(t, DefaultTopology,
		prometheus("replicas: 2\nshards: 2\npodMetadata: {labels: {prometheus: overridden, team: observability}}\n"),
		alertmanager("replicas: 2\n"),
		`apiVersion: v1
kind: Service
metadata: {name: prometheus-shard-1, namespace: monitoring}
spec: {selector: {app.kubernetes.io/name: prometheus, operator.prometheus.io/shard: "1", team: observability}, ports: [{port: 9090}]}
`)
	byName := map[string]Target{}
	for _, tg := range rep.Targets {
		byName[tg.Name] = tg
	}
	assert.Equal(t, map[string]string{
		"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "prometheus-operator", "app.kubernetes.io/instance": "main",
		"prometheus": "main", "operator.prometheus.io/name": "main", "operator.prometheus.io/shard": "1", "team": "observability",
	}, map[string]string(byName["main-shard-1"].PodLabels))
	assert.Equal(t, "alertmanager", byName["main"].PodLabels["app.kubernetes.io/name"])
	assert.Equal(t, "main", byName["main"].PodLabels["alertmanager"])
	for _, f := range rep.Findings {
		if f.Component == "main-shard-1" {
			assert.Equal(t, []string{"monitoring/prometheus-shard-1"}, f.Services)
		} else {
			assert.Empty(t, f.Services, f.Component)
		}
		assert.True(t, strings.HasPrefix(f.Kind, "monitoring.coreos.com/"), f.Kind)
	}
}
