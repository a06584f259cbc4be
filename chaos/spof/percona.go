package spof

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	psmdbv1 "github.com/percona/percona-server-mongodb-operator/pkg/apis/psmdb/v1"
	"github.com/percona/percona-server-mongodb-operator/pkg/naming"
	"github.com/percona/percona-server-mongodb-operator/pkg/psmdb"
	"github.com/percona/percona-server-mongodb-operator/pkg/version"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// perconaMongoDB reads a PerconaServerMongoDB (Percona Server for MongoDB
// operator v1.22.0) after the operator's own defaults
// (CheckNSetDefaults: a replica set's size raised to the safe minimum
// unless spec.unsafeFlags say otherwise, mongos likewise, an
// anti-affinity on kubernetes.io/hostname when none is given, a budget of
// maxUnavailable 1), with the labels and scheduling the operator's own
// code gives the pods (pkg/naming, psmdb.PodAffinity,
// psmdb.PodTopologySpreadConstraints):
//   - each replica set (a shard when sharded) and the config server
//     replica set is a quorum: it elects a primary only while a majority
//     of its voting members (size mongod plus the arbiters) run. The
//     arbiters are counted as lost with the domain, whatever their
//     placement: nothing here bounds where they land relative to the
//     data-bearing members. Non-voting and hidden members do not vote.
//   - mongos routers (sharded clusters) are stateless: one serves.
//
// An object the operator itself refuses (a replica set below the safe
// size without spec.unsafeFlags) is an error naming why.
func perconaMongoDB(r graph.Resource) ([]*component, error) {
	obj, err := kube.Decode[psmdbv1.PerconaServerMongoDB](r.Inputs)
	if err != nil {
		return nil, err
	}
	cr := &obj
	ns := kube.Namespace(r.Inputs)
	cr.Namespace = ns
	// A discarding logger: without one in the context, controller-runtime
	// prints a stack trace to stderr the first time the operator logs.
	if err := cr.CheckNSetDefaults(ctrllog.IntoContext(context.Background(), logr.Discard()), version.PlatformKubernetes); err != nil {
		return nil, fmt.Errorf("the operator refuses it: %w", err)
	}
	var out []*component
	sets := cr.Spec.Replsets
	if cr.Spec.Sharding.Enabled && cr.Spec.Sharding.ConfigsvrReplSet != nil {
		sets = append(sets, cr.Spec.Sharding.ConfigsvrReplSet)
	}
	for i, rs := range sets {
		field := fmt.Sprintf("spec.replsets[%d]", i)
		if rs == cr.Spec.Sharding.ConfigsvrReplSet {
			field = "spec.sharding.configsvrReplSet"
		}
		c, err := perconaMembers(cr, rs, ns, r.URN, field)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if m := cr.Spec.Sharding.Mongos; cr.Spec.Sharding.Enabled && m != nil {
		labels := naming.MongosLabels(cr)
		c := &component{
			name: cr.Name + "-mongos", kind: "psmdb.percona.com/PerconaServerMongoDB", namespace: ns, urn: r.URN,
			replicas: int(m.Size), needed: 1, replicasField: "spec.sharding.mongos.size",
			shape: perconaShape(cr, &m.MultiAZ, labels, ns, "spec.sharding.mongos"),
		}
		if err := perconaBudget(c, m.PodDisruptionBudget, "spec.sharding.mongos.podDisruptionBudget"); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// perconaMembers is one replica set's data-bearing voting members.
func perconaMembers(cr *psmdbv1.PerconaServerMongoDB, rs *psmdbv1.ReplsetSpec, ns, urn, field string) (*component, error) {
	labels := naming.MongodLabels(cr, rs)
	size, arbiters := int(rs.Size), int(rs.Arbiter.GetSize())
	voters := size + arbiters
	c := &component{
		name: cr.Name + "-" + rs.Name, kind: "psmdb.percona.com/PerconaServerMongoDB", namespace: ns, urn: urn,
		replicas: size, quorum: true, replicasField: field + ".size",
		// A majority of the voters, every arbiter counted as lost.
		needed: min(voters/2+1, size),
		shape:  perconaShape(cr, &rs.MultiAZ, labels, ns, field),
	}
	if voters/2+1 > size {
		// Arbiters alone cannot make a majority: the set needs every
		// data-bearing member.
		c.needed = size
	}
	if err := perconaBudget(c, rs.PodDisruptionBudget, field+".podDisruptionBudget"); err != nil {
		return nil, err
	}
	return c, nil
}

// perconaShape is where the operator places a workload's pods: its
// anti-affinity (psmdb.PodAffinity), spread (with the pods' labels as the
// selector when a constraint gives none) and node selector.
func perconaShape(cr *psmdbv1.PerconaServerMongoDB, az *psmdbv1.MultiAZ, labels map[string]string, ns, field string) podShape {
	return podShape{
		namespace: ns, labels: labels, field: field,
		spec: corev1.PodSpec{
			Affinity:                  psmdb.PodAffinity(cr, az.Affinity, labels),
			TopologySpreadConstraints: psmdb.PodTopologySpreadConstraints(cr, az.TopologySpreadConstraints, labels),
			NodeSelector:              az.NodeSelector,
		},
	}
}

// perconaBudget is the operator's PodDisruptionBudget for a workload
// (after the defaults: maxUnavailable 1), as the disruption controller
// computes it with every replica healthy.
func perconaBudget(c *component, b *psmdbv1.PodDisruptionBudgetSpec, field string) error {
	if b == nil {
		return nil
	}
	spec := policyv1.PodDisruptionBudgetSpec{MinAvailable: b.MinAvailable, MaxUnavailable: b.MaxUnavailable}
	allowed, err := kube.DisruptionsAllowed(spec, int32(c.replicas), int32(c.replicas))
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	a := int(allowed)
	c.operatorBudget, c.operatorBudgetText = &a, fmt.Sprintf("the operator's PodDisruptionBudget from %s (%s)", field, budgetText(spec))
	return nil
}
