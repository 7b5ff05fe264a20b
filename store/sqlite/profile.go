package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/extdir/extdir"
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
	insertProfile = "INSERT INTO profiles (tenant, kind, " + columnList() + ") VALUES (?, ?" + strings.Repeat(", ?", len(extdir.Columns)) + ")"
	// updateProfile rewrites every column but the identity (tenant, id, seq).
	updateProfile = func() string {
		var sb strings.Builder
		sb.WriteString("UPDATE profiles SET kind = ?")
		for _, p := range extdir.Columns {
			if p == idProperty {
				continue
			}
			sb.WriteString(", ")
			sb.WriteString(p.Column)
			sb.WriteString(" = ?")
		}
		sb.WriteString(" WHERE seq = ?")
		return sb.String()
	}()
)

// idProperty is the key: with the tenant, it names a row, so no update
// rewrites it.
var idProperty, _ = extdir.PropertyByName("id")

// rowWidth is the number of values in the row array of selectProfile.
var rowWidth = 3 + len(extdir.Columns)

// columnList joins every column name.
func columnList() string {
	names := make([]string, len(extdir.Columns))
	for i, p := range extdir.Columns {
		names[i] = p.Column
	}
	return strings.Join(names, ", ")
}

// encode turns a property value into what its column stores.
func encode(p *extdir.Property, v extdir.Value) any {
	if v.Null {
		return nil
	}
	switch p.Type {
	case extdir.TypeBoolean:
		if v.Bool {
			return int64(1)
		}
		return int64(0)
	case extdir.TypeDateTimeOffset:
		return v.Time.Unix()
	case extdir.TypeInt32:
		return v.Int
	default:
		return v.Str
	}
}

// profileArgs lists the values of every column of p, in extdir.Columns
// order, after prefix.
func profileArgs(p *extdir.Profile, prefix ...any) []any {
	args := make([]any, 0, len(prefix)+len(extdir.Columns)+1)
	args = append(args, prefix...)
	for _, c := range extdir.Columns {
		args = append(args, encode(c, c.Get(p)))
	}
	return args
}

// updateArgs lists the values of updateProfile for p.
func updateArgs(p *extdir.Profile) []any {
	args := make([]any, 0, len(extdir.Columns)+1)
	args = append(args, int64(p.Kind))
	for _, c := range extdir.Columns {
		if c != idProperty {
			args = append(args, encode(c, c.Get(p)))
		}
	}
	return append(args, p.Seq)
}

// normalize brings the times of p to what the store keeps, whole seconds in
// UTC, so that the profile a write returns is the one a later read returns.
func normalize(p *extdir.Profile) {
	for _, c := range extdir.Columns {
		if c.Type != extdir.TypeDateTimeOffset {
			continue
		}
		if v := c.Get(p); !v.Null {
			v.Time = extdir.Timestamp(v.Time)
			c.Set(p, v)
		}
	}
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

// errDuplicateID is the clash on (tenant, id).
var errDuplicateID = &extdir.Error{Code: extdir.EConflict, Message: "Another object with the same value for property id already exists."}

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
		return errDuplicateID
	}
	return nil
}

// Create inserts p and sets p.Seq; p's times are brought to whole seconds in
// UTC, as stored.
func (s *Store) Create(ctx context.Context, p *extdir.Profile) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	normalize(p)
	var seq int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.insert).ExecContext(ctx, profileArgs(p, p.Tenant, int64(p.Kind))...)
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
		return nil
	})
	if err != nil {
		return err
	}
	p.Seq = seq
	return nil
}

// Get returns the profile with the id in the tenant, live or soft-deleted,
// of either kind.
func (s *Store) Get(ctx context.Context, tenant, id string) (*extdir.Profile, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
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
	return p, nil
}

