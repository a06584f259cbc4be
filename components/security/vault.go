package security

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// VaultNamespace is where Vault runs.
const (
	VaultNamespace = "vault"
	// VaultPort serves Vault's API; VaultClusterPort its raft and request
	// forwarding between servers.
	VaultPort        = 8200
	VaultClusterPort = 8201
	// VaultTLSSecret holds Vault's serving certificate (from cert-manager).
	VaultTLSSecret = "vault-tls"
)

// VaultEndpoint is Vault's API: its Service in the vault namespace, the
// server pods (labelled by the chart), and the Secret with the CA its
// clients verify it with.
func VaultEndpoint() contract.Endpoint {
	return contract.Endpoint{
		Host: "vault." + VaultNamespace + ".svc", Port: VaultPort,
		Peer: contract.Peer{NamespaceLabels: contract.InNamespace(VaultNamespace),
			PodLabels: map[string]string{contract.NameLabel: "vault", "component": "server"}, Ports: []int{VaultPort}},
		Secret: contract.SecretRef{Namespace: VaultNamespace, Name: VaultTLSSecret},
	}
}

// VaultCertificate is the serving certificate Vault needs: its Service
// names, each server's name on the headless service (raft peers), and
// 127.0.0.1 for the Vault CLI inside a server pod (operator init, raft
// commands), which talks to its own listener.
func VaultCertificate() contract.Certificate {
	return contract.Certificate{
		Name: VaultTLSSecret, Namespace: VaultNamespace,
		DNSNames: []string{"vault", "vault.vault", "vault.vault.svc", "vault.vault.svc.cluster.local",
			"*.vault-internal", "*.vault-internal.vault.svc.cluster.local"},
		IPAddresses: []string{"127.0.0.1"},
	}
}

// VaultOperatorNamespace is Vault's namespace and ports: its API and
// cluster ports; it calls the API server (Kubernetes auth) and cloud KMS.
func VaultOperatorNamespace() contract.OperatorNamespace {
	return contract.OperatorNamespace{Name: VaultNamespace, IngressPorts: []int{VaultPort, VaultClusterPort}, EgressPorts: []int{443, 6443}}
}

// VaultArgs configure Vault in HA. The tiers it must wait for are given
// as pulumi.DependsOn.
type VaultArgs struct {
	Mode     upstream.Mode
	Replicas int
	// Seal is the HCL seal stanza for the stack's cloud KMS key (auto-unseal).
	Seal pulumi.StringInput
	// ServiceAccountAnnotations and PodLabels give Vault the cloud identity
	// allowed to use the key.
	ServiceAccountAnnotations pulumi.StringMapInput
	PodLabels                 map[string]string
	StorageClass, VolumeSize  string
	Resources                 workload.Resources
}

// Vault is the component.
type Vault struct {
	pulumi.ResourceState

	// Address is Vault's API URL.
	Address pulumi.StringOutput
	// Endpoint is VaultEndpoint.
	Endpoint contract.Endpoint
}

// Validate checks the arguments; New registers nothing unless they pass.
func (a *VaultArgs) Validate() error {
	if a == nil {
		return errors.New("args are required")
	}
	var errs []error
	if a.Replicas < 3 {
		errs = append(errs, fmt.Errorf("replicas %d: raft needs at least 3 to survive a failure", a.Replicas))
	}
	if a.StorageClass == "" || a.VolumeSize == "" {
		errs = append(errs, errors.New("a storage class and volume size are required"))
	}
	return errors.Join(errs...)
}

