package infra

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

func TestExecKubeconfig(t *testing.T) {
	kc, err := ExecKubeconfig("c1", "https://10.0.0.2", "Q0E=", "aws", []string{"eks", "get-token", "--cluster-name", "c1"}, false)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(kc), &cfg))
	assert.Equal(t, "c1", cfg["current-context"])
	cluster := cfg["clusters"].([]any)[0].(map[string]any)["cluster"].(map[string]any)
	assert.Equal(t, "https://10.0.0.2", cluster["server"])
	exec := cfg["users"].([]any)[0].(map[string]any)["user"].(map[string]any)["exec"].(map[string]any)
	assert.Equal(t, "aws", exec["command"])
	assert.Equal(t, []any{"eks", "get-token", "--cluster-name", "c1"}, exec["args"])
	assert.NotContains(t, kc, "token:", "no static credential")

	_, err = ExecKubeconfig("c2", "", "Q0E=", "x", nil, true)
	assert.EqualError(t, err, "kubeconfig for c2: endpoint and certificate authority are required")
}
