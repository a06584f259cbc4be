package postgres

import (
	"context"
	"slices"
	"testing"

	"github.com/cloudnative-pg/cloudnative-pg/pkg/specs"
	"github.com/cloudnative-pg/cloudnative-pg/pkg/specs/pgbouncer"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/promtest"
)

const (
	podMonitorType = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
	ruleType       = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
)

// selects reports whether a monitor's selector picks a pod with podLabels.
func selects(t *testing.T, sel metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(&sel)
	require.NoError(t, err)
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

// port is the container port named name in a pod spec (0 when none).
func port(spec corev1.PodSpec, name string) int32 {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
	}
	return 0
}

// The monitors select the pods the operator builds (its own pod builders,
// CloudNativePG 1.30's pkg/specs), in the tier's namespace, on the port
// they name, and copy the pod labels the alerts group by.
func TestMonitorsSelectTheOperatorsPods(t *testing.T) {
	a := prodArgs()
	g := run(t, a)
	cluster := Cluster(a, a.Databases[0])
	other := a.Databases[0]
	other.Name = "carts"

	instances := componenttest.Object[monitoringv1.PodMonitor](t, g, podMonitorType, "postgres-orders-monitor")
	poolers := componenttest.Object[monitoringv1.PodMonitor](t, g, podMonitorType, "postgres-orders-pooler-monitor")
	for _, m := range []*monitoringv1.PodMonitor{instances, poolers} {
		assert.Equal(t, "cloudscale", m.Namespace, m.Name)
		assert.Equal(t, "cloudscale", m.Labels["app.kubernetes.io/part-of"], m.Name)
		require.Len(t, m.Spec.PodMetricsEndpoints, 1, m.Name)
		assert.Equal(t, "metrics", *m.Spec.PodMetricsEndpoints[0].Port, m.Name)
	}

	pod, err := specs.NewInstance(context.Background(), *cluster, 1, true)
	require.NoError(t, err)
	assert.True(t, selects(t, instances.Spec.Selector, pod.Labels), "the instances' monitor selects instance pods %v", pod.Labels)
	assert.EqualValues(t, MetricsPort, port(pod.Spec, "metrics"))
	otherPod, err := specs.NewInstance(context.Background(), *Cluster(a, other), 1, true)
	require.NoError(t, err)
	assert.False(t, selects(t, instances.Spec.Selector, otherPod.Labels), "another Cluster's instances are not this monitor's")

	for _, typ := range []string{"rw", "ro"} {
		dep, err := pgbouncer.Deployment(Pooler(a, cluster.Name, typ), cluster)
		require.NoError(t, err)
		podLabels := dep.Spec.Template.Labels
		assert.True(t, selects(t, poolers.Spec.Selector, podLabels), "the poolers' monitor selects %s pooler pods %v", typ, podLabels)
		assert.False(t, selects(t, instances.Spec.Selector, podLabels), "the instances' monitor does not select poolers")
		assert.False(t, selects(t, poolers.Spec.Selector, pod.Labels), "the poolers' monitor does not select instances")
		assert.EqualValues(t, PoolerMetricsPort, port(dep.Spec.Template.Spec, "metrics"))
		for _, l := range poolers.Spec.PodTargetLabels {
			assert.Contains(t, podLabels, l, "a copied label the pooler pods carry")
		}
	}
	for _, l := range instances.Spec.PodTargetLabels {
		assert.Contains(t, pod.Labels, l, "a copied label the instance pods carry")
	}

	// Both exporters admit the scraper.
	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "postgres-orders-pooler-rw")
	var scraped bool
	for _, rule := range np.Spec.Ingress {
		scraped = scraped || (rule.From[0].PodSelector.MatchLabels[contract.NameLabel] == "prometheus" && rule.Ports[0].Port.IntValue() == PoolerMetricsPort)
	}
	assert.True(t, scraped, "the pooler admits Prometheus on %d", PoolerMetricsPort)
}

func TestAlerts(t *testing.T) {
	a := prodArgs()
	rule := componenttest.Object[monitoringv1.PrometheusRule](t, run(t, a), ruleType, "postgres-alerts")
	assert.Equal(t, "postgres-alerts", rule.Name)
	assert.Equal(t, "cloudscale", rule.Namespace)
	promtest.TierAlerts(t, rule, "postgres", Metrics)

	var names []string
	for _, r := range rule.Spec.Groups[0].Rules {
		names = append(names, r.Alert)
	}
	assert.ElementsMatch(t, []string{"PostgresInstanceDown", "PostgresClusterDown", "PostgresNoPrimary", "PostgresReplicationLag",
		"PostgresReplicationLagCritical", "PostgresPoolerPodDown", "PostgresPoolerDown", "PostgresWALArchivingFailing",
		"PostgresBackupFailed", "PostgresBackupTooOld"}, names)

	promtest.Test(t, "testdata/postgres-alerts.test.yaml", Alerts(a))

	// Without a backup store there is no archive or backup to watch.
	a.Backups = nil
	for _, r := range Alerts(a).Spec.Groups[0].Rules {
		assert.False(t, slices.Contains([]string{"PostgresWALArchivingFailing", "PostgresBackupFailed", "PostgresBackupTooOld"}, r.Alert), r.Alert)
	}
}

// The alerts name every declared database's Cluster and poolers, so one
// whose pods are all gone is still found.
func TestAlertsLookForEveryDatabase(t *testing.T) {
	a := prodArgs()
	a.Databases = append(a.Databases, Database{Name: "carts", Owner: "cart-service"})
	exprs := map[string]string{}
	for _, r := range Alerts(a).Spec.Groups[0].Rules {
		exprs[r.Alert] = r.Expr.String()
	}
	for _, c := range []string{"postgres-orders", "postgres-carts"} {
		assert.Contains(t, exprs["PostgresClusterDown"], `cnpg_io_cluster="`+c+`"`)
		assert.Contains(t, exprs["PostgresPoolerDown"], `cnpg_io_poolerName="`+c+`-pooler-rw"`)
		assert.Contains(t, exprs["PostgresPoolerDown"], `cnpg_io_poolerName="`+c+`-pooler-ro"`)
	}
}
