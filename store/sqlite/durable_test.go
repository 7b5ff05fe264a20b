package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/extdir/extdir/store/conformance"
)

// A failed fsync is final: the commit it was for, and every later one, is
// refused, even though a later fsync might seem to succeed.
func TestFailedSyncIsFinal(t *testing.T) {
	// Neither the WAL nor the database exists: the sync cannot open either.
	d := newDurability(filepath.Join(t.TempDir(), "missing", "extdir.db"))
	defer func() {
		close(d.queue)
		<-d.done
	}()
	err := d.await(d.begin())
	if err == nil || !strings.Contains(err.Error(), "not durable") {
		t.Fatalf("await after a failed sync: %v, want a 'not durable' error", err)
	}
	if d.failure() == nil {
		t.Fatal("the failure was not kept")
	}
	if err := d.readBarrier(); err == nil {
		t.Fatal("a read after a failed sync succeeded")
	}
	if err := d.await(d.begin()); err == nil {
		t.Fatal("a later commit was declared durable after a failed sync")
	}
}

// Every write that returned is durable, and so is what every read saw:
// once a call has returned, the syncer has passed its commit.
func TestWritesAndReadsWaitForTheSync(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "extdir.db"))
	ctx := context.Background()
	for i := range 20 {
		p := conformance.Profile("tenant", i)
		if err := s.Create(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		if c, d := s.durable.committing.Load(), s.durable.synced.Load(); d < c {
			t.Fatalf("create %d returned with commit %d begun but only %d synced", i, c, d)
		}
		if _, err := s.Get(ctx, "tenant", p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if s.durable.f == nil {
		t.Fatal("the syncer never opened the WAL: nothing was fsynced")
	}
}
