package security

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/upstream"
)

// VaultNamespace is where Vault runs; VaultAddress is how clients reach it.
const (
	VaultNamespace = "vault"
	VaultAddress   = "https://vault.vault.svc:8200"
	// VaultTLSSecret holds Vault's serving certificate (from cert-manager).
	VaultTLSSecret = "vault-tls"
)

// VaultArgs configure Vault in HA.
type VaultArgs struct {
	Mode     upstream.Mode
	Replicas int
	// Seal is the HCL seal stanza for the stack's cloud KMS key (auto-unseal).
	Seal pulumi.StringInput
	// ServiceAccountAnnotations and PodLabels give Vault the cloud identity
	// allowed to use the key.
	ServiceAccountAnnotations                        pulumi.StringMapInput
	PodLabels                                        map[string]string
	StorageClass, VolumeSize                         string
	RequestCPU, RequestMemory, LimitCPU, LimitMemory string
	DependsOn                                        []pulumi.Resource
}

// Vault is the component.
type Vault struct {
	pulumi.ResourceState

	Address pulumi.StringOutput
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
	v := &Vault{}
	if err := ctx.RegisterComponentResource("cloudscale:security:Vault", name, v, opts...); err != nil {
		return nil, err
	}
	if args.Mode == upstream.Charts {
		seal := args.Seal.ToStringOutput()
		config := seal.ApplyT(func(s string) string { return RaftConfig(args.Replicas, s) }).(pulumi.StringOutput)
		var sa pulumi.StringMapInput = pulumi.StringMap{}
		if args.ServiceAccountAnnotations != nil {
			sa = args.ServiceAccountAnnotations
		}
		if _, err := upstream.Install(ctx, "vault", upstream.Vault, args.Mode, VaultNamespace,
			VaultValues(args, config, sa), pulumi.Parent(v), pulumi.DependsOn(args.DependsOn)); err != nil {
			return nil, err
		}
	}
	v.Address = pulumi.String(VaultAddress).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(v, pulumi.Map{"address": v.Address}); err != nil {
		return nil, err
	}
	return v, nil
}

// RaftConfig is Vault's server configuration: a TLS 1.3 listener, raft
// storage joining its peers, Kubernetes service registration and the seal.
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
}
storage "raft" {
  path = "/vault/data"
%[2]s}
service_registration "kubernetes" {}
%[3]s
`, VaultTLSSecret, joins.String(), seal)
}

// VaultValues are the vault chart's values.
func VaultValues(a *VaultArgs, config pulumi.StringOutput, saAnnotations pulumi.StringMapInput) pulumi.Map {
	return pulumi.Map{
		"global":   pulumi.Map{"enabled": pulumi.Bool(true), "tlsDisable": pulumi.Bool(false)},
		"injector": pulumi.Map{"enabled": pulumi.Bool(false)}, // External Secrets delivers secrets
		"server": pulumi.Map{
			"ha": pulumi.Map{
				"enabled":          pulumi.Bool(true),
				"replicas":         pulumi.Int(a.Replicas),
				"raft":             pulumi.Map{"enabled": pulumi.Bool(true), "setNodeId": pulumi.Bool(true), "config": config},
				"disruptionBudget": pulumi.Map{"enabled": pulumi.Bool(true), "maxUnavailable": pulumi.Int(1)},
			},
			"extraEnvironmentVars": pulumi.Map{"VAULT_CACERT": pulumi.String("/vault/userconfig/" + VaultTLSSecret + "/ca.crt")},
			// The chart's start command writes the rendered config to /tmp;
			// the root filesystem is read-only.
			"volumes": pulumi.Array{
				pulumi.Map{"name": pulumi.String(VaultTLSSecret), "secret": pulumi.Map{"secretName": pulumi.String(VaultTLSSecret), "defaultMode": pulumi.Int(0o440)}},
				pulumi.Map{"name": pulumi.String("tmp"), "emptyDir": pulumi.Map{}},
			},
			"volumeMounts": pulumi.Array{
				pulumi.Map{"name": pulumi.String(VaultTLSSecret), "mountPath": pulumi.String("/vault/userconfig/" + VaultTLSSecret), "readOnly": pulumi.Bool(true)},
				pulumi.Map{"name": pulumi.String("tmp"), "mountPath": pulumi.String("/tmp")},
			},
			// Ready means serving: a sealed or uninitialised server answers
			// 204 so the release completes before Vault is initialised, and
			// standbys count as ready.
			"readinessProbe": pulumi.Map{"enabled": pulumi.Bool(true),
				"path": pulumi.String("/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204")},
			"dataStorage":    pulumi.Map{"enabled": pulumi.Bool(true), "size": pulumi.String(a.VolumeSize), "storageClass": pulumi.String(a.StorageClass)},
			"auditStorage":   pulumi.Map{"enabled": pulumi.Bool(true), "size": pulumi.String(a.VolumeSize), "storageClass": pulumi.String(a.StorageClass)},
			"serviceAccount": pulumi.Map{"create": pulumi.Bool(true), "annotations": saAnnotations},
			"extraLabels":    pulumi.ToStringMap(a.PodLabels),
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String(a.RequestCPU), "memory": pulumi.String(a.RequestMemory)},
				"limits":   pulumi.Map{"cpu": pulumi.String(a.LimitCPU), "memory": pulumi.String(a.LimitMemory)},
			},
			"topologySpreadConstraints": pulumi.Array{pulumi.Map{
				"maxSkew": pulumi.Int(1), "topologyKey": pulumi.String("topology.kubernetes.io/zone"), "whenUnsatisfiable": pulumi.String("DoNotSchedule"),
				"labelSelector": pulumi.Map{"matchLabels": pulumi.Map{"app.kubernetes.io/name": pulumi.String("vault"), "component": pulumi.String("server")}},
			}},
			"statefulSet": pulumi.Map{"securityContext": pulumi.Map{
				"pod": pulumi.Map{"runAsNonRoot": pulumi.Bool(true), "runAsUser": pulumi.Int(100), "runAsGroup": pulumi.Int(1000), "fsGroup": pulumi.Int(1000),
					"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")}},
				"container": pulumi.Map{"allowPrivilegeEscalation": pulumi.Bool(false), "readOnlyRootFilesystem": pulumi.Bool(true),
					"capabilities": pulumi.Map{"drop": pulumi.ToStringArray([]string{"ALL"})}},
			}},
		},
	}
}
