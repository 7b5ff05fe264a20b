package sqlite

import (
	"context"
	"reflect"
	"testing"

	"github.com/extdir/extdir"
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

// An update writes the columns that changed, whichever they are: one
// property with the epoch (prepared at Open), the kind, or several at once
// (prepared in the transaction); what is read back is what was written.
func TestUpdateWritesTheChangedColumns(t *testing.T) {
	s := openTest(t, Memory)
	ctx := context.Background()
	p := testProfile("tenant", 1)
	if err := s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	steps := []func(p *extdir.Profile){
		func(p *extdir.Profile) { title := "Engineer"; p.JobTitle = &title; p.Epoch++ },
		func(p *extdir.Profile) { p.Kind = extdir.KindExternal; p.Epoch++ },
		func(p *extdir.Profile) {
			company, dept := "Contoso", "Sales"
			p.CompanyName, p.Department, p.DisplayName, p.IsEnabled = &company, &dept, "Renamed", false
			p.Epoch++
		},
		func(p *extdir.Profile) { p.JobTitle = nil },
	}
	for i, step := range steps {
		want, err := s.Update(ctx, "tenant", p.ID, func(p *extdir.Profile) error { step(p); return nil })
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := s.Get(ctx, "tenant", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: read back\n%+v\nafter writing\n%+v", i, got, want)
		}
	}
}
