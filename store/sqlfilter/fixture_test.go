package sqlfilter_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/extdir/extdir"
)

// The end-to-end tests store these profiles in a real database, run each
// filter through Where and compare the ids that come back.

func str(s string) *string { return &s }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var fixture = []*extdir.Profile{
	{ID: "p1", DisplayName: "Alice Smith", PhoneNumber: "+15550000001", CompanyName: str("Contoso"), SupervisorID: str("sup-1"),
		IsEnabled: true, IsDiscoverable: true, CreatedDateTime: at("2024-01-01T00:00:00Z"), Address: extdir.Address{City: str("Paris")}},
	{ID: "p2", DisplayName: "bob jones", PhoneNumber: "+15550000002", CompanyName: str("contoso ltd"), SupervisorID: str("SUP-1"),
		IsDiscoverable: true, CreatedDateTime: at("2024-01-01T00:00:01Z"), Address: extdir.Address{City: str("PARIS")}},
	{ID: "p3", DisplayName: "Carol", PhoneNumber: "+15550000003", CompanyName: str("CONTOSO"),
		IsEnabled: true, CreatedDateTime: at("2024-06-01T12:00:00Z"), JobTitle: str("Engineer")},
	{ID: "p4", DisplayName: "Dan-the_man", PhoneNumber: "+15550000004", CompanyName: str("100%_Off"), SupervisorID: str("sup-2"),
		IsEnabled: true, IsDiscoverable: true, CreatedDateTime: at("2025-01-01T00:00:00Z")},
	{ID: "p5", DisplayName: "Eve", PhoneNumber: "+15550000005", CompanyName: str("100xxOff"),
		IsEnabled: true, CreatedDateTime: at("2025-01-01T00:00:00Z")},
	{ID: "p6", DisplayName: "Frank", PhoneNumber: "+15550000006", CompanyName: str("a_b corp"),
		CreatedDateTime: at("2025-02-01T00:00:00Z")},
	{ID: "p7", DisplayName: "Grace", PhoneNumber: "+15550000007", CompanyName: str("aXb corp"),
		IsEnabled: true, CreatedDateTime: at("2025-02-01T00:00:00Z")},
	{ID: "p8", DisplayName: "Heidi", PhoneNumber: "+15550000008",
		IsEnabled: true, CreatedDateTime: at("2025-03-01T00:00:00Z")},
	{ID: "p9", DisplayName: "Ivan O'Neil", PhoneNumber: "+15550000009", CompanyName: str(`back\slash`),
		IsEnabled: true, CreatedDateTime: at("2025-03-01T00:00:00Z")},
	{ID: "p10", DisplayName: "Judy", PhoneNumber: "+15550000010", CompanyName: str("école"),
		IsEnabled: true, CreatedDateTime: at("2025-03-01T00:00:00Z")},
}

