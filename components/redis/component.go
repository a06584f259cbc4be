package redis

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/components/contract"
	esv1 "github.com/cloudscale/platform/components/security/externalsecrets"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// Redis is the component. State and Cache are the instances' endpoints.
type Redis struct {
	pulumi.ResourceState

	State, Cache contract.Redis
}

// New registers the password, the scripts and both instances.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Redis, error) {
	if args == nil {
		return nil, fmt.Errorf("redis %s: args are required", name)
	}
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", name, err)
	}
	topo := Topology()
	r := &Redis{State: topo[0].Endpoint(args.Namespace, args.Replicas), Cache: topo[1].Endpoint(args.Namespace, args.Replicas)}
	if err := ctx.RegisterComponentResource("cloudscale:data:Redis", name, r, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(r, opts)
	var deps []pulumi.Resource
	for _, o := range AuthObjects(name, args.Namespace, args.SecretStore) {
		res, err := upstream.NewObject(ctx, o.Name, o.Object, nil, child...)
		if err != nil {
			return nil, err
		}
		deps = append(deps, res)
	}
	scripts, err := corev1.NewConfigMap(ctx, name+"-scripts", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(Scripts), Namespace: pulumi.String(args.Namespace),
			Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("cloudscale")}},
		Data: pulumi.StringMap{"redis.sh": pulumi.String(RedisScript), "sentinel.sh": pulumi.String(SentinelScript), "ping.sh": pulumi.String(PingScript)},
	}, child...)
	if err != nil {
		return nil, err
	}
	deps = append(deps, scripts)
	for _, inst := range topo {
		if _, err := workload.New(ctx, inst.Name, WorkloadArgs(args, inst), append(child, pulumi.DependsOn(deps))...); err != nil {
			return nil, err
		}
	}
	if err := upstream.NewObjects(ctx, []upstream.NamedObject{
		{Name: name + "-monitor", Object: Monitor(args.Namespace)},
		{Name: name + "-alerts", Object: Alerts(args)},
	}, child...); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"state": pulumi.String(r.State.URL), "cache": pulumi.String(r.Cache.URL),
		"auth": pulumi.String(args.Namespace + "/" + AuthSecret),
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// WorkloadArgs describe one instance to the workload helper: a StatefulSet
// behind a headless Service, Redis and a Sentinel in every pod, the
// settings the policy gate checks in the arguments and environment.
func WorkloadArgs(a *Args, inst Instance) *workload.Args {
	maxmemory, _ := MaxMemory(a.Resources)
	hosts := inst.Hosts(a.Namespace, a.Replicas)
	env := map[string]string{
		"MASTER_SET": inst.Name, "HEADLESS": inst.Name + "." + a.Namespace + ".svc.cluster.local",
		"FIRST": inst.Name + "-0", "SENTINELS": strings.Join(hosts, " "),
		"REDIS_PORT": strconv.Itoa(Port), "SENTINEL_PORT": strconv.Itoa(SentinelPort),
	}
	args := []string{
		"--port", "0", "--tls-port", strconv.Itoa(Port), "--tls-replication", "yes",
		"--maxmemory", strconv.FormatInt(maxmemory, 10), "--maxmemory-policy", inst.EvictionPolicy,
	}
	volumeSize := ""
	if inst.Persistent {
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
		volumeSize = a.VolumeSize
	} else {
		args = append(args, "--appendonly", "no", "--save", "")
	}
	secret := map[string]workload.SecretKey{"REDIS_PASSWORD": {Secret: AuthSecret, Key: AuthKey}}
	sentinelEnv := map[string]string{"SENTINEL_QUORUM": strconv.Itoa(Quorum(a.Replicas))}
	for k, v := range env {
		sentinelEnv[k] = v
	}
	self := contract.Peer{PodLabels: map[string]string{contract.NameLabel: inst.Name}, Ports: []int{Port, SentinelPort}}
	ingress := []contract.Peer{self}
	for _, c := range a.Clients {
		ingress = append(ingress, contract.Peer{PodLabels: map[string]string{contract.NameLabel: c}, Ports: []int{Port, SentinelPort}})
	}
	for _, p := range a.Peers {
		p.Ports = []int{Port, SentinelPort}
		ingress = append(ingress, p)
	}
	var annotations map[string]string
	if sc := a.Sidecar; sc != nil {
		// Prometheus, which scrapes the proxies (Sidecar.Metrics), reads
		// the exporter too; its port bypasses the proxy, since Prometheus
		// is outside the mesh and the mesh's mTLS is STRICT (Istio
		// "Prometheus": application metrics follow the workload's
		// authentication policy).
		scraper := sc.Metrics
		scraper.Ports = []int{ExporterPort}
		ingress = append(ingress, scraper)
		annotations = map[string]string{"traffic.sidecar.istio.io/excludeInboundPorts": strconv.Itoa(ExporterPort)}
	}
	return &workload.Args{
		Namespace: a.Namespace, Image: upstream.ValkeyImage, Container: "redis",
		Command: []string{"/bin/sh", "/scripts/redis.sh"}, Args: args, Env: env, SecretEnv: secret,
		Ports:        []workload.Port{{Name: "redis", Port: Port}},
		ProbeCommand: []string{"/bin/sh", "/scripts/ping.sh", strconv.Itoa(Port)},
		Containers: []workload.Container{{
			Name: "sentinel", Command: []string{"/bin/sh", "/scripts/sentinel.sh"}, Env: sentinelEnv, SecretEnv: secret,
			Ports:        []workload.Port{{Name: "sentinel", Port: SentinelPort}},
			ProbeCommand: []string{"/bin/sh", "/scripts/ping.sh", strconv.Itoa(SentinelPort)},
		}, Exporter(secret)},
		Replicas: a.Replicas, Production: a.Production, Resources: a.Resources,
		Stateful: true, VolumeSize: volumeSize, StorageClass: a.StorageClass, Headless: true,
		PodLabels:      map[string]string{"cloudscale.io/redis-roles": roleLabel(inst.Roles)},
		PodAnnotations: annotations,
		Volumes: []workload.Volume{
			{Name: "scripts", MountPath: "/scripts", ConfigMap: Scripts},
			{Name: "tls", MountPath: "/tls", Secret: TLSSecret},
		},
		Ingress: ingress, Egress: []contract.Peer{self},
		Sidecar: a.Sidecar,
	}
}

