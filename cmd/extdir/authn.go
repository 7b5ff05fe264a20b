package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/internal/server"
	"github.com/extdir/extdir/store/postgres"
)

// authFlags defines serve's authentication flags beyond --issuer,
// --audience and --clock-skew.
func authFlags(fs *flag.FlagSet, cfg *serveConfig) {
	fs.StringVar(&cfg.authConfig, "auth-config", "", "JSON file of trusted external issuers and token endpoint clients (see docs/authentication.md)")
	fs.BoolVar(&cfg.builtinIssuer, "builtin-issuer", true, "accept the built-in issuer's tokens and serve its OAuth endpoints (/{tenant}/oauth2/v2.0/token, ...)")
	fs.BoolVar(&cfg.insecureAcceptGraphTokens, "insecure-accept-graph-tokens", false, "INSECURE, development only: accept tokens Entra issued for Microsoft Graph (nonce header) from the configured external issuers WITHOUT checking their signature")
	fs.BoolVar(&cfg.insecureAllowExposed, "insecure-allow-exposed", false, "allow --insecure-accept-graph-tokens or --dev-no-auth on a server reachable from other hosts (non-loopback --listen or --public-url, --tls-cert, or a PostgreSQL --database)")
	fs.BoolVar(&cfg.devNoAuth, "dev-no-auth", false, "development only: requests without a token act as --dev-tenant/--dev-oid with every permission")
	fs.StringVar(&cfg.devTenant, "dev-tenant", defaultTenant, "tenant of --dev-no-auth requests")
	fs.StringVar(&cfg.devOID, "dev-oid", defaultOID, "caller (oid, createdBy) of --dev-no-auth requests")
	fs.DurationVar(&cfg.deviceCodeInterval, "device-code-interval", auth.DefaultDeviceCodeInterval, "least time between two polls of a device code, told to device code clients")
}

// checkAuth refuses flag combinations that would open the directory by
// accident: the insecure modes are for a developer's own machine, and a
// server that looks reachable by others needs a second, explicit yes.
func (cfg *serveConfig) checkAuth() error {
	// One source of registrations, so that none is ever in doubt.
	if cfg.authConfig != "" && cfg.fileAuth != nil {
		return &usageError{msg: "serve: registrations come from --auth-config or from the [auth] table of --config, not both"}
	}
	if cfg.insecureAcceptGraphTokens && !cfg.hasAuthConfig() {
		return &usageError{msg: "serve: --insecure-accept-graph-tokens needs --auth-config (or [[auth.issuers]] in --config) with the Entra issuer the Graph tokens come from"}
	}
	if !cfg.builtinIssuer && !cfg.hasAuthConfig() {
		return &usageError{msg: "serve: --builtin-issuer=false leaves no token issuer: give --auth-config (or [[auth.issuers]] in --config) with external issuers"}
	}
	if cfg.devNoAuth && (cfg.devTenant == "" || cfg.devOID == "") {
		return &usageError{msg: "serve: --dev-no-auth needs a --dev-tenant and a --dev-oid"}
	}
	if !cfg.insecureAcceptGraphTokens && !cfg.devNoAuth {
		return nil
	}
	reason := cfg.exposure()
	if reason == "" || cfg.insecureAllowExposed {
		return nil
	}
	mode := "--dev-no-auth"
	if cfg.insecureAcceptGraphTokens {
		mode = "--insecure-accept-graph-tokens"
	}
	return &usageError{msg: fmt.Sprintf("serve: %s is for a server only you can reach, but this one %s; add --insecure-allow-exposed if you mean it", mode, reason)}
}

// hasAuthConfig reports registrations from --auth-config or --config.
func (cfg *serveConfig) hasAuthConfig() bool { return cfg.authConfig != "" || cfg.fileAuth != nil }

// exposure says why the server looks reachable from other hosts, or "".
func (cfg *serveConfig) exposure() string {
	host, _, err := net.SplitHostPort(cfg.listen)
	switch {
	case err != nil:
		return "listens on " + cfg.listen
	case host == "":
		return "listens on every interface (" + cfg.listen + ")"
	case !isLoopbackHost(host):
		return "listens on " + cfg.listen
	}
	if cfg.publicURL != "" {
		u, err := url.Parse(cfg.publicURL)
		if err != nil || !isLoopbackHost(u.Hostname()) {
			return "has the public URL " + cfg.publicURL
		}
	}
	if cfg.tlsCert != "" {
		return "serves the certificate " + cfg.tlsCert
	}
	if postgres.IsURL(cfg.database) {
		return "stores its data in PostgreSQL, which other nodes share"
	}
	return ""
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authOptions reads --auth-config and fills in the authentication part of
// the server's options; it logs the warnings of the insecure modes, at
// every start.
func authOptions(cfg serveConfig, o *server.Options, log *slog.Logger) error {
	conf := &auth.Config{}
	if cfg.fileAuth != nil {
		conf = cfg.fileAuth
	}
	if cfg.authConfig != "" {
		var err error
		if conf, err = auth.LoadConfig(cfg.authConfig); err != nil {
			return err
		}
	}
	if !cfg.builtinIssuer && (len(conf.Clients) > 0 || len(conf.Users) > 0) {
		return &usageError{msg: "serve: the clients and users of --auth-config need the built-in issuer, which --builtin-issuer=false turns off"}
	}
	o.Auth = conf
	o.BuiltinIssuer = cfg.builtinIssuer
	o.Issuer = cfg.issuer
	o.Audiences = splitList(cfg.audiences)
	o.Leeway = cfg.clockSkew
	o.InsecureAcceptGraphTokens = cfg.insecureAcceptGraphTokens
	o.DeviceCodeInterval = cfg.deviceCodeInterval

	external := make([]string, 0, len(conf.Issuers))
	for _, is := range conf.Issuers {
		external = append(external, is.Issuer)
	}
	builtin := ""
	if cfg.builtinIssuer {
		builtin = cfg.issuer
	}
	log.Info("token issuers", "builtin", builtin, "external", external, "clients_configured", len(conf.Clients), "users_configured", len(conf.Users))

	if cfg.insecureAcceptGraphTokens {
		log.Warn("INSECURE: --insecure-accept-graph-tokens is on. Tokens issued for Microsoft Graph are accepted WITHOUT signature verification: " +
			"anyone who can reach this server can forge one for any tenant of the configured issuers. Use it only on your own machine.")
	}
	if cfg.devNoAuth {
		o.Dev = &auth.Principal{Tenant: cfg.devTenant, ObjectID: cfg.devOID, AppID: defaultAppID, Roles: auth.AllGrants()}
		log.Warn("INSECURE: --dev-no-auth is on. Requests without a token act with every permission; requests with one are still verified.",
			"tenant", cfg.devTenant, "oid", cfg.devOID)
	}
	return nil
}