// NewVault installs Vault: Replicas servers with integrated raft storage,
// TLS 1.3 only, auto-unsealed by the cloud KMS key, spread over zones.
func NewVault(ctx *pulumi.Context, name string, args *VaultArgs, opts ...pulumi.ResourceOption) (*Vault, error) {
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("vault %s: %w", name, err)
	}
	// The cloud tier provides the seal with the cluster, so it is checked
	// here rather than with the stack's configuration.
	if args.Mode == upstream.Charts && args.Seal == nil {
		return nil, fmt.Errorf("vault %s: a KMS seal stanza is required (auto-unseal)", name)
	}
	values, err := NewVaultValues(args)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", name, err)
	}
	v := &Vault{Endpoint: VaultEndpoint()}
	if err := ctx.RegisterComponentResource("cloudscale:security:Vault", name, v, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(v, opts)
	if args.Mode == upstream.Charts {
		// The server configuration and the service account's identity come
		// from the cloud tier.
		config := args.Seal.ToStringOutput().ApplyT(func(s string) string { return RaftConfig(args.Replicas, s) }).(pulumi.StringOutput)
		outputs := upstream.Outputs{"server.ha.raft.config": config}
		if args.ServiceAccountAnnotations != nil {
			outputs["server.serviceAccount.annotations"] = args.ServiceAccountAnnotations
		}
		if _, err := upstream.Install(ctx, "vault", upstream.Vault, args.Mode, VaultNamespace, values, outputs, child...); err != nil {
			return nil, err
		}
	}
	if err := upstream.NewObjects(ctx, monitoringObjects(name, VaultMonitor(), VaultAlerts(args)), child...); err != nil {
		return nil, err
	}
	v.Address = pulumi.String("https://" + v.Endpoint.Address()).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(v, pulumi.Map{"address": v.Address}); err != nil {
		return nil, err
	}
	return v, nil
}

// RaftConfig is Vault's server configuration: a TLS 1.3 listener, raft
// storage joining its peers, Kubernetes service registration, the seal,
// and Prometheus metrics (Vault "telemetry" stanza: kept for
// VaultMetricsRetention, named without the host; the listener serves
// /v1/sys/metrics without a token, so Prometheus needs none and every
// server, standby or sealed, answers for itself).
func RaftConfig(replicas int, seal string) string {
	var joins strings.Builder
	for i := 0; i < replicas; i++ {
		fmt.Fprintf(&joins, `  retry_join {
    leader_api_addr         = "https://vault-%d.vault-internal:8200"
    leader_ca_cert_file     = "/vault/userconfig/%[2]s/ca.crt"
    leader_client_cert_file = "/vault/userconfig/%[2]s/tls.crt"
    leader_client_key_file  = "/vault/userconfig/%[2]s/tls.key"
  }
`, i, VaultTLSSecret)
	}
	return fmt.Sprintf(`ui = false
disable_mlock = true
listener "tcp" {
  address         = "[::]:8200"
  cluster_address = "[::]:8201"
  tls_cert_file   = "/vault/userconfig/%[1]s/tls.crt"
  tls_key_file    = "/vault/userconfig/%[1]s/tls.key"
  tls_min_version = "tls13"
  telemetry {
    unauthenticated_metrics_access = true
  }
}
telemetry {
  prometheus_retention_time = "%[4]s"
  disable_hostname          = true
}
storage "raft" {
  path = "/vault/data"
%[2]s}
service_registration "kubernetes" {}
%[3]s
`, VaultTLSSecret, joins.String(), seal, VaultMetricsRetention)
}

// VaultValues are the values of HashiCorp's vault chart the platform
// sets: HA raft servers with a disruption budget, TLS from cert-manager,
// no injector (External Secrets delivers secrets), persistent data and
// audit volumes, zone spread, and the restricted security context.
type VaultValues struct {
	Global   VaultGlobal   `json:"global"`
	Injector EnabledValues `json:"injector"`
	Server   VaultServer   `json:"server"`
}

// VaultGlobal enables the chart with TLS.
type VaultGlobal struct {
	Enabled    bool `json:"enabled"`
	TLSDisable bool `json:"tlsDisable"`
}

