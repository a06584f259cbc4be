package redis

import (
	"slices"
	"strconv"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	esv1 "github.com/cloudscale/platform/components/security/externalsecrets"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
	"github.com/cloudscale/platform/graph"
)

func prodArgs() *Args {
	mesh := contract.Peer{NamespaceLabels: contract.InNamespace("istio-system"), PodLabels: map[string]string{"app": "istiod"}, Ports: []int{15012}}
	scraper := contract.Peer{NamespaceLabels: contract.InNamespace("monitoring"), PodLabels: map[string]string{contract.NameLabel: "prometheus"}, Ports: []int{15020}}
	return &Args{
		Namespace: "cloudscale", Replicas: 3, Production: true,
		StorageClass: "cloudscale-encrypted", VolumeSize: "10Gi",
		Resources:   workload.Resources{RequestCPU: "250m", RequestMemory: "512Mi", LimitCPU: "1", LimitMemory: "4Gi"},
		Clients:     []string{"api-service"},
		Peers:       []contract.Peer{{PodLabels: map[string]string{contract.NameLabel: "ratelimit"}, NamespaceLabels: contract.InNamespace("istio-ingress")}},
		Callers:     []string{"istio-ingress/ratelimit"},
		Sidecar:     &contract.Sidecar{ControlPlane: mesh, Tracing: mesh, Metrics: scraper},
		SecretStore: "vault",
	}
}

func run(t *testing.T, a *Args) (graph.Graph, *Redis) {
	t.Helper()
	var r *Redis
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		var err error
		r, err = New(ctx, "redis", a)
		return err
	})
	require.NoError(t, err)
	return g, r
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// argValue is the value after flag in args ("" when absent).
func argValue(args []string, flag string) string {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}

func TestInstances(t *testing.T) {
	g, r := run(t, prodArgs())
	for _, c := range []struct {
		name, policy, appendonly string
		persistent               bool
	}{
		{"redis-state", "noeviction", "yes", true},
		{"redis-cache", "allkeys-lru", "no", false},
	} {
		sts := componenttest.Object[appsv1.StatefulSet](t, g, "kubernetes:apps/v1:StatefulSet", c.name)
		assert.Equal(t, int32(3), *sts.Spec.Replicas, c.name)
		pod := sts.Spec.Template.Spec
		assert.Equal(t, corev1.DoNotSchedule, pod.TopologySpreadConstraints[0].WhenUnsatisfiable, "one member per zone")
		require.Len(t, pod.Containers, 3)
		redis, sentinel, exporter := pod.Containers[0], pod.Containers[1], pod.Containers[2]
		assert.Equal(t, "redis", redis.Name)
		// TLS only.
		assert.Equal(t, "0", argValue(redis.Args, "--port"))
		assert.Equal(t, "6379", argValue(redis.Args, "--tls-port"))
		// The eviction policy per role: sessions and counters are never
		// evicted; the cache is.
		assert.Equal(t, c.policy, argValue(redis.Args, "--maxmemory-policy"), c.name)
		assert.Equal(t, c.appendonly, argValue(redis.Args, "--appendonly"), c.name)
		assert.Equal(t, strconv.Itoa(3<<30), argValue(redis.Args, "--maxmemory"), "three quarters of 4Gi")
		// AUTH from the generated Secret, referenced, never copied.
		for _, ctr := range pod.Containers {
			pw := env(ctr)["REDIS_PASSWORD"]
			assert.Empty(t, pw.Value)
			require.NotNil(t, pw.ValueFrom, ctr.Name)
			assert.Equal(t, AuthSecret, pw.ValueFrom.SecretKeyRef.Name)
			assert.Equal(t, AuthKey, pw.ValueFrom.SecretKeyRef.Key)
		}
		// Sentinel with a majority quorum.
		assert.Equal(t, "sentinel", sentinel.Name)
		assert.Equal(t, "2", env(sentinel)["SENTINEL_QUORUM"].Value)
		assert.Equal(t, c.name, env(sentinel)["MASTER_SET"].Value)
		assert.Equal(t, int32(SentinelPort), sentinel.Ports[0].ContainerPort)
		// The exporter reads the local server over TLS, trusting the CA,
		// and is probed over HTTP (its image has no shell).
		assert.Equal(t, "exporter", exporter.Name)
		assert.Equal(t, upstream.RedisExporterImage, exporter.Image)
		assert.Equal(t, "rediss://127.0.0.1:6379", env(exporter)["REDIS_ADDR"].Value)
		assert.Equal(t, "/tls/ca.crt", env(exporter)["REDIS_EXPORTER_TLS_CA_CERT_FILE"].Value)
		assert.Contains(t, Certificate("cloudscale", 3).IPAddresses, "127.0.0.1", "the address it dials is in the certificate")
		assert.Equal(t, []corev1.ContainerPort{{Name: ExporterPortName, ContainerPort: ExporterPort}}, exporter.Ports)
		require.NotNil(t, exporter.ReadinessProbe.HTTPGet)
		assert.Equal(t, "/health", exporter.ReadinessProbe.HTTPGet.Path)
		assert.Equal(t, ExporterPort, exporter.LivenessProbe.HTTPGet.Port.IntValue())
		// The scraper reaches it past the mesh's proxy.
		assert.Equal(t, "9121", sts.Spec.Template.Annotations["traffic.sidecar.istio.io/excludeInboundPorts"])
		// Persistence on the encrypted class for the state only.
		if c.persistent {
			require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
			assert.Equal(t, "cloudscale-encrypted", *sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName)
		} else {
			assert.Empty(t, sts.Spec.VolumeClaimTemplates)
		}
		var tls bool
		for _, v := range pod.Volumes {
			tls = tls || (v.Secret != nil && v.Secret.SecretName == TLSSecret)
		}
		assert.True(t, tls, "the members' certificate is mounted")
		svc := componenttest.Object[corev1.Service](t, g, "kubernetes:core/v1:Service", c.name)
		assert.Equal(t, "None", svc.Spec.ClusterIP, "members resolve each other by name")
	}
	// The typed endpoints clients use.
	assert.Equal(t, contract.RedisSentinel, r.State.Mode)
	assert.Equal(t, "redis-state,redis-state-0.redis-state.cloudscale.svc.cluster.local:26379,"+
		"redis-state-1.redis-state.cloudscale.svc.cluster.local:26379,redis-state-2.redis-state.cloudscale.svc.cluster.local:26379", r.State.URL)
	master, addrs, err := r.Cache.Addresses()
	require.NoError(t, err)
	assert.Equal(t, "redis-cache", master)
	assert.Len(t, addrs, 3)
	assert.True(t, r.State.TLS)
	assert.Equal(t, contract.SecretRef{Namespace: "cloudscale", Name: AuthSecret}, r.State.Auth)
	assert.Equal(t, AuthVaultPath, r.State.AuthVaultPath)
	assert.Equal(t, map[string]string{contract.NameLabel: "redis-state"}, r.State.Peer().PodLabels)
}

