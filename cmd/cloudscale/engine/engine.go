// Package engine runs a stack's program through the Pulumi Automation API
// (an inline program, so no Go language host is needed), streams progress
// and sums up what changed. It takes the program as a value and imports no
// cloud SDK.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Op is what the engine is asked to do.
type Op string

const (
	Up      Op = "up"
	Preview Op = "preview"
	Destroy Op = "destroy"
	Refresh Op = "refresh"
)

// PulumiVersion is the CLI version the project pins (`make tools` builds it).
const PulumiVersion = "v3.274.1"

// LocalPassphrase encrypts the local stack's secrets when no passphrase is
// set. The local stack holds no real secret; every other stack needs
// PULUMI_CONFIG_PASSPHRASE (or another secrets provider).
const LocalPassphrase = "cloudscale-local-only"

// Request is one engine run.
type Request struct {
	Op         Op
	Stack      string
	ProjectDir string
	Program    pulumi.RunFunc
	// Out receives progress lines; Verbose adds the engine's own output.
	Out     io.Writer
	Verbose bool
	// Ephemeral keeps the state in a temporary backend that is removed
	// afterwards: rendering writes every object each time, whatever an
	// earlier render recorded.
	Ephemeral bool
}

// Summary is the outcome of a run.
type Summary struct {
	Op       Op             `json:"op"`
	Stack    string         `json:"stack"`
	Result   string         `json:"result"`
	Changes  map[string]int `json:"changes"`
	Duration time.Duration  `json:"durationNs"`
	Backend  string         `json:"backend"`
}

// String reads like "up local: 12 created, 0 updated, 0 deleted, 3 unchanged in 14.2s".
func (s Summary) String() string {
	c := s.Changes
	return fmt.Sprintf("%s %s: %s - %d created, %d updated, %d replaced, %d deleted, %d unchanged in %.1fs",
		s.Op, s.Stack, s.Result, c["create"], c["update"], c["replace"], c["delete"], c["same"], s.Duration.Seconds())
}

// ErrNoCLI says the Pulumi CLI could not be found.
var ErrNoCLI = errors.New("the pulumi CLI was not found")

// BinDir is the project-local directory `make tools` installs into.
func BinDir(projectDir string) string { return filepath.Join(projectDir, ".cloudscale", "bin") }

// StateDir is the default file backend of a project.
func StateDir(projectDir string) string { return filepath.Join(projectDir, ".cloudscale", "state") }

// FindCLI returns the pulumi binary: the project's own first, then PATH.
func FindCLI(projectDir string) (string, error) {
	local := filepath.Join(BinDir(projectDir), "pulumi")
	if fi, err := os.Stat(local); err == nil && !fi.IsDir() {
		return local, nil
	}
	if p, err := exec.LookPath("pulumi"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w in %s or on PATH: run `make tools` to build Pulumi %s from the Go module proxy into %s, or install it (https://www.pulumi.com/docs/install/) and put it on PATH",
		ErrNoCLI, BinDir(projectDir), PulumiVersion, BinDir(projectDir))
}

// Env is the environment the engine runs with: the project's bin dir first
// on PATH (for provider plugins), a local file backend unless
// PULUMI_BACKEND_URL says otherwise, and the local stack's passphrase.
func Env(projectDir, stack string) (map[string]string, string, error) {
	env := map[string]string{
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		"PATH":                     BinDir(projectDir) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	backend := os.Getenv("PULUMI_BACKEND_URL")
	if backend == "" {
		dir := StateDir(projectDir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, "", fmt.Errorf("state directory: %w", err)
		}
		backend = "file://" + dir
	}
	env["PULUMI_BACKEND_URL"] = backend
	if stack == "local" && os.Getenv("PULUMI_SKIP_CHECKPOINTS") == "" {
		// The engine rewrites the whole state after every step: with the
		// local stack's definitions in it (2 MB) that was 90% of an up
		// (158 s against 14 s for the render of 324 resources). The local
		// stack's state is written once, at the end; an interrupted up on
		// the simulated cluster is started over (`cluster start --fresh`).
		// Cloud stacks keep every checkpoint.
		env["PULUMI_SKIP_CHECKPOINTS"] = "true"
	}
	if os.Getenv("PULUMI_CONFIG_PASSPHRASE") == "" && os.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
		if stack != "local" {
			return nil, "", fmt.Errorf("stack %s: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to encrypt its secrets; only the local stack has a built-in passphrase", stack)
		}
		env["PULUMI_CONFIG_PASSPHRASE"] = LocalPassphrase
	}
	return env, backend, nil
}

// Run runs one operation and returns its summary. Progress goes to req.Out
// as it happens.
func Run(ctx context.Context, req Request) (Summary, error) {
	out := req.Out
	if out == nil {
		out = io.Discard
	}
	sum := Summary{Op: req.Op, Stack: req.Stack, Changes: map[string]int{}}
	cli, err := FindCLI(req.ProjectDir)
	if err != nil {
		return sum, err
	}
	env, backend, err := Env(req.ProjectDir, req.Stack)
	if err != nil {
		return sum, err
	}
	if req.Ephemeral {
		dir, err := os.MkdirTemp("", "cloudscale-render-state-")
		if err != nil {
			return sum, err
		}
		defer func() { _ = os.RemoveAll(dir) }()
		backend = "file://" + dir
		env["PULUMI_BACKEND_URL"] = backend
	}
	sum.Backend = backend
	stack, err := selectStack(ctx, req, cli, env, out)
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "==> %s %s (backend %s)\n", req.Op, req.Stack, backend)
	start := time.Now()
	p, err := operate(ctx, req, stack, out)
	sum.Duration = time.Since(start)
	for op, n := range p.changes {
		sum.Changes[op] = n
	}
	sum.Result = "succeeded"
	if err != nil {
		sum.Result = "failed"
		if len(p.errors) > 0 {
			return sum, fmt.Errorf("%s %s failed:\n  %s", req.Op, req.Stack, strings.Join(p.errors, "\n  "))
		}
		return sum, fmt.Errorf("%s %s failed: %w", req.Op, req.Stack, err)
	}
	return sum, nil
}

