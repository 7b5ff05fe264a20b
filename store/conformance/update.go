package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// errCallback is what the suite's refusing callbacks return; the store must
// hand it back as is.
var errCallback = errors.New("conformance: the callback refuses")

// canceledContext returns a context that is already canceled.
func canceledContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// changeEverything gives every stored column of p a new value, through the
// property table so that a new property is covered without touching the
// suite: strings get a suffix, booleans flip, times move, integers grow, and
// with clear set every nullable column becomes null instead.
func changeEverything(p *extdir.Profile, clear bool) {
	id := property("id")
	for _, c := range extdir.Columns {
		if c == id {
			continue
		}
		v := c.Get(p)
		if clear && c.Nullable {
			c.Set(p, extdir.Value{Null: true})
			continue
		}
		switch c.Type {
		case extdir.TypeBoolean:
			v.Bool = !v.Bool
		case extdir.TypeDateTimeOffset:
			if v.Null {
				v = extdir.Value{Time: base}
			}
			v.Time = v.Time.Add(time.Hour)
		case extdir.TypeInt32:
			v.Int++
		default:
			v = extdir.Value{Str: v.Str + "-changed"}
		}
		c.Set(p, v)
	}
}

var updateTests = []test{
	{"update writes every changed column, kind and deletion included", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.sparse(tenantA, extdir.KindPending))

		// Every null becomes set, every value changes, the kind turns
		// (redemption) and the profile is soft-deleted.
		want := p.Clone()
		changeEverything(want, false)
		want.Kind = extdir.KindExternal
		got := update(t, s, p, func(p *extdir.Profile) {
			changeEverything(p, false)
			p.Kind = extdir.KindExternal
		})
		wantProfile(t, want, got, "profile returned by the update")
		wantProfile(t, want, get(t, s, tenantA, p.ID), "get after the update")
		if want.DeletedDateTime == nil || want.CompanyName == nil || want.Address.Street == nil {
			t.Fatal("the fixture left nullable columns null")
		}

		// Back: every nullable column cleared (deletion too), the kind turned
		// back, the rest changed again.
		want = got.Clone()
		changeEverything(want, true)
		want.Kind = extdir.KindPending
		got = update(t, s, got, func(p *extdir.Profile) {
			changeEverything(p, true)
			p.Kind = extdir.KindPending
		})
		wantProfile(t, want, got, "profile returned by the clearing update")
		wantProfile(t, want, get(t, s, tenantA, p.ID), "get after the clearing update")
	}},
	{"update that changes only the kind or only the deletion is written", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		want := p.Clone()
		for _, change := range []func(p *extdir.Profile){
			func(p *extdir.Profile) { p.Kind = extdir.KindExternal },
			func(p *extdir.Profile) { p.DeletedDateTime = ptr(base) },
			func(p *extdir.Profile) { p.DeletedDateTime = nil },
			func(p *extdir.Profile) { p.Kind = extdir.KindPending },
		} {
			change(want)
			update(t, s, p, change)
			wantProfile(t, want, get(t, s, tenantA, p.ID), "get after a one-field update")
		}
	}},
	{"update callback sees the latest state", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		for i := range 3 {
			want := get(t, s, tenantA, p.ID)
			update(t, s, p, func(got *extdir.Profile) {
				wantProfile(t, want, got, "callback's profile")
				got.Patch(setJobTitle(got.DisplayName + string(rune('a'+i))))
			})
		}
		if got := get(t, s, tenantA, p.ID); got.Epoch != p.Epoch+3 || *got.JobTitle != p.DisplayName+"c" {
			t.Fatalf("after three updates: epoch %d, jobTitle %q", got.Epoch, *got.JobTitle)
		}
	}},
	{"update callback's error is returned unchanged and nothing is written", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		want := p.Clone()
		got, err := s.Update(t.Context(), tenantA, p.ID, store.Unaudited(func(p *extdir.Profile) error {
			changeEverything(p, true)
			p.Kind = extdir.KindExternal
			return errCallback
		}))

		if err != errCallback {
			t.Fatalf("update error %v, want the callback's own error value", err)
		}
		if got != nil {
			t.Fatalf("update returned a profile with its error: %+v", got)
		}
		wantProfile(t, want, get(t, s, tenantA, p.ID), "profile after the refused update")
		// A domain error passes through unchanged too.
		_, err = s.Update(t.Context(), tenantA, p.ID, store.Unaudited(func(*extdir.Profile) error { return extdir.ErrPreconditionFailed }))
		if err != extdir.ErrPreconditionFailed {
			t.Fatalf("update error %v, want extdir.ErrPreconditionFailed itself", err)
		}
	}},
	{"update that changes nothing returns the profile", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		want := p.Clone()
		wantProfile(t, want, update(t, s, p, func(*extdir.Profile) {}), "profile returned by an empty update")
		wantProfile(t, want, get(t, s, tenantA, p.ID), "get after an empty update")
	}},
	{"update that changes the tenant, seq or id is refused", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.sparse(tenantA, extdir.KindPending))
		for name, change := range map[string]func(*extdir.Profile){
			"tenant": func(p *extdir.Profile) { p.Tenant = "other" },
			"seq":    func(p *extdir.Profile) { p.Seq++ },
			"id":     func(p *extdir.Profile) { p.ID = "other" },
		} {
			_, err := s.Update(t.Context(), tenantA, p.ID, store.Unaudited(func(p *extdir.Profile) error { change(p); return nil }))
			if err == nil {
				t.Errorf("update changing the %s succeeded", name)
			}
		}
	}},
	{"update of an unknown id is not found and calls nothing", func(t *testing.T, s store.Store) {
		_, err := s.Update(t.Context(), tenantA, "00000000-0000-0000-0000-000000000000", store.Unaudited(func(p *extdir.Profile) error {
			t.Errorf("callback called for an unknown id with %+v", p)
			return nil
		}))

		wantCode(t, err, extdir.ENotFound, "update unknown id")
	}},
	{"update moves a profile between collections", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		if _, err := s.Update(t.Context(), tenantA, p.ID, store.Unaudited(func(p *extdir.Profile) error { return p.Redeem() })); err != nil {
			t.Fatalf("redeem %s: %v", p.ID, err)
		}
		wantIDs(t, s, store.Query{Tenant: tenantA, Kind: extdir.KindPending}, nil)
		wantIDs(t, s, store.Query{Tenant: tenantA, Kind: extdir.KindExternal}, []string{p.ID})
		softDelete(t, s, p, base)
		wantIDs(t, s, store.Query{Tenant: tenantA, Kind: extdir.KindExternal}, nil)
		wantIDs(t, s, store.Query{Tenant: tenantA, Kind: extdir.KindExternal, Deleted: true}, []string{p.ID})
	}},
}

