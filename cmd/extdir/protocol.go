package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/server"
)

// protocolConfig holds the flags of throttling and fault injection, both off
// by default.
type protocolConfig struct {
	throttle       bool
	throttleUnits  string
	throttleWrites string
	faults         bool
	faultsFile     string
	corsOrigins    string

	// Parsed by check.
	units, writes graph.Rate
	faultRules    graph.FaultConfig
	faultSet      *graph.Faults
}

func protocolFlags(fs *flag.FlagSet, cfg *protocolConfig) {
	fs.BoolVar(&cfg.throttle, "throttle", false, "throttle each (application, tenant) pair with token buckets shaped like Graph's identity limits: 429 TooManyRequests with Retry-After")
	fs.StringVar(&cfg.throttleUnits, "throttle-units", graph.DefaultThrottleUnits.String(), "with --throttle: requests per (application, tenant) pair, as N/period (Graph's limit for a small tenant)")
	fs.StringVar(&cfg.throttleWrites, "throttle-writes", graph.DefaultThrottleWrites.String(), "with --throttle: write requests (POST, PATCH, PUT, DELETE) per (application, tenant) pair, as N/period (Graph's write limit)")
	fs.BoolVar(&cfg.faults, "faults", false, "inject failures for resilience tests; rules come from --faults-file and from the admin endpoint /admin/faults (loopback clients only)")
	fs.StringVar(&cfg.faultsFile, "faults-file", "", "JSON file of fault rules (see docs/protocol.md, Fault injection); implies --faults")
	fs.StringVar(&cfg.corsOrigins, "cors-origins", "auto", "origins whose browser scripts may call the API and the token endpoints, comma-separated, or * for any, or none; auto: any while only this machine can reach the server, none otherwise")
}

// corsFor is the CORS policy of --cors-origins; exposure says why the
// server looks reachable from other hosts ("" when it does not).
func (cfg *protocolConfig) corsFor(exposure string) *graph.CORS {
	switch v := strings.TrimSpace(cfg.corsOrigins); v {
	case "none", "":
		return nil
	case "auto":
		if exposure != "" {
			return nil
		}
		return &graph.CORS{Origins: []string{"*"}}
	default:
		origins := splitList(v)
		for i, o := range origins {
			origins[i] = strings.TrimSuffix(o, "/")
		}
		return &graph.CORS{Origins: origins}
	}
}

// check parses the values, so that a mistake stops serve before it opens
// anything.
func (cfg *protocolConfig) check() error {
	var err error
	switch v := strings.TrimSpace(cfg.corsOrigins); v {
	case "auto", "none", "*":
	default:
		for _, o := range splitList(v) {
			u, perr := url.Parse(o)
			if o != "*" && (perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "") {
				return &usageError{msg: fmt.Sprintf("serve: --cors-origins: %q is not an origin such as https://app.example.com", o)}
			}
		}
		if len(splitList(v)) == 0 {
			return &usageError{msg: "serve: --cors-origins needs origins, *, auto or none"}
		}
	}
	if cfg.units, err = graph.ParseRate(cfg.throttleUnits); err != nil {
		return &usageError{msg: "serve: --throttle-units: " + err.Error()}
	}
	if cfg.writes, err = graph.ParseRate(cfg.throttleWrites); err != nil {
		return &usageError{msg: "serve: --throttle-writes: " + err.Error()}
	}
	if cfg.faultsFile != "" {
		cfg.faults = true
		if cfg.faultRules, err = graph.LoadFaultFile(cfg.faultsFile); err != nil {
			return &usageError{msg: "serve: --faults-file: " + err.Error()}
		}
	}
	if cfg.faults {
		if cfg.faultSet, err = graph.NewFaults(cfg.faultRules); err != nil {
			return &usageError{msg: "serve: --faults-file: " + err.Error()}
		}
	}
	return nil
}

// apply turns throttling, fault injection and CORS on in api as configured.
func (cfg *protocolConfig) apply(o *server.Options, exposure string, log *slog.Logger) {
	if o.CORS = cfg.corsFor(exposure); o.CORS != nil {
		log.Info("cross-origin requests allowed", "origins", o.CORS.Origins)
	}
	if cfg.throttle {
		o.Throttle = graph.NewThrottle(cfg.units, cfg.writes)
		log.Info("throttling on", "units", cfg.units.String(), "writes", cfg.writes.String())
	}
	if cfg.faultSet != nil {
		o.Faults = cfg.faultSet
		log.Warn("fault injection is on: some responses are failures or delays injected on purpose, marked with the "+graph.FaultHeader+" header",
			"rules", len(cfg.faultRules.Rules), "seed", cfg.faultRules.Seed, "file", cfg.faultsFile, "admin", "/admin/faults (loopback clients only)")
	}
}
