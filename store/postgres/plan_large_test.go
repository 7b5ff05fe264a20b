package postgres

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/internal/seed"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
)

// largeTenant is the tenant under test of the million-profile directory.
const largeTenant = "00000000-0000-0000-0000-0000000000e1"

// openLarge opens the million-profile database that
// EXTDIR_BENCH_LARGE_POSTGRES names, seeding it (internal/seed: a million
// profiles in the tenant under test, 100,000 in each of two others; a few
// minutes) when the tenant is empty. It is kept between runs, so that only
// the first one pays for the seeding. Skipped without the variable.
func openLarge(t testing.TB) *Store {
	t.Helper()
	url := os.Getenv("EXTDIR_BENCH_LARGE_POSTGRES")
	if url == "" {
		t.Skip("set EXTDIR_BENCH_LARGE_POSTGRES to a database URL (seeded on first use)")
	}
	ctx := context.Background()
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n, err := s.Count(ctx, store.Query{Tenant: largeTenant, Kind: extdir.KindPending, Top: 1})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		shape := seed.Shape{Tenant: largeTenant, Profiles: 1_000_000, OtherTenants: 2, OtherProfiles: 100_000}
		if err := seed.Run(ctx, s, shape, 10_000, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Statistics as fresh as the schema: a migration may have added some.
	if err := s.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLargeDirectoryPlans shows, on the million-profile database, which
// index each documented filter walks: the filter's own, as a range for a
// prefix, never the table.
func TestLargeDirectoryPlans(t *testing.T) {
	s := openLarge(t)
	for _, c := range []struct {
		filter string
		want   string
	}{
		{"startswith(companyName,'Company 04')", "(lower(company_name) ~>=~ 'company 04'::text) AND (lower(company_name) ~<~ 'company 05'::text)"},
		{"companyName eq 'Company 042'", "(lower(company_name) = 'company 042'::text)"},
		{"supervisorId eq 'sup-00042'", "(lower(supervisor_id) = 'sup-00042'::text)"},
		{"startswith(supervisorId,'sup-0004')", "(lower(supervisor_id) ~>=~ 'sup-0004'::text) AND (lower(supervisor_id) ~<~ 'sup-0005'::text)"},
		{"startswith(companyName,'Company 04') and supervisorId eq 'sup-00042'", "(lower(supervisor_id) = 'sup-00042'::text)"},
	} {
		e, err := odata.Filter(c.filter, extdir.KindPending)
		if err != nil {
			t.Fatal(err)
		}
		q := store.Query{Tenant: largeTenant, Kind: extdir.KindPending, Filter: e, Top: 100}
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
			t.Logf("%s of %s:\n%s", stmt.what, c.filter, plan)
			// A count must range over the filter's own index. A page may
			// instead walk the seq index in order and stop at the 101st
			// match, which the planner prefers when many rows match; what
			// it must never do is scan the table.
			if stmt.what == "count" && !strings.Contains(plan, c.want) {
				t.Errorf("count of %s: the plan lacks the index condition %s", c.filter, c.want)
			}
			if !strings.Contains(plan, "Index") || strings.Contains(plan, "Seq Scan") {
				t.Errorf("%s of %s scans the table", stmt.what, c.filter)
			}
		}
	}
}
