package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The statements below are built from extdir.Columns, so that a property is
// named once, in the property table; migrate.checkSchema holds the table to
// the same list.
var (
	// selectProfile reads a whole row as one value (row.go): seq, tenant,
	// kind, then every column.
	selectProfile = "SELECT " + rowJSON() + " FROM profiles"
	selectByID    = selectProfile + " WHERE tenant = ? AND id = ?"
	insertProfile = "INSERT INTO profiles (tenant, kind, " + sqlstore.ColumnList() + ") VALUES (?, ?" + strings.Repeat(", ?", len(extdir.Columns)) + ")"
)

// A set of changed columns is a bit mask (changes), with the top bit for kind.
func init() {
	if len(extdir.Columns) >= 63 {
		panic("sqlite: more columns than a change set can hold")
	}
}

// rowWidth is the number of values in the row array of selectProfile.
var rowWidth = 3 + len(extdir.Columns)

// profileArgs lists the values of every column of p, in extdir.Columns
// order, after prefix.
func profileArgs(p *extdir.Profile, prefix ...any) []any {
	args := make([]any, 0, len(prefix)+len(extdir.Columns)+1)
	args = append(args, prefix...)
	for _, c := range extdir.Columns {
		args = append(args, sqlstore.Encode(dialect, c, c.Get(p)))
	}
	return args
}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanProfile reads one row of selectProfile.
func scanProfile(row rowScanner) (*extdir.Profile, error) {
	var text string
	if err := row.Scan(&text); err != nil {
		return nil, err
	}
	return profileFromRow(text)
}

// uniqueViolation maps a UNIQUE constraint failure to the domain error it
// means, or returns nil for any other error. SQLite names the columns of the
// violated index in the message, which is how the two uniqueness rules of the
// table are told apart.
func uniqueViolation(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return nil
	}
	msg := se.Error()
	switch {
	case strings.Contains(msg, "profiles.phone_number"):
		return extdir.ErrPhoneTaken
	case strings.Contains(msg, "profiles.id"):
		return sqlstore.ErrDuplicateID
	}
	return nil
}

// Create inserts p and sets p.Seq; p's times are brought to whole seconds in
// UTC, as stored.
func (s *Store) Create(ctx context.Context, p *extdir.Profile, rec *extdir.AuditRecord) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	sqlstore.Normalize(p)
	// The arguments are made here, on the caller's goroutine, not in the
	// step, which runs on the committer that every write waits for.
	args := profileArgs(p, p.Tenant, int64(p.Kind))
	var auditArgs []any
	if rec != nil {
		auditArgs = sqlstore.AuditArgs(dialect, rec)
	}
	var seq int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see write
		res, err := tx.StmtContext(ctx, s.insert).ExecContext(ctx, args...)
		if err != nil {
			if derr := uniqueViolation(err); derr != nil {
				return derr
			}
			return fmt.Errorf("sqlite: create profile %s: %w", p.ID, err)
		}
		// The single write connection makes the last insert rowid this insert's.
		if seq, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("sqlite: create profile %s: read seq: %w", p.ID, err)
		}
		if rec == nil {
			return nil
		}
		return s.execAudit(ctx, tx, rec, auditArgs)
	}, nil) // a new row: no read can have cached it
	if err != nil {
		return err
	}
	p.Seq = seq
	return nil
}

// Get returns the profile with the id in the tenant, live or soft-deleted,
// of either kind.
func (s *Store) Get(ctx context.Context, tenant, id string) (*extdir.Profile, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	var key string
	var t ticket
	if s.cache != nil {
		key = cacheKey(tenant, id)
		var hit *extdir.Profile
		if hit, t = s.cache.get(key); hit != nil {
			// A failed sync fails every read, the cached ones too.
			if err := s.durable.failure(); err != nil {
				return nil, err
			}
			return hit, nil
		}
	}
	p, err := scanProfile(s.get.QueryRowContext(ctx, tenant, id))
	if berr := s.durable.readBarrier(); berr != nil {
		return nil, berr
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, extdir.NotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get profile %s: %w", id, err)
	}
	if s.cache != nil {
		s.cache.fill(key, t, p)
	}
	return p, nil
}

