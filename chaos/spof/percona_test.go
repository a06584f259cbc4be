package spof

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph/load"
)

// perconaCR is a PerconaServerMongoDB with the fields the operator requires
// (an image, a volume for every replica set) and spec (indented under
// spec:) added.
func perconaCR(spec string) string {
	const volume = "volumeSpec: {persistentVolumeClaim: {resources: {requests: {storage: 3Gi}}}}, "
	spec = strings.ReplaceAll(spec, "- {name: ", "- {"+volume+"name: ")
	spec = strings.ReplaceAll(spec, "configsvrReplSet: {", "configsvrReplSet: {"+volume)
	return `apiVersion: psmdb.percona.com/v1
kind: PerconaServerMongoDB
metadata: {name: catalog, namespace: shop}
spec:
  crVersion: 1.22.0
  image: percona/percona-server-mongodb:8.0.12-4
` + indent(spec, "  ")
}

// The operator's semantics, after its own defaults: a replica set is a
// quorum of its voting members, placed by the operator's anti-affinity
// (required on the hostname unless antiAffinityTopologyKey or advanced
// says otherwise); mongos routers need one; the operator's budget
// (maxUnavailable 1 by default) limits drains.
func TestPerconaMongoDB(t *testing.T) {
	cases := []struct {
		name   string
		spec   string
		wants  map[string]want
		remain map[string]int
		reason map[string]string
	}{
		{
			name:   "a replica set of three with the default anti-affinity loses a zone",
			spec:   "replsets:\n- {name: rs0, size: 3}\n",
			wants:  map[string]want{"catalog-rs0": {Pod: Survives, Node: Survives, Zone: SPOF, Drain: Survives, Quorum: Survives}},
			remain: map[string]int{"catalog-rs0/node": 2, "catalog-rs0/zone": 0},
			reason: map[string]string{"catalog-rs0/zone": "spec.replsets[0]"},
		},
		{
			name:   "a replica set of three, one member per zone",
			spec:   "replsets:\n- {name: rs0, size: 3, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}\n",
			wants:  map[string]want{"catalog-rs0": {Pod: Survives, Node: Survives, Zone: Survives, Drain: Survives, Quorum: Survives}},
			remain: map[string]int{"catalog-rs0/zone": 2},
		},
		{
			name:  "two members (unsafe flags allow it) are a single point of failure",
			spec:  "unsafeFlags: {replsetSize: true}\nreplsets:\n- {name: rs0, size: 2, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}\n",
			wants: map[string]want{"catalog-rs0": {Pod: SPOF, Zone: SPOF, Quorum: SPOF}},
		},
		{
			name: "an arbiter is counted as lost with the domain",
			// 5 voters need 3. One member per zone lets only 3 of the 4
			// data members run, and a zone's loss leaves 2 of them: with
			// the arbiter possibly in that zone, no majority is certain.
			spec:   "replsets:\n- {name: rs0, size: 4, arbiter: {enabled: true, size: 1}, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}\n",
			wants:  map[string]want{"catalog-rs0": {Pod: SPOF, Zone: SPOF}},
			remain: map[string]int{"catalog-rs0/zone": 2},
			reason: map[string]string{"catalog-rs0/zone": "the 3 a majority"},
		},
		{
			name: "sharded: two shards, the config servers and three routers, one per zone",
			spec: `sharding:
  enabled: true
  configsvrReplSet: {size: 3, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}
  mongos: {size: 3, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}
replsets:
- {name: rs0, size: 3, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}
- {name: rs1, size: 3, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}
`,
			wants: map[string]want{
				"catalog-rs0": {Zone: Survives, Quorum: Survives}, "catalog-rs1": {Zone: Survives, Quorum: Survives},
				"catalog-cfg": {Zone: Survives, Quorum: Survives}, "catalog-mongos": {Pod: Survives, Node: Survives, Zone: Survives, Drain: Survives},
			},
		},
		{
			name: "one router (unsafe flags allow it) is a single point of failure",
			spec: `unsafeFlags: {mongosSize: true}
sharding:
  enabled: true
  configsvrReplSet: {size: 3, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}
  mongos: {size: 1}
replsets:
- {name: rs0, size: 3, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}
`,
			wants:  map[string]want{"catalog-mongos": {Pod: SPOF, Node: SPOF, Zone: SPOF}},
			reason: map[string]string{"catalog-mongos/pod": "spec.sharding.mongos.size"},
		},
		{
			name:   "a budget that allows nothing blocks the drain",
			spec:   "replsets:\n- {name: rs0, size: 3, podDisruptionBudget: {maxUnavailable: 0}, affinity: {antiAffinityTopologyKey: topology.kubernetes.io/zone}}\n",
			wants:  map[string]want{"catalog-rs0": {Drain: Degraded}},
			reason: map[string]string{"catalog-rs0/drain": "spec.replsets[0].podDisruptionBudget"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkFindings(t, analyzeYAML(t, DefaultTopology, perconaCR(tc.spec)), tc.wants, tc.reason, tc.remain)
		})
	}
}

// An object the operator refuses is an input error that says why.
func TestPerconaMongoDBTheOperatorRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "m.yaml")
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(perconaCR("replsets:\n- {name: rs0, size: 3}\n"), "  image: percona/percona-server-mongodb:8.0.12-4\n", "", 1)), 0o600))
	g, err := load.Manifests(file)
	require.NoError(t, err)
	_, err = Analyze(g, "prod", DefaultTopology)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the operator refuses it: Required value for spec.image")
}
