package testserver

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a starter waits for its server to answer.
// RabbitMQ is the slowest here (about 3 s on 2 cores); a loaded CI machine
// gets ten times that.
const startTimeout = 60 * time.Second

// account is the system user a server runs as; nil means the current user.
// PostgreSQL (initdb, postgres) and PgBouncer refuse to run as root.
type account struct {
	name     string
	uid, gid uint32
}

// serverAccount returns the `postgres` system user when the tests run as
// root, and nil (the current user) otherwise.
func serverAccount(t testing.TB) *account {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("testserver: running as root, PostgreSQL and PgBouncer must run as the `postgres` system user, "+
			"which Debian's postgresql package creates: %v; install it with `make tools`", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &account{name: u.Username, uid: uint32(uid), gid: uint32(gid)}
}

// serverDir makes a fresh directory under os.TempDir() owned by acct and
// removes it when the test ends (after the servers in it were stopped:
// cleanups run last-registered first). It is not under t.TempDir(), whose
// parents only root may enter, and its path stays short enough for Unix
// socket names (108 bytes).
func serverDir(t testing.TB, prefix string, acct *account) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ts-"+prefix+"-")
	if err != nil {
		t.Fatalf("testserver: making a directory for %s: %v", prefix, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatalf("testserver: chmod %s: %v", dir, err)
	}
	chown(t, dir, acct)
	return dir
}

func chown(t testing.TB, path string, acct *account) {
	t.Helper()
	if acct == nil {
		return
	}
	if err := os.Chown(path, int(acct.uid), int(acct.gid)); err != nil {
		t.Fatalf("testserver: chown %s to %s: %v", path, acct.name, err)
	}
}

// writeFile writes a file the server's account owns.
func writeFile(t testing.TB, path, content string, mode os.FileMode, acct *account) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatalf("testserver: writing %s: %v", path, err)
	}
	chown(t, path, acct)
}

// findBinary returns the path of a server program, or fails the test
// naming the Debian package that provides it. Candidates are absolute
// paths or names looked up on PATH, tried in order.
func findBinary(t testing.TB, pkg string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if filepath.IsAbs(c) {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	t.Fatalf("testserver: %s is not installed (looked for %s): install Debian's %s package, "+
		"or run `make tools` (scripts/tools.sh servers)", candidates[len(candidates)-1], strings.Join(candidates, ", "), pkg)
	return ""
}

var ports = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that this process has not handed out before. Ports come from 15000-31999,
// below Linux's ephemeral range (32768-60999), so a client connection's
// local port cannot take the port of a server that is stopped and started
// again on it.
func freePort(t testing.TB) int {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	for range 500 {
		p := 15000 + rand.IntN(17000) //nolint:gosec // a port number, not a secret
		if ports.given[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ports.given[p] = true
		return p
	}
	t.Fatal("testserver: no free TCP port on 127.0.0.1 in 15000-31999 after 500 tries")
	return 0
}

// process is one server program run by a starter: its own process group
// (so a stop reaches its children), killed with the test binary
// (Pdeathsig), its stdout and stderr appended to logPath.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

type procSpec struct {
	name    string // for messages: "postgres 127.0.0.1:15432"
	path    string
	args    []string
	env     []string // nil: the test's environment
	dir     string
	acct    *account
	logPath string
	// openStdin gives the process a pipe as stdin that stays open while
	// the test binary lives (Erlang's shell halts the node at its end).
	openStdin bool
}

// start runs spec and registers a cleanup that kills what is left of its
// process group.
func start(t testing.TB, spec procSpec) *process {
	t.Helper()
	logf, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("testserver: opening the log %s of %s: %v", spec.logPath, spec.name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "---- testserver: starting %s at %s\n", spec.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Env = spec.env
	cmd.Dir = spec.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if spec.acct != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: spec.acct.uid, Gid: spec.acct.gid}
	}
	if spec.openStdin {
		// Never written or closed by us: Wait closes it when the process ends.
		if _, err := cmd.StdinPipe(); err != nil {
			t.Fatalf("testserver: stdin pipe for %s: %v", spec.name, err)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testserver: starting %s (%s): %v", spec.name, spec.path, err)
	}
	p := &process{name: spec.name, cmd: cmd, logPath: spec.logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the main process, waits up to grace for it to end,
// then kills the whole process group. It reports whether the process
// ended within grace.
func (p *process) stop(sig syscall.Signal, grace time.Duration) bool {
	_ = p.cmd.Process.Signal(sig)
	clean := true
	select {
	case <-p.done:
	case <-time.After(grace):
		clean = false
	}
	p.kill()
	return clean
}

// kill SIGKILLs the process group (leftover children included) and waits
// for the main process.
func (p *process) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// logTail returns the last lines of the process's log, for failure messages.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const tailBytes = 4096
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	off := max(st.Size()-tailBytes, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// waitUntil polls ready every 50 ms until it returns nil. It fails the
// test with the last error and the log's tail when the process ends first
// or the deadline passes.
func (p *process) waitUntil(t testing.TB, what string, timeout time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = ready(); last == nil {
			return
		}
		if p.exited() {
			t.Fatalf("testserver: %s ended before %s (%v): %v\nlog %s:\n%s", p.name, what, p.err, last, p.logPath, logTail(p.logPath))
		}
		if time.Now().After(deadline) {
			t.Fatalf("testserver: %s: %s not reached within %s: %v\nlog %s:\n%s", p.name, what, timeout, last, p.logPath, logTail(p.logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run runs a short command (initdb, pg_basebackup, rabbitmqctl) to its
// end and returns its combined output, failing the test with that output
// if it fails.
func run(t testing.TB, acct *account, env []string, timeout time.Duration, path string, args ...string) string {
	t.Helper()
	out, err := runErr(acct, env, timeout, path, args...)
	if err != nil {
		t.Fatalf("testserver: %s %s: %v\n%s", filepath.Base(path), strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(acct *account, env []string, timeout time.Duration, path string, args ...string) (string, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if acct != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid}
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	timer := time.AfterFunc(timeout, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	if !timer.Stop() {
		err = errors.Join(err, fmt.Errorf("killed after %s", timeout))
	}
	return out.String(), err
}

// secret returns a random password of 26 characters from [A-Z2-7], safe in
// URLs, SQL literals and configuration files without quoting.
func secret() string { return crand.Text() }

// addr formats 127.0.0.1:port.
func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// fileUID returns the owner of a file.
func fileUID(st os.FileInfo) uint32 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Uid
	}
	return 0
}
