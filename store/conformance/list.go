package conformance

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

func property(name string) *extdir.Property {
	p, ok := extdir.PropertyByName(name)
	if !ok {
		panic("conformance: no property " + name)
	}
	return p
}

var (
	displayName     = property("displayName")
	createdDateTime = property("createdDateTime")
)

// orders are the sort orders the suite pages through: the default, each
// sortable property both ways, and two mixed ones.
var orders = []struct {
	name  string
	order []store.Order
}{
	{"insertion order", nil},
	{"displayName asc", []store.Order{{Prop: displayName}}},
	{"displayName desc", []store.Order{{Prop: displayName, Desc: true}}},
	{"createdDateTime asc", []store.Order{{Prop: createdDateTime}}},
	{"createdDateTime desc", []store.Order{{Prop: createdDateTime, Desc: true}}},
	{"displayName asc, createdDateTime desc", []store.Order{{Prop: displayName}, {Prop: createdDateTime, Desc: true}}},
	{"createdDateTime desc, displayName asc", []store.Order{{Prop: createdDateTime, Desc: true}, {Prop: displayName}}},
}

// compareUnder is the order every store must produce: the OrderBy terms,
// then Seq in the direction of the last term.
func compareUnder(order []store.Order, a, b *extdir.Profile) int {
	desc := false
	for _, o := range order {
		c := compareValue(o.Prop, o.Prop.Get(a), o.Prop.Get(b))
		if o.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		desc = o.Desc
	}
	c := cmp.Compare(a.Seq, b.Seq)
	if desc {
		c = -c
	}
	return c
}

// compareValue orders NULL first, strings ASCII-case-insensitively.
func compareValue(p *extdir.Property, a, b extdir.Value) int {
	switch {
	case a.Null && b.Null:
		return 0
	case a.Null:
		return -1
	case b.Null:
		return 1
	}
	switch p.Type {
	case extdir.TypeBoolean:
		return cmp.Compare(boolInt(a.Bool), boolInt(b.Bool))
	case extdir.TypeDateTimeOffset:
		return a.Time.Compare(b.Time)
	case extdir.TypeInt32:
		return cmp.Compare(a.Int, b.Int)
	default:
		return strings.Compare(foldASCII(a.Str), foldASCII(b.Str))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// foldASCII lowers A-Z only, as SQLite's NOCASE does.
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// sorted returns a copy of ps in the order.
func sorted(ps []*extdir.Profile, order []store.Order) []*extdir.Profile {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b *extdir.Profile) int { return compareUnder(order, a, b) })
	return out
}

// listAll pages through q to the end, checking each page against the
// contract: no page longer than Top, a next cursor exactly when more rows
// follow, naming the page's last row.
func listAll(t *testing.T, s store.Store, q store.Query) []*extdir.Profile {
	t.Helper()
	if q.Top == 0 {
		q.Top = 100
	}
	var all []*extdir.Profile
	for pages := 1; ; pages++ {
		if pages > 10_000 {
			t.Fatal("paging does not end")
		}
		page, err := s.List(t.Context(), q)
		if err != nil {
			t.Fatalf("list page %d: %v", pages, err)
		}
		if len(page.Profiles) > q.Top {
			t.Fatalf("page %d holds %d profiles, more than top %d", pages, len(page.Profiles), q.Top)
		}
		all = append(all, page.Profiles...)
		if page.Next == nil {
			return all
		}
		if len(page.Profiles) != q.Top {
			t.Fatalf("page %d holds %d profiles and has a next page; want a full page of %d", pages, len(page.Profiles), q.Top)
		}
		want := store.CursorAfter(page.Profiles[len(page.Profiles)-1], q.OrderBy)
		if !sameCursor(q.OrderBy, want, page.Next) {
			t.Fatalf("page %d: next cursor %+v, want %+v (the page's last row)", pages, page.Next, want)
		}
		q.After = page.Next
	}
}

func sameCursor(order []store.Order, a, b *store.Cursor) bool {
	if a.Seq != b.Seq || len(a.Keys) != len(b.Keys) {
		return false
	}
	for i := range a.Keys {
		if !equalValue(order[i].Prop, a.Keys[i], b.Keys[i]) {
			return false
		}
	}
	return true
}

func ids(ps []*extdir.Profile) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// wantIDs lists q to the end and compares the ids, in order.
func wantIDs(t *testing.T, s store.Store, q store.Query, want []string) {
	t.Helper()
	got := ids(listAll(t, s, q))
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("list %v deleted=%t order %v top %d:\n got  %v\n want %v", q.Kind, q.Deleted, orderName(q.OrderBy), q.Top, got, want)
	}
}

func orderName(order []store.Order) string {
	if len(order) == 0 {
		return "(insertion)"
	}
	var parts []string
	for _, o := range order {
		dir := "asc"
		if o.Desc {
			dir = "desc"
		}
		parts = append(parts, o.Prop.Name+" "+dir)
	}
	return strings.Join(parts, ", ")
}

