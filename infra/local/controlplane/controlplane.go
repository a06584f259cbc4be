// Package controlplane runs the local stack's Kubernetes: etcd, a real
// kube-apiserver (RBAC, token auth, 127.0.0.1 only), kube-controller-manager,
// kube-scheduler and kwok, whose simulated nodes spread over three zones.
// Processes are started from a list, so more (the Chaos Mesh controller)
// can join; each one's PID is recorded and Stop ends only those PIDs.
package controlplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Ports the control plane listens on, all on 127.0.0.1.
type Ports struct {
	API, Etcd, EtcdPeer, Controller, Scheduler, Kwok int
	// ChaosWebhook and ChaosMetrics are the Chaos Mesh controller's.
	ChaosWebhook, ChaosMetrics int
}

// DefaultPorts stay clear of the defaults a developer's own cluster tools
// use, so both can run side by side.
var DefaultPorts = Ports{API: 16443, Etcd: 23790, EtcdPeer: 23800, Controller: 20257, Scheduler: 20259, Kwok: 20247,
	ChaosWebhook: 29443, ChaosMetrics: 20280}

// Offset moves every port by n (tests run a second cluster beside the
// developer's).
func (p Ports) Offset(n int) Ports {
	return Ports{p.API + n, p.Etcd + n, p.EtcdPeer + n, p.Controller + n, p.Scheduler + n, p.Kwok + n, p.ChaosWebhook + n, p.ChaosMetrics + n}
}

// The service network of the simulated cluster.
const (
	ServiceCIDR = "10.96.0.0/16"
	ServiceIP   = "10.96.0.1"
)

// Process is one control-plane program.
type Process struct {
	Name string
	// Binary is looked up in the tools dir first, then on PATH.
	Binary string
	Args   func(c *Cluster) []string
	// Env is added to the process' environment (nil: none).
	Env func(c *Cluster) []string
	// Optional processes start only when Enabled says so; a disabled one
	// is left out of Status unless it still runs.
	Optional bool
	Enabled  func(c *Cluster) bool
	// BeforeStart runs before the process is launched (the API server
	// already serves), AfterStart once it is healthy; Disabled when
	// Start skips an optional process (to undo what AfterStart did).
	BeforeStart, AfterStart, Disabled func(ctx context.Context, c *Cluster) error
	// Healthy answers whether the process serves; nil means "is running".
	Healthy func(ctx context.Context, c *Cluster) error
	// RepeatTerm sends SIGTERM again while it waits (the Chaos Mesh
	// controller stops only on a second one).
	RepeatTerm bool
}

// Cluster is the local control plane rooted at Dir.
type Cluster struct {
	// Dir holds data, certificates, logs, PIDs and the kubeconfig.
	Dir string
	// BinDir is where `make tools` put the binaries.
	BinDir string
	// Processes start in this order and stop in reverse.
	Processes []Process
	// Nodes are the simulated nodes Start registers.
	Nodes []Node
	Ports Ports
	Out   io.Writer
	// ChaosMesh runs the Chaos Mesh controller (see chaosmesh.go); New
	// turns it on when `make tools` built it.
	ChaosMesh bool

	token string
}

// New returns the cluster with the standard processes and six nodes over
// three zones.
func New(dir, binDir string, out io.Writer) *Cluster {
	if out == nil {
		out = io.Discard
	}
	return &Cluster{Dir: dir, BinDir: binDir, Processes: DefaultProcesses(), Nodes: DefaultNodes(6, []string{"zone-a", "zone-b", "zone-c"}), Ports: DefaultPorts, Out: out,
		ChaosMesh: exists(filepath.Join(binDir, ChaosControllerBinary))}
}

// Kubeconfig is the admin kubeconfig the local stack uses.
func (c *Cluster) Kubeconfig() string { return c.path("kubeconfig") }

func (c *Cluster) path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

// DefaultProcesses are etcd, the API server, the controller manager, the
// scheduler, kwok and, when enabled, the Chaos Mesh controller.
func DefaultProcesses() []Process {
	return []Process{etcdProcess(), apiServerProcess(), controllerManagerProcess(), schedulerProcess(), kwokProcess(), chaosMeshProcess()}
}

// enabled reports whether Start runs p.
func (c *Cluster) enabled(p Process) bool {
	return !p.Optional || (p.Enabled != nil && p.Enabled(c))
}

