package externalsecrets_test

import (
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/security/externalsecrets"
	"github.com/cloudscale/platform/components/upstream"
)

// A Redis password generated in the cluster, kept in Vault, and read back
// into the Secret the clients mount: the objects the Redis tier writes.
var (
	password = externalsecrets.Password{
		TypeMeta:   metav1.TypeMeta{APIVersion: externalsecrets.GeneratorsGroupVersion, Kind: externalsecrets.PasswordKind},
		ObjectMeta: metav1.ObjectMeta{Name: "redis-password", Namespace: "data"},
		Spec: externalsecrets.PasswordSpec{
			Length: 32, Digits: ptr.To(6), Symbols: ptr.To(0), SymbolCharacters: ptr.To("-_"),
		},
	}
	push = externalsecrets.PushSecret{
		TypeMeta:   metav1.TypeMeta{APIVersion: externalsecrets.AlphaGroupVersion, Kind: externalsecrets.PushSecretKind},
		ObjectMeta: metav1.ObjectMeta{Name: "redis-password", Namespace: "data"},
		Spec: externalsecrets.PushSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: time.Hour},
			SecretStoreRefs: []externalsecrets.PushSecretStoreRef{{Name: "vault", Kind: externalsecrets.ClusterSecretStoreKind}},
			UpdatePolicy:    externalsecrets.UpdatePolicyIfNotExists,
			DeletionPolicy:  externalsecrets.PushDeletionPolicyNone,
			Selector: externalsecrets.PushSecretSelector{GeneratorRef: &externalsecrets.GeneratorRef{
				APIVersion: externalsecrets.GeneratorsGroupVersion, Kind: externalsecrets.PasswordKind, Name: "redis-password",
			}},
			Data: []externalsecrets.PushSecretData{{Match: externalsecrets.PushSecretMatch{
				SecretKey: "password",
				RemoteRef: externalsecrets.PushSecretRemoteRef{RemoteKey: "data/redis", Property: "password"},
			}}},
		},
	}
	store = externalsecrets.ClusterSecretStore{
		TypeMeta:   metav1.TypeMeta{APIVersion: externalsecrets.GroupVersion, Kind: externalsecrets.ClusterSecretStoreKind},
		ObjectMeta: metav1.ObjectMeta{Name: "vault"},
		Spec: externalsecrets.SecretStoreSpec{Provider: &externalsecrets.SecretStoreProvider{Vault: &externalsecrets.VaultProvider{
			Server: "https://vault.security.svc:8200", Path: ptr.To("secret"), Version: externalsecrets.VaultKVStoreV2,
			CAProvider: &externalsecrets.CAProvider{Type: externalsecrets.CAProviderTypeSecret, Name: "vault-tls", Key: "ca.crt", Namespace: ptr.To("security")},
			Auth: &externalsecrets.VaultAuth{Kubernetes: &externalsecrets.VaultKubernetesAuth{
				Path: "kubernetes", Role: "external-secrets",
				ServiceAccountRef: &externalsecrets.ServiceAccountSelector{Name: "external-secrets", Namespace: ptr.To("security")},
			}},
		}}},
	}
	external = externalsecrets.ExternalSecret{
		TypeMeta:   metav1.TypeMeta{APIVersion: externalsecrets.GroupVersion, Kind: externalsecrets.ExternalSecretKind},
		ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: "data"},
		Spec: externalsecrets.ExternalSecretSpec{
			SecretStoreRef: externalsecrets.SecretStoreRef{Name: "vault", Kind: externalsecrets.ClusterSecretStoreKind},
			Target: externalsecrets.ExternalSecretTarget{
				Name: "redis", CreationPolicy: externalsecrets.CreatePolicyOwner,
				Template: &externalsecrets.ExternalSecretTemplate{
					EngineVersion: externalsecrets.TemplateEngineV2,
					Data: map[string]string{
						"password": "{{ .password }}",
						"url":      "redis://:{{ .password }}@redis.data.svc:6379",
					},
				},
			},
			Data: []externalsecrets.ExternalSecretData{{
				SecretKey: "password",
				RemoteRef: externalsecrets.ExternalSecretDataRemoteRef{Key: "data/redis", Property: "password"},
			}},
			DataFrom: []externalsecrets.ExternalSecretDataFromRemoteRef{{SourceRef: &externalsecrets.StoreGeneratorSourceRef{
				GeneratorRef: &externalsecrets.GeneratorRef{APIVersion: externalsecrets.GeneratorsGroupVersion, Kind: externalsecrets.PasswordKind, Name: "redis"},
			}}},
		},
	}
)

