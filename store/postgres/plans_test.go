package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
	"github.com/extdir/extdir/store/sqlstore"
)

// seedForPlans fills a store with 30,000 rows, one in five of them in
// tenant t1 and the rest spread over fifty tenants, one in eleven deleted,
// with companyName, supervisorId and displayName spread wide, and gathers
// statistics. The plans below are those of t1: a tenant large enough that
// walking an index in order beats sorting (for a tenant of a few hundred
// rows the planner rightly sorts them instead), yet small enough among the
// others that its index beats a walk of the whole table.
func seedForPlans(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	cols := sqlstore.ColumnList()
	if _, err := s.pool.Exec(ctx, `INSERT INTO profiles (tenant, kind, `+cols+`)
		SELECT CASE WHEN i % 5 = 0 THEN 't1' ELSE 't' || (i % 50) END, 1 + (i % 5 / 4),
			'id-' || i,                                  -- id
			CASE WHEN i % 11 = 0 THEN 1700000000 END,     -- deleted_at
			1700000000 + i,                              -- created_at
			'creator',                                   -- created_by
			'Company ' || (i % 997),                     -- company_name
			'Name ' || i,                                -- display_name
			NULL, true, true, NULL,                      -- job_title, is_discoverable, is_enabled, department
			'+1555' || lpad(i::text, 7, '0'),            -- phone_number
			NULL, NULL, NULL, NULL, NULL, NULL,          -- address
			'sup-' || (i % 1009),                        -- supervisor_id
			1                                            -- epoch
		FROM generate_series(1, 30000) AS i`); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE profiles"); err != nil {
		t.Fatal(err)
	}
}

// explain returns the plan PostgreSQL makes for query with these values,
// as the store runs it (an unnamed statement, planned with the values).
func explain(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "EXPLAIN (COSTS OFF) "+query, append([]any{readMode}, args...)...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}

func mustFilter(t *testing.T, s string) odata.Expr {
	t.Helper()
	e, err := odata.Filter(s, extdir.KindPending)
	if err != nil {
		t.Fatalf("filter %q: %v", s, err)
	}
	return e
}

