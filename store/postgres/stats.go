package postgres

import (
	"context"
	"fmt"

	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlstore"
)

var _ store.Stats = (*Store)(nil)

// Backend implements store.Stats.
func (s *Store) Backend() string { return "postgres" }

// ProfileCounts implements store.Stats. Every node of a scaled-out
// directory counts the same shared table, so the figures of two nodes are
// the same, not parts of a sum.
func (s *Store) ProfileCounts(ctx context.Context, byTenant bool) ([]store.ProfileCount, error) {
	query := sqlstore.ProfileCountsSQL(byTenant)
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	rows, err := s.pool.Query(ctx, query)
	if err != nil {
		return nil, dbError(fmt.Errorf("postgres: count profiles: %w", err))
	}
	defer rows.Close()
	out, err := sqlstore.ScanProfileCounts(rows)
	if err != nil {
		return nil, dbError(fmt.Errorf("postgres: count profiles: %w", err))
	}
	return out, nil
}

// SizeBytes implements store.Stats: the whole database's size on disk, as
// pg_database_size reports it, indexes and TOAST included.
func (s *Store) SizeBytes(ctx context.Context) (int64, error) {
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		return 0, dbError(fmt.Errorf("postgres: database size: %w", err))
	}
	return n, nil
}