// Eviction timings of the simulated cluster, shortened so a lost node or
// zone resolves in seconds. The real defaults: kubelets renew their lease
// every 10 s (a 40 s lease), the node lifecycle controller declares a node
// NotReady after --node-monitor-grace-period (50 s since Kubernetes 1.32)
// and the DefaultTolerationSeconds admission plugin lets pods stay on a
// NotReady or unreachable node for 300 s: about 5 minutes before they are
// evicted, at --node-eviction-rate 0.1 nodes per second (docs/chaos.md).
const (
	// NodeLeaseSeconds is kwok's node lease (renewed every quarter).
	NodeLeaseSeconds = 16
	// NodeMonitorGrace is how long a node may miss its lease.
	NodeMonitorGrace = "16s"
	// TolerationSeconds is the default not-ready/unreachable toleration.
	TolerationSeconds = 5
	// NodeEvictionRate is how many nodes per second the node lifecycle
	// controller taints for eviction (real default 0.1: one node every
	// 10 s, so a zone of several nodes empties over tens of seconds).
	NodeEvictionRate = "1"
)

// etcdProcess is etcd on loopback, its data in the cluster directory.
func etcdProcess() Process {
	return Process{
		Name: "etcd", Binary: "etcd",
		Args: func(c *Cluster) []string {
			return []string{
				"--name=cloudscale", "--data-dir=" + c.path("etcd"),
				fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", c.Ports.Etcd),
				fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", c.Ports.Etcd),
				fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", c.Ports.EtcdPeer),
				fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", c.Ports.EtcdPeer),
				fmt.Sprintf("--initial-cluster=cloudscale=http://127.0.0.1:%d", c.Ports.EtcdPeer),
				"--quota-backend-bytes=4294967296",
			}
		},
		Healthy: func(ctx context.Context, c *Cluster) error {
			return get(ctx, fmt.Sprintf("http://127.0.0.1:%d/health", c.Ports.Etcd), "")
		},
	}
}

// apiServerProcess is kube-apiserver with RBAC, token authentication and
// its own service-account keys, on loopback.
func apiServerProcess() Process {
	return Process{
		Name: "kube-apiserver", Binary: "kube-apiserver",
		Args: func(c *Cluster) []string {
			return []string{
				fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", c.Ports.Etcd),
				"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", c.Ports.API),
				"--tls-cert-file=" + c.path("pki", "apiserver.crt"), "--tls-private-key-file=" + c.path("pki", "apiserver.key"),
				"--client-ca-file=" + c.path("pki", "ca.crt"),
				"--token-auth-file=" + c.path("pki", "tokens.csv"),
				"--authorization-mode=Node,RBAC",
				"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
				"--service-account-key-file=" + c.path("pki", "sa.pub"),
				"--service-account-signing-key-file=" + c.path("pki", "sa.key"),
				"--service-cluster-ip-range=" + ServiceCIDR,
				"--disable-admission-plugins=ServiceAccount",
				"--endpoint-reconciler-type=none",
				"--allow-privileged=false",
				fmt.Sprintf("--default-not-ready-toleration-seconds=%d", TolerationSeconds),
				fmt.Sprintf("--default-unreachable-toleration-seconds=%d", TolerationSeconds),
			}
		},
		Healthy: func(ctx context.Context, c *Cluster) error {
			return get(ctx, fmt.Sprintf("https://127.0.0.1:%d/readyz", c.Ports.API), c.token)
		},
	}
}

// controllerManagerProcess is kube-controller-manager, which runs the
// garbage collector, the endpoints and the node lifecycle controllers.
func controllerManagerProcess() Process {
	return Process{
		Name: "kube-controller-manager", Binary: "kube-controller-manager",
		Args: func(c *Cluster) []string {
			return []string{
				"--kubeconfig=" + c.Kubeconfig(), "--leader-elect=false",
				"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", c.Ports.Controller),
				"--service-account-private-key-file=" + c.path("pki", "sa.key"),
				"--root-ca-file=" + c.path("pki", "ca.crt"),
				"--use-service-account-credentials=false",
				"--node-monitor-period=2s", "--node-monitor-grace-period=" + NodeMonitorGrace,
				"--node-eviction-rate=" + NodeEvictionRate,
			}
		},
		Healthy: func(ctx context.Context, c *Cluster) error {
			return get(ctx, fmt.Sprintf("https://127.0.0.1:%d/healthz", c.Ports.Controller), "")
		},
	}
}

// schedulerProcess is kube-scheduler, which applies the platform's spread
// and anti-affinity rules to the simulated nodes.
func schedulerProcess() Process {
	return Process{
		Name: "kube-scheduler", Binary: "kube-scheduler",
		Args: func(c *Cluster) []string {
			return []string{
				"--kubeconfig=" + c.Kubeconfig(), "--leader-elect=false",
				"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", c.Ports.Scheduler),
			}
		},
		Healthy: func(ctx context.Context, c *Cluster) error {
			return get(ctx, fmt.Sprintf("https://127.0.0.1:%d/healthz", c.Ports.Scheduler), "")
		},
	}
}

