package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlstore"
)

// millionStats are the planner statistics (sqlite_stat1) ANALYZE gathered
// on the benchmarks' million-profile directory (internal/seed: 1,000,000
// profiles in one tenant and 1,000 in each of two others, 100 companies,
// 10,000 supervisors; go run ./bench/load -profiles 1000000 seeds it), so
// that the plans below are those of a directory of that size without one.
var millionStats = [][2]string{
	{"profiles_by_supervisor_id", "1002000 334000 334000 334000 84"},
	{"profiles_by_company_name", "1002000 334000 334000 334000 3340"},
	{"profiles_by_created_at", "1002000 334000 334000 334000 1"},
	{"profiles_by_display_name", "1002000 334000 334000 334000 1"},
	{"profiles_by_seq", "1002000 334000 334000 334000"},
	{"profiles_live_phone", "1002000 334000 1"},
	{"sqlite_autoindex_profiles_1", "1002000 334000 1"},
	{"profiles_deleted_by_seq", "1000 334 334"},
	{"profiles_deleted_at", "1000 1"},
}

// planQuery is one listing or count the store runs, and what its plan may
// do.
type planQuery struct {
	name string
	q    store.Query
	// sorts allows a temporary B-tree: a range of startswith matches has
	// no seq order, and sorting the matches beats walking the listing
	// index when few rows match (the planner picks by the statistics).
	sorts bool
}

// documentedQueries are the listings of the contract, with their first
// page and a nextLink page: every order, and the first page of each
// filter with an index (companyName and supervisorId, Graph's documented
// filters, and displayName, phoneNumber and createdDateTime).
func documentedQueries(t *testing.T) []planQuery {
	t.Helper()
	const tenant = "00000000-0000-0000-0000-0000000000e1"
	base := store.Query{Tenant: tenant, Kind: extdir.KindPending, Top: 100}
	var out []planQuery
	add := func(name string, q store.Query, sorts bool) {
		out = append(out, planQuery{name, q, sorts})
	}
	orders := []struct {
		by  string
		key extdir.Value
	}{
		{"", extdir.Value{}},
		{"displayName", extdir.StringValue("User 0500000")},
		{"displayName desc", extdir.StringValue("User 0500000")},
		{"createdDateTime", extdir.Value{Time: time.Unix(1_700_500_000, 0).UTC()}},
		{"createdDateTime desc", extdir.Value{Time: time.Unix(1_700_500_000, 0).UTC()}},
	}
	for _, o := range orders {
		q := base
		if o.by != "" {
			ob, err := odata.ParseOrderBy(o.by, extdir.KindPending)
			if err != nil {
				t.Fatal(err)
			}
			for _, term := range ob {
				q.OrderBy = append(q.OrderBy, store.Order(term))
			}
		}
		name := "$orderby=" + o.by
		if o.by == "" {
			name = "no $orderby"
		}
		add(name+", first page", q, false)
		next := q
		next.After = &store.Cursor{Seq: 500_000}
		if o.by != "" {
			next.After.Keys = []extdir.Value{o.key}
		}
		add(name+", nextLink page", next, false)
	}
	deleted := base
	deleted.Deleted = true
	add("deleted items, first page", deleted, false)
	deletedNext := deleted
	deletedNext.After = &store.Cursor{Seq: 500}
	add("deleted items, nextLink page", deletedNext, false)

	for _, f := range []struct {
		filter string
		sorts  bool
	}{
		{"companyName eq 'Company 042'", false},
		{"supervisorId eq 'sup-00042'", false},
		{"displayName eq 'User 0000042'", false},
		{"phoneNumber eq '+10000000042'", false},
		{"startswith(companyName,'Company 04')", true},
		{"startswith(supervisorId,'sup-0004')", true},
		{"startswith(displayName,'User 00001')", true},
		{"createdDateTime ge 2023-11-20T00:00:00Z", true},
	} {
		e, err := odata.Filter(f.filter, extdir.KindPending)
		if err != nil {
			t.Fatal(err)
		}
		q := base
		q.Filter = e
		add("$filter="+f.filter+", first page", q, f.sorts)
		next := q
		next.After = &store.Cursor{Seq: 500_000}
		add("$filter="+f.filter+", nextLink page", next, f.sorts)
	}
	return out
}

// TestDocumentedQueryPlans holds every documented listing to a plan that reads about
// a page of rows: an index range in the listing's order (no SCAN of the
// table or of a whole index, no sort), on a fresh database without
// statistics and on one with the statistics of a million profiles. The
// counts must stay inside an index.
func TestDocumentedQueryPlans(t *testing.T) {
	for _, stats := range []string{"no statistics", "a million profiles"} {
		t.Run(stats, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "extdir.db")
			if stats != "no statistics" {
				loadStats(t, path, millionStats)
			}
			s := openTest(t, path)
			for _, c := range documentedQueries(t) {
				list, args, err := listSQL(c.q)
				if err != nil {
					t.Fatal(err)
				}
				plan := explain(t, s, list, args)
				t.Logf("%s: %s", c.name, plan)
				if strings.Contains(plan, "SCAN ") {
					t.Errorf("%s: plan %q scans", c.name, plan)
				}
				if !c.sorts && strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("%s: plan %q sorts", c.name, plan)
				}
				if c.q.After != nil || len(c.q.OrderBy) > 0 {
					continue
				}
				count, cargs, err := countSQL(c.q)
				if err != nil {
					t.Fatal(err)
				}
				plan = explain(t, s, count, cargs)
				t.Logf("count of %s: %s", c.name, plan)
				// phoneNumber is unique among live rows: its count reads one
				// row at most, through the unique index.
				unique := strings.Contains(plan, "INDEX profiles_live_phone (tenant=? AND phone_number=?)")
				// A whole collection's count is one row of profile_counts.
				whole := c.q.Filter == nil && plan == "SEARCH profile_counts USING PRIMARY KEY (tenant=? AND kind=? AND deleted=?)"
				if strings.Contains(plan, "SCAN ") || !strings.Contains(plan, "COVERING INDEX") && !unique && !whole {
					t.Errorf("count of %s: plan %q, want a range of a covering index", c.name, plan)
				}
			}
		})
	}
}

