// Package conformance is the test suite every store.Store backend must pass:
// a backend's test file hands Run a constructor (which applies the few
// Options the suite asks for) and nothing else, so that all backends keep
// exactly the same behaviour. Profile is its fixture, for a backend's own
// tests too.
//
// Beyond the doc comments of store.Store, the suite fixes these points:
//   - times come back in whole seconds, in UTC;
//   - the same id may exist in two tenants, as two unrelated profiles;
//   - strings sort ASCII-case-insensitively ("alice" = "Alice" < "bob"), as
//     SQLite's NOCASE does (in PostgreSQL: lower() under the C collation);
//   - Seq breaks ties in the direction of the last OrderBy term, ascending
//     when there is none: a descending listing is the exact reverse of the
//     ascending one;
//   - Close waits for the calls in flight, and every call after it fails.
package conformance

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// Options are the settings of a store that the suite needs a backend to
// take, so that it can reach a behaviour without writing thousands of rows.
// The zero value is the backend's defaults.
type Options struct {
	// ExpireBatch, if not zero, is the most rows one batch (one
	// transaction) of Expire deletes.
	ExpireBatch int
}

// Run runs the whole suite. newStore returns a new, empty store set up as
// opts says, and registers its own cleanup with t (the suite may already
// have closed it).
func Run(t *testing.T, newStore func(t *testing.T, opts Options) store.Store) {
	groups := []struct {
		name  string
		tests []test
		opts  Options // of every store of the group
	}{
		{"profiles", profileTests, Options{}},
		{"tenants", tenantTests, Options{}},
		{"phone", phoneTests, Options{}},
		{"update", updateTests, Options{}},
		{"remove", removeTests, Options{}},
		{"list", listTests, Options{}},
		{"counts", countTests, Options{}},
		{"purge", purgeTests, Options{}},
		// Batches of three: ten rows take four.
		{"purge in batches", batchedPurgeTests, Options{ExpireBatch: 3}},
		{"concurrency", concurrencyTests, Options{}},
		{"close", append(slices.Clone(closeTests), closeAdminTests...), Options{}},
		{"admin", adminTests, Options{}},
		{"audit", auditTests, Options{}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newStore(t, g.opts))
				})
			}
		})
	}
	t.Run("transfer", func(t *testing.T) {
		for _, tc := range transferTests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newStore(t, Options{}), newStore(t, Options{}))
			})
		}
	})
}

// A test is one outcome the suite checks, on a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

const (
	tenantA = "6b8e3a1e-0000-4000-8000-00000000000a"
	tenantB = "6b8e3a1e-0000-4000-8000-00000000000b"
	creator = "1f0c5d2a-0000-4000-8000-0000000000c1"
)

// base is the fixtures' clock: whole seconds, UTC.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Profile returns the n-th invitation of the fixtures in tenant: a new
// pending profile (extdir.NewPending) invited n seconds after the fixtures'
// clock, with a display name and an id and phone number that no other n
// has. A backend's own tests use it too.
func Profile(tenant string, n int) *extdir.Profile {
	p := extdir.NewPending(tenant, fmt.Sprintf("0d0e5c4b-0000-4000-8000-%012d", n), creator, base.Add(time.Duration(n)*time.Second))
	p.DisplayName = fmt.Sprintf("Guest %d", n)
	p.PhoneNumber = fmt.Sprintf("+1555%07d", n)
	return p
}

// fixture issues ids and phone numbers that no other fixture profile of the
// same test has.
type fixture struct{ n int }

// sparse returns a profile of the kind with only what a create must carry:
// every optional property unset, and the booleans false where an
// invitation would set them. An external one is a pending one redeemed.
func (f *fixture) sparse(tenant string, kind extdir.Kind) *extdir.Profile {
	f.n++
	p := Profile(tenant, f.n)
	p.IsDiscoverable, p.IsEnabled = false, false
	if kind == extdir.KindExternal {
		if err := p.Redeem(); err != nil {
			panic("conformance: a new invitation does not redeem: " + err.Error())
		}
	}
	return p
}

