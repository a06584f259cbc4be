package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services/config"
)

// setenv sets the variables for the test (t.Setenv restores them).
func setenv(t *testing.T, vars map[string]string) {
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func TestConfigLoads(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(pw, []byte("s3cret\n"), 0o600))
	setenv(t, map[string]string{
		"POSTGRES_URL":              "postgres://api@pg-1:5432,pg-2:5432/orders?target_session_attrs=read-write",
		"POSTGRES_PASSWORD_FILE":    pw,
		"REDIS_STATE_SENTINELS":     "s1:26379,s2:26379,s3:26379",
		"REDIS_STATE_MASTER":        "redis-state",
		"REDIS_STATE_PASSWORD_FILE": pw,
		"REDIS_CACHE_ADDR":          "cache:6379",
		"MONGODB_URI":               "mongodb://mongo:27017/",
		"RABBITMQ_HOST":             "rabbitmq",
		"RABBITMQ_USERNAME_FILE":    pw,
		"RABBITMQ_PASSWORD_FILE":    pw,
		"CACHE_TTL":                 "90s",
	})
	cfg := Config{Service: config.Service{Name: "api-service"}}
	require.NoError(t, config.Load(&cfg))
	assert.Equal(t, "s3cret", cfg.Postgres.Password)
	assert.Equal(t, []string{"s1:26379", "s2:26379", "s3:26379"}, cfg.RedisState.Sentinels)
	assert.Equal(t, []string{"name", "description"}, cfg.Mongo.TextIndex)
	assert.Equal(t, 90*time.Second, cfg.CacheTTL)
	assert.Equal(t, 30*time.Minute, cfg.SessionTTL)
	pc, err := cfg.Postgres.PoolConfig()
	require.NoError(t, err)
	assert.Equal(t, "s3cret", pc.ConnConfig.Password)
	hosts := []string{pc.ConnConfig.Host}
	for _, fb := range pc.ConnConfig.Fallbacks {
		hosts = append(hosts, fb.Host)
	}
	assert.Contains(t, hosts, "pg-2", "every host of the URL is tried")
	assert.NotNil(t, pc.ConnConfig.ValidateConnect, "target_session_attrs=read-write checks each server")
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	setenv(t, map[string]string{
		"POSTGRES_HOST":         "pg",
		"REDIS_STATE_SENTINELS": "s1:26379",
		"REDIS_CACHE_ADDR":      "no-port",
		"MONGODB_URI":           "http://mongo",
		"RABBITMQ_URL":          "amqp://rabbit/",
		"CACHE_TTL":             "0s",
		"OUTBOX_RELAY_BATCH":    "0",
	})
	cfg := Config{Service: config.Service{Name: "api-service"}}
	err := config.Load(&cfg)
	require.Error(t, err)
	for _, v := range []string{"POSTGRES_USER", "REDIS_STATE_MASTER", "REDIS_CACHE_ADDR", "MONGODB_URI", "CACHE_TTL", "OUTBOX_RELAY_BATCH"} {
		assert.Contains(t, err.Error(), v+":")
	}
}