// loadStats creates the database at path and writes stats as its
// sqlite_stat1, which the next Open reads.
func loadStats(t *testing.T, path string, stats [][2]string) {
	t.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("ANALYZE"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM sqlite_stat1"); err != nil {
		t.Fatal(err)
	}
	for _, st := range stats {
		table := "profiles"
		if strings.HasPrefix(st[0], "audits") {
			table = "audits"
		}
		if _, err := db.Exec("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", table, st[0], st[1]); err != nil {
			t.Fatal(fmt.Errorf("stat of %s: %w", st[0], err))
		}
	}
}

// TestEveryStatementPlan prints the plan of every statement the store
// issues besides the listings above, on the million-profile statistics
// (go test -run TestEveryStatementPlan -v ./store/sqlite), and holds each
// to its index: none scans a table but the two that mean to (a reset of
// every tenant, and the export of every tenant, a walk of the rowids).
func TestEveryStatementPlan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "extdir.db")
	loadStats(t, path, millionStats)
	s := openTest(t, path)
	const tenant = "00000000-0000-0000-0000-0000000000e1"
	auditPage, auditArgs, err := sqlstore.AuditListSQL(dialect, store.AuditQuery{Tenant: tenant, Top: 50})
	if err != nil {
		t.Fatal(err)
	}
	auditNext, auditNextArgs, err := sqlstore.AuditListSQL(dialect, store.AuditQuery{Tenant: tenant, Top: 50, After: &store.AuditCursor{Time: time.Unix(1_700_000_000, 0), Seq: 10}})
	if err != nil {
		t.Fatal(err)
	}
	exportAll, exportAllArgs := exportSQL("", 500_000, 1000)
	exportOne, exportOneArgs := exportSQL(tenant, 500_000, 1000)
	resetOne, resetOneArgs := sqlstore.ResetSQL(dialect, tenant)
	auditReset, auditResetArgs := sqlstore.AuditResetSQL(dialect, tenant)
	for _, c := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"get by id (GET, and the write's read of the row)", selectByID, []any{tenant, "id"}, "SEARCH profiles USING INDEX sqlite_autoindex_profiles_1 (tenant=? AND id=?)"},
		{"update of the changed columns (PATCH, delete, restore, redeem)", updateSQL(1), []any{"x", 1}, "SEARCH profiles USING INTEGER PRIMARY KEY (rowid=?)"},
		{"purge of one profile", "DELETE FROM profiles WHERE seq = ?", []any{1}, "SEARCH profiles USING INTEGER PRIMARY KEY (rowid=?)"},
		{"retention purge, one batch", purgeBatchSQL, []any{1, 1000}, "USING COVERING INDEX profiles_deleted_at (deleted_at>? AND deleted_at<?)"},
		{"count of a whole collection", countWhole, []any{tenant, 1, 0}, "SEARCH profile_counts USING PRIMARY KEY (tenant=? AND kind=? AND deleted=?)"},
		{"metrics: profile counts", profileCountsSQL(false), nil, "SCAN profile_counts"},
		{"export of a tenant, one batch", exportOne, exportOneArgs, "SEARCH profiles USING INTEGER PRIMARY KEY (rowid>?)"},
		{"export of every tenant, one batch", exportAll, exportAllArgs, "SEARCH profiles USING INTEGER PRIMARY KEY (rowid>?)"},
		{"reset of a tenant", resetOne, resetOneArgs, "USING COVERING INDEX"},
		{"audit log, first page", auditPage, auditArgs, "SEARCH audits USING INDEX audits_by_time (tenant=?)"},
		{"audit log, nextLink page", auditNext, auditNextArgs, "SEARCH audits USING INDEX audits_by_time (tenant=? AND activity_at<?)"},
		{"audit record by id", sqlstore.AuditGetSQL(dialect), []any{tenant, "id"}, "SEARCH audits USING INDEX sqlite_autoindex_audits_1 (tenant=? AND id=?)"},
		{"audit retention, one batch", sqlstore.AuditExpireSQL(dialect), []any{1, 1000}, "SEARCH audits USING COVERING INDEX audits_expiry (activity_at<?)"},
		{"audit reset of a tenant", auditReset, auditResetArgs, "audits USING"},
	} {
		plan := explain(t, s, c.query, c.args)
		t.Logf("%s: %s", c.name, plan)
		if !strings.Contains(plan, c.want) {
			t.Errorf("%s: plan %q, want %q", c.name, plan, c.want)
		}
		if strings.Contains(plan, "SCAN profiles") || strings.Contains(plan, "SCAN audits") {
			t.Errorf("%s: plan %q scans", c.name, plan)
		}
	}
}
