// Package externalsecrets holds the External Secrets Operator's v1 API
// types, only the fields the platform writes, with the operator's JSON
// names.
//
// They are the project's own because the operator's module cannot be
// built here: github.com/external-secrets/external-secrets v0.19.2 (the
// chart's version) and v0.20.4 (the newest the module proxy serves whole)
// compile only against controller-runtime 0.21-0.22 (their webhooks call
// ctrl.NewWebhookManagedBy(mgr), which 0.23 changed), and k8s.io/* 0.35
// needs controller-runtime 0.23; v1.x is refused by the proxy. The CRDs
// the local stack installs are still generated from the operator's own
// types (scripts/crds.sh), so the API server checks these objects against
// the operator's schema.
package externalsecrets

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GroupVersion is the API version these types are served at.
const GroupVersion = "external-secrets.io/v1"

// Kinds of the API.
const (
	ClusterSecretStoreKind = "ClusterSecretStore"
	ExternalSecretKind     = "ExternalSecret"
)

// ClusterSecretStore is a cluster-wide secret provider.
type ClusterSecretStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              SecretStoreSpec `json:"spec"`
}

// SecretStoreSpec names the provider.
type SecretStoreSpec struct {
	Provider *SecretStoreProvider `json:"provider"`
}

// SecretStoreProvider is one of the operator's providers: Vault here.
type SecretStoreProvider struct {
	Vault *VaultProvider `json:"vault,omitempty"`
}

// VaultKVStoreVersion is the KV secrets engine version.
type VaultKVStoreVersion string

// VaultKVStoreV2 is KV version 2.
const VaultKVStoreV2 VaultKVStoreVersion = "v2"

// VaultProvider reads a Vault KV engine.
type VaultProvider struct {
	Auth       *VaultAuth          `json:"auth,omitempty"`
	Server     string              `json:"server"`
	Path       *string             `json:"path,omitempty"`
	Version    VaultKVStoreVersion `json:"version"`
	CAProvider *CAProvider         `json:"caProvider,omitempty"`
}

// CAProviderTypeSecret reads the CA from a Secret.
const CAProviderTypeSecret = "Secret"

// CAProvider is where the provider's CA certificate is kept.
type CAProvider struct {
	Type      string  `json:"type"`
	Name      string  `json:"name"`
	Key       string  `json:"key,omitempty"`
	Namespace *string `json:"namespace,omitempty"`
}

// VaultAuth is how the operator logs in to Vault: Kubernetes auth here.
type VaultAuth struct {
	Kubernetes *VaultKubernetesAuth `json:"kubernetes,omitempty"`
}

// VaultKubernetesAuth logs in with a service account's token.
type VaultKubernetesAuth struct {
	// Path is the auth method's mount path.
	Path              string                  `json:"mountPath"`
	ServiceAccountRef *ServiceAccountSelector `json:"serviceAccountRef,omitempty"`
	Role              string                  `json:"role"`
}

// ServiceAccountSelector names a service account.
type ServiceAccountSelector struct {
	Name      string  `json:"name"`
	Namespace *string `json:"namespace,omitempty"`
}

// ExternalSecret delivers provider values into a Kubernetes Secret.
type ExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ExternalSecretSpec `json:"spec"`
}

// ExternalSecretSpec is what to read, from where, into which Secret.
type ExternalSecretSpec struct {
	SecretStoreRef  SecretStoreRef       `json:"secretStoreRef,omitempty"`
	Target          ExternalSecretTarget `json:"target,omitempty"`
	RefreshInterval *metav1.Duration     `json:"refreshInterval,omitempty"`
	Data            []ExternalSecretData `json:"data,omitempty"`
}

// SecretStoreRef names a (Cluster)SecretStore.
type SecretStoreRef struct {
	Name string `json:"name,omitempty"`
	Kind string `json:"kind,omitempty"`
}

// Creation and deletion policies of the target Secret.
const (
	CreatePolicyOwner    = "Owner"
	CreatePolicyMerge    = "Merge"
	DeletionPolicyRetain = "Retain"
)

// ExternalSecretTarget is the Secret written.
type ExternalSecretTarget struct {
	Name           string `json:"name,omitempty"`
	CreationPolicy string `json:"creationPolicy,omitempty"`
	DeletionPolicy string `json:"deletionPolicy,omitempty"`
}

// ExternalSecretData is one key of the Secret and where its value is read.
type ExternalSecretData struct {
	SecretKey string                      `json:"secretKey"`
	RemoteRef ExternalSecretDataRemoteRef `json:"remoteRef"`
}

// ExternalSecretDataRemoteRef is a provider key and property.
type ExternalSecretDataRemoteRef struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
}