// TestQueryPlans pins the plans of the hot statements on a table large
// enough for the planner to care: each walks the index meant for it, none
// sorts, and startswith becomes a range of an index (the ~>=~ and ~<~
// conditions of text_pattern_ops, or >= and < under the C collation).
func TestQueryPlans(t *testing.T) {
	s := openTest(t, schemaURL(t))
	seedForPlans(t, s)
	displayName, _ := extdir.PropertyByName("displayName")
	created, _ := extdir.PropertyByName("createdDateTime")
	cursor := func(keys ...extdir.Value) *store.Cursor { return &store.Cursor{Keys: keys, Seq: 15000} }
	name := extdir.StringValue("Name 15000")
	when := extdir.Value{Time: time.Unix(1700015000, 0)}

	type plan struct {
		name  string
		query string
		args  []any
		want  []string // each in the plan
		// sorted lists must come from an index in order. A filtered list
		// may sort the few rows its filter's index finds, which is cheaper
		// than walking the order's index past every row the filter drops.
		sorted bool
	}
	plans := []plan{
		{"get", selectByID, []any{"t1", "id-3001"}, []string{"Index Scan using profiles_tenant_id"}, false},
		{"purge", purgeBatchSQL, []any{int64(1700000001), 1000}, []string{
			"Tid Scan on profiles", "TID Cond: (ctid = ANY ($",
			"Index Scan using profiles_deleted_at", "Index Cond: ((deleted_at IS NOT NULL) AND (deleted_at < '1700000001'::bigint))",
		}, false},
	}
	for _, c := range []struct {
		name  string
		q     store.Query
		want  []string
		count bool
		// ordered filters must not sort either.
		ordered bool
	}{
		// Insertion order: which index walks t1's rows by seq (the primary
		// key, filtered, or profiles_live_by_seq) is the planner's call on
		// the tenant's share of the table; either is a range, in order.
		{"live by seq", store.Query{}, []string{"Index Scan using profiles_"}, true, false},
		{"live by seq after a cursor", store.Query{After: cursor()}, []string{"Index Scan using profiles_", "(seq > '15000'::bigint)"}, false, false},
		// Deleted items are few: an index finds them, and a sort of what
		// it finds is allowed.
		{"deleted by seq after a cursor", store.Query{Deleted: true, After: cursor()}, []string{"Index Scan using profiles_deleted_"}, true, false},
		{"live by displayName", store.Query{OrderBy: []store.Order{{Prop: displayName}}, After: cursor(name)}, []string{
			// One row comparison: a single range of the index.
			"Index Scan using profiles_live_by_display_name",
			`(ROW((lower(display_name))::text, seq) > ROW('name 15000'::text COLLATE "C", '15000'::bigint))`,
		}, false, false},
		{"live by displayName desc", store.Query{OrderBy: []store.Order{{Prop: displayName, Desc: true}}, After: cursor(name)}, []string{"Index Scan Backward using profiles_live_by_display_name"}, false, false},
		{"live by createdDateTime desc", store.Query{OrderBy: []store.Order{{Prop: created, Desc: true}}, After: cursor(when)}, []string{"Index Scan Backward using profiles_live_by_created_at"}, false, false},
		{"live by displayName then createdDateTime desc", store.Query{OrderBy: []store.Order{{Prop: displayName}, {Prop: created, Desc: true}}, After: cursor(name, when)}, []string{
			// Mixed directions: the index gives the first key's order and
			// range; only the ties on it are sorted.
			"Index Scan using profiles_live_by_display_name",
			`((lower(display_name))::text >= 'name 15000'::text COLLATE "C")`,
			"Presorted Key: ((lower(display_name))::text)",
		}, false, false},
		// The documented filters, and displayName's: eq, in and startswith
		// through lower(), served by the text_pattern_ops indexes.
		{"startswith companyName", store.Query{Filter: mustFilter(t, "startswith(companyName,'company 99')")}, []string{
			"profiles_live_company_name", "(lower(company_name) ~>=~ 'company 99'::text) AND (lower(company_name) ~<~ 'company 9:'::text)",
		}, true, false},
		{"companyName eq", store.Query{Filter: mustFilter(t, "companyName eq 'COMPANY 5'")}, []string{
			"profiles_live_company_name", "(lower(company_name) = 'company 5'::text)",
		}, true, false},
		// The equality indexes end with seq (migration 0005): a cursor is
		// part of the index range, and where many rows match (a million
		// profiles: TestLargeDirectoryPlans) one value's rows come in seq
		// order, so the page stops after 101 of them. Here, six rows
		// match, and the planner rightly sorts them.
		{"companyName eq after a cursor", store.Query{Filter: mustFilter(t, "companyName eq 'COMPANY 5'"), After: cursor()}, []string{
			"Index Scan on profiles_live_company_name", "(lower(company_name) = 'company 5'::text) AND (seq > '15000'::bigint))",
		}, false, false},
		{"supervisorId eq", store.Query{Filter: mustFilter(t, "supervisorId eq 'SUP-7'")}, []string{
			"profiles_live_supervisor_id", "(lower(supervisor_id) = 'sup-7'::text)",
		}, true, false},
		{"supervisorId eq after a cursor", store.Query{Filter: mustFilter(t, "supervisorId eq 'SUP-7'"), After: cursor()}, []string{
			"Index Scan on profiles_live_supervisor_id", "(lower(supervisor_id) = 'sup-7'::text) AND (seq > '15000'::bigint))",
		}, false, false},
		{"startswith supervisorId", store.Query{Filter: mustFilter(t, "startswith(supervisorId,'Sup-100')")}, []string{
			"profiles_live_supervisor_id", "(lower(supervisor_id) ~>=~ 'sup-100'::text)",
		}, true, false},
		{"supervisorId in", store.Query{Filter: mustFilter(t, "supervisorId in ('sup-1','sup-2')")}, []string{
			"profiles_live_supervisor_id", "(lower(supervisor_id) = ANY",
		}, true, false},
		{"startswith displayName", store.Query{Filter: mustFilter(t, "startswith(displayName,'name 2999')")}, []string{
			"lower(display_name)", "'name 2999'::text",
		}, true, false},
		{"displayName eq", store.Query{Filter: mustFilter(t, "displayName eq 'Name 42'")}, []string{
			"profiles_live_display_name", "(lower(display_name) = 'name 42'::text)",
		}, true, false},
		{"phoneNumber eq", store.Query{Filter: mustFilter(t, "phoneNumber eq '+15550000042'")}, []string{
			"profiles_live_phone", "(lower(phone_number) = '+15550000042'::text)",
		}, true, false},
		{"startswith companyName by displayName", store.Query{Filter: mustFilter(t, "startswith(companyName,'company 99')"), OrderBy: []store.Order{{Prop: displayName}}}, []string{
			"profiles_live_company_name", "lower(company_name) ~>=~ 'company 99'::text",
		}, false, false},
	} {
		q := c.q
		q.Tenant, q.Kind, q.Top = "t1", extdir.KindPending, 100
		query, args, err := listSQL(q)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, plan{"list " + c.name, query, args, c.want, (q.Filter == nil || c.ordered) && !q.Deleted && !mixed(q.OrderBy)})
		if c.count {
			query, args, err := countSQL(q)
			if err != nil {
				t.Fatal(err)
			}
			// A count walks the same index (tenant, kind and filter as
			// index conditions) and never the table.
			plans = append(plans, plan{"count " + c.name, query, args, []string{"Index"}, false})
		}
	}
	// An export batch is a range of an index in seq order: of seq alone
	// for every tenant; for one tenant, of the primary key or of seq alone
	// filtered, as the tenant's share of the table decides.
	for _, c := range []struct {
		name, tenant string
		want         []string
	}{
		{"export of every tenant", "", []string{"Index Scan using profiles_seq", "Index Cond: (seq > '15000'::bigint)"}},
		{"export of a tenant", "t1", []string{"Index Scan using profiles_", "(seq > '15000'::bigint)"}},
	} {
		query, args := exportSQL(c.tenant, 15000, 1000)
		plans = append(plans, plan{c.name, query, args, c.want, true})
	}
	for _, p := range plans {
		t.Run(p.name, func(t *testing.T) {
			got := explain(t, s, p.query, p.args)
			t.Logf("%s\n%s", p.query, got)
			for _, w := range p.want {
				if !strings.Contains(got, w) {
					t.Errorf("plan lacks %q", w)
				}
			}
			if strings.Contains(got, "Seq Scan") {
				t.Errorf("plan scans the table")
			}
			if p.sorted && strings.Contains(got, "Sort") {
				t.Errorf("plan sorts")
			}
		})
	}
}

