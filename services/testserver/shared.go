package testserver

import (
	"os"
	"sync"
	"testing"
)

// shared holds the servers one test binary shares between its tests, and
// the cleanups of their starters, run by [Main].
var shared struct {
	sync.Mutex
	rabbit   *Rabbit
	cleanups []func()
}

// sharedTB hands a starter's cleanups to [Main] instead of the test that
// happened to start the server first.
type sharedTB struct{ testing.TB }

func (sharedTB) Cleanup(f func()) { shared.cleanups = append(shared.cleanups, f) }

// SharedRabbitMQ returns one RabbitMQ node for the whole test binary,
// started by the first caller (a node takes 3 to 15 s to boot on 2
// cores). Tests sharing it must use their own queue and exchange names
// (or a vhost of their own, made with Ctl) and must not stop it: a test
// that restarts or kills the broker takes its own [RabbitMQ].
//
// The package's TestMain should call [Main], which stops the node and
// removes its directory after the last test:
//
//	func TestMain(m *testing.M) { testserver.Main(m) }
//
// Without it the node dies with the test binary (Pdeathsig) and its
// directory (/tmp/ts-rmq-*) stays behind.
func SharedRabbitMQ(t testing.TB) *Rabbit {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if shared.rabbit == nil || shared.rabbit.proc.exited() {
		shared.rabbit = RabbitMQ(sharedTB{t})
	}
	return shared.rabbit
}

// Main runs the tests (m.Run), then stops the shared servers and removes
// their directories, and exits with the tests' code. Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	shared.Lock()
	for i := len(shared.cleanups) - 1; i >= 0; i-- {
		shared.cleanups[i]()
	}
	shared.cleanups, shared.rabbit = nil, nil
	shared.Unlock()
	os.Exit(code)
}
