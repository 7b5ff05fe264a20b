package sqlite

import (
	"context"
	"reflect"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
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
		p := conformance.Profile("tenant", i)
		p.DisplayName = name
		company := name
		p.CompanyName = &company
		if err := s.Create(ctx, p, nil); err != nil {
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
	p := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	set := func(name string, v extdir.Value) extdir.Change {
		prop, _ := extdir.PropertyByName(name)
		return extdir.Change{Prop: prop, Value: v}
	}
	patch := func(changes ...extdir.Change) func(p *extdir.Profile) error {
		return func(p *extdir.Profile) error { p.Patch(changes); return nil }
	}
	steps := []func(p *extdir.Profile) error{
		patch(set("jobTitle", extdir.StringValue("Engineer"))),
		func(p *extdir.Profile) error { return p.Redeem() },
		patch(set("companyName", extdir.StringValue("Contoso")), set("department", extdir.StringValue("Sales")),
			set("displayName", extdir.StringValue("Renamed")), set("isEnabled", extdir.Value{Bool: false})),
		// A store-level write of one column, without the epoch.
		func(p *extdir.Profile) error { p.JobTitle = nil; return nil },
	}
	for i, step := range steps {
		want, err := s.Update(ctx, "tenant", p.ID, store.Unaudited(step))
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
