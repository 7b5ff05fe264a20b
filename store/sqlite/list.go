package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlstore"
)

// List returns one page of q: the rows after q.After in q's order, at most
// q.Top of them. It reads Top+1 rows to learn whether a next page exists.
func (s *Store) List(ctx context.Context, q store.Query) (store.Page, error) {
	query, args, err := listSQL(q)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite: list: %w", err)
	}
	if err := s.gate.Enter(); err != nil {
		return store.Page{}, err
	}
	defer s.gate.Leave()
	rows, err := s.reads.query(ctx, query, args...)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite: list: %w", err)
	}
	defer rows.Close()
	profiles := make([]*extdir.Profile, 0, min(q.Top+1, 128))
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return store.Page{}, fmt.Errorf("sqlite: list: %w", err)
		}
		profiles = append(profiles, p)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("sqlite: list: %w", err)
	}
	if err := s.durable.readBarrier(); err != nil {
		return store.Page{}, err
	}
	return sqlstore.PageOf(profiles, q), nil
}

// Count returns how many profiles match q; Top and After play no part.
func (s *Store) Count(ctx context.Context, q store.Query) (int64, error) {
	query, args, err := countSQL(q)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	if err := s.gate.Enter(); err != nil {
		return 0, err
	}
	defer s.gate.Leave()
	rows, err := s.reads.query(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	defer rows.Close()
	var n int64
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("sqlite: count: %w", err)
		}
		return 0, errors.New("sqlite: count: no result row")
	}
	if err := rows.Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	if err := s.durable.readBarrier(); err != nil {
		return 0, err
	}
	return n, nil
}

// listSQL is the statement of one page of q.
func listSQL(q store.Query) (string, []any, error) {
	return sqlstore.ListSQL(dialect, selectProfile, q)
}

// countWhole reads the number of rows of a whole collection from the
// counts the triggers of migration 0003 keep.
const countWhole = "SELECT coalesce(sum(n), 0) FROM profile_counts WHERE tenant = ? AND kind = ? AND deleted = ?"

// countSQL is the statement that counts q's rows: one row of
// profile_counts for a whole collection, else the rows that match.
func countSQL(q store.Query) (string, []any, error) {
	if q.Filter == nil && (q.Search == nil || len(q.Search.Any) == 0) {
		deleted := int64(0)
		if q.Deleted {
			deleted = 1
		}
		return countWhole, []any{q.Tenant, int64(q.Kind), deleted}, nil
	}
	return sqlstore.CountSQL(dialect, q)
}

// stmtCache keeps the prepared statements of the queries whose text varies
// with their shape (the order, whether a cursor is given), keyed by that
// text. Past max entries a query runs unprepared, so that no sequence of
// requests can grow the cache without bound.
type stmtCache struct {
	db  *sql.DB
	max int

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: max, stmts: make(map[string]*sql.Stmt)}
}

func (c *stmtCache) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// stmt returns the prepared statement of query, preparing it on first use;
// nil when the cache is full. Preparing needs a connection, which may take a
// while to come free: it happens outside the lock, so that calls whose
// statement is cached never wait behind it.
func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.RLock()
	st, ok := c.stmts[query]
	full := len(c.stmts) >= c.max
	c.mu.RUnlock()
	if ok || full {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if existing, ok := c.stmts[query]; ok || len(c.stmts) >= c.max {
		// Another call prepared it first, or filled the cache meanwhile.
		if err := st.Close(); err != nil {
			return nil, fmt.Errorf("close surplus statement: %w", err)
		}
		return existing, nil
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for query, st := range c.stmts {
		if err := st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close statement: %w", err))
		}
		delete(c.stmts, query)
	}
	return errors.Join(errs...)
}