// kwokProcess is kwok, the fake kubelets of the simulated nodes (those
// labelled KubeletLabel=fake). The selector is a label, filtered by the API
// server, so a node whose label is taken away leaves kwok's watch: its
// lease is no longer renewed, as when a real kubelet dies (node loss).
func kwokProcess() Process {
	return Process{
		Name: "kwok", Binary: "kwok",
		Args: func(c *Cluster) []string {
			return []string{
				"--kubeconfig=" + c.Kubeconfig(),
				"--manage-all-nodes=false",
				"--manage-nodes-with-label-selector=" + KubeletLabel + "=" + KubeletValue,
				"--node-ip=10.244.0.1",
				fmt.Sprintf("--node-lease-duration-seconds=%d", NodeLeaseSeconds),
				fmt.Sprintf("--server-address=127.0.0.1:%d", c.Ports.Kwok),
			}
		},
		Healthy: func(ctx context.Context, c *Cluster) error {
			return get(ctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", c.Ports.Kwok), "")
		},
	}
}

// get answers nil when url answers 200. Everything here is on 127.0.0.1
// with a certificate the cluster made itself.
func get(ctx context.Context, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback, self-made certificate
	}}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, res.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func (c *Cluster) binary(p Process) (string, error) {
	if c.BinDir != "" {
		local := filepath.Join(c.BinDir, p.Binary)
		if exists(local) {
			return local, nil
		}
	}
	if path, err := exec.LookPath(p.Binary); err == nil {
		return path, nil
	}
	return "", fmt.Errorf("%s: %s not found in %s or on PATH; run `make tools`", p.Name, p.Binary, c.BinDir)
}

// pid returns the recorded PID of a process when that process still runs
// the same binary; 0 otherwise.
func (c *Cluster) pid(p Process) int {
	raw, err := os.ReadFile(c.path("run", p.Name+".pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(p.Binary)) {
		return 0 // gone, or the PID now belongs to something else
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			return 0 // a zombie has exited
		}
	}
	return pid
}

// Running reports whether every enabled process runs.
func (c *Cluster) Running() bool {
	for _, p := range c.Processes {
		if c.enabled(p) && c.pid(p) == 0 {
			return false
		}
	}
	return true
}

// Start starts whatever is not running, in order, waits for each to be
// healthy, and registers the nodes. With fresh, everything stops and the
// data is wiped first. When a process fails to come up, the processes this
// call started are stopped again: a failed start leaves nothing running.
func (c *Cluster) Start(ctx context.Context, fresh bool) (err error) {
	if err := c.prepare(fresh); err != nil {
		return err
	}
	var started []Process
	defer func() {
		if err != nil && len(started) > 0 {
			undo := &Cluster{Dir: c.Dir, Processes: started, Out: c.Out}
			if stopErr := undo.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}
	}()
	for _, p := range c.Processes {
		launched, err := c.ensure(ctx, p)
		if launched {
			started = append(started, p)
		}
		if err != nil {
			return err
		}
	}
	return c.registerNodes(ctx)
}

