package sqlfilter_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlfilter"
)

// The PostgreSQL dialect is run against a real server when
// EXTDIR_TEST_PSQL holds a libpq connection string (for example
// "host=/tmp/pg port=5432 user=postgres dbname=postgres") and psql is on
// the PATH. The module has no PostgreSQL driver, so the test drives psql:
// it PREPAREs the statement Where builds, exactly as a driver would send
// it, and EXECUTEs it with the arguments written as literals. Everything
// lives in temporary tables of one session.

func psqlConn(t *testing.T) string {
	conn := os.Getenv("EXTDIR_TEST_PSQL")
	if conn == "" {
		t.Skip("EXTDIR_TEST_PSQL is not set")
	}
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql is not on the PATH")
	}
	return conn
}

// pgLiteral writes a test argument as a PostgreSQL literal.
func pgLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	panic(fmt.Sprintf("pgLiteral: %T", v))
}

func pgScript(t *testing.T, body []string) []string {
	t.Helper()
	script := []string{
		`\set ON_ERROR_STOP 1`,
		"SET standard_conforming_strings = on;",
		"SET client_min_messages = warning;",
	}
	for _, s := range schema("postgres") {
		script = append(script, strings.Replace(s, "CREATE TABLE", "CREATE TEMP TABLE", 1)+";")
	}
	for _, tenant := range []string{"t1", "t2"} {
		for _, p := range fixture {
			vals := []string{pgLiteral(tenant), pgLiteral(int64(extdir.KindPending))}
			for _, v := range rowValues(p, false) {
				vals = append(vals, pgLiteral(v))
			}
			script = append(script, "INSERT INTO profiles (tenant, kind, "+columnNames()+") VALUES ("+strings.Join(vals, ", ")+");")
		}
	}
	script = append(script, body...)
	cmd := exec.Command("psql", "-X", "-q", "-A", "-t", psqlConn(t))
	cmd.Stdin = strings.NewReader(strings.Join(script, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}

func execute(name string, args []any) string {
	lits := make([]string, len(args))
	for i, a := range args {
		lits[i] = pgLiteral(a)
	}
	return "EXECUTE " + name + "(" + strings.Join(lits, ", ") + ");"
}

func TestPostgresEndToEnd(t *testing.T) {
	psqlConn(t)
	cases := append(endToEnd[:len(endToEnd):len(endToEnd)], struct{ name, filter, want string }{
		"PostgreSQL folds non-ASCII case by its collation", "companyName eq 'ÉCOLE'", "p10",
	})
	var body []string
	for i, tc := range cases {
		e := mustFilter(t, tc.filter)
		where, args, err := sqlfilter.Where(e, sqlfilter.Postgres{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("q%d", i)
		body = append(body,
			fmt.Sprintf("PREPARE %s AS SELECT '%d|' || coalesce(string_agg(id, ' ' ORDER BY seq), '') FROM profiles WHERE tenant = $1 AND kind = $2 AND %s;", name, i, where),
			execute(name, append([]any{"t1", int64(extdir.KindPending)}, args...)))
	}
	got := map[int]string{}
	for _, line := range pgScript(t, body) {
		n, ids, ok := strings.Cut(line, "|")
		if i, err := strconv.Atoi(n); ok && err == nil {
			got[i] = ids
		}
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got[i] != tc.want {
				t.Errorf("%s\n got [%s]\nwant [%s]", tc.filter, got[i], tc.want)
			}
		})
	}
}

// TestPostgresQueryPlanUsesIndexes shows that the lower() expression
// indexes serve the documented filters: the filtered column is part of the
// index condition, a range for startswith. Five thousand more rows and
// ANALYZE give the planner a reason to prefer the selective index.
func TestPostgresQueryPlanUsesIndexes(t *testing.T) {
	psqlConn(t)
	tests := []struct {
		filter string
		want   []string
	}{
		{"startswith(companyName,'X')", []string{"Index Scan using profiles_company_name", "Index Cond: ((tenant = 't1'::text) AND (kind = 1) AND (lower(company_name) ~>=~ 'x'::text) AND (lower(company_name) ~<~ 'y'::text))"}},
		{"supervisorId eq 'Y'", []string{"using profiles_supervisor_id", "Index Cond: ((tenant = 't1'::text) AND (kind = 1) AND (lower(supervisor_id) = 'y'::text))"}},
		{"companyName in ('X','Y')", []string{"using profiles_company_name", "AND (lower(company_name) = ANY ('{x,y}'::text[])))"}},
		{"startswith(displayName,'50%_')", []string{"Index Scan using profiles_display_name", "(lower(display_name) ~>=~ '50%_'::text) AND (lower(display_name) ~<~ '50%`'::text))"}},
	}
	body := []string{
		"INSERT INTO profiles (tenant, kind, id, display_name, phone_number, company_name, supervisor_id, is_enabled, is_discoverable, created_by, created_at, epoch) " +
			"SELECT 't1', 1, 'g' || i, 'name' || i, '+1' || i, 'co' || i, 'sup' || i, true, true, 'x', i, 1 FROM generate_series(1, 5000) AS i;",
		"ANALYZE profiles;",
	}
	for i, tc := range tests {
		where, args, err := sqlfilter.Where(mustFilter(t, tc.filter), sqlfilter.Postgres{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("plan%d", i)
		body = append(body,
			fmt.Sprintf("PREPARE %s AS SELECT seq FROM profiles WHERE tenant = $1 AND kind = $2 AND %s;", name, where),
			fmt.Sprintf(`\echo '#%d'`, i),
			"EXPLAIN (COSTS OFF) "+execute(name, append([]any{"t1", int64(extdir.KindPending)}, args...)))
	}
	plans := map[int][]string{}
	cur := -1
	for _, line := range pgScript(t, body) {
		if n, ok := strings.CutPrefix(line, "#"); ok {
			cur, _ = strconv.Atoi(n)
			continue
		}
		if cur >= 0 {
			plans[cur] = append(plans[cur], strings.TrimSpace(line))
		}
	}
	for i, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			plan := strings.Join(plans[i], "; ")
			t.Log(plan)
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan lacks %q: %s", w, plan)
				}
			}
		})
	}
}
