package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlstore"
)

// The statements below are built from extdir.Columns, so that a property is
// named once, in the property table; checkSchema holds the table to the
// same list.
var (
	// selectProfile reads a whole row: seq, tenant, kind, then every column.
	selectProfile = "SELECT seq, tenant, kind, " + sqlstore.ColumnList() + " FROM profiles"
	selectByID    = selectProfile + " WHERE tenant = $1 AND id = $2"
	// lockByID reads the row and locks it until the transaction ends: a
	// concurrent writer of the same row, on this node or another, waits here
	// and then reads what this one wrote.
	lockByID            = selectByID + " FOR UPDATE"
	insertProfileValues = "INSERT INTO profiles (tenant, kind, " + sqlstore.ColumnList() + ") VALUES (" + placeholders(1, 2+len(extdir.Columns)) + ")"
	insertProfile       = insertProfileValues + " RETURNING seq"
	// insertProfileAudited is insertProfile and the audit record's insert
	// in one statement: a data-modifying WITH commits both or neither.
	insertProfileAudited = "WITH p AS (" + insertProfile + "), a AS (" + sqlstore.AuditInsertSQLAfter(dialect, 2+len(extdir.Columns)) + ") SELECT seq FROM p"
	insertAuditSQL       = sqlstore.AuditInsertSQL(dialect)
	// updateProfile rewrites every column but the identity (tenant, id,
	// seq), and finds the row by its primary key (tenant, seq).
	updateProfile = func() string {
		var sb strings.Builder
		sb.WriteString("UPDATE profiles SET kind = $1")
		n := 1
		for _, p := range extdir.Columns {
			if p == idProperty {
				continue
			}
			n++
			sb.WriteString(", " + p.Column + " = $" + strconv.Itoa(n))
		}
		sb.WriteString(" WHERE tenant = $" + strconv.Itoa(n+1) + " AND seq = $" + strconv.Itoa(n+2))
		return sb.String()
	}()
	deleteBySeq = "DELETE FROM profiles WHERE tenant = $1 AND seq = $2"
)

// idProperty is the key: with the tenant, it names a row, so no update
// rewrites it.
var idProperty, _ = extdir.PropertyByName("id")

// placeholders returns "$from, ..., $to".
func placeholders(from, to int) string {
	ps := make([]string, 0, to-from+1)
	for n := from; n <= to; n++ {
		ps = append(ps, "$"+strconv.Itoa(n))
	}
	return strings.Join(ps, ", ")
}

// profileArgs lists tenant, kind and the value of every column of p, in
// insertProfile's order.
func profileArgs(p *extdir.Profile) []any {
	args := make([]any, 0, 2+len(extdir.Columns))
	args = append(args, p.Tenant, int16(p.Kind))
	for _, c := range extdir.Columns {
		args = append(args, sqlstore.Encode(dialect, c, c.Get(p)))
	}
	return args
}

// updateArgs lists the values of updateProfile for p.
func updateArgs(p *extdir.Profile) []any {
	args := make([]any, 0, len(extdir.Columns)+1)
	args = append(args, int16(p.Kind))
	for _, c := range extdir.Columns {
		if c != idProperty {
			args = append(args, sqlstore.Encode(dialect, c, c.Get(p)))
		}
	}
	return append(args, p.Tenant, p.Seq)
}

// rowBuffer receives the rows of selectProfile. One buffer serves every row
// of a result: the typed holders are scanned into again and again, and each
// row's values are copied out into a new Profile.
type rowBuffer struct {
	seq    int64
	tenant string
	kind   int16
	cols   []any // per column: *pgtype.Text, *pgtype.Bool or *pgtype.Int8
	dest   []any
}

func newRowBuffer() *rowBuffer {
	b := &rowBuffer{cols: make([]any, len(extdir.Columns))}
	b.dest = make([]any, 0, 3+len(extdir.Columns))
	b.dest = append(b.dest, &b.seq, &b.tenant, &b.kind)
	for i, c := range extdir.Columns {
		switch c.Type {
		case extdir.TypeString:
			b.cols[i] = new(pgtype.Text)
		case extdir.TypeBoolean:
			b.cols[i] = new(pgtype.Bool)
		default: // bigint seconds and integer epoch
			b.cols[i] = new(pgtype.Int8)
		}
	}
	b.dest = append(b.dest, b.cols...)
	return b
}

