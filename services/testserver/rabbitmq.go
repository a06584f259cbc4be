package testserver

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Rabbit is a RabbitMQ 3.10 node (Erlang 25, Debian's rabbitmq-server) on
// 127.0.0.1 with its own Erlang port mapper, cookie, configuration and
// data: nothing is shared with another node or with a system RabbitMQ.
// User app (random password, administrator) has full permissions on the
// vhost "/". No plugin is enabled (no management listener).
type Rabbit struct {
	URL      string // amqp://app:<pw>@127.0.0.1:<port>/
	Host     string // always 127.0.0.1
	Port     int    // AMQP 0-9-1
	User     string // app
	Password string
	// NodeName is rabbit-<port>@localhost; DistPort its Erlang
	// distribution port and EPMDPort the port of its own epmd.
	NodeName           string
	DistPort, EPMDPort int
	Dir                string // HOME (.erlang.cookie), rabbitmq.conf, mnesia/
	LogFile            string

	server, ctl string
	env         []string
	epmd        *process
	proc        *process
}

// RabbitMQ starts a fresh RabbitMQ node on 127.0.0.1 and returns once it
// accepts AMQP connections from app. Starting takes about 3 s here (Erlang
// VM boot and RabbitMQ's boot steps); the node is stopped when the test
// ends.
func RabbitMQ(t testing.TB) *Rabbit {
	t.Helper()
	server := findBinary(t, "rabbitmq-server", "/usr/lib/rabbitmq/bin/rabbitmq-server")
	ctl := findBinary(t, "rabbitmq-server", "/usr/lib/rabbitmq/bin/rabbitmqctl")
	epmd := findBinary(t, "erlang-base", "/usr/bin/epmd", "epmd")
	dir := serverDir(t, "rmq", nil)
	r := &Rabbit{Host: "127.0.0.1", Port: freePort(t), User: "app", Password: secret(),
		DistPort: freePort(t), EPMDPort: freePort(t), Dir: dir, LogFile: filepath.Join(dir, "rabbitmq.log"),
		server: server, ctl: ctl}
	r.NodeName = fmt.Sprintf("rabbit-%d@localhost", r.Port)
	r.URL = (&url.URL{Scheme: "amqp", User: url.UserPassword(r.User, r.Password), Host: addr(r.Port), Path: "/"}).String()

	writeFile(t, filepath.Join(dir, ".erlang.cookie"), secret(), 0o400, nil)
	writeFile(t, filepath.Join(dir, "rabbitmq-env.conf"), "", 0o644, nil)
	writeFile(t, filepath.Join(dir, "enabled_plugins"), "[].\n", 0o644, nil)
	// default_user is created at the first boot only, with all
	// permissions on the default vhost "/" and the administrator tag.
	writeFile(t, filepath.Join(dir, "rabbitmq.conf"), fmt.Sprintf(`listeners.tcp.1 = 127.0.0.1:%d
loopback_users = none
default_user = %s
default_pass = %s
default_vhost = /
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
default_user_tags.administrator = true
log.console = true
log.console.level = warning
log.file = false
`, r.Port, r.User, r.Password), 0o600, nil)
	r.env = rabbitEnv(r)

	r.epmd = start(t, procSpec{name: "epmd " + addr(r.EPMDPort), path: epmd,
		args: []string{"-address", "127.0.0.1", "-port", fmt.Sprint(r.EPMDPort)},
		env:  r.env, dir: dir, logPath: filepath.Join(dir, "epmd.log")})
	r.epmd.waitUntil(t, "listening", startTimeout, func() error {
		c, err := net.DialTimeout("tcp", addr(r.EPMDPort), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	r.Start(t)
	return r
}

// rabbitEnv is the environment of the node and of rabbitmqctl: the test's
// own, minus any RABBITMQ_ and ERL_ settings, plus the node's.
func rabbitEnv(r *Rabbit) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RABBITMQ_") && !strings.HasPrefix(kv, "ERL_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	d := r.Dir
	return append(env,
		"HOME="+d,
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8",
		"ERL_EPMD_PORT="+fmt.Sprint(r.EPMDPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_NODENAME="+r.NodeName,
		"RABBITMQ_USE_LONGNAME=false",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+fmt.Sprint(r.Port),
		"RABBITMQ_DIST_PORT="+fmt.Sprint(r.DistPort),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(d, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(d, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(d, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(d, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(d, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(d, "log"),
		"RABBITMQ_LOGS=-",
		// With input allowed, rabbitmq-server execs the Erlang VM instead
		// of waiting for it in a shell: the VM is then the process the
		// test started, gets SIGTERM from Stop directly, and dies with
		// the test binary (Pdeathsig, and EOF on its stdin pipe).
		"RABBITMQ_ALLOW_INPUT=true",
		"RABBITMQ_PID_FILE="+filepath.Join(d, "rabbit.pid"),
		// Erlang distribution on loopback only, for the node and the CLI.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	)
}

// Start starts the node (again) with its data: durable queues and
// persistent messages are there. It returns once app can open an AMQP
// connection.
func (r *Rabbit) Start(t testing.TB) {
	t.Helper()
	if r.proc != nil && !r.proc.exited() {
		t.Fatalf("testserver: rabbitmq %s is already running", r.NodeName)
	}
	t0 := time.Now()
	r.proc = start(t, procSpec{name: "rabbitmq " + r.NodeName + " " + addr(r.Port), path: r.server,
		env: r.env, dir: r.Dir, logPath: r.LogFile, openStdin: true})
	r.proc.waitUntil(t, "accepting AMQP connections", 2*startTimeout, func() error {
		c, err := amqp.DialConfig(r.URL, amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
		if err != nil {
			return err
		}
		return c.Close()
	})
	t.Logf("testserver: rabbitmq %s up in %s", r.NodeName, time.Since(t0).Round(time.Millisecond))
}

// Stop stops the node gracefully (SIGTERM: the Erlang VM runs
// init:stop, RabbitMQ closes connections and syncs its stores) and waits
// until it is gone; after 60 s it is killed.
func (r *Rabbit) Stop(t testing.TB) {
	t.Helper()
	r.stop(t, syscall.SIGTERM)
}

// Kill SIGKILLs the node: a crash. Quorum queues recover what Raft
// committed (fsynced); classic queues lose what was not yet written.
func (r *Rabbit) Kill(t testing.TB) {
	t.Helper()
	r.stop(t, syscall.SIGKILL)
}

func (r *Rabbit) stop(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if r.proc == nil || r.proc.exited() {
		t.Fatalf("testserver: rabbitmq %s is not running", r.NodeName)
	}
	if !r.proc.stop(sig, 60*time.Second) {
		t.Logf("testserver: rabbitmq %s did not stop within 60 s of %v; killed", r.NodeName, sig)
	}
}

// Restart stops the node gracefully and starts it again.
func (r *Rabbit) Restart(t testing.TB) {
	t.Helper()
	r.Stop(t)
	r.Start(t)
}

// Ctl runs rabbitmqctl against this node (e.g. Ctl(t, "list_queues",
// "name", "messages")) and returns its output; a failure fails the test.
// Each call starts an Erlang VM: about 1 s.
func (r *Rabbit) Ctl(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, nil, r.env, time.Minute, r.ctl, append([]string{"-n", r.NodeName}, args...)...)
}
