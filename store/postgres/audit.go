package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlstore"
)

// ListAudits returns one page of the tenant's audit records.
func (s *Store) ListAudits(ctx context.Context, q store.AuditQuery) (store.AuditPage, error) {
	query, args, err := sqlstore.AuditListSQL(dialect, q)
	if err != nil {
		return store.AuditPage{}, dbError(fmt.Errorf("postgres: list audits: %w", err))
	}
	if err := s.gate.Enter(); err != nil {
		return store.AuditPage{}, err
	}
	defer s.gate.Leave()
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return store.AuditPage{}, dbError(fmt.Errorf("postgres: list audits: %w", err))
	}
	defer rows.Close()
	recs := make([]*extdir.AuditRecord, 0, min(q.Top+1, 128))
	for rows.Next() {
		r, err := sqlstore.ScanAudit(rows.Scan)
		if err != nil {
			return store.AuditPage{}, dbError(fmt.Errorf("postgres: list audits: %w", err))
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return store.AuditPage{}, dbError(fmt.Errorf("postgres: list audits: %w", err))
	}
	return sqlstore.AuditPageOf(recs, q), nil
}

// GetAudit returns one audit record of the tenant.
func (s *Store) GetAudit(ctx context.Context, tenant, id string) (*extdir.AuditRecord, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	r, err := sqlstore.ScanAudit(s.pool.QueryRow(ctx, sqlstore.AuditGetSQL(dialect), tenant, id).Scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, extdir.NotFound(id)
	}
	if err != nil {
		return nil, dbError(fmt.Errorf("postgres: get audit %s: %w", id, err))
	}
	return r, nil
}

// ExpireAudits deletes the audit records older than before, in batches of
// purgeBatch rows, each a statement of its own.
func (s *Store) ExpireAudits(ctx context.Context, before time.Time) (int64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, sqlstore.AuditExpireSQL(dialect), before.UnixMicro(), s.purgeBatch)
		if err != nil {
			return total, dbError(fmt.Errorf("postgres: expire audits: %w", err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(s.purgeBatch) {
			return total, nil
		}
	}
}
