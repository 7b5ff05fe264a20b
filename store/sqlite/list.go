package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlfilter"
)

// List returns one page of q: the rows after q.After in q's order, at most
// q.Top of them. It reads Top+1 rows to learn whether a next page exists.
func (s *Store) List(ctx context.Context, q store.Query) (store.Page, error) {
	if err := s.enter(); err != nil {
		return store.Page{}, err
	}
	defer s.leave()
	query, args, err := listSQL(q)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite: list: %w", err)
	}
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
	page := store.Page{Profiles: profiles}
	if len(profiles) > q.Top {
		page.Profiles = profiles[:q.Top]
		page.Next = store.CursorAfter(page.Profiles[q.Top-1], q.OrderBy)
	}
	return page, nil
}

// Count returns how many profiles match q; Top and After play no part.
func (s *Store) Count(ctx context.Context, q store.Query) (int64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	query, args, err := countSQL(q)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
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
	if q.Top < 1 {
		return "", nil, fmt.Errorf("page size %d, want at least 1", q.Top)
	}
	b, err := newQueryBuilder(q.OrderBy)
	if err != nil {
		return "", nil, err
	}
	b.sql.WriteString(selectProfile)
	if err := b.where(q); err != nil {
		return "", nil, err
	}
	if q.After != nil {
		if err := b.after(q.After); err != nil {
			return "", nil, err
		}
	}
	b.orderBy()
	b.sql.WriteString(" LIMIT ?")
	b.args = append(b.args, q.Top+1)
	return b.sql.String(), b.args, nil
}

// countSQL is the statement that counts q's rows.
func countSQL(q store.Query) (string, []any, error) {
	var b queryBuilder
	b.sql.WriteString("SELECT count(*) FROM profiles")
	if err := b.where(q); err != nil {
		return "", nil, err
	}
	return b.sql.String(), b.args, nil
}

// A sortTerm is one key of a listing's order, as SQL.
type sortTerm struct {
	prop *extdir.Property // nil for seq
	expr string
	desc bool
	// nullable terms need explicit NULL handling in the keyset condition;
	// SQLite sorts NULL first ascending and last descending.
	nullable bool
}

// queryBuilder accumulates the SQL text and the bound arguments of one
// statement; values never enter the text.
type queryBuilder struct {
	sql   strings.Builder
	args  []any
	terms []sortTerm
}

// newQueryBuilder resolves the order into sort terms and appends seq as the
// final tie-breaker. seq runs in the direction of the last term, so that a
// descending listing is the exact reverse of the ascending one and an index
// scanned backwards serves it without a sort.
func newQueryBuilder(order []store.Order) (*queryBuilder, error) {
	b := &queryBuilder{terms: make([]sortTerm, 0, len(order)+1)}
	desc := false
	for _, o := range order {
		if o.Prop == nil || o.Prop.Column == "" {
			return nil, errors.New("order by a property without a column")
		}
		expr := o.Prop.Column
		if o.Prop.Type == extdir.TypeString {
			// Graph orders strings case-insensitively.
			expr += " COLLATE NOCASE"
		}
		b.terms = append(b.terms, sortTerm{prop: o.Prop, expr: expr, desc: o.Desc, nullable: o.Prop.Nullable})
		desc = o.Desc
	}
	b.terms = append(b.terms, sortTerm{expr: "seq", desc: desc})
	return b, nil
}

// where selects the tenant, kind and state of q, then applies its $filter
// and $search. The deleted_at terms are written exactly as the partial
// indexes' WHERE clauses are, which is what lets the planner use those
// indexes. The filter's columns come from the property table only and its
// values are bound arguments (store/sqlfilter).
func (b *queryBuilder) where(q store.Query) error {
	b.sql.WriteString(" WHERE tenant = ? AND kind = ? AND deleted_at ")
	if q.Deleted {
		b.sql.WriteString("IS NOT NULL")
	} else {
		b.sql.WriteString("IS NULL")
	}
	b.args = append(b.args, q.Tenant, int64(q.Kind))
	if q.Filter != nil {
		cond, args, err := sqlfilter.Where(q.Filter, sqlfilter.SQLite{}, len(b.args))
		if err != nil {
			return err
		}
		b.sql.WriteString(" AND (" + cond + ")")
		b.args = append(b.args, args...)
	}
	if q.Search != nil {
		cond, args, err := sqlfilter.SearchWhere(q.Search, sqlfilter.SQLite{}, len(b.args))
		if err != nil {
			return err
		}
		b.sql.WriteString(" AND (" + cond + ")")
		b.args = append(b.args, args...)
	}
	return nil
}

// after restricts the rows to those that sort after the cursor: the
// row-value comparison (k1, ..., seq) > (c1, ..., cseq) expanded term by
// term, since each term has its own direction:
//
//	k1 after c1 OR (k1 = c1 AND k2 after c2) OR ... OR (k1 = c1 AND ... AND seq after cseq)
//
// A leading k1 >= c1 (or <=) repeats what the expansion implies, in a form
// the planner turns into an index range.
func (b *queryBuilder) after(c *store.Cursor) error {
	if len(c.Keys) != len(b.terms)-1 {
		return fmt.Errorf("cursor has %d keys for an order of %d terms", len(c.Keys), len(b.terms)-1)
	}
	value := func(i int) extdir.Value {
		if i == len(c.Keys) {
			return extdir.Value{Int: c.Seq}
		}
		return c.Keys[i]
	}
	arg := func(i int) any {
		if i == len(c.Keys) {
			return c.Seq
		}
		return encode(b.terms[i].prop, c.Keys[i])
	}

	b.sql.WriteString(" AND ")
	if first := b.terms[0]; len(b.terms) > 1 && !first.nullable && !value(0).Null {
		b.sql.WriteString(first.expr)
		if first.desc {
			b.sql.WriteString(" <= ? AND ")
		} else {
			b.sql.WriteString(" >= ? AND ")
		}
		b.args = append(b.args, arg(0))
	}
	b.sql.WriteString("(")
	for i, t := range b.terms {
		if i > 0 {
			b.sql.WriteString(" OR ")
		}
		b.sql.WriteString("(")
		for j := range i {
			tj, vj := b.terms[j], value(j)
			if vj.Null {
				b.sql.WriteString(tj.expr + " IS NULL AND ")
			} else {
				b.sql.WriteString(tj.expr + " = ? AND ")
				b.args = append(b.args, arg(j))
			}
		}
		v := value(i)
		switch {
		case v.Null && t.desc:
			// NULLs sort last descending: nothing differs from a NULL
			// and comes after it.
			b.sql.WriteString("0")
		case v.Null:
			b.sql.WriteString(t.expr + " IS NOT NULL")
		case t.desc && t.nullable:
			b.sql.WriteString("(" + t.expr + " < ? OR " + t.expr + " IS NULL)")
			b.args = append(b.args, arg(i))
		case t.desc:
			b.sql.WriteString(t.expr + " < ?")
			b.args = append(b.args, arg(i))
		default:
			b.sql.WriteString(t.expr + " > ?")
			b.args = append(b.args, arg(i))
		}
		b.sql.WriteString(")")
	}
	b.sql.WriteString(")")
	return nil
}

func (b *queryBuilder) orderBy() {
	b.sql.WriteString(" ORDER BY ")
	for i, t := range b.terms {
		if i > 0 {
			b.sql.WriteString(", ")
		}
		b.sql.WriteString(t.expr)
		if t.desc {
			b.sql.WriteString(" DESC")
		}
	}
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
