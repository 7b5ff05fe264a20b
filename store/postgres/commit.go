package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlstore"
)

// Group commit. A durable create costs one WAL flush, and on one node the
// flushes, not the statements, are what bounds creates per second. So
// concurrent Creates do not each commit on their own: they queue, and a
// committer goroutine takes everything queued (up to a batch's maximum) as
// soon as it is free, and sends it as one pipelined pgx batch: every
// member's statement, then one Sync, which PostgreSQL runs as one implicit
// transaction. One round trip and one flush serve the whole batch, and each
// member is answered once that transaction's COMMIT has returned.
//
// There is no timer: a lone create finds an idle committer and is sent at
// once, so it costs what it did before; under load, creates queue while a
// batch is in flight, and the next batch is as large as the load made it.
//
// A clash must not abort the neighbours, so a member's insert is
// ON CONFLICT DO NOTHING (with no conflict target it covers every unique
// index: the (tenant, id) key and the partial live-phone index), and its
// audit record is inserted from the inserted row, so a clash writes
// neither. A member whose insert returned no row is then run again alone,
// as Create ran before group commit (a plain INSERT, after the batch has
// committed): that answers it with the very error it always got, phone or
// id told apart by the violated constraint, and two creates of one phone in
// one batch end as they would one after the other. Any error of the batch
// itself (a value the database refuses, a serialization failure or
// deadlock, a statement timeout) has rolled all of it back, so every member
// is run again alone, and gets its own true answer. Only an error that
// leaves the outcome unknown (the connection broke after the batch was
// sent) is answered to every member as is: the batch may have committed,
// so running it again could turn a created profile into a clash, and this
// is the answer each would have had from its own statement.

// Defaults of the group commit options.
const (
	DefaultCreateBatch = 128
	DefaultCommitters  = 2
)

// The states of a queued create.
const (
	queued    int32 = iota // waiting for a committer
	taken                  // in a batch: its caller waits for the outcome
	abandoned              // its caller's context ended first: never sent
)

// createReq is one Create waiting in the queue.
type createReq struct {
	ctx   context.Context
	query string // insertOrNothing or insertAuditedOrNothing
	args  []any
	state atomic.Int32
	done  chan createResult // buffered: the committer never waits for the caller
}

// createResult is the outcome of a queued create: its seq, or alone when
// the batch could not answer for it and the caller is to run its create on
// its own, or an error that is its answer.
type createResult struct {
	seq   int64
	alone bool
	err   error
}

// committer runs the group commit of one Store's creates.
type committer struct {
	pool     *pgxpool.Pool
	maxBatch int

	mu    sync.Mutex
	queue []*createReq
	wake  chan struct{} // a token when the queue may have work
	stop  chan struct{}
	wg    sync.WaitGroup

	// batches and members count what was sent, for the benchmarks.
	batches, members atomic.Int64

	// Test hooks, set before the first Create: beforeTake runs before a
	// committer takes a batch; inject may queue more statements on a
	// batch, after its members'.
	beforeTake func()
	inject     func(*pgx.Batch)
}

func newCommitter(pool *pgxpool.Pool, maxBatch, committers int) *committer {
	c := &committer{pool: pool, maxBatch: maxBatch, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	c.wg.Add(committers)
	for range committers {
		go c.run()
	}
	return c
}

// close stops the committers. The store's gate has closed before, so no
// create is queued or in flight.
func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
}

// create queues a create and waits for its outcome. A caller whose context
// ends while the create is still queued gets the context's error, and its
// create is never sent; once a committer has taken it into a batch, the
// caller waits for that batch's outcome whatever its context, since the
// batch may already be on its way and is committed or not for all its
// members at once.
func (c *committer) create(ctx context.Context, query string, args []any) createResult {
	if err := ctx.Err(); err != nil {
		return createResult{err: err}
	}
	r := &createReq{ctx: ctx, query: query, args: args, done: make(chan createResult, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // a token is waiting already
	}
	select {
	case res := <-r.done:
		return res
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return createResult{err: ctx.Err()}
		}
		return <-r.done
	}
}

