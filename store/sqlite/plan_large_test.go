package sqlite

import (
	"os"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
)

// TestLargeDirectoryPlans shows, on the million-profile database of the
// benchmarks (EXTDIR_BENCH_LARGE_DB, seeded by ./bench/seed), which index
// each documented filter walks. Skipped without that database.
func TestLargeDirectoryPlans(t *testing.T) {
	s := openLarge(t)
	for _, c := range []struct {
		filter string
		index  string
	}{
		{"startswith(companyName,'Company 04')", "profiles_by_company_name"},
		{"companyName eq 'Company 042'", "profiles_by_company_name"},
		{"supervisorId eq 'sup-00042'", "profiles_by_supervisor_id"},
		{"startswith(supervisorId,'sup-0004')", "profiles_by_"},
		{"startswith(companyName,'Company 04') and supervisorId eq 'sup-00042'", "profiles_by_supervisor_id"},
	} {
		e, err := odata.Filter(c.filter, extdir.KindPending)
		if err != nil {
			t.Fatal(err)
		}
		q := store.Query{Tenant: "00000000-0000-0000-0000-0000000000e1", Kind: extdir.KindPending, Filter: e, Top: 100}
		list, largs, err := listSQL(q)
		if err != nil {
			t.Fatal(err)
		}
		count, cargs, err := countSQL(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []struct {
			what, sql string
			args      []any
		}{{"page", list, largs}, {"count", count, cargs}} {
			plan := explain(t, s, stmt.sql, stmt.args)
			t.Logf("%s of %s: %s", stmt.what, c.filter, plan)
			// A count must seek the filter's own index. A page may instead
			// walk the listing index in seq order and stop at 101 matches,
			// which the planner prefers when many rows match; what it must
			// never do is scan the table.
			want := "INDEX " + c.index
			if stmt.what == "page" {
				want = "SEARCH profiles USING INDEX"
			}
			if !strings.Contains(plan, want) || strings.Contains(plan, "SCAN profiles") {
				t.Errorf("%s of %s: plan %q, want %s", stmt.what, c.filter, plan, want)
			}
		}
	}
}

// TestLargeDirectoryDocumentedPlans holds the documented listings of
// TestDocumentedQueryPlans to the same rules on the million-profile
// database itself, with the statistics ANALYZE gathered there (sqlite_stat4
// samples included, which make plans depend on the values bound).
func TestLargeDirectoryDocumentedPlans(t *testing.T) {
	s := openLarge(t)
	for _, c := range documentedQueries(t) {
		list, args, err := listSQL(c.q)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, s, list, args)
		t.Logf("%s: %s", c.name, plan)
		if strings.Contains(plan, "SCAN ") || !c.sorts && strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan %q", c.name, plan)
		}
	}
}

// openLarge opens the million-profile database EXTDIR_BENCH_LARGE_DB
// names, closed when the test ends; without it the test is skipped.
func openLarge(t *testing.T) *Store {
	t.Helper()
	path := os.Getenv("EXTDIR_BENCH_LARGE_DB")
	if path == "" {
		t.Skip("set EXTDIR_BENCH_LARGE_DB to a database seeded by ./bench/seed")
	}
	return openTest(t, path)
}

func explain(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var details []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		details = append(details, detail)
	}
	return strings.Join(details, "; ")
}
