// Command slogate is the SLO gate Chaos Mesh's StatusChecks ask (see
// package gate). Configured by environment (package config):
//
//	SLOGATE_CONFIG          the components file (default /etc/slogate/config.yaml)
//	SLOGATE_LISTEN          the listen address; wins over LISTEN_ADDR (default :8080)
//	SLOGATE_PROMETHEUS_URL  Prometheus' HTTP API, for the PromQL SLOs (optional)
//	KUBECONFIG              a kubeconfig outside the cluster (default: in-cluster)
//
// and the variables every service shares (config.Service: SERVICE_NAME,
// default slogate; LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT, SHUTDOWN_TIMEOUT,
// DRAIN_DELAY...). It serves the gate at /slo/<component>, /healthz,
// /readyz (ready while the Kubernetes API, and Prometheus when configured,
// answer) and /metrics (package server).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cloudscale/platform/services/config"
	"github.com/cloudscale/platform/services/server"
	"github.com/cloudscale/platform/services/slogate/gate"
	"github.com/cloudscale/platform/services/telemetry"
)

func main() {
	ctx, stop := server.SignalContext()
	err := run(ctx)
	stop()
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("slogate stopped", "service", "slogate", "error", err)
		os.Exit(1)
	}
}

// settings are the gate's environment: what every service shares, and
// its own SLOGATE_* variables (unchanged, as the resilience tier sets them).
type settings struct {
	config.Service
	Config        string `env:"SLOGATE_CONFIG" envDefault:"/etc/slogate/config.yaml"`
	Listen        string `env:"SLOGATE_LISTEN"`
	PrometheusURL string `env:"SLOGATE_PROMETHEUS_URL"`
	Kubeconfig    string `env:"KUBECONFIG"`
}

// Validate checks the shared variables and SLOGATE_LISTEN.
func (s settings) Validate() error {
	errs := []error{s.Service.Validate()}
	if s.Listen != "" {
		if err := config.CheckAddr(s.Listen); err != nil {
			errs = append(errs, &config.VarError{Var: "SLOGATE_LISTEN", Err: fmt.Errorf("%q is not host:port: %w", s.Listen, err)})
		}
	}
	return errors.Join(errs...)
}

// load reads the settings; SLOGATE_LISTEN, when set, is the listen address.
func load() (settings, error) {
	s := settings{Service: config.Service{Name: "slogate"}}
	if err := config.Load(&s); err != nil {
		return s, err
	}
	if s.Listen != "" {
		s.Service.Listen = s.Listen
	}
	return s, nil
}

func run(ctx context.Context) error {
	s, err := load()
	if err != nil {
		return err
	}
	cfg, err := gate.LoadConfig(s.Config)
	if err != nil {
		return fmt.Errorf("SLOGATE_CONFIG: %w", err)
	}
	var rc *rest.Config
	if s.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	g := &gate.Gate{Config: cfg, Kubernetes: kube}
	if s.PrometheusURL != "" {
		if g.Prometheus, err = gate.NewPrometheus(s.PrometheusURL); err != nil {
			return fmt.Errorf("SLOGATE_PROMETHEUS_URL %q: %w", s.PrometheusURL, err)
		}
	}

	tel, err := telemetry.New(ctx, telemetry.Options{Service: s.Name, Version: s.Version, OTLPEndpoint: s.OTLPEndpoint,
		Sampling: s.TraceSampling, LogLevel: s.LogLevel})
	if err != nil {
		return err
	}
	defer func() {
		flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(flush); err != nil {
			tel.Logger.Warn("flushing spans", "error", err)
		}
	}()
	h, err := handler(tel, g)
	if err != nil {
		return err
	}
	tel.Logger.Info("slogate configured", "components", len(cfg.Components), "prometheus", g.Prometheus != nil)
	return server.Run(ctx, server.Options{
		Addr: s.Service.Listen, Handler: h, Checks: checks(kube, g.Prometheus),
		Registry: tel.Registry, Logger: tel.Logger,
		ShutdownTimeout: s.ShutdownTimeout, DrainDelay: s.DrainDelay,
	})
}

// handler serves the gate with its own metrics in tel.Registry: the
// verdicts it gave (slogate_requests_total by status code: 200 holds, 503
// a broken SLO) and how long they took (slogate_request_duration_seconds),
// as before; and the shared RED metrics and server span for
// GET /slo/{component}.
func handler(tel *telemetry.Telemetry, g http.Handler) (http.Handler, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slogate_requests_total", Help: "Verdicts asked of the SLO gate, by HTTP status code.",
	}, []string{"code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "slogate_request_duration_seconds", Help: "Time to give a verdict.", Buckets: prometheus.DefBuckets,
	}, []string{"code"})
	for _, c := range []prometheus.Collector{requests, duration} {
		if err := tel.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("slogate metrics: %w", err)
		}
	}
	counted := promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(requests, g))
	const route = "GET /slo/{component}"
	mux := http.NewServeMux()
	mux.Handle(route, tel.Route(route, counted))
	mux.Handle("/", counted) // the gate's own 404s, counted as before
	return mux, nil
}

// checks are /readyz's: the Kubernetes API answers (GET /version, which
// every caller may read), and Prometheus when the gate has one.
func checks(kube kubernetes.Interface, prom promv1.API) []server.Check {
	cs := []server.Check{{Name: "kubernetes", Probe: func(ctx context.Context) error {
		return kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error()
	}}}
	if prom != nil {
		cs = append(cs, server.Check{Name: "prometheus", Probe: func(ctx context.Context) error {
			_, err := prom.Buildinfo(ctx)
			return err
		}})
	}
	return cs
}
