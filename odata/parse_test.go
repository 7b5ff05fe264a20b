package odata_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
)

// sexpr prints a tree with its structure explicit, so that tests can pin
// precedence and grouping without depending on the printer's parentheses.
func sexpr(e odata.Expr) string {
	switch e := e.(type) {
	case *odata.Logical:
		return "(" + e.Op.String() + " " + sexpr(e.Left) + " " + sexpr(e.Right) + ")"
	case *odata.Not:
		return "(not " + sexpr(e.X) + ")"
	case *odata.Compare:
		return "(" + e.Op.String() + " " + e.Path.String() + " " + e.Value.String() + ")"
	case *odata.In:
		var vs []string
		for _, v := range e.Values {
			vs = append(vs, v.String())
		}
		return "(in " + e.Path.String() + " " + strings.Join(vs, " ") + ")"
	case *odata.Call:
		return "(" + e.Func.String() + " " + e.Path.String() + " " + e.Arg.String() + ")"
	}
	return "?"
}

// validFilters are parsed, printed and re-parsed. want is the structure;
// canon the canonical print ("" when it equals the input).
var validFilters = []struct {
	name, in, want, canon string
}{
	{"documented boolean example", "isDiscoverable eq true", "(eq isDiscoverable true)", ""},
	{"documented startswith example", "startswith(companyName,'Contoso')", "(startswith companyName 'Contoso')", ""},
	{"documented supervisorId example", "supervisorId eq '0b2f1c2e-1b2c-4d5e-8f90-123456789abc'", "(eq supervisorId '0b2f1c2e-1b2c-4d5e-8f90-123456789abc')", ""},
	{"and binds tighter than or", "companyName eq 'a' or jobTitle eq 'b' and department eq 'c'",
		"(or (eq companyName 'a') (and (eq jobTitle 'b') (eq department 'c')))", ""},
	{"and binds tighter than or on the left", "companyName eq 'a' and jobTitle eq 'b' or department eq 'c'",
		"(or (and (eq companyName 'a') (eq jobTitle 'b')) (eq department 'c'))", ""},
	{"or groups to the left", "companyName eq 'a' or jobTitle eq 'b' or department eq 'c'",
		"(or (or (eq companyName 'a') (eq jobTitle 'b')) (eq department 'c'))", ""},
	{"parentheses override precedence", "(companyName eq 'a' or jobTitle eq 'b') and department eq 'c'",
		"(and (or (eq companyName 'a') (eq jobTitle 'b')) (eq department 'c'))", ""},
	{"right-nested group keeps its parentheses", "companyName eq 'a' or (jobTitle eq 'b' or department eq 'c')",
		"(or (eq companyName 'a') (or (eq jobTitle 'b') (eq department 'c')))", ""},
	{"redundant parentheses are dropped", "((companyName eq 'a')) and (jobTitle eq 'b')",
		"(and (eq companyName 'a') (eq jobTitle 'b'))", "companyName eq 'a' and jobTitle eq 'b'"},
	{"not binds tighter than and", "not (companyName eq 'a') and jobTitle eq 'b'",
		"(and (not (eq companyName 'a')) (eq jobTitle 'b'))", ""},
	{"not over a group", "not (companyName eq 'a' or jobTitle eq 'b')",
		"(not (or (eq companyName 'a') (eq jobTitle 'b')))", ""},
	{"not before a call needs no parentheses", "not startswith(companyName,'C')", "(not (startswith companyName 'C'))", ""},
	{"parenthesized call after not prints bare", "not(startswith(companyName,'C'))", "(not (startswith companyName 'C'))", "not startswith(companyName,'C')"},
	{"double not", "not not (isEnabled eq true)", "(not (not (eq isEnabled true)))", ""},
	{"keywords in any case", "companyName EQ 'a' Or NOT StartsWith(displayName,'b') AND isEnabled Ne FALSE",
		"(or (eq companyName 'a') (and (not (startswith displayName 'b')) (ne isEnabled false)))",
		"companyName eq 'a' or not startswith(displayName,'b') and isEnabled ne false"},
	{"Graph's camel-case endsWith parses", "endsWith(companyName,'x')", "(endswith companyName 'x')", "endswith(companyName,'x')"},
	{"contains parses", "contains(companyName,'x')", "(contains companyName 'x')", ""},
	{"quote escaping", "companyName eq 'O''Neil'", "(eq companyName 'O''Neil')", ""},
	{"a lone escaped quote", "companyName eq ''''", "(eq companyName '''')", ""},
	{"empty string", "companyName eq ''", "(eq companyName '')", ""},
	{"keywords inside strings are text", "companyName eq 'a or b and not c'", "(eq companyName 'a or b and not c')", ""},
	{"unicode string", "displayName eq 'Zoë 東京'", "(eq displayName 'Zoë 東京')", ""},
	{"in list", "companyName in ( 'a' , 'b','c' )", "(in companyName 'a' 'b' 'c')", "companyName in ('a','b','c')"},
	{"in list of one", "id in ('x')", "(in id 'x')", ""},
	{"null", "companyName eq null", "(eq companyName null)", ""},
	{"NULL in capitals", "companyName ne NULL", "(ne companyName null)", "companyName ne null"},
	{"integers", "epoch eq -5 or epoch eq 9223372036854775807", "(or (eq epoch -5) (eq epoch 9223372036854775807))", ""},
	{"GUID literal is lower-cased", "id eq 0B2F1C2E-1B2C-4D5E-8F90-123456789ABC", "(eq id 0b2f1c2e-1b2c-4d5e-8f90-123456789abc)", "id eq 0b2f1c2e-1b2c-4d5e-8f90-123456789abc"},
	{"GUID starting with a letter", "id eq deadbeef-1b2c-4d5e-8f90-123456789abc", "(eq id deadbeef-1b2c-4d5e-8f90-123456789abc)", ""},
	{"DateTimeOffset in UTC", "createdDateTime ge 2024-01-01T00:00:00Z", "(ge createdDateTime 2024-01-01T00:00:00Z)", ""},
	{"DateTimeOffset offset is normalized to UTC", "createdDateTime lt 2024-01-01T02:30:00+02:30", "(lt createdDateTime 2024-01-01T00:00:00Z)", "createdDateTime lt 2024-01-01T00:00:00Z"},
	{"DateTimeOffset with fraction", "createdDateTime gt 2024-01-01T00:00:00.250-01:00", "(gt createdDateTime 2024-01-01T01:00:00.25Z)", "createdDateTime gt 2024-01-01T01:00:00.25Z"},
	{"DateTimeOffset without seconds", "createdDateTime le 2024-06-30T23:59Z", "(le createdDateTime 2024-06-30T23:59:00Z)", "createdDateTime le 2024-06-30T23:59:00Z"},
	{"complex property path", "address/city eq 'Paris'", "(eq address/city 'Paris')", ""},
	{"whitespace of any kind", "\tcompanyName\neq\r\n'a'  and   isEnabled eq true ", "(and (eq companyName 'a') (eq isEnabled true))", "companyName eq 'a' and isEnabled eq true"},
	{"no space around a quoted value", "companyName eq'a'and isEnabled eq true", "(and (eq companyName 'a') (eq isEnabled true))", "companyName eq 'a' and isEnabled eq true"},
	{"all comparison operators", "createdDateTime gt 2024-01-01T00:00:00Z and createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime lt 2025-01-01T00:00:00Z and createdDateTime le 2025-01-01T00:00:00Z and createdDateTime ne 2024-06-01T00:00:00Z",
		"(and (and (and (and (gt createdDateTime 2024-01-01T00:00:00Z) (ge createdDateTime 2024-01-01T00:00:00Z)) (lt createdDateTime 2025-01-01T00:00:00Z)) (le createdDateTime 2025-01-01T00:00:00Z)) (ne createdDateTime 2024-06-01T00:00:00Z))", ""},
	{"nesting at the depth limit", strings.Repeat("(", odata.MaxDepth) + "isEnabled eq true" + strings.Repeat(")", odata.MaxDepth),
		"(eq isEnabled true)", "isEnabled eq true"},
}

