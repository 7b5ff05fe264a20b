package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
// soon as it is free, and inserts it with one statement (batchInsert; a
// batch of one, the lone create of a quiet node, with the one-row insert),
// in one transaction, one round trip and one flush. Each member is answered
// once that transaction's COMMIT has returned.
//
// There is no timer: a lone create finds an idle committer and is sent at
// once, so it costs what it did before; under load, creates queue while a
// batch is in flight, and the next batch is as large as the load made it.
//
// One statement for the whole batch, rather than one per member, since on
// the server a statement's own cost (binding, planning and starting the
// executor) is about half of what a one-row insert costs: every value goes
// as one array per column, unnested into rows.
//
// A clash must not abort the neighbours, so the insert is ON CONFLICT DO
// NOTHING (with no conflict target it covers every unique index: the
// (tenant, id) key and the partial live-phone index), and the audit records
// are inserted only for the rows inserted, so a clash writes neither. A
// member whose row was not inserted is then run again alone, as Create ran
// before group commit (a plain INSERT, after the batch has committed): that
// answers it with the very error it always got, phone or id told apart by
// the violated constraint, and two creates of one phone in one batch end as
// they would one after the other. Any error of the batch itself (a value
// the database refuses, a serialization failure or deadlock, a statement
// timeout) has rolled all of it back, so every member is run again alone,
// and gets its own true answer. Only an error that leaves the outcome
// unknown (the connection broke after the batch was sent) is answered to
// every member as is: the batch may have committed, so running it again
// could turn a created profile into a clash, and this is the answer each
// would have had from its own statement.

// Defaults of the group commit options. One committer beat two by 1.28×
// (median of three interleaved runs) on audited creates over HTTP at 64
// connections on two cores: its batches are about twice as large.
const (
	DefaultCreateBatch = 128
	DefaultCommitters  = 1
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
	row   []any // profileArgs
	audit []any // sqlstore.AuditArgs, or nil for none
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
func (c *committer) create(ctx context.Context, row, audit []any) createResult {
	if err := ctx.Err(); err != nil {
		return createResult{err: err}
	}
	r := &createReq{ctx: ctx, row: row, audit: audit, done: make(chan createResult, 1)}
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
			if c.queued() == 0 {
				break
			}
			// A connection first, then the batch: creates queued while
			// every connection is busy stay in the queue, where their
			// callers may still give up.
			conn, err := c.pool.Acquire(context.Background())
			batch := c.take()
			switch {
			case err != nil:
				for _, r := range batch {
					r.done <- createResult{err: err}
				}
			case len(batch) > 0:
				c.commit(conn, batch)
			}
			if conn != nil {
				conn.Release()
			}
		}
	}
}

// take removes up to maxBatch creates from the queue and returns those whose
// callers still wait (maybe none).
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
	type key struct{ tenant, id any }
	ids := make(map[key]bool, n)
	for _, r := range got {
		if !r.state.CompareAndSwap(queued, taken) {
			continue // abandoned: its caller has returned
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- createResult{err: err}
			continue
		}
		// The inserted rows are matched to members by (tenant, id), so a
		// batch holds each at most once; a second create of one id (which
		// a client cannot cause: ids are the server's) runs alone, and
		// meets the first on the key.
		k := key{r.row[0], r.row[idArg]}
		if ids[k] {
			r.done <- createResult{alone: true}
			continue
		}
		ids[k] = true
		batch = append(batch, r)
	}
	return batch
}

// commit sends one batch and answers each of its members. The batch runs
// on a context of its own: it serves several callers, and it is bounded by
// the statement timeout on the server.
func (c *committer) commit(conn *pgxpool.Conn, batch []*createReq) {
	c.batches.Add(1)
	c.members.Add(int64(len(batch)))
	if len(batch) == 1 && c.inject == nil {
		c.commitOne(conn, batch[0])
		return
	}
	args := make([]any, 0, len(batchColumns)+len(batchAuditColumns))
	for i := range batchColumns {
		col := make([]any, len(batch))
		for j, r := range batch {
			col[j] = r.row[i]
		}
		args = append(args, col)
	}
	for i := range batchAuditColumns {
		col := make([]any, len(batch))
		for j, r := range batch {
			if r.audit != nil {
				col[j] = r.audit[i]
			}
		}
		args = append(args, col)
	}
	var b pgx.Batch
	b.Queue(batchInsert, args...)
	if c.inject != nil {
		c.inject(&b)
	}
	results := conn.SendBatch(context.Background(), &b)
	seqs := make([]int64, len(batch))
	rows, err := results.Query()
	if err == nil {
		var ord, seq int64
		_, err = pgx.ForEachRow(rows, []any{&ord, &seq}, func() error {
			if ord < 1 || ord > int64(len(batch)) || seqs[ord-1] != 0 {
				return fmt.Errorf("postgres: group commit: row %d of a batch of %d, twice or out of range", ord, len(batch))
			}
			seqs[ord-1] = seq
			return nil
		})
	}
	// Close reads the rest, the COMMIT's outcome included: only now is the
	// batch durable.
	if cerr := results.Close(); err == nil {
		err = cerr
	}
	for i, r := range batch {
		switch {
		case err == nil && seqs[i] != 0:
			r.done <- createResult{seq: seqs[i]}
		case err == nil || rolledBack(err):
			r.done <- createResult{alone: true}
		default:
			r.done <- createResult{err: err}
		}
	}
}

