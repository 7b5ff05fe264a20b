package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
)

// The benchmarks mirror store/sqlite's, on a schema of their own in this
// run's database: the same profiles, the same sizes, the same operations.

const benchTenant = "b3c1a7e2-0000-4000-8000-000000000001"

func benchProfile(n int) *extdir.Profile {
	s := func(v string) *string { return &v }
	return &extdir.Profile{
		Tenant:          benchTenant,
		Kind:            extdir.KindPending,
		ID:              fmt.Sprintf("be7c4000-0000-4000-8000-%012d", n),
		DisplayName:     fmt.Sprintf("Guest %05d", (n*7919)%100000),
		PhoneNumber:     fmt.Sprintf("+1555%07d", n),
		CompanyName:     s("Contoso"),
		SupervisorID:    s("5e1d0000-0000-4000-8000-000000000001"),
		Department:      s("Sales"),
		JobTitle:        s("Buyer"),
		IsDiscoverable:  true,
		IsEnabled:       true,
		Address:         extdir.Address{City: s("Seattle"), CountryOrRegion: s("US"), PostalCode: s("98052"), Street: s("1 Microsoft Way")},
		CreatedBy:       "1f0c5d2a-0000-4000-8000-0000000000c1",
		CreatedDateTime: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second),
		Epoch:           1,
	}
}

// benchStore opens a store on a fresh schema holding n profiles, copied in
// at once so that seeding does not pay one commit per row, then analyzed.
func benchStore(b *testing.B, n int) (*Store, []*extdir.Profile) {
	b.Helper()
	s, err := Open(context.Background(), schemaURL(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	ps := make([]*extdir.Profile, n)
	rows := make([][]any, n)
	for i := range ps {
		ps[i] = benchProfile(i)
		rows[i] = profileArgs(ps[i])
	}
	columns := []string{"tenant", "kind"}
	for _, c := range extdir.Columns {
		columns = append(columns, c.Column)
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"profiles"}, columns, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE profiles"); err != nil {
		b.Fatal(err)
	}
	for _, p := range ps {
		got, err := s.Get(ctx, benchTenant, p.ID)
		if err != nil {
			b.Fatal(err)
		}
		p.Seq = got.Seq
	}
	return s, ps
}

// BenchmarkCreate measures a durable insert: one commit, flushed to the
// WAL, per profile.
func BenchmarkCreate(b *testing.B) {
	s, _ := benchStore(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Create(ctx, benchProfile(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s, ps := benchStore(b, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(ctx, benchTenant, ps[(i*7919)%len(ps)].ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetParallel shows how reads scale over the pool, once its
// connections are open.
func BenchmarkGetParallel(b *testing.B) {
	s, ps := benchStore(b, 10_000)
	ctx := context.Background()
	var warm sync.WaitGroup
	for range s.pool.Config().MaxConns {
		warm.Go(func() {
			for i := range 50 {
				if _, err := s.Get(ctx, benchTenant, ps[i].ID); err != nil {
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
			if _, err := s.Get(ctx, benchTenant, ps[(i*7919)%len(ps)].ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkListFirstPage lists the first 100 of 10,000 live profiles, and
// the page after the 5,000th for the keyset path.
func BenchmarkListFirstPage(b *testing.B) {
	s, ps := benchStore(b, 10_000)
	ctx := context.Background()
	displayName, _ := extdir.PropertyByName("displayName")
	for _, c := range []struct {
		name  string
		order []store.Order
		after *store.Cursor
	}{
		{"insertion", nil, nil},
		{"displayName", []store.Order{{Prop: displayName}}, nil},
		{"insertion/after5000", nil, store.CursorAfter(ps[5000], nil)},
		{"displayName/after5000", []store.Order{{Prop: displayName}}, store.CursorAfter(ps[5000], []store.Order{{Prop: displayName}})},
	} {
		b.Run(c.name, func(b *testing.B) {
			q := store.Query{Tenant: benchTenant, Kind: extdir.KindPending, OrderBy: c.order, Top: 100, After: c.after}
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

// BenchmarkListStartsWith is the documented prefix filter, served by an
// index range: 10 of 10,000 rows match.
func BenchmarkListStartsWith(b *testing.B) {
	s, _ := benchStore(b, 10_000)
	ctx := context.Background()
	e, err := odata.Filter("startswith(displayName,'guest 0000')", extdir.KindPending)
	if err != nil {
		b.Fatal(err)
	}
	q := store.Query{Tenant: benchTenant, Kind: extdir.KindPending, Filter: e, Top: 100}
	b.ReportAllocs()
	for b.Loop() {
		page, err := s.List(ctx, q)
		if err != nil || len(page.Profiles) == 0 {
			b.Fatalf("list: %d profiles, %v", len(page.Profiles), err)
		}
	}
}

func BenchmarkCount(b *testing.B) {
	s, _ := benchStore(b, 10_000)
	ctx := context.Background()
	q := store.Query{Tenant: benchTenant, Kind: extdir.KindPending, Top: 1}
	b.ReportAllocs()
	for b.Loop() {
		if n, err := s.Count(ctx, q); err != nil || n != 10_000 {
			b.Fatalf("count = %d, %v", n, err)
		}
	}
}

// BenchmarkUpdate measures a durable read-modify-write: a transaction that
// locks the row, rewrites it and commits.
func BenchmarkUpdate(b *testing.B) {
	s, ps := benchStore(b, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, err := s.Update(ctx, benchTenant, ps[(i*7919)%len(ps)].ID, func(p *extdir.Profile) error {
			p.Epoch++
			p.JobTitle = &p.DisplayName
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
