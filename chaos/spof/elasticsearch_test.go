package spof

import (
	"strings"
	"testing"
)

// elasticsearch is an ECK Elasticsearch "logs" in namespace search with
// spec lines (indented under spec:) after its version.
func elasticsearch(spec string) string {
	return `apiVersion: elasticsearch.k8s.elastic.co/v1
kind: Elasticsearch
metadata: {name: logs, namespace: search}
spec:
  version: 8.19.0
` + indent(spec, "  ")
}

// esZoneAntiAffinity is a nodeSet's podTemplate whose pods repel every
// pod of the cluster in their zone.
const esZoneAntiAffinity = `  podTemplate:
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {elasticsearch.k8s.elastic.co/cluster-name: logs}}}
`

// survivesAll are the five rows of a quorum of three that survives every
// domain: two of the three remain, two are needed.
func survivesAll(component string) []row {
	return append(all4(component, Survives, 2, 2), row{component, Quorum, Survives, 2, 2})
}

// ECK's Elasticsearch, read as the operator builds it: each nodeSet a
// StatefulSet of count pods with ECK's (preferred) default anti-affinity
// unless its podTemplate sets one; the master-eligible nodes a voting
// configuration that needs a majority; ECK's own budget over the cluster.
func TestElasticsearch(t *testing.T) {
	three := "nodeSets:\n- name: default\n  count: 3\n" + esZoneAntiAffinity
	runOperatorCases(t, []operatorCase{
		{
			name: "three master-eligible nodes one per zone survive everything",
			docs: []string{elasticsearch(three)},
			rows: survivesAll("logs-es-default"),
			reasons: map[string]string{
				"logs-es-default/drain":  "ECK's default PodDisruptionBudget logs-es-default (minAvailable 2) lets 1 go at a time",
				"logs-es-default/quorum": "3 members keep a majority through 1 failure(s)",
			},
		},
		{
			name: "two master-eligible nodes are a single point of failure, spread or not",
			docs: []string{elasticsearch("nodeSets:\n- name: default\n  count: 2\n" + esZoneAntiAffinity)},
			rows: []row{
				{"logs-es-default", Pod, SPOF, 1, 2}, {"logs-es-default", Node, SPOF, 1, 2}, {"logs-es-default", Zone, SPOF, 1, 2},
				{"logs-es-default", Drain, SPOF, 1, 2}, {"logs-es-default", Quorum, SPOF, 1, 2},
			},
			reasons: map[string]string{
				"logs-es-default/quorum": "2 member(s) need 2 for a majority: losing any one loses quorum; set spec.nodeSets[0].count to 3 (or 5)",
				"logs-es-default/pod":    "set spec.nodeSets[0].count to an odd number of 3 or more",
			},
		},
		{
			name: "three masters and two data nodes with ECK's default anti-affinity: nothing keeps a nodeSet off one node or zone",
			docs: []string{elasticsearch(`nodeSets:
- {name: masters, count: 3, config: {node.roles: [master]}}
- {name: data, count: 2, config: {node.roles: [data]}}
`)},
			rows: []row{
				{"logs-es-masters", Pod, Survives, 2, 2}, {"logs-es-masters", Node, SPOF, 0, 2}, {"logs-es-masters", Zone, SPOF, 0, 2},
				{"logs-es-masters", Drain, Survives, 2, 2}, {"logs-es-masters", Quorum, Survives, 2, 2},
				{"logs-es-data", Pod, Survives, 1, 1}, {"logs-es-data", Node, SPOF, 0, 1}, {"logs-es-data", Zone, SPOF, 0, 1},
				{"logs-es-data", Drain, Survives, 1, 1},
			},
			reasons: map[string]string{
				"logs-es-data/node":    "the podAntiAffinity on kubernetes.io/hostname is preferred, which the scheduler may ignore; losing it leaves 0, fewer than the 1 needed; set spec.nodeSets[1].podTemplate.spec.affinity to a required podAntiAffinity on kubernetes.io/hostname selecting elasticsearch.k8s.elastic.co/cluster-name: logs (ECK's default anti-affinity is only preferred)",
				"logs-es-data/zone":    "set spec.nodeSets[1].zoneAwareness",
				"logs-es-masters/zone": "fewer than the 2 a majority of 3 members needs; set spec.nodeSets[0].zoneAwareness",
				"logs-es-data/drain":   "ECK's default PodDisruptionBudget logs-es-default (minAvailable 4) lets 1 go at a time",
			},
		},
		{
			name: "podDisruptionBudget: {} disables ECK's budget",
			docs: []string{elasticsearch(three + "podDisruptionBudget: {}\n")},
			rows: []row{
				{"logs-es-default", Pod, Survives, 2, 2}, {"logs-es-default", Node, Survives, 2, 2}, {"logs-es-default", Zone, Survives, 2, 2},
				{"logs-es-default", Drain, Degraded, 2, 2}, {"logs-es-default", Quorum, Survives, 2, 2},
			},
			reasons: map[string]string{"logs-es-default/drain": "no PodDisruptionBudget: nothing limits evictions"},
		},
		{
			name: "spec.podDisruptionBudget's spec replaces ECK's budget",
			docs: []string{elasticsearch(three + "podDisruptionBudget: {spec: {minAvailable: 3, selector: {matchLabels: {elasticsearch.k8s.elastic.co/cluster-name: logs}}}}\n")},
			rows: []row{
				{"logs-es-default", Pod, Survives, 2, 2}, {"logs-es-default", Node, Survives, 2, 2}, {"logs-es-default", Zone, Survives, 2, 2},
				{"logs-es-default", Drain, Degraded, 3, 2}, {"logs-es-default", Quorum, Survives, 2, 2},
			},
			reasons: map[string]string{"logs-es-default/drain": "spec.podDisruptionBudget (minAvailable 3) allows no disruption"},
		},
		{
			name: "one dedicated master: ECK's budget allows no disruption and the quorum is one node",
			docs: []string{elasticsearch(`nodeSets:
- {name: master, count: 1, config: {node.roles: [master]}}
- name: data
  count: 3
  config: {node.roles: [data, ingest]}
` + esZoneAntiAffinity)},
			rows: []row{
				{"logs-es-master", Pod, SPOF, 0, 1}, {"logs-es-master", Node, SPOF, 0, 1}, {"logs-es-master", Zone, SPOF, 0, 1},
				{"logs-es-master", Drain, Degraded, 1, 1}, {"logs-es-master", Quorum, SPOF, 0, 1},
				{"logs-es-data", Pod, Survives, 2, 1}, {"logs-es-data", Node, Survives, 2, 1}, {"logs-es-data", Zone, Survives, 2, 1},
				{"logs-es-data", Drain, Degraded, 3, 1},
			},
			reasons: map[string]string{
				"logs-es-master/pod":  "set spec.nodeSets[0].count to 2 or more",
				"logs-es-data/drain":  "ECK's default PodDisruptionBudget logs-es-default (minAvailable 4) allows no disruption",
				"logs-es-master/zone": "set spec.nodeSets[0].count",
			},
		},
		{
			name: "zoneAwareness spreads a nodeSet over the zones",
			docs: []string{elasticsearch("nodeSets:\n- {name: default, count: 3, zoneAwareness: {}}\n")},
			rows: []row{
				{"logs-es-default", Pod, Survives, 2, 2}, {"logs-es-default", Node, Survives, 2, 2}, {"logs-es-default", Zone, Survives, 2, 2},
				{"logs-es-default", Drain, Survives, 2, 2}, {"logs-es-default", Quorum, Survives, 2, 2},
			},
			reasons: map[string]string{"logs-es-default/zone": "topologySpreadConstraint on topology.kubernetes.io/zone, DoNotSchedule, maxSkew 1"},
		},
		{
			name: "zoneAwareness over two zones leaves a zone (and its one node) with two of three masters",
			docs: []string{elasticsearch("nodeSets:\n- {name: default, count: 3, zoneAwareness: {zones: [a, b]}}\n")},
			rows: []row{
				{"logs-es-default", Pod, Survives, 2, 2}, {"logs-es-default", Node, SPOF, 1, 2}, {"logs-es-default", Zone, SPOF, 1, 2},
				{"logs-es-default", Drain, Degraded, 2, 2}, {"logs-es-default", Quorum, Survives, 2, 2},
			},
			reasons: map[string]string{
				"logs-es-default/zone":  "one zone holds at most 2 of 3 replicas (topologySpreadConstraint on topology.kubernetes.io/zone, DoNotSchedule, maxSkew 1); losing it leaves 1, fewer than the 2 a majority of 3 members needs; list more zones in spec.nodeSets[0].zoneAwareness.zones",
				"logs-es-default/drain": "set nodeTaintsPolicy: Honor",
			},
		},
		{
			name: "masters in two nodeSets are one quorum, bounded by the rule both share",
			docs: []string{elasticsearch(`nodeSets:
- name: hot
  count: 2
  config: {node.roles: [master, data]}
` + esZoneAntiAffinity + `- name: tiebreaker
  count: 1
  config: {node.roles: [master, voting_only]}
` + esZoneAntiAffinity)},
			rows:    survivesAll("logs"),
			reasons: map[string]string{"logs/zone": "required podAntiAffinity on topology.kubernetes.io/zone"},
		},
		{
			name: "a rule of one master nodeSet does not bound the other's pods",
			docs: []string{elasticsearch(`nodeSets:
- name: a
  count: 2
` + esZoneAntiAffinity + `- {name: b, count: 1}
`)},
			rows: []row{
				{"logs", Pod, Survives, 2, 2}, {"logs", Node, SPOF, 0, 2}, {"logs", Zone, SPOF, 0, 2},
				{"logs", Drain, Survives, 2, 2}, {"logs", Quorum, Survives, 2, 2},
			},
			reasons: map[string]string{
				"logs/zone": "give every master-eligible nodeSet (spec.nodeSets[0,1]) the same required podAntiAffinity on topology.kubernetes.io/zone",
			},
		},
	})
}