// commitOne sends a batch of one, the lone create of a quiet node, as the
// one-row statement it was before group commit: the batch statement costs
// a lone create a third more (its arrays, its join). The answers are the
// batch's.
func (c *committer) commitOne(conn *pgxpool.Conn, r *createReq) {
	query, args := insertOrNothing, r.row
	if r.audit != nil {
		query, args = insertAuditedOrNothing, append(r.row[:len(r.row):len(r.row)], r.audit...)
	}
	var seq int64
	// Scan reads the statement to its end, the COMMIT's outcome included.
	switch err := conn.QueryRow(context.Background(), query, args...).Scan(&seq); {
	case err == nil:
		r.done <- createResult{seq: seq}
	case errors.Is(err, pgx.ErrNoRows) || rolledBack(err): // a clash, or nothing written
		r.done <- createResult{alone: true}
	default:
		r.done <- createResult{err: err}
	}
}

// The statement of a batch of one: insertProfile and insertProfileAudited
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

// batchInsert inserts a batch: $1 to $n are one array per column of
// profileArgs, one element per member, and the arrays after them are the
// audit records' columns (all NULL for a member without one). It returns
// the position (from 1) and seq of every member inserted; a member that
// clashed has no row, and no audit record.
var batchInsert, batchColumns, batchAuditColumns = func() (string, []string, []string) {
	cols := []string{"tenant", "kind"}
	types := []string{"text", "smallint"}
	for _, c := range extdir.Columns {
		cols = append(cols, c.Column)
		switch c.Type {
		case extdir.TypeString:
			types = append(types, "text")
		case extdir.TypeBoolean:
			types = append(types, "boolean")
		case extdir.TypeDateTimeOffset:
			types = append(types, "bigint")
		case extdir.TypeInt32:
			types = append(types, "integer")
		default:
			panic("postgres: no array type for column " + c.Column)
		}
	}
	// The audit columns are AuditInsertSQL's, their types those of the
	// values AuditArgs gives for a record with every field set.
	list, _, ok := strings.Cut(strings.TrimPrefix(insertAuditSQL, "INSERT INTO audits ("), ") VALUES (")
	if !ok {
		panic("postgres: unexpected audit insert: " + insertAuditSQL)
	}
	acols := strings.Split(list, ", ")
	full := &extdir.AuditRecord{Initiator: extdir.Initiator{User: true, AppID: "a", AppName: "a", ServicePrincipalID: "a", UserID: "a", UPN: "a"}}
	var atypes []string
	for _, v := range sqlstore.AuditArgs(dialect, full) {
		switch v.(type) {
		case string:
			atypes = append(atypes, "text")
		case int64:
			atypes = append(atypes, "bigint")
		case bool:
			atypes = append(atypes, "boolean")
		default:
			panic(fmt.Sprintf("postgres: no array type for an audit value %T", v))
		}
	}
	if len(atypes) != len(acols) {
		panic("postgres: the audit insert and its arguments disagree")
	}
	unnest := func(alias string, from int, types, names []string) string {
		ps := make([]string, len(types))
		for i, t := range types {
			ps[i] = "$" + strconv.Itoa(from+i) + "::" + t + "[]"
		}
		return "unnest(" + strings.Join(ps, ", ") + ") WITH ORDINALITY AS " + alias + "(" + strings.Join(names, ", ") + ", ord)"
	}
	pl, al := strings.Join(cols, ", "), strings.Join(acols, ", ")
	sql := "WITH v AS (SELECT * FROM " + unnest("v", 1, types, cols) + "), " +
		"p AS (INSERT INTO profiles (" + pl + ") SELECT " + pl + " FROM v ORDER BY ord ON CONFLICT DO NOTHING RETURNING seq, tenant, id), " +
		"w AS (SELECT v.ord, p.seq FROM p JOIN v ON v.tenant = p.tenant AND v.id = p.id), " +
		"a AS (INSERT INTO audits (" + al + ") SELECT " + al + " FROM " + unnest("u", 1+len(cols), atypes, acols) +
		" JOIN w USING (ord) WHERE u.tenant IS NOT NULL ORDER BY ord) " +
		"SELECT ord, seq FROM w"
	return sql, cols, acols
}()

// idArg is where the id is in profileArgs.
var idArg = func() int {
	for i, c := range extdir.Columns {
		if c == idProperty {
			return 2 + i
		}
	}
	panic("postgres: no id column")
}()
