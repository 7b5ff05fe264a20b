// Package postgres is the PostgreSQL backend of store.Store, on pgx: the
// store of a deployment that runs several stateless extdir nodes on one
// database.
//
// Everything a node knows lives in the database, so any node can answer
// any request: rows, their seq (the keyset paging cursor), their epoch (the
// ETag) and their deletion time (the retention clock). Concurrency is the
// database's: writes that read first (Update, Purge) run in a READ
// COMMITTED transaction that locks the row with SELECT ... FOR UPDATE, so
// two nodes updating one row take turns and neither loses the other's
// change; the live-phone rule is a partial unique index, which every node's
// insert meets.
//
// Statements. The fixed statements (get, lock, insert, update, delete) run
// as prepared statements that pgx caches per connection; their generic
// plans are what they need, an equality on a unique key. Listings and counts
// run as unnamed statements (pgx.QueryExecModeCacheDescribe), which
// PostgreSQL plans anew with the bound values on every execution: only then
// is a startswith pattern sure to become an index range (a prepared
// statement may switch to a generic plan after five executions, and a
// generic plan cannot see the prefix), while pgx still saves the round trip
// that describes the statement.
//
// Failures. A transaction the database aborts because of a concurrent one
// (a serialization failure, which databases that run everything
// SERIALIZABLE report routinely, or a deadlock) is run again. A database
// that cannot answer (down, restarting, out of connections, past the
// statement timeout) is extdir.EUnavailable, a 503 a client may retry,
// rather than an internal error.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlfilter"
	"github.com/extdir/extdir/store/sqlstore"
)

// Defaults of Options, each used when neither the option nor the URL says
// otherwise.
const (
	DefaultMaxConns         = 10
	DefaultStatementTimeout = 30 * time.Second
	DefaultConnectTimeout   = 10 * time.Second
)

// Options tunes a Store; the zero value takes every setting from the URL,
// or failing that from the defaults above.
type Options struct {
	// MaxConns is the size of the connection pool (the URL's pool_max_conns).
	MaxConns int32
	// StatementTimeout bounds every statement on the server, so that a
	// stuck query frees its connection (the URL's statement_timeout).
	StatementTimeout time.Duration
	// ConnectTimeout bounds the opening of a connection (the URL's
	// connect_timeout).
	ConnectTimeout time.Duration
	// CreateBatch bounds how many concurrent creates commit together, in
	// one transaction and one round trip (group commit, see commit.go);
	// 0 is DefaultCreateBatch, and a negative value turns group commit
	// off: each create then commits on its own.
	CreateBatch int
	// Committers is how many batches of creates may be in flight at once;
	// 0 is DefaultCommitters. One is faster on a small machine: the next
	// batch gathers everything that arrived while one was in flight, and
	// larger batches cost the server less per create.
	Committers int
}

// ErrClosed is what every call returns once Close has begun; it is
// sqlstore.ErrClosed, the same value for every SQL backend.
var ErrClosed = sqlstore.ErrClosed

// dialect is how the shared SQL (store/sqlstore, store/sqlfilter) is
// written for PostgreSQL.
var dialect = sqlfilter.Postgres{}

// Store is a store.Store on one PostgreSQL database (in the first schema of
// the connection's search_path). It is safe for concurrent use, and any
// number of Stores, in any number of processes, may share the database.
type Store struct {
	pool *pgxpool.Pool
	// purgeBatch bounds the rows one purge statement deletes, so that a
	// large purge never holds many row locks or one long transaction.
	purgeBatch int

	// gate admits calls until Close, which waits for those in flight.
	gate sqlstore.Gate

	// commits is the group commit of creates; nil when it is off.
	commits *committer
	// analyze gathers statistics where autovacuum does not (analyze.go).
	analyze analyzer
}

var _ store.Store = (*Store)(nil)

// IsURL reports whether a --database value names a PostgreSQL database.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the URL with its password hidden, for logs and messages.
// A keyword/value connection string, or a URL that does not parse, may hold
// a password anywhere: nothing of it is shown.
func Redact(connString string) string {
	u, err := url.Parse(connString)
	if err != nil || !IsURL(connString) {
		return "(connection string hidden)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Open connects to the database the URL names (postgres://user:pass@host/db
// with any libpq or pgx parameter, such as sslmode, search_path or
// pool_max_conns), applies the embedded migrations it has not seen yet and
// checks the schema against the property table. Several processes may open
// the same database at once: migrations take an advisory lock, so exactly
// one of them applies each.
func Open(ctx context.Context, connString string, opts Options) (*Store, error) {
	cfg, err := poolConfig(connString, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: pool, purgeBatch: 1000}
	ok := false
	defer func() {
		if !ok {
			pool.Close()
		}
	}()
	// The pool connects lazily: connect now, so that a wrong URL or
	// password stops the start rather than the first request.
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, pool); err != nil {
		return nil, err
	}
	if opts.CreateBatch >= 0 {
		batch, committers := opts.CreateBatch, opts.Committers
		if batch == 0 {
			batch = DefaultCreateBatch
		}
		if committers <= 0 {
			committers = DefaultCommitters
		}
		s.commits = newCommitter(pool, batch, committers)
	}
	ok = true
	return s, nil
}

// poolConfig parses the URL and lays the options over it.
func poolConfig(connString string, opts Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("postgres: the database URL does not parse (it is not shown, since it may hold a password): check its host, port and escaping")
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !hasParam(connString, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	switch {
	case opts.ConnectTimeout > 0:
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	case cfg.ConnConfig.ConnectTimeout == 0:
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	params := cfg.ConnConfig.RuntimeParams
	switch {
	case opts.StatementTimeout > 0:
		params["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	case params["statement_timeout"] == "":
		params["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	if params["application_name"] == "" {
		params["application_name"] = "extdir"
	}
	cfg.AfterConnect = durableCommits
	return cfg, nil
}

// hasParam reports whether a URL or keyword/value connection string sets key.
func hasParam(connString, key string) bool {
	if IsURL(connString) {
		u, err := url.Parse(connString)
		return err == nil && u.Query().Has(key)
	}
	for _, field := range strings.Fields(connString) {
		if strings.HasPrefix(field, key+"=") {
			return true
		}
	}
	return false
}

// durableCommits runs on every new connection. A write the store returned
// must be durable, so a connection whose server, database or role turned
// synchronous_commit off gets it back on; the stronger settings a replicated
// server may use (remote_write, remote_apply) are kept. A wire-compatible
// database that does not know the setting (its durability is its own) is
// left alone.
func durableCommits(ctx context.Context, conn *pgx.Conn) error {
	var mode pgtype.Text
	if err := conn.QueryRow(ctx, "SELECT current_setting('synchronous_commit', true)").Scan(&mode); err != nil {
		return fmt.Errorf("postgres: read synchronous_commit: %w", err)
	}
	if mode.Valid && mode.String == "off" {
		if _, err := conn.Exec(ctx, "SET synchronous_commit = on"); err != nil {
			return fmt.Errorf("postgres: turn synchronous_commit on: %w", err)
		}
	}
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	if err := s.pool.Ping(ctx); err != nil {
		return dbError(fmt.Errorf("postgres: ping: %w", err))
	}
	return nil
}

// Close refuses new calls (they get ErrClosed), waits for the calls in
// flight, then closes the pool's connections. Calling Close again does
// nothing.
func (s *Store) Close() error {
	if s.gate.Close() {
		if s.commits != nil {
			s.commits.close()
		}
		s.pool.Close()
	}
	return nil
}