// endToEnd lists filters and the ids they select from fixture.
var endToEnd = []struct {
	name, filter, want string
}{
	{"documented isDiscoverable example", "isDiscoverable eq true", "p1 p2 p4"},
	{"documented startswith example ignores case", "startswith(companyName,'Contoso')", "p1 p2 p3"},
	{"documented supervisorId example ignores case", "supervisorId eq 'sup-1'", "p1 p2"},
	{"eq ignores case and matches whole values", "companyName eq 'contoso'", "p1 p3"},
	{"ne includes null", "companyName ne 'contoso'", "p2 p4 p5 p6 p7 p8 p9 p10"},
	{"not eq equals ne", "not (companyName eq 'CONTOSO')", "p2 p4 p5 p6 p7 p8 p9 p10"},
	{"eq null", "companyName eq null", "p8"},
	{"ne null", "companyName ne null", "p1 p2 p3 p4 p5 p6 p7 p9 p10"},
	{"percent in a prefix is literal", "startswith(companyName,'100%')", "p4"},
	{"underscore in a prefix is literal", "startswith(companyName,'a_b')", "p6"},
	{"backslash in a prefix is literal", `startswith(companyName,'back\')`, "p9"},
	{"empty prefix matches every non-null value", "startswith(companyName,'')", "p1 p2 p3 p4 p5 p6 p7 p9 p10"},
	{"not startswith includes null", "not startswith(companyName,'contoso')", "p4 p5 p6 p7 p8 p9 p10"},
	{"in ignores case", "companyName in ('CONTOSO LTD','100xxoff')", "p2 p5"},
	{"not in includes null", "not (companyName in ('contoso'))", "p2 p4 p5 p6 p7 p8 p9 p10"},
	{"quote in a value", "displayName eq 'ivan o''neil'", "p9"},
	{"startswith on a word boundary character", "startswith(displayName,'dan-the_')", "p4"},
	{"boolean ne", "isEnabled ne true", "p2 p6"},
	{"not boolean", "not (isEnabled eq false)", "p1 p3 p4 p5 p7 p8 p9 p10"},
	{"time ge", "createdDateTime ge 2025-01-01T00:00:00Z", "p4 p5 p6 p7 p8 p9 p10"},
	{"time with an offset", "createdDateTime lt 2024-06-01T14:00:00+02:00", "p1 p2"},
	{"time le with an offset", "createdDateTime le 2024-06-01T14:00:00+02:00", "p1 p2 p3"},
	{"time gt a fraction", "createdDateTime gt 2024-01-01T00:00:00.5Z and createdDateTime lt 2024-02-01T00:00:00Z", "p2"},
	{"time ge a fraction", "createdDateTime ge 2024-01-01T00:00:00.5Z and createdDateTime lt 2024-02-01T00:00:00Z", "p2"},
	{"time lt a fraction", "createdDateTime lt 2024-01-01T00:00:00.5Z", "p1"},
	{"time le a fraction", "createdDateTime le 2024-01-01T00:00:01.5Z", "p1 p2"},
	{"time eq a fraction", "createdDateTime eq 2024-01-01T00:00:00.5Z", ""},
	{"time ne a fraction", "createdDateTime ne 2024-01-01T00:00:00.5Z", "p1 p2 p3 p4 p5 p6 p7 p8 p9 p10"},
	{"time eq", "createdDateTime eq 2025-01-01T00:00:00Z", "p4 p5"},
	{"time ne", "createdDateTime ne 2025-01-01T00:00:00Z and createdDateTime lt 2025-02-01T00:00:00Z", "p1 p2 p3"},
	{"address field", "address/city eq 'paris'", "p1 p2"},
	{"not address field includes null", "not (address/city eq 'Paris')", "p3 p4 p5 p6 p7 p8 p9 p10"},
	{"precedence", "companyName eq 'contoso' or isEnabled eq false and isDiscoverable eq true", "p1 p2 p3"},
	{"grouping", "(companyName eq 'contoso' or isEnabled eq false) and isDiscoverable eq true", "p1 p2"},
	{"De Morgan with nulls", "not (companyName eq 'contoso' or supervisorId eq 'sup-1')", "p4 p5 p6 p7 p8 p9 p10"},
	{"a filter and its negation partition the rows", "not (startswith(jobTitle,'eng') or supervisorId ne null)", "p5 p6 p7 p8 p9 p10"},
	{"in on displayName", "displayName in ('alice smith','EVE')", "p1 p5"},
	{"documented pair", "startswith(companyName,'contoso') and supervisorId eq 'SUP-1'", "p1 p2"},
	// SQLite's NOCASE and LIKE fold ASCII letters only, so É and é differ
	// there; PostgreSQL's lower() folds them. The backends are pinned
	// separately in their tests.
	{"non-ASCII exact case", "companyName eq 'école'", "p10"},
}

// schema creates the profiles table from the property table, the way a
// backend would, with the case-insensitive indexes the dialects expect.
func schema(d string) []string {
	cols := []string{"seq INTEGER PRIMARY KEY", "tenant TEXT NOT NULL", "kind INTEGER NOT NULL"}
	if d == "postgres" {
		cols[0] = "seq BIGSERIAL PRIMARY KEY"
	}
	for _, p := range extdir.Columns {
		typ := "TEXT"
		switch p.Type {
		case extdir.TypeBoolean:
			typ = "INTEGER"
			if d == "postgres" {
				typ = "BOOLEAN"
			}
		case extdir.TypeDateTimeOffset, extdir.TypeInt32:
			typ = "BIGINT"
		}
		col := p.Column + " " + typ
		if !p.Nullable {
			col += " NOT NULL"
		}
		cols = append(cols, col)
	}
	stmts := []string{"CREATE TABLE profiles (" + strings.Join(cols, ", ") + ")"}
	for _, c := range []string{"company_name", "supervisor_id", "display_name"} {
		if d == "postgres" {
			// text_pattern_ops has equality too, so this one index serves
			// eq, in and startswith.
			stmts = append(stmts, fmt.Sprintf("CREATE INDEX profiles_%s ON profiles (tenant, kind, lower(%s) text_pattern_ops)", c, c))
		} else {
			stmts = append(stmts, fmt.Sprintf("CREATE INDEX profiles_%s ON profiles (tenant, kind, %s COLLATE NOCASE)", c, c))
		}
	}
	return stmts
}

// rowValues returns the stored values of p in extdir.Columns order, read
// through the property table's getters.
func rowValues(p *extdir.Profile, boolAsInt bool) []any {
	var vals []any
	for _, c := range extdir.Columns {
		v := c.Get(p)
		switch {
		case v.Null:
			vals = append(vals, nil)
		case c.Type == extdir.TypeBoolean && boolAsInt:
			if v.Bool {
				vals = append(vals, int64(1))
			} else {
				vals = append(vals, int64(0))
			}
		case c.Type == extdir.TypeBoolean:
			vals = append(vals, v.Bool)
		case c.Type == extdir.TypeDateTimeOffset:
			vals = append(vals, v.Time.Unix())
		case c.Type == extdir.TypeInt32:
			vals = append(vals, v.Int)
		default:
			vals = append(vals, v.Str)
		}
	}
	return vals
}

func columnNames() string {
	var names []string
	for _, c := range extdir.Columns {
		names = append(names, c.Column)
	}
	return strings.Join(names, ", ")
}
