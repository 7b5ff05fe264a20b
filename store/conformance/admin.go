package conformance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// The administrative calls: Import, Reset and Export.

// varied returns profiles of every shape the store keeps, in tenants A and
// B: both kinds, sparse and full, live and soft-deleted, redeemed ones (one
// epoch step further) and epochs set well past a new profile's, and
// soft-deleted holders of a phone number that a live profile of the same
// tenant has, as a restore out of the deleted items leaves them. The
// tenants alternate, so that an export of one skips rows of the other.
func (f *fixture) varied() []*extdir.Profile {
	var ps []*extdir.Profile
	for i, tenant := range []string{tenantA, tenantB, tenantA} {
		for _, k := range extdir.Kinds {
			live := f.full(tenant, k)
			live.Epoch += int64(5 + i)
			sparse := f.sparse(tenant, k)
			deleted := f.full(tenant, k)
			deleted.DeletedDateTime = ptr(base.Add(time.Duration(i+1) * time.Hour))
			deleted.Epoch += 2
			formerHolder := f.sparse(tenant, k)
			formerHolder.PhoneNumber = live.PhoneNumber
			formerHolder.DeletedDateTime = ptr(base)
			ps = append(ps, live, sparse, deleted, formerHolder)
		}
	}
	return ps
}

// many returns n profiles in tenants A (three in five) and B, of both
// kinds, one in seven soft-deleted, the external ones with epochs that vary.
func (f *fixture) many(n int) []*extdir.Profile {
	ps := make([]*extdir.Profile, 0, n)
	for i := range n {
		tenant := tenantA
		if i%5 < 2 {
			tenant = tenantB
		}
		p := f.sparse(tenant, extdir.Kinds[i%3/2])
		if p.Kind == extdir.KindExternal {
			p.Epoch += int64(i % 4)
		}
		if i%7 == 0 {
			p.DeletedDateTime = ptr(base.Add(time.Duration(i) * time.Second))
		}
		ps = append(ps, p)
	}
	return ps
}

func clones(ps []*extdir.Profile) []*extdir.Profile {
	out := make([]*extdir.Profile, len(ps))
	for i, p := range ps {
		out[i] = p.Clone()
	}
	return out
}

// ofTenant returns the profiles of ps in the tenant, in their order.
func ofTenant(ps []*extdir.Profile, tenant string) []*extdir.Profile {
	var out []*extdir.Profile
	for _, p := range ps {
		if p.Tenant == tenant {
			out = append(out, p)
		}
	}
	return out
}

// importAll imports ps and checks that each got a seq, increasing in slice
// order.
func importAll(t *testing.T, s store.Store, ps []*extdir.Profile) {
	t.Helper()
	if err := s.Import(t.Context(), ps, nil); err != nil {
		t.Fatalf("import of %d profiles: %v", len(ps), err)
	}
	for i, p := range ps {
		if p.Seq <= 0 || (i > 0 && p.Seq <= ps[i-1].Seq) {
			t.Fatalf("import: profile %d has seq %d after %d; want seqs increasing in slice order", i, p.Seq, ps[max(i-1, 0)].Seq)
		}
	}
}

// export returns what Export passes for the tenant, in order.
func export(t *testing.T, s store.Store, tenant string) []*extdir.Profile {
	t.Helper()
	var got []*extdir.Profile
	if err := s.Export(t.Context(), tenant, func(p *extdir.Profile) error {
		got = append(got, p)
		return nil
	}); err != nil {
		t.Fatalf("export of tenant %q: %v", tenant, err)
	}
	return got
}

// wantProfiles compares two lists of profiles, in order, seq included
// unless ignoreSeq.
func wantProfiles(t *testing.T, want, got []*extdir.Profile, ignoreSeq bool, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d profiles, want %d", what, len(got), len(want))
	}
	for i := range want {
		w := want[i]
		if ignoreSeq {
			w = w.Clone()
			w.Seq = got[i].Seq
		}
		if diffs := diffProfile(w, got[i]); len(diffs) > 0 {
			t.Fatalf("%s: profile %d (id %s): %d differences:\n  %s", what, i, w.ID, len(diffs), joinLines(diffs))
		}
	}
}

