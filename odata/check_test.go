package odata_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
)

func TestCheckFilterAccepts(t *testing.T) {
	for _, in := range []string{
		"isDiscoverable eq true",
		"startswith(companyName,'Contoso')",
		"supervisorId eq '0b2f1c2e-1b2c-4d5e-8f90-123456789abc'",
		"startswith(supervisorId,'0b2f')",
		"companyName ne 'Contoso' and not startswith(displayName,'A')",
		"companyName eq null or companyName ne null",
		"displayName in ('a','b') and phoneNumber eq '+15555555555'",
		"startswith(jobTitle,'Eng') or department eq 'R&D' or createdBy eq 'x'",
		"isEnabled ne false",
		"id eq 'abc' or id in ('d','e')",
		"createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime lt 2025-01-01T00:00:00Z",
		"createdDateTime eq 2024-01-01T00:00:00Z or createdDateTime ne 2024-01-01T00:00:00Z",
		"createdDateTime gt 2024-01-01T00:00:00Z and createdDateTime le 2025-01-01T00:00:00Z",
		// The address fields carry the string operators in the property
		// table (addressField builds them like any optional string).
		"address/city eq 'Paris' and startswith(address/postalCode,'75')",
		"companyName in ('" + strings.Repeat("x','", odata.MaxInItems-1) + "x')",
	} {
		t.Run(in, func(t *testing.T) {
			e, err := odata.ParseFilter(in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := odata.CheckFilter(e, extdir.KindPending); err != nil {
				t.Fatalf("CheckFilter(%q): %v", in, err)
			}
		})
	}
}

func TestCheckFilterRefuses(t *testing.T) {
	const unsupported = "Unsupported or invalid query filter clause specified for property '%s' of resource 'PendingExternalUserProfile'."
	tests := []struct {
		name, in string
		code     extdir.Code
		msg      string // the whole message; %s is replaced by prop
		prop     string
	}{
		{"unknown property", "foo eq 'x'", extdir.EUnsupportedQuery, unsupported, "foo"},
		{"property names are case-sensitive", "CompanyName eq 'x'", extdir.EUnsupportedQuery, unsupported, "CompanyName"},
		{"not filterable", "epoch eq 1", extdir.EUnsupportedQuery, unsupported, "epoch"},
		{"deletedDateTime is not filterable", "deletedDateTime eq null", extdir.EUnsupportedQuery, unsupported, "deletedDateTime"},
		{"complex property as a whole", "address eq null", extdir.EUnsupportedQuery, unsupported, "address"},
		{"unknown address field", "address/planet eq 'x'", extdir.EUnsupportedQuery, unsupported, "address/planet"},
		{"path into a scalar", "companyName/x eq 'y'", extdir.EUnsupportedQuery, unsupported, "companyName/x"},
		{"path too deep", "address/city/x eq 'y'", extdir.EUnsupportedQuery, unsupported, "address/city/x"},
		{"ne on id", "id ne 'x'", extdir.EUnsupportedQuery, unsupported, "id"},
		{"startswith on id", "startswith(id,'x')", extdir.EUnsupportedQuery, unsupported, "id"},
		{"ordering strings", "companyName gt 'a'", extdir.EUnsupportedQuery, unsupported, "companyName"},
		{"ordering booleans", "isEnabled ge true", extdir.EUnsupportedQuery, unsupported, "isEnabled"},
		{"endswith is an advanced query we do not serve", "endswith(companyName,'x')", extdir.EUnsupportedQuery, unsupported, "companyName"},
		{"contains", "contains(displayName,'x')", extdir.EUnsupportedQuery, unsupported, "displayName"},
		{"in on a boolean", "isEnabled in (true,false)", extdir.EUnsupportedQuery, unsupported, "isEnabled"},
		{"in on a date", "createdDateTime in (2024-01-01T00:00:00Z)", extdir.EUnsupportedQuery, unsupported, "createdDateTime"},
		{"null on a non-nullable property", "displayName eq null", extdir.EUnsupportedQuery, unsupported, "displayName"},
		{"null ordered", "companyName gt null", extdir.EUnsupportedQuery, unsupported, "companyName"},
		{"null in an in list", "companyName in ('a',null)", extdir.EUnsupportedQuery, unsupported, "companyName"},
		{"startswith null", "startswith(companyName,null)", extdir.EUnsupportedQuery, unsupported, "companyName"},
		{"refusal deep in the tree", "isEnabled eq true and (companyName eq 'a' or not (jobTitle gt 'x'))", extdir.EUnsupportedQuery, unsupported, "jobTitle"},
		{"too many in values", "companyName in ('" + strings.Repeat("x','", odata.MaxInItems) + "x')", extdir.EUnsupportedQuery,
			"Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15.", ""},

		{"string for a boolean", "isEnabled eq 'yes'", extdir.EBadRequest,
			"A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and 'Edm.String' for operator kind 'Equal'. Property 'isEnabled' is compared with true or false.", ""},
		{"quoted date", "createdDateTime ge '2024-01-01T00:00:00Z'", extdir.EBadRequest,
			"A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'. Property 'createdDateTime' is compared with an unquoted DateTimeOffset such as 2024-01-01T00:00:00Z.", ""},
		{"number for a string", "companyName eq 1", extdir.EBadRequest,
			"A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int64' for operator kind 'Equal'. Property 'companyName' is compared with a string in single quotes.", ""},
		{"unquoted GUID for a string", "supervisorId eq 0b2f1c2e-1b2c-4d5e-8f90-123456789abc", extdir.EBadRequest,
			"A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Guid' for operator kind 'Equal'. Property 'supervisorId' is compared with a string in single quotes.", ""},
		{"type error wins over an unsupported operator", "isEnabled gt 'x'", extdir.EBadRequest,
			"A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and 'Edm.String' for operator kind 'GreaterThan'. Property 'isEnabled' is compared with true or false.", ""},
		{"in list with a wrong type", "companyName in ('a',true)", extdir.EBadRequest,
			"A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Boolean' for operator kind 'In'. Property 'companyName' is compared with a string in single quotes.", ""},
		{"startswith on a boolean", "startswith(isEnabled,'t')", extdir.EBadRequest,
			"No function signature for the function with name 'startswith' matches the specified arguments. The function signatures considered are: startswith(Edm.String Nullable=true, Edm.String Nullable=true).", ""},
		{"startswith with a number", "startswith(companyName,1)", extdir.EBadRequest,
			"No function signature for the function with name 'startswith' matches the specified arguments. The function signatures considered are: startswith(Edm.String Nullable=true, Edm.String Nullable=true).", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := odata.ParseFilter(tc.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tc.in, err)
			}
			_, err = odata.CheckFilter(e, extdir.KindPending)
			if got := extdir.ErrorCode(err); got != tc.code {
				t.Fatalf("CheckFilter(%q) = %v, want code %s", tc.in, err, tc.code)
			}
			want := tc.msg
			if tc.prop != "" {
				want = strings.Replace(tc.msg, "%s", tc.prop, 1)
			}
			if got := extdir.ErrorMessage(err); got != want {
				t.Errorf("message\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestCheckFilterNamesTheResource(t *testing.T) {
	e, _ := odata.ParseFilter("epoch eq 1")
	_, err := odata.CheckFilter(e, extdir.KindExternal)
	want := "Unsupported or invalid query filter clause specified for property 'epoch' of resource 'ExternalUserProfile'."
	if got := extdir.ErrorMessage(err); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckFilterBindsProperties(t *testing.T) {
	e, err := odata.ParseFilter("companyName eq 'a' and (address/city in ('Paris') or not startswith(displayName,'x'))")
	if err != nil {
		t.Fatal(err)
	}
	before := e.String()
	checked, err := odata.CheckFilter(e, extdir.KindPending)
	if err != nil {
		t.Fatal(err)
	}
	var paths []odata.Path
	var walk func(odata.Expr)
	walk = func(x odata.Expr) {
		switch x := x.(type) {
		case *odata.Logical:
			walk(x.Left)
			walk(x.Right)
		case *odata.Not:
			walk(x.X)
		case *odata.Compare:
			paths = append(paths, x.Path)
		case *odata.In:
			paths = append(paths, x.Path)
		case *odata.Call:
			paths = append(paths, x.Path)
		}
	}
	walk(checked)
	company, _ := extdir.PropertyByName("companyName")
	address, _ := extdir.PropertyByName("address")
	city, _ := address.FieldByName("city")
	display, _ := extdir.PropertyByName("displayName")
	want := []*extdir.Property{company, city, display}
	if len(paths) != len(want) {
		t.Fatalf("got %d paths", len(paths))
	}
	for i, p := range paths {
		if p.Prop != want[i] {
			t.Errorf("path %s bound to %v, want %s", p, p.Prop, want[i].Name)
		}
	}
	if city.Column != "address_city" {
		t.Errorf("address/city column %q", city.Column)
	}

	// The parsed tree is not changed: it may be cached or shared.
	walk = func(x odata.Expr) {
		switch x := x.(type) {
		case *odata.Logical:
			walk(x.Left)
			walk(x.Right)
		case *odata.Not:
			walk(x.X)
		case *odata.Compare:
			if x.Path.Prop != nil {
				t.Error("CheckFilter bound the input tree")
			}
		case *odata.In:
			if x.Path.Prop != nil {
				t.Error("CheckFilter bound the input tree")
			}
		case *odata.Call:
			if x.Path.Prop != nil {
				t.Error("CheckFilter bound the input tree")
			}
		}
	}
	walk(e)
	if e.String() != before || checked.String() != before {
		t.Errorf("printing changed: %s / %s / %s", before, e, checked)
	}
	// Checking a checked tree is harmless.
	again, err := odata.CheckFilter(checked, extdir.KindPending)
	if err != nil || !reflect.DeepEqual(again, checked) {
		t.Errorf("re-check: %v", err)
	}
}
