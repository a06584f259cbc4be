package security

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/components/contract"
	esv1 "github.com/cloudscale/platform/components/security/externalsecrets"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// ExternalSecretsNamespace is where the External Secrets Operator runs.
const ExternalSecretsNamespace = "external-secrets"

// StoreName is the ClusterSecretStore that reads Vault.
const StoreName = "vault"

// ExternalSecretsOperatorNamespace is the operator's namespace and ports:
// its webhook (10250) and metrics (8080); it calls the API server and
// Vault.
func ExternalSecretsOperatorNamespace() contract.OperatorNamespace {
	return contract.OperatorNamespace{Name: ExternalSecretsNamespace, IngressPorts: []int{10250, 8080}, EgressPorts: []int{443, 6443, VaultPort}}
}

// SecretsArgs configure External Secrets and the application secrets the
// tiers need. The tiers it must wait for are given as pulumi.DependsOn.
type SecretsArgs struct {
	Mode    upstream.Mode
	Secrets []contract.VaultSecret
	// Vault is where the secrets are read (see VaultEndpoint).
	Vault contract.Endpoint
}

// Secrets is the component.
type Secrets struct {
	pulumi.ResourceState

	Store pulumi.StringOutput
}

// RefreshInterval is how often a delivered secret is re-read from Vault,
// so a rotated value arrives without a deploy.
const RefreshInterval = time.Hour

// Validate checks the arguments; New registers nothing unless they pass.
func (a *SecretsArgs) Validate() error {
	if a == nil {
		return errors.New("args are required")
	}
	var errs []error
	if a.Vault.Host == "" || a.Vault.Secret.Name == "" {
		errs = append(errs, errors.New("the Vault endpoint and its CA Secret are required"))
	}
	seen := map[string]bool{}
	for i, s := range a.Secrets {
		if s.Name == "" || s.Namespace == "" || s.VaultPath == "" || len(s.Keys) == 0 {
			errs = append(errs, fmt.Errorf("secret %d: a name, a namespace, a Vault path and at least one key are required", i))
		}
		if seen[s.Namespace+"/"+s.Name] {
			errs = append(errs, fmt.Errorf("secret %s/%s is listed twice", s.Namespace, s.Name))
		}
		seen[s.Namespace+"/"+s.Name] = true
	}
	return errors.Join(errs...)
}

// ExternalSecretsValues are the values of the external-secrets chart the
// platform sets: CRDs, replicated controller, webhook and cert
// controller with disruption budgets, leader election.
type ExternalSecretsValues struct {
	InstallCRDs         bool             `json:"installCRDs"`
	ReplicaCount        int              `json:"replicaCount"`
	LeaderElect         bool             `json:"leaderElect"`
	PodDisruptionBudget PDBValues        `json:"podDisruptionBudget"`
	Webhook             ReplicatedValues `json:"webhook"`
	CertController      ReplicatedValues `json:"certController"`
	// TopologySpreadConstraints spread the controller over zones.
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
	// Metrics exposes the controller's metrics through a Service, which
	// ExternalSecretsMonitor selects (the chart's own ServiceMonitor stays
	// off).
	Metrics ExternalSecretsMetricsValues `json:"metrics"`
}

// ExternalSecretsMetricsValues are the chart's metrics block.
type ExternalSecretsMetricsValues struct {
	Service ServiceValues `json:"service"`
}

// ServiceValues switch a chart's metrics Service on, on Port.
type ServiceValues struct {
	Enabled bool `json:"enabled"`
	Port    int  `json:"port"`
}

// externalSecretsPods are the labels the external-secrets chart gives a
// component's pods (the release is named external-secrets).
func externalSecretsPods(name string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "external-secrets"}
}