func TestParseFilterValid(t *testing.T) {
	for _, tc := range validFilters {
		t.Run(tc.name, func(t *testing.T) {
			e, err := odata.ParseFilter(tc.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tc.in, err)
			}
			if got := sexpr(e); got != tc.want {
				t.Errorf("structure\n got %s\nwant %s", got, tc.want)
			}
			canon := tc.canon
			if canon == "" {
				canon = tc.in
			}
			if got := e.String(); got != canon {
				t.Errorf("String()\n got %s\nwant %s", got, canon)
			}
			again, err := odata.ParseFilter(e.String())
			if err != nil {
				t.Fatalf("re-parse %q: %v", e.String(), err)
			}
			if !reflect.DeepEqual(again, e) {
				t.Errorf("re-parsed tree differs: %s vs %s", sexpr(again), sexpr(e))
			}
		})
	}
}

func TestParseFilterLiteralValues(t *testing.T) {
	tests := []struct {
		name, in string
		want     odata.Literal
	}{
		{"escaped quote", "companyName eq 'O''Neil'", odata.Literal{Kind: odata.LitString, Str: "O'Neil"}},
		{"true in capitals", "isEnabled eq TRUE", odata.Literal{Kind: odata.LitBool, Bool: true}},
		{"false", "isEnabled eq false", odata.Literal{Kind: odata.LitBool}},
		{"negative integer", "epoch eq -42", odata.Literal{Kind: odata.LitInt, Int: -42}},
		{"DateTimeOffset in UTC to the nanosecond", "createdDateTime eq 2024-01-01T01:00:00.123456789+01:00",
			odata.Literal{Kind: odata.LitDateTimeOffset, Time: time.Date(2024, 1, 1, 0, 0, 0, 123456789, time.UTC)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := odata.ParseFilter(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got := e.(*odata.Compare).Value
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseFilterInvalid(t *testing.T) {
	tests := []struct {
		name, in string
		// msg is the whole message when it starts with "Syntax error",
		// otherwise a fragment of it.
		msg string
	}{
		{"missing value is the documented message", "companyName eq",
			"Syntax error at position 14 in 'companyName eq': expected a value after 'eq'."},
		{"empty expression", "", "Syntax error at position 0 in '': expected a property name, 'not', '(' or a function call."},
		{"blank expression", "   ", "position 3 in '   ': expected a property name"},
		{"property without operator", "companyName", "position 11 in 'companyName': expected an operator (eq, ne, gt, ge, lt, le or in) after 'companyName'."},
		{"unknown operator", "companyName like 'a'", "position 12 in 'companyName like 'a'': expected an operator (eq, ne, gt, ge, lt, le or in) after 'companyName', found 'like'."},
		{"symbolic operator", "companyName = 'a'", "position 12 in 'companyName = 'a'': unexpected character '='."},
		{"dangling and", "companyName eq 'x' and", "position 22 in 'companyName eq 'x' and': expected a property name, 'not', '(' or a function call."},
		{"trailing word", "companyName eq 'x' foo", "position 19 in 'companyName eq 'x' foo': expected 'and', 'or' or the end of the expression, found 'foo'."},
		{"unclosed parenthesis", "(companyName eq 'x'", "position 19 in '(companyName eq 'x'': expected ')' or an operator ('and', 'or')."},
		{"extra closing parenthesis", "companyName eq 'x')", "position 18 in 'companyName eq 'x')': expected 'and', 'or' or the end of the expression, found ')'."},
		{"empty parentheses", "()", "position 1 in '()': expected a property name, 'not', '(' or a function call, found ')'."},
		{"unterminated string points at its quote", "companyName eq 'abc", "position 15 in 'companyName eq 'abc': unterminated string literal."},
		{"odd quotes leave the string open", "companyName eq 'abc''", "position 15 in 'companyName eq 'abc''': unterminated string literal."},
		{"unexpected character", "companyName eq 'x' # 1", "position 19 in 'companyName eq 'x' # 1': unexpected character '#'."},
		{"control character", "companyName eq 'x'\x01", "unexpected character U+1"},
		{"property compared with property", "companyName eq displayName", "position 15 in 'companyName eq displayName': expected a value after 'eq' (a quoted string"},
		{"literal on the left", "'x' eq companyName", "position 0 in ''x' eq companyName': expected a property name, 'not', '(' or a function call, found the string 'x'."},
		{"literal keyword as property", "true eq isEnabled", "position 0 in 'true eq isEnabled': expected a property name, 'not', '(' or a function call, found 'true'."},
		{"not before a bare comparison", "not companyName eq 'x'", "position 4 in 'not companyName eq 'x'': expected '(' or a function call after 'not' (write not (companyName eq 'x')), found 'companyName'."},
		{"not at the end", "not", "position 3 in 'not': expected '(' or a function call after 'not'"},
		{"unknown function", "substringof('x',companyName)", "position 0 in 'substringof('x',companyName)': unknown function 'substringof'; expected startswith."},
		{"function without comma", "startswith(companyName 'x')", "position 23 in 'startswith(companyName 'x')': expected ',' after the property name in startswith, found the string 'x'."},
		{"function with literal first", "startswith('x',companyName)", "position 11 in 'startswith('x',companyName)': expected a property name as the first argument of startswith, found the string 'x'."},
		{"function not closed", "startswith(companyName,'x'", "position 26 in 'startswith(companyName,'x'': expected ')' to close startswith."},
		{"function compared with true", "startswith(companyName,'x') eq true", "position 28 in 'startswith(companyName,'x') eq true': expected 'and', 'or' or the end of the expression, found 'eq'."},
		{"in without parentheses", "companyName in 'a'", "position 15 in 'companyName in 'a'': expected '(' after 'in', found the string 'a'."},
		{"empty in list", "companyName in ()", "position 16 in 'companyName in ()': expected a value in the 'in' list, found ')'."},
		{"trailing comma in list", "companyName in ('a',)", "position 20 in 'companyName in ('a',)': expected a value in the 'in' list, found ')'."},
		{"missing comma in list", "companyName in ('a' 'b')", "position 20 in 'companyName in ('a' 'b')': expected ',' or ')' in the 'in' list, found the string 'b'."},
		{"Edm.Date is not a DateTimeOffset", "createdDateTime gt 2024-01-01", "position 19 in 'createdDateTime gt 2024-01-01': '2024-01-01' is not a valid literal; expected an integer or a DateTimeOffset such as 2024-01-01T00:00:00Z."},
		{"DateTimeOffset without offset", "createdDateTime gt 2024-01-01T00:00:00", "'2024-01-01T00:00:00' is not a valid DateTimeOffset"},
		{"unencoded plus became a space", "createdDateTime gt 2024-01-01T00:00:00 01:00", "(in a URL, write + as %2B)"},
		{"impossible month", "createdDateTime gt 2024-13-01T00:00:00Z", "is not a valid DateTimeOffset"},
		{"year 10000 in UTC", "createdDateTime gt 9999-12-31T23:00:00-05:00", "is not a valid DateTimeOffset"},
		{"decimal", "epoch eq 1.5", "'1.5' is not a valid literal"},
		{"integer out of range", "epoch eq 9223372036854775808", "the integer 9223372036854775808 is out of range"},
		{"path ending in a slash", "address/ eq 'x'", "position 9 in 'address/ eq 'x'': expected a property name right after '/', found 'eq'."},
		{"space before a slash", "address /city eq 'x'", "position 8 in 'address /city eq 'x'': expected an operator (eq, ne, gt, ge, lt, le or in) after 'address', found '/'."},
		{"positions count characters, not bytes", "displayName eq 'é' and", "Syntax error at position 22 in 'displayName eq 'é' and': expected a property name, 'not', '(' or a function call."},
		{"NUL in a string", "companyName eq 'a\x00b'", "position 17 in 'companyName eq 'a\x00b'': a string literal cannot contain the character U+0000."},
		{"invalid UTF-8", "companyName eq '\xff'", "The $filter expression is not valid UTF-8."},
		{"over the length limit", "companyName eq '" + strings.Repeat("a", odata.MaxFilterLength) + "'", "The $filter expression is 4113 bytes long; the limit is 4096."},
		{"nesting past the depth limit", strings.Repeat("(", odata.MaxDepth+1) + "isEnabled eq true" + strings.Repeat(")", odata.MaxDepth+1),
			"position 33 in '" + strings.Repeat("(", 33) + "isEnabled eq true" + strings.Repeat(")", 33) + "': the expression nests parentheses and 'not' deeper than the limit of 32."},
		{"not chain past the depth limit", strings.Repeat("not ", odata.MaxDepth+1) + "startswith(companyName,'x')", "deeper than the limit of 32"},
		{"thousands of parentheses stop at the limit", strings.Repeat("(", odata.MaxFilterLength), "position 33 in"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := odata.ParseFilter(tc.in)
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %s, want an error", tc.in, e)
			}
			var xe *extdir.Error
			if !errors.As(err, &xe) || xe.Code != extdir.EBadRequest {
				t.Fatalf("error %v is not an EBadRequest *extdir.Error", err)
			}
			if strings.HasPrefix(tc.msg, "Syntax error") {
				if xe.Message != tc.msg {
					t.Errorf("message\n got %s\nwant %s", xe.Message, tc.msg)
				}
			} else if !strings.Contains(xe.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", xe.Message, tc.msg)
			}
		})
	}
}

func TestFilterCombinesParseAndCheck(t *testing.T) {
	e, err := odata.Filter("startswith(companyName,'Contoso')", extdir.KindExternal)
	if err != nil {
		t.Fatal(err)
	}
	if p := e.(*odata.Call).Path.Prop; p == nil || p.Column != "company_name" {
		t.Errorf("path not bound: %+v", p)
	}
	if _, err := odata.Filter("companyName eq", extdir.KindExternal); extdir.ErrorCode(err) != extdir.EBadRequest {
		t.Errorf("syntax error: got %v", err)
	}
	if _, err := odata.Filter("epoch eq 1", extdir.KindExternal); extdir.ErrorCode(err) != extdir.EUnsupportedQuery {
		t.Errorf("unsupported property: got %v", err)
	}
}
