package sqlfilter_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store/sqlfilter"

	_ "modernc.org/sqlite"
)

// openSQLite returns a throwaway in-memory database holding fixture in
// tenant "t1" and, to show the filter composes with the caller's
// conditions, the same rows again in tenant "t2".
func openSQLite(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	// Every connection to :memory: is its own database.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, stmt := range schema("sqlite") {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(extdir.Columns)+2), ", ")
	insert := "INSERT INTO profiles (tenant, kind, " + columnNames() + ") VALUES (" + ph + ")"
	for _, tenant := range []string{"t1", "t2"} {
		for _, p := range fixture {
			args := append([]any{tenant, int64(extdir.KindPending)}, rowValues(p, true)...)
			if _, err := db.Exec(insert, args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	return db
}

// selectIDs runs a filter for tenant t1 and returns the ids in insertion
// order, space-separated.
func selectIDs(t *testing.T, db *sql.DB, filter string) string {
	t.Helper()
	e := mustFilter(t, filter)
	where, args, err := sqlfilter.Where(e, sqlfilter.SQLite{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT id FROM profiles WHERE tenant = ? AND kind = ? AND " + where + " ORDER BY seq"
	rows, err := db.Query(q, append([]any{"t1", int64(extdir.KindPending)}, args...)...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(ids, " ")
}

func TestSQLiteEndToEnd(t *testing.T) {
	db := openSQLite(t)
	for _, tc := range endToEnd {
		t.Run(tc.name, func(t *testing.T) {
			if got := selectIDs(t, db, tc.filter); got != tc.want {
				t.Errorf("%s\n got [%s]\nwant [%s]", tc.filter, got, tc.want)
			}
		})
	}
	t.Run("SQLite folds ASCII case only", func(t *testing.T) {
		if got := selectIDs(t, db, "companyName eq 'ÉCOLE'"); got != "" {
			t.Errorf("got [%s]: NOCASE folded a non-ASCII letter", got)
		}
	})
}

// TestSQLiteLongestFilter runs the most clauses a filter under the length
// limit can hold, to show the SQL stays within SQLite's expression depth
// and variable limits.
func TestSQLiteLongestFilter(t *testing.T) {
	db := openSQLite(t)
	clause := "id eq'p1'or "
	n := (odata.MaxFilterLength - len("id eq'p2'")) / len(clause)
	filter := strings.Repeat(clause, n) + "id eq'p2'"
	if got := selectIDs(t, db, filter); got != "p1 p2" {
		t.Errorf("got [%s]", got)
	}
	nested := strings.Repeat("not (", odata.MaxDepth/2) + "startswith(companyName,'c')" + strings.Repeat(")", odata.MaxDepth/2)
	if got := selectIDs(t, db, nested); got != "p1 p2 p3" {
		t.Errorf("nested: got [%s]", got)
	}
}

// TestSQLiteQueryPlanUsesIndexes shows with EXPLAIN QUERY PLAN that the
// documented filters are served by the NOCASE indexes: eq and in by
// equality, startswith by the LIKE optimization's range.
func TestSQLiteQueryPlanUsesIndexes(t *testing.T) {
	db := openSQLite(t)
	tests := []struct {
		filter string
		// search is the index search SQLite must report: the filtered
		// column has to be part of the key, not checked row by row.
		search string
	}{
		{"startswith(companyName,'X')", "USING INDEX profiles_company_name (tenant=? AND kind=? AND company_name>? AND company_name<?)"},
		{"supervisorId eq 'Y'", "USING INDEX profiles_supervisor_id (tenant=? AND kind=? AND supervisor_id=?)"},
		{"companyName eq 'X'", "USING INDEX profiles_company_name (tenant=? AND kind=? AND company_name=?)"},
		{"companyName in ('X','Y')", "USING INDEX profiles_company_name (tenant=? AND kind=? AND company_name=?)"},
		{"startswith(displayName,'50%_')", "USING INDEX profiles_display_name (tenant=? AND kind=? AND display_name>? AND display_name<?)"},
		// Without ANALYZE statistics SQLite picks one of the two indexes;
		// either serves the conjunction.
		{"startswith(companyName,'X') and supervisorId eq 'Y'", "USING INDEX profiles_"},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			e := mustFilter(t, tc.filter)
			where, args, err := sqlfilter.Where(e, sqlfilter.SQLite{}, 2)
			if err != nil {
				t.Fatal(err)
			}
			q := "EXPLAIN QUERY PLAN SELECT seq FROM profiles WHERE tenant = ? AND kind = ? AND deleted_at IS NULL AND " + where + " ORDER BY seq LIMIT 100"
			rows, err := db.Query(q, append([]any{"t1", int64(1)}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "; ")
			t.Logf("%s\n  %s\n  %s", tc.filter, where, text)
			if !strings.Contains(text, "SEARCH profiles "+tc.search) {
				t.Errorf("plan does not search with %q: %s", tc.search, text)
			}
		})
	}
}