// Update runs fn on the current row inside a write transaction and writes
// back what it changed. fn must not change Tenant, Seq or ID: they identify
// the row. A callback that changes nothing costs no write. fn runs while the
// store's only write connection is held, so it must not call Create, Update,
// Remove or Purge itself (it would wait for ever for that connection).
func (s *Store) Update(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) error) (*extdir.Profile, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var written *extdir.Profile
	err := s.writeTx(ctx, tenant, id, func(tx *sql.Tx, p *extdir.Profile) error {
		before := p.Clone()
		if err := fn(p); err != nil {
			return err
		}
		if p.Tenant != before.Tenant || p.Seq != before.Seq || p.ID != before.ID {
			return fmt.Errorf("sqlite: update profile %s: the callback changed the tenant, seq or id", id)
		}
		normalize(p)
		written = p
		if !changed(before, p) {
			return nil
		}
		if _, err := tx.StmtContext(ctx, s.update).ExecContext(ctx, updateArgs(p)...); err != nil {
			if derr := uniqueViolation(err); derr != nil {
				return derr
			}
			return fmt.Errorf("sqlite: update profile %s: %w", id, err)
		}
		return nil
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
		va, vb := c.Get(a), c.Get(b)
		if va.Null != vb.Null || encode(c, va) != encode(c, vb) {
			return true
		}
	}
	return false
}

// Remove deletes the profile for good if fn, given its current state,
// returns nil.
func (s *Store) Remove(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.writeTx(ctx, tenant, id, func(tx *sql.Tx, p *extdir.Profile) error {
		if err := fn(p); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.remove).ExecContext(ctx, p.Seq); err != nil {
			return fmt.Errorf("sqlite: remove profile %s: %w", id, err)
		}
		return nil
	})
}

// writeTx reads the row of (tenant, id) inside a group-committed write
// (commit.go), hands it to step, and keeps step's changes if it returns nil.
// The write transaction holds SQLite's write lock from before the read, so
// the row cannot change between the read and the write. step's error is
// returned unchanged, and what step wrote is rolled back.
func (s *Store) writeTx(ctx context.Context, tenant, id string, step func(*sql.Tx, *extdir.Profile) error) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		p, err := scanProfile(tx.StmtContext(ctx, s.lock).QueryRowContext(ctx, tenant, id))
		if errors.Is(err, sql.ErrNoRows) {
			return extdir.NotFound(id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: write profile %s: read: %w", id, err)
		}
		return step(tx, p)
	})
}

// purgeBatchSQL deletes one batch of the rows soft-deleted before a time.
const purgeBatchSQL = `DELETE FROM profiles WHERE seq IN (
	SELECT seq FROM profiles WHERE deleted_at IS NOT NULL AND deleted_at < ? LIMIT ?)`

// Purge deletes, in every tenant, the profiles soft-deleted before
// deletedBefore. It works in batches of purgeBatch rows, each its own
// transaction, so that other writers get the lock between batches.
func (s *Store) Purge(ctx context.Context, deletedBefore time.Time) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	// Stored times are whole seconds: a row deleted at second t is before a
	// cutoff of t+0.5s, which the comparison must see as before t+1.
	cutoff := deletedBefore.Unix()
	if deletedBefore.Nanosecond() > 0 {
		cutoff++
	}
	var total int64
	for {
		seq := s.durable.begin()
		res, err := s.writer.ExecContext(ctx, purgeBatchSQL, cutoff, s.purgeBatch)
		if err != nil {
			return total, fmt.Errorf("sqlite: purge: %w", err)
		}
		if err := s.durable.await(seq); err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("sqlite: purge: %w", err)
		}
		total += n
		if n < int64(s.purgeBatch) {
			return total, nil
		}
	}
}

// Import inserts many profiles in one transaction: all of them or, on the
// first failure (a phone or id clash included), none. It is what seeding a
// large directory and restoring an export need; a request-serving path uses
// Create. Each profile's Seq is set.
func (s *Store) Import(ctx context.Context, profiles []*extdir.Profile) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: import: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt := tx.StmtContext(ctx, s.insert)
	for _, p := range profiles {
		normalize(p)
		res, err := stmt.ExecContext(ctx, profileArgs(p, p.Tenant, int64(p.Kind))...)
		if err != nil {
			if derr := uniqueViolation(err); derr != nil {
				return derr
			}
			return fmt.Errorf("sqlite: import profile %s: %w", p.ID, err)
		}
		if p.Seq, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("sqlite: import profile %s: read seq: %w", p.ID, err)
		}
	}
	seq := s.durable.begin()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: import: %w", err)
	}
	return s.durable.await(seq)
}

// Analyze refreshes the query planner's statistics, which it needs to pick
// the right index for a filter once a table is large.
func (s *Store) Analyze(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	seq := s.durable.begin()
	if _, err := s.writer.ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("sqlite: analyze: %w", err)
	}
	return s.durable.await(seq)
}
