package odata_test

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store/sqlfilter"

	_ "modernc.org/sqlite"
)

// fuzzSeeds are expressions the fuzzer starts from, besides the parser
// tests' own: the checker's cases and values that hit the fuzz database's
// rows.
var fuzzSeeds = []string{
	"companyName eq", "", "companyName", "not companyName eq 'x'", "'x' eq companyName",
	"companyName eq 'abc", "startswith(companyName 'x')", "companyName in ()",
	"createdDateTime gt 2024-01-01", "createdDateTime gt 2024-01-01T00:00:00 01:00",
	"epoch eq 9223372036854775808", "address/ eq 'x'", "displayName eq 'é' and",
	"isEnabled eq 'yes'", "createdDateTime ge '2024-01-01T00:00:00Z'", "startswith(isEnabled,'t')",
	"endswith(companyName,'x')", "companyName gt null", "companyName in ('a',null)",
	"deletedDateTime eq null", "address/city eq 'Paris' and startswith(address/postalCode,'75')",
	"startswith(companyName,'contoso') and supervisorId eq 'SUP-1'",
	"not (companyName eq 'contoso' or supervisorId eq 'sup-1')",
	"startswith(companyName,'100%') or startswith(companyName,'a_b') or startswith(companyName,'back\\')",
	"createdDateTime gt 2024-01-01T00:00:00.5Z and createdDateTime le 2024-01-01T00:00:01.5+00:00",
	"not (isEnabled eq false) and isDiscoverable ne true",
	"companyName in ('CONTOSO LTD','100xxoff') or companyName eq null",
	"not startswith(jobTitle,'eng') and not (address/city in ('paris'))",
	"id in ('f1','F2') or displayName eq 'ivan o''neil'",
	"createdDateTime ne 2025-01-01T00:00:00Z and createdDateTime lt 2025-02-01T00:00:00Z",
}

func FuzzParseFilter(f *testing.F) {
	for _, tc := range validFilters {
		f.Add(tc.in)
	}
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := odata.ParseFilter(s)
		if err != nil {
			var xe *extdir.Error
			if !errors.As(err, &xe) || xe.Code != extdir.EBadRequest {
				t.Fatalf("ParseFilter(%q): %v is not an EBadRequest *extdir.Error", s, err)
			}
			return
		}

		// The canonical form reads back to an equal tree and prints the same.
		printed := e.String()
		again, err := odata.ParseFilterUnbounded(printed)
		if err != nil {
			t.Fatalf("ParseFilter(%q) accepted, but its print %q does not parse: %v", s, printed, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("print %q of %q parses to a different tree", printed, s)
		}
		if again.String() != printed {
			t.Fatalf("print is not stable: %q then %q", printed, again.String())
		}

		// An unchecked tree never becomes SQL.
		if _, _, err := sqlfilter.Where(e, sqlfilter.SQLite{}, 0); err == nil {
			t.Fatalf("Where accepted the unchecked tree of %q", s)
		}

		checked, err := odata.CheckFilter(e, extdir.KindPending)
		if err != nil {
			if c := extdir.ErrorCode(err); c != extdir.EBadRequest && c != extdir.EUnsupportedQuery {
				t.Fatalf("CheckFilter(%q): unexpected %v", s, err)
			}
			return
		}
		if checked.String() != printed {
			t.Fatalf("CheckFilter changed the expression: %q vs %q", checked, printed)
		}

		for _, d := range []sqlfilter.Dialect{sqlfilter.SQLite{}, sqlfilter.Postgres{}} {
			where, args, err := sqlfilter.Where(checked, d, 0)
			if err != nil {
				t.Fatalf("Where(%q, %T): %v", s, d, err)
			}
			if err := whitelisted(where, args, d); err != nil {
				t.Fatalf("Where(%q, %T) = %s: %v", s, d, where, err)
			}
		}

		// The SQL selects exactly the rows the filter's meaning selects.
		db := fuzzDB(t)
		where, args, _ := sqlfilter.Where(checked, sqlfilter.SQLite{}, 0)
		got, err := queryIDs(db, where, args)
		if err != nil {
			t.Fatalf("SQLite refused the translation of %q: %s %v: %v", s, where, args, err)
		}
		var want []string
		for _, p := range fuzzRows {
			if eval(checked, p) {
				want = append(want, p.ID)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%q as %s %v\n got [%s]\nwant [%s]", s, where, args, strings.Join(got, " "), strings.Join(want, " "))
		}
	})
}

