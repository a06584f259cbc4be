package strict

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type item struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

type doc struct {
	Version string            `json:"version"`
	Items   []item            `json:"items"`
	Labels  map[string]string `json:"labels,omitempty"`
	Inner   struct {
		Enabled bool `json:"enabled"`
	} `json:"inner"`
}

func messages(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestDecode(t *testing.T) {
	root := field.NewPath("cfg")
	cases := []struct {
		name, in string
		want     []string
	}{
		{"valid", `{"version":"1.30","items":[{"name":"a","port":1}],"inner":{"enabled":true}}`, nil},
		{"every unknown key, with its path and the closest known one", `{"vresion":"1","items":[{"name":"a","prot":1}],"inner":{"enable":true}}`, []string{
			`cfg.vresion: Unsupported value: unknown key (did you mean "version"?); allowed: version, items, labels, inner`,
			`cfg.items[0].prot: Unsupported value: unknown key (did you mean "port"?); allowed: name, port`,
			`cfg.inner.enable: Unsupported value: unknown key (did you mean "enabled"?); allowed: enabled`,
		}},
		{"keys match case-sensitively", `{"Version":"1"}`, []string{
			`cfg.Version: Unsupported value: unknown key (did you mean "version"?); allowed: version, items, labels, inner`,
		}},
		{"duplicate key", `{"version":"1","version":"2"}`, []string{`cfg.version: Duplicate value`}},
		{"a YAML number for text", `{"version":1.3}`, []string{
			`cfg.version: Invalid value: "1.3": a number where text is expected; quote it ("1.3"), since YAML reads 1.30 as 1.3`,
		}},
		{"text for a number", `{"items":[{"port":"http"}]}`, []string{`cfg.items.port: Invalid value: string where an integer is expected`}},
		{"a list for an object", `{"inner":[]}`, []string{`cfg.inner: Invalid value: array where an object is expected`}},
		{"syntax", `{"version":`, []string{`cfg: Invalid value: invalid JSON at offset 11`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d doc
			assert.Equal(t, tc.want, messages(Decode([]byte(tc.in), &d, root)))
		})
	}
}

func TestDecodeKeepsDefaultsForAbsentKeys(t *testing.T) {
	d := doc{Version: "1.33", Items: []item{{Name: "x"}}}
	require.Empty(t, Decode([]byte(`{"inner":{"enabled":true}}`), &d, nil))
	assert.Equal(t, "1.33", d.Version)
	assert.True(t, d.Inner.Enabled)
}

func TestDecodeYAML(t *testing.T) {
	var d doc
	require.Empty(t, DecodeYAML([]byte("version: \"1.30\"\nitems:\n  - {name: a, port: 80}\n"), &d, nil))
	assert.Equal(t, []item{{Name: "a", Port: 80}}, d.Items)
	errs := DecodeYAML([]byte("items: [\n"), &d, field.NewPath("file.yaml"))
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "file.yaml: Invalid value: invalid YAML")
}

func TestKeys(t *testing.T) {
	assert.Equal(t, []string{"version", "items", "labels", "inner"}, Keys(reflect.TypeFor[*doc]()))
	assert.Nil(t, Keys(reflect.TypeFor[string]()))
}
