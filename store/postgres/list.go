package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlstore"
)

// readMode is how listings and counts run: as unnamed statements, planned
// with their values each time, so that the planner sees a startswith prefix
// and walks the range of the matching index (see the package comment). pgx
// caches the statement's description, so this costs no extra round trip.
const readMode = pgx.QueryExecModeCacheDescribe

// List returns one page of q: the rows after q.After in q's order, at most
// q.Top of them. It reads Top+1 rows to learn whether a next page exists.
func (s *Store) List(ctx context.Context, q store.Query) (store.Page, error) {
	query, args, err := listSQL(q)
	if err != nil {
		return store.Page{}, dbError(fmt.Errorf("postgres: list: %w", err))
	}
	if err := s.gate.Enter(); err != nil {
		return store.Page{}, err
	}
	defer s.gate.Leave()
	rows, err := s.pool.Query(ctx, query, append([]any{readMode}, args...)...)
	if err != nil {
		return store.Page{}, dbError(fmt.Errorf("postgres: list: %w", err))
	}
	defer rows.Close()
	profiles := make([]*extdir.Profile, 0, min(q.Top+1, 128))
	b := newRowBuffer()
	for rows.Next() {
		if err := rows.Scan(b.dest...); err != nil {
			return store.Page{}, dbError(fmt.Errorf("postgres: list: %w", err))
		}
		p, err := b.profile()
		if err != nil {
			return store.Page{}, dbError(fmt.Errorf("postgres: list: %w", err))
		}
		profiles = append(profiles, p)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, dbError(fmt.Errorf("postgres: list: %w", err))
	}
	return sqlstore.PageOf(profiles, q), nil
}

// Count returns how many profiles match q; Top and After play no part.
func (s *Store) Count(ctx context.Context, q store.Query) (int64, error) {
	query, args, err := countSQL(q)
	if err != nil {
		return 0, dbError(fmt.Errorf("postgres: count: %w", err))
	}
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	var n int64
	if err := s.pool.QueryRow(ctx, query, append([]any{readMode}, args...)...).Scan(&n); err != nil {
		return 0, dbError(fmt.Errorf("postgres: count: %w", err))
	}
	return n, nil
}

// listSQL is the statement of one page of q.
func listSQL(q store.Query) (string, []any, error) {
	return sqlstore.ListSQL(dialect, selectProfile, q)
}

// countSQL is the statement that counts q's rows.
func countSQL(q store.Query) (string, []any, error) { return sqlstore.CountSQL(dialect, q) }
