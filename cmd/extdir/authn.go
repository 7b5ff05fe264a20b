package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
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
	if cfg.insecureAcceptGraphTokens && cfg.authConfig == "" {
		return &usageError{msg: "serve: --insecure-accept-graph-tokens needs --auth-config with the Entra issuer the Graph tokens come from"}
	}
	if !cfg.builtinIssuer && cfg.authConfig == "" {
		return &usageError{msg: "serve: --builtin-issuer=false leaves no token issuer: give --auth-config with external issuers"}
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

// authSetup is what the API needs to authenticate: the verifier of every
// trusted issuer, the built-in token endpoint, and the dev-mode caller.
type authSetup struct {
	verifier auth.Verifier
	provider *auth.Provider  // nil with --builtin-issuer=false
	dev      *auth.Principal // set with --dev-no-auth
}

// setUpAuth opens the built-in issuer, reads --auth-config, and logs the
// warnings of the insecure modes, at every start.
func setUpAuth(cfg serveConfig, log *slog.Logger) (*authSetup, error) {
	conf := &auth.Config{}
	if cfg.authConfig != "" {
		var err error
		if conf, err = auth.LoadConfig(cfg.authConfig); err != nil {
			return nil, err
		}
	}
	audiences := splitList(cfg.audiences)
	opts := auth.VerifierOptions{
		BuiltinAudiences:          audiences,
		Issuers:                   conf.Issuers,
		Leeway:                    cfg.clockSkew,
		InsecureAcceptGraphTokens: cfg.insecureAcceptGraphTokens,
		Logger:                    log,
	}
	a := &authSetup{}
	if cfg.builtinIssuer {
		issuer, err := auth.OpenIssuer(cfg.dataDir, auth.IssuerOptions{Template: cfg.issuer, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open issuer: %w", err)
		}
		clients, err := auth.NewClients(cfg.dataDir, conf.Clients)
		if err != nil {
			return nil, fmt.Errorf("auth config: %w", err)
		}
		users, err := auth.NewUsers(cfg.dataDir, conf.Users)
		if err != nil {
			return nil, fmt.Errorf("auth config: %w", err)
		}
		opts.Builtin = issuer
		a.provider = &auth.Provider{Issuer: issuer, Clients: clients, Audiences: audiences}
		if err := a.provider.EnableSignIn(cfg.dataDir, users, auth.SignInOptions{DeviceCodeInterval: cfg.deviceCodeInterval}); err != nil {
			return nil, err
		}
	} else if len(conf.Clients) > 0 || len(conf.Users) > 0 {
		return nil, &usageError{msg: "serve: the clients and users of --auth-config need the built-in issuer, which --builtin-issuer=false turns off"}
	}
	v, err := auth.NewVerifier(opts)
	if err != nil {
		return nil, fmt.Errorf("token verification: %w", err)
	}
	a.verifier = v

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
		a.dev = &auth.Principal{Tenant: cfg.devTenant, ObjectID: cfg.devOID, AppID: defaultAppID}
		for _, k := range extdir.Kinds {
			a.dev.Roles = append(a.dev.Roles, k.WritePermission())
		}
		log.Warn("INSECURE: --dev-no-auth is on. Requests without a token act with every permission; requests with one are still verified.",
			"tenant", cfg.devTenant, "oid", cfg.devOID)
	}
	return a, nil
}
