package mongodb

import (
	"slices"
	"strings"
	"testing"

	psmdbv1 "github.com/percona/percona-server-mongodb-operator/pkg/apis/psmdb/v1"
	"github.com/percona/percona-server-mongodb-operator/pkg/naming"
	"github.com/percona/percona-server-mongodb-operator/pkg/psmdb"
	"github.com/percona/percona-server-mongodb-operator/pkg/version"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/monitoring/promtest"
	"github.com/cloudscale/platform/components/upstream"
)

// Every replica set member runs the exporter as a sidecar: the operator's
// own StatefulSet builder (operator 1.22, pkg/psmdb) puts it in each
// member's pod beside mongod, with the monitoring user's credentials
// referenced from the users Secret, the client certificate's volume the
// operator mounts, and the port the monitor scrapes; the monitor selects
// those pods and no router.
func TestExporterOnEveryMember(t *testing.T) {
	a := prodArgs()
	g := run(t, a)
	cr := componenttest.Object[psmdbv1.PerconaServerMongoDB](t, g, clusterType, ClusterName)
	cr.Namespace = a.Namespace
	require.NoError(t, cr.CheckNSetDefaults(quiet(), version.PlatformKubernetes))
	m := componenttest.Object[monitoringv1.PodMonitor](t, g, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "mongodb-monitor")
	assert.Equal(t, "cloudscale", m.Namespace)
	assert.Equal(t, "cloudscale", m.Labels["app.kubernetes.io/part-of"])
	sel, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
	require.NoError(t, err)
	require.Len(t, m.Spec.PodMetricsEndpoints, 1)
	assert.Equal(t, ExporterPortName, *m.Spec.PodMetricsEndpoints[0].Port)

	sets := append([]*psmdbv1.ReplsetSpec{cr.Spec.Sharding.ConfigsvrReplSet}, cr.Spec.Replsets...)
	require.Len(t, sets, 3)
	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: UsersSecret, Namespace: a.Namespace}}
	ssl := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: TLSSecret, Namespace: a.Namespace},
		Data: map[string][]byte{"ca.crt": []byte("ca"), "tls.crt": []byte("crt"), "tls.key": []byte("key")}}
	for _, rs := range sets {
		spec, err := psmdb.StatefulSpec(quiet(), cr, rs, naming.MongodLabels(cr, rs), "percona/percona-server-mongodb-operator:"+CRVersion,
			psmdb.StatefulConfigParams{}, psmdb.StatefulSpecSecretParams{UsersSecret: users, SSLSecret: ssl})
		require.NoError(t, err, rs.Name)
		pod := spec.Template
		assert.True(t, sel.Matches(labels.Set(pod.Labels)), "%s's members %v", rs.Name, pod.Labels)
		assert.Equal(t, rs.Name, pod.Labels["app.kubernetes.io/replset"], "the label the monitor copies as replset")

		i := slices.IndexFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == ExporterContainer })
		require.GreaterOrEqual(t, i, 0, "%s has the exporter", rs.Name)
		exp := pod.Spec.Containers[i]
		assert.Equal(t, upstream.MongoDBExporterImage, exp.Image)
		assert.Equal(t, []corev1.ContainerPort{{Name: ExporterPortName, ContainerPort: ExporterPort}}, exp.Ports)
		var ports []string
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				ports = append(ports, p.Name)
			}
		}
		assert.Equal(t, 1, strings.Count(strings.Join(ports, " "), ExporterPortName), "%s: the port name is unique in the pod", rs.Name)
		// The credentials are Secret references; nothing secret is literal.
		env := map[string]corev1.EnvVar{}
		for _, e := range exp.Env {
			assert.Empty(t, e.Value, e.Name)
			require.NotNil(t, e.ValueFrom.SecretKeyRef, e.Name)
			assert.Equal(t, UsersSecret, e.ValueFrom.SecretKeyRef.Name, e.Name)
			env[e.Name] = e
		}
		assert.Equal(t, "MONGODB_CLUSTER_MONITOR_USER", env["MONGODB_USER"].ValueFrom.SecretKeyRef.Key)
		assert.Equal(t, "MONGODB_CLUSTER_MONITOR_PASSWORD", env["MONGODB_PASSWORD"].ValueFrom.SecretKeyRef.Key)
		assert.NotContains(t, strings.Join(exp.Args, " "), "@", "no credentials in the URI")
		// TLS to the local mongod, trusting the CA from the volume the
		// operator mounts for mongod itself.
		assert.Contains(t, exp.Args, "--mongodb.uri="+ExporterURI)
		assert.Contains(t, ExporterURI, "tls=true")
		require.Len(t, exp.VolumeMounts, 1)
		vol := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == exp.VolumeMounts[0].Name })
		require.GreaterOrEqual(t, vol, 0, "%s: the exporter's volume is the pod's", rs.Name)
		assert.Equal(t, TLSSecret, pod.Spec.Volumes[vol].Secret.SecretName)
		assert.True(t, *exp.SecurityContext.ReadOnlyRootFilesystem)
		assert.NotNil(t, exp.ReadinessProbe.TCPSocket)
	}
	assert.False(t, sel.Matches(labels.Set(MongosLabels())), "the routers run no exporter")
	// The exporter dials localhost: a name the members' certificate carries.
	assert.Contains(t, Certificates(a)[0].DNSNames, "localhost")
}

func TestAlerts(t *testing.T) {
	a := prodArgs()
	rule := componenttest.Object[monitoringv1.PrometheusRule](t, run(t, a), "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "mongodb-alerts")
	assert.Equal(t, "mongodb-alerts", rule.Name)
	assert.Equal(t, "cloudscale", rule.Namespace)
	promtest.TierAlerts(t, rule, "mongodb", Metrics)
	severity := map[string]string{}
	for _, r := range rule.Spec.Groups[0].Rules {
		severity[r.Alert] = r.Labels["severity"]
	}
	assert.Equal(t, map[string]string{"MongoDBDown": "page", "MongoDBMemberUnhealthy": "page", "MongoDBNoPrimary": "page",
		"MongoDBReplicationLag": "ticket"}, severity)
	// Every replica set is looked for by name.
	for _, r := range rule.Spec.Groups[0].Rules {
		if r.Alert == "MongoDBNoPrimary" {
			for _, rs := range []string{"rs0", "rs1", "cfg"} {
				assert.Contains(t, r.Expr.String(), `replset="`+rs+`"`)
			}
		}
	}
	promtest.Test(t, "testdata/mongodb-alerts.test.yaml", Alerts(a))
}
