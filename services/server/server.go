// Package server runs a service's HTTP server and background workers the
// same way in every Go service of the platform: the app's routes beside
// /healthz, /readyz and /metrics, and a graceful shutdown on SIGTERM that
// drains the pod from its Service's endpoints, lets in-flight requests
// and messages finish, then returns.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one dependency /readyz asks about (a database ping, a broker
// channel). Probe returns nil when the dependency answers; it must honour
// ctx, which carries Options.CheckTimeout.
type Check struct {
	Name  string
	Probe func(context.Context) error
}

// Options configure Run.
type Options struct {
	// Addr is the listen address, host:port (config.Service.Listen).
	Addr string
	// Listener, when set, is served instead of listening on Addr (tests
	// listen on 127.0.0.1:0 and read the port from it).
	Listener net.Listener
	// Handler serves the app's routes (everything but /healthz, /readyz
	// and /metrics); nil answers 404.
	Handler http.Handler
	// Checks are the dependencies /readyz probes.
	Checks []Check
	// Registry is served at /metrics; nil: no /metrics.
	Registry *prometheus.Registry
	// Logger logs start, stop and failures (default slog.Default()).
	Logger *slog.Logger
	// ShutdownTimeout bounds the shutdown after the drain (default 20 s);
	// DrainDelay is how long /readyz answers 503 before it (0: none).
	ShutdownTimeout, DrainDelay time.Duration
	// CheckTimeout bounds each /readyz probe (default 2 s).
	CheckTimeout time.Duration
}

// Default timeouts, as config.Service's defaults.
const (
	DefaultShutdownTimeout = 20 * time.Second
	DefaultCheckTimeout    = 2 * time.Second
	// readHeaderTimeout bounds a client's request headers (slowloris).
	readHeaderTimeout = 10 * time.Second
)

// Run serves o.Handler with /healthz, /readyz and /metrics on o.Addr and
// runs workers (consumers, relays) beside the server, each with a context
// cancelled at shutdown, until ctx is done; then it shuts down gracefully:
//
//  1. /readyz answers 503 at once (the handlers learn it through Stopping);
//  2. after o.DrainDelay (the endpoints drop the pod), the server stops
//     accepting and waits for in-flight requests (http.Server.Shutdown);
//  3. the workers' context is cancelled and Run waits for them to return
//     (they finish the messages in flight).
//
// Steps 2 and 3 share one o.ShutdownTimeout. Requests still running at its
// end, long-lived responses such as server-sent events included, are cut
// (their connections closed): a streaming handler should end its stream
// when Stopping(r.Context()) is closed, and clients reconnect elsewhere.
// The pod's termination grace period must exceed DrainDelay +
// ShutdownTimeout.
//
// If the listener fails, or a worker returns an error before shutdown, Run
// stops everything the same way (without the drain delay) and returns that
// error. Errors during shutdown (a deadline missed, a worker's error other
// than context.Canceled) are returned joined. A clean shutdown returns nil.
func Run(ctx context.Context, o Options, workers ...func(context.Context) error) error {
	o = withDefaults(o)
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", o.Addr); err != nil {
			return fmt.Errorf("server: listening on %s: %w", o.Addr, err)
		}
	}
	st := &state{stopping: make(chan struct{})}
	srv := &http.Server{
		Handler:           mux(o, st),
		ReadHeaderTimeout: readHeaderTimeout,
		// Requests keep ctx's values, not its cancellation: the signal
		// must not cancel the requests the shutdown lets finish.
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.WithoutCancel(ctx), stoppingKey{}, st.stopping)
		},
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// The workers' context keeps ctx's values but not its cancellation:
	// they stop after the server, not with the signal.
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	failed := make(chan error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			if err := w(wctx); err != nil && (wctx.Err() == nil || !errors.Is(err, context.Canceled)) {
				failed <- fmt.Errorf("server: worker %d: %w", i, err)
			}
		})
	}
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()

	o.Logger.Info("serving", "addr", ln.Addr().String(), "workers", len(workers), "checks", len(o.Checks))
	cause, serveDone := wait(ctx, o, st, served, failed)

	// Shut down: the server first (in-flight requests may still need what
	// the workers hold, e.g. a broker connection), then the workers.
	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	errs := []error{cause}
	if err := srv.Shutdown(deadline); err != nil {
		errs = append(errs, fmt.Errorf("server: in-flight requests did not finish within %v: %w", o.ShutdownTimeout, err))
		_ = srv.Close() // cut what is left (long-lived streams)
	}
	if !serveDone {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("server: serving %s: %w", ln.Addr(), err))
		}
	}
	stopWorkers()
	select {
	case <-workersDone:
	case <-deadline.Done():
		errs = append(errs, fmt.Errorf("server: workers did not return within %v", o.ShutdownTimeout))
	}
	// failed has room for every worker's error: none blocks, none is lost
	// but an abandoned worker's.
	for more := true; more; {
		select {
		case err := <-failed:
			errs = append(errs, err)
		default:
			more = false
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		o.Logger.Error("stopped", "error", err)
	} else {
		o.Logger.Info("stopped")
	}
	return err
}