// Exporter is the metrics exporter beside each member's Redis
// (oliver006/redis_exporter, configured by its environment, README
// "Command line flags"): it reads the local server over TLS on the
// loopback address the members' certificate names (127.0.0.1), trusting
// the platform's CA, with the members' password from the Secret (a
// reference, never a value), and serves /metrics and /health on
// ExporterPort. Its image carries only the binary (no shell): it is probed
// over HTTP.
func Exporter(secret map[string]workload.SecretKey) workload.Container {
	return workload.Container{
		Name: "exporter", Image: upstream.RedisExporterImage,
		Env: map[string]string{
			"REDIS_ADDR":                        "rediss://127.0.0.1:" + strconv.Itoa(Port),
			"REDIS_EXPORTER_TLS_CA_CERT_FILE":   "/tls/ca.crt",
			"REDIS_EXPORTER_WEB_LISTEN_ADDRESS": ":" + strconv.Itoa(ExporterPort),
		},
		SecretEnv:  secret,
		Ports:      []workload.Port{{Name: ExporterPortName, Port: ExporterPort}},
		HealthPath: "/health",
	}
}

// roleLabel is the roles as a label value ("sessions.counters.pubsub").
func roleLabel(roles []Role) string {
	var out []string
	for _, r := range roles {
		out = append(out, strings.NewReplacer(" ", "-", "/", "").Replace(string(r)))
	}
	return strings.Join(out, ".")
}

// AuthObjects generate the password in the cluster: a Password generator,
// an ExternalSecret that writes its value once into the Secret AuthSecret,
// and a PushSecret that keeps a copy at AuthVaultPath in Vault for clients
// in other namespaces (they read it through the secrets tier).
func AuthObjects(name, ns, store string) []upstream.NamedObject {
	gen := &esv1.Password{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: esv1.GeneratorsGroupVersion, Kind: esv1.PasswordKind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: AuthSecret, Namespace: ns},
		// 32 letters and digits: no symbol a client URL would need escaped.
		Spec: esv1.PasswordSpec{Length: 32, Digits: ptrTo(8), Symbols: ptrTo(0), AllowRepeat: true},
	}
	secret := &esv1.ExternalSecret{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: esv1.GroupVersion, Kind: esv1.ExternalSecretKind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: AuthSecret, Namespace: ns},
		Spec: esv1.ExternalSecretSpec{
			// Zero: generated once; a rotation is a deliberate new value.
			RefreshInterval: &k8smetav1.Duration{},
			Target:          esv1.ExternalSecretTarget{Name: AuthSecret, CreationPolicy: esv1.CreatePolicyOwner, DeletionPolicy: esv1.DeletionPolicyRetain},
			DataFrom: []esv1.ExternalSecretDataFromRemoteRef{{SourceRef: &esv1.StoreGeneratorSourceRef{
				GeneratorRef: &esv1.GeneratorRef{APIVersion: esv1.GeneratorsGroupVersion, Kind: esv1.PasswordKind, Name: AuthSecret},
			}}},
		},
	}
	push := &esv1.PushSecret{
		TypeMeta:   k8smetav1.TypeMeta{APIVersion: esv1.AlphaGroupVersion, Kind: esv1.PushSecretKind},
		ObjectMeta: k8smetav1.ObjectMeta{Name: AuthSecret, Namespace: ns},
		Spec: esv1.PushSecretSpec{
			RefreshInterval: &k8smetav1.Duration{Duration: 3600e9},
			SecretStoreRefs: []esv1.PushSecretStoreRef{{Name: store, Kind: esv1.ClusterSecretStoreKind}},
			UpdatePolicy:    esv1.UpdatePolicyReplace,
			DeletionPolicy:  esv1.PushDeletionPolicyDelete,
			Selector:        esv1.PushSecretSelector{Secret: &esv1.PushSecretSecret{Name: AuthSecret}},
			Data: []esv1.PushSecretData{{Match: esv1.PushSecretMatch{SecretKey: AuthKey,
				RemoteRef: esv1.PushSecretRemoteRef{RemoteKey: AuthVaultPath, Property: AuthKey}}}},
		},
	}
	return []upstream.NamedObject{{Name: name + "-password", Object: gen}, {Name: name + "-auth", Object: secret}, {Name: name + "-auth-vault", Object: push}}
}

func ptrTo[T any](v T) *T { return &v }
