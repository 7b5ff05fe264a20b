package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
	"github.com/extdir/extdir/store/sqlstore"
)

func openTest(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("open %q: %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	// tuned applies the suite's options to a store just opened.
	tuned := func(s *Store, opts conformance.Options) *Store {
		if opts.ExpireBatch > 0 {
			s.purgeBatch = opts.ExpireBatch
		}
		return s
	}
	t.Run("memory", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T, opts conformance.Options) store.Store {
			return tuned(openTest(t, Memory), opts)
		})
	})
	t.Run("file", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T, opts conformance.Options) store.Store {
			return tuned(openTest(t, filepath.Join(t.TempDir(), "extdir.db")), opts)
		})
	})
}

func pragma(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) string {
	t.Helper()
	var v string
	if err := q.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestFileDatabaseIsDurable(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "extdir.db"))
	for _, db := range []struct {
		name string
		db   *sql.DB
	}{{"writer", s.writer}, {"reader", s.reader}} {
		for name, want := range map[string]string{
			"journal_mode": "wal",
			// NORMAL: the store syncs the WAL itself (durable.go).
			"synchronous":  "1",
			"foreign_keys": "1",
			"busy_timeout": "5000",
		} {
			if got := pragma(t, db.db, name); got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", db.name, name, got, want)
			}
		}
	}
	if got := pragma(t, s.reader, "query_only"); got != "1" {
		t.Errorf("reader: PRAGMA query_only = %s, want 1", got)
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "extdir.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	p := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatalf("create: %v", err)
	}
	migrations := func(s *Store) string {
		rows, err := s.reader.QueryContext(ctx, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
		if err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		defer rows.Close()
		var sb strings.Builder
		for rows.Next() {
			var v, at int64
			var name string
			if err := rows.Scan(&v, &name, &at); err != nil {
				t.Fatalf("scan: %v", err)
			}
			fmt.Fprintf(&sb, "%d %s %d;", v, name, at)
		}
		return sb.String()
	}
	first := migrations(s)
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(first, ";"); n != len(ms) {
		t.Fatalf("schema_migrations holds %q, want %d migrations", first, len(ms))
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		if fi, _ := os.Stat(path + "-wal"); fi.Size() != 0 {
			t.Errorf("the WAL holds %d bytes after close, want it checkpointed", fi.Size())
		}
	}

	time.Sleep(1100 * time.Millisecond) // a second application would record a later applied_at
	s = openTest(t, path)
	got, err := s.Get(ctx, "tenant", p.ID)
	if err != nil {
		t.Fatalf("get after reopen: %v", err)
	}
	if got.DisplayName != p.DisplayName || got.Seq != p.Seq {
		t.Fatalf("after reopen: %+v, want %+v", got, p)
	}
	if again := migrations(s); again != first {
		t.Fatalf("schema_migrations after reopen %q, want %q unchanged", again, first)
	}
}

func TestMemoryDatabasesAreSeparateAndShared(t *testing.T) {
	ctx := context.Background()
	a, b := openTest(t, Memory), openTest(t, ":memory:")
	p := conformance.Profile("tenant", 1)
	if err := a.Create(ctx, p, nil); err != nil {
		t.Fatalf("create: %v", err)
	}
	// Written on the write connection, read on the read pool: one database.
	if _, err := a.Get(ctx, "tenant", p.ID); err != nil {
		t.Fatalf("get from the same memory store: %v", err)
	}
	if _, err := b.Get(ctx, "tenant", p.ID); extdir.ErrorCode(err) != extdir.ENotFound {
		t.Fatalf("get from another memory store: %v, want not found", err)
	}
	// Idle connections closing must not drop the database while the Store lives.
	a.reader.SetMaxIdleConns(0)
	a.writer.SetMaxIdleConns(0)
	if _, err := a.Get(ctx, "tenant", p.ID); err != nil {
		t.Fatalf("get after the pools dropped their idle connections: %v", err)
	}
}

