package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/internal/server"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/postgres"
	"github.com/extdir/extdir/store/sqlite"
)

type serveConfig struct {
	// configFile is --config; fileAuth the registrations of its [auth]
	// table, nil without one (config.go).
	configFile      string
	fileAuth        *auth.Config
	listen          string
	dataDir         string
	database        string
	publicURL       string
	tlsCert         string
	tlsKey          string
	tlsSelfSigned   bool
	retention       time.Duration
	auditRetention  time.Duration
	issuer          string
	audiences       string
	clockSkew       time.Duration
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	// --ephemeral and --ready-file; see ephemeral.go.
	ephemeral bool
	readyFile string
	// The admin API, the journal and --seed; see admin.go.
	admin adminConfig
	// PostgreSQL pool settings; zero keeps the URL's or the default.
	dbPoolSize         int
	cacheProfiles      int
	dbStatementTimeout time.Duration
	dbConnectTimeout   time.Duration
	// Authentication beyond --issuer and --audience; see authn.go.
	authConfig                string
	builtinIssuer             bool
	insecureAcceptGraphTokens bool
	insecureAllowExposed      bool
	devNoAuth                 bool
	devTenant                 string
	devOID                    string
	deviceCodeInterval        time.Duration
	// Throttling and fault injection; see protocol.go.
	protocol protocolConfig
	// The verified-token cache and the profiler; see perf.go.
	perf perfConfig
	// Metrics and traces; see observe.go.
	observe observeConfig
	// onCommit is the metrics' hook on SQLite's group commit, set once the
	// telemetry is built; not a flag.
	onCommit func(writes int)
	// The web console; see console.go.
	console consoleConfig
	// Requests in flight, deadlines and connection timeouts; see overload.go.
	overload overloadConfig
}

// serveSynopsis is the first line of extdir serve --help.
const serveSynopsis = "Runs the Graph beta API for pendingExternalUserProfile and externalUserProfile."