// full returns a profile with every property set.
func (f *fixture) full(tenant string, kind extdir.Kind) *extdir.Profile {
	p := f.sparse(tenant, kind)
	p.CompanyName = ptr("Contoso")
	p.SupervisorID = ptr("5e1d0000-0000-4000-8000-000000000001")
	p.Department = ptr("Sales")
	p.JobTitle = ptr("Buyer")
	p.IsDiscoverable = true
	p.IsEnabled = true
	p.Address = extdir.Address{
		City:            ptr("Zürich"),
		CountryOrRegion: ptr("CH"),
		OfficeLocation:  ptr("Building 4, floor 2"),
		PostalCode:      ptr("8001"),
		State:           ptr("ZH"),
		Street:          ptr("Bahnhofstrasse 1"),
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func create(t *testing.T, s store.Store, p *extdir.Profile) *extdir.Profile {
	t.Helper()
	if err := s.Create(t.Context(), p, nil); err != nil {
		t.Fatalf("create %s: %v", p.ID, err)
	}
	return p
}

func get(t *testing.T, s store.Store, tenant, id string) *extdir.Profile {
	t.Helper()
	p, err := s.Get(t.Context(), tenant, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return p
}

// softDelete moves p to the deleted items at the given time, through the
// domain's step (extdir.Profile.SoftDelete).
func softDelete(t *testing.T, s store.Store, p *extdir.Profile, at time.Time) *extdir.Profile {
	t.Helper()
	q, err := s.Update(t.Context(), p.Tenant, p.ID, store.Unaudited(func(p *extdir.Profile) error { return p.SoftDelete(at) }))
	if err != nil {
		t.Fatalf("soft-delete %s: %v", p.ID, err)
	}
	return q
}

// setJobTitle is the changes of a PATCH of jobTitle, for the tests whose
// update stands for one (extdir.Profile.Patch).
func setJobTitle(title string) extdir.Changes {
	return extdir.Changes{{Prop: property("jobTitle"), Value: extdir.StringValue(title)}}
}

// update applies fn and fails the test on error.
func update(t *testing.T, s store.Store, p *extdir.Profile, fn func(p *extdir.Profile)) *extdir.Profile {
	t.Helper()
	q, err := s.Update(t.Context(), p.Tenant, p.ID, store.Unaudited(func(p *extdir.Profile) error {
		fn(p)
		return nil
	}))

	if err != nil {
		t.Fatalf("update %s: %v", p.ID, err)
	}
	return q
}

func wantCode(t *testing.T, err error, code extdir.Code, what string) {
	t.Helper()
	if got := extdir.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func wantPhoneTaken(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, extdir.ErrPhoneTaken) {
		t.Fatalf("%s: error %v, want extdir.ErrPhoneTaken", what, err)
	}
}

// diffProfile reports how got differs from want in anything the store
// keeps, property by property through the property table, so that a
// property added to the table is compared without touching the suite.
func diffProfile(want, got *extdir.Profile) []string {
	var diffs []string
	if want.Tenant != got.Tenant {
		diffs = append(diffs, fmt.Sprintf("tenant %q, want %q", got.Tenant, want.Tenant))
	}
	if want.Kind != got.Kind {
		diffs = append(diffs, fmt.Sprintf("kind %v, want %v", got.Kind, want.Kind))
	}
	if want.Seq != got.Seq {
		diffs = append(diffs, fmt.Sprintf("seq %d, want %d", got.Seq, want.Seq))
	}
	for _, c := range extdir.Columns {
		w, g := c.Get(want), c.Get(got)
		if !equalValue(c, w, g) {
			diffs = append(diffs, fmt.Sprintf("%s (%s) = %s, want %s", c.Name, c.Column, showValue(c, g), showValue(c, w)))
			continue
		}
		if c.Type == extdir.TypeDateTimeOffset && !g.Null && (g.Time.Location() != time.UTC || g.Time.Nanosecond() != 0) {
			diffs = append(diffs, fmt.Sprintf("%s = %s: not whole seconds in UTC", c.Name, g.Time.Format(time.RFC3339Nano)))
		}
	}
	return diffs
}

func wantProfile(t *testing.T, want, got *extdir.Profile, what string) {
	t.Helper()
	if diffs := diffProfile(want, got); len(diffs) > 0 {
		t.Fatalf("%s: %d differences:\n  %s", what, len(diffs), joinLines(diffs))
	}
}

func joinLines(lines []string) string {
	s := ""
	for i, l := range lines {
		if i > 0 {
			s += "\n  "
		}
		s += l
	}
	return s
}

func equalValue(p *extdir.Property, a, b extdir.Value) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	switch p.Type {
	case extdir.TypeBoolean:
		return a.Bool == b.Bool
	case extdir.TypeDateTimeOffset:
		return a.Time.Equal(b.Time)
	case extdir.TypeInt32:
		return a.Int == b.Int
	default:
		return a.Str == b.Str
	}
}

func showValue(p *extdir.Property, v extdir.Value) string {
	if v.Null {
		return "null"
	}
	switch p.Type {
	case extdir.TypeBoolean:
		return fmt.Sprint(v.Bool)
	case extdir.TypeDateTimeOffset:
		return v.Time.Format(time.RFC3339Nano)
	case extdir.TypeInt32:
		return fmt.Sprint(v.Int)
	default:
		return fmt.Sprintf("%q", v.Str)
	}
}

var profileTests = []test{
	{"create then get returns every property exactly", func(t *testing.T, s store.Store) {
		var f fixture
		full := f.full(tenantA, extdir.KindExternal)
		full.Epoch = 7
		full.DisplayName = "Ünïcödé 名前 'quoted' \"name\""
		sparse := f.sparse(tenantA, extdir.KindPending)
		// Set-but-empty is not unset, and one address field is not all.
		sparse.CompanyName = ptr("")
		sparse.Address.PostalCode = ptr("94107")
		deleted := f.full(tenantA, extdir.KindPending)
		deleted.DeletedDateTime = ptr(base.Add(time.Hour))
		for _, p := range []*extdir.Profile{full, sparse, deleted} {
			want := p.Clone()
			create(t, s, p)
			want.Seq = p.Seq
			wantProfile(t, want, get(t, s, tenantA, p.ID), "get after create")
		}
	}},
	{"create sets an increasing seq", func(t *testing.T, s store.Store) {
		var f fixture
		var last int64
		for range 5 {
			p := create(t, s, f.sparse(tenantA, extdir.KindPending))
			if p.Seq <= last {
				t.Fatalf("seq %d after %d: want a larger one", p.Seq, last)
			}
			last = p.Seq
		}
	}},
	{"times come back in whole seconds in UTC", func(t *testing.T, s store.Store) {
		var f fixture
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		p := f.sparse(tenantA, extdir.KindPending)
		p.CreatedDateTime = time.Date(2026, 3, 1, 17, 30, 5, 999_999_999, zone)
		p.DeletedDateTime = ptr(time.Date(2026, 3, 2, 17, 30, 6, 1, zone))
		create(t, s, p)
		got := get(t, s, tenantA, p.ID)
		if want := time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC); !got.CreatedDateTime.Equal(want) || got.CreatedDateTime.Location() != time.UTC {
			t.Fatalf("createdDateTime %v, want %v", got.CreatedDateTime, want)
		}
		if want := time.Date(2026, 3, 2, 12, 0, 6, 0, time.UTC); !got.DeletedDateTime.Equal(want) || got.DeletedDateTime.Location() != time.UTC {
			t.Fatalf("deletedDateTime %v, want %v", got.DeletedDateTime, want)
		}
	}},
	{"get of an unknown id is not found", func(t *testing.T, s store.Store) {
		var f fixture
		create(t, s, f.sparse(tenantA, extdir.KindPending))
		_, err := s.Get(t.Context(), tenantA, "00000000-0000-0000-0000-000000000000")
		wantCode(t, err, extdir.ENotFound, "get unknown id")
	}},
	{"get returns a soft-deleted profile of either kind", func(t *testing.T, s store.Store) {
		var f fixture
		for _, k := range extdir.Kinds {
			p := create(t, s, f.full(tenantA, k))
			want := softDelete(t, s, p, base)
			wantProfile(t, want, get(t, s, tenantA, p.ID), "get soft-deleted "+k.String())
		}
	}},
	{"a duplicate id is a conflict and changes nothing", func(t *testing.T, s store.Store) {
		var f fixture
		first := create(t, s, f.full(tenantA, extdir.KindPending))
		want := first.Clone()
		dup := f.sparse(tenantA, extdir.KindExternal)
		dup.ID = first.ID
		wantCode(t, s.Create(t.Context(), dup, nil), extdir.EConflict, "create duplicate id")
		wantProfile(t, want, get(t, s, tenantA, first.ID), "first profile after the clash")
		// The clash must not have taken the newcomer's phone number either.
		other := f.sparse(tenantA, extdir.KindPending)
		other.PhoneNumber = dup.PhoneNumber
		create(t, s, other)
	}},
	{"a canceled context fails the call and writes nothing", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.sparse(tenantA, extdir.KindPending))
		want := p.Clone()
		ctx := canceledContext(t)
		if err := s.Create(ctx, f.sparse(tenantA, extdir.KindPending), nil); err == nil {
			t.Fatal("create with a canceled context succeeded")
		}
		if _, err := s.Update(ctx, tenantA, p.ID, store.Unaudited(func(p *extdir.Profile) error { p.Patch(setJobTitle("canceled")); return nil })); err == nil {
			t.Fatal("update with a canceled context succeeded")
		}
		if err := s.Purge(ctx, tenantA, p.ID, store.Unaudited(func(*extdir.Profile) error { return nil })); err == nil {
			t.Fatal("remove with a canceled context succeeded")
		}
		wantProfile(t, want, get(t, s, tenantA, p.ID), "profile after canceled calls")
		n, err := s.Count(t.Context(), store.Query{Tenant: tenantA, Kind: extdir.KindPending, Top: 1})
		if err != nil || n != 1 {
			t.Fatalf("count = %d, %v; want 1", n, err)
		}
	}},
	{"ping answers", func(t *testing.T, s store.Store) {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}},
}

