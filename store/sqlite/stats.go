package sqlite

import (
	"context"
	"fmt"

	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlstore"
)

var _ store.Stats = (*Store)(nil)

// Backend implements store.Stats.
func (s *Store) Backend() string { return "sqlite" }

// profileCountsSQL reads store.Stats.ProfileCounts from the counts the
// triggers of migration 0003 keep: a row per (tenant, kind, live or
// deleted), where sqlstore.ProfileCountsSQL would count every profile.
// Rows a reset emptied (n = 0) are left out, as a count of the profiles
// would.
func profileCountsSQL(byTenant bool) string {
	if byTenant {
		return "SELECT tenant, kind, deleted, n FROM profile_counts WHERE n > 0"
	}
	return "SELECT '', kind, deleted, sum(n) FROM profile_counts GROUP BY 2, 3 HAVING sum(n) > 0"
}

// ProfileCounts implements store.Stats, from profile_counts: a scrape of
// the metrics costs the same at a million profiles as at ten.
func (s *Store) ProfileCounts(ctx context.Context, byTenant bool) ([]store.ProfileCount, error) {
	query := profileCountsSQL(byTenant)
	if err := s.gate.Enter(); err != nil {
		return nil, err
	}
	defer s.gate.Leave()
	rows, err := s.reader.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count profiles: %w", err)
	}
	defer rows.Close()
	out, err := sqlstore.ScanProfileCounts(rows)
	if err != nil {
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
