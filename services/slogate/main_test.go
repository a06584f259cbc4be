package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/infra/local/controlplane"
	"github.com/cloudscale/platform/services/server"
	"github.com/cloudscale/platform/services/telemetry"
)

func body(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestHandlerServesMetrics: the gate's verdicts are counted by status and
// exposed in the registry /metrics serves, with the shared RED metrics of
// its route and the Go runtime's.
func TestHandlerServesMetrics(t *testing.T) {
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slo/broken" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	tel, err := telemetry.New(context.Background(), telemetry.Options{Service: "slogate", Sampling: 1, LogOutput: io.Discard})
	require.NoError(t, err)
	h, err := handler(tel, gate)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, p := range []string{"/slo/ok", "/slo/ok", "/slo/broken"} {
		code, _ := body(t, srv.URL+p)
		require.NotZero(t, code)
	}
	metrics := httptest.NewServer(promhttp.HandlerFor(tel.Registry, promhttp.HandlerOpts{}))
	defer metrics.Close()
	_, text := body(t, metrics.URL)
	assert.Contains(t, text, `slogate_requests_total{code="200"} 2`)
	assert.Contains(t, text, `slogate_requests_total{code="503"} 1`)
	assert.Contains(t, text, `slogate_request_duration_seconds_count{code="503"} 1`)
	assert.Contains(t, text, `http_server_requests_total{code="200",method="get",route="GET /slo/{component}"} 2`)
	assert.Contains(t, text, "go_goroutines")
}

// TestSettings: the SLOGATE_* variables keep their meaning beside the
// shared ones; a bad value is named.
func TestSettings(t *testing.T) {
	t.Setenv("SLOGATE_LISTEN", ":9090")
	t.Setenv("LISTEN_ADDR", ":7070")
	s, err := load()
	require.NoError(t, err)
	assert.Equal(t, ":9090", s.Service.Listen, "SLOGATE_LISTEN wins")
	assert.Equal(t, "slogate", s.Name)
	assert.Equal(t, "/etc/slogate/config.yaml", s.Config)

	t.Setenv("SLOGATE_LISTEN", "9090")
	t.Setenv("DRAIN_DELAY", "later")
	_, err = load()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `SLOGATE_LISTEN: "9090" is not host:port`)
	assert.Contains(t, err.Error(), `DRAIN_DELAY: "later"`)
}

// prometheusAPI is a stand-in Prometheus HTTP API: build info for the
// readiness check, a query answer for the SLOs; 503 when down.
type prometheusAPI struct{ down atomic.Bool }

func (p *prometheusAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case p.down.Load():
		http.Error(w, `{"status":"error","errorType":"unavailable","error":"down"}`, http.StatusServiceUnavailable)
	case r.URL.Path == "/api/v1/status/buildinfo":
		_, _ = io.WriteString(w, `{"status":"success","data":{"version":"3.5.0"}}`)
	default:
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"0.9999"]}]}}`, time.Now().Unix())
	}
}

// TestRun: the gate as deployed, on a real kube-apiserver: ready when the
// API and Prometheus answer, not ready when Prometheus is down, verdicts
// and metrics served, a clean stop on cancel.
func TestRun(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join("..", "..", ".cloudscale", "bin"))
	require.NoError(t, err)
	var log bytes.Buffer
	cp := controlplane.New(filepath.Join(t.TempDir(), "cluster"), bin, &log)
	cp.Processes, cp.Nodes = controlplane.DefaultProcesses()[:2], nil
	cp.Ports = controlplane.DefaultPorts.Offset(400) // beside the gate test's (300) and the e2e tests'
	t.Cleanup(func() { assert.NoError(t, cp.Stop()) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, cp.Start(ctx, true), log.String())
	kube, err := cp.Client()
	require.NoError(t, err)
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	ready := true
	_, err = kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	prom := &prometheusAPI{}
	promSrv := httptest.NewServer(prom)
	defer promSrv.Close()
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("components:\n"+
		"  web: {namespace: shop, services: [web], availability: {query: up, objective: 0.999}}\n"+
		"  api: {namespace: shop, services: [api]}\n"), 0o600))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	for k, v := range map[string]string{"SLOGATE_CONFIG": cfgFile, "SLOGATE_LISTEN": addr, "KUBECONFIG": cp.Kubeconfig(),
		"SLOGATE_PROMETHEUS_URL": promSrv.URL, "DRAIN_DELAY": "0s", "LOG_LEVEL": "WARN"} {
		t.Setenv(k, v)
	}

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(runCtx) }()
	url := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 20*time.Millisecond)

	for path, want := range map[string]int{"/slo/web": 200, "/slo/api": 503, "/slo/nope": 404, "/healthz": 200} {
		code, text := body(t, url+path)
		assert.Equal(t, want, code, "%s: %s", path, text)
	}
	prom.down.Store(true)
	code, text := body(t, url+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	var r server.Readiness
	require.NoError(t, json.Unmarshal([]byte(text), &r))
	assert.Equal(t, "ok", r.Checks["kubernetes"])
	assert.Contains(t, r.Checks["prometheus"], "503")

	_, metrics := body(t, url+"/metrics")
	for _, want := range []string{`slogate_requests_total{code="200"} 1`, `slogate_requests_total{code="503"} 1`,
		`slogate_requests_total{code="404"} 1`, `http_server_requests_total{code="503",method="get",route="GET /slo/{component}"} 1`} {
		assert.Contains(t, metrics, want)
	}
	assert.False(t, strings.Contains(metrics, "healthz"), "probes are not verdicts")

	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
}
