package policies

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/graph"
)

func TestManifestsMultiDocListsAndComments(t *testing.T) {
	g, err := LoadManifests("testdata/multi.yaml")
	require.NoError(t, err)
	var types []string
	for _, r := range g.Resources {
		types = append(types, r.Type+" "+r.Name)
	}
	assert.Equal(t, []string{
		"kubernetes:core/v1:ConfigMap shop/settings",
		"kubernetes:core/v1:Service shop/web",
		"kubernetes:apps/v1:Deployment shop/web",
	}, types, "empty and comment-only documents are skipped; List items are unpacked")
	assert.Equal(t, "testdata/multi.yaml#2:core/ConfigMap:shop/settings", g.Resources[0].URN)

	rep, err := newEngine(t).Check(context.Background(), g, "prod")
	require.NoError(t, err)
	ids := map[string]bool{}
	for _, f := range rep.Findings {
		ids[f.RuleID] = true
	}
	for _, id := range []string{"CS-NET-006", "CS-SEC-006", "CS-HA-004", "CS-NET-004"} {
		assert.True(t, ids[id], "%s fires on the manifests", id)
	}
}

func TestManifestErrors(t *testing.T) {
	_, err := LoadManifests("testdata/nope.yaml")
	var ie *InputError
	require.True(t, errors.As(err, &ie))
	assert.EqualError(t, err, "testdata/nope.yaml: no such file or directory")

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	raw, _ := os.ReadFile("testdata/invalid.yaml.txt")
	require.NoError(t, os.WriteFile(bad, raw, 0o644))
	_, err = LoadManifests(dir)
	require.True(t, errors.As(err, &ie))
	assert.Contains(t, err.Error(), bad+": document 1: invalid YAML")

	notK8s := filepath.Join(dir, "x.yaml")
	require.NoError(t, os.Remove(bad))
	require.NoError(t, os.WriteFile(notK8s, []byte("foo: bar\n"), 0o644))
	_, err = LoadManifests(dir)
	assert.EqualError(t, err, notK8s+": document 1: not a Kubernetes object: apiVersion and kind are required")
}

func TestPulumiJSONFormats(t *testing.T) {
	cases := []struct {
		file, wantType, wantName string
		n                        int
	}{
		{"testdata/export.json", "aws:kms/key:Key", "secrets", 2},
		{"testdata/preview.json", "gcp:storage/bucket:Bucket", "logs", 1},
		{"testdata/events.jsonl", "kubernetes:core/v1:Service", "web", 1},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			g, err := LoadPulumiJSON(tc.file)
			require.NoError(t, err)
			require.Len(t, g.Resources, tc.n, "the stack resource and deleted steps are left out")
			assert.Equal(t, tc.wantType, g.Resources[0].Type)
			assert.Equal(t, tc.wantName, g.Resources[0].Name)
		})
	}
	g, err := LoadPulumiJSON("testdata/export.json")
	require.NoError(t, err)
	assert.Equal(t, graph.SecretValue, g.Resources[0].Inputs["policy"], "secrets stay hidden")
	rep, err := newEngine(t).Check(context.Background(), g, "prod")
	require.NoError(t, err)
	var msgs []string
	for _, f := range rep.Findings {
		msgs = append(msgs, f.RuleID+": "+f.Message)
	}
	assert.Contains(t, msgs, "CS-ENC-002: KMS key secrets rotates every 365 days; at most 90 allowed")
	assert.Contains(t, msgs, `CS-NET-001: EKS cluster eks has a public endpoint open to ["0.0.0.0/0"]`)
	assert.Contains(t, msgs, "CS-ENC-001: EKS cluster eks has no KMS envelope encryption for secrets")

	_, err = LoadPulumiJSON("testdata/unknown.json")
	assert.EqualError(t, err, "testdata/unknown.json: unknown format: want `pulumi stack export` JSON (a deployment key), `pulumi preview --json` (steps) or engine events (JSON lines)")
	_, err = LoadPulumiJSON("testdata/multi.yaml")
	assert.ErrorContains(t, err, "testdata/multi.yaml: line 1: invalid JSON")
	_, err = LoadPulumiJSON("testdata/missing.json")
	assert.EqualError(t, err, "testdata/missing.json: no such file or directory")
}
