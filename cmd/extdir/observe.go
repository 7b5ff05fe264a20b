package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/extdir/extdir/internal/telemetry"
)

// observeConfig holds the flags of the metrics. Traces have no flag: the
// standard OTEL_* variables turn them on (telemetry.TracingFromEnv).
type observeConfig struct {
	metrics          bool
	metricsListen    string
	metricsPerTenant bool

	// Read by check.
	tracing telemetry.TracingConfig
}

// metricsStatsMaxAge is how long one scrape's profile counts serve the
// next: Prometheus scrapes every 15 s or more, so only extra scrapers (a
// second Prometheus, a curl loop) reuse them.
const metricsStatsMaxAge = 5 * time.Second

func observeFlags(fs *flag.FlagSet, cfg *observeConfig) {
	fs.BoolVar(&cfg.metrics, "metrics", true, "Prometheus metrics at /metrics, for loopback clients only (or on --metrics-listen); false keeps none")
	fs.StringVar(&cfg.metricsListen, "metrics-listen", "", "serve /metrics on this address of its own (such as 127.0.0.1:9464, or :9464 for a Prometheus elsewhere) to any client that reaches it, instead of on the main listener")
	fs.BoolVar(&cfg.metricsPerTenant, "metrics-per-tenant", false, "label the profile counts by tenant too: one series per tenant and kind")
}

func (cfg *observeConfig) check(getenv func(string) string) error {
	if !cfg.metrics && (cfg.metricsListen != "" || cfg.metricsPerTenant) {
		return &usageError{msg: "serve: --metrics-listen and --metrics-per-tenant need --metrics"}
	}
	if cfg.metricsListen != "" {
		if _, _, err := net.SplitHostPort(cfg.metricsListen); err != nil {
			return &usageError{msg: fmt.Sprintf("serve: --metrics-listen %q is not host:port", cfg.metricsListen)}
		}
	}
	var err error
	if cfg.tracing, err = telemetry.TracingFromEnv(getenv); err != nil {
		return &usageError{msg: "serve: " + err.Error()}
	}
	return nil
}

// start builds the telemetry the flags and the environment ask for (nil for
// none) and returns what flushes the traces at exit.
func (cfg *observeConfig) start(ctx context.Context, console io.Writer, log *slog.Logger) (*telemetry.Telemetry, func(), error) {
	opts := telemetry.Options{Metrics: cfg.metrics, PerTenant: cfg.metricsPerTenant, StatsMaxAge: metricsStatsMaxAge}
	tp, err := telemetry.TracerProvider(ctx, cfg.tracing, versionString(), console)
	if err != nil {
		return nil, nil, err
	}
	stop := func() {}
	if tp != nil {
		// The exporter's failures (a collector down) are logged, not
		// printed by OpenTelemetry's own logger.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("traces", "error", err) }))
		opts.Tracer = tp.Tracer(telemetry.ScopeName)
		stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(ctx); err != nil {
				log.Warn("flush traces", "error", err)
			}
		}
		log.Info("traces on", "exporter", cfg.tracing.Exporter)
	}
	return telemetry.New(opts), stop, nil
}

// serveMetrics serves the metrics on --metrics-listen, when given, until
// the returned stop.
func (cfg *observeConfig) serveMetrics(tel *telemetry.Telemetry, log *slog.Logger) (stop func(), err error) {
	if cfg.metricsListen == "" || !tel.MetricsEnabled() {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "error", err)
		}
	}()
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