// The password is generated in the cluster: the program only writes the
// generator and where its value goes.
func TestGeneratedPassword(t *testing.T) {
	g, _ := run(t, prodArgs())
	gen := componenttest.Object[esv1.Password](t, g, "kubernetes:generators.external-secrets.io/v1alpha1:Password", "redis-password")
	assert.Equal(t, 32, gen.Spec.Length)
	assert.Equal(t, 0, *gen.Spec.Symbols, "nothing a URL must escape")
	es := componenttest.Object[esv1.ExternalSecret](t, g, "kubernetes:external-secrets.io/v1:ExternalSecret", "redis-auth")
	assert.Equal(t, AuthSecret, es.Spec.Target.Name)
	require.Len(t, es.Spec.DataFrom, 1)
	assert.Equal(t, &esv1.GeneratorRef{APIVersion: esv1.GeneratorsGroupVersion, Kind: esv1.PasswordKind, Name: AuthSecret}, es.Spec.DataFrom[0].SourceRef.GeneratorRef)
	assert.Zero(t, es.Spec.RefreshInterval.Duration, "generated once")
	push := componenttest.Object[esv1.PushSecret](t, g, "kubernetes:external-secrets.io/v1alpha1:PushSecret", "redis-auth-vault")
	assert.Equal(t, AuthSecret, push.Spec.Selector.Secret.Name)
	assert.Equal(t, AuthVaultPath, push.Spec.Data[0].Match.RemoteRef.RemoteKey)
	for _, r := range g.Resources {
		assert.NotEqual(t, "kubernetes:core/v1:Secret", r.Type, "no Secret passes through the program")
	}
}

func TestCertificate(t *testing.T) {
	c := Certificate("cloudscale", 3)
	assert.Equal(t, TLSSecret, c.Name)
	assert.Contains(t, c.DNSNames, "redis-state-2.redis-state.cloudscale.svc.cluster.local")
	assert.Contains(t, c.DNSNames, "redis-cache-0.redis-cache.cloudscale.svc.cluster.local")
	assert.Equal(t, []string{"127.0.0.1"}, c.IPAddresses)
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(a *Args)
		want string
	}{
		{"one member in prod", func(a *Args) { a.Replicas = 1 }, "replicas 1: at least 1 (3 in staging and prod"},
		{"no volume", func(a *Args) { a.VolumeSize = "" }, "a storage class and a volume size are required"},
		{"tiny memory", func(a *Args) { a.Resources.LimitMemory = "32Mi" }, "memory limit 32Mi: at least 64Mi for Redis"},
		{"no store", func(a *Args) { a.SecretStore = "" }, "a secret store for the password's copy is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := prodArgs()
			c.mod(a)
			g, err := componenttest.Run(func(ctx *pulumi.Context) error {
				_, err := New(ctx, "redis", a)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Empty(t, g.Resources)
		})
	}
}

func TestQuorum(t *testing.T) {
	for n, q := range map[int]int{1: 1, 3: 2, 5: 3} {
		assert.Equal(t, q, Quorum(n), n)
	}
}

// Both instances pass every rule of the policy gate in prod, given the
// namespace's default deny and the encrypted class.
func TestPassesThePolicyGate(t *testing.T) {
	g, _ := run(t, prodArgs())
	componenttest.PassesPolicies(t, g, "prod", "cloudscale")
}
