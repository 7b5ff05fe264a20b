// Package server assembles one extdir server from its parts: the issuer and
// the verifier, the Directory over an opened store, the Graph API with its
// admin API, journal and clock. extdir serve and the extdirtest package
// both build through it, so that a test's in-process server is the binary's
// server, flag for flag.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/clock"
	"github.com/extdir/extdir/internal/telemetry"
	"github.com/extdir/extdir/store"
)

// Options says how to build a server; the zero value of each field is the
// default of extdir serve.
type Options struct {
	// DataDir holds the issuer's keys, clients, users and sign-in key.
	DataDir string
	// Store is the opened store; the caller closes it.
	Store store.Store
	// Clock is the one clock of everything; nil makes a new wall clock.
	Clock *clock.Clock

	// Auth is the content of --auth-config; nil is an empty one.
	Auth *auth.Config
	// BuiltinIssuer serves and trusts extdir's own issuer.
	BuiltinIssuer bool
	// Issuer is the built-in issuer's name template.
	Issuer string
	// Audiences accepted on tokens; empty is auth.DefaultAudiences.
	Audiences []string
	// Leeway is the clock skew allowed on exp and nbf.
	Leeway time.Duration
	// InsecureAcceptGraphTokens: see extdir serve --help.
	InsecureAcceptGraphTokens bool
	// Dev, when set, is the caller of requests without a token.
	Dev *auth.Principal
	// DeviceCodeInterval is told to device code clients.
	DeviceCodeInterval time.Duration
	// TokenCache is how many verified tokens are remembered; 0 none.
	TokenCache int

	// Retention is how long deleted items stay restorable; 0 is 30 days.
	Retention time.Duration
	// AuditRetention is how long audit records are kept; 0 is 30 days.
	AuditRetention time.Duration
	// PublicURL, Throttle, Faults and CORS: as graph.Server's fields.
	PublicURL string
	Throttle  *graph.Throttle
	Faults    *graph.Faults
	CORS      *graph.CORS
	// Admin, when set, turns the admin API on; its Clock and Retention are
	// filled in from these options.
	Admin *graph.Admin
	// Console, when set, serves the web console at /console/. With an
	// empty ClientID it signs in as the built-in console client
	// (auth.ConsoleClientID), registered here for its RedirectURI; else
	// ClientID must be a public client with that redirect URI. It needs
	// the built-in issuer.
	Console *graph.Console
	// Limiter and RequestTimeout: as graph.Server's fields (nil and 0:
	// no limit, no deadline).
	Limiter        *graph.Limiter
	RequestTimeout time.Duration
	// JournalSize is how many requests the journal keeps (0: no journal);
	// JournalBodyBytes how much of each body.
	JournalSize      int
	JournalBodyBytes int

	Logger    *slog.Logger
	AccessLog *slog.Logger

	// Telemetry, when set, measures the server: it observes the API, wraps
	// Store (every call timed and, with traces, a span), reads the store's
	// statistics at each scrape and serves /metrics on the main listener;
	// nil measures nothing.
	Telemetry *telemetry.Telemetry
	// MetricsElsewhere keeps /metrics off the main listener: the caller
	// serves Telemetry.Handler on a listener of its own.
	MetricsElsewhere bool
}

// Server is a built server: its handler and the parts a caller drives.
type Server struct {
	Handler   http.Handler
	API       *graph.Server
	Directory *extdir.Directory
	Clock     *clock.Clock
	// Provider is the built-in issuer's token endpoint; nil without one.
	Provider *auth.Provider
	// Issuer is the built-in issuer; nil without one.
	Issuer *auth.Issuer
	// Retention is the deleted items' retention the sweep applies.
	Retention time.Duration
}

// DefaultRetention is how long Graph keeps deleted directory objects.
const DefaultRetention = 30 * 24 * time.Hour

