package graph

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

func TestSkipTokenRoundTrip(t *testing.T) {
	displayName, _ := extdir.PropertyByName("displayName")
	created, _ := extdir.PropertyByName("createdDateTime")
	when := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		order  []store.Order
		cursor store.Cursor
	}{
		{"insertion order", nil, store.Cursor{Seq: 42}},
		{"by displayName", []store.Order{{Prop: displayName}}, store.Cursor{Keys: []extdir.Value{extdir.StringValue(`a "quoted" name, é`)}, Seq: 7}},
		{"by createdDateTime desc", []store.Order{{Prop: created, Desc: true}}, store.Cursor{Keys: []extdir.Value{{Time: when}}, Seq: 9}},
		{"by two keys", []store.Order{{Prop: displayName}, {Prop: created}}, store.Cursor{Keys: []extdir.Value{extdir.StringValue("x"), {Time: when}}, Seq: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := encodeSkipToken(&tc.cursor, tc.order)
			if url.QueryEscape(tok) != tok {
				t.Errorf("token %q needs escaping in a URL", tok)
			}
			got, err := decodeSkipToken(tok, tc.order)
			if err != nil {
				t.Fatal(err)
			}
			if got.Seq != tc.cursor.Seq || len(got.Keys) != len(tc.cursor.Keys) {
				t.Fatalf("got %+v, want %+v", got, tc.cursor)
			}
			for i := range got.Keys {
				g, w := got.Keys[i], tc.cursor.Keys[i]
				if g.Str != w.Str || !g.Time.Equal(w.Time) || g.Null != w.Null {
					t.Errorf("key %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestSkipTokenRefusals(t *testing.T) {
	displayName, _ := extdir.PropertyByName("displayName")
	byName := []store.Order{{Prop: displayName}}
	tok := encodeSkipToken(&store.Cursor{Keys: []extdir.Value{extdir.StringValue("x")}, Seq: 3}, byName)
	cases := []struct {
		name  string
		token string
		order []store.Order
	}{
		{"garbage is refused", "!!!", nil},
		{"base64 of non-JSON is refused", "bm90IGpzb24", nil},
		{"a token of another order is refused", tok, nil},
		{"a token of the other direction is refused", tok, []store.Order{{Prop: displayName, Desc: true}}},
		{"a negative seq is refused", encodeSkipToken(&store.Cursor{Seq: -1}, nil), nil},
		{"an over-long token is refused", strings.Repeat("A", 5000), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeSkipToken(tc.token, tc.order); extdir.ErrorCode(err) != extdir.EBadRequest {
				t.Fatalf("err = %v, want EBadRequest", err)
			}
		})
	}
}

func TestNextLinkKeepsOptions(t *testing.T) {
	cases := []struct {
		name, query, want string
	}{
		{"no options", "", "https://h/beta/x?$skiptoken=T"},
		{"every option kept in order", "$top=5&$filter=a%20eq%20'b'&$select=id", "https://h/beta/x?$top=5&$filter=a%20eq%20'b'&$select=id&$skiptoken=T"},
		{"an old skiptoken is replaced", "$top=5&$skiptoken=OLD", "https://h/beta/x?$top=5&$skiptoken=T"},
		{"an unprefixed, upper-case or encoded one too", "skipToken=A&%24skiptoken=B&top=1", "https://h/beta/x?top=1&$skiptoken=T"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextLink("https://h", "/beta/x", tc.query, "T"); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
