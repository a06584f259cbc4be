package policies

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeSettings(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gate.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestLoadSettings(t *testing.T) {
	def, err := DefaultSettings()
	require.NoError(t, err)
	assert.Contains(t, def.AllowedRegistries, "docker.io/library")
	assert.Equal(t, "istio-system", def.MeshRootNamespace)

	s, err := LoadSettings(writeSettings(t, "allowedRegistries: [registry.acme.internal/platform]\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"registry.acme.internal/platform"}, s.AllowedRegistries, "a key given replaces the built-in value")
	assert.Equal(t, "istio-system", s.MeshRootNamespace, "a key left out keeps it")

	for _, tc := range []struct{ name, body, want string }{
		{"unknown key", "allowedRegistry: [a.io]\n", `allowedRegistry: Unsupported value: unknown key (did you mean "allowedRegistries"?)`},
		{"wrong type", "allowedRegistries: a.io\n", "allowedRegistries"},
		{"empty list", "allowedRegistries: []\n", "allowedRegistries: Required value"},
		{"scheme", "allowedRegistries: [https://a.io]\n", "allowedRegistries[0]: Invalid value: \"https://a.io\": a registry prefix has no scheme"},
		{"tag", "allowedRegistries: [a.io/app:1.0]\n", "allowedRegistries[0]: Invalid value: \"a.io/app:1.0\": a registry prefix has no tag or digest"},
		{"namespace", "meshRootNamespace: Istio_System\n", "meshRootNamespace: Invalid value: \"Istio_System\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeSettings(t, tc.body)
			_, err := LoadSettings(f)
			require.Error(t, err)
			var in *InputError
			assert.ErrorAs(t, err, &in)
			assert.Contains(t, err.Error(), "settings "+f)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = LoadSettings(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorContains(t, err, "missing.yaml")
}

// TestSettingsFileAllowsPrivateRegistry: a user's private registry is a
// settings file away, not an edit inside the checkout, and the report
// names the file.
func TestSettingsFileAllowsPrivateRegistry(t *testing.T) {
	g, err := LoadManifests(filepath.Join("testdata", "cases", "x14-image-lookalike-registry.yaml"))
	require.NoError(t, err)
	rules := func(rep *Report) []string {
		var ids []string
		for _, f := range rep.Findings {
			ids = append(ids, f.RuleID)
		}
		return ids
	}

	builtin, err := newEngine(t).Check(context.Background(), g, "prod")
	require.NoError(t, err)
	assert.Contains(t, rules(builtin), "CS-SEC-007")
	assert.Equal(t, BuiltinSettings, builtin.Settings)

	file := writeSettings(t, "allowedRegistries: [docker.io.evil.example/library]\n")
	s, err := LoadSettings(file)
	require.NoError(t, err)
	e, err := New(WithSettings(s, file))
	require.NoError(t, err)
	rep, err := e.Check(context.Background(), g, "prod")
	require.NoError(t, err)
	assert.NotContains(t, rules(rep), "CS-SEC-007")
	assert.Equal(t, file, rep.Settings)
	assert.Zero(t, rep.Mandatory())
}