// Build assembles the server. It opens the issuer's files in DataDir.
func Build(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = &clock.Clock{}
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	conf := o.Auth
	if conf == nil {
		conf = &auth.Config{}
	}
	if len(o.Audiences) == 0 {
		o.Audiences = auth.DefaultAudiences
	}
	now := o.Clock.Now
	vopts := auth.VerifierOptions{
		BuiltinAudiences:          o.Audiences,
		Issuers:                   conf.Issuers,
		Leeway:                    o.Leeway,
		InsecureAcceptGraphTokens: o.InsecureAcceptGraphTokens,
		Logger:                    o.Logger,
		Now:                       now,
	}
	srv := &Server{Clock: o.Clock, Retention: o.Retention}
	var console *graph.Console
	if o.BuiltinIssuer {
		issuer, err := auth.OpenIssuer(o.DataDir, auth.IssuerOptions{Template: o.Issuer, Logger: o.Logger, Now: now})
		if err != nil {
			return nil, fmt.Errorf("open issuer: %w", err)
		}
		clients, err := auth.NewClients(o.DataDir, conf.Clients)
		if err != nil {
			return nil, fmt.Errorf("auth config: %w", err)
		}
		users, err := auth.NewUsers(o.DataDir, conf.Users)
		if err != nil {
			return nil, fmt.Errorf("auth config: %w", err)
		}
		if console, err = consoleClient(o.Console, clients); err != nil {
			return nil, err
		}
		vopts.Builtin = issuer
		srv.Issuer = issuer
		srv.Provider = &auth.Provider{Issuer: issuer, Clients: clients, Audiences: o.Audiences}
		if err := srv.Provider.EnableSignIn(o.DataDir, users, auth.SignInOptions{DeviceCodeInterval: o.DeviceCodeInterval, Now: now}); err != nil {
			return nil, err
		}
	} else if len(conf.Clients) > 0 || len(conf.Users) > 0 {
		return nil, fmt.Errorf("the clients and users of --auth-config need the built-in issuer")
	} else if o.Console != nil {
		return nil, fmt.Errorf("the console signs in with the built-in issuer, which is off")
	}
	verifier, err := auth.NewVerifier(vopts)
	if err != nil {
		return nil, fmt.Errorf("token verification: %w", err)
	}
	if o.TokenCache > 0 {
		verifier = auth.NewCachedVerifier(verifier, auth.CacheOptions{Size: o.TokenCache, Now: now})
	}

	if o.Telemetry != nil {
		o.Telemetry.WatchStore(o.Store)
		o.Store = o.Telemetry.Store(o.Store)
	}
	srv.Directory = &extdir.Directory{Store: o.Store, Now: now, AuditRetention: o.AuditRetention}
	api := &graph.Server{
		Console:      console,
		Store:        o.Store,
		Directory:    srv.Directory,
		Verifier:     verifier,
		OAuth:        srv.Provider,
		DevPrincipal: o.Dev,
		PublicURL:    o.PublicURL,
		Logger:       o.Logger,
		AccessLog:    o.AccessLog,
		Now:          now,
		Throttle:     o.Throttle,
		Faults:       o.Faults,
		CORS:         o.CORS,
		Observer:     o.Telemetry.Observer(),

		Limiter:        o.Limiter,
		RequestTimeout: o.RequestTimeout,
	}
	if !o.MetricsElsewhere {
		api.Metrics = o.Telemetry.Handler()
	}
	if o.Limiter != nil && api.Observer != nil {
		// Each shed request counts in extdir_shed_requests_total.
		o.Limiter.OnShed = api.RequestShed
	}
	if o.Admin != nil {
		a := *o.Admin
		a.Clock, a.Retention = o.Clock, o.Retention
		api.Admin = &a
		if api.Faults == nil {
			// No rules until the admin API sets some: one atomic load per
			// request while there are none.
			api.Faults, _ = graph.NewFaults(graph.FaultConfig{})
		}
	}
	if o.JournalSize > 0 {
		api.Journal = graph.NewJournal(o.JournalSize, o.JournalBodyBytes)
	}
	srv.API = api
	srv.Handler = api.Handler()
	return srv, nil
}

// consoleClient registers the built-in console client, or checks the
// configured one, and returns the console's settings; nil when it is off.
func consoleClient(c *graph.Console, clients *auth.Clients) (*graph.Console, error) {
	if c == nil {
		return nil, nil
	}
	con := *c
	if con.ClientID == "" {
		con.ClientID = auth.ConsoleClientID
		err := clients.AddBuiltin(auth.Client{ID: con.ClientID, Name: "extdir console", Public: true, RedirectURIs: []string{con.RedirectURI}})
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		return &con, nil
	}
	client, err := clients.Lookup(con.ClientID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("console client: %w", err)
	case client == nil:
		return nil, fmt.Errorf("console client %s is not registered (extdir client add --public --redirect-uri %s)", con.ClientID, con.RedirectURI)
	case !client.Public:
		return nil, fmt.Errorf("console client %s has a secret: a page in a browser cannot keep one, so the console needs a public client (extdir client add --public --redirect-uri %s)", con.ClientID, con.RedirectURI)
	case !client.AllowsRedirect(con.RedirectURI):
		return nil, fmt.Errorf("console client %s does not have the redirect URI %s that the console signs in with", con.ClientID, con.RedirectURI)
	}
	// A registered client belongs to one tenant: users of that tenant
	// sign in to the console.
	con.Tenant = client.Tenant
	return &con, nil
}

// ExpireLoop purges the items deleted longer ago than the retention, at
// start and then often enough that an item outlives its retention by at
// most a quarter of it (and never by more than an hour), until ctx ends.
func (s *Server) ExpireLoop(ctx context.Context, log *slog.Logger) {
	interval := min(max(s.Retention/4, time.Second), time.Hour)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Directory.Expire(ctx, s.Retention)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("purge deleted items", "error", err)
		case n > 0:
			log.Info("purged deleted items", "count", n, "retention", s.Retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
