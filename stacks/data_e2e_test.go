package stacks_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cloudscale/platform/cmd/cloudscale/engine"
)

// dataTierDeployed reads the data tier back from the simulated cluster:
// the API server accepted every CloudNativePG, Barman Cloud, monitor and
// External Secrets object under the definitions generated from the
// operators' own types, and both Redis instances run three members, one
// per zone, the state instance's claims bound to the local volume pool.
func dataTierDeployed(t *testing.T, ctx context.Context, client *kubernetes.Clientset, kubeconfig string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	get := func(group, version, resource, name string) *unstructured.Unstructured {
		t.Helper()
		obj, err := dyn.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: resource}).
			Namespace("cloudscale").Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, "%s/%s %s", group, resource, name)
		return obj
	}
	field := func(obj *unstructured.Unstructured, path ...string) any {
		v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
		return v
	}
	cluster := get("postgresql.cnpg.io", "v1", "clusters", "postgres-orders")
	assert.EqualValues(t, 3, field(cluster, "spec", "instances"))
	assert.Equal(t, "required", field(cluster, "spec", "affinity", "podAntiAffinityType"))
	assert.Equal(t, "hostnossl all all all reject", field(cluster, "spec", "postgresql", "pg_hba").([]any)[0])
	plugins := field(cluster, "spec", "plugins").([]any)
	require.Len(t, plugins, 1)
	assert.Equal(t, true, plugins[0].(map[string]any)["isWALArchiver"])
	assert.Equal(t, "cloudscale-backup", field(cluster, "spec", "serviceAccountName"))
	for _, typ := range []string{"rw", "ro"} {
		pooler := get("postgresql.cnpg.io", "v1", "poolers", "postgres-orders-pooler-"+typ)
		assert.Equal(t, "transaction", field(pooler, "spec", "pgbouncer", "poolMode"))
		assert.EqualValues(t, 2, field(pooler, "spec", "instances"))
	}
	backup := get("postgresql.cnpg.io", "v1", "scheduledbackups", "postgres-orders-daily")
	assert.Equal(t, "plugin", field(backup, "spec", "method"))
	store := get("barmancloud.cnpg.io", "v1", "objectstores", "postgres-orders-backups")
	assert.Equal(t, "30d", field(store, "spec", "retentionPolicy"))
	assert.Equal(t, true, field(store, "spec", "configuration", "s3Credentials", "inheritFromIAMRole"))
	get("monitoring.coreos.com", "v1", "podmonitors", "postgres-orders")
	get("generators.external-secrets.io", "v1alpha1", "passwords", "redis-auth")
	get("external-secrets.io", "v1", "externalsecrets", "redis-auth")
	get("external-secrets.io", "v1alpha1", "pushsecrets", "redis-auth")

	// The operator's own schema refuses a Cluster of no instances.
	clusters := dyn.Resource(schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}).Namespace("cloudscale")
	bad := cluster.DeepCopy()
	bad.SetName("no-instances")
	bad.SetResourceVersion("")
	require.NoError(t, unstructured.SetNestedField(bad.Object, int64(0), "spec", "instances"))
	_, err = clusters.Create(ctx, bad, metav1.CreateOptions{})
	require.Error(t, err, "the operator's schema checks spec.instances")
	assert.Contains(t, err.Error(), "spec.instances")

	mongoAndRabbitDeployed(t, ctx, dyn, get, field)

	for _, name := range []string{"redis-state", "redis-cache"} {
		sts, err := client.AppsV1().StatefulSets("cloudscale").Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, name)
		assert.Equal(t, int32(3), sts.Status.ReadyReplicas, "%s ready members", name)
		pods, err := client.CoreV1().Pods("cloudscale").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + name})
		require.NoError(t, err)
		zones := map[string]bool{}
		for _, p := range pods.Items {
			node, err := client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			require.NoError(t, err)
			zones[node.Labels[corev1.LabelTopologyZone]] = true
		}
		assert.Len(t, zones, 3, "%s: one member per zone", name)
	}
	claims, err := client.CoreV1().PersistentVolumeClaims("cloudscale").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, claims.Items, 3, "the state instance's members claim volumes; the cache's do not")
	for _, c := range claims.Items {
		assert.Equal(t, corev1.ClaimBound, c.Status.Phase, c.Name)
		assert.Equal(t, "cloudscale-encrypted", *c.Spec.StorageClassName)
	}
}

