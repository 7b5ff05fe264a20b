package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

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

// benchStore opens a durable file database holding n profiles, inserted in
// one transaction so that seeding does not pay one sync per row.
func benchStore(b *testing.B, n int) (*Store, []*extdir.Profile) {
	b.Helper()
	s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
	tx, err := s.writer.Begin()
	if err != nil {
		b.Fatal(err)
	}
	insert := tx.Stmt(s.insert)
	ps := make([]*extdir.Profile, n)
	for i := range ps {
		p := benchProfile(i)
		res, err := insert.Exec(profileArgs(p, p.Tenant, int64(p.Kind))...)
		if err != nil {
			b.Fatal(err)
		}
		if p.Seq, err = res.LastInsertId(); err != nil {
			b.Fatal(err)
		}
		ps[i] = p
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s, ps
}

// BenchmarkCreate measures a durable insert: one WAL sync per profile.
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

// BenchmarkCreateConcurrent is 64 writers creating at once: what group
// commit is for. ns/op is wall time per create across all writers.
func BenchmarkCreateConcurrent(b *testing.B) {
	s, _ := benchStore(b, 0)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // × GOMAXPROCS writers
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Create(ctx, benchProfile(int(n.Add(1)))); err != nil {
				b.Fatal(err)
			}
		}
	})
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

// BenchmarkGetParallel shows how reads scale over the read pool, once the
// pool's connections are open (each prepares its statements on first use).
func BenchmarkGetParallel(b *testing.B) {
	s, ps := benchStore(b, 10_000)
	ctx := context.Background()
	var warm sync.WaitGroup
	for range s.reader.Stats().MaxOpenConnections {
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

// BenchmarkUpdate measures a durable read-modify-write: one WAL sync per
// update.
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
