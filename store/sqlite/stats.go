package sqlite

import (
	"context"
	"fmt"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlstore"
)

var _ store.Stats = (*Store)(nil)

// Backend implements store.Stats.
func (s *Store) Backend() string { return "sqlite" }

// ProfileCounts implements store.Stats. Both groupings walk the index on
// (tenant, kind, deleted_at), never the table.
func (s *Store) ProfileCounts(ctx context.Context, byTenant bool) ([]store.ProfileCount, error) {
	query := sqlstore.ProfileCountsSQL(byTenant)
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	rows, err := s.reader.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count profiles: %w", err)
	}
	defer rows.Close()
	var out []store.ProfileCount
	for rows.Next() {
		var c store.ProfileCount
		var kind int64
		if err := rows.Scan(&c.Tenant, &kind, &c.Deleted, &c.N); err != nil {
			return nil, fmt.Errorf("sqlite: count profiles: %w", err)
		}
		c.Kind = extdir.Kind(kind)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: count profiles: %w", err)
	}
	return out, nil
}

// SizeBytes implements store.Stats: the database's pages, in use or free,
// which is the file's size once the WAL is checkpointed.
func (s *Store) SizeBytes(ctx context.Context) (int64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	var n int64
	err := s.reader.QueryRowContext(ctx, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: database size: %w", err)
	}
	return n, nil
}