func TestMarshalledNames(t *testing.T) {
	cases := []struct {
		name    string
		object  any
		want    []string
		without []string
	}{
		{"Password", password, []string{
			"apiVersion: generators.external-secrets.io/v1alpha1", "kind: Password",
			"length: 32", "digits: 6", "symbols: 0", "symbolCharacters: -_",
			// The operator's JSON has no omitempty here: false is written.
			"noUpper: false", "allowRepeat: false",
		}, nil},
		{"PushSecret", push, []string{
			"apiVersion: external-secrets.io/v1alpha1", "kind: PushSecret",
			"refreshInterval: 1h0m0s", "secretStoreRefs:", "- kind: ClusterSecretStore", "name: vault",
			"updatePolicy: IfNotExists", "deletionPolicy: None",
			"generatorRef:", "apiVersion: generators.external-secrets.io/v1alpha1", "kind: Password",
			"- match:", "secretKey: password", "remoteRef:", "remoteKey: data/redis", "property: password",
		}, []string{"secret:"}},
		{"ExternalSecret", external, []string{
			"apiVersion: external-secrets.io/v1", "kind: ExternalSecret",
			"template:", "engineVersion: v2", "url: redis://:{{ .password }}@redis.data.svc:6379",
		}, nil},
	}
	for _, tc := range cases {
		out, err := yaml.Marshal(tc.object)
		require.NoError(t, err, tc.name)
		for _, w := range tc.want {
			assert.Contains(t, string(out), w, tc.name)
		}
		for _, w := range tc.without {
			assert.NotContains(t, string(out), w, tc.name)
		}
	}
}

// Every field the types write is one the operator's schema defines (the
// CRDs generated from its v0.19.2 types, components/upstream/crds), and
// every field the schema requires is written.
func TestFieldsAreTheOperatorsSchemas(t *testing.T) {
	kinds := map[string]upstream.Kind{}
	for _, k := range upstream.ExternalSecrets.Kinds {
		kinds[k.Kind] = k
	}
	for _, object := range []any{password, push, store, external} {
		data, err := yaml.Marshal(object)
		require.NoError(t, err)
		var tree map[string]any
		require.NoError(t, yaml.Unmarshal(data, &tree))
		kind := tree["kind"].(string)
		k, ok := kinds[kind]
		require.True(t, ok, "%s is not a kind of upstream.ExternalSecrets", kind)
		crd, err := upstream.Definition(k)
		require.NoError(t, err)
		apiVersion := tree["apiVersion"].(string)
		var schema *apiextensionsv1.JSONSchemaProps
		for _, v := range crd.Spec.Versions {
			if k.Group+"/"+v.Name == apiVersion {
				schema = v.Schema.OpenAPIV3Schema
			}
		}
		require.NotNil(t, schema, "%s: the definition serves no %s", kind, apiVersion)
		delete(tree, "metadata")
		checkFields(t, kind, tree, *schema)
	}
}

func checkFields(t *testing.T, path string, value any, schema apiextensionsv1.JSONSchemaProps) {
	t.Helper()
	switch v := value.(type) {
	case map[string]any:
		if len(schema.Properties) == 0 && schema.AdditionalProperties != nil && schema.AdditionalProperties.Schema != nil {
			for key, item := range v {
				checkFields(t, path+"."+key, item, *schema.AdditionalProperties.Schema)
			}
			return
		}
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			sub, ok := schema.Properties[key]
			if !assert.True(t, ok, "%s.%s is not in the operator's schema", path, key) {
				continue
			}
			checkFields(t, path+"."+key, v[key], sub)
		}
		for _, required := range schema.Required {
			_, ok := v[required]
			assert.True(t, ok, "%s.%s is required by the operator's schema", path, required)
		}
	case []any:
		require.NotNil(t, schema.Items, "%s is not a list in the operator's schema", path)
		for i, item := range v {
			checkFields(t, path+"["+strconv.Itoa(i)+"]", item, *schema.Items.Schema)
		}
	}
}
