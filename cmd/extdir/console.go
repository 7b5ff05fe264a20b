package main

import (
	"flag"
	"log/slog"
	"net/url"

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
// It signs in with the built-in issuer, so it is off without one; and a
// browser signs in with PKCE only in a secure context (https, or this
// machine), as OAuth allows plain http redirect URIs on loopback only, so
// it is off on a plain http origin elsewhere, rather than stopping a
// server that ran before the console came.
func (cfg *consoleConfig) options(origin string, builtinIssuer bool, log *slog.Logger) *graph.Console {
	if !cfg.enabled {
		return nil
	}
	if !builtinIssuer {
		log.Info("console off: it signs in with the built-in issuer, which --builtin-issuer=false turns off")
		return nil
	}
	if u, err := url.Parse(origin); err != nil || (u.Scheme == "http" && !isLoopbackHost(u.Hostname())) {
		log.Warn("console off: a browser signs in to it over https, or over http on this machine only; serve https (--tls-cert) or give an https --public-url", "origin", origin)
		return nil
	}
	url := origin + graph.ConsolePath
	log.Info("console", "url", url)
	return &graph.Console{ClientID: cfg.clientID, Tenant: defaultTenant, RedirectURI: url}
}
