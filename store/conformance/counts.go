package conformance

import (
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// countTests hold a backend's count of a whole collection (which a backend
// may keep rather than count) to the rows it lists, through every change
// that moves a profile between collections or out of the store.
var countTests = []test{
	{"a whole collection's count follows every change", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		var f fixture
		var ps []*extdir.Profile
		for range 6 {
			ps = append(ps, create(t, s, f.sparse(tenantA, extdir.KindPending)))
		}
		create(t, s, f.sparse(tenantB, extdir.KindPending))
		update := func(p *extdir.Profile, fn func(*extdir.Profile)) {
			t.Helper()
			if _, err := s.Update(ctx, tenantA, p.ID, store.Unaudited(func(q *extdir.Profile) error { fn(q); return nil })); err != nil {
				t.Fatal(err)
			}
		}
		want := func(what string, pending, external, deletedPending, deletedExternal int64) {
			t.Helper()
			for _, c := range []struct {
				kind    extdir.Kind
				deleted bool
				n       int64
			}{
				{extdir.KindPending, false, pending}, {extdir.KindExternal, false, external},
				{extdir.KindPending, true, deletedPending}, {extdir.KindExternal, true, deletedExternal},
			} {
				q := store.Query{Tenant: tenantA, Kind: c.kind, Deleted: c.deleted, Top: 999}
				n, err := s.Count(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				page, err := s.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if n != c.n || int64(len(page.Profiles)) != c.n {
					t.Errorf("after %s: count of %v (deleted %v) = %d, %d listed; want %d", what, c.kind, c.deleted, n, len(page.Profiles), c.n)
				}
			}
		}
		want("six invitations", 6, 0, 0, 0)

		redeem := func(q *extdir.Profile) {
			if err := q.Redeem(); err != nil {
				t.Fatal(err)
			}
		}
		update(ps[0], redeem)
		update(ps[1], redeem)
		want("two redemptions", 4, 2, 0, 0)

		gone := base.Add(time.Hour)
		update(ps[2], func(q *extdir.Profile) { q.DeletedDateTime = &gone })
		update(ps[0], func(q *extdir.Profile) { q.DeletedDateTime = &gone })
		want("two deletions", 3, 1, 1, 1)

		update(ps[2], func(q *extdir.Profile) { q.DeletedDateTime = nil })
		want("a restore", 4, 1, 0, 1)

		title := "no move"
		update(ps[3], func(q *extdir.Profile) { q.JobTitle = &title })
		want("a change of another property", 4, 1, 0, 1)

		if err := s.Purge(ctx, tenantA, ps[0].ID, store.Unaudited(func(*extdir.Profile) error { return nil })); err != nil {
			t.Fatal(err)
		}
		want("a purge", 4, 1, 0, 0)

		if err := s.Import(ctx, []*extdir.Profile{f.sparse(tenantA, extdir.KindPending), f.sparse(tenantA, extdir.KindExternal)}, nil); err != nil {
			t.Fatal(err)
		}
		want("an import", 5, 2, 0, 0)

		// A refused write moves nothing: the phone number is taken.
		clash := f.sparse(tenantA, extdir.KindPending)
		clash.PhoneNumber = ps[4].PhoneNumber
		if err := s.Create(ctx, clash, nil); err == nil {
			t.Fatal("a create with a taken phone number succeeded")
		}
		want("a refused create", 5, 2, 0, 0)

		if _, err := s.Reset(ctx, tenantB); err != nil {
			t.Fatal(err)
		}
		want("another tenant's reset", 5, 2, 0, 0)
		if _, err := s.Reset(ctx, tenantA); err != nil {
			t.Fatal(err)
		}
		want("a reset", 0, 0, 0, 0)
		create(t, s, f.sparse(tenantA, extdir.KindPending))
		want("an invitation after the reset", 1, 0, 0, 0)
	}},
}
