package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
)

// A write whose caller gives up once it has started is carried through:
// its statements do not watch the caller's context, so no interrupt can
// roll back the batch under its neighbours.
func TestAStartedWriteOutlivesItsContext(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "extdir.db"))
	bg := context.Background()
	p := conformance.Profile("tenant", 1)
	if err := s.Create(bg, p, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	_, err := s.Update(ctx, "tenant", p.ID, store.Unaudited(func(q *extdir.Profile) error {
		title := "after the cancel"
		q.JobTitle = &title
		cancel()
		return nil
	}))

	if err != nil {
		t.Fatalf("update canceled while it ran: %v, want it carried through", err)
	}
	got, err := s.Get(bg, "tenant", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.JobTitle == nil || *got.JobTitle != "after the cancel" {
		t.Fatalf("jobTitle %v after the update returned nil", got.JobTitle)
	}

	// A write whose context ended before its turn is not run at all.
	if err := s.Create(ctx, conformance.Profile("tenant", 2), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("create on a canceled context: %v, want context.Canceled", err)
	}
}

// A step that fails with its context's error may have been interrupted in
// a statement, which rolls SQLite's transaction back: the batch is
// abandoned, and the write that had succeeded in it fails rather than be
// acknowledged and lost.
func TestAnInterruptedStepAbandonsItsBatch(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "extdir.db"))
	bg := context.Background()
	first := conformance.Profile("tenant", 1)
	ok := &writeOp{ctx: bg, done: make(chan error, 1), step: func(tx *sql.Tx) error {
		_, err := tx.StmtContext(bg, s.insert).ExecContext(bg, profileArgs(first, first.Tenant, int64(first.Kind))...)
		return err
	}}
	interrupted := &writeOp{ctx: bg, done: make(chan error, 1), step: func(*sql.Tx) error {
		return context.DeadlineExceeded
	}}
	// Built by hand, as the committer would, so that both writes share one
	// batch: the committer goroutine waits on an empty queue meanwhile.
	b := s.beginBatch(ok)
	if b == nil {
		t.Fatalf("begin batch: %v", <-ok.done)
	}
	b.run(interrupted)
	<-s.durable.ready
	s.commitBatch(b)
	if err := <-ok.done; err == nil {
		t.Fatal("the write beside an interrupted one was acknowledged")
	}
	if err := <-interrupted.done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("interrupted write: %v, want its context's error", err)
	}
	if _, err := s.Get(bg, "tenant", first.ID); extdir.ErrorCode(err) != extdir.ENotFound {
		t.Fatalf("get the abandoned write: %v, want not found", err)
	}
	// The store goes on writing.
	if err := s.Create(bg, conformance.Profile("tenant", 2), nil); err != nil {
		t.Fatalf("create after an abandoned batch: %v", err)
	}
}