// mongoAndRabbitDeployed reads back the document store and the message
// queue: the sharded PerconaServerMongoDB and the RabbitmqCluster with its
// topology, accepted under the definitions generated from the operators'
// own types, which also refuse what the operators would.
func mongoAndRabbitDeployed(t *testing.T, ctx context.Context, dyn dynamic.Interface,
	get func(group, version, resource, name string) *unstructured.Unstructured, field func(*unstructured.Unstructured, ...string) any) {
	t.Helper()
	mongo := get("psmdb.percona.com", "v1", "perconaservermongodbs", "mongodb")
	assert.Equal(t, true, field(mongo, "spec", "sharding", "enabled"))
	assert.Len(t, field(mongo, "spec", "replsets"), 2)
	assert.EqualValues(t, 3, field(mongo, "spec", "sharding", "configsvrReplSet", "size"))
	assert.EqualValues(t, 3, field(mongo, "spec", "sharding", "mongos", "size"))
	assert.Equal(t, "requireTLS", field(mongo, "spec", "tls", "mode"))
	assert.Equal(t, "mongodb-encryption-key", field(mongo, "spec", "secrets", "encryptionKey"))
	users := field(mongo, "spec", "users").([]any)
	require.Len(t, users, 1)
	assert.Equal(t, "api-service", users[0].(map[string]any)["name"])
	assert.NotContains(t, users[0], "passwordSecretRef", "the operator generates the password")
	// The simulated bucket rehearses the cloud's backups.
	assert.Equal(t, true, field(mongo, "spec", "backup", "pitr", "enabled"))
	assert.Equal(t, "cloudscale-local-backups.simulated", field(mongo, "spec", "backup", "storages", "main", "s3", "bucket"))

	rabbit := get("rabbitmq.com", "v1beta1", "rabbitmqclusters", "rabbitmq")
	assert.EqualValues(t, 3, field(rabbit, "spec", "replicas"))
	assert.Equal(t, true, field(rabbit, "spec", "tls", "disableNonTLSListeners"))
	spread := field(rabbit, "spec", "override", "statefulSet", "spec", "template", "spec", "topologySpreadConstraints").([]any)
	assert.Equal(t, corev1.LabelTopologyZone, spread[0].(map[string]any)["topologyKey"])
	for _, name := range []string{"orders.created", "orders.created.dlq", "orders.express", "orders.express.dlq"} {
		q := get("rabbitmq.com", "v1beta1", "queues", "queue-"+strings.ReplaceAll(name, ".", "-"))
		assert.Equal(t, name, field(q, "spec", "name"))
		assert.Equal(t, "quorum", field(q, "spec", "type"), name)
	}
	get("rabbitmq.com", "v1beta1", "exchanges", "exchange-orders")
	get("rabbitmq.com", "v1beta1", "exchanges", "exchange-orders-created-dlx")
	get("rabbitmq.com", "v1beta1", "bindings", "binding-orders-created")
	policy := get("rabbitmq.com", "v1beta1", "policies", "policy-orders-created")
	assert.Equal(t, "orders.created.dlx", field(policy, "spec", "definition", "dead-letter-exchange"))
	assert.Equal(t, "at-least-once", field(policy, "spec", "definition", "dead-letter-strategy"))
	get("rabbitmq.com", "v1beta1", "users", "rabbitmq-api-service")
	perm := get("rabbitmq.com", "v1beta1", "permissions", "permission-api-service")
	assert.Equal(t, "^(orders)$", field(perm, "spec", "permissions", "write"))

	// The topology operator's schema refuses a queue without a name.
	queues := dyn.Resource(schema.GroupVersionResource{Group: "rabbitmq.com", Version: "v1beta1", Resource: "queues"}).Namespace("cloudscale")
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rabbitmq.com/v1beta1", "kind": "Queue", "metadata": map[string]any{"name": "nameless"},
		"spec": map[string]any{"rabbitmqClusterReference": map[string]any{"name": "rabbitmq"}},
	}}
	_, err := queues.Create(ctx, bad, metav1.CreateOptions{})
	require.Error(t, err, "the operator's schema requires spec.name")
	assert.Contains(t, err.Error(), "spec.name")
}

// plantCredentials stands in for the operators that write the stores'
// credentials on a real cluster (External Secrets' Password generator,
// CloudNativePG, Percona's operator, RabbitMQ's operators): random values
// in the Secrets they own. It returns them
// for notExported.
func plantCredentials(t *testing.T, ctx context.Context, client *kubernetes.Clientset) map[string]string {
	t.Helper()
	values := map[string]string{}
	for _, name := range []string{"redis-auth", "postgres-orders-app", "mongodb-users", "mongodb-custom-user-secret",
		"mongodb-encryption-key", "rabbitmq-default-user", "rabbitmq-api-service-user-credentials",
		"rabbitmq-order-worker-user-credentials"} {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		values[name] = hex.EncodeToString(b)
		_, err := client.CoreV1().Secrets("cloudscale").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "cloudscale"},
			StringData: map[string]string{"password": values[name]},
		}, metav1.CreateOptions{})
		require.NoError(t, err, name)
	}
	// ECK's generated password of the logs' elastic user, which Fluentd
	// and the collector read from the Secret.
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	values["logs-es-elastic-user"] = hex.EncodeToString(b)
	_, err := client.CoreV1().Secrets("monitoring").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "logs-es-elastic-user", Namespace: "monitoring"},
		StringData: map[string]string{"elastic": values["logs-es-elastic-user"]},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return values
}

// notExported exports the stack's state with secrets shown, after an up
// that ran with the credentials in the cluster: no value may appear, as the
// program never reads or writes them.
func notExported(t *testing.T, ctx context.Context, project string, values map[string]string) {
	t.Helper()
	cli := filepath.Join(engine.BinDir(project), "pulumi")
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	env, _, err := engine.Env(project, "local")
	require.NoError(t, err)
	cmd := exec.CommandContext(cctx, cli, "stack", "export", "--stack", "local", "--show-secrets", "--cwd", project, "--non-interactive")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	export, err := cmd.Output()
	require.NoError(t, err, "pulumi stack export: %s", stderr.String())
	for _, kind := range []string{"postgresql.cnpg.io/v1:Cluster", "psmdb.percona.com/v1:PerconaServerMongoDB", "rabbitmq.com/v1beta1:RabbitmqCluster"} {
		require.Contains(t, string(export), kind, "the export holds the data tier")
	}
	for name, v := range values {
		assert.NotContains(t, string(export), v, "%s's value in the stack's state", name)
	}
}
