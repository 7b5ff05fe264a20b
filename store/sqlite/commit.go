package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Group commit. SQLite has one writer, and a durable commit costs an fsync
// of the WAL, which dwarfs the work of a single insert or update. So every
// write (Create, Update, Remove) is handed to one committer goroutine, which
// takes whatever writes are waiting, runs each inside its own SAVEPOINT of
// one transaction, and commits them with a single fsync. A write whose step
// fails is rolled back to its savepoint alone: its neighbours in the batch
// are unaffected, and each write still sees every earlier write of the batch,
// so uniqueness and If-Match keep their serial meaning. No caller hears
// "done" before the commit that holds its write has returned.

// maxBatch bounds one transaction, so that a flood of writers still gets
// answers in steady slices.
const maxBatch = 256

// writeOp is one write waiting for the committer.
type writeOp struct {
	ctx  context.Context
	step func(tx *sql.Tx) error
	done chan error
}

// write runs step in the next group-committed transaction and returns once
// that transaction is durable (or step failed and was rolled back).
func (s *Store) write(ctx context.Context, step func(tx *sql.Tx) error) error {
	op := &writeOp{ctx: ctx, step: step, done: make(chan error, 1)}
	select {
	case s.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the op may be committed whatever happens to ctx, so the
	// caller must hear the outcome before it can answer anyone.
	return <-op.done
}

// commitLoop is the committer goroutine; it ends when ops is closed.
func (s *Store) commitLoop() {
	defer close(s.committerDone)
	batch := make([]*writeOp, 0, maxBatch)
	for op := range s.ops {
		batch = append(batch[:0], op)
	drain:
		for len(batch) < maxBatch {
			select {
			case next, ok := <-s.ops:
				if !ok {
					break drain
				}
				batch = append(batch, next)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
	}
}

// commitBatch runs the batch in one transaction and answers every op.
func (s *Store) commitBatch(batch []*writeOp) {
	results := make([]error, len(batch))
	finish := func(err error) {
		for i, op := range batch {
			if results[i] == nil {
				results[i] = err
			}
			op.done <- results[i]
		}
	}
	// The statements run under a context of their own: a write that has
	// started is carried through, so that its caller's cancellation cannot
	// leave the transaction half-done for its neighbours.
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		finish(fmt.Errorf("sqlite: write: begin: %w", err))
		return
	}
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			results[i] = err // abandoned before it started: nothing written
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT write_op"); err != nil {
			results[i] = fmt.Errorf("sqlite: write: savepoint: %w", err)
			continue
		}
		if err := op.step(tx); err != nil {
			results[i] = err
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO write_op"); rerr != nil {
				// The transaction can no longer be trusted: give up on all.
				_ = tx.Rollback()
				finish(fmt.Errorf("sqlite: write: rollback to savepoint: %w", rerr))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE write_op"); err != nil {
			_ = tx.Rollback()
			finish(fmt.Errorf("sqlite: write: release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		// Nothing of the batch is durable: every op that had succeeded fails.
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("sqlite: write: commit: %w", err)
			}
		}
	}
	finish(nil)
}
