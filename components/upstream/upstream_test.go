package upstream

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cloudnative-pg/cloudnative-pg/pkg/versions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

func TestEveryChartIsPinned(t *testing.T) {
	for _, c := range []Chart{IstioBase, IstioCNI, Istiod, CertManager, Vault, ExternalSecrets, ChaosMesh, CloudNativePG, BarmanCloud, PrometheusOperatorCRDs,
		PerconaMongoDB, RabbitMQClusterOperator, RabbitMQTopologyOperator, KubePrometheusStack, ECKOperator, OpenTelemetryOperator, FluentBit} {
		assert.NoError(t, c.Validate(), c.Name)
	}
	cases := []struct {
		chart Chart
		want  string
	}{
		{Chart{Name: "x", Repo: "https://charts.example", Version: "1.2"}, `chart x: version "1.2" is not an exact version (x.y.z)`},
		{Chart{Name: "x", Repo: "https://charts.example", Version: "^1.2.0"}, `chart x: version "^1.2.0" is not an exact version (x.y.z)`},
		{Chart{Name: "x", Repo: "http://charts.example", Version: "1.2.3"}, `chart x: repository "http://charts.example" is not an https URL`},
		{Chart{Name: "x", Version: "1.2.3", Manifest: "https://example.com/releases/download/v1.2.4/x.yml"}, `chart x: manifest "https://example.com/releases/download/v1.2.4/x.yml" is not an https URL of release v1.2.3`},
		{Chart{Name: "x", Version: "1.2.3", Manifest: "http://example.com/releases/download/v1.2.3/x.yml"}, `chart x: manifest "http://example.com/releases/download/v1.2.3/x.yml" is not an https URL of release v1.2.3`},
	}
	for _, tc := range cases {
		assert.EqualError(t, tc.chart.Validate(), tc.want)
	}
}

// chartsWithKinds are the charts whose kinds the platform writes.
var chartsWithKinds = []Chart{IstioBase, CertManager, ExternalSecrets, ChaosMesh, CloudNativePG, BarmanCloud, PrometheusOperatorCRDs,
	PerconaMongoDB, RabbitMQClusterOperator, RabbitMQTopologyOperator, ECKOperator, OpenTelemetryOperator}

// Every kind the charts define for the platform's objects has a
// definition with its group, names, versions and scope; the generated ones
// carry the operator's schema, the open ones say so.
func TestDefinitionsOfEveryChartKind(t *testing.T) {
	for _, c := range chartsWithKinds {
		for _, k := range c.Kinds {
			crd, err := Definition(k)
			require.NoError(t, err, k.Kind)
			assert.Equal(t, k.Plural+"."+k.Group, crd.Name)
			assert.Equal(t, k.Kind, crd.Spec.Names.Kind)
			assert.Equal(t, k.Namespaced, crd.Spec.Scope == apiextensionsv1.NamespaceScoped, "%s scope", k.Kind)
			var served []string
			for _, v := range crd.Spec.Versions {
				served = append(served, v.Name)
			}
			assert.Subset(t, served, k.Versions, k.Kind)
			schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
			if k.Generated {
				assert.NotContains(t, crd.Labels, OpenSchemaLabel, k.Kind)
				assert.Contains(t, schema.Properties, "spec", "%s: the operator's schema", k.Kind)
			} else {
				assert.Equal(t, "true", crd.Labels[OpenSchemaLabel], k.Kind)
				assert.True(t, *schema.XPreserveUnknownFields, k.Kind)
			}
		}
	}
	_, err := Definition(Kind{Group: "example.io", Kind: "Widget", Plural: "widgets", Versions: []string{"v1"}, Generated: true})
	assert.ErrorContains(t, err, "kind Widget: no generated definition crds/example.io_widgets.yaml; run `make crds`")
}

// Every generated file is one a kind uses: `make crds` keeps no others.
func TestNoUnusedGeneratedDefinitions(t *testing.T) {
	used := map[string]bool{}
	for _, c := range chartsWithKinds {
		for _, k := range c.Kinds {
			if k.Generated {
				used[k.Group+"_"+k.Plural+".yaml"] = true
			}
		}
	}
	files, err := generated.ReadDir("crds")
	require.NoError(t, err)
	for _, f := range files {
		assert.True(t, used[f.Name()], "%s is not a kind the platform writes", f.Name())
	}
	assert.Len(t, files, len(used))
}

// The committed definitions are what controller-gen writes today from the
// operators' types at the pinned versions (scripts/crds.sh).
func TestGeneratedDefinitionsAreCurrent(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, ".cloudscale/bin/controller-gen"))
	require.NoError(t, err, "controller-gen is missing: run `make tools` (the README's `make test` does)")
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts/crds.sh"), out)
	cmd.Dir = root
	logs, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", logs)
	files, err := generated.ReadDir("crds")
	require.NoError(t, err)
	for _, f := range files {
		want, err := generated.ReadFile("crds/" + f.Name())
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(out, f.Name()))
		require.NoError(t, err)
		assert.Equal(t, string(got), string(want), "%s is stale: run `make crds`", f.Name())
	}
}

// The data tier's images follow the CloudNativePG release go.mod pins:
// its PgBouncer, and a PostgreSQL 17 of an image flavour it publishes.
func TestDataTierImages(t *testing.T) {
	assert.Equal(t, versions.DefaultPgbouncerImage, PgBouncerImage)
	assert.Regexp(t, `^ghcr\.io/cloudnative-pg/postgresql:17\.[0-9]+-(minimal|standard)-trixie$`, PostgresImage)
	assert.Regexp(t, `^ghcr\.io/cloudnative-pg/postgresql:[0-9]+\.[0-9]+-[a-z]+-trixie$`, versions.DefaultImageName,
		"CloudNativePG's default image moved to another Debian release: move PostgresImage with it")
	assert.Regexp(t, `^docker\.io/valkey/valkey:[0-9]+\.[0-9]+\.[0-9]+$`, ValkeyImage)
}

// The PerconaServerMongoDB definition keeps the operator's schema for
// every field the platform writes and any value where it writes none.
func TestOpaqueProperties(t *testing.T) {
	k := PerconaMongoDB.Kinds[0]
	crd, err := Definition(k)
	require.NoError(t, err)
	data, err := json.Marshal(crd)
	require.NoError(t, err)
	assert.Less(t, len(data), 150_000, "the pruned definition's size")
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	rs := spec.Properties["replsets"].Items.Schema
	assert.True(t, *rs.Properties["arbiter"].XPreserveUnknownFields)
	assert.Equal(t, "array", rs.Properties["sidecars"].Type)
	assert.True(t, *rs.Properties["sidecars"].Items.Schema.XPreserveUnknownFields)
	// What the platform writes is still checked.
	assert.Contains(t, rs.Properties, "size")
	assert.Equal(t, "integer", rs.Properties["size"].Type)
	assert.Contains(t, rs.Properties["affinity"].Properties, "antiAffinityTopologyKey")
	cfg := spec.Properties["sharding"].Properties["configsvrReplSet"]
	assert.True(t, *cfg.Properties["hidden"].XPreserveUnknownFields)
	// The cached definition is not pruned twice or shared.
	again, err := Definition(k)
	require.NoError(t, err)
	assert.Equal(t, crd, again)
}
