package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services/config"
)

// variables lists the environment variables t's tagged fields read, with
// the prefixes of nested structs, as caarlos0/env walks them.
func variables(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if key != "" && key != "-" {
			out = append(out, prefix+key)
		}
		if f.Type.Kind() == reflect.Struct && key == "" {
			out = append(out, variables(f.Type, prefix+f.Tag.Get("envPrefix"))...)
		}
	}
	return out
}

// TestDocListsEveryVariable: doc.go's tables name exactly the variables
// Config reads.
func TestDocListsEveryVariable(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^//\t([A-Z][A-Z0-9_]+)\s`).FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	read := variables(reflect.TypeFor[Config](), "")
	slices.Sort(read)
	slices.Sort(documented)
	assert.Equal(t, read, documented)
}

// setenv sets the worker's variables for one case: every variable Config
// reads is cleared first, then env applied.
func setenv(t *testing.T, env map[string]string) {
	for _, k := range variables(reflect.TypeFor[Config](), "") {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	password := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(password, []byte("s3cret-value\n"), 0o600))
	valid := map[string]string{
		"POSTGRES_URL": "postgres://worker@pooler:5432/orders", "POSTGRES_PASSWORD_FILE": password,
		"RABBITMQ_URL": "amqp://rabbitmq:5672/", "REDIS_STATE_ADDR": "redis:6379",
	}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range valid {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(env, kv[i])
			} else {
				env[kv[i]] = kv[i+1]
			}
		}
		return env
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		wants []string // variables the error names; none: valid
	}{
		{"valid", valid, nil},
		{"nothing set", map[string]string{}, []string{"POSTGRES_URL", "RABBITMQ_URL", "REDIS_STATE_ADDR"}},
		{"prefetch 0", with("PREFETCH", "0"), []string{"PREFETCH"}},
		{"prefetch not a number", with("PREFETCH", "many"), []string{"PREFETCH"}},
		{"queue list with spaces", with("QUEUES", "orders.created, orders.express"), []string{"QUEUES"}},
		{"sentinels without master", with("REDIS_STATE_ADDR", "", "REDIS_STATE_SENTINELS", "s1:26379,s2:26379"), []string{"REDIS_STATE_MASTER"}},
		{"password file missing", with("POSTGRES_PASSWORD_FILE", filepath.Join(dir, "none")), []string{"POSTGRES_PASSWORD_FILE"}},
		{"broker host without credentials", with("RABBITMQ_URL", "", "RABBITMQ_HOST", "rabbitmq"), []string{"RABBITMQ_PASSWORD_FILE"}},
		{"negative retry window", with("RETRY_WINDOW", "-1s"), []string{"RETRY_WINDOW"}},
		{"bad log level", with("LOG_LEVEL", "LOUD"), []string{"LOG_LEVEL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setenv(t, tc.env)
			cfg := Config{Service: config.Service{Name: "order-worker"}}
			err := config.Load(&cfg)
			if tc.wants == nil {
				require.NoError(t, err)
				assert.Equal(t, []string{"orders.created", "orders.express"}, cfg.Queues)
				assert.Equal(t, 16, cfg.Prefetch)
				assert.Equal(t, "s3cret-value", cfg.Postgres.Password)
				assert.Equal(t, "order-worker", cfg.Name)
				return
			}
			require.Error(t, err)
			for _, v := range tc.wants {
				assert.Contains(t, err.Error(), v)
			}
			assert.NotContains(t, err.Error(), "s3cret-value")
		})
	}
}
