package spof

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph/load"
)

// pooler is a CloudNativePG Pooler "orders-rw" of Cluster "orders" with
// spec lines (indented under spec:).
func pooler(spec string) string {
	return `apiVersion: postgresql.cnpg.io/v1
kind: Pooler
metadata: {name: orders-rw, namespace: shop}
spec:
  cluster: {name: orders}
  type: rw
  pgbouncer: {poolMode: session}
` + indent(spec, "  ")
}

// poolerPDB is a budget over the pooler's pods, by the label the operator
// gives them.
const poolerPDB = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: orders-rw, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {cnpg.io/poolerName: orders-rw}}}
`

// redisState is the platform's Redis: a StatefulSet "redis-state" whose
// members run Valkey and a sentinel, with SENTINEL_QUORUM quorum (unset
// when "") and pod spec lines (indented under spec.template.spec).
func redisState(replicas int, quorum, podSpec string) string {
	env := ""
	if quorum != "" {
		env = `, env: [{name: SENTINEL_QUORUM, value: "` + quorum + `"}]`
	}
	return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis-state, namespace: shop}
spec:
  replicas: ` + strconv.Itoa(replicas) + `
  serviceName: redis-state
  selector: {matchLabels: {app.kubernetes.io/name: redis-state}}
  template:
    metadata: {labels: {app.kubernetes.io/name: redis-state}}
    spec:
      containers:
      - {name: redis, image: "docker.io/valkey/valkey:8.1.4"}
      - {name: sentinel, image: "docker.io/valkey/valkey:8.1.4"` + env + `}
` + indent(podSpec, "      ")
}

var (
	redisSpread = strings.ReplaceAll(zoneSpread, "{app: APP}", "{app.kubernetes.io/name: redis-state}")
	redisPDB    = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: redis-state, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app.kubernetes.io/name: redis-state}}}
`
)

// A CloudNativePG Pooler is spec.instances PgBouncer pods (default 1), any
// one of which serves, placed by spec.template.spec as the operator's
// Deployment carries it; a budget in the graph that selects its pods
// limits drains (the operator writes none).
func TestPooler(t *testing.T) {
	runOperatorCases(t, []operatorCase{
		{
			name: "a Pooler of one (the default) is a single point of failure",
			docs: []string{pooler("")},
			rows: []row{
				{"orders-rw", Pod, SPOF, 0, 1}, {"orders-rw", Node, SPOF, 0, 1},
				{"orders-rw", Zone, SPOF, 0, 1}, {"orders-rw", Drain, SPOF, 0, 1},
			},
			reasons: map[string]string{
				"orders-rw/pod":   "a single replica: losing its pod stops it; set spec.instances to 2 or more",
				"orders-rw/node":  "a single replica: losing its node stops it; set spec.instances to 2 or more",
				"orders-rw/drain": "no PodDisruptionBudget",
			},
		},
		{
			name: "a Pooler of three spread over zones with a budget survives everything",
			docs: []string{pooler(`instances: 3
template:
  metadata: {labels: {app: orders-pooler}}
  spec:
    containers: []
    topologySpreadConstraints:
    - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {cnpg.io/poolerName: orders-rw}}}
`), poolerPDB},
			rows: []row{
				{"orders-rw", Pod, Survives, 2, 1}, {"orders-rw", Node, Survives, 2, 1},
				{"orders-rw", Zone, Survives, 2, 1}, {"orders-rw", Drain, Survives, 2, 1},
			},
			reasons: map[string]string{
				"orders-rw/zone":  "topologySpreadConstraint on topology.kubernetes.io/zone, DoNotSchedule, maxSkew 1",
				"orders-rw/drain": "PodDisruptionBudget orders-rw (maxUnavailable 1) lets 1 go at a time",
			},
		},
		{
			name: "two instances apart on nodes but not zones stack in one zone, as a Deployment's do",
			// The anti-affinity selects the template's own label, which
			// the operator keeps on the pods; the budget too.
			docs: []string{pooler(`instances: 2
template:
  metadata: {labels: {app: orders-pooler}}
  spec:
    containers: []
    affinity:
      podAntiAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
        - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: orders-pooler}}}
`), strings.ReplaceAll(poolerPDB, "cnpg.io/poolerName: orders-rw", "app: orders-pooler")},
			rows: []row{
				{"orders-rw", Pod, Survives, 1, 1}, {"orders-rw", Node, Survives, 1, 1},
				{"orders-rw", Zone, SPOF, 0, 1}, {"orders-rw", Drain, Survives, 1, 1},
			},
			reasons: map[string]string{
				"orders-rw/node": "required podAntiAffinity on kubernetes.io/hostname",
				"orders-rw/zone": "one zone can hold all 2 replicas: nothing keeps the replicas out of one zone; losing it leaves 0, fewer than the 1 needed; add under spec.template.spec a topologySpreadConstraint on topology.kubernetes.io/zone",
			},
		},
		{
			name: "a zone spread ScheduleAnyway guarantees nothing",
			docs: []string{pooler(`instances: 3
