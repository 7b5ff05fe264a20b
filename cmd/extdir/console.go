package main

import (
	"flag"
	"log/slog"

	"github.com/extdir/extdir/graph"
)

// consoleConfig is the web console at /console/ (package console).
type consoleConfig struct {
	enabled  bool
	clientID string
}

func consoleFlags(fs *flag.FlagSet, cfg *consoleConfig) {
	fs.BoolVar(&cfg.enabled, "console", true, "serve the web console at /console/ (sign in as a user of the built-in issuer); false turns it off")
	fs.StringVar(&cfg.clientID, "console-client-id", "", "public client the console signs in as, with the redirect URI <origin>/console/; default: a built-in client of every tenant")
}

// options is the console of a server reached at origin, nil when it is off.
// It signs in with the built-in issuer, so it is off without one.
func (cfg *consoleConfig) options(origin string, builtinIssuer bool, log *slog.Logger) *graph.Console {
	if !cfg.enabled || !builtinIssuer {
		if cfg.enabled {
			log.Info("console off: it signs in with the built-in issuer, which --builtin-issuer=false turns off")
		}
		return nil
	}
	url := origin + graph.ConsolePath
	log.Info("console", "url", url)
	return &graph.Console{ClientID: cfg.clientID, Tenant: defaultTenant, RedirectURI: url}
}
