package controlplane

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// While one holder has the lock no other can take it; released, it can.
func TestExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.lock")
	release, err := Exclusive(path)
	require.NoError(t, err)
	other, err := os.Open(path)
	require.NoError(t, err)
	defer other.Close()
	assert.ErrorIs(t, syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), syscall.EWOULDBLOCK, "held")
	release()
	require.NoError(t, syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), "released")
	_, err = Exclusive(filepath.Join(t.TempDir(), "missing", "cluster.lock"))
	assert.ErrorContains(t, err, "lock ")
}
