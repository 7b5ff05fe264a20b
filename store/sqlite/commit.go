package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Group commit. SQLite has one writer, and a durable commit costs an fsync
// of the WAL, which dwarfs the work of a single insert or update. So every
// write (Create, Update, Purge) is handed to one committer goroutine, which
// takes whatever writes are waiting, runs them in one transaction, commits,
// and hands the batch to the syncer (durable.go), which fsyncs the WAL once
// for every batch committed meanwhile and only then answers the callers.
//
// Each write makes at most one change, one INSERT, UPDATE or DELETE, as the
// last thing it does that can fail (a step may read first). SQLite undoes a
// failing statement by itself (ON CONFLICT ABORT) and leaves the
// transaction open, so a write that fails leaves nothing behind and its
// neighbours in the batch are unaffected, without a savepoint per write; and
// each write sees every earlier write of the batch, so uniqueness and
// If-Match keep their serial meaning.

// A write that records an audit record makes two changes: the profile's,
// then the record's. The record's INSERT comes last and cannot meet a
// constraint a client can cause (its id is a fresh GUID), so the rule above
// still holds for every failure a client sees; any failure of the second
// statement is a secondStatementError, which abandons the whole batch (run)
// so that the first statement's change is never committed alone.

// secondStatementError is the failure of a write's second statement.
type secondStatementError struct{ err error }

func (e *secondStatementError) Error() string { return e.err.Error() }
func (e *secondStatementError) Unwrap() error { return e.err }

// maxBatch bounds one transaction, so that a flood of writers still gets
// answers in steady slices.
const maxBatch = 256

// writeOp is one write waiting for the committer.
type writeOp struct {
	ctx  context.Context
	step func(tx *sql.Tx) error
	done chan error
	// committed, if set, runs on the committer once the batch holding the
	// write has committed, before the syncer can answer anyone: it drops
	// what the write changed from the profile cache (cache.go).
	committed func()
}

// write runs step in the next group-committed transaction and returns once
// that transaction is durable (or step failed and was rolled back).
//
// ctx bounds the wait for the committer, and a write whose ctx has ended
// before its turn is not run at all; once step has started, it runs to its
// end. So step runs its statements on context.WithoutCancel(ctx), never on
// ctx itself: the driver answers a context that ends during a statement by
// interrupting it, and SQLite answers an interrupted INSERT, UPDATE or
// DELETE by rolling back the whole transaction, the batch's neighbours'
// writes with it, after which they would run on outside any transaction.
// A request deadline (extdir serve --request-timeout) or a client that
// hangs up would reach exactly that.
func (s *Store) write(ctx context.Context, step func(tx *sql.Tx) error, committed func()) error {
	op := &writeOp{ctx: ctx, step: step, done: make(chan error, 1), committed: committed}
	select {
	case s.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the op may be committed whatever happens to ctx, so the
	// caller must hear the outcome before it can answer anyone.
	return <-op.done
}

// commitLoop is the committer goroutine. It runs each write as soon as it
// arrives, in the open transaction, and commits that transaction when the
// syncer is free to take it (or maxBatch writes are in it): the writes that
// arrive during one fsync all share the next, and the committer's work
// overlaps the syncer's. It ends when ops is closed, and closes the syncer's
// queue as it goes.
func (s *Store) commitLoop() {
	defer close(s.committerDone)
	defer close(s.durable.queue)
	ops := s.ops
	for ops != nil {
		op, ok := <-ops
		if !ok {
			return
		}
		s.checkpoints.catchUp(s.writer)
		b := s.beginBatch(op)
		if b == nil {
			continue
		}
		free := false // whether the syncer's token is in hand
	fill:
		for len(b.ops) < maxBatch {
			// Writes already waiting go in first, whatever the syncer does.
			select {
			case next, ok := <-ops:
				if !ok {
					ops = nil
					break fill
				}
				b.run(next)
				continue
			default:
			}
			select {
			case next, ok := <-ops:
				if !ok {
					ops = nil
					break fill
				}
				b.run(next)
			case <-s.durable.ready:
				free = true
				break fill
			}
		}
		if !free {
			<-s.durable.ready
		}
		s.commitBatch(b)
	}
}

// batch is the open transaction and the writes run in it so far.
type batch struct {
	tx      *sql.Tx
	ops     []*writeOp
	results []error
	// broken is the error that cost the batch its transaction, if any.
	broken error
}

// beginBatch opens a transaction and runs op in it; if that fails, op is
// answered and beginBatch returns nil.
func (s *Store) beginBatch(op *writeOp) *batch {
	if err := s.durable.failure(); err != nil {
		op.done <- err
		return nil
	}
	// The statements run under a context of their own: a write that has
	// started is carried through, so that its caller's cancellation cannot
	// leave the transaction half-done for its neighbours.
	tx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		op.done <- fmt.Errorf("sqlite: write: begin: %w", err)
		return nil
	}
	b := &batch{tx: tx, ops: make([]*writeOp, 0, 16), results: make([]error, 0, 16)}
	b.run(op)
	return b
}

// run runs one write in the batch's transaction.
//
// A constraint failure undoes its statement only, but SQLite may roll back
// the whole transaction on other errors (a full disk, an I/O error, lost
// memory), and the writes after it would then run outside it. So on any
// SQLite error that is not a constraint failure the batch is abandoned:
// nothing of it is committed and every write of it fails, the ones that
// had succeeded too, rather than be acknowledged and lost.
func (b *batch) run(op *writeOp) {
	var err error
	switch {
	case b.broken != nil:
		err = b.broken
	case op.ctx.Err() != nil:
		err = op.ctx.Err() // abandoned before it started: nothing written
	default:
		err = op.step(b.tx)
		var se *sqlite.Error
		var second *secondStatementError
		switch {
		case errors.As(err, &second):
			// The write's first statement is in the transaction and cannot
			// be undone alone: the whole batch goes, rather than a change
			// without its audit record.
			b.broken = fmt.Errorf("sqlite: write: batch abandoned: %w", err)
		case errors.As(err, &se) && se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT:
			b.broken = fmt.Errorf("sqlite: write: batch abandoned: %w", err)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			// The driver reports an interrupted statement as the context's
			// error, not as a SQLite error, and the interrupt may have rolled
			// the transaction back (write says why steps avoid it).
			b.broken = fmt.Errorf("sqlite: write: batch abandoned: a statement was interrupted: %w", err)
		}
	}
	b.ops = append(b.ops, op)
	b.results = append(b.results, err)
}

// commitBatch commits the batch and hands it to the syncer, whose token the
// caller holds; the syncer answers every write of it.
func (s *Store) commitBatch(b *batch) {
	if b.broken != nil {
		_ = b.tx.Rollback()
		for i := range b.results {
			if b.results[i] == nil {
				b.results[i] = b.broken
			}
		}
		s.durable.queue <- pendingBatch{ops: b.ops, results: b.results}
		return
	}
	seq := s.durable.begin()
	if err := b.tx.Commit(); err != nil {
		// Nothing of the batch is committed: every write that had succeeded
		// fails. A commit counted but not made costs a needless sync, no more.
		for i := range b.results {
			if b.results[i] == nil {
				b.results[i] = fmt.Errorf("sqlite: write: commit: %w", err)
			}
		}
	} else {
		for _, op := range b.ops {
			if op.committed != nil {
				op.committed()
			}
		}
		if s.onCommit != nil {
			s.onCommit(len(b.ops))
		}
	}
	s.durable.queue <- pendingBatch{seq: seq, ops: b.ops, results: b.results}
}
