package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testConfig is a service's configuration: Service embedded, a required
// URL, a secret file, a nested struct with a prefix.
type testConfig struct {
	Service
	DatabaseURL string `env:"DATABASE_URL,required"`
	Password    string `env:"DATABASE_PASSWORD_FILE,file,required"`
	PoolSize    int    `env:"POOL_SIZE" envDefault:"4"`
	Cache       struct {
		TTL time.Duration `env:"TTL" envDefault:"30s"`
	} `envPrefix:"CACHE_"`
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// TestLoadDefaultsAndSecrets: defaults fill what is unset, a preset Name
// survives, the secret is the file's content (its newline dropped).
func TestLoadDefaultsAndSecrets(t *testing.T) {
	secret := writeFile(t, "s3cr3t\n")
	cfg := testConfig{Service: Service{Name: "api-service"}}
	require.NoError(t, load(&cfg, map[string]string{
		"DATABASE_URL":           "postgres://pgbouncer:6432/orders",
		"DATABASE_PASSWORD_FILE": secret,
		"CACHE_TTL":              "1m",
		"LOG_LEVEL":              "debug",
	}))
	assert.Equal(t, "api-service", cfg.Name)
	assert.Equal(t, "dev", cfg.Version)
	assert.Equal(t, ":8080", cfg.Listen)
	assert.Equal(t, slog.LevelDebug, cfg.LogLevel)
	assert.Empty(t, cfg.OTLPEndpoint)
	assert.InDelta(t, 1.0, cfg.TraceSampling, 0)
	assert.Equal(t, 20*time.Second, cfg.ShutdownTimeout)
	assert.Equal(t, 5*time.Second, cfg.DrainDelay)
	assert.Equal(t, "s3cr3t", cfg.Password)
	assert.Equal(t, 4, cfg.PoolSize)
	assert.Equal(t, time.Minute, cfg.Cache.TTL)
}

// TestLoadFromProcessEnvironment: Load reads the process environment and
// SERVICE_NAME overrides the preset name.
func TestLoadFromProcessEnvironment(t *testing.T) {
	t.Setenv("SERVICE_NAME", "worker")
	t.Setenv("SERVICE_VERSION", "1.2.3")
	t.Setenv("DATABASE_URL", "postgres://x")
	t.Setenv("DATABASE_PASSWORD_FILE", writeFile(t, "pw"))
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.monitoring:4317")
	cfg := testConfig{Service: Service{Name: "api-service"}}
	require.NoError(t, Load(&cfg))
	assert.Equal(t, "worker", cfg.Name)
	assert.Equal(t, "1.2.3", cfg.Version)
	assert.Equal(t, "pw", cfg.Password)
	assert.Equal(t, "http://otel-collector.monitoring:4317", cfg.OTLPEndpoint)
}

// TestLoadReportsEveryProblem: one error names every bad variable and
// what is wrong with it, and holds no secret.
func TestLoadReportsEveryProblem(t *testing.T) {
	const secretValue = "hunter2-do-not-print"
	secret := writeFile(t, secretValue)
	intSecret := struct {
		Service
		Token int `env:"TOKEN_FILE,file"`
	}{Service: Service{Name: "x"}}
	err := load(&intSecret, map[string]string{"TOKEN_FILE": secret})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TOKEN_FILE: the content of file")
	assert.NotContains(t, err.Error(), secretValue)

	cfg := testConfig{}
	err = load(&cfg, map[string]string{
		"DATABASE_PASSWORD_FILE": filepath.Join(t.TempDir(), "missing"),
		"POOL_SIZE":              "many",
		"LOG_LEVEL":              "LOUD",
		"TRACE_SAMPLING":         "1.5",
		"LISTEN_ADDR":            "8080",
		"SHUTDOWN_TIMEOUT":       "soon",
		"DRAIN_DELAY":            "-1s",
		"CACHE_TTL":              "forever",
	})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"DATABASE_URL: is required but not set",
		"DATABASE_PASSWORD_FILE: cannot read the file it names",
		`POOL_SIZE: "many" is not a valid int: invalid syntax`,
		`LOG_LEVEL: "LOUD" is not a valid slog.Level`,
		"TRACE_SAMPLING: 1.5 is not a ratio within 0..1",
		`LISTEN_ADDR: "8080" is not host:port`,
		`SHUTDOWN_TIMEOUT: "soon" is not a valid time.Duration`,
		"DRAIN_DELAY: -1s must not be negative",
		`CACHE_TTL: "forever" is not a valid time.Duration`,
		"SERVICE_NAME: is empty",
	} {
		assert.Contains(t, msg, want)
	}
	// SHUTDOWN_TIMEOUT failed to parse: no second error about its zero value.
	assert.NotContains(t, msg, "SHUTDOWN_TIMEOUT: 0s")
	var ve *VarError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, flatten(err), 10)
}

func TestServiceValidate(t *testing.T) {
	ok := Service{Name: "api", Version: "dev", Listen: ":8080", TraceSampling: 0.1, ShutdownTimeout: time.Second}
	require.NoError(t, ok.Validate())
	for _, tc := range []struct {
		name   string
		change func(*Service)
		want   string
	}{
		{"listen without port", func(s *Service) { s.Listen = "localhost" }, "LISTEN_ADDR"},
		{"listen named port", func(s *Service) { s.Listen = ":http" }, "LISTEN_ADDR"},
		{"endpoint bad scheme", func(s *Service) { s.OTLPEndpoint = "grpc://collector:4317" }, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"endpoint without port", func(s *Service) { s.OTLPEndpoint = "collector" }, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"negative sampling", func(s *Service) { s.TraceSampling = -0.1 }, "TRACE_SAMPLING"},
		{"zero shutdown", func(s *Service) { s.ShutdownTimeout = 0 }, "SHUTDOWN_TIMEOUT"},
		{"blank name", func(s *Service) { s.Name = " " }, "SERVICE_NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			err := s.Validate()
			var ve *VarError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.want, ve.Var)
		})
	}
	for _, e := range []string{"collector:4317", "http://collector:4317", "https://collector"} {
		s := ok
		s.OTLPEndpoint = e
		assert.NoError(t, s.Validate(), e)
	}
}

func TestLoadRejectsNonStruct(t *testing.T) {
	var s string
	err := Load(&s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "*string")
	assert.False(t, errors.Is(err, os.ErrNotExist))
}