// VaultServer is the chart's server block.
type VaultServer struct {
	HA                        VaultHA                           `json:"ha"`
	ExtraEnvironmentVars      map[string]string                 `json:"extraEnvironmentVars"`
	Volumes                   []corev1.Volume                   `json:"volumes"`
	VolumeMounts              []corev1.VolumeMount              `json:"volumeMounts"`
	ReadinessProbe            VaultProbe                        `json:"readinessProbe"`
	DataStorage               VaultStorage                      `json:"dataStorage"`
	AuditStorage              VaultStorage                      `json:"auditStorage"`
	ServiceAccount            VaultServiceAccount               `json:"serviceAccount"`
	ExtraLabels               map[string]string                 `json:"extraLabels,omitempty"`
	Resources                 corev1.ResourceRequirements       `json:"resources"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
	StatefulSet               VaultStatefulSet                  `json:"statefulSet"`
}

// VaultHA runs Replicas servers with integrated raft storage; Raft.Config
// is folded in from the cloud tier's seal.
type VaultHA struct {
	Enabled          bool      `json:"enabled"`
	Replicas         int       `json:"replicas"`
	Raft             VaultRaft `json:"raft"`
	DisruptionBudget VaultPDB  `json:"disruptionBudget"`
}

// VaultRaft is the chart's raft block. Config, the server configuration
// (RaftConfig with the cloud tier's seal), is an output folded in by
// NewVault.
type VaultRaft struct {
	Enabled   bool   `json:"enabled"`
	SetNodeID bool   `json:"setNodeId"`
	Config    string `json:"config,omitempty"`
}

// VaultPDB is the chart's disruption budget.
type VaultPDB struct {
	Enabled        bool `json:"enabled"`
	MaxUnavailable int  `json:"maxUnavailable"`
}

// VaultProbe is the chart's readiness probe.
type VaultProbe struct {
	Enabled bool   `json:"enabled"`
	Path    string `json:"path"`
}

// VaultStorage is a persistent volume of the servers.
type VaultStorage struct {
	Enabled      bool   `json:"enabled"`
	Size         string `json:"size"`
	StorageClass string `json:"storageClass"`
}

// VaultServiceAccount is the servers' identity; Annotations (the cloud
// identity) are an output of the cloud tier folded in by NewVault.
type VaultServiceAccount struct {
	Create      bool              `json:"create"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// VaultStatefulSet sets the pods' and containers' security contexts.
type VaultStatefulSet struct {
	SecurityContext VaultSecurityContext `json:"securityContext"`
}

// VaultSecurityContext is the chart's pod and container security context.
type VaultSecurityContext struct {
	Pod       corev1.PodSecurityContext `json:"pod"`
	Container corev1.SecurityContext    `json:"container"`
}

// NewVaultValues are the vault chart's values for a (the raft config and
// the service account's annotations are folded in by NewVault).
func NewVaultValues(a *VaultArgs) (VaultValues, error) {
	res, err := a.Resources.Requirements()
	if err != nil {
		return VaultValues{}, err
	}
	tlsDir := "/vault/userconfig/" + VaultTLSSecret
	mode := int32(0o440)
	uid, gid := int64(100), int64(1000)
	return VaultValues{
		Global:   VaultGlobal{Enabled: true},
		Injector: EnabledValues{Enabled: false},
		Server: VaultServer{
			HA: VaultHA{Enabled: true, Replicas: a.Replicas, Raft: VaultRaft{Enabled: true, SetNodeID: true},
				DisruptionBudget: VaultPDB{Enabled: true, MaxUnavailable: 1}},
			ExtraEnvironmentVars: map[string]string{"VAULT_CACERT": tlsDir + "/ca.crt"},
			// The chart's start command writes the rendered config to /tmp;
			// the root filesystem is read-only.
			Volumes: []corev1.Volume{
				{Name: VaultTLSSecret, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: VaultTLSSecret, DefaultMode: &mode}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: VaultTLSSecret, MountPath: tlsDir, ReadOnly: true},
				{Name: "tmp", MountPath: "/tmp"},
			},
			// Ready means serving: a sealed or uninitialised server answers
			// 204 so the release completes before Vault is initialised, and
			// standbys count as ready.
			ReadinessProbe:            VaultProbe{Enabled: true, Path: "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204"},
			DataStorage:               VaultStorage{Enabled: true, Size: a.VolumeSize, StorageClass: a.StorageClass},
			AuditStorage:              VaultStorage{Enabled: true, Size: a.VolumeSize, StorageClass: a.StorageClass},
			ServiceAccount:            VaultServiceAccount{Create: true},
			ExtraLabels:               a.PodLabels,
			Resources:                 res,
			TopologySpreadConstraints: workload.Spread(VaultEndpoint().Peer.PodLabels),
			StatefulSet: VaultStatefulSet{SecurityContext: VaultSecurityContext{
				Pod: corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: &uid, RunAsGroup: &gid, FSGroup: &gid,
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				Container: corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}, nil
}