// profile builds the Profile of the row last scanned.
func (b *rowBuffer) profile() (*extdir.Profile, error) {
	p := &extdir.Profile{Seq: b.seq, Tenant: b.tenant, Kind: extdir.Kind(b.kind)}
	for i, c := range extdir.Columns {
		var v extdir.Value
		switch h := b.cols[i].(type) {
		case *pgtype.Text:
			v = extdir.Value{Null: !h.Valid, Str: h.String}
		case *pgtype.Bool:
			v = extdir.Value{Null: !h.Valid, Bool: h.Bool}
		case *pgtype.Int8:
			v.Null = !h.Valid
			if c.Type == extdir.TypeDateTimeOffset {
				v.Time = time.Unix(h.Int64, 0).UTC()
			} else {
				v.Int = h.Int64
			}
		}
		if v.Null && !c.Nullable {
			return nil, fmt.Errorf("profile seq %d: column %s is null", b.seq, c.Column)
		}
		c.Set(p, v)
	}
	return p, nil
}

// scanOne reads the single row of a query into a Profile; pgx.ErrNoRows when
// there is none.
func scanOne(row pgx.Row) (*extdir.Profile, error) {
	b := newRowBuffer()
	if err := row.Scan(b.dest...); err != nil {
		return nil, err
	}
	return b.profile()
}

// uniqueViolation maps a unique violation to the domain error it means, or
// returns nil for any other error. The violated constraint's name tells the
// two uniqueness rules of the table apart.
func uniqueViolation(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		return nil
	}
	switch pe.ConstraintName {
	case "profiles_live_phone":
		return extdir.ErrPhoneTaken
	case "profiles_tenant_id":
		return sqlstore.ErrDuplicateID
	}
	return nil
}

// maxAttempts bounds how often a write is tried when the database aborts it
// for a reason that a retry cures.
const maxAttempts = 10

// retryable reports whether the database aborted the statement or
// transaction only because of a concurrent one, so that running it again
// can succeed: a serialization failure (which a database running every
// transaction SERIALIZABLE, such as CockroachDB, reports routinely) or a
// deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// retry runs op until it succeeds, fails for a reason a retry does not
// cure, or has failed maxAttempts times; it waits a little longer before
// each new attempt, so that the transactions that collided drift apart.
func retry(ctx context.Context, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
	}
}

// Create inserts p and sets p.Seq; p's times are brought to whole seconds in
// UTC, as stored. Concurrent creates commit together (group commit, see
// commit.go); when Create returns, the row is durable.
func (s *Store) Create(ctx context.Context, p *extdir.Profile, rec *extdir.AuditRecord) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	sqlstore.Normalize(p)
	row := profileArgs(p)
	query, args := insertProfile, row
	var audit []any
	if rec != nil {
		// One statement, so one round trip and one transaction: both rows
		// or neither.
		audit = sqlstore.AuditArgs(dialect, rec)
		query, args = insertProfileAudited, append(row[:len(row):len(row)], audit...)
	}
	if s.commits != nil {
		res := s.commits.create(ctx, row, audit)
		switch {
		case res.err != nil:
			return dbError(fmt.Errorf("postgres: create profile %s: %w", p.ID, res.err))
		case !res.alone:
			p.Seq = res.seq
			s.noteCreated(1)
			return nil
		}
		// The batch could not answer for this create (commit.go): it runs
		// on its own, as without group commit.
	}
	var seq int64
	err := retry(ctx, func() error {
		return s.pool.QueryRow(ctx, query, args...).Scan(&seq)
	})
	if err != nil {
		if derr := uniqueViolation(err); derr != nil {
			return derr
		}
		return dbError(fmt.Errorf("postgres: create profile %s: %w", p.ID, err))
	}
	p.Seq = seq
	s.noteCreated(1)
	return nil
}