template:
  spec:
    containers: []
    topologySpreadConstraints:
    - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {cnpg.io/poolerName: orders-rw}}}
`), poolerPDB},
			rows: []row{
				{"orders-rw", Pod, Survives, 2, 1}, {"orders-rw", Node, SPOF, 0, 1},
				{"orders-rw", Zone, SPOF, 0, 1}, {"orders-rw", Drain, Survives, 2, 1},
			},
			reasons: map[string]string{"orders-rw/zone": "is ScheduleAnyway"},
		},
	})
}

// The pooler's pods carry the labels the operator gives them, which the
// chaos planner selects them by.
func TestPoolerPodLabels(t *testing.T) {
	rep := analyzeYAML(t, DefaultTopology, pooler("instances: 2\ntemplate:\n  metadata: {labels: {app: orders-pooler}}\n  spec: {containers: []}\n"))
	require.Len(t, rep.Targets, 1)
	tg := rep.Targets[0]
	assert.Equal(t, "postgresql.cnpg.io/Pooler", tg.Kind)
	assert.Equal(t, 2, tg.Replicas)
	assert.False(t, tg.Quorum)
	for k, v := range map[string]string{
		"cnpg.io/poolerName": "orders-rw", "cnpg.io/cluster": "orders", "cnpg.io/podRole": "pooler", "app": "orders-pooler",
	} {
		assert.Equal(t, v, tg.PodLabels[k], k)
	}
}

// Redis with Sentinel as the platform deploys it: writes need the master,
// which Sentinel fails over only when SENTINEL_QUORUM sentinels agree and
// a majority authorise it, so the members serve while
// max(quorum, majority) of them run.
func TestRedisSentinel(t *testing.T) {
	all := func(v Verdict, rem, needed int, domains ...Domain) []row {
		var out []row
		for _, d := range domains {
			out = append(out, row{"redis-state", d, v, rem, needed})
		}
		return out
	}
	runOperatorCases(t, []operatorCase{
		{
			name: "a Sentinel quorum of 3 over 3 members tolerates no loss",
			docs: []string{redisState(3, "3", redisSpread), redisPDB},
			rows: all(SPOF, 2, 3, Pod, Node, Zone, Drain, Quorum),
			reasons: map[string]string{
				"redis-state/quorum": "a Sentinel quorum of 3 over 3 members tolerates no loss: a failover needs 3 sentinels to agree the master is down (SENTINEL_QUORUM) and a majority of 3 to authorise it, so losing the master's member leaves 2, too few to fail over; set SENTINEL_QUORUM to 2 of 3",
				"redis-state/pod":    "a Sentinel quorum of 3 over 3 members: losing one (the master's, at worst) leaves 2, fewer than the 3 a Sentinel failover needs (SENTINEL_QUORUM: 3 of 3 sentinels agreeing the master is down, and a majority authorising it); set SENTINEL_QUORUM to 2 of 3",
				"redis-state/zone":   "losing it leaves 2, a majority but fewer than the 3 a Sentinel failover needs",
				"redis-state/drain":  "PodDisruptionBudget redis-state (maxUnavailable 1) allows 1 disruptions at once and one zone holds 1: a drain leaves 2, fewer than the 3 a Sentinel failover needs (SENTINEL_QUORUM: 3 of 3 sentinels agreeing the master is down, and a majority authorising it); set SENTINEL_QUORUM to 2 of 3",
			},
		},
		{
			name: "a Sentinel quorum of 2 over 3 members spread over zones with a budget survives everything",
			docs: []string{redisState(3, "2", redisSpread), redisPDB},
			rows: all(Survives, 2, 2, Pod, Node, Zone, Drain, Quorum),
			reasons: map[string]string{
				"redis-state/quorum": "a Sentinel quorum of 2 over 3 members keeps a failover possible through 1 failure(s)",
				"redis-state/zone":   "losing it leaves 2 of the 2 a Sentinel failover needs (SENTINEL_QUORUM: 2 of 3",
			},
		},
		{
			name:    "SENTINEL_QUORUM unset is a majority",
			docs:    []string{redisState(3, "", redisSpread), redisPDB},
			rows:    all(Survives, 2, 2, Pod, Node, Zone, Drain, Quorum),
			reasons: map[string]string{"redis-state/zone": "SENTINEL_QUORUM unset, so a majority: 2 of 3 sentinels"},
		},
		{
			name: "a good quorum does not make up for the placement: nothing keeps members off one node",
			docs: []string{redisState(3, "2", ""), redisPDB},
			rows: append(all(Survives, 2, 2, Pod, Drain, Quorum), all(SPOF, 0, 2, Node, Zone)...),
			reasons: map[string]string{
				"redis-state/node": "add under spec.template.spec a required podAntiAffinity on kubernetes.io/hostname",
			},
		},
		{
			name: "a Sentinel quorum of 4 over 5 loses a zone's two members where 3 of 5 would not",
			docs: []string{redisState(5, "4", strings.ReplaceAll(redisSpread, "whenUnsatisfiable: DoNotSchedule,", "whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor,")), redisPDB},
			rows: append(all(Survives, 4, 4, Pod, Drain), row{"redis-state", Quorum, Degraded, 4, 4},
				row{"redis-state", Node, SPOF, 3, 4}, row{"redis-state", Zone, SPOF, 3, 4}),
			reasons: map[string]string{
				"redis-state/zone":   "set SENTINEL_QUORUM to 3 of 5",
				"redis-state/quorum": "tolerates 1 failure(s), fewer than a majority quorum would",
			},
		},
		{
			name: "a Sentinel quorum above the member count is never reached",
			docs: []string{redisState(3, "4", redisSpread), redisPDB},
			rows: all(SPOF, 2, 4, Pod, Node, Zone, Drain, Quorum),
			reasons: map[string]string{
				"redis-state/quorum": "a Sentinel quorum of 4 over 3 members can never be reached",
				"redis-state/node":   "set SENTINEL_QUORUM to 2 of 3 (a majority)",
			},
		},
		{
			name: "by name (redis-sentinel) the quorum is read too",
			docs: []string{strings.ReplaceAll(redisState(3, "3", redisSpread), "app.kubernetes.io/name: redis-state", "app.kubernetes.io/name: redis-sentinel"),
				strings.ReplaceAll(redisPDB, "app.kubernetes.io/name: redis-state", "app.kubernetes.io/name: redis-sentinel")},
			rows:    all(SPOF, 2, 3, Pod, Node, Zone, Drain, Quorum),
			reasons: map[string]string{"redis-state/quorum": "set SENTINEL_QUORUM to 2 of 3"},
		},
		{
			name: "the quorum annotation set to false wins",
			docs: []string{strings.Replace(redisState(3, "3", redisSpread), "metadata: {labels: {app.kubernetes.io/name: redis-state}}",
				`metadata: {labels: {app.kubernetes.io/name: redis-state}, annotations: {cloudscale.io/quorum: "false"}}`, 1), redisPDB},
			rows: all(Survives, 2, 1, Pod, Node, Zone, Drain),
		},
		{
			name: "a sentinel with no Redis beside it is not read as one",
			docs: []string{strings.ReplaceAll(redisState(3, "3", redisSpread), `{name: redis, image: "docker.io/valkey/valkey:8.1.4"}`, `{name: exporter, image: "oliver006/redis_exporter:v1.74.0"}`), redisPDB},
			rows: all(Survives, 2, 1, Pod, Node, Zone, Drain),
		},
	})
}

// A SENTINEL_QUORUM that is not a number is an input error naming it.
func TestRedisSentinelBadQuorum(t *testing.T) {
	file := filepath.Join(t.TempDir(), "m.yaml")
	require.NoError(t, os.WriteFile(file, []byte(redisState(3, "two", redisSpread)), 0o600))
	g, err := load.Manifests(file)
	require.NoError(t, err)
	_, err = Analyze(g, "prod", DefaultTopology)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `apps/StatefulSet shop/redis-state: spec.template.spec: container sentinel: env SENTINEL_QUORUM "two"`)
}

// Issue 14, the data tier as it stood: a Cluster of one, a pooler of one
// and a Sentinel quorum of 3 over 3 members, each a single point of
// failure the gate fails on.
func TestDataTier(t *testing.T) {
	rep := analyzeYAML(t, DefaultTopology, `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: orders, namespace: shop}
