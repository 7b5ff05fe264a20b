package conformance

import (
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

var purgeTests = []test{
	{"purge removes only profiles soft-deleted before the cutoff, in every tenant", func(t *testing.T, s store.Store) {
		var f fixture
		cutoff := base.Add(30 * 24 * time.Hour)
		var purged, kept []*extdir.Profile
		for _, c := range []struct {
			tenant    string
			kind      extdir.Kind
			deletedAt time.Time
		}{
			{tenantA, extdir.KindPending, cutoff.Add(-31 * 24 * time.Hour)},
			{tenantA, extdir.KindExternal, cutoff.Add(-time.Second)},
			{tenantB, extdir.KindPending, cutoff.Add(-40 * 24 * time.Hour)},
		} {
			purged = append(purged, softDelete(t, s, create(t, s, f.full(c.tenant, c.kind)), c.deletedAt))
		}
		kept = append(kept,
			softDelete(t, s, create(t, s, f.full(tenantA, extdir.KindPending)), cutoff),
			softDelete(t, s, create(t, s, f.full(tenantB, extdir.KindExternal)), cutoff.Add(time.Hour)),
		)
		// Live profiles stay whatever their age.
		for _, k := range extdir.Kinds {
			p := f.full(tenantA, k)
			p.CreatedDateTime = cutoff.Add(-365 * 24 * time.Hour)
			kept = append(kept, create(t, s, p))
		}

		n, err := s.Expire(t.Context(), cutoff, nil)
		if err != nil || n != int64(len(purged)) {
			t.Fatalf("purge = %d, %v; want %d", n, err, len(purged))
		}
		for _, p := range purged {
			_, err := s.Get(t.Context(), p.Tenant, p.ID)
			wantCode(t, err, extdir.ENotFound, "get of a purged profile")
		}
		for _, p := range kept {
			wantProfile(t, p, get(t, s, p.Tenant, p.ID), "profile kept by the purge")
		}
		if n, err := s.Expire(t.Context(), cutoff, nil); err != nil || n != 0 {
			t.Fatalf("second purge = %d, %v; want 0", n, err)
		}
	}},
	{"purge counts a deletion within the cutoff's second as before it", func(t *testing.T, s store.Store) {
		var f fixture
		p := softDelete(t, s, create(t, s, f.full(tenantA, extdir.KindPending)), base)
		if n, err := s.Expire(t.Context(), base, nil); err != nil || n != 0 {
			t.Fatalf("purge at the deletion's own second = %d, %v; want 0", n, err)
		}
		if n, err := s.Expire(t.Context(), base.Add(500*time.Millisecond), nil); err != nil || n != 1 {
			t.Fatalf("purge half a second later = %d, %v; want 1", n, err)
		}
		_, err := s.Get(t.Context(), tenantA, p.ID)
		wantCode(t, err, extdir.ENotFound, "get of the purged profile")
	}},
	{"purge with nothing to do returns zero", func(t *testing.T, s store.Store) {
		var f fixture
		create(t, s, f.full(tenantA, extdir.KindPending))
		if n, err := s.Expire(t.Context(), base.Add(1000*time.Hour), nil); err != nil || n != 0 {
			t.Fatalf("purge = %d, %v; want 0", n, err)
		}
	}},
}

// batchedPurgeTests run on stores whose Expire deletes three rows a batch.
var batchedPurgeTests = []test{
	{"purge works in batches", func(t *testing.T, s store.Store) {
		deleted := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 10 {
			p := Profile(tenantA, i)
			p.DeletedDateTime = &deleted
			if err := s.Create(t.Context(), p, nil); err != nil {
				t.Fatalf("create: %v", err)
			}
		}
		if n, err := s.Expire(t.Context(), deleted.Add(time.Second), nil); err != nil || n != 10 {
			t.Fatalf("purge = %d, %v; want 10", n, err)
		}
	}},
}