var tenantTests = []test{
	{"another tenant's profile is not found, listed or counted", func(t *testing.T, s store.Store) {
		var f fixture
		var mine []*extdir.Profile
		for _, k := range extdir.Kinds {
			mine = append(mine, create(t, s, f.full(tenantA, k)))
			p := create(t, s, f.full(tenantA, k))
			mine = append(mine, softDelete(t, s, p, base))
		}
		for _, p := range mine {
			want := p.Clone()
			_, err := s.Get(t.Context(), tenantB, p.ID)
			wantCode(t, err, extdir.ENotFound, "get from another tenant")
			_, err = s.Update(t.Context(), tenantB, p.ID, store.Unaudited(func(p *extdir.Profile) error {
				t.Errorf("update callback called with another tenant's profile %s", p.ID)
				return nil
			}))

			wantCode(t, err, extdir.ENotFound, "update from another tenant")
			err = s.Purge(t.Context(), tenantB, p.ID, store.Unaudited(func(p *extdir.Profile) error {
				t.Errorf("remove callback called with another tenant's profile %s", p.ID)
				return nil
			}))

			wantCode(t, err, extdir.ENotFound, "remove from another tenant")
			wantProfile(t, want, get(t, s, tenantA, p.ID), "profile after another tenant's calls")
		}
		for _, k := range extdir.Kinds {
			for _, deleted := range []bool{false, true} {
				q := store.Query{Tenant: tenantB, Kind: k, Deleted: deleted, Top: 100}
				page, err := s.List(t.Context(), q)
				if err != nil || len(page.Profiles) != 0 || page.Next != nil {
					t.Fatalf("list %v deleted=%t in another tenant: %d profiles, next %v, %v; want none", k, deleted, len(page.Profiles), page.Next, err)
				}
				n, err := s.Count(t.Context(), q)
				if err != nil || n != 0 {
					t.Fatalf("count %v deleted=%t in another tenant = %d, %v; want 0", k, deleted, n, err)
				}
			}
		}
	}},
	{"the same id in two tenants is two profiles", func(t *testing.T, s store.Store) {
		var f fixture
		a := create(t, s, f.full(tenantA, extdir.KindPending))
		b := f.sparse(tenantB, extdir.KindPending)
		b.ID = a.ID
		b.PhoneNumber = a.PhoneNumber
		create(t, s, b)
		wantA, wantB := a.Clone(), b.Clone()
		wantB.JobTitle = ptr("changed in B")
		update(t, s, b, func(p *extdir.Profile) { p.JobTitle = ptr("changed in B") })
		wantProfile(t, wantA, get(t, s, tenantA, a.ID), "tenant A's profile")
		wantProfile(t, wantB, get(t, s, tenantB, a.ID), "tenant B's profile")
		if err := s.Purge(t.Context(), tenantB, b.ID, store.Unaudited(func(*extdir.Profile) error { return nil })); err != nil {
			t.Fatalf("remove in B: %v", err)
		}
		wantProfile(t, wantA, get(t, s, tenantA, a.ID), "tenant A's profile after B's is removed")
	}},
}

