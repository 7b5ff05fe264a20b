package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
)

// A read whose context ends while SQLite makes it wait returns the
// context's error then, not when the busy timeout (5 s) runs out: the
// request deadline of extdir serve reaches the statement. An in-memory
// database makes the wait happen on demand, since a read there waits for
// an open write transaction (a file's WAL lets it through).
func TestAnEndedContextEndsAWaitingRead(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Memory)
	p := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// The callback runs inside the write transaction, which it holds
		// open until released.
		_, err := s.Update(ctx, "tenant", p.ID, store.Unaudited(func(*extdir.Profile) error {
			close(entered)
			<-release
			return nil
		}))

		done <- err
	}()
	<-entered
	readCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := s.Get(readCtx, "tenant", p.ID)
	cancel()
	// The writer holds the lock until after this: only the deadline can
	// have ended the read's wait (the busy timeout would fail it with
	// SQLITE_BUSY).
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("get past its deadline: %v, want context.DeadlineExceeded", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
