package sqlfilter_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store/sqlfilter"
)

func mustFilter(t *testing.T, s string) odata.Expr {
	t.Helper()
	e, err := odata.Filter(s, extdir.KindPending)
	if err != nil {
		t.Fatalf("odata.Filter(%q): %v", s, err)
	}
	return e
}

func TestWhereShapes(t *testing.T) {
	const jan1 = int64(1704067200) // 2024-01-01T00:00:00Z
	tests := []struct {
		name, filter string
		sqlite       string
		pg           string
		args         []any // as SQLite binds them; PostgreSQL differs for booleans only
		pgArgs       []any // when different
	}{
		{"eq ignores case through the index's collation", "companyName eq 'Contoso'",
			"company_name = ? COLLATE NOCASE",
			"lower(company_name) = lower($1::text)",
			[]any{"Contoso"}, nil},
		{"ne on a nullable column includes null", "companyName ne 'Contoso'",
			"(company_name IS NULL OR NOT (company_name = ? COLLATE NOCASE))",
			"(company_name IS NULL OR NOT (lower(company_name) = lower($1::text)))",
			[]any{"Contoso"}, nil},
		{"ne on a non-null column", "displayName ne 'x'",
			"NOT (display_name = ? COLLATE NOCASE)",
			"NOT (lower(display_name) = lower($1::text))",
			[]any{"x"}, nil},
		{"not eq is ne", "not (companyName eq 'x')",
			"(company_name IS NULL OR NOT (company_name = ? COLLATE NOCASE))",
			"(company_name IS NULL OR NOT (lower(company_name) = lower($1::text)))",
			[]any{"x"}, nil},
		{"not ne is eq", "not (companyName ne 'x')",
			"company_name = ? COLLATE NOCASE",
			"lower(company_name) = lower($1::text)",
			[]any{"x"}, nil},
		{"eq null", "companyName eq null", "company_name IS NULL", "company_name IS NULL", nil, nil},
		{"ne null", "supervisorId ne null", "supervisor_id IS NOT NULL", "supervisor_id IS NOT NULL", nil, nil},
		{"not eq null", "not (companyName eq null)", "company_name IS NOT NULL", "company_name IS NOT NULL", nil, nil},
		{"startswith escapes LIKE metacharacters", `startswith(companyName,'50%_off\')`,
			`company_name LIKE ? ESCAPE '\'`,
			`lower(company_name) LIKE lower($1::text) ESCAPE E'\\'`,
			[]any{`50\%\_off\\%`}, nil},
		{"not startswith includes null", "not startswith(companyName,'C')",
			`(company_name IS NULL OR NOT (company_name LIKE ? ESCAPE '\'))`,
			`(company_name IS NULL OR NOT (lower(company_name) LIKE lower($1::text) ESCAPE E'\\'))`,
			[]any{"C%"}, nil},
		{"startswith on a non-null column", "startswith(displayName,'Al')",
			`display_name LIKE ? ESCAPE '\'`,
			`lower(display_name) LIKE lower($1::text) ESCAPE E'\\'`,
			[]any{"Al%"}, nil},
		{"in", "companyName in ('a','B')",
			"company_name COLLATE NOCASE IN (?, ?)",
			"lower(company_name) IN (lower($1::text), lower($2::text))",
			[]any{"a", "B"}, nil},
		{"not in includes null", "not (address/city in ('Paris'))",
			"(address_city IS NULL OR NOT (address_city COLLATE NOCASE IN (?)))",
			"(address_city IS NULL OR NOT (lower(address_city) IN (lower($1::text))))",
			[]any{"Paris"}, nil},
		{"boolean eq", "isDiscoverable eq true", "is_discoverable = ?", "is_discoverable = $1", []any{int64(1)}, []any{true}},
		{"boolean ne", "isEnabled ne false", "is_enabled <> ?", "is_enabled <> $1", []any{int64(0)}, []any{false}},
		{"not boolean eq", "not (isEnabled eq true)", "is_enabled <> ?", "is_enabled <> $1", []any{int64(1)}, []any{true}},
		{"time ge", "createdDateTime ge 2024-01-01T00:00:00Z", "created_at >= ?", "created_at >= $1", []any{jan1}, nil},
		{"time with offset", "createdDateTime lt 2024-01-01T01:00:00+01:00", "created_at < ?", "created_at < $1", []any{jan1}, nil},
		{"time gt a fraction", "createdDateTime gt 2024-01-01T00:00:00.5Z", "created_at > ?", "created_at > $1", []any{jan1}, nil},
		{"time ge a fraction", "createdDateTime ge 2024-01-01T00:00:00.5Z", "created_at > ?", "created_at > $1", []any{jan1}, nil},
		{"time lt a fraction", "createdDateTime lt 2024-01-01T00:00:00.5Z", "created_at <= ?", "created_at <= $1", []any{jan1}, nil},
		{"time le a fraction", "createdDateTime le 2024-01-01T00:00:00.5Z", "created_at <= ?", "created_at <= $1", []any{jan1}, nil},
		{"time eq a fraction never matches", "createdDateTime eq 2024-01-01T00:00:00.5Z", "1 = 0", "1 = 0", nil, nil},
		{"time ne a fraction always matches", "createdDateTime ne 2024-01-01T00:00:00.5Z", "created_at IS NOT NULL", "created_at IS NOT NULL", nil, nil},
		{"time before 1970 with a fraction", "createdDateTime ge 1969-12-31T23:59:59.5Z", "created_at > ?", "created_at > $1", []any{int64(-1)}, nil},
		{"not time lt", "not (createdDateTime lt 2024-01-01T00:00:00Z)", "created_at >= ?", "created_at >= $1", []any{jan1}, nil},
		{"and and or chains are flat", "companyName eq 'a' and jobTitle eq 'b' and department eq 'c' or isEnabled eq true",
			"((company_name = ? COLLATE NOCASE AND job_title = ? COLLATE NOCASE AND department = ? COLLATE NOCASE) OR is_enabled = ?)",
			"((lower(company_name) = lower($1::text) AND lower(job_title) = lower($2::text) AND lower(department) = lower($3::text)) OR is_enabled = $4)",
			[]any{"a", "b", "c", int64(1)}, []any{"a", "b", "c", true}},
		{"not over and is De Morgan", "not (companyName eq 'a' and isEnabled eq true)",
			"((company_name IS NULL OR NOT (company_name = ? COLLATE NOCASE)) OR is_enabled <> ?)",
			"((company_name IS NULL OR NOT (lower(company_name) = lower($1::text))) OR is_enabled <> $2)",
			[]any{"a", int64(1)}, []any{"a", true}},
		{"double not cancels", "not not startswith(companyName,'x')",
			`company_name LIKE ? ESCAPE '\'`,
			`lower(company_name) LIKE lower($1::text) ESCAPE E'\\'`,
			[]any{"x%"}, nil},
		{"documented combination", "startswith(companyName,'X') and supervisorId eq 'Y'",
			`(company_name LIKE ? ESCAPE '\' AND supervisor_id = ? COLLATE NOCASE)`,
			`(lower(company_name) LIKE lower($1::text) ESCAPE E'\\' AND lower(supervisor_id) = lower($2::text))`,
			[]any{"X%", "Y"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustFilter(t, tc.filter)
			sql, args, err := sqlfilter.Where(e, sqlfilter.SQLite{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if sql != tc.sqlite {
				t.Errorf("SQLite\n got %s\nwant %s", sql, tc.sqlite)
			}
			if !reflect.DeepEqual(args, tc.args) {
				t.Errorf("SQLite args %#v, want %#v", args, tc.args)
			}
			sql, args, err = sqlfilter.Where(e, sqlfilter.Postgres{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if sql != tc.pg {
				t.Errorf("PostgreSQL\n got %s\nwant %s", sql, tc.pg)
			}
			want := tc.pgArgs
			if want == nil {
				want = tc.args
			}
			if !reflect.DeepEqual(args, want) {
				t.Errorf("PostgreSQL args %#v, want %#v", args, want)
			}
		})
	}
}

func TestWhereArgOffset(t *testing.T) {
	e := mustFilter(t, "companyName in ('a','b') or isEnabled eq true")
	sql, args, err := sqlfilter.Where(e, sqlfilter.Postgres{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := "(lower(company_name) IN (lower($3::text), lower($4::text)) OR is_enabled = $5)"
	if sql != want || len(args) != 3 {
		t.Errorf("got %s %v, want %s", sql, args, want)
	}
}

func TestWhereNil(t *testing.T) {
	sql, args, err := sqlfilter.Where(nil, sqlfilter.SQLite{}, 0)
	if sql != "" || args != nil || err != nil {
		t.Errorf("got %q %v %v", sql, args, err)
	}
}

// TestWhereRefusesUncheckedTrees: only what CheckFilter produces becomes
// SQL; anything else is an error, never a column name or a spliced value.
func TestWhereRefusesUncheckedTrees(t *testing.T) {
	company, _ := extdir.PropertyByName("companyName")
	id, _ := extdir.PropertyByName("id")
	epoch, _ := extdir.PropertyByName("epoch")
	isEnabled, _ := extdir.PropertyByName("isEnabled")
	evil := &extdir.Property{Name: "x", Type: extdir.TypeString, Column: "1=1; DROP TABLE profiles; --", Filter: extdir.OpEq}
	str := odata.Literal{Kind: odata.LitString, Str: "x"}
	path := func(p *extdir.Property) odata.Path { return odata.Path{Segments: []string{"p"}, Prop: p} }
	tests := []struct {
		name string
		e    odata.Expr
	}{
		{"unbound path", &odata.Compare{Path: odata.Path{Segments: []string{"companyName"}}, Op: odata.Eq, Value: str}},
		{"property outside the table", &odata.Compare{Path: path(evil), Op: odata.Eq, Value: str}},
		{"operator the property does not allow", &odata.Compare{Path: path(id), Op: odata.Ne, Value: str}},
		{"property not filterable at all", &odata.Compare{Path: path(epoch), Op: odata.Eq, Value: odata.Literal{Kind: odata.LitInt, Int: 1}}},
		{"literal of the wrong type", &odata.Compare{Path: path(isEnabled), Op: odata.Eq, Value: str}},
		{"null on a non-nullable column", &odata.Compare{Path: path(id), Op: odata.Eq, Value: odata.Literal{Kind: odata.LitNull}}},
		{"endswith", &odata.Call{Func: odata.EndsWith, Path: path(company), Arg: str}},
		{"empty in list", &odata.In{Path: path(company)}},
		{"nil operand", &odata.Logical{Op: odata.And, Left: &odata.Compare{Path: path(company), Op: odata.Eq, Value: str}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []sqlfilter.Dialect{sqlfilter.SQLite{}, sqlfilter.Postgres{}} {
				sql, args, err := sqlfilter.Where(tc.e, d, 0)
				if err == nil {
					t.Fatalf("%T: got %q %v, want an error", d, sql, args)
				}
				if extdir.ErrorCode(err) != extdir.EInternal {
					t.Errorf("%T: error %v should be internal: it is a bug, not a client error", d, err)
				}
			}
		})
	}
}

func TestSearchWhere(t *testing.T) {
	s, err := odata.ParseSearch(`"displayName:a_b" AND "phoneNumber:+1" OR "companyName:x"`, extdir.KindPending)
	if err != nil {
		t.Fatal(err)
	}
	sql, args, err := sqlfilter.SearchWhere(s, sqlfilter.SQLite{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	like := func(col string) string {
		var parts []string
		for range 5 {
			parts = append(parts, col+` LIKE ? ESCAPE '\'`)
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	}
	want := "((" + like("display_name") + " AND " + like("phone_number") + ") OR (" + like("company_name") + "))"
	if sql != want {
		t.Errorf("got\n%s\nwant\n%s", sql, want)
	}
	wantArgs := []any{
		`a\_b%`, `% a\_b%`, `%-a\_b%`, `%\_a\_b%`, `%.a\_b%`,
		`+1%`, `% +1%`, `%-+1%`, `%\_+1%`, `%.+1%`,
		`x%`, `% x%`, `%-x%`, `%\_x%`, `%.x%`,
	}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("args\n got %q\nwant %q", args, wantArgs)
	}
	sql, _, err = sqlfilter.SearchWhere(s, sqlfilter.Postgres{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sql, `(((lower(display_name) LIKE lower($5::text) ESCAPE E'\\' OR `) || !strings.Contains(sql, "$19::text") {
		t.Errorf("PostgreSQL: %s", sql)
	}
	if sql, args, err := sqlfilter.SearchWhere(nil, sqlfilter.SQLite{}, 0); sql != "" || args != nil || err != nil {
		t.Errorf("nil search: %q %v %v", sql, args, err)
	}
	jobTitle, _ := extdir.PropertyByName("jobTitle")
	bad := &odata.Search{Any: [][]odata.SearchTerm{{{Prop: jobTitle, Text: "x"}}}}
	if _, _, err := sqlfilter.SearchWhere(bad, sqlfilter.SQLite{}, 0); err == nil {
		t.Error("a property that is not Searchable became SQL")
	}
}

func TestEscapeLike(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "100%": `100\%`, "a_b": `a\_b`, `c:\dir`: `c:\\dir`, `%_\`: `\%\_\\`, "": "",
	} {
		if got := sqlfilter.EscapeLike(in); got != want {
			t.Errorf("EscapeLike(%q) = %q, want %q", in, got, want)
		}
	}
}
