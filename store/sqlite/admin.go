package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlstore"
)

// Reset deletes every profile of the tenant, or of every tenant when tenant
// is "", and returns how many. The DELETE is one write of the group commit
// (commit.go), like Create's INSERT: it runs on the committer, in the batch
// of whatever writes are waiting, and returns once the batch is durable.
// AUTOINCREMENT keeps the highest seq in sqlite_sequence, which a DELETE
// leaves alone, so no seq is handed out again.
//
// The statement runs without the caller's cancellation: a canceled context
// interrupts a running statement, and SQLite reports an interrupt as an
// error that abandons the whole batch (batch.run), failing the neighbours'
// writes with it; a long DELETE is exactly the statement that a
// cancellation would catch running. A Reset canceled before its turn is
// not run at all.
func (s *Store) Reset(ctx context.Context, tenant string) (int64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	query, args := sqlstore.ResetSQL(dialect, tenant)
	auditQuery, auditArgs := sqlstore.AuditResetSQL(dialect, tenant)
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(context.WithoutCancel(ctx), query, args...)
		if err != nil {
			return fmt.Errorf("sqlite: reset: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: reset: %w", err)
		}
		if _, err := tx.ExecContext(context.WithoutCancel(ctx), auditQuery, auditArgs...); err != nil {
			return &secondStatementError{fmt.Errorf("sqlite: reset audit log: %w", err)}
		}
		return nil
	}, s.cache.clearFunc())
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Export hands fn every profile of the tenant, or of every tenant when
// tenant is "", in seq order, reading sqlstore.ExportBatch rows at a time
// on the read pool. Each batch is a read of its own, and fn runs between
// them with no statement open: in memory, where a reader holds the lock a
// writer needs to commit, a slow fn then holds up no write.
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
	rows, err := s.reads.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: export: %w", err)
	}
	defer rows.Close()
	profiles := make([]*extdir.Profile, 0, limit)
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: export: %w", err)
		}
		profiles = append(profiles, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: export: %w", err)
	}
	if err := s.durable.readBarrier(); err != nil {
		return nil, err
	}
	return profiles, nil
}

// exportSQL is the statement of one batch of an export. NOT INDEXED keeps
// the planner on the rowid (seq) range, which is already in the order
// asked for, so that a batch reads forward from the last one and stops at
// its limit. Left to itself, a planner without statistics finds a tenant's
// rows through a listing index, which holds them by kind and deletion, and
// sorts all of the tenant's remaining rows for every batch: an export of a
// 60,000-profile tenant took five times as long, and the cost grows with
// the square of the tenant's size. The rowid walk costs at worst one pass
// over the rows that come after the tenant's first.
func exportSQL(tenant string, after int64, limit int) (string, []any) {
	return sqlstore.ExportSQL(dialect, selectProfile+" NOT INDEXED", tenant, after, limit)
}
