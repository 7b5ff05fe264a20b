package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
)

// The writer never checkpoints (its COMMITs stay short); the checkpointer
// folds the WAL back into the database beside it, so that after a burst of
// writes the whole WAL is in the database file and the next write starts
// the WAL over instead of growing it.
func TestTheCheckpointerFoldsTheWALBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "extdir.db")
	s := openTest(t, path)
	ctx := context.Background()

	var auto int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("writer's wal_autocheckpoint = %d, want 0", auto)
	}

	burst := func(from int) {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 250 {
					if err := s.Create(ctx, conformance.Profile("tenant", from+w*250+i), nil); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	folded := func() checkpointResult {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, runs, err := s.checkpoints.state()
			if err == nil && runs > 0 && r.Log > 0 && r.Checkpointed == r.Log {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("WAL not folded back 10 s after the writes: last %+v after %d checkpoints, error %v", r, runs, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	burst(0)
	first := folded()
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	size := walSize()

	// A second burst of the same size reuses the WAL from its start: the
	// file does not grow by the burst's worth.
	burst(2000)
	second := folded()
	if grown := walSize() - size; grown > size/2 {
		t.Errorf("WAL grew by %d bytes to %d on the second burst (first burst: %d frames, second: %d); want it reused", grown, walSize(), first.Log, second.Log)
	}
	if n, err := s.Count(ctx, store.Query{Tenant: "tenant", Kind: extdir.KindPending, Top: 1}); err != nil || n != 4000 {
		t.Fatalf("count %d, %v; want 4000", n, err)
	}
}