// names repeat with different case, so that displayName orders have ties
// that only Seq breaks.
var names = []string{"alice", "Bob", "ALICE", "carol", "bob", "Alice", "dave", "Eve", "eve", "frank", "Carol"}

// A collection is what one listing without order selects.
type collection struct {
	tenant  string
	kind    extdir.Kind
	deleted bool
}

func (c collection) query() store.Query {
	return store.Query{Tenant: c.tenant, Kind: c.kind, Deleted: c.deleted}
}

// collections is seeded content, by collection, in insertion order.
type collections map[collection][]*extdir.Profile

func (c collections) add(p *extdir.Profile) {
	k := collection{p.Tenant, p.Kind, p.Deleted()}
	c[k] = append(c[k], p)
}

// seed fills the store with n live pending profiles of tenant A and some of
// every other collection, interleaved so that seqs of one collection are not
// contiguous. createdDateTime and displayName both have ties.
func seed(t *testing.T, s store.Store, f *fixture, n int) collections {
	t.Helper()
	c := collections{}
	for i := range n {
		p := f.full(tenantA, extdir.KindPending)
		p.DisplayName = names[i%len(names)]
		p.CreatedDateTime = base.Add(time.Duration(i%5) * time.Minute)
		c.add(create(t, s, p))
		switch i % 4 {
		case 1:
			c.add(create(t, s, f.sparse(tenantA, extdir.KindExternal)))
		case 2:
			p := f.sparse(tenantA, extdir.Kinds[i%8/4])
			p.DisplayName = names[(i+3)%len(names)]
			c.add(softDelete(t, s, create(t, s, p), base.Add(time.Duration(i)*time.Second)))
		case 3:
			c.add(create(t, s, f.full(tenantB, extdir.KindPending)))
		}
	}
	return c
}