// ensure starts p unless it runs or is disabled (then its Disabled hook
// runs), with its hooks around the start; it reports whether it launched
// p.
func (c *Cluster) ensure(ctx context.Context, p Process) (bool, error) {
	if !c.enabled(p) {
		if p.Disabled != nil && c.pid(p) == 0 {
			if err := p.Disabled(ctx, c); err != nil {
				return false, fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		return false, nil
	}
	if pid := c.pid(p); pid != 0 {
		fmt.Fprintf(c.out(), "  %-24s running (pid %d)\n", p.Name, pid)
		return false, nil
	}
	if p.BeforeStart != nil {
		if err := p.BeforeStart(ctx, c); err != nil {
			return false, fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	launched, err := c.startOne(ctx, p)
	if err != nil {
		return launched, err
	}
	if p.AfterStart != nil {
		if err := p.AfterStart(ctx, c); err != nil {
			return launched, fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	return launched, nil
}

// prepare stops everything and wipes the data when fresh, and makes the
// directories, certificates and access files a start needs.
func (c *Cluster) prepare(fresh bool) error {
	if fresh {
		if err := c.Stop(); err != nil {
			return err
		}
		if err := os.RemoveAll(c.Dir); err != nil {
			return fmt.Errorf("wipe %s: %w", c.Dir, err)
		}
	}
	for _, d := range []string{c.Dir, c.path("run"), c.path("logs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := c.pki(); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	if c.ChaosMesh {
		if _, err := c.binary(chaosMeshProcess()); err != nil {
			return err
		}
	}
	return c.writeAccess()
}

// startOne launches p and waits until it is healthy. A process that exits
// while starting gets a second try: a port still held by a predecessor
// that just stopped is the usual cause. It reports whether p was launched
// (and so must be stopped should the start fail).
func (c *Cluster) startOne(ctx context.Context, p Process) (bool, error) {
	start := time.Now()
	launched := false
	var lastErr error
	for attempt := 1; attempt <= 2; attempt++ {
		exited, err := c.launch(p)
		if err != nil {
			return launched, err
		}
		launched = true
		if lastErr = c.waitHealthy(ctx, p, exited, 60*time.Second); lastErr == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if lastErr != nil {
		return launched, fmt.Errorf("%s did not become healthy: %w\nlast lines of %s:\n%s", p.Name, lastErr, c.path("logs", p.Name+".log"), c.logTail(p, 10))
	}
	fmt.Fprintf(c.out(), "  %-24s started (pid %d) in %.1fs\n", p.Name, c.pid(p), time.Since(start).Seconds())
	return launched, nil
}

// launch starts p in its own session and records its PID; the channel
// reports how it exited, should it exit while we wait for it.
func (c *Cluster) launch(p Process) (<-chan error, error) {
	bin, err := c.binary(p)
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(c.path("logs", p.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, p.Args(c)...)
	if p.Env != nil {
		cmd.Env = append(os.Environ(), p.Env(c)...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: the control plane outlives the command that
	// started it and does not get the terminal's signals.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.Name, err)
	}
	if err := os.WriteFile(c.path("run", p.Name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait() // reaps it if it dies while we are still here
		if err == nil {
			err = errors.New("exit status 0")
		}
		exited <- err
	}()
	return exited, nil
}

func (c *Cluster) waitHealthy(ctx context.Context, p Process, exited <-chan error, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the process exited: %w", err)
		default:
		}
		if p.Healthy == nil {
			// No health endpoint: running for half a second counts.
			select {
			case err := <-exited:
				return fmt.Errorf("the process exited: %w", err)
			case <-time.After(500 * time.Millisecond):
				return nil
			}
		}
		if last = p.Healthy(ctx, c); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case err := <-exited:
			return fmt.Errorf("the process exited: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Stop ends the recorded processes, newest first: SIGTERM, then SIGKILL
// after ten seconds. Processes it did not start are never touched.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.Processes) - 1; i >= 0; i-- {
		p := c.Processes[i]
		pid := c.pid(p)
		pidFile := c.path("run", p.Name+".pid")
		if pid == 0 {
			_ = os.Remove(pidFile)
			continue
		}
		proc, _ := os.FindProcess(pid)
		_ = proc.Signal(syscall.SIGTERM)
		deadline := time.Now().Add(10 * time.Second)
		for c.pid(p) != 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			if p.RepeatTerm {
				_ = proc.Signal(syscall.SIGTERM)
			}
		}
		if c.pid(p) != 0 {
			_ = proc.Signal(syscall.SIGKILL)
			time.Sleep(200 * time.Millisecond)
		}
		if c.pid(p) != 0 {
			errs = append(errs, fmt.Errorf("%s (pid %d) did not stop", p.Name, pid))
			continue
		}
		_ = os.Remove(pidFile)
		fmt.Fprintf(c.out(), "  %-24s stopped (pid %d)\n", p.Name, pid)
	}
	return errors.Join(errs...)
}

// writeAccess writes the token file the API server reads (a random admin
// token made once per cluster) and the admin kubeconfig everything else,
// the local stack included, uses.
func (c *Cluster) writeAccess() error {
	tokens := c.path("pki", "tokens.csv")
	if raw, err := os.ReadFile(tokens); err == nil {
		c.token, _, _ = strings.Cut(string(raw), ",")
	} else {
		buf := make([]byte, 24)
		if _, err := rand.Read(buf); err != nil {
			return err
		}
		c.token = hex.EncodeToString(buf)
		if err := os.WriteFile(tokens, []byte(c.token+",cloudscale-admin,cloudscale-admin,system:masters\n"), 0o600); err != nil {
			return err
		}
	}
	ca, err := os.ReadFile(c.path("pki", "ca.crt"))
	if err != nil {
		return err
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: cloudscale-local
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority-data: %s
contexts:
- name: cloudscale-local
  context:
    cluster: cloudscale-local
    user: cloudscale-admin
current-context: cloudscale-local
users:
- name: cloudscale-admin
  user:
    token: %s
`, c.Ports.API, base64.StdEncoding.EncodeToString(ca), c.token)
	return os.WriteFile(c.Kubeconfig(), []byte(kubeconfig), 0o600)
}

// readToken loads the admin token of an existing cluster.
func (c *Cluster) readToken() error {
	raw, err := os.ReadFile(c.path("pki", "tokens.csv"))
	if err != nil {
		return err
	}
	c.token, _, _ = strings.Cut(string(raw), ",")
	return nil
}

func (c *Cluster) out() io.Writer {
	if c.Out == nil {
		return io.Discard
	}
	return c.Out
}

// logTail returns the last n lines a process logged, for error messages.
func (c *Cluster) logTail(p Process, n int) string {
	raw, err := os.ReadFile(c.path("logs", p.Name+".log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
