package odata_test

import (
	"reflect"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
)

// searchShape renders a Search as property:text groups for comparison.
func searchShape(s *odata.Search) [][]string {
	var out [][]string
	for _, g := range s.Any {
		var terms []string
		for _, t := range g {
			terms = append(terms, t.Prop.Name+":"+t.Text)
		}
		out = append(out, terms)
	}
	return out
}

func TestParseSearch(t *testing.T) {
	tests := []struct {
		name, in string
		want     [][]string
		canon    string
	}{
		{"one clause", `"displayName:bob"`, [][]string{{"displayName:bob"}}, ""},
		{"text with spaces is one phrase", `"displayName:bob smith"`, [][]string{{"displayName:bob smith"}}, ""},
		{"text is trimmed", `"displayName:  bob "`, [][]string{{"displayName:bob"}}, `"displayName:bob"`},
		{"colon in the text", `"phoneNumber:+1:555"`, [][]string{{"phoneNumber:+1:555"}}, ""},
		{"AND", `"displayName:bob" AND "companyName:contoso"`, [][]string{{"displayName:bob", "companyName:contoso"}}, ""},
		{"implicit AND", `"displayName:bob"  "companyName:contoso"`, [][]string{{"displayName:bob", "companyName:contoso"}}, `"displayName:bob" AND "companyName:contoso"`},
		{"OR", `"displayName:bob" OR "displayName:alice"`, [][]string{{"displayName:bob"}, {"displayName:alice"}}, ""},
		{"AND binds tighter than OR", `"displayName:a" OR "displayName:b" AND "companyName:c" OR "phoneNumber:+1"`,
			[][]string{{"displayName:a"}, {"displayName:b", "companyName:c"}, {"phoneNumber:+1"}}, ""},
		{"escapes", `"displayName:say \"hi\" \\o/"`, [][]string{{`displayName:say "hi" \o/`}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := odata.ParseSearch(tc.in, extdir.KindPending)
			if err != nil {
				t.Fatal(err)
			}
			if got := searchShape(s); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			canon := tc.canon
			if canon == "" {
				canon = tc.in
			}
			if s.String() != canon {
				t.Errorf("String() = %s, want %s", s, canon)
			}
			again, err := odata.ParseSearch(s.String(), extdir.KindPending)
			if err != nil || !reflect.DeepEqual(again, s) {
				t.Errorf("round trip of %s: %v", s, err)
			}
		})
	}
}

func TestParseSearchRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		code     extdir.Code
		msg      string
	}{
		{"not searchable", `"jobTitle:eng"`, extdir.EUnsupportedQuery, "Unsupported or invalid query search clause specified for property 'jobTitle' of resource 'PendingExternalUserProfile'."},
		{"unknown property", `"nope:x"`, extdir.EUnsupportedQuery, "Unsupported or invalid query search clause specified for property 'nope' of resource 'PendingExternalUserProfile'."},
		{"unquoted", `displayName:bob`, extdir.EBadRequest, `Syntax error at position 0 in 'displayName:bob': expected a quoted clause such as "displayName:bob".`},
		{"empty", ``, extdir.EBadRequest, `Syntax error at position 0 in '': expected a quoted clause such as "displayName:bob".`},
		{"no property", `"bob"`, extdir.EBadRequest, `Syntax error at position 1 in '"bob"': expected "property:text"; Graph's $search on directory objects names the property.`},
		{"no text", `"displayName: "`, extdir.EBadRequest, `Syntax error at position 13 in '"displayName: "': expected the text to search for after 'displayName:'.`},
		{"unterminated", `"displayName:bob`, extdir.EBadRequest, `Syntax error at position 0 in '"displayName:bob': unterminated quoted clause.`},
		{"bad escape", `"displayName:a\b"`, extdir.EBadRequest, `Syntax error at position 14 in '"displayName:a\b"': only \" and \\ may be escaped in a quoted clause.`},
		{"lower-case operator", `"displayName:a" or "displayName:b"`, extdir.EBadRequest, `Syntax error at position 16 in '"displayName:a" or "displayName:b"': expected AND or OR in capitals, found 'or'.`},
		{"NOT", `"displayName:a" NOT "displayName:b"`, extdir.EBadRequest, `Syntax error at position 16 in '"displayName:a" NOT "displayName:b"': NOT is not supported in $search.`},
		{"parentheses", `("displayName:a")`, extdir.EBadRequest, `Syntax error at position 0 in '("displayName:a")': parentheses are not supported in $search.`},
		{"dangling OR", `"displayName:a" OR`, extdir.EBadRequest, `Syntax error at position 18 in '"displayName:a" OR': expected a quoted clause after OR.`},
		{"clauses glued together", `"displayName:a""displayName:b"`, extdir.EBadRequest, `Syntax error at position 15 in '"displayName:a""displayName:b"': expected a space, AND or OR after a clause.`},
		{"invalid UTF-8", "\"displayName:\xff\"", extdir.EBadRequest, "The $search expression is not valid UTF-8."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := odata.ParseSearch(tc.in, extdir.KindPending)
			if got := extdir.ErrorCode(err); got != tc.code {
				t.Fatalf("ParseSearch(%q) = %v, want code %s", tc.in, err, tc.code)
			}
			if got := extdir.ErrorMessage(err); got != tc.msg {
				t.Errorf("message\n got %s\nwant %s", got, tc.msg)
			}
		})
	}
}
