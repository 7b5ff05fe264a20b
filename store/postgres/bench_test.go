package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/internal/procstat"
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

// auditOf is the record a Graph create writes with p, as the HTTP layer
// would: the audited create is what a request pays for.
func auditOf(p *extdir.Profile, n int) *extdir.AuditRecord {
	return &extdir.AuditRecord{
		Tenant: p.Tenant, ID: fmt.Sprintf("a0d17000-0000-4000-8000-%012d", n), Time: time.Now().UTC().Truncate(time.Microsecond),
		Activity: "Invite external user", OperationType: "Add", CorrelationID: fmt.Sprintf("c0de0000-0000-4000-8000-%012d", n),
		Initiator: extdir.Initiator{AppID: "app-1", ServicePrincipalID: "sp-1", AppName: "Contoso HR"},
		Target:    extdir.AuditTarget{ID: p.ID, DisplayName: p.DisplayName, Type: p.Kind.ResourceName()},
	}
}

// BenchmarkCreateParallel measures durable, audited creates from many
// callers at once, as an extdir node under load makes them: 32 goroutines
// per core on a pool of 32 connections, with group commit off and with one
// or two committers.
func BenchmarkCreateParallel(b *testing.B) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"group=off", Options{CreateBatch: -1}},
		{"committers=1", Options{Committers: 1}},
		{"committers=2", Options{Committers: 2}},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.opts.MaxConns = 32
			createParallel(b, c.opts)
		})
	}
}

func createParallel(b *testing.B, opts Options) {
	s, err := Open(context.Background(), schemaURL(b), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	pgBefore := postgresCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			p := storebench.Profile(i)
			if err := s.Create(ctx, p, auditOf(p, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if pg := postgresCPU() - pgBefore; pg > 0 {
		b.ReportMetric(float64(pg.Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
	if c := s.commits; c != nil && c.batches.Load() > 0 {
		b.ReportMetric(float64(c.members.Load())/float64(c.batches.Load()), "creates/batch")
	}
}

// postgresCPU is the CPU time every postgres process on this machine has
// used so far (other users of the server count too), 0 without /proc.
func postgresCPU() time.Duration {
	var sum time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm")); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			d, _ := procstat.CPUTime(pid)
			sum += d
		}
	}
	return sum
}

// BenchmarkCreateLone measures one caller's audited creates, one after the
// other, with group commit off and on: what a create costs a quiet node,
// which group commit must not make dearer.
func BenchmarkCreateLone(b *testing.B) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"group=off", Options{CreateBatch: -1}},
		{"group=on", Options{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.opts.MaxConns = 4
			s, err := Open(context.Background(), schemaURL(b), c.opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p := storebench.Profile(i)
				if err := s.Create(ctx, p, auditOf(p, i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
