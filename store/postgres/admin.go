package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlstore"
)

// Reset deletes every profile of the tenant, or of every tenant when tenant
// is "", and returns how many, in one statement that commits on its own. A
// DELETE leaves the identity where it was, so no seq is handed out again.
// It waits for the rows that writers hold locked, and is run again after a
// deadlock (two Resets, or a Reset and an Expire, locking rows in different
// orders).
func (s *Store) Reset(ctx context.Context, tenant string) (int64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	query, args := sqlstore.ResetSQL(dialect, tenant)
	auditQuery, auditArgs := sqlstore.AuditResetSQL(dialect, tenant)
	var tag pgconn.CommandTag
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			if tag, err = tx.Exec(ctx, query, args...); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, auditQuery, auditArgs...)
			return err
		})
	})
	if err != nil {
		return 0, dbError(fmt.Errorf("postgres: reset: %w", err))
	}
	return tag.RowsAffected(), nil
}

// Export hands fn every profile of the tenant, or of every tenant when
// tenant is "", in seq order, reading sqlstore.ExportBatch rows at a time,
// each batch a statement of its own: no snapshot or connection is held
// while fn runs.
func (s *Store) Export(ctx context.Context, tenant string, fn func(p *extdir.Profile) error) error {
	return sqlstore.Export(ctx, sqlstore.ExportBatch, func(after int64, limit int) ([]*extdir.Profile, error) {
		return s.exportBatch(ctx, tenant, after, limit)
	}, fn)
}

// exportBatch reads one batch of an export. It passes the gate on its own,
// so that Close waits for the read, not for the export's fn.
func (s *Store) exportBatch(ctx context.Context, tenant string, after int64, limit int) ([]*extdir.Profile, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	query, args := exportSQL(tenant, after, limit)
	// Planned with its values, like a listing: the planner then knows the
	// batch is a short range of an index.
	rows, err := s.pool.Query(ctx, query, append([]any{readMode}, args...)...)
	if err != nil {
		return nil, dbError(fmt.Errorf("postgres: export: %w", err))
	}
	defer rows.Close()
	profiles := make([]*extdir.Profile, 0, limit)
	b := newRowBuffer()
	for rows.Next() {
		if err := rows.Scan(b.dest...); err != nil {
			return nil, dbError(fmt.Errorf("postgres: export: %w", err))
		}
		p, err := b.profile()
		if err != nil {
			return nil, dbError(fmt.Errorf("postgres: export: %w", err))
		}
		profiles = append(profiles, p)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(fmt.Errorf("postgres: export: %w", err))
	}
	return profiles, nil
}

// exportSQL is the statement of one batch of an export.
func exportSQL(tenant string, after int64, limit int) (string, []any) {
	return sqlstore.ExportSQL(dialect, selectProfile, tenant, after, limit)
}
