package controlplane

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultNodesSpreadOverZones(t *testing.T) {
	nodes := DefaultNodes(6, []string{"zone-a", "zone-b", "zone-c"})
	per := map[string]int{}
	names := map[string]bool{}
	for _, n := range nodes {
		per[n.Zone]++
		names[n.Name] = true
	}
	assert.Equal(t, map[string]int{"zone-a": 2, "zone-b": 2, "zone-c": 2}, per)
	assert.Len(t, names, 6)
	assert.Equal(t, "sim-zone-a-1", nodes[0].Name)
}

// A cluster of plain `sleep` processes exercises start, the PID records,
// restart of what died, and a Stop that ends only what it started.
func TestProcessesStartAndStopByRecordedPID(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	c := &Cluster{Dir: t.TempDir(), BinDir: filepath.Dir(sleep)}
	for _, name := range []string{"first", "second"} {
		c.Processes = append(c.Processes, Process{Name: name, Binary: "sleep", Args: func(*Cluster) []string { return []string{"300"} }})
	}
	for _, d := range []string{"run", "logs"} {
		require.NoError(t, os.MkdirAll(filepath.Join(c.Dir, d), 0o700))
	}
	for _, p := range c.Processes {
		exited, err := c.launch(p)
		require.NoError(t, err)
		require.NoError(t, c.waitHealthy(context.Background(), p, exited, 5*time.Second))
	}
	assert.True(t, c.Running())
	first := c.pid(c.Processes[0])
	require.NotZero(t, first)

	// A stranger with the same binary is never touched.
	stranger := exec.Command(sleep, "300")
	require.NoError(t, stranger.Start())
	defer func() { _ = stranger.Process.Kill() }()

	// A PID file that points at another program is not ours to stop.
	second := c.pid(c.Processes[1])
	defer func() { _ = syscall.Kill(second, syscall.SIGKILL) }()
	require.NoError(t, os.WriteFile(filepath.Join(c.Dir, "run", "second.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600))
	assert.Zero(t, c.pid(c.Processes[1]), "the test binary is not `sleep`")
	assert.False(t, c.Running())

	require.NoError(t, c.Stop())
	assert.Zero(t, c.pid(c.Processes[0]))
	assert.NoFileExists(t, filepath.Join(c.Dir, "run", "first.pid"))
	assert.NoError(t, stranger.Process.Signal(syscall.Signal(0)), "the stranger still runs")
}

// A start that fails part-way stops what it started.
func TestFailedStartLeavesNothingRunning(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	falseBin, err := exec.LookPath("false")
	require.NoError(t, err)
	c := &Cluster{Dir: t.TempDir(), BinDir: t.TempDir()}
	require.NoError(t, os.Symlink(sleep, filepath.Join(c.BinDir, "sleep")))
	require.NoError(t, os.Symlink(falseBin, filepath.Join(c.BinDir, "false")))
	c.Processes = []Process{
		{Name: "good", Binary: "sleep", Args: func(*Cluster) []string { return []string{"300"} }},
		{Name: "bad", Binary: "false", Args: func(*Cluster) []string { return nil }},
	}
	err = c.Start(context.Background(), false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad did not become healthy: the process exited: exit status 1")
	assert.Zero(t, c.pid(c.Processes[0]), "the good process was stopped again")
	assert.NoFileExists(t, filepath.Join(c.Dir, "run", "good.pid"))
}