// TestListingsAreNeverPrepared shows the mechanism that keeps startswith on
// an index range however often it runs: after many listings through one
// connection, none of them is among the connection's prepared statements
// (they run unnamed, planned with their values), while the fixed statements
// are (their generic plans are what they need).
func TestListingsAreNeverPrepared(t *testing.T) {
	url := schemaURL(t)
	s, err := Open(context.Background(), url, Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	p := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	q := store.Query{Tenant: "tenant", Kind: extdir.KindPending, Top: 10, Filter: mustFilter(t, "startswith(companyName,'Con')")}
	for range 10 {
		if _, err := s.List(ctx, q); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Count(ctx, q); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "tenant", p.ID); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.pool.Query(ctx, "SELECT statement FROM pg_prepared_statements")
	if err != nil {
		t.Fatal(err)
	}
	prepared, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(prepared, "\n")
	if strings.Contains(got, "LIKE") || strings.Contains(got, "count(*)") {
		t.Errorf("a listing or count is a prepared statement:\n%s", got)
	}
	if !strings.Contains(got, selectByID) {
		t.Errorf("get is not a prepared statement:\n%s", got)
	}
}

// mixed reports whether an order has terms in both directions, which no
// index serves in full.
func mixed(order []store.Order) bool {
	for _, o := range order {
		if o.Desc != order[0].Desc {
			return true
		}
	}
	return false
}
