package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
	"github.com/extdir/extdir/store/postgres/pgtest"
	"github.com/extdir/extdir/store/sqlstore"
)

// testDB is the URL of this run's database, "" when EXTDIR_TEST_POSTGRES_URL
// is not set. Each test gets a schema of its own in it (pgtest.NewSchema).
var testDB string

func TestMain(m *testing.M) {
	code := func() int {
		server := os.Getenv(pgtest.EnvURL)
		if server == "" {
			return m.Run() // every test that needs the database skips
		}
		url, drop, err := pgtest.CreateDatabase(context.Background(), server)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() {
			if err := drop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
		testDB = url
		return m.Run()
	}()
	os.Exit(code)
}

// schemaURL returns the URL of a fresh, empty schema, or skips.
func schemaURL(t testing.TB) string {
	t.Helper()
	if testDB == "" {
		t.Skip(pgtest.EnvURL + " is not set")
	}
	return pgtest.NewSchema(t, testDB)
}

// openTest opens a store on url, closed when the test ends. The pool is
// small: the conformance suite opens a store per test, two at a time.
func openTest(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	if testDB == "" {
		t.Skip(pgtest.EnvURL + " is not set")
	}
	conformance.Run(t, func(t *testing.T, opts conformance.Options) store.Store {
		s := openTest(t, schemaURL(t))
		if opts.ExpireBatch > 0 {
			s.purgeBatch = opts.ExpireBatch
		}
		return s
	})
}

// migrations lists schema_migrations as "version name;...".
func migrations(t *testing.T, s *Store) string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	var sb strings.Builder
	var v int
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&v, &name}, func() error {
		fmt.Fprintf(&sb, "%d %s;", v, name)
		return nil
	}); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return sb.String()
}

// TestConcurrentOpensMigrateOnce starts, as a fleet of nodes would, several
// stores at the same moment on one empty schema: every one must open, and
// each migration must be applied and recorded exactly once.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	url := schemaURL(t)
	const nodes = 8
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(context.Background(), url, Options{MaxConns: 2})
		})
	}
	close(start)
	wg.Wait()
	for i, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("open %d of %d concurrent opens: %v", i, nodes, errs[i])
		}
	}
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&want, "%d %s;", m.Version, m.Name)
	}
	if got := migrations(t, stores[0]); got != want.String() {
		t.Fatalf("schema_migrations holds %q, want %q", got, want.String())
	}
	// Every store works on the one schema.
	p := conformance.Profile("tenant", 1)
	if err := stores[0].Create(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[nodes-1].Get(context.Background(), "tenant", p.ID); err != nil {
		t.Fatalf("a row written through one store is not read through another: %v", err)
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	url := schemaURL(t)
	ctx := context.Background()
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	first := migrations(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, url)
	got, err := s.Get(ctx, "tenant", p.ID)
	if err != nil || got.Seq != p.Seq || got.DisplayName != p.DisplayName {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, p)
	}
	if again := migrations(t, s); again != first || first == "" {
		t.Fatalf("schema_migrations after reopen %q, want %q unchanged", again, first)
	}
}

func TestOpenRefusesASchemaThatDisagreesWithTheProperties(t *testing.T) {
	url := schemaURL(t)
	s := openTest(t, url)
	if _, err := s.pool.Exec(context.Background(), "ALTER TABLE profiles DROP COLUMN job_title"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), url, Options{}); err == nil || !strings.Contains(err.Error(), "job_title") {
		t.Fatalf("open of a table without job_title: %v, want an error naming it", err)
	}
	if _, err := s.pool.Exec(context.Background(), "ALTER TABLE profiles ADD COLUMN job_title integer"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), url, Options{}); err == nil || !strings.Contains(err.Error(), "job_title is integer") {
		t.Fatalf("open of a table with an integer job_title: %v, want an error naming it", err)
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	url := schemaURL(t)
	s := openTest(t, url)
	if _, err := s.pool.Exec(context.Background(), "INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), url, Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: %v, want a refusal", err)
	}
}

func TestOpenFailsFastOnABadURL(t *testing.T) {
	url := schemaURL(t)
	for name, bad := range map[string]string{
		"unknown database": strings.Replace(testDB, "/extdir_test_", "/no_such_db_", 1),
		"not a URL":        "postgres://%zz",
		"no schema to create in": func() string {
			return strings.Replace(url, "search_path=", "search_path=no_such_schema_", 1)
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := Open(ctx, bad, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("open %s succeeded", Redact(bad))
			}
		})
	}
}