spec: {instances: 1, storage: {size: 10Gi}}
`, pooler(""), redisState(3, "3", redisSpread), redisPDB)
	failing := map[string]string{}
	for _, f := range rep.Failing() {
		failing[f.Component+"/"+string(f.Domain)] = f.Reason
	}
	for key, sub := range map[string]string{
		"orders/pod":         "set spec.instances to 2 or more",
		"orders/node":        "a single replica: losing its node stops it",
		"orders/zone":        "a single replica",
		"orders-rw/pod":      "set spec.instances to 2 or more",
		"orders-rw/node":     "a single replica: losing its node stops it",
		"orders-rw/zone":     "a single replica",
		"orders-rw/drain":    "no PodDisruptionBudget",
		"redis-state/pod":    "set SENTINEL_QUORUM to 2 of 3",
		"redis-state/node":   "set SENTINEL_QUORUM to 2 of 3",
		"redis-state/zone":   "set SENTINEL_QUORUM to 2 of 3",
		"redis-state/drain":  "set SENTINEL_QUORUM to 2 of 3",
		"redis-state/quorum": "a Sentinel quorum of 3 over 3 members tolerates no loss",
	} {
		if assert.Contains(t, failing, key) {
			assert.Contains(t, failing[key], sub, key)
		}
	}
	assert.Len(t, failing, 12, "%v", failing)
	assert.Equal(t, Degraded, rep.Verdict("shop", "orders", Drain), "the operator's budget for one instance allows no eviction")
}
