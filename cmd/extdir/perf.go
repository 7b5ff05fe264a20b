package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/extdir/extdir/auth"
)

// perfConfig holds the flags of the verified-token cache and of the
// profiling listener.
type perfConfig struct {
	tokenCache int
	pprof      string
}

func perfFlags(fs *flag.FlagSet, cfg *perfConfig) {
	fs.IntVar(&cfg.tokenCache, "token-cache", auth.DefaultCacheSize, "verified tokens remembered until they expire, so that a client's token costs one RS256 check, not one per request; 0 checks every request")
	fs.StringVar(&cfg.pprof, "pprof", "", "serve Go's profiler (net/http/pprof, under /debug/pprof/) on this loopback address, such as 127.0.0.1:6060; off when empty")
}

// check refuses a profiler that others could reach: its endpoints show the
// process's memory and command line, and take CPU on demand.
func (cfg *perfConfig) check() error {
	if cfg.tokenCache < 0 {
		return &usageError{msg: "serve: --token-cache must not be negative"}
	}
	if cfg.pprof == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(cfg.pprof)
	if err != nil || !isLoopbackHost(host) {
		return &usageError{msg: fmt.Sprintf("serve: --pprof %q must be a loopback address such as 127.0.0.1:6060", cfg.pprof)}
	}
	return nil
}

// verifier puts the verified-token cache in front of v, unless it is off.
func (cfg *perfConfig) startPprof(log *slog.Logger) (stop func(), err error) {
	if cfg.pprof == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.pprof)
	if err != nil {
		return nil, fmt.Errorf("pprof listen: %w", err)
	}
	// A mux of its own: importing net/http/pprof also registers on
	// http.DefaultServeMux, which extdir never serves.
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener", "error", err)
		}
	}()
	log.Info("pprof listening", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