// Get returns the profile with the id in the tenant, live or soft-deleted,
// of either kind.
func (s *Store) Get(ctx context.Context, tenant, id string) (*extdir.Profile, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	p, err := scanOne(s.pool.QueryRow(ctx, selectByID, tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, extdir.NotFound(id)
	}
	if err != nil {
		return nil, dbError(fmt.Errorf("postgres: get profile %s: %w", id, err))
	}
	return p, nil
}

// Update runs fn on the current row, locked, inside a transaction, and
// writes back what it changed. fn must not change Tenant, Seq or ID: they
// identify the row. A callback that changes nothing costs no write. When
// the database aborts the transaction because of a concurrent one (a
// serialization failure or a deadlock), Update starts over with a fresh
// read, so fn may run more than once (up to maxAttempts times) and must
// decide from the profile it is given alone; it runs holding the row's lock
// and a pooled connection, so it must not call the store (store.Store.Update's
// callback rules).
func (s *Store) Update(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) (*extdir.AuditRecord, error)) (*extdir.Profile, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	var written *extdir.Profile
	err := s.writeTx(ctx, tenant, id, func(tx pgx.Tx, p *extdir.Profile) error {
		before, rec, err := sqlstore.RunUpdate(p, fn)
		if err != nil {
			return err
		}
		written = p
		if changed(before, p) {
			if _, err := tx.Exec(ctx, updateProfile, updateArgs(p)...); err != nil {
				if derr := uniqueViolation(err); derr != nil {
					return derr
				}
				return dbError(fmt.Errorf("postgres: update profile %s: %w", id, err))
			}
		}
		return insertAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	return written, nil
}

// changed reports whether b differs from a in anything the store keeps.
func changed(a, b *extdir.Profile) bool {
	if a.Kind != b.Kind {
		return true
	}
	for _, c := range extdir.Columns {
		if !sqlstore.StoredEqual(c, c.Get(a), c.Get(b)) {
			return true
		}
	}
	return false
}

// Purge deletes the profile for good if fn, given its current state,
// returns nil. Like Update, it may run fn again after a retryable abort.
func (s *Store) Purge(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) (*extdir.AuditRecord, error)) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	return s.writeTx(ctx, tenant, id, func(tx pgx.Tx, p *extdir.Profile) error {
		rec, err := fn(p)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, deleteBySeq, p.Tenant, p.Seq); err != nil {
			return dbError(fmt.Errorf("postgres: remove profile %s: %w", id, err))
		}
		return insertAudit(ctx, tx, rec)
	})
}

// insertAudit writes rec in tx; nil writes nothing.
func insertAudit(ctx context.Context, tx pgx.Tx, rec *extdir.AuditRecord) error {
	if rec == nil {
		return nil
	}
	if _, err := tx.Exec(ctx, insertAuditSQL, sqlstore.AuditArgs(dialect, rec)...); err != nil {
		return dbError(fmt.Errorf("postgres: audit %s: %w", rec.ID, err))
	}
	return nil
}

// writeTx locks the row of (tenant, id) in a READ COMMITTED transaction,
// hands it to step, and commits if step returns nil; the whole transaction
// is retried after a serialization failure or a deadlock. READ COMMITTED is
// asked for explicitly, whatever the database's default, because the row
// lock is what keeps updates from being lost: a second writer waits on
// FOR UPDATE and then reads the first one's committed row. step's error is
// returned unchanged.
func (s *Store) writeTx(ctx context.Context, tenant, id string, step func(pgx.Tx, *extdir.Profile) error) error {
	return retry(ctx, func() error {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return dbError(fmt.Errorf("postgres: write profile %s: begin: %w", id, err))
		}
		// After a commit, Rollback does nothing; after a failure it ends the
		// transaction, and its own error adds nothing to the first one.
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		p, err := scanOne(tx.QueryRow(ctx, lockByID, tenant, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return extdir.NotFound(id)
		}
		if err != nil {
			return dbError(fmt.Errorf("postgres: write profile %s: read: %w", id, err))
		}
		if err := step(tx, p); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return dbError(fmt.Errorf("postgres: write profile %s: commit: %w", id, err))
		}
		return nil
	})
}

// purgeBatchSQL deletes one batch of the rows soft-deleted before a time.
// Every node runs the purge: SKIP LOCKED lets concurrent purges split the
// rows between them instead of queueing on each other's locks, and a row
// being restored at that moment (locked by Update) is left for the next
// round.
//
// The batch is gathered first, as the physical addresses (ctid) of the rows
// it locked, and the delete goes straight to them: a row this statement
// holds locked cannot move, and no index is needed to find it again,
// whatever the planner thinks of the batch's size.
//
// The deleted rows come back, for their audit records, which the same
// transaction writes.
var purgeBatchSQL = `DELETE FROM profiles WHERE ctid = ANY(ARRAY(
	SELECT ctid FROM profiles WHERE deleted_at IS NOT NULL AND deleted_at < $1
	LIMIT $2 FOR UPDATE SKIP LOCKED)) RETURNING seq, tenant, kind, ` + sqlstore.ColumnList()

