package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// started runs Run on 127.0.0.1:<free port> and returns its base URL, the
// cancel that stops it and the channel its result arrives on.
func started(t *testing.T, o Options, workers ...func(context.Context) error) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	o.Listener = ln
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, exited := make(chan error, 1), make(chan struct{})
	go func() { done <- Run(ctx, o, workers...); close(exited) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
	})
	return "http://" + ln.Addr().String(), cancel, done
}

// fresh is a client that opens a new connection per request, so a
// closed listener shows.
var fresh = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := fresh.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func readiness(t *testing.T, url string) (int, Readiness) {
	t.Helper()
	code, body := get(t, url+"/readyz")
	var r Readiness
	require.NoError(t, json.Unmarshal([]byte(body), &r), body)
	return code, r
}

// rendezvous is two checks that each pass only when the other runs at
// the same time: they pass only if /readyz runs checks concurrently.
func rendezvous() []Check {
	a, b := make(chan struct{}), make(chan struct{})
	meet := func(mine, theirs chan struct{}) func(context.Context) error {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-theirs:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return []Check{{Name: "postgres", Probe: meet(a, b)}, {Name: "redis", Probe: meet(b, a)}}
}

// TestEndpoints: /healthz, /metrics and the app's routes are served;
// /readyz answers 200 when every check passes (run concurrently).
func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "orders_total", Help: "Orders."}))
	app := http.NewServeMux()
	app.HandleFunc("GET /api/v1/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "order "+r.PathValue("id"))
	})
	url, _, _ := started(t, Options{Handler: app, Registry: reg, Checks: rendezvous()})

	code, body := get(t, url+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	code, body = get(t, url+"/api/v1/orders/7")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "order 7", body)
	code, _ = get(t, url+"/nothing")
	assert.Equal(t, http.StatusNotFound, code)
	code, body = get(t, url+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "orders_total 0")

	code, r := readiness(t, url)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, Readiness{Status: "ready", Checks: map[string]string{"postgres": "ok", "redis": "ok"}}, r)
}

// TestReadyzFails: /readyz answers 503 naming each failing check's error,
// including a check that outlives CheckTimeout.
func TestReadyzFails(t *testing.T) {
	url, _, _ := started(t, Options{CheckTimeout: 50 * time.Millisecond, Checks: []Check{
		{Name: "postgres", Probe: func(context.Context) error { return nil }},
		{Name: "rabbitmq", Probe: func(context.Context) error { return errors.New("dial tcp 127.0.0.1:5672: connection refused") }},
		{Name: "mongodb", Probe: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
	}})
	code, r := readiness(t, url)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, Readiness{Status: "not ready", Checks: map[string]string{
		"postgres": "ok",
		"rabbitmq": "dial tcp 127.0.0.1:5672: connection refused",
		"mongodb":  context.DeadlineExceeded.Error(),
	}}, r)
}

// TestGracefulShutdown: after the context is cancelled /readyz answers
// 503 at once, the listener closes after the drain, an in-flight request
// still completes with 200, the workers' context is cancelled only after
// it, and Run waits for the worker to finish its message.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	workerCtx := make(chan context.Context, 1)
	var workerAliveDuringRequest, requestAlive atomic.Bool
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		workerAliveDuringRequest.Store((<-workerCtx).Err() == nil)
		requestAlive.Store(r.Context().Err() == nil)
		_, _ = io.WriteString(w, "done")
	})
	cancelled, finish, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	worker := func(ctx context.Context) error {
		workerCtx <- ctx
		<-ctx.Done()
		close(cancelled)
		<-finish // the message in flight
		close(finished)
		return ctx.Err()
	}
	url, stop, done := started(t, Options{Handler: app, DrainDelay: 3 * time.Second, ShutdownTimeout: 20 * time.Second,
		Checks: []Check{{Name: "postgres", Probe: func(context.Context) error { return nil }}}}, worker)

	code, _ := readiness(t, url)
	require.Equal(t, http.StatusOK, code)
	inflight := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		assert.NoError(t, err)
		inflight <- resp
	}()
	<-entered
	stop()
	// The drain (3 s): still listening, not ready; generous for a loaded CI machine.
	require.Eventually(t, func() bool {
		code, r := readiness(t, url)
		return code == http.StatusServiceUnavailable && r.Status == "stopping"
	}, 2500*time.Millisecond, 5*time.Millisecond)
	// Then the listener closes while the request is in flight.
	require.Eventually(t, func() bool {
		_, err := fresh.Get(url + "/healthz")
		return err != nil
	}, 10*time.Second, 10*time.Millisecond)

	close(release)
	resp := <-inflight
	require.NotNil(t, resp)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "done", string(body))
	assert.True(t, workerAliveDuringRequest.Load(), "workers are stopped after the server")
	assert.True(t, requestAlive.Load(), "the signal does not cancel in-flight requests")

	<-cancelled
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) before its worker finished", err)
	default:
	}
	close(finish)
	require.NoError(t, <-done)
	select {
	case <-finished:
	default:
		t.Fatal("Run returned before the worker")
	}
}

// TestStreamsEndOrAreCut: a stream that ends when Stopping is closed lets
// Run return cleanly; one that ignores it is cut at ShutdownTimeout and
// Run says so.
func TestStreamsEndOrAreCut(t *testing.T) {
	for _, polite := range []bool{true, false} {
		t.Run(map[bool]string{true: "ends", false: "cut"}[polite], func(t *testing.T) {
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: hello\n\n")
				_ = http.NewResponseController(w).Flush()
				stopping := Stopping(r.Context())
				if !polite {
					stopping = nil
				}
				select {
				case <-stopping:
				case <-r.Context().Done():
				}
			})
			url, stop, done := started(t, Options{Handler: app, ShutdownTimeout: 300 * time.Millisecond})
			resp, err := http.Get(url + "/events")
			require.NoError(t, err)
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "data: hello\n", line)
			stop()
			err = <-done
			if polite {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, "in-flight requests did not finish within 300ms")
			}
		})
	}
}

// TestFailures: a worker's error, or a listener that cannot listen, stops
// Run with that error, without any signal.
func TestFailures(t *testing.T) {
	boom := errors.New("amqp: connection closed")
	otherStopped := make(chan struct{})
	_, _, done := started(t, Options{},
		func(context.Context) error { return boom },
		func(ctx context.Context) error { <-ctx.Done(); close(otherStopped); return nil })
	err := <-done
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "worker 0")
	<-otherStopped

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	err = Run(context.Background(), Options{Addr: busy.Addr().String(), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), busy.Addr().String()), err.Error())
}

// TestStoppingOutsideRun: outside Run, Stopping is nil (never closed).
func TestStoppingOutsideRun(t *testing.T) {
	assert.Nil(t, Stopping(context.Background()))
}
