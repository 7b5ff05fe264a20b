package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/storebench"
)

// benchBackend runs the shared benchmarks on a fresh schema of this run's
// database: the profiles are copied in at once (COPY, faster than Import's
// pipelined inserts), then vacuumed and analyzed, so that the visibility
// map lets a count stay in the index.
var benchBackend = storebench.Backend{
	Open: func(b *testing.B, profiles []*extdir.Profile) store.Store {
		s := openTest(b, schemaURL(b))
		ctx := context.Background()
		rows := make([][]any, len(profiles))
		for i, p := range profiles {
			rows[i] = profileArgs(p)
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
		// COPY returns no seq: read each back.
		for _, p := range profiles {
			got, err := s.Get(ctx, p.Tenant, p.ID)
			if err != nil {
				b.Fatal(err)
			}
			p.Seq = got.Seq
		}
		return s
	},
	ReadConns: func(s store.Store) int { return int(s.(*Store).pool.Config().MaxConns) },
}

// BenchmarkStore is the benchmarks every backend runs (store/storebench).
func BenchmarkStore(b *testing.B) { storebench.Run(b, benchBackend) }
