package testserver

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

// TestMissingBinaryNamesPackage: a server that is not installed fails the
// test naming its Debian package and `make tools`, never skips it.
func TestMissingBinaryNamesPackage(t *testing.T) {
	f := &fatalTB{TB: t}
	assert.Empty(t, findBinary(f, "redis-server", "/nonexistent/redis-server", "no-such-redis-server"))
	assert.Contains(t, f.msg, "install Debian's redis-server package")
	assert.Contains(t, f.msg, "`make tools`")
	assert.False(t, t.Skipped())
}

// TestFreePortNeverRepeats: ports handed out are distinct and outside the
// ephemeral range.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := freePort(t)
		assert.False(t, seen[p], "port %d handed out twice", p)
		assert.True(t, p >= 15000 && p < 32000, "port %d", p)
		seen[p] = true
	}
}