// queued reports how many creates wait in the queue (for tests).
func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

func (c *committer) run() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		for {
			if c.beforeTake != nil {
				c.beforeTake()
			}
			batch := c.take()
			if batch == nil {
				break
			}
			if len(batch) > 0 {
				c.commit(batch)
			}
		}
	}
}

// take removes up to maxBatch creates from the queue and returns those whose
// callers still wait (maybe none), or nil when the queue was empty.
func (c *committer) take() []*createReq {
	c.mu.Lock()
	n := min(len(c.queue), c.maxBatch)
	if n == 0 {
		c.mu.Unlock()
		return nil
	}
	got := make([]*createReq, n)
	copy(got, c.queue)
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	c.mu.Unlock()
	if rest > 0 {
		// More than one batch waits: another committer may take the rest.
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	batch := got[:0]
	for _, r := range got {
		if !r.state.CompareAndSwap(queued, taken) {
			continue // abandoned: its caller has returned
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- createResult{err: err}
			continue
		}
		batch = append(batch, r)
	}
	return batch
}

// commit sends one batch and answers each of its members. The batch runs
// on a context of its own: it serves several callers, and it is bounded by
// the statement timeout on the server.
func (c *committer) commit(batch []*createReq) {
	c.batches.Add(1)
	c.members.Add(int64(len(batch)))
	var b pgx.Batch
	for _, r := range batch {
		b.Queue(r.query, r.args...)
	}
	if c.inject != nil {
		c.inject(&b)
	}
	results := c.pool.SendBatch(context.Background(), &b)
	seqs := make([]int64, len(batch))
	inserted := make([]bool, len(batch))
	var err error
	for i := range batch {
		switch e := results.QueryRow().Scan(&seqs[i]); {
		case e == nil:
			inserted[i] = true
		case errors.Is(e, pgx.ErrNoRows): // a clash: nothing written
		default:
			err = e
		}
		if err != nil {
			break
		}
	}
	// Close reads the rest, the COMMIT's outcome included: only now is the
	// batch durable.
	if cerr := results.Close(); err == nil {
		err = cerr
	}
	for i, r := range batch {
		switch {
		case err == nil && inserted[i]:
			r.done <- createResult{seq: seqs[i]}
		case err == nil || rolledBack(err):
			r.done <- createResult{alone: true}
		default:
			r.done <- createResult{err: err}
		}
	}
}

// rolledBack reports whether a batch that failed with err surely committed
// nothing: pgx sent nothing, or the server answered with an error (not a
// fatal one, which may end the session after a commit), which aborts the
// implicit transaction of the batch.
func rolledBack(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Severity == "ERROR"
}

// The statements of a batch member: insertProfile and insertProfileAudited
// that write nothing, and return no row, on a clash.
var (
	insertOrNothing        = insertProfileValues + " ON CONFLICT DO NOTHING RETURNING seq"
	insertAuditedOrNothing = "WITH p AS (" + insertOrNothing + "), a AS (" + auditFromInserted(sqlstore.AuditInsertSQLAfter(dialect, 2+len(extdir.Columns))) + ") SELECT seq FROM p"
)

// auditFromInserted turns the audit insert "INSERT INTO audits (...) VALUES
// (...)" into "INSERT INTO audits (...) SELECT ... FROM p": one record for
// a row inserted in the CTE p, none for a clash.
func auditFromInserted(insert string) string {
	head, values, ok := strings.Cut(insert, ") VALUES (")
	if !ok || !strings.HasSuffix(values, ")") {
		panic("postgres: unexpected audit insert: " + insert)
	}
	return head + ") SELECT " + strings.TrimSuffix(values, ")") + " FROM p"
}
