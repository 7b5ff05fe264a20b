package conformance

import (
	"slices"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// RunStats checks a backend's store.Stats on s, an empty store: the
// profiles counted by kind and state, with and without the tenant, and a
// database size. It is apart from Run because Stats is optional.
func RunStats(t *testing.T, s store.Store) {
	st, ok := s.(store.Stats)
	if !ok {
		t.Fatalf("%T does not implement store.Stats", s)
	}
	ctx := t.Context()
	counts, err := st.ProfileCounts(ctx, false)
	if err != nil {
		t.Fatalf("ProfileCounts of an empty store: %v", err)
	}
	if len(counts) != 0 {
		t.Errorf("ProfileCounts of an empty store = %v, want none", counts)
	}

	// Tenant a: 3 pending (1 of them deleted), 1 external; tenant b: 2
	// pending.
	f := &fixture{}
	for _, tenant := range []string{"a", "a", "a", "b", "b"} {
		create(t, s, f.sparse(tenant, extdir.KindPending))
	}
	create(t, s, f.sparse("a", extdir.KindExternal))
	softDelete(t, s, get(t, s, "a", Profile("a", 1).ID), base)

	want := []store.ProfileCount{
		{Kind: extdir.KindPending, N: 4},
		{Kind: extdir.KindPending, Deleted: true, N: 1},
		{Kind: extdir.KindExternal, N: 1},
	}
	wantCounts(t, st, false, want)
	wantCounts(t, st, true, []store.ProfileCount{
		{Tenant: "a", Kind: extdir.KindPending, N: 2},
		{Tenant: "a", Kind: extdir.KindPending, Deleted: true, N: 1},
		{Tenant: "a", Kind: extdir.KindExternal, N: 1},
		{Tenant: "b", Kind: extdir.KindPending, N: 2},
	})

	size, err := st.SizeBytes(ctx)
	if err != nil {
		t.Fatalf("SizeBytes: %v", err)
	}
	if size <= 0 {
		t.Errorf("SizeBytes = %d, want a positive size", size)
	}
	if st.Backend() == "" {
		t.Error("Backend is empty")
	}
}

func wantCounts(t *testing.T, st store.Stats, byTenant bool, want []store.ProfileCount) {
	t.Helper()
	got, err := st.ProfileCounts(t.Context(), byTenant)
	if err != nil {
		t.Fatalf("ProfileCounts(byTenant=%v): %v", byTenant, err)
	}
	order := func(a, b store.ProfileCount) int {
		switch {
		case a.Tenant != b.Tenant:
			return strings.Compare(a.Tenant, b.Tenant)
		case a.Kind != b.Kind:
			return int(a.Kind) - int(b.Kind)
		case a.Deleted != b.Deleted:
			if a.Deleted {
				return 1
			}
			return -1
		}
		return 0
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Errorf("ProfileCounts(byTenant=%v) =\n%v\nwant\n%v", byTenant, got, want)
	}
}