// NewSecrets installs the External Secrets Operator, a ClusterSecretStore
// for Vault (Kubernetes auth, TLS verified with Vault's CA) and one
// ExternalSecret per application secret.
func NewSecrets(ctx *pulumi.Context, name string, args *SecretsArgs, opts ...pulumi.ResourceOption) (*Secrets, error) {
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("secrets %s: %w", name, err)
	}
	s := &Secrets{}
	if err := ctx.RegisterComponentResource("cloudscale:security:Secrets", name, s, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(s, opts)
	ready, err := upstream.Install(ctx, "external-secrets", upstream.ExternalSecrets, args.Mode, ExternalSecretsNamespace, ExternalSecretsValues{
		InstallCRDs: true, ReplicaCount: 2, LeaderElect: true, PodDisruptionBudget: pdb,
		TopologySpreadConstraints: workload.Spread(externalSecretsPods("external-secrets")),
		Webhook:                   replicated(2, externalSecretsPods("external-secrets-webhook")),
		CertController:            replicated(2, externalSecretsPods("external-secrets-cert-controller")),
		Metrics:                   ExternalSecretsMetricsValues{Service: ServiceValues{Enabled: true, Port: ExternalSecretsMetricsPort}},
	}, nil, child...)
	if err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, SecretObjects(name, args), append(child, pulumi.DependsOn(ready))...); err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, monitoringObjects(name, ExternalSecretsMonitor(), ExternalSecretsAlerts(args)), child...); err != nil {
		return nil, err
	}
	s.Store = pulumi.String(StoreName).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{"store": s.Store}); err != nil {
		return nil, err
	}
	return s, nil
}

// SecretObjects are the ClusterSecretStore and an ExternalSecret per
// application secret.
func SecretObjects(name string, a *SecretsArgs) []upstream.NamedObject {
	path, ns, operatorNS := "secret", a.Vault.Secret.Namespace, ExternalSecretsNamespace
	store := &esv1.ClusterSecretStore{
		TypeMeta:   metav1.TypeMeta{APIVersion: esv1.GroupVersion, Kind: esv1.ClusterSecretStoreKind},
		ObjectMeta: metav1.ObjectMeta{Name: StoreName},
		Spec: esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Vault: &esv1.VaultProvider{
			Server: "https://" + a.Vault.Address(), Path: &path, Version: esv1.VaultKVStoreV2,
			CAProvider: &esv1.CAProvider{Type: esv1.CAProviderTypeSecret, Name: a.Vault.Secret.Name, Namespace: &ns, Key: "ca.crt"},
			Auth: &esv1.VaultAuth{Kubernetes: &esv1.VaultKubernetesAuth{
				Path: "kubernetes", Role: "external-secrets",
				ServiceAccountRef: &esv1.ServiceAccountSelector{Name: "external-secrets", Namespace: &operatorNS},
			}},
		}}},
	}
	objs := []upstream.NamedObject{{Name: name + "-store", Object: store}}
	for _, sec := range a.Secrets {
		var data []esv1.ExternalSecretData
		for _, k := range slices.Sorted(maps.Keys(sec.Keys)) {
			data = append(data, esv1.ExternalSecretData{SecretKey: k, RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: sec.VaultPath, Property: sec.Keys[k]}})
		}
		target := esv1.ExternalSecretTarget{Name: sec.Name, CreationPolicy: esv1.CreatePolicyOwner, DeletionPolicy: esv1.DeletionPolicyRetain}
		if sec.Merge {
			target.CreationPolicy = esv1.CreatePolicyMerge
		}
		objs = append(objs, upstream.NamedObject{Name: name + "-" + sec.Namespace + "-" + sec.Name, Object: &esv1.ExternalSecret{
			TypeMeta:   metav1.TypeMeta{APIVersion: esv1.GroupVersion, Kind: esv1.ExternalSecretKind},
			ObjectMeta: metav1.ObjectMeta{Namespace: sec.Namespace, Name: sec.Name},
			Spec: esv1.ExternalSecretSpec{
				RefreshInterval: &metav1.Duration{Duration: RefreshInterval},
				SecretStoreRef:  esv1.SecretStoreRef{Name: StoreName, Kind: esv1.ClusterSecretStoreKind},
				Target:          target,
				Data:            data,
			},
		}})
	}
	return objs
}
