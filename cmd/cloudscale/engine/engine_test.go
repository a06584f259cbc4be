package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMissingCLIExplainsHowToGetIt(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", t.TempDir()) // nothing on PATH
	_, err := Run(context.Background(), Request{Op: Preview, Stack: "local", ProjectDir: dir})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrNoCLI))
	assert.Contains(t, err.Error(), "run `make tools` to build Pulumi v3.274.1")
	assert.Contains(t, err.Error(), filepath.Join(dir, ".cloudscale", "bin"))
}

func TestFindCLIPrefersTheProjectBin(t *testing.T) {
	dir := t.TempDir()
	bin := BinDir(dir)
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "pulumi"), []byte("#!/bin/sh\n"), 0o755))
	got, err := FindCLI(dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(bin, "pulumi"), got)
}

func TestEnvDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PULUMI_BACKEND_URL", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "")

	env, backend, err := Env(dir, "local")
	require.NoError(t, err)
	assert.Equal(t, "file://"+StateDir(dir), backend)
	assert.DirExists(t, StateDir(dir))
	assert.Equal(t, LocalPassphrase, env["PULUMI_CONFIG_PASSPHRASE"])
	assert.Regexp(t, "^"+BinDir(dir)+":", env["PATH"])

	_, _, err = Env(dir, "prod")
	assert.EqualError(t, err, "stack prod: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to encrypt its secrets; only the local stack has a built-in passphrase")

	t.Setenv("PULUMI_BACKEND_URL", "s3://bucket/state")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "x")
	env, backend, err = Env(dir, "prod")
	require.NoError(t, err)
	assert.Equal(t, "s3://bucket/state", backend)
	assert.NotContains(t, env, "PULUMI_CONFIG_PASSPHRASE", "the user's own passphrase is inherited, not overridden")
}

func TestProgressCountsStepsAndKeepsErrors(t *testing.T) {
	var out strings.Builder
	p := &progress{out: &out}
	p.event(events.EngineEvent{EngineEvent: apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{
		Metadata: apitype.StepEventMetadata{Op: "create", Type: "kubernetes:core/v1:Namespace", URN: "urn:pulumi:local::cloudscale::kubernetes:core/v1:Namespace::cloudscale"},
	}}})
	p.event(events.EngineEvent{EngineEvent: apitype.EngineEvent{DiagnosticEvent: &apitype.DiagnosticEvent{Severity: "error", Message: "boom\n"}}})
	p.event(events.EngineEvent{EngineEvent: apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{
		ResourceChanges: map[apitype.OpType]int{"create": 1, "same": 2},
	}}})
	assert.Equal(t, "  [  1] create   kubernetes:core/v1:Namespace cloudscale\n    error: boom\n", out.String())
	assert.Equal(t, []string{"boom"}, p.errors)
	assert.Equal(t, map[string]int{"create": 1, "same": 2}, p.changes)
	s := Summary{Op: Up, Stack: "local", Result: "succeeded", Changes: p.changes}
	assert.Equal(t, "up local: succeeded - 1 created, 0 updated, 0 replaced, 0 deleted, 2 unchanged in 0.0s", s.String())
}

func TestClearStaleLocksKeepsLiveOnes(t *testing.T) {
	dir := t.TempDir()
	locks := filepath.Join(dir, ".pulumi", "locks", "organization", "cloudscale", "local")
	require.NoError(t, os.MkdirAll(locks, 0o755))
	host, _ := os.Hostname()
	write := func(name string, pid int, h string) string {
		p := filepath.Join(locks, name)
		require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf(`{"pid":%d,"username":"ci","hostname":%q,"timestamp":"2026-11-27T18:00:00Z"}`, pid, h)), 0o644))
		return p
	}
	dead := exec.Command("true")
	require.NoError(t, dead.Run()) // a PID that has exited
	stale := write("stale.json", dead.Process.Pid, host)
	live := write("live.json", os.Getpid(), host)
	other := write("other.json", dead.Process.Pid, "another-host")

	cleared, err := ClearStaleLocks(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{stale}, cleared)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, live)
	assert.FileExists(t, other)

	none, err := ClearStaleLocks(t.TempDir())
	require.NoError(t, err)
	assert.Empty(t, none)
}