var removeTests = []test{
	{"remove deletes the profile for good", func(t *testing.T, s store.Store) {
		var f fixture
		for _, p := range []*extdir.Profile{
			create(t, s, f.full(tenantA, extdir.KindPending)),
			softDelete(t, s, create(t, s, f.full(tenantA, extdir.KindExternal)), base),
		} {
			want := p.Clone()
			called := false
			err := s.Purge(t.Context(), tenantA, p.ID, store.Unaudited(func(got *extdir.Profile) error {
				called = true
				wantProfile(t, want, got, "remove callback's profile")
				return nil
			}))

			if err != nil || !called {
				t.Fatalf("remove %s: %v (callback called: %t)", p.ID, err, called)
			}
			_, err = s.Get(t.Context(), tenantA, p.ID)
			wantCode(t, err, extdir.ENotFound, "get after remove")
			err = s.Purge(t.Context(), tenantA, p.ID, store.Unaudited(func(*extdir.Profile) error { return nil }))
			wantCode(t, err, extdir.ENotFound, "second remove")
		}
		for _, deleted := range []bool{false, true} {
			n, err := s.Count(t.Context(), store.Query{Tenant: tenantA, Kind: extdir.KindPending, Deleted: deleted, Top: 1})
			if err != nil || n != 0 {
				t.Fatalf("count after removes = %d, %v; want 0", n, err)
			}
		}
	}},
	{"remove with a callback error leaves the row", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		want := p.Clone()
		err := s.Purge(t.Context(), tenantA, p.ID, store.Unaudited(func(*extdir.Profile) error { return errCallback }))
		if err != errCallback {
			t.Fatalf("remove error %v, want the callback's own error value", err)
		}
		wantProfile(t, want, get(t, s, tenantA, p.ID), "profile after the refused remove")
	}},
	{"remove of an unknown id is not found and calls nothing", func(t *testing.T, s store.Store) {
		err := s.Purge(t.Context(), tenantA, "00000000-0000-0000-0000-000000000000", store.Unaudited(func(p *extdir.Profile) error {
			t.Errorf("callback called for an unknown id with %+v", p)
			return nil
		}))

		wantCode(t, err, extdir.ENotFound, "remove unknown id")
	}},
}