func TestOpenRefusesASchemaThatDisagreesWithTheProperties(t *testing.T) {
	path := filepath.Join(t.TempDir(), "extdir.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := s.writer.Exec("ALTER TABLE profiles DROP COLUMN job_title"); err != nil {
		t.Fatalf("drop column: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := Open(context.Background(), path, Options{}); err == nil || !strings.Contains(err.Error(), "job_title") {
		t.Fatalf("open of a table without job_title: %v, want an error naming it", err)
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "extdir.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := s.writer.Exec("INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := Open(context.Background(), path, Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: %v, want a refusal", err)
	}
}

// TestQueryPlans pins the plans of the hot statements: each must walk an
// index and none may sort, on a new database and on one whose statistics
// PRAGMA optimize (run at Close) has gathered.
func TestQueryPlans(t *testing.T) {
	t.Run("new database", func(t *testing.T) { checkPlans(t, openTest(t, Memory)) })
	t.Run("analyzed database", func(t *testing.T) {
		s := openTest(t, Memory)
		tx, err := s.writer.Begin()
		if err != nil {
			t.Fatal(err)
		}
		deleted := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 3000 {
			p := conformance.Profile([]string{"t", "u", "v"}[i%3], i)
			p.Kind = extdir.Kinds[i%5/4]
			if i%7 == 0 {
				p.DeletedDateTime = &deleted
			}
			if i%2 == 0 {
				p.CompanyName = &p.DisplayName
			}
			if _, err := tx.Stmt(s.insert).Exec(profileArgs(p, p.Tenant, int64(p.Kind))...); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.writer.Exec("ANALYZE"); err != nil {
			t.Fatal(err)
		}
		checkPlans(t, s)
	})
}

func checkPlans(t *testing.T, s *Store) {
	displayName, _ := extdir.PropertyByName("displayName")
	created, _ := extdir.PropertyByName("createdDateTime")
	cursor := func(keys ...extdir.Value) *store.Cursor { return &store.Cursor{Keys: keys, Seq: 10} }
	name, when := extdir.StringValue("bob"), extdir.Value{Time: time.Unix(1e9, 0)}

	type plan struct {
		name  string
		query string
		args  []any
		want  string // in the plan
	}
	plans := []plan{
		{"get", selectByID, []any{"t", "id"}, "INDEX sqlite_autoindex_profiles_1"},
		{"purge", purgeBatchSQL, []any{1, 1000}, "INDEX profiles_deleted_at"},
		// The documented filters, in the shape store/sqlfilter's SQLite
		// dialect writes them: startswith as a LIKE that the NOCASE column
		// turns into an index range, eq under NOCASE.
		{"filter companyName startswith", "SELECT count(*) FROM profiles WHERE tenant = ? AND kind = ? AND deleted_at IS NULL AND (company_name LIKE ? ESCAPE '\\')",
			[]any{"t", 1, "Contoso%"}, "INDEX profiles_by_company_name (tenant=? AND kind=? AND deleted_at=? AND company_name>? AND company_name<?)"},
		{"filter supervisorId eq", "SELECT count(*) FROM profiles WHERE tenant = ? AND kind = ? AND deleted_at IS NULL AND (supervisor_id = ? COLLATE NOCASE)",
			[]any{"t", 1, "5E1D"}, "INDEX profiles_by_supervisor_id (tenant=? AND kind=? AND deleted_at=? AND supervisor_id=?)"},
	}
	// An export batch walks the rowid range after the last batch, in
	// order, whether or not it keeps to a tenant.
	for name, tenant := range map[string]string{"export of every tenant": "", "export of a tenant": "t"} {
		query, args := exportSQL(tenant, 10, 1000)
		plans = append(plans, plan{name, query, args, "SEARCH profiles USING INTEGER PRIMARY KEY (rowid>?)"})
	}
	for _, c := range []struct {
		name    string
		q       store.Query
		index   string
		noCount bool
	}{
		{"live by seq", store.Query{}, "profiles_by_seq", false},
		{"live by seq after a cursor", store.Query{After: cursor()}, "profiles_by_seq", true},
		{"deleted by seq after a cursor", store.Query{Deleted: true, After: cursor()}, "profiles_deleted_by_seq", false},
		{"live by displayName", store.Query{OrderBy: []store.Order{{Prop: displayName}}, After: cursor(name)}, "profiles_by_display_name", true},
		{"live by displayName desc", store.Query{OrderBy: []store.Order{{Prop: displayName, Desc: true}}, After: cursor(name)}, "profiles_by_display_name", true},
		{"live by createdDateTime desc", store.Query{OrderBy: []store.Order{{Prop: created, Desc: true}}, After: cursor(when)}, "profiles_by_created_at", true},
	} {
		q := c.q
		q.Tenant, q.Kind, q.Top = "t", extdir.KindPending, 100
		query, args, err := listSQL(q)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, plan{"list " + c.name, query, args, "INDEX " + c.index})
		if !c.noCount {
			// A count must not leave the index.
			query, args, err := countSQL(q)
			if err != nil {
				t.Fatal(err)
			}
			// Of a whole collection: the row of profile_counts.
			plans = append(plans, plan{"count " + c.name, query, args, "SEARCH profile_counts USING PRIMARY KEY (tenant=? AND kind=? AND deleted=?)"})
		}
	}

	for _, p := range plans {
		rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+p.query, p.args...)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		var details []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			details = append(details, detail)
		}
		rows.Close()
		plan := strings.Join(details, "; ")
		if !strings.Contains(plan, p.want) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want a walk of %s with no sort\n%s", p.name, plan, p.want, p.query)
		}
	}
}

// TestAcknowledgedWritesSurviveKill kills a process that is writing, with
// SIGKILL, and checks that every write it had acknowledged is in the file.
func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	if path := os.Getenv("EXTDIR_SQLITE_WRITER"); path != "" {
		writeUntilKilled(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	path := filepath.Join(t.TempDir(), "extdir.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveKill$")
	cmd.Env = append(os.Environ(), "EXTDIR_SQLITE_WRITER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lines := bufio.NewScanner(out)
	for len(acked) < 200 && lines.Scan() {
		acked = append(acked, lines.Text())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	_ = cmd.Wait() // killed: the exit status says so and nothing more
	if len(acked) < 200 {
		t.Fatalf("the writer acknowledged only %d writes before stopping", len(acked))
	}

	s := openTest(t, path)
	for _, id := range acked {
		p, err := s.Get(context.Background(), "tenant", id)
		if err != nil {
			t.Fatalf("acknowledged %s is lost: %v", id, err)
		}
		if p.Epoch != 2 {
			t.Fatalf("acknowledged update of %s is lost: epoch %d", id, p.Epoch)
		}
	}
}

// writeUntilKilled is the child of TestAcknowledgedWritesSurviveKill: it
// creates and updates profiles forever, printing each id once both returned.
func writeUntilKilled(path string) {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jobTitle, _ := extdir.PropertyByName("jobTitle")
	patch := extdir.Changes{{Prop: jobTitle, Value: extdir.StringValue("Engineer")}}
	for i := 0; ; i++ {
		p := conformance.Profile("tenant", i)
		if err := s.Create(ctx, p, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := s.Update(ctx, "tenant", p.ID, store.Unaudited(func(p *extdir.Profile) error { p.Patch(patch); return nil })); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(p.ID)
	}
}

func TestOpenAPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "extdir.db")
	s := openTest(t, path)
	if err := s.Create(context.Background(), conformance.Profile("tenant", 1), nil); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not where it was asked to be: %v", err)
	}
}
