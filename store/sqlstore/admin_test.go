package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlfilter"
)

func TestAdminSQL(t *testing.T) {
	const sel = "SELECT x FROM profiles"
	type statement struct {
		query string
		args  []any
	}
	of := func(query string, args []any) statement { return statement{query, args} }
	for _, tc := range []struct {
		name string
		got  statement
		want statement
	}{
		{"reset every tenant", of(ResetSQL(sqlfilter.Postgres{}, "")), statement{"DELETE FROM profiles", nil}},
		{"reset a tenant, postgres", of(ResetSQL(sqlfilter.Postgres{}, "t")), statement{"DELETE FROM profiles WHERE tenant = $1", []any{"t"}}},
		{"reset a tenant, sqlite", of(ResetSQL(sqlfilter.SQLite{}, "t")), statement{"DELETE FROM profiles WHERE tenant = ?", []any{"t"}}},
		{"export every tenant", of(ExportSQL(sqlfilter.Postgres{}, sel, "", 7, 1000)),
			statement{sel + " WHERE seq > $1 ORDER BY seq LIMIT $2", []any{int64(7), 1000}}},
		{"export a tenant", of(ExportSQL(sqlfilter.Postgres{}, sel, "t", 7, 1000)),
			statement{sel + " WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3", []any{"t", int64(7), 1000}}},
		{"export a tenant, sqlite", of(ExportSQL(sqlfilter.SQLite{}, sel, "t", 0, 5)),
			statement{sel + " WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?", []any{"t", int64(0), 5}}},
	} {
		if tc.got.query != tc.want.query || !slices.Equal(tc.got.args, tc.want.args) {
			t.Errorf("%s: %q %#v, want %q %#v", tc.name, tc.got.query, tc.got.args, tc.want.query, tc.want.args)
		}
	}
}

// exportSource is a table of rows for Export's readBatch: it answers as a
// backend's keyset read would, and records the reads.
type exportSource struct {
	rows  []*extdir.Profile // in seq order
	reads []string          // "after/limit" of each read
}

func newExportSource(seqs ...int64) *exportSource {
	src := &exportSource{}
	for _, seq := range seqs {
		src.rows = append(src.rows, &extdir.Profile{Seq: seq})
	}
	return src
}

func (src *exportSource) read(after int64, limit int) ([]*extdir.Profile, error) {
	src.reads = append(src.reads, fmt.Sprintf("%d/%d", after, limit))
	var out []*extdir.Profile
	for _, p := range src.rows {
		if p.Seq > after && len(out) < limit {
			out = append(out, p)
		}
	}
	return out, nil
}

func TestExportReadsInKeysetBatches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seqs  []int64
		reads []string
	}{
		{"empty", nil, []string{"0/3"}},
		{"one short batch", []int64{4, 9}, []string{"0/3"}},
		// A full batch may be the last: one more read finds nothing.
		{"exactly full batches", []int64{1, 2, 5, 6, 8, 20}, []string{"0/3", "5/3", "20/3"}},
		{"a short last batch", []int64{1, 2, 5, 6, 8, 20, 21}, []string{"0/3", "5/3", "20/3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newExportSource(tc.seqs...)
			var got []int64
			err := Export(context.Background(), 3, src.read, func(p *extdir.Profile) error {
				got = append(got, p.Seq)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.seqs) {
				t.Errorf("exported %v, want %v", got, tc.seqs)
			}
			if !slices.Equal(src.reads, tc.reads) {
				t.Errorf("reads %v, want %v", src.reads, tc.reads)
			}
		})
	}
}

func TestExportStops(t *testing.T) {
	stop := errors.New("stop")
	t.Run("at fn's error, returned unchanged", func(t *testing.T) {
		src := newExportSource(1, 2, 3, 4, 5, 6, 7)
		calls := 0
		err := Export(context.Background(), 3, src.read, func(p *extdir.Profile) error {
			calls++
			if p.Seq == 4 {
				return stop
			}
			return nil
		})
		if err != stop || calls != 4 || len(src.reads) != 2 {
			t.Fatalf("err %v after %d calls and %d reads, want stop after 4 calls and 2 reads", err, calls, len(src.reads))
		}
	})
	t.Run("at readBatch's error", func(t *testing.T) {
		broken := errors.New("read failed")
		calls := 0
		err := Export(context.Background(), 3, func(int64, int) ([]*extdir.Profile, error) { return nil, broken },
			func(*extdir.Profile) error { calls++; return nil })
		if !errors.Is(err, broken) || calls != 0 {
			t.Fatalf("err %v after %d calls, want the read's error and no call", err, calls)
		}
	})
	t.Run("once the context is done, in the middle of a batch", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src := newExportSource(1, 2, 3, 4, 5, 6, 7)
		calls := 0
		err := Export(ctx, 3, src.read, func(p *extdir.Profile) error {
			calls++
			if p.Seq == 2 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || calls != 2 || len(src.reads) != 1 {
			t.Fatalf("err %v after %d calls and %d reads, want context.Canceled after 2 calls and 1 read", err, calls, len(src.reads))
		}
	})
	t.Run("with ctx.Err() when the context ends during a read", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := Export(ctx, 3, func(int64, int) ([]*extdir.Profile, error) {
			cancel()
			return nil, errors.New("interrupted")
		}, func(*extdir.Profile) error { t.Error("fn called"); return nil })
		if err != context.Canceled {
			t.Fatalf("err %v, want context.Canceled itself", err)
		}
	})
	t.Run("before the first read when the context is done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		src := newExportSource(1)
		err := Export(ctx, 3, src.read, func(*extdir.Profile) error { t.Error("fn called"); return nil })
		if !errors.Is(err, context.Canceled) || len(src.reads) != 0 {
			t.Fatalf("err %v after %d reads, want context.Canceled and no read", err, len(src.reads))
		}
	})
}