var listTests = []test{
	{"list keeps kinds, states and tenants apart", func(t *testing.T, s store.Store) {
		var f fixture
		c := seed(t, s, &f, 24)
		for _, tenant := range []string{tenantA, tenantB} {
			for _, k := range extdir.Kinds {
				for _, deleted := range []bool{false, true} {
					coll := collection{tenant, k, deleted}
					wantIDs(t, s, coll.query(), ids(c[coll]))
				}
			}
		}
	}},
	{"listed profiles carry every property", func(t *testing.T, s store.Store) {
		var f fixture
		c := seed(t, s, &f, 8)
		for coll, want := range c {
			got := listAll(t, s, coll.query())
			if len(got) != len(want) {
				t.Fatalf("list %+v: %d profiles, want %d", coll, len(got), len(want))
			}
			for i := range want {
				wantProfile(t, want[i], got[i], "listed profile")
			}
		}
	}},
	{"paging through every order returns each row once, in order", func(t *testing.T, s store.Store) {
		var f fixture
		c := seed(t, s, &f, 29)
		for _, o := range orders {
			t.Run(o.name, func(t *testing.T) {
				for coll, rows := range c {
					want := ids(sorted(rows, o.order))
					for _, top := range []int{1, 4, 7, len(rows), 100} {
						q := coll.query()
						q.OrderBy, q.Top = o.order, max(top, 1)
						wantIDs(t, s, q, want)
					}
				}
			})
		}
	}},
	{"descending is the exact reverse of ascending", func(t *testing.T, s store.Store) {
		var f fixture
		seed(t, s, &f, 23)
		for _, p := range []*extdir.Property{displayName, createdDateTime} {
			asc := ids(listAll(t, s, store.Query{Tenant: tenantA, Kind: extdir.KindPending, OrderBy: []store.Order{{Prop: p}}, Top: 5}))
			desc := ids(listAll(t, s, store.Query{Tenant: tenantA, Kind: extdir.KindPending, OrderBy: []store.Order{{Prop: p, Desc: true}}, Top: 5}))
			slices.Reverse(desc)
			if !slices.Equal(asc, desc) {
				t.Fatalf("%s: reversed descending listing\n %v\ndiffers from ascending\n %v", p.Name, desc, asc)
			}
		}
	}},
	{"a full last page has no next cursor", func(t *testing.T, s store.Store) {
		var f fixture
		for range 5 {
			create(t, s, f.sparse(tenantA, extdir.KindPending))
		}
		q := store.Query{Tenant: tenantA, Kind: extdir.KindPending, Top: 5}
		page, err := s.List(t.Context(), q)
		if err != nil || len(page.Profiles) != 5 || page.Next != nil {
			t.Fatalf("list top 5 of 5: %d profiles, next %+v, %v; want 5 and no next", len(page.Profiles), page.Next, err)
		}
		q.Top = 4
		page, err = s.List(t.Context(), q)
		if err != nil || len(page.Profiles) != 4 || page.Next == nil {
			t.Fatalf("list top 4 of 5: %d profiles, next %+v, %v; want 4 and a next", len(page.Profiles), page.Next, err)
		}
	}},
	{"an empty collection is one empty page", func(t *testing.T, s store.Store) {
		page, err := s.List(t.Context(), store.Query{Tenant: tenantA, Kind: extdir.KindExternal, Top: 10})
		if err != nil || len(page.Profiles) != 0 || page.Next != nil {
			t.Fatalf("list of nothing: %d profiles, next %+v, %v", len(page.Profiles), page.Next, err)
		}
	}},
	{"paging skips nothing and repeats nothing while rows are inserted", func(t *testing.T, s store.Store) {
		var f fixture
		for _, o := range orders {
			t.Run(o.name, func(t *testing.T) {
				// A tenant per order, so that one order's newcomers do not
				// lengthen the next order's listing.
				tenant := "tenant-" + o.name
				var before []*extdir.Profile
				for i := range 20 {
					p := f.sparse(tenant, extdir.KindPending)
					p.DisplayName = names[i%len(names)]
					p.CreatedDateTime = base.Add(time.Duration(i%5) * time.Minute)
					before = append(before, create(t, s, p))
				}
				q := store.Query{Tenant: tenant, Kind: extdir.KindPending, OrderBy: o.order, Top: 3}
				var got []*extdir.Profile
				for pages := 1; ; pages++ {
					if pages > 1000 {
						t.Fatal("paging does not end")
					}
					page, err := s.List(t.Context(), q)
					if err != nil {
						t.Fatalf("list: %v", err)
					}
					got = append(got, page.Profiles...)
					if page.Next == nil {
						break
					}
					q.After = page.Next
					// Newcomers at both ends of every order.
					early := f.sparse(tenant, extdir.KindPending)
					early.DisplayName, early.CreatedDateTime = "Aaron", base.Add(-24*time.Hour)
					late := f.sparse(tenant, extdir.KindPending)
					late.DisplayName, late.CreatedDateTime = "Zed", base.Add(24*time.Hour)
					create(t, s, early)
					create(t, s, late)
				}
				seen := map[string]bool{}
				for i, p := range got {
					if seen[p.ID] {
						t.Fatalf("%s returned twice", p.ID)
					}
					seen[p.ID] = true
					if i > 0 && compareUnder(o.order, got[i-1], p) >= 0 {
						t.Fatalf("row %d (%s %q seq %d) does not sort after row %d (%s %q seq %d)",
							i, p.ID, p.DisplayName, p.Seq, i-1, got[i-1].ID, got[i-1].DisplayName, got[i-1].Seq)
					}
				}
				for _, p := range before {
					if !seen[p.ID] {
						t.Fatalf("pre-existing %s (%q) was skipped", p.ID, p.DisplayName)
					}
				}
			})
		}
	}},
	{"paging continues when the cursor's row goes away", func(t *testing.T, s store.Store) {
		var f fixture
		for _, o := range orders {
			t.Run(o.name, func(t *testing.T) {
				tenant := fmt.Sprintf("tenant-%s", o.name)
				var rows []*extdir.Profile
				for i := range 12 {
					p := f.sparse(tenant, extdir.KindPending)
					p.DisplayName = names[i%len(names)]
					p.CreatedDateTime = base.Add(time.Duration(i%3) * time.Minute)
					rows = append(rows, create(t, s, p))
				}
				q := store.Query{Tenant: tenant, Kind: extdir.KindPending, OrderBy: o.order, Top: 4}
				gone := map[string]bool{}
				var got []string
				for pages := 1; ; pages++ {
					page, err := s.List(t.Context(), q)
					if err != nil {
						t.Fatalf("list: %v", err)
					}
					got = append(got, ids(page.Profiles)...)
					if page.Next == nil {
						break
					}
					q.After = page.Next
					last := page.Profiles[len(page.Profiles)-1]
					gone[last.ID] = true
					if pages%2 == 1 {
						softDelete(t, s, last, base)
					} else if err := s.Purge(t.Context(), tenant, last.ID, store.Unaudited(func(*extdir.Profile) error { return nil })); err != nil {
						t.Fatalf("remove: %v", err)
					}
				}
				want := ids(sorted(rows, o.order))
				if !slices.Equal(got, want) {
					t.Fatalf("got  %v\nwant %v (rows deleted along the way: %v)", got, want, gone)
				}
			})
		}
	}},
	{"count matches every collection and ignores top and after", func(t *testing.T, s store.Store) {
		var f fixture
		c := seed(t, s, &f, 17)
		for _, tenant := range []string{tenantA, tenantB, "no-such-tenant"} {
			for _, k := range extdir.Kinds {
				for _, deleted := range []bool{false, true} {
					coll := collection{tenant, k, deleted}
					want := int64(len(c[coll]))
					q := coll.query()
					q.Top, q.After = 1, &store.Cursor{Seq: 3}
					got, err := s.Count(t.Context(), q)
					if err != nil || got != want {
						t.Fatalf("count %s %v deleted=%t = %d, %v; want %d", tenant, k, deleted, got, err, want)
					}
				}
			}
		}
	}},
}