// ECK's labels: what a Service or a budget selects.
func TestElasticsearchLabels(t *testing.T) {
	rep := analyzeYAML(t, DefaultTopology, elasticsearch(`nodeSets:
- {name: masters, count: 3, config: {node.roles: [master]}, podTemplate: {metadata: {labels: {team: search}}}}
`), `apiVersion: v1
kind: Service
metadata: {name: logs-masters, namespace: search}
spec: {selector: {elasticsearch.k8s.elastic.co/cluster-name: logs, elasticsearch.k8s.elastic.co/node-master: "true", team: search}, ports: [{port: 9200}]}
`)
	if len(rep.Targets) != 1 {
		t.Fatalf("targets: %+v", rep.Targets)
	}
	lbls := rep.Targets[0].PodLabels
	for k, v := range map[string]string{
		"elasticsearch.k8s.elastic.co/cluster-name":     "logs",
		"elasticsearch.k8s.elastic.co/statefulset-name": "logs-es-masters",
		"elasticsearch.k8s.elastic.co/node-master":      "true",
		"elasticsearch.k8s.elastic.co/node-data":        "false",
		"elasticsearch.k8s.elastic.co/version":          "8.19.0",
		"common.k8s.elastic.co/type":                    "elasticsearch",
		"team":                                          "search",
	} {
		if lbls[k] != v {
			t.Errorf("label %s = %q, want %q", k, lbls[k], v)
		}
	}
	for _, f := range rep.Findings {
		if strings.Join(f.Services, ",") != "search/logs-masters" {
			t.Errorf("%s/%s services %v", f.Component, f.Domain, f.Services)
		}
	}
}
