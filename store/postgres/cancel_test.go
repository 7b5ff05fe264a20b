package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
)

// A call whose context ends (a request past extdir serve --request-timeout)
// cancels its statement on the server, rather than leave it running there
// for a client that is gone, holding a connection and its locks.
func TestAnEndedContextCancelsTheStatementOnTheServer(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, schemaURL(t), Options{MaxConns: 4, StatementTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	p := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	// One update holds the row's lock until released; a second waits for it.
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, "tenant", p.ID, store.Unaudited(func(*extdir.Profile) error {
			close(entered)
			<-release
			return nil
		}))

		done <- err
	}()
	<-entered
	defer func() {
		close(release)
		if err := <-done; err != nil {
			t.Errorf("the update holding the lock: %v", err)
		}
	}()
	waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = s.Update(waitCtx, "tenant", p.ID, store.Unaudited(func(q *extdir.Profile) error {
		title := "never"
		q.JobTitle = &title
		return nil
	}))

	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("update past its deadline: %v, want context.DeadlineExceeded", err)
	}
	// pgx sends the server a cancel request as it gives the connection up,
	// on a goroutine of its own: the statement is gone from the server soon
	// after the call returns, long before the minute of the statement
	// timeout, and the lock's holder is still holding it. Only waits for a
	// row count: the tests of the package share the database, and a store
	// opening beside this one waits on the migrations' advisory lock.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		var waiting int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'
			AND wait_event IN ('transactionid', 'tuple')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%d statements still wait for a lock on the server 20 s after their call returned", waiting)
		}
	}
}
