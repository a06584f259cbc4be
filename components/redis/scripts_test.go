package redis

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// member runs a start script as member pod of the set, with stand-ins for
// the image's hostname, redis-cli (answering SENTINEL
// get-master-addr-by-name with known, when set) and redis-server (which
// records its arguments), under the system's /bin/sh. It returns the
// configuration the script wrote and redis-server's arguments.
func member(t *testing.T, script, pod, known, confDir string) (conf, args string) {
	t.Helper()
	bin := t.TempDir()
	stub := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	stub("hostname", "echo "+pod)
	stub("redis-cli", `[ -n "$KNOWN_MASTER" ] && [ "$REDISCLI_AUTH" = "s3cret" ] && echo "$KNOWN_MASTER" && echo 6379`)
	stub("redis-server", `echo "$@" > "$CONF_DIR/args"`)
	path := filepath.Join(t.TempDir(), "start.sh")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o644))
	headless := "redis-state.cloudscale.svc.cluster.local"
	cmd := exec.Command("/bin/sh", path, "--port", "0", "--tls-port", "6379")
	cmd.Env = []string{
		"PATH=" + bin + ":/usr/bin:/bin", "CONF_DIR=" + confDir, "KNOWN_MASTER=" + known,
		"REDIS_PASSWORD=s3cret", "MASTER_SET=redis-state", "HEADLESS=" + headless, "FIRST=redis-state-0",
		"SENTINELS=redis-state-0." + headless + " redis-state-1." + headless + " redis-state-2." + headless,
		"SENTINEL_QUORUM=2", "REDIS_PORT=6379", "SENTINEL_PORT=26379",
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	name := "redis.conf"
	if strings.Contains(script, "--sentinel") {
		name = "sentinel.conf"
	}
	data, err := os.ReadFile(filepath.Join(confDir, name))
	require.NoError(t, err)
	info, err := os.Stat(filepath.Join(confDir, name))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the password's file is the member's alone")
	a, err := os.ReadFile(filepath.Join(confDir, "args"))
	require.NoError(t, err)
	return string(data), string(a)
}

func TestRedisScriptJoinsTheCurrentMaster(t *testing.T) {
	const headless = ".redis-state.cloudscale.svc.cluster.local"
	for _, c := range []struct {
		name, pod, known, replicaOf string
	}{
		{"first start: member 0 is the master", "redis-state-0", "", ""},
		{"first start: member 1 replicates member 0", "redis-state-1", "", "replicaof redis-state-0" + headless + " 6379"},
		// An old master that restarts after a failover rejoins as a
		// replica of the master the Sentinels elected.
		{"after a failover: old master 0 replicates 2", "redis-state-0", "redis-state-2" + headless, "replicaof redis-state-2" + headless + " 6379"},
		{"the master itself restarts as master", "redis-state-2", "redis-state-2" + headless, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf, args := member(t, RedisScript, c.pod, c.known, t.TempDir())
			assert.Contains(t, conf, `requirepass "s3cret"`)
			assert.Contains(t, conf, `masterauth "s3cret"`)
			assert.Contains(t, conf, "replica-announce-ip "+c.pod+headless)
			if c.replicaOf == "" {
				assert.NotContains(t, conf, "replicaof")
			} else {
				assert.Contains(t, conf, c.replicaOf)
			}
			// The server gets the file and the gate-visible flags, never
			// the password.
			assert.True(t, strings.HasSuffix(strings.TrimSpace(args), "--port 0 --tls-port 6379"), args)
			assert.NotContains(t, args, "s3cret")
		})
	}
}

func TestSentinelScriptMonitorsTheCurrentMaster(t *testing.T) {
	const headless = ".redis-state.cloudscale.svc.cluster.local"
	dir := t.TempDir()
	conf, args := member(t, SentinelScript, "redis-state-1", "redis-state-2"+headless, dir)
	assert.Contains(t, conf, "sentinel monitor redis-state redis-state-2"+headless+" 6379 2")
	assert.Contains(t, conf, "port 0\ntls-port 26379")
	assert.Contains(t, conf, "sentinel announce-ip redis-state-1"+headless)
	assert.Contains(t, conf, `sentinel auth-pass redis-state "s3cret"`)
	assert.NotContains(t, args, "s3cret")
	assert.Contains(t, args, "--sentinel")

	// A restarted container keeps what its Sentinel learnt (it rewrites
	// the file), rather than asking again.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sentinel.conf"), []byte("sentinel monitor redis-state learnt 6379 2\n"), 0o600))
	conf, _ = member(t, SentinelScript, "redis-state-1", "", dir)
	assert.Equal(t, "sentinel monitor redis-state learnt 6379 2\n", conf)
}