var phoneTests = []test{
	{"a live profile's phone number is taken in its tenant, across kinds", func(t *testing.T, s store.Store) {
		var f fixture
		for _, holderKind := range extdir.Kinds {
			holder := create(t, s, f.full(tenantA, holderKind))
			for _, k := range extdir.Kinds {
				p := f.sparse(tenantA, k)
				p.PhoneNumber = holder.PhoneNumber
				wantPhoneTaken(t, s.Create(t.Context(), p, nil), fmt.Sprintf("create %v over a live %v", k, holderKind))
				_, err := s.Get(t.Context(), tenantA, p.ID)
				wantCode(t, err, extdir.ENotFound, "get of the refused profile")
			}
		}
	}},
	{"the same phone number in another tenant is fine", func(t *testing.T, s store.Store) {
		var f fixture
		a := create(t, s, f.full(tenantA, extdir.KindPending))
		b := f.sparse(tenantB, extdir.KindPending)
		b.PhoneNumber = a.PhoneNumber
		create(t, s, b)
	}},
	{"a soft-deleted holder does not block its phone number", func(t *testing.T, s store.Store) {
		var f fixture
		for _, k := range extdir.Kinds {
			old := create(t, s, f.full(tenantA, k))
			softDelete(t, s, old, base)
			p := f.sparse(tenantA, extdir.KindPending)
			p.PhoneNumber = old.PhoneNumber
			create(t, s, p)
			// Several deleted holders of one number may coexist.
			softDelete(t, s, p, base)
			q := f.sparse(tenantA, extdir.KindPending)
			q.PhoneNumber = old.PhoneNumber
			create(t, s, q)
		}
	}},
	{"a removed holder frees its phone number", func(t *testing.T, s store.Store) {
		var f fixture
		old := create(t, s, f.full(tenantA, extdir.KindPending))
		if err := s.Purge(t.Context(), tenantA, old.ID, store.Unaudited(func(*extdir.Profile) error { return nil })); err != nil {
			t.Fatalf("remove: %v", err)
		}
		p := f.sparse(tenantA, extdir.KindPending)
		p.PhoneNumber = old.PhoneNumber
		create(t, s, p)
	}},
	{"restoring into a phone clash is refused and changes nothing", func(t *testing.T, s store.Store) {
		var f fixture
		for _, k := range extdir.Kinds {
			old := create(t, s, f.full(tenantA, k))
			old = softDelete(t, s, old, base)
			holder := f.sparse(tenantA, extdir.KindExternal)
			holder.PhoneNumber = old.PhoneNumber
			create(t, s, holder)
			want := old.Clone()
			_, err := s.Update(t.Context(), tenantA, old.ID, store.Unaudited(func(p *extdir.Profile) error {
				if err := p.Restore(); err != nil {
					return err
				}
				p.Patch(extdir.Changes{{Prop: displayName, Value: extdir.StringValue("restored")}})
				return nil
			}))

			wantPhoneTaken(t, err, "restore into a clash")
			wantProfile(t, want, get(t, s, tenantA, old.ID), "profile after the refused restore")
		}
	}},
	{"restoring with a free phone number succeeds", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		p = softDelete(t, s, p, base)
		want := p.Clone()
		want.DeletedDateTime = nil
		got := update(t, s, p, func(p *extdir.Profile) { p.DeletedDateTime = nil })
		wantProfile(t, want, got, "restored profile")
		wantProfile(t, want, get(t, s, tenantA, p.ID), "get after restore")
	}},
	{"an update that takes a live profile's phone number is refused", func(t *testing.T, s store.Store) {
		var f fixture
		a := create(t, s, f.full(tenantA, extdir.KindPending))
		b := create(t, s, f.full(tenantA, extdir.KindExternal))
		want := b.Clone()
		_, err := s.Update(t.Context(), tenantA, b.ID, store.Unaudited(func(p *extdir.Profile) error {
			p.PhoneNumber = a.PhoneNumber
			return nil
		}))

		wantPhoneTaken(t, err, "update onto a taken phone number")
		wantProfile(t, want, get(t, s, tenantA, b.ID), "profile after the refused update")
	}},
}
