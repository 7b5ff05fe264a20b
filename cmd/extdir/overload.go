package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/server"
)

// overloadConfig is how much the server takes on at once and how long it
// gives a request and a connection (graph/overload.go says why).
type overloadConfig struct {
	maxInflight       int
	maxInflightWait   time.Duration
	requestTimeout    time.Duration
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
}

// maxHeaderBytes bounds a request's header block. Graph's requests carry a
// token of a few KB and a handful of headers; 64 KiB is ten times that.
const maxHeaderBytes = 64 << 10

func overloadFlags(fs *flag.FlagSet, cfg *overloadConfig) {
	fs.IntVar(&cfg.maxInflight, "max-inflight", graph.DefaultMaxInflight(), fmt.Sprintf("requests served at once (default %d per core); beyond it a request waits --max-inflight-wait, then gets 503 with Retry-After; health, readiness, /admin and /metrics are never limited; 0: no limit", graph.InflightPerCore))
	fs.DurationVar(&cfg.maxInflightWait, "max-inflight-wait", graph.DefaultMaxInflightWait, "how long a request beyond --max-inflight waits for a place before it is shed (as many may wait as --max-inflight; one beyond them waits as long for its 503, which slows clients that ignore Retry-After); 0 sheds at once")
	fs.DurationVar(&cfg.requestTimeout, "request-timeout", graph.DefaultRequestTimeout, "deadline of each request, passed to the store so that a slow query is cancelled; past it the answer is 504 GatewayTimeout; 0: none")
	fs.DurationVar(&cfg.readHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers, so that a slow one (slowloris) cannot hold a connection")
	fs.DurationVar(&cfg.readTimeout, "read-timeout", 60*time.Second, "how long a client may take to send a whole request, body included")
	fs.DurationVar(&cfg.writeTimeout, "write-timeout", 60*time.Second, "how long the server may take to answer a request, from the end of its headers; above --request-timeout, so that the answer to a request that ran out of time can still be written")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", 120*time.Second, "how long a kept-alive connection may wait for its next request")
}

func (cfg *overloadConfig) check() error {
	if cfg.maxInflight < 0 || cfg.maxInflightWait < 0 || cfg.requestTimeout < 0 {
		return &usageError{msg: "serve: --max-inflight, --max-inflight-wait and --request-timeout must not be negative"}
	}
	// Without these a client decides how long it holds a connection.
	if cfg.readHeaderTimeout <= 0 || cfg.readTimeout <= 0 || cfg.writeTimeout <= 0 || cfg.idleTimeout <= 0 {
		return &usageError{msg: "serve: --read-header-timeout, --read-timeout, --write-timeout and --idle-timeout must be positive"}
	}
	if cfg.requestTimeout > 0 && cfg.requestTimeout >= cfg.writeTimeout {
		return &usageError{msg: fmt.Sprintf("serve: --request-timeout (%v) must be below --write-timeout (%v), or the answer to a request that ran out of time is cut off unwritten", cfg.requestTimeout, cfg.writeTimeout)}
	}
	return nil
}

// apply sets the limit and the deadline in the server's options.
func (cfg *overloadConfig) apply(o *server.Options, log *slog.Logger) {
	if cfg.maxInflight > 0 {
		o.Limiter = graph.NewLimiter(cfg.maxInflight, cfg.maxInflightWait)
	}
	o.RequestTimeout = cfg.requestTimeout
	log.Info("overload limits", "max_inflight", cfg.maxInflight, "max_inflight_wait", cfg.maxInflightWait, "request_timeout", cfg.requestTimeout)
}

// httpServer is the HTTP server of handler with the connection timeouts.
func (cfg *overloadConfig) httpServer(handler http.Handler, errorLog *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.readHeaderTimeout,
		ReadTimeout:       cfg.readTimeout,
		WriteTimeout:      cfg.writeTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(errorLog.Handler(), slog.LevelWarn),
	}
}