// serveFlags defines every flag of extdir serve on a new flag set, bound to
// cfg: serve parses it, and extdir config checks files against it.
func serveFlags(cfg *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.configFile, configFlag, "", "TOML file of settings: each key is a flag's name (listen = \"0.0.0.0:8080\"), and [[auth.issuers]], [[auth.clients]], [[auth.users]] hold registrations as --auth-config does; flags and EXTDIR_* variables override it (see docs/operations.md)")
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&cfg.dataDir, "data-dir", "./extdir-data", "directory for the database, the issuer's signing keys and the self-signed certificate")
	fs.StringVar(&cfg.database, "database", "sqlite", "store: sqlite (a file in the data dir), memory (nothing kept), or a postgres://user:password@host/db URL (shared by every node)")
	fs.IntVar(&cfg.cacheProfiles, "cache-profiles", 65536, "SQLite: profiles kept in memory to answer repeated reads by id (0: none); PostgreSQL, shared by nodes, has no such cache")
	fs.IntVar(&cfg.dbPoolSize, "db-pool-size", 0, fmt.Sprintf("PostgreSQL connections per node; 0: the URL's pool_max_conns, or %d", postgres.DefaultMaxConns))
	fs.DurationVar(&cfg.dbStatementTimeout, "db-statement-timeout", 0, fmt.Sprintf("PostgreSQL statement timeout; 0: the URL's statement_timeout, or %v", postgres.DefaultStatementTimeout))
	fs.DurationVar(&cfg.dbConnectTimeout, "db-connect-timeout", 0, fmt.Sprintf("PostgreSQL connect timeout; 0: the URL's connect_timeout, or %v", postgres.DefaultConnectTimeout))
	fs.StringVar(&cfg.publicURL, "public-url", "", "origin written into @odata.context, @odata.nextLink and Location (default: from each request)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate file to serve https")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key file for --tls-cert")
	fs.BoolVar(&cfg.tlsSelfSigned, "tls-self-signed", false, "serve https with a certificate for localhost/127.0.0.1 created in the data dir (kept across restarts)")
	fs.DurationVar(&cfg.retention, "retention", 30*24*time.Hour, "how long deleted items can be restored before they are purged")
	fs.DurationVar(&cfg.auditRetention, "audit-retention", extdir.DefaultAuditRetention, "how long audit records (GET /beta/auditLogs/directoryAudits) are kept, by the server's clock")
	fs.StringVar(&cfg.issuer, "issuer", "", "iss of the built-in issuer's tokens ({tenantid} is replaced by the tenant); default: <public URL, or this server's scheme and address>/{tenantid}/v2.0")
	fs.StringVar(&cfg.audiences, "audience", strings.Join(auth.DefaultAudiences, ","), "accepted token audiences, comma-separated")
	fs.DurationVar(&cfg.clockSkew, "clock-skew", 30*time.Second, "leeway for token exp and nbf")
	authFlags(fs, cfg)
	protocolFlags(fs, &cfg.protocol)
	perfFlags(fs, &cfg.perf)
	observeFlags(fs, &cfg.observe)
	overloadFlags(fs, &cfg.overload)
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	fs.BoolVar(&cfg.ephemeral, "ephemeral", false, "a throwaway server for tests: memory database, a free loopback port, self-signed https, a fresh data dir removed at exit, a client and an administrator test user in the development tenant; prints one JSON line on stdout when ready (url, tenant_id, client_id, client_secret, ca_file, admin_url, upn, password)")
	fs.StringVar(&cfg.readyFile, "ready-file", "", "once the server is ready, write its JSON ready line (the one --ephemeral prints) to this file, mode 0600")
	adminFlags(fs, &cfg.admin)
	consoleFlags(fs, &cfg.console)
	return fs
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := serveFlags(&cfg)
	loaded, err := loadFlags(fs, args, getenv, stdout, serveSynopsis)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if loaded.file != nil {
		cfg.fileAuth = loaded.file.auth
	}
	if cfg.ephemeral {
		tempDir, err := cfg.applyEphemeral(fs)
		if err != nil {
			return err
		}
		if tempDir != "" {
			defer os.RemoveAll(tempDir)
		}
	}
	if err := cfg.checkAll(getenv); err != nil {
		return err
	}
	logOut := newLogWriter(stderr)
	defer logOut.Close()
	log, err := newLogger(logOut, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	accessLog, err := newLogger(logOut.Lazy(), cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	if loaded.file != nil {
		log.Info("configuration file", "path", loaded.file.path, "settings", len(loaded.file.values), "registrations", cfg.fileAuth != nil)
	}

	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// Listen first: with port 0 the address, and so the issuer's default
	// name, is known only then. Connections wait in the backlog until the
	// server serves.
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	scheme := "http"
	if cfg.tlsSelfSigned || cfg.tlsCert != "" {
		scheme = "https"
	}
	if cfg.builtinIssuer {
		if cfg.issuer == "" {
			cfg.issuer = auth.IssuerTemplateFor(cfg.origin(scheme, ln.Addr()))
		}
		if err := auth.RecordIssuerName(cfg.dataDir, cfg.issuer, time.Now()); err != nil {
			return err
		}
	}
	opts := server.Options{
		DataDir:          cfg.dataDir,
		Retention:        cfg.retention,
		AuditRetention:   cfg.auditRetention,
		TokenCache:       cfg.perf.tokenCache,
		PublicURL:        cfg.publicURL,
		JournalSize:      cfg.admin.journalSize,
		JournalBodyBytes: cfg.admin.journalBodyBytes,
		Admin:            cfg.admin.options(),
		Logger:           log,
		AccessLog:        accessLog,
	}
	opts.Console = cfg.console.options(cfg.origin(scheme, ln.Addr()), cfg.builtinIssuer, log)
	if err := authOptions(cfg, &opts, log); err != nil {
		return err
	}
	cfg.protocol.apply(&opts, cfg.exposure(), log)
	cfg.overload.apply(&opts, log)
	if reason := cfg.exposure(); reason != "" && cfg.admin.enabled && cfg.admin.token == "" {
		log.Warn("the admin API (/admin: reset, seed, import, clock, faults) answers loopback clients without a token; this server "+reason+
			": use --admin-token-file, or --admin=false where nobody needs it", "forwarded_requests", "refused")
	}
	tel, flushTraces, err := cfg.observe.start(ctx, stderr, log)
	if err != nil {
		return err
	}
	// Deferred before the store's Close, so run after it: the spans of
	// the last requests and of the close are flushed.
	defer flushTraces()
	cfg.onCommit = tel.OnCommit()
	opts.Telemetry, opts.MetricsElsewhere = tel, cfg.observe.metricsListen != ""
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "error", err)
		} else {
			log.Info("store closed")
		}
	}()
	// One Directory for the API, the admin API and the retention sweep:
	// one set of lifecycle rules, one clock.
	opts.Store = st
	built, err := server.Build(opts)
	if err != nil {
		return err
	}
	if cfg.admin.seedFile != "" {
		built.API.SetStarting("loading --seed " + cfg.admin.seedFile)
	}
	srv := cfg.overload.httpServer(built.Handler, log)
	if scheme == "https" {
		certFile, keyFile := cfg.tlsCert, cfg.tlsKey
		if cfg.tlsSelfSigned {
			certFile, keyFile, err = selfSignedCertificate(filepath.Join(cfg.dataDir, "tls"))
			if err != nil {
				return err
			}
			log.Info("self-signed TLS certificate", "cert", certFile, "hint", "trust it with NODE_EXTRA_CA_CERTS or curl --cacert")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	stopPprof, err := cfg.perf.startPprof(log)
	if err != nil {
		return err
	}
	defer stopPprof()
	stopMetrics, err := cfg.observe.serveMetrics(tel, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	addr := ln.Addr().String()
	log.Info("listening", "addr", addr, "url", scheme+"://"+addr+"/beta", "database", databaseForLog(cfg.database), "data_dir", cfg.dataDir, "version", versionString())

	purgeCtx, stopPurge := context.WithCancel(ctx)
	purgeDone := make(chan struct{})
	go func() {
		defer close(purgeDone)
		built.ExpireLoop(purgeCtx, log)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	// The seed loads while the server serves, so that /readyz can say 503
	// until it has; the ready line waits for it.
	err = cfg.admin.loadSeed(ctx, built, log)
	if err == nil && (cfg.ephemeral || cfg.readyFile != "") {
		var line *readyLine
		if line, err = cfg.newReadyLine(cfg.origin(scheme, ln.Addr()), cfg.ephemeral, opts.Console); err == nil {
			err = cfg.announce(line, stdout)
		}
	}
	if err != nil {
		_ = srv.Close()
		stopPurge()
		<-purgeDone
		return err
	}

	select {
	case err := <-serveErr:
		stopPurge()
		<-purgeDone
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if err != nil {
		// The requests still running get their connections cut; the
		// store, closed on return, waits for the calls they have in it.
		_ = srv.Close()
	}
	stopPurge()
	<-purgeDone
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// checkAll runs every check of the flags' values, so that a mistake stops
// serve (or extdir config check) before anything is opened.
func (cfg *serveConfig) checkAll(getenv func(string) string) error {
	observe := func() error { return cfg.observe.check(getenv) }
	for _, check := range []func() error{cfg.check, cfg.checkAuth, cfg.protocol.check, cfg.perf.check, observe, cfg.admin.check, cfg.overload.check} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// origin is the scheme and host clients reach this server at: --public-url,
// or the listening address, with localhost for a wildcard one.
func (cfg *serveConfig) origin(scheme string, addr net.Addr) string {
	if cfg.publicURL != "" {
		return strings.TrimSuffix(cfg.publicURL, "/")
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func (cfg *serveConfig) check() error {
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return &usageError{msg: "serve: --tls-cert and --tls-key go together"}
	}
	if cfg.tlsSelfSigned && cfg.tlsCert != "" {
		return &usageError{msg: "serve: --tls-self-signed and --tls-cert exclude each other"}
	}
	if cfg.retention <= 0 || cfg.auditRetention <= 0 {
		return &usageError{msg: "serve: --retention and --audit-retention must be positive"}
	}
	if cfg.publicURL != "" && !strings.HasPrefix(cfg.publicURL, "http://") && !strings.HasPrefix(cfg.publicURL, "https://") {
		return &usageError{msg: "serve: --public-url must start with http:// or https://"}
	}
	if len(splitList(cfg.audiences)) == 0 {
		return &usageError{msg: "serve: --audience needs at least one audience"}
	}
	switch {
	case cfg.database == "sqlite", cfg.database == "memory", postgres.IsURL(cfg.database):
	default:
		return &usageError{msg: fmt.Sprintf("serve: unknown --database %q: use sqlite, memory or a postgres:// URL", databaseForLog(cfg.database))}
	}
	if cfg.dbPoolSize < 0 || cfg.dbStatementTimeout < 0 || cfg.dbConnectTimeout < 0 {
		return &usageError{msg: "serve: --db-pool-size, --db-statement-timeout and --db-connect-timeout must not be negative"}
	}
	if cfg.cacheProfiles < 0 {
		return &usageError{msg: "serve: --cache-profiles must not be negative"}
	}
	return nil
}

func openStore(ctx context.Context, cfg serveConfig) (store.Store, error) {
	if postgres.IsURL(cfg.database) {
		st, err := postgres.Open(ctx, cfg.database, postgres.Options{
			MaxConns:         int32(min(cfg.dbPoolSize, math.MaxInt32)),
			StatementTimeout: cfg.dbStatementTimeout,
			ConnectTimeout:   cfg.dbConnectTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		return st, nil
	}
	path := ""
	if cfg.database == "sqlite" {
		path = filepath.Join(cfg.dataDir, "extdir.db")
	}
	cache := cfg.cacheProfiles
	if cache == 0 {
		cache = -1 // sqlite.Options: negative is none
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{OnCommit: cfg.onCommit, CacheSize: cache})
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", cfg.database, err)
	}
	return st, nil
}

// databaseForLog is --database as logs and messages may show it: a
// PostgreSQL URL without its password.
func databaseForLog(database string) string {
	if postgres.IsURL(database) {
		return postgres.Redact(database)
	}
	return database
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, &usageError{msg: fmt.Sprintf("invalid --log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, &usageError{msg: fmt.Sprintf("invalid --log-format %q: use text or json", format)}
}
