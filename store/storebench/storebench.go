// Package storebench is the benchmarks every store.Store backend runs, on
// the same profiles, sizes and operations, so that the backends' figures
// compare. A backend's bench_test.go hands Run a Backend:
//
//	func BenchmarkStore(b *testing.B) { storebench.Run(b, backend) }
//
// and runs as go test -run '^$' -bench Store ./store/sqlite/ (no tests, only
// the benchmarks).
package storebench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
)

// Tenant is the tenant of every benchmark profile.
const Tenant = "b3c1a7e2-0000-4000-8000-000000000001"

// created is the benchmark clock: profile n was invited n seconds after it.
var created = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Profile returns the n-th benchmark profile: an invitation
// (extdir.NewPending) with every property a client commonly sets, and a
// display name that scatters n across the alphabet, so that an order by
// displayName is not the insertion order.
func Profile(n int) *extdir.Profile {
	s := func(v string) *string { return &v }
	p := extdir.NewPending(Tenant, fmt.Sprintf("be7c4000-0000-4000-8000-%012d", n), "1f0c5d2a-0000-4000-8000-0000000000c1",
		created.Add(time.Duration(n)*time.Second))
	p.DisplayName = fmt.Sprintf("Guest %05d", (n*7919)%100000)
	p.PhoneNumber = fmt.Sprintf("+1555%07d", n)
	p.CompanyName = s("Contoso")
	p.SupervisorID = s("5e1d0000-0000-4000-8000-000000000001")
	p.Department = s("Sales")
	p.JobTitle = s("Buyer")
	p.Address = extdir.Address{City: s("Seattle"), CountryOrRegion: s("US"), PostalCode: s("98052"), Street: s("1 Microsoft Way")}
	return p
}

// Profiles returns the benchmark profiles 0 to n-1.
func Profiles(n int) []*extdir.Profile {
	ps := make([]*extdir.Profile, n)
	for i := range ps {
		ps[i] = Profile(i)
	}
	return ps
}

// Backend is what the benchmarks need of a backend.
type Backend struct {
	// Open returns a store holding the profiles, each with its Seq set,
	// and closes it when b ends. It loads them in bulk, so that seeding
	// does not pay one durable commit per row, and leaves the store as a
	// server would find it (statistics gathered, where the database keeps
	// any).
	Open func(b *testing.B, profiles []*extdir.Profile) store.Store
	// ReadConns is how many connections s reads on: GetParallel opens them
	// all before it measures.
	ReadConns func(s store.Store) int
}

// Run runs every shared benchmark as a sub-benchmark of b.
func Run(b *testing.B, backend Backend) {
	for _, bench := range []struct {
		name string
		fn   func(*testing.B, Backend)
	}{
		{"Create", create},
		{"Get", get},
		{"GetParallel", getParallel},
		{"ListFirstPage", listFirstPage},
		{"ListStartsWith", listStartsWith},
		{"Count", count},
		{"Update", update},
	} {
		b.Run(bench.name, func(b *testing.B) { bench.fn(b, backend) })
	}
}

// directory is the size of the store the read and update benchmarks run on.
const directory = 10_000

// seeded opens a store holding the benchmark directory, and returns its
// profiles too.
func seeded(b *testing.B, backend Backend) (store.Store, []*extdir.Profile) {
	ps := Profiles(directory)
	return backend.Open(b, ps), ps
}

// scattered is the id of the i-th profile a benchmark reads or writes: a
// walk over the whole directory that no cache of recent rows keeps up with.
func scattered(ps []*extdir.Profile, i int) string { return ps[(i*7919)%len(ps)].ID }

// create measures a durable insert: one commit made durable per profile.
func create(b *testing.B, backend Backend) {
	s := backend.Open(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Create(ctx, Profile(i), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func get(b *testing.B, backend Backend) {
	s, ps := seeded(b, backend)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(ctx, Tenant, scattered(ps, i)); err != nil {
			b.Fatal(err)
		}
	}
}

// getParallel shows how reads scale over the connections, once they are
// open (each prepares its statements on first use).
func getParallel(b *testing.B, backend Backend) {
	s, ps := seeded(b, backend)
	ctx := context.Background()
	var warm sync.WaitGroup
	for range backend.ReadConns(s) {
		warm.Go(func() {
			for i := range 50 {
				if _, err := s.Get(ctx, Tenant, ps[i].ID); err != nil {
					b.Error(err)
				}
			}
		})
	}
	warm.Wait()
	b.ResetTimer()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := s.Get(ctx, Tenant, scattered(ps, i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// listFirstPage lists the first 100 of 10,000 live profiles, and the page
// after the 5,000th for the keyset path.
func listFirstPage(b *testing.B, backend Backend) {
	s, ps := seeded(b, backend)
	ctx := context.Background()
	displayName, _ := extdir.PropertyByName("displayName")
	byName := []store.Order{{Prop: displayName}}
	for _, c := range []struct {
		name  string
		order []store.Order
		after *store.Cursor
	}{
		{"insertion", nil, nil},
		{"displayName", byName, nil},
		{"insertion/after5000", nil, store.CursorAfter(ps[5000], nil)},
		{"displayName/after5000", byName, store.CursorAfter(ps[5000], byName)},
	} {
		b.Run(c.name, func(b *testing.B) {
			q := store.Query{Tenant: Tenant, Kind: extdir.KindPending, OrderBy: c.order, Top: 100, After: c.after}
			b.ReportAllocs()
			for b.Loop() {
				page, err := s.List(ctx, q)
				if err != nil || len(page.Profiles) != 100 {
					b.Fatalf("list: %d profiles, %v", len(page.Profiles), err)
				}
			}
		})
	}
}

// listStartsWith is the documented prefix filter, which an index range
// serves: 10 of 10,000 rows match.
func listStartsWith(b *testing.B, backend Backend) {
	s, _ := seeded(b, backend)
	ctx := context.Background()
	e, err := odata.Filter("startswith(displayName,'guest 0000')", extdir.KindPending)
	if err != nil {
		b.Fatal(err)
	}
	q := store.Query{Tenant: Tenant, Kind: extdir.KindPending, Filter: e, Top: 100}
	b.ReportAllocs()
	for b.Loop() {
		page, err := s.List(ctx, q)
		if err != nil || len(page.Profiles) == 0 {
			b.Fatalf("list: %d profiles, %v", len(page.Profiles), err)
		}
	}
}

func count(b *testing.B, backend Backend) {
	s, _ := seeded(b, backend)
	ctx := context.Background()
	q := store.Query{Tenant: Tenant, Kind: extdir.KindPending, Top: 1}
	b.ReportAllocs()
	for b.Loop() {
		if n, err := s.Count(ctx, q); err != nil || n != directory {
			b.Fatalf("count = %d, %v", n, err)
		}
	}
}

// update measures a durable read-modify-write: a PATCH of jobTitle.
func update(b *testing.B, backend Backend) {
	s, ps := seeded(b, backend)
	ctx := context.Background()
	jobTitle, _ := extdir.PropertyByName("jobTitle")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, err := s.Update(ctx, Tenant, scattered(ps, i), store.Unaudited(func(p *extdir.Profile) error {
			p.Patch(extdir.Changes{{Prop: jobTitle, Value: extdir.StringValue(p.DisplayName)}})
			return nil
		}))

		if err != nil {
			b.Fatal(err)
		}
	}
}
