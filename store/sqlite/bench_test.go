package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/storebench"
)

// benchBackend runs the shared benchmarks on a durable file database, whose
// profiles Import loads in one transaction.
var benchBackend = storebench.Backend{
	Open: func(b *testing.B, profiles []*extdir.Profile) store.Store {
		s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
		if err := s.Import(context.Background(), profiles, nil); err != nil {
			b.Fatal(err)
		}
		return s
	},
	ReadConns: func(s store.Store) int { return s.(*Store).reader.Stats().MaxOpenConnections },
}

// BenchmarkStore is the benchmarks every backend runs (store/storebench).
func BenchmarkStore(b *testing.B) { storebench.Run(b, benchBackend) }

// BenchmarkCreateConcurrent is 64 writers creating at once: what group
// commit is for. ns/op is wall time per create across all writers.
func BenchmarkCreateConcurrent(b *testing.B) {
	s := benchBackend.Open(b, nil)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // × GOMAXPROCS writers
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Create(ctx, storebench.Profile(int(n.Add(1))), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSearch is the first page (100 rows) of a search that 1 % of the
// directory matches, "displayName:Guest 01" (storebench's display names
// are Guest 00000 to 99999, scattered), on 10,000 and 100,000 profiles.
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := benchBackend.Open(b, storebench.Profiles(n))
			sr, err := odata.ParseSearch(`"displayName:Guest 01"`, extdir.KindPending)
			if err != nil {
				b.Fatal(err)
			}
			q := store.Query{Tenant: storebench.Tenant, Kind: extdir.KindPending, Search: sr, Top: 100}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				page, err := s.List(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Profiles) != 100 {
					b.Fatalf("%d profiles, want a full page", len(page.Profiles))
				}
			}
		})
	}
}
