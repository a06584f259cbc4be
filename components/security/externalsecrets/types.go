// Package externalsecrets holds the External Secrets Operator's API types
// (v1, v1alpha1 and the v1alpha1 generators), only the fields the platform
// writes, with the operator's JSON names at v0.19.2.
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

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The API versions these types are served at.
const (
	// GroupVersion serves ClusterSecretStore and ExternalSecret.
	GroupVersion = "external-secrets.io/v1"
	// AlphaGroupVersion serves PushSecret (v0.19.2 serves it at
	// v1alpha1 only).
	AlphaGroupVersion = "external-secrets.io/v1alpha1"
	// GeneratorsGroupVersion serves the generators (Password).
	GeneratorsGroupVersion = "generators.external-secrets.io/v1alpha1"
)

// Kinds of the API.
const (
	ClusterSecretStoreKind = "ClusterSecretStore"
	ExternalSecretKind     = "ExternalSecret"
	PushSecretKind         = "PushSecret"
	PasswordKind           = "Password"
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
	// DataFrom fetches every key of a source at once: here a generator's
	// output (a Password generator writes the key "password").
	DataFrom []ExternalSecretDataFromRemoteRef `json:"dataFrom,omitempty"`
}

// ExternalSecretDataFromRemoteRef is one dataFrom source; only a
// generator (sourceRef.generatorRef) is written by the platform.
type ExternalSecretDataFromRemoteRef struct {
	SourceRef *StoreGeneratorSourceRef `json:"sourceRef,omitempty"`
}

// StoreGeneratorSourceRef names a store or a generator as a source.
type StoreGeneratorSourceRef struct {
	GeneratorRef *GeneratorRef `json:"generatorRef,omitempty"`
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
	// Template, when set, writes the Secret's keys from templates over the
	// values read, instead of the values as read.
	Template *ExternalSecretTemplate `json:"template,omitempty"`
}

// TemplateEngineV2 is the operator's template engine (Go templates with
// Sprig); the only one v0.19.2 accepts.
const TemplateEngineV2 = "v2"

// ExternalSecretTemplate is a blueprint of the written Secret: each Data
// entry is a template over the values read, by their secretKey (for
// example "redis://:{{ .password }}@host:6379").
type ExternalSecretTemplate struct {
	// Type is the Secret's type (Opaque when empty).
	Type          corev1.SecretType `json:"type,omitempty"`
	EngineVersion string            `json:"engineVersion,omitempty"`
	// Data are the Secret's keys and their templates.
	Data map[string]string `json:"data,omitempty"`
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

// PushSecret writes a Secret's keys, or a generator's output, to secret
// stores (external-secrets.io/v1alpha1).
type PushSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PushSecretSpec `json:"spec"`
}

// PushSecret update policies: what a refresh does to a value the store
// already holds.
const (
	// UpdatePolicyReplace pushes again at every refresh. With a generator
	// as the source, every refresh generates and pushes a new value: a
	// password would change every RefreshInterval.
	UpdatePolicyReplace = "Replace"
	// UpdatePolicyIfNotExists pushes only a key the store does not hold,
	// so a generated password is generated once and kept.
	UpdatePolicyIfNotExists = "IfNotExists"
)

// PushSecret deletion policies: what deleting the PushSecret (or
// dropping a key from it) does to the store.
const (
	PushDeletionPolicyDelete = "Delete"
	PushDeletionPolicyNone   = "None"
)

// PushSecretSpec is what is pushed, from where, to which stores.
type PushSecretSpec struct {
	// RefreshInterval is how often the operator pushes again (its default
	// is 1h).
	RefreshInterval *metav1.Duration     `json:"refreshInterval,omitempty"`
	SecretStoreRefs []PushSecretStoreRef `json:"secretStoreRefs"`
	// UpdatePolicy is UpdatePolicyReplace (the operator's default) or
	// UpdatePolicyIfNotExists.
	UpdatePolicy string `json:"updatePolicy,omitempty"`
	// DeletionPolicy is PushDeletionPolicyNone (the operator's default) or
	// PushDeletionPolicyDelete.
	DeletionPolicy string             `json:"deletionPolicy,omitempty"`
	Selector       PushSecretSelector `json:"selector"`
	Data           []PushSecretData   `json:"data,omitempty"`
}

// PushSecretStoreRef names a store to push to; Kind is SecretStore (the
// operator's default) or ClusterSecretStoreKind.
type PushSecretStoreRef struct {
	Name string `json:"name,omitempty"`
	Kind string `json:"kind,omitempty"`
}

// PushSecretSelector is the source: exactly one of a Secret in the
// PushSecret's namespace or a generator.
type PushSecretSelector struct {
	Secret       *PushSecretSecret `json:"secret,omitempty"`
	GeneratorRef *GeneratorRef     `json:"generatorRef,omitempty"`
}

// PushSecretSecret names the Secret pushed.
type PushSecretSecret struct {
	Name string `json:"name,omitempty"`
}

// GeneratorRef names a generator in the PushSecret's namespace, for
// example a Password (APIVersion GeneratorsGroupVersion, Kind
// PasswordKind).
type GeneratorRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

// PushSecretData is one key pushed.
type PushSecretData struct {
	Match PushSecretMatch `json:"match"`
}

// PushSecretMatch is the source's key (a Password generator's is
// "password") and where in the store it goes.
type PushSecretMatch struct {
	SecretKey string              `json:"secretKey,omitempty"`
	RemoteRef PushSecretRemoteRef `json:"remoteRef"`
}

// PushSecretRemoteRef is the store's key and, for a store of key/value
// documents such as Vault KV, the property in it.
type PushSecretRemoteRef struct {
	RemoteKey string `json:"remoteKey"`
	Property  string `json:"property,omitempty"`
}

// Password generates a random password under the key "password"
// (generators.external-secrets.io/v1alpha1).
type Password struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PasswordSpec `json:"spec"`
}

// PasswordSpec is the password's shape. Length, NoUpper and AllowRepeat
// are always written (the operator's JSON has no omitempty on them; its
// defaults are 24, false, false).
type PasswordSpec struct {
	Length int `json:"length"`
	// Digits and Symbols are how many of each (the operator picks when
	// nil: a quarter of the length each).
	Digits  *int `json:"digits,omitempty"`
	Symbols *int `json:"symbols,omitempty"`
	// SymbolCharacters are the symbols drawn from (the operator's default
	// is ~!@#$%^&*()_+`-={}|[]\:"<>?,./, which includes characters that
	// must be escaped in a URL's userinfo, such as @ : / ?).
	SymbolCharacters *string `json:"symbolCharacters,omitempty"`
	NoUpper          bool    `json:"noUpper"`
	AllowRepeat      bool    `json:"allowRepeat"`
}