// Expire deletes, in every tenant, the profiles soft-deleted before
// deletedBefore, in batches of purgeBatch rows, each its own transaction.
// It stops at the first batch that is not full: the rows left then are
// locked by another purge, which deletes them, or by a writer.
func (s *Store) Expire(ctx context.Context, deletedBefore time.Time, rec func(p *extdir.Profile) *extdir.AuditRecord) (int64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	return sqlstore.Expire(deletedBefore, s.purgeBatch, func(cutoff int64, limit int) (int64, error) {
		var n int64
		err := retry(ctx, func() error {
			return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, purgeBatchSQL, cutoff, limit)
				if err != nil {
					return err
				}
				gone, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*extdir.Profile, error) { return scanOne(r) })
				if err != nil {
					return err
				}
				n = int64(len(gone))
				var batch pgx.Batch
				for _, p := range gone {
					if rec == nil {
						break
					}
					if r := rec(p); r != nil {
						batch.Queue(insertAuditSQL, sqlstore.AuditArgs(dialect, r)...)
					}
				}
				if batch.Len() == 0 {
					return nil
				}
				return tx.SendBatch(ctx, &batch).Close()
			})
		})
		if err != nil {
			return 0, dbError(fmt.Errorf("postgres: purge: %w", err))
		}
		return n, nil
	})
}

// Import inserts many profiles in one transaction: all of them or, on the
// first failure (a phone or id clash included), none. It is what seeding a
// large directory and restoring an export need; a request-serving path uses
// Create. The inserts are sent as one pipelined batch, so the transaction
// costs one round trip, not one per row; they run in slice order, so the
// identity hands out increasing seqs in that order. Each profile's Seq is
// set once the transaction has committed, and left alone if it fails: a
// seq of rows rolled back names nothing.
func (s *Store) Import(ctx context.Context, profiles []*extdir.Profile, recs []*extdir.AuditRecord) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	seqs := make([]int64, len(profiles))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return dbError(fmt.Errorf("postgres: import: begin: %w", err))
	}
	// After a commit, Rollback does nothing; after a failure it ends the
	// transaction, and its own error adds nothing to the first one.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var batch pgx.Batch
	for _, p := range profiles {
		sqlstore.Normalize(p)
		batch.Queue(insertProfile, profileArgs(p)...)
	}
	audits := 0
	for _, r := range recs {
		if r != nil {
			batch.Queue(insertAuditSQL, sqlstore.AuditArgs(dialect, r)...)
			audits++
		}
	}
	results := tx.SendBatch(ctx, &batch)
	for i, p := range profiles {
		if err := results.QueryRow().Scan(&seqs[i]); err != nil {
			_ = results.Close() // the first error is the one to report
			if derr := uniqueViolation(err); derr != nil {
				return derr
			}
			return dbError(fmt.Errorf("postgres: import profile %s: %w", p.ID, err))
		}
	}
	for range audits {
		if _, err := results.Exec(); err != nil {
			_ = results.Close()
			return dbError(fmt.Errorf("postgres: import: audit: %w", err))
		}
	}
	if err := results.Close(); err != nil {
		return dbError(fmt.Errorf("postgres: import: %w", err))
	}
	if err := tx.Commit(ctx); err != nil {
		return dbError(fmt.Errorf("postgres: import: commit: %w", err))
	}
	for i, p := range profiles {
		p.Seq = seqs[i]
	}
	return nil
}

// Analyze refreshes the query planner's statistics. Autovacuum does it in
// the background as the table grows; after a bulk Import, doing it at once
// lets the planner pick the right index for a filter from the first query.
func (s *Store) Analyze(ctx context.Context) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	if _, err := s.pool.Exec(ctx, "ANALYZE profiles"); err != nil {
		return dbError(fmt.Errorf("postgres: analyze: %w", err))
	}
	return nil
}