// Update runs fn on the current row inside a write transaction and writes
// back what it changed. fn must not change Tenant, Seq or ID: they identify
// the row. A callback that changes nothing costs no write. fn runs once, on
// the committer goroutine, while the store's only write connection and the
// batch's transaction are held: it must not call the store (a write would
// wait for ever behind it), and every other write waits for it to return
// (store.Store.Update's callback rules).
func (s *Store) Update(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) (*extdir.AuditRecord, error)) (*extdir.Profile, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	var written *extdir.Profile
	err := s.writeTx(ctx, tenant, id, func(tx *sql.Tx, p *extdir.Profile) error {
		ctx := context.WithoutCancel(ctx) // see write
		before, rec, err := sqlstore.RunUpdate(p, fn)
		if err != nil {
			return err
		}
		written = p
		set, args := changes(before, p)
		if set == 0 {
			if rec == nil {
				return nil
			}
			// A record of a change that changed no column is the write's
			// only statement.
			if _, err := tx.StmtContext(ctx, s.insertAuditStmt).ExecContext(ctx, sqlstore.AuditArgs(dialect, rec)...); err != nil {
				return fmt.Errorf("sqlite: audit %s: %w", rec.ID, err)
			}
			return nil
		}
		if err := s.updates.exec(ctx, tx, set, append(args, p.Seq)); err != nil {
			if derr := uniqueViolation(err); derr != nil {
				return derr
			}
			return fmt.Errorf("sqlite: update profile %s: %w", id, err)
		}
		return s.insertAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	return written, nil
}

// changes lists the columns in which b differs from a, as a set (bit i
// for extdir.Columns[i], kindBit for kind) and as the values b gives them,
// in the order of updateSQL's SET clause. Only they are written: an UPDATE
// that names an indexed column rewrites that index's entry even when the
// value stays, and a PATCH of jobTitle would otherwise rewrite all seven
// indexes of its row.
func changes(a, b *extdir.Profile) (set uint64, args []any) {
	args = make([]any, 0, 4)
	if a.Kind != b.Kind {
		set |= kindBit
		args = append(args, int64(b.Kind))
	}
	for i, c := range extdir.Columns {
		if vb := c.Get(b); !sqlstore.StoredEqual(c, c.Get(a), vb) {
			set |= 1 << i
			args = append(args, sqlstore.Encode(dialect, c, vb))
		}
	}
	return set, args
}

// kindBit stands for the kind column in a set of changed columns.
const kindBit = 1 << 63

// updateSQL is the UPDATE of the columns in set, by seq.
func updateSQL(set uint64) string {
	var sb strings.Builder
	sb.WriteString("UPDATE profiles SET ")
	sep := ""
	if set&kindBit != 0 {
		sb.WriteString("kind = ?")
		sep = ", "
	}
	for i, c := range extdir.Columns {
		if set&(1<<i) != 0 {
			sb.WriteString(sep)
			sb.WriteString(c.Column)
			sb.WriteString(" = ?")
			sep = ", "
		}
	}
	sb.WriteString(" WHERE seq = ?")
	return sb.String()
}

// updateCache holds the UPDATE statements prepared at Open, one for each
// property with the epoch (what a PATCH of one property changes) and one
// for all of them. Another set is prepared inside its transaction when it
// comes: the single write connection is busy with that transaction then,
// so a statement of the pool could not be prepared.
type updateCache struct {
	stmts map[uint64]*sql.Stmt
}

// prepare compiles the statements of the common sets on db, whose one
// connection must be free.
func (u *updateCache) prepare(ctx context.Context, db *sql.DB) error {
	epoch, _ := columnIndex("epoch")
	sets := []uint64{kindBit}
	all := uint64(kindBit)
	for i, c := range extdir.Columns {
		if c.Column != "id" {
			all |= 1 << i
		}
		if i != epoch {
			sets = append(sets, 1<<i|1<<epoch)
		}
	}
	sets = append(sets, all, kindBit|1<<epoch)
	u.stmts = make(map[uint64]*sql.Stmt, len(sets))
	for _, set := range sets {
		st, err := db.PrepareContext(ctx, updateSQL(set))
		if err != nil {
			return fmt.Errorf("sqlite: prepare update: %w", err)
		}
		u.stmts[set] = st
	}
	return nil
}

// exec runs the UPDATE of set in tx.
func (u *updateCache) exec(ctx context.Context, tx *sql.Tx, set uint64, args []any) error {
	if st, ok := u.stmts[set]; ok {
		_, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		return err
	}
	_, err := tx.ExecContext(ctx, updateSQL(set), args...)
	return err
}

func (u *updateCache) close() error {
	var errs []error
	for _, st := range u.stmts {
		if err := st.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	u.stmts = nil
	return errors.Join(errs...)
}

// columnIndex is the position of a column in extdir.Columns.
func columnIndex(column string) (int, bool) {
	for i, c := range extdir.Columns {
		if c.Column == column {
			return i, true
		}
	}
	return -1, false
}

// Purge deletes the profile for good if fn, given its current state,
// returns nil.
func (s *Store) Purge(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) (*extdir.AuditRecord, error)) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	return s.writeTx(ctx, tenant, id, func(tx *sql.Tx, p *extdir.Profile) error {
		ctx := context.WithoutCancel(ctx) // see write
		rec, err := fn(p)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.remove).ExecContext(ctx, p.Seq); err != nil {
			return fmt.Errorf("sqlite: remove profile %s: %w", id, err)
		}
		return s.insertAudit(ctx, tx, rec)
	})
}

