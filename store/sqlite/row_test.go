package sqlite

import (
	"context"
	"reflect"
	"testing"
)

// Every string a client can store comes back byte for byte through the
// row array, escapes and all.
func TestRowArrayKeepsEveryString(t *testing.T) {
	s := openTest(t, Memory)
	ctx := context.Background()
	names := []string{
		`plain`, `quote " inside`, `back\slash`, `\"`, "new\nline\ttab\r", "bell\u0001\u001f",
		"é ü 中文 🙂", `null`, `[1,2]`, `"`, `\`, `\\u0041`, "",
	}
	for i, name := range names {
		p := testProfile("tenant", i)
		p.DisplayName = name
		company := name
		p.CompanyName = &company
		if err := s.Create(ctx, p); err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		got, err := s.Get(ctx, "tenant", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%q: stored\n%+v\nread back\n%+v", name, p, got)
		}
	}
}

func TestParseRow(t *testing.T) {
	vals := make([]rowValue, 4)
	if err := parseRow(`[-12,"a\"b",null,1767225600]`, vals); err != nil {
		t.Fatal(err)
	}
	want := []rowValue{{num: true, i: -12}, {s: `a"b`}, {null: true}, {num: true, i: 1767225600}}
	if !reflect.DeepEqual(vals, want) {
		t.Fatalf("got %+v, want %+v", vals, want)
	}
	for _, bad := range []string{``, `[`, `[]`, `[1,2,3]`, `[1,2,3,4,5]`, `[1,"x,null,2]`, `[1,"x",nul,2]`, `[1,"x",null,2.5]`, `[1 ,"x",null,2]`} {
		if err := parseRow(bad, vals); err == nil {
			t.Errorf("parseRow(%q) accepted it", bad)
		}
	}
}