// TestSessionSettings pins what every pooled connection runs with: the
// statement timeout, and synchronous_commit on even where the server, the
// database or the role turned it off (here: the URL), since a returned write
// must be durable; a stronger setting is kept.
func TestSessionSettings(t *testing.T) {
	url := schemaURL(t)
	setting := func(s *Store, name string) string {
		t.Helper()
		var v string
		if err := s.pool.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, params string
		opts         Options
		want         map[string]string
	}{
		{"defaults", "", Options{}, map[string]string{"statement_timeout": "30s", "synchronous_commit": "on", "application_name": "extdir"}},
		{"synchronous_commit off is turned on", "&synchronous_commit=off", Options{}, map[string]string{"synchronous_commit": "on"}},
		{"a stronger synchronous_commit is kept", "&synchronous_commit=remote_apply", Options{}, map[string]string{"synchronous_commit": "remote_apply"}},
		{"the URL's statement timeout", "&statement_timeout=7s", Options{}, map[string]string{"statement_timeout": "7s"}},
		{"the option beats the URL", "&statement_timeout=7s", Options{StatementTimeout: 5 * time.Second}, map[string]string{"statement_timeout": "5s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), url+tc.params, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for name, want := range tc.want {
				if got := setting(s, name); got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
		})
	}
}

func TestPoolConfig(t *testing.T) {
	const base = "postgres://u:secret@db.example:5432/extdir?sslmode=disable"
	tests := []struct {
		name        string
		url         string
		opts        Options
		maxConns    int32
		connTimeout time.Duration
	}{
		{"defaults", base, Options{}, DefaultMaxConns, DefaultConnectTimeout},
		{"the URL's settings", base + "&pool_max_conns=3&connect_timeout=4", Options{}, 3, 4 * time.Second},
		{"options beat the URL", base + "&pool_max_conns=3&connect_timeout=4", Options{MaxConns: 7, ConnectTimeout: time.Second}, 7, time.Second},
		{"keyword/value strings", "host=db.example user=u pool_max_conns=2", Options{}, 2, DefaultConnectTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := poolConfig(tc.url, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxConns != tc.maxConns || cfg.ConnConfig.ConnectTimeout != tc.connTimeout {
				t.Fatalf("max conns %d, connect timeout %v; want %d, %v", cfg.MaxConns, cfg.ConnConfig.ConnectTimeout, tc.maxConns, tc.connTimeout)
			}
		})
	}
	if _, err := poolConfig("postgres://u:secret@db.example:notaport/x", Options{}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("invalid URL: error %v, want one that does not show the password", err)
	}
}

func TestRedactHidesPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h/db?sslmode=disable":      "postgres://u:xxxxx@h/db?sslmode=disable",
		"postgresql://u@h/db?password=secret":           "postgresql://u@h/db?password=xxxxx",
		"postgres://u@h/db":                             "postgres://u@h/db",
		"host=h password=secret":                        "(connection string hidden)",
		"postgres://u:secret@h:badport/db%zz?x=secret1": "(connection string hidden)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPurgeSkipsALockedRow shows that a purge neither waits for nor deletes
