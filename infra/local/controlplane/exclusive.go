package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ExclusiveLock is the lock file Exclusive takes by default: one per
// machine, in the system's temporary directory.
func ExclusiveLock() string { return filepath.Join(os.TempDir(), "cloudscale-simulated-cluster.lock") }

// Exclusive blocks until this process holds the lock at path (an advisory
// flock), and returns its release. The end-to-end tests of two packages
// each start a simulated cluster and run faults on it; `go test ./...` runs
// packages in parallel, and on two cores two clusters rescheduling at once
// starve each other's controllers (a zone outage's pods were seen never to
// return within the run's limits). Holding it, the clusters take turns; the
// lock goes with the process if it dies.
func Exclusive(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
