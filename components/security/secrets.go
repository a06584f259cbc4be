package security

import (
	"errors"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/upstream"
)

// ExternalSecretsNamespace is where the External Secrets Operator runs.
const ExternalSecretsNamespace = "external-secrets"

// StoreName is the ClusterSecretStore that reads Vault.
const StoreName = "vault"

// AppSecret is an application secret kept in Vault and delivered into a
// namespace as a Kubernetes Secret by an ExternalSecret: no secret value
// passes through the program, its state or rendered files.
type AppSecret struct {
	Name, Namespace string
	// VaultPath is the KV v2 path under secret/, e.g. "gateway/api-keys".
	VaultPath string
	// Keys maps a key of the Kubernetes Secret to a property at VaultPath.
	Keys map[string]string
	// Merge writes the keys into a Secret that already exists (one the
	// consumer creates with a safe placeholder) instead of creating it.
	Merge bool
}

// SecretsArgs configure External Secrets and the application secrets.
type SecretsArgs struct {
	Mode      upstream.Mode
	Secrets   []AppSecret
	DependsOn []pulumi.Resource
}

// Secrets is the component.
type Secrets struct {
	pulumi.ResourceState

	Store pulumi.StringOutput
}

// RefreshInterval is how often a delivered secret is re-read from Vault,
// so a rotated value arrives without a deploy.
const RefreshInterval = "1h"

// Validate checks the arguments; New registers nothing unless they pass.
func (a *SecretsArgs) Validate() error {
	if a == nil {
		return errors.New("args are required")
	}
	var errs []error
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
	pdb := pulumi.Map{"enabled": pulumi.Bool(true), "minAvailable": pulumi.Int(1)}
	ready, err := upstream.Install(ctx, "external-secrets", upstream.ExternalSecrets, args.Mode, ExternalSecretsNamespace, pulumi.Map{
		"installCRDs":         pulumi.Bool(true),
		"replicaCount":        pulumi.Int(2),
		"leaderElect":         pulumi.Bool(true),
		"podDisruptionBudget": pdb,
		"webhook":             pulumi.Map{"replicaCount": pulumi.Int(2), "podDisruptionBudget": pdb},
		"certController":      pulumi.Map{"replicaCount": pulumi.Int(2), "podDisruptionBudget": pdb},
	}, pulumi.Parent(s), pulumi.DependsOn(args.DependsOn))
	if err != nil {
		return nil, err
	}
	cr := func(res, kind, ns, objName string, spec map[string]any) error {
		_, err := upstream.NewObject(ctx, res, upstream.Object{APIVersion: "external-secrets.io/v1", Kind: kind, Namespace: ns, Name: objName, Spec: spec},
			pulumi.Parent(s), pulumi.DependsOn(ready), pulumi.DependsOn(args.DependsOn))
		return err
	}
	if err := cr(name+"-store", "ClusterSecretStore", "", StoreName, map[string]any{"provider": map[string]any{"vault": map[string]any{
		"server": VaultAddress, "path": "secret", "version": "v2",
		"caProvider": map[string]any{"type": "Secret", "name": VaultTLSSecret, "namespace": VaultNamespace, "key": "ca.crt"},
		"auth": map[string]any{"kubernetes": map[string]any{
			"mountPath": "kubernetes", "role": "external-secrets",
			"serviceAccountRef": map[string]any{"name": "external-secrets", "namespace": ExternalSecretsNamespace},
		}},
	}}}); err != nil {
		return nil, err
	}
	for _, sec := range args.Secrets {
		var data []any
		keys := make([]string, 0, len(sec.Keys))
		for k := range sec.Keys {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			data = append(data, map[string]any{"secretKey": k, "remoteRef": map[string]any{"key": sec.VaultPath, "property": sec.Keys[k]}})
		}
		target := map[string]any{"name": sec.Name, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
		if sec.Merge {
			target["creationPolicy"] = "Merge"
		}
		if err := cr(name+"-"+sec.Namespace+"-"+sec.Name, "ExternalSecret", sec.Namespace, sec.Name, map[string]any{
			"refreshInterval": RefreshInterval,
			"secretStoreRef":  map[string]any{"name": StoreName, "kind": "ClusterSecretStore"},
			"target":          target,
			"data":            data,
		}); err != nil {
			return nil, err
		}
	}
	s.Store = pulumi.String(StoreName).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{"store": s.Store}); err != nil {
		return nil, err
	}
	return s, nil
}