// wantEmpty checks that the store holds nothing in the tenant ("": in any
// tenant), through Export and through every listing.
func wantEmpty(t *testing.T, s store.Store, tenant, what string) {
	t.Helper()
	if got := export(t, s, tenant); len(got) != 0 {
		t.Fatalf("%s: export of tenant %q holds %d profiles, the first %s; want none", what, tenant, len(got), got[0].ID)
	}
	tenants := []string{tenant}
	if tenant == "" {
		tenants = []string{tenantA, tenantB}
	}
	for _, tn := range tenants {
		for _, k := range extdir.Kinds {
			for _, deleted := range []bool{false, true} {
				q := store.Query{Tenant: tn, Kind: k, Deleted: deleted, Top: 10}
				if n, err := s.Count(t.Context(), q); err != nil || n != 0 {
					t.Fatalf("%s: count of %v deleted=%t in %s = %d, %v; want 0", what, k, deleted, tn, n, err)
				}
			}
		}
	}
}

// maxSeq is the highest seq of ps.
func maxSeq(ps []*extdir.Profile) int64 {
	var m int64
	for _, p := range ps {
		m = max(m, p.Seq)
	}
	return m
}

var adminTests = []test{
	{"import keeps every property exactly and get and list see the profiles", func(t *testing.T, s store.Store) {
		var f fixture
		ps := f.varied()
		want := clones(ps)
		importAll(t, s, ps)
		for i, p := range ps {
			want[i].Seq = p.Seq
			wantProfile(t, want[i], get(t, s, p.Tenant, p.ID), "get after import")
		}
		// Each listing holds exactly its share of the batch, in slice order.
		for _, tenant := range []string{tenantA, tenantB} {
			for _, k := range extdir.Kinds {
				for _, deleted := range []bool{false, true} {
					var share []*extdir.Profile
					for _, p := range want {
						if p.Tenant == tenant && p.Kind == k && p.Deleted() == deleted {
							share = append(share, p)
						}
					}
					q := store.Query{Tenant: tenant, Kind: k, Deleted: deleted, Top: 2}
					what := fmt.Sprintf("list of %v deleted=%t in %s after import", k, deleted, tenant)
					wantProfiles(t, share, listAll(t, s, q), false, what)
					if n, err := s.Count(t.Context(), q); err != nil || n != int64(len(share)) {
						t.Fatalf("count of %v deleted=%t in %s = %d, %v; want %d", k, deleted, tenant, n, err, len(share))
					}
				}
			}
		}
		// Imported profiles are ordinary ones: an update finds and changes one.
		p := ps[0]
		want[0].JobTitle = ptr("after import")
		update(t, s, p, func(p *extdir.Profile) { p.JobTitle = ptr("after import") })
		wantProfile(t, want[0], get(t, s, p.Tenant, p.ID), "imported profile after an update")
	}},
	{"import continues the seqs of created profiles", func(t *testing.T, s store.Store) {
		var f fixture
		first := create(t, s, f.full(tenantA, extdir.KindPending))
		batch := []*extdir.Profile{f.sparse(tenantB, extdir.KindPending), f.sparse(tenantA, extdir.KindExternal)}
		importAll(t, s, batch)
		if batch[0].Seq <= first.Seq {
			t.Fatalf("imported seq %d after created seq %d; want a larger one", batch[0].Seq, first.Seq)
		}
		last := create(t, s, f.sparse(tenantA, extdir.KindPending))
		if last.Seq <= batch[1].Seq {
			t.Fatalf("created seq %d after imported seq %d; want a larger one", last.Seq, batch[1].Seq)
		}
		wantProfiles(t, []*extdir.Profile{first, batch[0], batch[1], last}, export(t, s, ""), false, "export")
	}},
	{"import of no profiles writes nothing", func(t *testing.T, s store.Store) {
		for _, batch := range [][]*extdir.Profile{nil, {}} {
			if err := s.Import(t.Context(), batch, nil); err != nil {
				t.Fatalf("import of %d profiles: %v", len(batch), err)
			}
		}
		wantEmpty(t, s, "", "after empty imports")
	}},
	{"import with a phone clash stores none of the batch", func(t *testing.T, s store.Store) {
		var f fixture
		holder := create(t, s, f.full(tenantA, extdir.KindPending))
		kept := []*extdir.Profile{holder.Clone()}
		// The clashing profile comes last, so that the others are written
		// before the clash and must be undone.
		for _, c := range []struct {
			name  string
			batch func() []*extdir.Profile
		}{
			{"with a live profile stored", func() []*extdir.Profile {
				b := []*extdir.Profile{f.full(tenantA, extdir.KindPending), f.sparse(tenantB, extdir.KindPending), f.sparse(tenantA, extdir.KindExternal)}
				b[2].PhoneNumber = holder.PhoneNumber
				return b
			}},
			{"within the batch, across kinds", func() []*extdir.Profile {
				b := []*extdir.Profile{f.sparse(tenantB, extdir.KindPending), f.full(tenantA, extdir.KindPending), f.sparse(tenantA, extdir.KindExternal)}
				b[2].PhoneNumber = b[1].PhoneNumber
				return b
			}},
		} {
			batch := c.batch()
			wantPhoneTaken(t, s.Import(t.Context(), batch, nil), "import with a phone clash "+c.name)
			for _, p := range batch {
				if p.Seq != 0 {
					t.Errorf("%s: the refused import set seq %d on %s", c.name, p.Seq, p.ID)
				}
				_, err := s.Get(t.Context(), p.Tenant, p.ID)
				wantCode(t, err, extdir.ENotFound, c.name+": get of a profile of the refused batch")
			}
			wantProfiles(t, kept, export(t, s, ""), false, c.name+": export after the refused import")
			// Nothing of the batch was kept, not even a phone number or an
			// id: the batch without its clashing profile goes in.
			importAll(t, s, batch[:2])
			kept = append(kept, clones(batch[:2])...)
		}
		wantProfiles(t, kept, export(t, s, ""), false, "export after the imports")
	}},
	{"import of a soft-deleted profile with a live profile's phone number succeeds", func(t *testing.T, s store.Store) {
		var f fixture
		holder := create(t, s, f.full(tenantA, extdir.KindExternal))
		old := f.full(tenantA, extdir.KindPending)
		old.PhoneNumber = holder.PhoneNumber
		old.DeletedDateTime = ptr(base)
		// The same number in another tenant is free too.
		other := f.sparse(tenantB, extdir.KindPending)
		other.PhoneNumber = holder.PhoneNumber
		want := clones([]*extdir.Profile{old, other})
		importAll(t, s, []*extdir.Profile{old, other})
		want[0].Seq, want[1].Seq = old.Seq, other.Seq
		wantProfile(t, want[0], get(t, s, tenantA, old.ID), "the imported deleted holder")
		wantProfile(t, want[1], get(t, s, tenantB, other.ID), "the imported holder in another tenant")
	}},
	{"import with a duplicate id is a conflict and stores none of the batch", func(t *testing.T, s store.Store) {
		var f fixture
		first := create(t, s, f.full(tenantA, extdir.KindPending))
		kept := []*extdir.Profile{first.Clone()}
		for _, c := range []struct {
			name  string
			batch func() []*extdir.Profile
		}{
			{"with a profile stored", func() []*extdir.Profile {
				b := []*extdir.Profile{f.sparse(tenantA, extdir.KindPending), f.sparse(tenantB, extdir.KindExternal), f.full(tenantA, extdir.KindExternal)}
				b[2].ID = first.ID
				b[2].DeletedDateTime = ptr(base) // a deleted profile's id clashes too
				return b
			}},
			{"within the batch", func() []*extdir.Profile {
				b := []*extdir.Profile{f.sparse(tenantA, extdir.KindPending), f.full(tenantA, extdir.KindExternal), f.sparse(tenantA, extdir.KindPending)}
				b[2].ID = b[1].ID
				return b
			}},
		} {
			batch := c.batch()
			wantCode(t, s.Import(t.Context(), batch, nil), extdir.EConflict, "import with a duplicate id "+c.name)
			for _, p := range batch {
				if p.Seq != 0 {
					t.Errorf("%s: the refused import set seq %d on %s", c.name, p.Seq, p.ID)
				}
			}
			wantProfiles(t, kept, export(t, s, ""), false, c.name+": export after the refused import")
			importAll(t, s, batch[:2])
			kept = append(kept, clones(batch[:2])...)
		}
		// The same id in another tenant is another profile.
		dup := f.sparse(tenantB, extdir.KindPending)
		dup.ID = first.ID
		importAll(t, s, []*extdir.Profile{dup})
		kept = append(kept, dup.Clone())
		wantProfiles(t, kept, export(t, s, ""), false, "export after the imports")
	}},
	{"reset of a tenant deletes all of its profiles and nothing of another's", func(t *testing.T, s store.Store) {
		var f fixture
		ps := f.varied()
		importAll(t, s, ps)
		// Profiles written through the ordinary calls go too.
		ps = append(ps, create(t, s, f.full(tenantA, extdir.KindPending)), create(t, s, f.full(tenantB, extdir.KindExternal)))
		ps = append(ps, softDelete(t, s, create(t, s, f.full(tenantA, extdir.KindExternal)), base))
		inA, inB := ofTenant(ps, tenantA), ofTenant(ps, tenantB)

		n, err := s.Reset(t.Context(), tenantA)
		if err != nil || n != int64(len(inA)) {
			t.Fatalf("reset of tenant A = %d, %v; want %d", n, err, len(inA))
		}
		for _, p := range inA {
			_, err := s.Get(t.Context(), tenantA, p.ID)
			wantCode(t, err, extdir.ENotFound, "get of a profile of the reset tenant")
		}
		wantEmpty(t, s, tenantA, "after the reset of tenant A")
		for _, p := range inB {
			wantProfile(t, p, get(t, s, tenantB, p.ID), "a profile of the other tenant after the reset")
		}
		wantProfiles(t, inB, export(t, s, ""), false, "export after the reset of tenant A")

		for _, tenant := range []string{tenantA, "6b8e3a1e-0000-4000-8000-0000000000ff"} {
			if n, err := s.Reset(t.Context(), tenant); err != nil || n != 0 {
				t.Fatalf("reset of the empty tenant %s = %d, %v; want 0", tenant, n, err)
			}
		}
		wantProfiles(t, inB, export(t, s, tenantB), false, "export of the other tenant after resets of empty ones")
	}},
	{"reset of every tenant empties the store", func(t *testing.T, s store.Store) {
		var f fixture
		ps := f.varied()
		importAll(t, s, ps)
		n, err := s.Reset(t.Context(), "")
		if err != nil || n != int64(len(ps)) {
			t.Fatalf("reset of every tenant = %d, %v; want %d", n, err, len(ps))
		}
		wantEmpty(t, s, "", "after the reset of every tenant")
		for _, p := range ps {
			_, err := s.Get(t.Context(), p.Tenant, p.ID)
			wantCode(t, err, extdir.ENotFound, "get after the reset of every tenant")
		}
		if n, err := s.Reset(t.Context(), ""); err != nil || n != 0 {
			t.Fatalf("reset of an empty store = %d, %v; want 0", n, err)
		}
	}},
	{"after a reset, phone numbers and ids are free and seqs keep growing", func(t *testing.T, s store.Store) {
		var f fixture
		for _, c := range []struct{ name, reset string }{{"a tenant", tenantA}, {"every tenant", ""}} {
			old := create(t, s, f.full(tenantA, extdir.KindPending))
			oldImported := f.full(tenantA, extdir.KindExternal)
			importAll(t, s, []*extdir.Profile{oldImported})
			if _, err := s.Reset(t.Context(), c.reset); err != nil {
				t.Fatalf("reset of %s: %v", c.name, err)
			}
			again := f.sparse(tenantA, extdir.KindPending)
			again.ID, again.PhoneNumber = old.ID, old.PhoneNumber
			create(t, s, again)
			againImported := f.sparse(tenantA, extdir.KindPending)
			againImported.ID, againImported.PhoneNumber = oldImported.ID, oldImported.PhoneNumber
			importAll(t, s, []*extdir.Profile{againImported})
			// A cursor of a listing before the reset must never meet a
			// newcomer that sorts at or before it.
			if again.Seq <= oldImported.Seq || againImported.Seq <= again.Seq {
				t.Fatalf("after the reset of %s: seqs %d and %d, after %d before it; want larger ones", c.name, again.Seq, againImported.Seq, oldImported.Seq)
			}
			wantProfiles(t, []*extdir.Profile{again, againImported}, export(t, s, tenantA), false, "export after the reset of "+c.name)
			if _, err := s.Reset(t.Context(), ""); err != nil {
				t.Fatalf("reset: %v", err)
			}
		}
	}},
	{"reset beside writes fails none of them and spares the other tenant", func(t *testing.T, s store.Store) {
		var f fixture
		imported := f.many(500)
		importAll(t, s, imported)
		const writers, each = 4, 25
		var batches [writers][]*extdir.Profile
		for w := range batches {
			for range each {
				batches[w] = append(batches[w], f.sparse(tenantB, extdir.KindPending))
			}
		}
		resets := make(chan error, 1)
		go func() {
			var err error
			for range 5 {
				if _, err = s.Reset(t.Context(), tenantA); err != nil {
					break
				}
			}
			resets <- err
		}()
		errs := together(writers, func(w int) error {
			for _, p := range batches[w] {
				if err := s.Create(t.Context(), p, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err := <-resets; err != nil {
			t.Fatalf("reset beside writes: %v", err)
		}
		for _, err := range errs {
			if err != nil {
				t.Fatalf("a create beside resets of another tenant: %v", err)
			}
		}
		want := ofTenant(imported, tenantB)
		for _, b := range batches {
			want = append(want, b...)
		}
		slices.SortFunc(want, func(a, b *extdir.Profile) int { return cmp.Compare(a.Seq, b.Seq) })
		wantProfiles(t, want, export(t, s, tenantB), false, "the other tenant after the resets")
		wantEmpty(t, s, tenantA, "the reset tenant")
	}},
	{"export passes every profile in seq order, in batches, scoped to its tenant", func(t *testing.T, s store.Store) {
		var f fixture
		// 2,500 profiles: 1,500 in tenant A, 1,000 in tenant B, enough for
		// several batches of any size a backend reads, whole and partial.
		ps := f.many(2500)
		want := clones(ps)
		importAll(t, s, ps)
		for i := range ps {
			want[i].Seq = ps[i].Seq
		}
		// Profiles written through the ordinary calls come in seq order too.
		last := create(t, s, f.full(tenantB, extdir.KindExternal))
		gone := softDelete(t, s, create(t, s, f.full(tenantA, extdir.KindPending)), base)
		want = append(want, last.Clone(), gone.Clone())
		for _, c := range []struct {
			tenant string
			want   []*extdir.Profile
		}{
			{"", want},
			{tenantA, ofTenant(want, tenantA)},
			{tenantB, ofTenant(want, tenantB)},
			{"6b8e3a1e-0000-4000-8000-0000000000ff", nil},
		} {
			wantProfiles(t, c.want, export(t, s, c.tenant), false, fmt.Sprintf("export of tenant %q", c.tenant))
		}
	}},
	{"export stops at fn's first error and returns it unchanged", func(t *testing.T, s store.Store) {
		var f fixture
		importAll(t, s, f.many(1200))
		stop := &extdir.Error{Code: extdir.EConflict, Message: "stop here"}
		for _, at := range []int{1, 3, 1100} {
			calls := 0
			err := s.Export(t.Context(), "", func(*extdir.Profile) error {
				calls++
				if calls == at {
					return stop
				}
				return nil
			})
			if err != stop || calls != at {
				t.Fatalf("export with fn failing at call %d: %v after %d calls; want the very error after %d", at, err, calls, at)
			}
		}
	}},
	{"export stops when its context ends", func(t *testing.T, s store.Store) {
		var f fixture
		importAll(t, s, f.many(20))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		calls := 0
		err := s.Export(ctx, tenantA, func(*extdir.Profile) error {
			calls++
			if calls == 2 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || calls != 2 {
			t.Fatalf("export canceled in its second call: %v after %d calls; want context.Canceled after 2", err, calls)
		}
		err = s.Export(canceledContext(t), "", func(*extdir.Profile) error {
			t.Error("export with a canceled context called fn")
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("export with a canceled context: %v, want context.Canceled", err)
		}
	}},
}

// transferTests get two stores each.
var transferTests = []twoStoreTest{
	{"export then import into another store gives the same profiles in the same order", func(t *testing.T, s, other store.Store) {
		var f fixture
		ps := f.varied()
		// More than one batch, and profiles that went through the
		// ordinary calls: a redeemed one, a restored one, a deleted one.
		ps = append(ps, f.many(1200)...)
		importAll(t, s, ps)
		redeemed := create(t, s, f.full(tenantB, extdir.KindPending))
		if _, err := s.Update(t.Context(), tenantB, redeemed.ID, store.Unaudited(func(p *extdir.Profile) error { return p.Redeem() })); err != nil {
			t.Fatalf("redeem: %v", err)
		}
		restored := softDelete(t, s, create(t, s, f.full(tenantA, extdir.KindExternal)), base)
		update(t, s, restored, func(p *extdir.Profile) { p.DeletedDateTime = nil; p.Epoch++ })
		softDelete(t, s, create(t, s, f.sparse(tenantA, extdir.KindPending)), base.Add(time.Minute))

		exported := export(t, s, "")
		if len(exported) != len(ps)+3 {
			t.Fatalf("export of every tenant: %d profiles, want %d", len(exported), len(ps)+3)
		}
		importAll(t, other, clones(exported))
		wantProfiles(t, exported, export(t, other, ""), true, "export of the copy")
		for _, tenant := range []string{tenantA, tenantB} {
			wantProfiles(t, export(t, s, tenant), export(t, other, tenant), true, "export of the copy's tenant "+tenant)
		}

		// A tenant restored from the copy's export, once reset, is the same
		// again under new seqs.
		if _, err := s.Reset(t.Context(), tenantB); err != nil {
			t.Fatalf("reset: %v", err)
		}
		importAll(t, s, export(t, other, tenantB))
		wantProfiles(t, ofTenant(exported, tenantB), export(t, s, tenantB), true, "export of the restored tenant")
		wantProfiles(t, ofTenant(exported, tenantA), export(t, s, tenantA), false, "export of the tenant left alone")

		// And the whole store, restored into itself once reset.
		if _, err := s.Reset(t.Context(), ""); err != nil {
			t.Fatalf("reset: %v", err)
		}
		restore := clones(exported)
		importAll(t, s, restore)
		wantProfiles(t, exported, export(t, s, ""), true, "export after the restore")
		if restore[0].Seq <= maxSeq(exported) {
			t.Fatalf("restored seq %d, not after the exported ones (up to %d)", restore[0].Seq, maxSeq(exported))
		}
	}},
}

// A twoStoreTest is an outcome the suite checks on two fresh stores set up
// alike: what moves profiles from one store to another.
type twoStoreTest struct {
	name string
	fn   func(t *testing.T, s, other store.Store)
}

// closeAdminTests are those of Close beside the administrative calls.
var closeAdminTests = []test{
	{"close waits for an export's read, not for its fn", func(t *testing.T, s store.Store) {
		var f fixture
		importAll(t, s, f.many(2500))
		entered, release := make(chan struct{}), make(chan struct{})
		type result struct {
			calls int
			err   error
		}
		exported := make(chan result, 1)
		go func() {
			calls := 0
			err := s.Export(t.Context(), "", func(*extdir.Profile) error {
				calls++
				if calls == 1 {
					close(entered)
					<-release
				}
				return nil
			})
			exported <- result{calls, err}
		}()
		<-entered
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("close: %v", err)
			}
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatal("close waited for an export's fn")
		}
		close(release)
		r := <-exported
		if r.err == nil || r.calls >= 2500 {
			t.Fatalf("export across a close: %d calls, %v; want it to fail before the end", r.calls, r.err)
		}
	}},
}