// selectStack clears locks a killed run left in a file backend and
// selects (or creates) the stack with the inline program.
func selectStack(ctx context.Context, req Request, cli string, env map[string]string, out io.Writer) (auto.Stack, error) {
	if dir, ok := strings.CutPrefix(env["PULUMI_BACKEND_URL"], "file://"); ok {
		cleared, err := ClearStaleLocks(dir)
		if err != nil {
			return auto.Stack{}, err
		}
		for _, l := range cleared {
			fmt.Fprintf(out, "==> removed a stale lock left by a killed run: %s\n", l)
		}
	}
	// NewPulumiCommand runs `pulumi version` from PATH or from Root/bin.
	opts := &auto.PulumiCommandOptions{}
	if filepath.Dir(cli) == BinDir(req.ProjectDir) {
		opts.Root = filepath.Dir(filepath.Dir(cli))
	}
	cmd, err := auto.NewPulumiCommand(opts)
	if err != nil {
		return auto.Stack{}, fmt.Errorf("pulumi CLI at %s: %w", cli, err)
	}
	stack, err := auto.UpsertStackInlineSource(ctx, req.Stack, "cloudscale", req.Program,
		auto.WorkDir(req.ProjectDir), auto.Pulumi(cmd), auto.EnvVars(env))
	if err != nil {
		return auto.Stack{}, fmt.Errorf("select stack %s: %w", req.Stack, err)
	}
	return stack, nil
}

// operate runs the operation, printing progress from the engine's events.
func operate(ctx context.Context, req Request, stack auto.Stack, out io.Writer) (*progress, error) {
	var err error
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	p := &progress{out: out}
	go func() {
		defer close(done)
		for ev := range ch {
			p.event(ev)
		}
	}()
	w := io.Discard
	if req.Verbose {
		w = out
	}
	switch req.Op {
	case Up:
		_, err = stack.Up(ctx, optup.EventStreams(ch), optup.ProgressStreams(w), optup.ErrorProgressStreams(w))
	case Preview:
		_, err = stack.Preview(ctx, optpreview.EventStreams(ch), optpreview.ProgressStreams(w), optpreview.ErrorProgressStreams(w))
	case Destroy:
		_, err = stack.Destroy(ctx, optdestroy.EventStreams(ch), optdestroy.ProgressStreams(w), optdestroy.ErrorProgressStreams(w))
	case Refresh:
		_, err = stack.Refresh(ctx, optrefresh.EventStreams(ch), optrefresh.ProgressStreams(w), optrefresh.ErrorProgressStreams(w))
	default:
		close(ch)
		return p, fmt.Errorf("unknown operation %q", req.Op)
	}
	<-done
	return p, err
}

// progress prints one line per finished resource step and keeps the
// engine's own summary and error diagnostics.
type progress struct {
	out     io.Writer
	n       int
	changes map[string]int
	errors  []string
}

func (p *progress) event(ev events.EngineEvent) {
	switch {
	case ev.ResOutputsEvent != nil:
		p.step(ev.ResOutputsEvent.Metadata, "")
	case ev.ResOpFailedEvent != nil:
		p.step(ev.ResOpFailedEvent.Metadata, " FAILED")
	case ev.DiagnosticEvent != nil && ev.DiagnosticEvent.Severity == "error":
		msg := strings.TrimSpace(ev.DiagnosticEvent.Message)
		if msg != "" {
			p.errors = append(p.errors, msg)
			fmt.Fprintf(p.out, "    error: %s\n", msg)
		}
	case ev.DiagnosticEvent != nil && ev.DiagnosticEvent.Severity == "warning":
		fmt.Fprintf(p.out, "    warning: %s\n", strings.TrimSpace(ev.DiagnosticEvent.Message))
	case ev.SummaryEvent != nil:
		p.changes = map[string]int{}
		for op, n := range ev.SummaryEvent.ResourceChanges {
			p.changes[string(op)] = n
		}
	}
}

func (p *progress) step(m apitype.StepEventMetadata, suffix string) {
	if m.Type == "pulumi:pulumi:Stack" {
		return
	}
	p.n++
	name := m.URN
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	fmt.Fprintf(p.out, "  [%3d] %-8s %s %s%s\n", p.n, m.Op, m.Type, name, suffix)
}

// ClearStaleLocks removes the file backend's stack locks whose process, on
// this host, no longer exists: what a killed `cloudscale up` leaves behind,
// and what would otherwise make every later run fail with "the stack is
// currently locked". Locks of live processes or other hosts are kept.
func ClearStaleLocks(stateDir string) ([]string, error) {
	root := filepath.Join(stateDir, ".pulumi", "locks")
	host, _ := os.Hostname()
	var cleared []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || filepath.Ext(p) != ".json" {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var lock struct {
			Pid      int    `json:"pid"`
			Hostname string `json:"hostname"`
		}
		if json.Unmarshal(raw, &lock) != nil || lock.Hostname != host || lock.Pid <= 0 {
			return nil
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", lock.Pid)); err == nil {
			return nil // its process still runs
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		cleared = append(cleared, p)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return cleared, fmt.Errorf("stale locks in %s: %w", root, err)
	}
	return cleared, nil
}