func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{
		`"displayName:bob"`, `"displayName:bob smith"`, `"displayName:a" OR "displayName:b" AND "companyName:c"`,
		`"displayName:say \"hi\" \\o/"`, `"displayName:a" "phoneNumber:+1"`, `"jobTitle:x"`, `displayName:bob`,
		`"displayName:a""displayName:b"`, `("displayName:a")`, `"displayName:a_%"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		search, err := odata.ParseSearch(s, extdir.KindPending)
		if err != nil {
			if c := extdir.ErrorCode(err); c != extdir.EBadRequest && c != extdir.EUnsupportedQuery {
				t.Fatalf("ParseSearch(%q): unexpected %v", s, err)
			}
			return
		}
		again, err := odata.ParseSearch(search.String(), extdir.KindPending)
		if err != nil || !reflect.DeepEqual(again, search) {
			t.Fatalf("ParseSearch(%q): print %q does not read back: %v", s, search, err)
		}
		for _, d := range []sqlfilter.Dialect{sqlfilter.SQLite{}, sqlfilter.Postgres{}} {
			where, args, err := sqlfilter.SearchWhere(search, d, 0)
			if err != nil {
				t.Fatalf("SearchWhere(%q): %v", s, err)
			}
			if err := whitelisted(where, args, d); err != nil {
				t.Fatalf("SearchWhere(%q, %T) = %s: %v", s, d, where, err)
			}
		}
		where, args, _ := sqlfilter.SearchWhere(search, sqlfilter.SQLite{}, 0)
		if _, err := queryIDs(fuzzDB(t), where, args); err != nil {
			t.Fatalf("SQLite refused the translation of %q: %v", s, err)
		}
	})
}

func FuzzParseOrderBy(f *testing.F) {
	for _, s := range []string{"displayName", "createdDateTime desc,displayName ASC", "displayName,", "a/b desc", "displayName desc asc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		orders, err := odata.ParseOrderBy(s, extdir.KindPending)
		if err != nil {
			if c := extdir.ErrorCode(err); c != extdir.EBadRequest && c != extdir.EUnsupportedQuery {
				t.Fatalf("ParseOrderBy(%q): unexpected %v", s, err)
			}
			return
		}
		seen := map[*extdir.Property]bool{}
		for _, o := range orders {
			if !o.Prop.Sortable || seen[o.Prop] {
				t.Fatalf("ParseOrderBy(%q) = %v", s, orders)
			}
			seen[o.Prop] = true
		}
	})
}

// sqlWords are the only words a translation may contain besides column
// names: SQL keywords, lower() and the ::text cast, E of E'\\'.
var sqlWords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IS": true, "NULL": true, "IN": true, "LIKE": true,
	"ESCAPE": true, "COLLATE": true, "NOCASE": true, "lower": true, "text": true, "E": true,
}

// whitelisted scans SQL produced by sqlfilter: every word is a column of
// the property table or one of sqlWords, the only string literal is the
// LIKE escape, there is nothing that could end the statement or start a
// comment, and the placeholders match the arguments one to one.
func whitelisted(where string, args []any, d sqlfilter.Dialect) error {
	columns := map[string]bool{}
	for _, c := range extdir.Columns {
		columns[c.Column] = true
	}
	placeholders := 0
	for i := 0; i < len(where); {
		c := where[i]
		switch {
		case c == ':':
			if !strings.HasPrefix(where[i:], "::text") {
				return fmt.Errorf("stray ':' at %d", i)
			}
			i += 2
		case c == ' ' || strings.IndexByte("(),=<>", c) >= 0:
			i++
		case c == '?':
			if _, ok := d.(sqlfilter.SQLite); !ok {
				return fmt.Errorf("'?' in %T SQL", d)
			}
			placeholders++
			i++
		case c == '$':
			j := i + 1
			for j < len(where) && where[j] >= '0' && where[j] <= '9' {
				j++
			}
			placeholders++
			if want := fmt.Sprintf("$%d", placeholders); where[i:j] != want {
				return fmt.Errorf("placeholder %s where %s was due", where[i:j], want)
			}
			i = j
		case c == '\'':
			switch {
			case strings.HasPrefix(where[i:], `'\'`):
				i += 3
			case strings.HasPrefix(where[i:], `'\\'`) && i > 0 && where[i-1] == 'E':
				i += 4
			default:
				return fmt.Errorf("string literal at %d", i)
			}
		case c >= '0' && c <= '9':
			j := i
			for j < len(where) && where[j] >= '0' && where[j] <= '9' {
				j++
			}
			if n := where[i:j]; n != "0" && n != "1" {
				return fmt.Errorf("number %s", n)
			}
			i = j
		case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i
			for j < len(where) && (where[j] == '_' || (where[j]|0x20 >= 'a' && where[j]|0x20 <= 'z') || (where[j] >= '0' && where[j] <= '9')) {
				j++
			}
			if w := where[i:j]; !columns[w] && !sqlWords[w] {
				return fmt.Errorf("word %q is neither a column nor a keyword", w)
			}
			i = j
		default:
			return fmt.Errorf("character %q at %d", c, i)
		}
	}
	if placeholders != len(args) {
		return fmt.Errorf("%d placeholders for %d arguments", placeholders, len(args))
	}
	for _, a := range args {
		switch a.(type) {
		case string, int64, bool:
		default:
			return fmt.Errorf("argument of type %T", a)
		}
	}
	return nil
}