// insertAudit writes rec, the second statement of a write, in tx; nil
// writes nothing. Its failure abandons the batch (secondStatementError).
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, rec *extdir.AuditRecord) error {
	if rec == nil {
		return nil
	}
	return s.execAudit(ctx, tx, rec, sqlstore.AuditArgs(dialect, rec))
}

// execAudit is insertAudit with rec's arguments made already.
func (s *Store) execAudit(ctx context.Context, tx *sql.Tx, rec *extdir.AuditRecord, args []any) error {
	if _, err := tx.StmtContext(ctx, s.insertAuditStmt).ExecContext(ctx, args...); err != nil {
		return &secondStatementError{fmt.Errorf("sqlite: audit %s: %w", rec.ID, err)}
	}
	return nil
}

// writeTx reads the row of (tenant, id) inside a group-committed write
// (commit.go), hands it to step, and keeps step's changes if it returns nil.
// The write transaction holds SQLite's write lock from before the read, so
// the row cannot change between the read and the write. step's error is
// returned unchanged, and what step wrote is rolled back.
func (s *Store) writeTx(ctx context.Context, tenant, id string, step func(*sql.Tx, *extdir.Profile) error) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see write
		p, err := scanProfile(tx.StmtContext(ctx, s.lock).QueryRowContext(ctx, tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
			return extdir.NotFound(id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: write profile %s: read: %w", id, err)
		}
		return step(tx, p)
	}, s.cache.dropFunc(tenant, id))
}

// purgeBatchSQL deletes one batch of the rows soft-deleted before a time
// and returns them, for their audit records.
var purgeBatchSQL = `DELETE FROM profiles WHERE seq IN (
	SELECT seq FROM profiles WHERE deleted_at IS NOT NULL AND deleted_at < ? LIMIT ?) RETURNING ` + rowJSON()

