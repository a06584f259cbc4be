package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHandlerServesMetrics: the gate's verdicts are counted by status and
// exposed at /metrics, which itself answers outside the gate.
func TestHandlerServesMetrics(t *testing.T) {
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slo/broken" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	srv := httptest.NewServer(handler(gate, prometheus.NewRegistry()))
	defer srv.Close()
	for _, p := range []string{"/slo/ok", "/slo/ok", "/slo/broken"} {
		resp, err := http.Get(srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `slogate_requests_total{code="200"} 2`)
	assert.Contains(t, string(body), `slogate_requests_total{code="503"} 1`)
	assert.Contains(t, string(body), `slogate_request_duration_seconds_count{code="503"} 1`)
	assert.Contains(t, string(body), "go_goroutines")
}
