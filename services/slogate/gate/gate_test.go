package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cloudscale/platform/infra/local/controlplane"
)

// apiServer is a real kube-apiserver on etcd (the simulated control
// plane's first two processes), for the readiness source.
func apiServer(t *testing.T) kubernetes.Interface {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "..", "..", ".cloudscale", "bin"))
	require.NoError(t, err)
	for _, tool := range []string{"kube-apiserver", "etcd"} {
		_, err := os.Stat(filepath.Join(bin, tool))
		require.NoError(t, err, "%s is missing: run `make tools` (the README's `make test` does)", tool)
	}
	var log bytes.Buffer
	cp := controlplane.New(filepath.Join(t.TempDir(), "cluster"), bin, &log)
	cp.Processes, cp.Nodes = controlplane.DefaultProcesses()[:2], nil
	cp.Ports = controlplane.DefaultPorts.Offset(300) // beside the end-to-end test's and a developer's cluster
	t.Cleanup(func() { assert.NoError(t, cp.Stop()) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, cp.Start(ctx, true), log.String())
	client, err := cp.Client()
	require.NoError(t, err)
	return client
}

// prometheus is a fake Prometheus HTTP API: /api/v1/query answers the
// value the test sets for the query's metric, or fails when down.
type prometheus struct {
	availability, latency atomic.Value // string
	down                  atomic.Bool
	queries               atomic.Int32
}

func (p *prometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	p.queries.Add(1)
	if p.down.Load() || r.URL.Path != "/api/v1/query" {
		http.Error(w, `{"status":"error","errorType":"unavailable","error":"down"}`, http.StatusServiceUnavailable)
		return
	}
	v := p.availability.Load().(string)
	if strings.Contains(r.Form.Get("query"), "duration") {
		v = p.latency.Load().(string)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,%q]}]}}`, time.Now().Unix(), v)
}

func TestGate(t *testing.T) {
	kube := apiServer(t)
	ctx := context.Background()
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	yes, no := true, false
	// Three endpoints of web, one not ready, over two slices; api has none.
	for i, eps := range [][]discoveryv1.Endpoint{
		{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}}, {Addresses: []string{"10.0.0.2"}}},
		{{Addresses: []string{"10.0.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}}},
	} {
		_, err := kube.DiscoveryV1().EndpointSlices("shop").Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps,
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	prom := &prometheus{}
	prom.availability.Store("0.9995")
	prom.latency.Store("0.120")
	promSrv := httptest.NewServer(prom)
	defer promSrv.Close()
	papi, err := NewPrometheus(promSrv.URL)
	require.NoError(t, err)

	g := &Gate{Kubernetes: kube, Prometheus: papi, Config: Config{Components: map[string]Component{
		"web": {Namespace: "shop", Services: []string{"web"}, Needed: 2,
			Availability: &Objective{Query: `sum(rate(http_requests_total{code!~"5.."}[5m])) / sum(rate(http_requests_total[5m]))`, Objective: 0.999},
			Latency:      &Objective{Query: `histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))`, ThresholdMs: 300}},
		"api": {Namespace: "shop", Services: []string{"api"}},
	}}}
	require.NoError(t, g.Config.Validate())
	srv := httptest.NewServer(g)
	defer srv.Close()

	get := func(path string) (int, Answer) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		var a Answer
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
		return resp.StatusCode, a
	}
	cases := []struct {
		name   string
		setup  func()
		path   string
		code   int
		reason string
	}{
		{"steady state holds", func() {}, "/slo/web", 200, ""},
		{"a component without ready endpoints", func() {}, "/slo/api", 503, "shop/api has 0 ready endpoints; it needs 1"},
		{"the platform answers for every component", func() {}, "/slo/platform", 503, "shop/api has 0 ready endpoints"},
		{"availability below its objective", func() { prom.availability.Store("0.98") }, "/slo/web", 503, "availability 0.98000 against an objective of 0.99900"},
		{"latency above its threshold", func() { prom.availability.Store("0.9995"); prom.latency.Store("0.450") }, "/slo/web", 503, "latency 450 ms against a threshold of 300 ms"},
		{"Prometheus unreachable is not a pass", func() { prom.latency.Store("0.1"); prom.down.Store(true) }, "/slo/web", 503, "cannot run"},
		{"unknown component", func() {}, "/slo/nope", 404, "unknown component"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			code, a := get(tc.path)
			assert.Equal(t, tc.code, code, "%+v", a)
			assert.Contains(t, a.Reason, tc.reason)
			if code == 200 {
				assert.True(t, a.OK)
				assert.Len(t, a.Checks, 3, "readiness, availability and latency")
			}
		})
	}
	assert.Positive(t, prom.queries.Load())

	// One more ready endpoint than before satisfies a stricter need; a
	// fourth is still missing.
	prom.down.Store(false)
	g.Config.Components["web"] = Component{Namespace: "shop", Services: []string{"web"}, Needed: 3}
	code, a := get("/slo/web")
	assert.Equal(t, 503, code)
	assert.Equal(t, "shop/web has 2 ready endpoints; it needs 3", a.Reason)
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		f := filepath.Join(dir, fmt.Sprintf("c%d.yaml", len(body)))
		require.NoError(t, os.WriteFile(f, []byte(body), 0o600))
		return f
	}
	good := write("components:\n  web: {namespace: shop, services: [web], needed: 2, availability: {query: up, objective: 0.999}}\n")
	c, err := LoadConfig(good)
	require.NoError(t, err)
	assert.Equal(t, 2, c.Components["web"].Needed)

	for _, tc := range []struct{ body, want string }{
		{"components:\n  web: {namespace: shop, service: [web]}\n", "components.web.service: Unsupported value: unknown key"},
		{"components:\n  web: {namespace: shop}\n", "components.web: namespace and services are required"},
		{"components:\n  platform: {namespace: shop, services: [web]}\n", `components.platform: "platform" is reserved`},
		{"components:\n  web: {namespace: shop, services: [web], availability: {query: up, objective: 99.9}}\n", "components.web.availability: want a query and an objective in (0, 1]"},
		{"components:\n  web: {namespace: shop, services: [web], latency: {query: up}}\n", "components.web.latency: want a query and a thresholdMs above 0"},
	} {
		_, err := LoadConfig(write(tc.body))
		require.Error(t, err, tc.body)
		assert.Contains(t, err.Error(), tc.want)
	}
}