// Expire deletes, in every tenant, the profiles soft-deleted before
// deletedBefore, each with its audit record rec(p). It works in batches of
// purgeBatch rows, each its own transaction, so that other writers get the
// lock between batches.
func (s *Store) Expire(ctx context.Context, deletedBefore time.Time, rec func(p *extdir.Profile) *extdir.AuditRecord) (int64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	if s.cache != nil {
		// Its commits are its own, outside the group commit: the cache
		// stays off until they are durable (cache.go).
		defer s.cache.suspend(true)()
	}
	return sqlstore.Expire(deletedBefore, s.purgeBatch, func(cutoff int64, limit int) (int64, error) {
		return s.expireBatch(ctx, cutoff, limit, rec)
	})
}

func (s *Store) expireBatch(ctx context.Context, cutoff int64, limit int, rec func(p *extdir.Profile) *extdir.AuditRecord) (int64, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := tx.QueryContext(ctx, purgeBatchSQL, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge: %w", err)
	}
	var gone []*extdir.Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: purge: %w", err)
		}
		gone = append(gone, p)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("sqlite: purge: %w", err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: purge: %w", err)
	}
	if rec != nil {
		stmt := tx.StmtContext(ctx, s.insertAuditStmt)
		for _, p := range gone {
			if r := rec(p); r != nil {
				if _, err := stmt.ExecContext(ctx, sqlstore.AuditArgs(dialect, r)...); err != nil {
					return 0, fmt.Errorf("sqlite: purge: audit %s: %w", p.ID, err)
				}
			}
		}
	}
	// Counted only now, inside the write, so that the sync the caller
	// waits for is one that covers this commit.
	seq := s.durable.begin()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: purge: %w", err)
	}
	if err := s.durable.await(seq); err != nil {
		return 0, err
	}
	return int64(len(gone)), nil
}

// Import inserts many profiles in one transaction: all of them or, on the
// first failure (a phone or id clash included), none. It is what seeding a
// large directory and restoring an export need; a request-serving path uses
// Create. Each profile's Seq is set once the transaction is durable, and
// left alone if it fails: a seq of rows rolled back names nothing.
//
// It runs on the write connection outside the group commit, as one long
// transaction of its own: the committer waits for the connection meanwhile.
// The commit is counted while the transaction holds the only write
// connection, so no batch can commit between the count and the commit, and
// the sync awaited covers this commit.
func (s *Store) Import(ctx context.Context, profiles []*extdir.Profile, recs []*extdir.AuditRecord) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: import: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt := tx.StmtContext(ctx, s.insert)
	seqs := make([]int64, len(profiles))
	for i, p := range profiles {
		sqlstore.Normalize(p)
		res, err := stmt.ExecContext(ctx, profileArgs(p, p.Tenant, int64(p.Kind))...)
		if err != nil {
			if derr := uniqueViolation(err); derr != nil {
				return derr
			}
			return fmt.Errorf("sqlite: import profile %s: %w", p.ID, err)
		}
		if seqs[i], err = res.LastInsertId(); err != nil {
			return fmt.Errorf("sqlite: import profile %s: read seq: %w", p.ID, err)
		}
	}
	audit := tx.StmtContext(ctx, s.insertAuditStmt)
	for _, r := range recs {
		if r == nil {
			continue
		}
		if _, err := audit.ExecContext(ctx, sqlstore.AuditArgs(dialect, r)...); err != nil {
			return fmt.Errorf("sqlite: import: audit %s: %w", r.ID, err)
		}
	}
	seq := s.durable.begin()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: import: %w", err)
	}
	if err := s.durable.await(seq); err != nil {
		return err
	}
	for i, p := range profiles {
		p.Seq = seqs[i]
	}
	return nil
}

// Analyze refreshes the query planner's statistics, which it needs to pick
// the right index for a filter once a table is large.
func (s *Store) Analyze(ctx context.Context) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: analyze: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("sqlite: analyze: %w", err)
	}
	// Counted once the write connection is this call's, just before the
	// commit, so that the sync awaited is one that covers it (a count
	// taken before waiting for the connection could be covered by a sync
	// of an earlier batch).
	seq := s.durable.begin()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: analyze: %w", err)
	}
	return s.durable.await(seq)
}
