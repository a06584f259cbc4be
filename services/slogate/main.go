// Command slogate is the SLO gate Chaos Mesh's StatusChecks ask (see
// package gate). Configured by environment:
//
//	SLOGATE_CONFIG          the components file (default /etc/slogate/config.yaml)
//	SLOGATE_LISTEN          the listen address (default :8080)
//	SLOGATE_PROMETHEUS_URL  Prometheus' HTTP API, for the PromQL SLOs (optional)
//	KUBECONFIG              a kubeconfig outside the cluster (default: in-cluster)
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cloudscale/platform/services/slogate/gate"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("slogate stopped", "error", err)
		os.Exit(1)
	}
}

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func run(log *slog.Logger) error {
	file := env("SLOGATE_CONFIG", "/etc/slogate/config.yaml")
	cfg, err := gate.LoadConfig(file)
	if err != nil {
		return fmt.Errorf("SLOGATE_CONFIG: %w", err)
	}
	var rc *rest.Config
	if kc := os.Getenv("KUBECONFIG"); kc != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", kc)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	g := &gate.Gate{Config: cfg, Kubernetes: kube}
	if u := os.Getenv("SLOGATE_PROMETHEUS_URL"); u != "" {
		if g.Prometheus, err = gate.NewPrometheus(u); err != nil {
			return fmt.Errorf("SLOGATE_PROMETHEUS_URL %q: %w", u, err)
		}
	}
	srv := &http.Server{Addr: env("SLOGATE_LISTEN", ":8080"), Handler: handler(g, prometheus.NewRegistry()), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("slogate serving", "addr", srv.Addr, "components", len(cfg.Components), "prometheus", g.Prometheus != nil)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("slogate stopped")
	return nil
}

// handler serves the gate, and its own metrics at /metrics: the verdicts
// it gave (requests by status code: 200 holds, 503 a broken SLO) and how
// long they took, with the Go runtime's and the process's.
func handler(g http.Handler, reg *prometheus.Registry) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slogate_requests_total", Help: "Verdicts asked of the SLO gate, by HTTP status code.",
	}, []string{"code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "slogate_request_duration_seconds", Help: "Time to give a verdict.", Buckets: prometheus.DefBuckets,
	}, []string{"code"})
	reg.MustRegister(requests, duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/", promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(requests, g)))
	return mux
}
