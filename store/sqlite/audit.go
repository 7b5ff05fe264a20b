package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlstore"
)

// ListAudits returns one page of the tenant's audit records.
func (s *Store) ListAudits(ctx context.Context, q store.AuditQuery) (store.AuditPage, error) {
	if err := s.gate.Enter(); err != nil {
		return store.AuditPage{}, err
	}
	defer s.gate.Leave()
	query, args, err := sqlstore.AuditListSQL(dialect, q)
	if err != nil {
		return store.AuditPage{}, fmt.Errorf("sqlite: list audits: %w", err)
	}
	rows, err := s.reads.query(ctx, query, args...)
	if err != nil {
		return store.AuditPage{}, fmt.Errorf("sqlite: list audits: %w", err)
	}
	defer rows.Close()
	recs := make([]*extdir.AuditRecord, 0, q.Top+1)
	for rows.Next() {
		r, err := sqlstore.ScanAudit(rows.Scan)
		if err != nil {
			return store.AuditPage{}, fmt.Errorf("sqlite: list audits: %w", err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return store.AuditPage{}, fmt.Errorf("sqlite: list audits: %w", err)
	}
	if err := s.durable.readBarrier(); err != nil {
		return store.AuditPage{}, err
	}
	return sqlstore.AuditPageOf(recs, q), nil
}

// GetAudit returns one audit record of the tenant.
func (s *Store) GetAudit(ctx context.Context, tenant, id string) (*extdir.AuditRecord, error) {
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	rows, err := s.reads.query(ctx, sqlstore.AuditGetSQL(dialect), tenant, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get audit %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: get audit %s: %w", id, err)
		}
		return nil, extdir.NotFound(id)
	}
	r, err := sqlstore.ScanAudit(rows.Scan)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get audit %s: %w", id, err)
	}
	if err := s.durable.readBarrier(); err != nil {
		return nil, err
	}
	return r, nil
}

// ExpireAudits deletes the audit records older than before, in batches of
// purgeBatch rows, each its own transaction.
func (s *Store) ExpireAudits(ctx context.Context, before time.Time) (int64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	var total int64
	for {
		n, err := s.expireAuditBatch(ctx, before.UnixMicro())
		total += n
		if err != nil || n < int64(s.purgeBatch) {
			return total, err
		}
	}
}

func (s *Store) expireAuditBatch(ctx context.Context, cutoff int64) (int64, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire audits: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, sqlstore.AuditExpireSQL(dialect), cutoff, s.purgeBatch)
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire audits: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire audits: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	seq := s.durable.begin()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: expire audits: %w", err)
	}
	return n, s.durable.await(seq)
}
