package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
)

// A repeated read by id is answered from the cache: a change made behind
// the store's back (which the lock file rules out in production) is not
// seen until the store itself changes the row.
func TestRepeatedReadsComeFromTheCache(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "extdir.db"))
	ctx := context.Background()
	p := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "tenant", p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.Exec("UPDATE profiles SET display_name = 'behind its back' WHERE id = ?", p.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "tenant", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != p.DisplayName {
		t.Fatalf("second read: displayName %q, want the cached %q", got.DisplayName, p.DisplayName)
	}
	// What a caller does to the profile it got does not reach the cache.
	got.DisplayName = "changed by the caller"
	if again, _ := s.Get(ctx, "tenant", p.ID); again.DisplayName != p.DisplayName {
		t.Fatalf("third read: %q, want %q", again.DisplayName, p.DisplayName)
	}
	title := "through the store"
	if _, err := s.Update(ctx, "tenant", p.ID, store.Unaudited(func(q *extdir.Profile) error { q.JobTitle = &title; return nil })); err != nil {
		t.Fatal(err)
	}
	got, err = s.Get(ctx, "tenant", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.JobTitle == nil || *got.JobTitle != title || got.DisplayName != "behind its back" {
		t.Fatalf("after an update: %q, %v; want the row as stored", got.DisplayName, got.JobTitle)
	}
}

// Every change through the store drops the entries it changes: a read
// after it sees the change, whichever write made it.
func TestEveryWriteDropsWhatItChanges(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "extdir.db"))
	ctx := context.Background()
	mk := func(n int) *extdir.Profile {
		p := conformance.Profile("tenant", n)
		if err := s.Create(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "tenant", p.ID); err != nil { // cached
			t.Fatal(err)
		}
		return p
	}
	gone := func(what string, p *extdir.Profile) {
		t.Helper()
		if _, err := s.Get(ctx, "tenant", p.ID); extdir.ErrorCode(err) != extdir.ENotFound {
			t.Fatalf("read after %s: %v, want not found", what, err)
		}
	}

	purged := mk(1)
	if err := s.Purge(ctx, "tenant", purged.ID, store.Unaudited(func(*extdir.Profile) error { return nil })); err != nil {
		t.Fatal(err)
	}
	gone("a purge", purged)

	deleted := mk(2)
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Update(ctx, "tenant", deleted.ID, store.Unaudited(func(q *extdir.Profile) error { q.DeletedDateTime = &when; return nil })); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "tenant", deleted.ID); err != nil || got.DeletedDateTime == nil {
		t.Fatalf("read after a soft delete: %v, %v; want it deleted", got, err)
	}
	if n, err := s.Expire(ctx, when.Add(time.Second), nil); err != nil || n != 1 {
		t.Fatalf("expire: %d, %v", n, err)
	}
	gone("the retention purge", deleted)

	reset := mk(3)
	if _, err := s.Reset(ctx, "tenant"); err != nil {
		t.Fatal(err)
	}
	gone("a reset", reset)
	if n := s.cache.len(); n != 0 {
		t.Fatalf("%d entries after the reset, want 0", n)
	}
}

// Reads racing writes never go back in time: once an update has returned,
// every read that starts after it sees that update or a later one.
func TestCachedReadsNeverGoBackInTime(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "extdir.db"))
	ctx := context.Background()
	const rows, writes = 4, 300
	ids := make([]string, rows)
	for i := range rows {
		p := conformance.Profile("tenant", i)
		if err := s.Create(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		ids[i] = p.ID
	}
	var acked [rows]struct {
		sync.Mutex
		n int
	}
	version := func(p *extdir.Profile) int {
		if p.JobTitle == nil {
			return 0
		}
		var n int
		fmt.Sscanf(*p.JobTitle, "v%d", &n)
		return n
	}
	var wg sync.WaitGroup
	for r := range rows {
		wg.Go(func() { // the row's only writer
			for n := 1; n <= writes; n++ {
				title := fmt.Sprintf("v%d", n)
				if _, err := s.Update(ctx, "tenant", ids[r], store.Unaudited(func(q *extdir.Profile) error { q.JobTitle = &title; return nil })); err != nil {
					t.Error(err)
					return
				}
				acked[r].Lock()
				acked[r].n = n
				acked[r].Unlock()
			}
		})
		for range 3 {
			wg.Go(func() {
				for range writes {
					acked[r].Lock()
					floor := acked[r].n
					acked[r].Unlock()
					p, err := s.Get(ctx, "tenant", ids[r])
					if err != nil {
						t.Error(err)
						return
					}
					if v := version(p); v < floor {
						t.Errorf("row %d: read version %d after version %d was acknowledged", r, v, floor)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}