// eval is the meaning of a checked filter on one profile, written
// independently of the SQL: two-valued logic (a null column satisfies ne
// and nothing else; not is the complement) and the SQLite dialect's case
// folding (ASCII letters only).
func eval(e odata.Expr, p *extdir.Profile) bool {
	switch e := e.(type) {
	case *odata.Logical:
		if e.Op == odata.And {
			return eval(e.Left, p) && eval(e.Right, p)
		}
		return eval(e.Left, p) || eval(e.Right, p)
	case *odata.Not:
		return !eval(e.X, p)
	case *odata.Compare:
		v := e.Path.Prop.Get(p)
		if e.Value.Kind == odata.LitNull || v.Null {
			same := v.Null == (e.Value.Kind == odata.LitNull)
			return same == (e.Op == odata.Eq)
		}
		var cmp int
		switch e.Value.Kind {
		case odata.LitString:
			cmp = strings.Compare(asciiLower(v.Str), asciiLower(e.Value.Str))
		case odata.LitBool:
			if v.Bool != e.Value.Bool {
				cmp = 1
			}
		case odata.LitDateTimeOffset:
			cmp = v.Time.Compare(e.Value.Time)
		}
		switch e.Op {
		case odata.Eq:
			return cmp == 0
		case odata.Ne:
			return cmp != 0
		case odata.Gt:
			return cmp > 0
		case odata.Ge:
			return cmp >= 0
		case odata.Lt:
			return cmp < 0
		case odata.Le:
			return cmp <= 0
		}
	case *odata.In:
		v := e.Path.Prop.Get(p)
		for _, x := range e.Values {
			if !v.Null && asciiLower(v.Str) == asciiLower(x.Str) {
				return true
			}
		}
		return false
	case *odata.Call:
		v := e.Path.Prop.Get(p)
		return !v.Null && strings.HasPrefix(asciiLower(v.Str), asciiLower(e.Arg.Str))
	}
	panic(fmt.Sprintf("eval: %T", e))
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func ptr(s string) *string { return &s }

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fuzzRows are the profiles the fuzz database holds: case variants, LIKE
// metacharacters, quotes, nulls, neighbouring seconds.
var fuzzRows = []*extdir.Profile{
	{ID: "f1", DisplayName: "Alice Smith", PhoneNumber: "+15550000001", CompanyName: ptr("Contoso"), SupervisorID: ptr("sup-1"),
		IsEnabled: true, IsDiscoverable: true, CreatedBy: "x", CreatedDateTime: ts("2024-01-01T00:00:00Z"), Address: extdir.Address{City: ptr("Paris")}},
	{ID: "f2", DisplayName: "bob jones", PhoneNumber: "+15550000002", CompanyName: ptr("contoso ltd"), SupervisorID: ptr("SUP-1"),
		IsDiscoverable: true, CreatedBy: "y", CreatedDateTime: ts("2024-01-01T00:00:01Z"), Address: extdir.Address{City: ptr("PARIS"), PostalCode: ptr("75001")}},
	{ID: "f3", DisplayName: "Carol", PhoneNumber: "+15550000003", CompanyName: ptr("CONTOSO"), JobTitle: ptr("Engineer"),
		IsEnabled: true, CreatedBy: "x", CreatedDateTime: ts("2024-06-01T12:00:00Z"), Department: ptr("R&D")},
	{ID: "f4", DisplayName: "Dan-the_man", PhoneNumber: "+15550000004", CompanyName: ptr("100%_Off"), SupervisorID: ptr("sup-2"),
		IsEnabled: true, IsDiscoverable: true, CreatedBy: "z", CreatedDateTime: ts("2025-01-01T00:00:00Z")},
	{ID: "f5", DisplayName: "Eve", PhoneNumber: "+15550000005", CompanyName: ptr("100xxOff"),
		IsEnabled: true, CreatedBy: "x", CreatedDateTime: ts("1969-12-31T23:59:59Z")},
	{ID: "f6", DisplayName: "Frank", PhoneNumber: "+15550000006", CompanyName: ptr("a_b corp"), JobTitle: ptr("eng lead"),
		CreatedBy: "x", CreatedDateTime: ts("2025-02-01T00:00:00Z")},
	{ID: "f7", DisplayName: "", PhoneNumber: "+15550000007", CompanyName: ptr(""),
		IsEnabled: true, CreatedBy: "", CreatedDateTime: ts("0001-01-01T00:00:00Z")},
	{ID: "f8", DisplayName: "Heidi", PhoneNumber: "+15550000008",
		IsEnabled: true, CreatedBy: "x", CreatedDateTime: ts("9999-12-31T23:59:59Z")},
	{ID: "F2", DisplayName: "Ivan O'Neil", PhoneNumber: "+15550000009", CompanyName: ptr(`back\slash`),
		IsEnabled: true, CreatedBy: "x", CreatedDateTime: ts("2025-03-01T00:00:00Z")},
}

var (
	fuzzOnce sync.Once
	fuzzConn *sql.DB
	fuzzErr  error
)

// fuzzDB is one in-memory SQLite database per process, holding fuzzRows.
func fuzzDB(t *testing.T) *sql.DB {
	fuzzOnce.Do(func() { fuzzConn, fuzzErr = openFuzzDB() })
	if fuzzErr != nil {
		t.Fatal(fuzzErr)
	}
	return fuzzConn
}

func openFuzzDB() (*sql.DB, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	var cols, names, marks []string
	cols = append(cols, "seq INTEGER PRIMARY KEY")
	for _, c := range extdir.Columns {
		typ := "TEXT"
		if c.Type != extdir.TypeString {
			typ = "INTEGER"
		}
		cols = append(cols, c.Column+" "+typ)
		names = append(names, c.Column)
		marks = append(marks, "?")
	}
	stmts := []string{
		"CREATE TABLE profiles (" + strings.Join(cols, ", ") + ")",
		"CREATE INDEX profiles_company ON profiles (company_name COLLATE NOCASE)",
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return nil, err
		}
	}
	insert := "INSERT INTO profiles (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
	for _, p := range fuzzRows {
		var vals []any
		for _, c := range extdir.Columns {
			v := c.Get(p)
			switch {
			case v.Null:
				vals = append(vals, nil)
			case c.Type == extdir.TypeBoolean:
				vals = append(vals, sqlfilter.SQLite{}.Bool(v.Bool))
			case c.Type == extdir.TypeDateTimeOffset:
				vals = append(vals, v.Time.Unix())
			case c.Type == extdir.TypeInt32:
				vals = append(vals, v.Int)
			default:
				vals = append(vals, v.Str)
			}
		}
		if _, err := db.Exec(insert, vals...); err != nil {
			return nil, err
		}
	}
	return db, nil
}

func queryIDs(db *sql.DB, where string, args []any) ([]string, error) {
	rows, err := db.Query("SELECT id FROM profiles WHERE "+where+" ORDER BY seq", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