// a row another transaction holds (a restore in progress), and that the
// next purge, once the lock is gone, does delete it if it is still due.
func TestPurgeSkipsALockedRow(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, schemaURL(t))
	deleted := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		p := conformance.Profile("tenant", i)
		p.DeletedDateTime = &deleted
		if err := s.Create(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	locked := conformance.Profile("tenant", 0).ID
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, "tenant", locked, store.Unaudited(func(p *extdir.Profile) error {
			close(entered)
			<-release
			return nil
		}))

		done <- err
	}()
	<-entered
	purgeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	n, err := s.Expire(purgeCtx, deleted.Add(time.Second), nil)
	cancel()
	if err != nil || n != 2 {
		close(release)
		t.Fatalf("purge beside a locked row = %d, %v; want 2 and no wait", n, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := s.Expire(ctx, deleted.Add(time.Second), nil); err != nil || n != 1 {
		t.Fatalf("purge after the lock = %d, %v; want 1", n, err)
	}
}

// TestRetry pins which failures are tried again: those a concurrent
// transaction caused, up to maxAttempts, and nothing else.
func TestRetry(t *testing.T) {
	serialization := &pgconn.PgError{Code: "40001"}
	deadlock := &pgconn.PgError{Code: "40P01"}
	unique := &pgconn.PgError{Code: "23505"}
	tests := []struct {
		name     string
		errs     []error // returned by successive attempts; nil after the end
		attempts int
		err      error
	}{
		{"success is not retried", nil, 1, nil},
		{"a serialization failure is retried", []error{serialization}, 2, nil},
		{"a wrapped deadlock is retried", []error{fmt.Errorf("commit: %w", deadlock), serialization}, 3, nil},
		{"a unique violation is not retried", []error{unique}, 1, unique},
		{"a callback's error is not retried", []error{errCallback}, 1, errCallback},
		{"retries end", slices.Repeat([]error{serialization}, maxAttempts+5), maxAttempts, serialization},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := retry(context.Background(), func() error {
				n++
				if n <= len(tc.errs) {
					return tc.errs[n-1]
				}
				return nil
			})
			if n != tc.attempts || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("%d attempts, error %v; want %d, %v", n, err, tc.attempts, tc.err)
			}
		})
	}
}

// errCallback is returned by the callbacks of the tests.
var errCallback = errors.New("callback refuses")

// TestUnavailableDatabaseIsA503 cuts the store's only connection from the
// server side, as a database restart or failover does: the call that meets
// the dead connection fails as unavailable (a 503 the client may retry, not
// a 500), and the next call works on a new connection.
func TestUnavailableDatabaseIsA503(t *testing.T) {
	url := schemaURL(t)
	ctx := context.Background()
	s, err := Open(ctx, url, Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := s.pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, testDB)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var done bool
	// The second argument waits until the backend is gone (PostgreSQL 14+).
	if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", pid).Scan(&done); err != nil || !done {
		t.Fatalf("terminate the store's connection: %v, %v", done, err)
	}
	_, err = s.Get(ctx, "tenant", p.ID)
	if code := extdir.ErrorCode(err); code != extdir.EUnavailable || extdir.ErrorMessage(err) != errUnavailable.Message {
		t.Fatalf("get on a terminated connection: %v (code %q), want unavailable", err, code)
	}
	if _, err := s.Get(ctx, "tenant", p.ID); err != nil {
		t.Fatalf("get after the pool replaced its connection: %v", err)
	}
}

func TestDBErrorClassifies(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"statement timeout", fmt.Errorf("list: %w", &pgconn.PgError{Code: "57014"}), true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection exception class", &pgconn.PgError{Code: "08006"}, true},
		{"server gone mid-reply", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"a bug in a statement", &pgconn.PgError{Code: "42601"}, false},
		{"a unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"no rows", pgx.ErrNoRows, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := dbError(tc.err)
			got := extdir.ErrorCode(err) == extdir.EUnavailable
			if got != tc.unavailable {
				t.Fatalf("unavailable = %t, want %t", got, tc.unavailable)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("the cause is lost: %v", err)
			}
		})
	}
	if dbError(nil) != nil {
		t.Fatal("dbError(nil) is not nil")
	}
}

func TestImportIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, schemaURL(t))
	var batch []*extdir.Profile
	for i := range 50 {
		batch = append(batch, conformance.Profile("tenant", i))
	}
	if err := s.Import(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	for i, p := range batch {
		got, err := s.Get(ctx, "tenant", p.ID)
		if err != nil || got.Seq != p.Seq || (i > 0 && p.Seq <= batch[i-1].Seq) {
			t.Fatalf("imported %s: %+v, %v; seq %d", p.ID, got, err, p.Seq)
		}
	}
	// A batch with a phone clash in its middle writes nothing.
	clash := []*extdir.Profile{conformance.Profile("tenant", 100), conformance.Profile("tenant", 101), conformance.Profile("tenant", 102)}
	clash[1].PhoneNumber = batch[7].PhoneNumber
	if err := s.Import(ctx, clash, nil); !errors.Is(err, extdir.ErrPhoneTaken) {
		t.Fatalf("import with a phone clash: %v, want ErrPhoneTaken", err)
	}
	if _, err := s.Get(ctx, "tenant", clash[0].ID); extdir.ErrorCode(err) != extdir.ENotFound {
		t.Fatalf("the clashing batch's first profile was kept: %v", err)
	}
	if err := s.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
}