func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	if o.Handler == nil {
		o.Handler = http.NotFoundHandler()
	}
	return o
}

// wait blocks until ctx is done (then drains: /readyz says 503 for
// DrainDelay), the listener fails or a worker fails. It returns the
// failure (nil for ctx) and whether it read served.
func wait(ctx context.Context, o Options, st *state, served <-chan error, failed <-chan error) (cause error, serveDone bool) {
	select {
	case <-ctx.Done():
		st.stop()
		o.Logger.Info("shutting down: draining", "drain_delay", o.DrainDelay.String(), "shutdown_timeout", o.ShutdownTimeout.String())
		if o.DrainDelay <= 0 {
			return nil, false
		}
		t := time.NewTimer(o.DrainDelay)
		defer t.Stop()
		select {
		case <-t.C:
			return nil, false
		case err := <-served:
			cause, serveDone = fmt.Errorf("server: serving: %w", err), true
		case cause = <-failed:
		}
	case err := <-served:
		cause, serveDone = fmt.Errorf("server: serving: %w", err), true
	case cause = <-failed:
	}
	st.stop()
	o.Logger.Error("shutting down on failure", "error", cause)
	return cause, serveDone
}

// state is the server's stopping flag, shared by /readyz and Stopping.
type state struct {
	once     sync.Once
	stopped  atomic.Bool
	stopping chan struct{}
}

func (s *state) stop() {
	s.once.Do(func() { s.stopped.Store(true); close(s.stopping) })
}

type stoppingKey struct{}

// Stopping is closed when the server serving the request (a context from
// a handler's r.Context()) begins to shut down; a long-lived response
// (server-sent events) should end then. Outside Run it is nil (never
// closed).
func Stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stoppingKey{}).(chan struct{})
	return ch
}

// SignalContext is cancelled by SIGTERM (Kubernetes stopping the pod) or
// SIGINT; call its CancelFunc to stop listening for them.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

func mux(o Options, st *state) *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	m.Handle("/readyz", readyz(o.Checks, o.CheckTimeout, st))
	if o.Registry != nil {
		m.Handle("/metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry}))
	}
	m.Handle("/", o.Handler)
	return m
}

// Readiness is /readyz's answer: status "ready", "not ready" or
// "stopping", and each check's "ok" or error text.
type Readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// readyz answers 200 when every check passes (run concurrently, each
// within timeout), 503 with the failures' text otherwise, and 503 at once
// when the server is stopping.
func readyz(checks []Check, timeout time.Duration, st *state) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st.stopped.Load() {
			writeJSON(w, http.StatusServiceUnavailable, Readiness{Status: "stopping"})
			return
		}
		results := make([]error, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(r.Context(), timeout)
				defer cancel()
				results[i] = c.Probe(ctx)
			})
		}
		wg.Wait()
		ans := Readiness{Status: "ready", Checks: make(map[string]string, len(checks))}
		code := http.StatusOK
		for i, c := range checks {
			ans.Checks[c.Name] = "ok"
			if results[i] != nil {
				ans.Checks[c.Name] = results[i].Error()
				ans.Status, code = "not ready", http.StatusServiceUnavailable
			}
		}
		writeJSON(w, code, ans)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
