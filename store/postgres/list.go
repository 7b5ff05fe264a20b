package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlfilter"
)

// readMode is how listings and counts run: as unnamed statements, planned
// with their values each time, so that the planner sees a startswith prefix
// and walks the range of the matching index (see the package comment). pgx
// caches the statement's description, so this costs no extra round trip.
const readMode = pgx.QueryExecModeCacheDescribe

// List returns one page of q: the rows after q.After in q's order, at most
// q.Top of them. It reads Top+1 rows to learn whether a next page exists.
func (s *Store) List(ctx context.Context, q store.Query) (store.Page, error) {
	if err := s.enter(); err != nil {
		return store.Page{}, err
	}
	defer s.leave()
	query, args, err := listSQL(q)
	if err != nil {
		return store.Page{}, dbError(fmt.Errorf("postgres: list: %w", err))
	}
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
		return 0, dbError(fmt.Errorf("postgres: count: %w", err))
	}
	var n int64
	if err := s.pool.QueryRow(ctx, query, append([]any{readMode}, args...)...).Scan(&n); err != nil {
		return 0, dbError(fmt.Errorf("postgres: count: %w", err))
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
	b.sql.WriteString(" LIMIT " + b.bind(q.Top+1))
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
	// nullable terms need explicit NULL handling in the keyset condition.
	// They sort NULL first ascending and last descending, as SQLite does
	// (and as the conformance suite wants); PostgreSQL's own default is the
	// reverse, so orderBy says NULLS FIRST or NULLS LAST for them.
	nullable bool
}

// queryBuilder accumulates the SQL text and the bound arguments of one
// statement; values never enter the text.
type queryBuilder struct {
	sql   strings.Builder
	args  []any
	terms []sortTerm
}

// bind appends an argument and returns its placeholder.
func (b *queryBuilder) bind(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// foldedC is the sort key of a string: lower() compared bytewise under the
// C collation, so that the order is case-insensitive and the same whatever
// the database's locale. profiles_live_by_display_name is built on exactly
// this expression.
func foldedC(expr string) string { return "(lower(" + expr + ") COLLATE \"C\")" }

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
			expr = foldedC(expr)
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
	b.sql.WriteString(" WHERE tenant = " + b.bind(q.Tenant) + " AND kind = " + b.bind(int16(q.Kind)) + " AND deleted_at ")
	if q.Deleted {
		b.sql.WriteString("IS NOT NULL")
	} else {
		b.sql.WriteString("IS NULL")
	}
	if q.Filter != nil {
		cond, args, err := sqlfilter.Where(q.Filter, sqlfilter.Postgres{}, len(b.args))
		if err != nil {
			return err
		}
		b.sql.WriteString(" AND (" + cond + ")")
		b.args = append(b.args, args...)
	}
	if q.Search != nil {
		cond, args, err := sqlfilter.SearchWhere(q.Search, sqlfilter.Postgres{}, len(b.args))
		if err != nil {
			return err
		}
		if cond != "" {
			b.sql.WriteString(" AND (" + cond + ")")
			b.args = append(b.args, args...)
		}
	}
	return nil
}

// after restricts the rows to those that sort after the cursor.
//
// When every term runs in one direction and none can be NULL, that is one
// row comparison, (k1, ..., seq) > (c1, ..., cseq), which PostgreSQL turns
// into a single index range: a page deep inside a long run of ties costs
// no more than the first. Otherwise the comparison is expanded term by
// term, each with its own direction:
//
//	k1 after c1 OR (k1 = c1 AND k2 after c2) OR ... OR (k1 = c1 AND ... AND seq after cseq)
//
// with a leading k1 >= c1 (or <=) that repeats what the expansion implies,
// in a form the planner turns into an index range.
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
	// arg binds the cursor's i-th key and returns it as SQL comparable with
	// the term: a string goes through the same folding as the column.
	arg := func(i int) string {
		if i == len(c.Keys) {
			return b.bind(c.Seq)
		}
		t := b.terms[i]
		ph := b.bind(encode(t.prop, c.Keys[i]))
		if t.prop.Type == extdir.TypeString {
			return foldedC(ph + "::text")
		}
		return ph
	}

	uniform := true
	for i, t := range b.terms {
		if t.nullable || value(i).Null || t.desc != b.terms[0].desc {
			uniform = false
		}
	}
	if uniform {
		cols := make([]string, len(b.terms))
		vals := make([]string, len(b.terms))
		for i, t := range b.terms {
			cols[i] = t.expr
			vals[i] = arg(i)
		}
		op := " > "
		if b.terms[0].desc {
			op = " < "
		}
		b.sql.WriteString(" AND (" + strings.Join(cols, ", ") + ")" + op + "(" + strings.Join(vals, ", ") + ")")
		return nil
	}

	b.sql.WriteString(" AND ")
	if first := b.terms[0]; len(b.terms) > 1 && !first.nullable && !value(0).Null {
		b.sql.WriteString(first.expr)
		if first.desc {
			b.sql.WriteString(" <= ")
		} else {
			b.sql.WriteString(" >= ")
		}
		b.sql.WriteString(arg(0) + " AND ")
	}
	b.sql.WriteString("(")
	for i, t := range b.terms {
		if i > 0 {
			b.sql.WriteString(" OR ")
		}
		b.sql.WriteString("(")
		for j := range i {
			tj := b.terms[j]
			if value(j).Null {
				b.sql.WriteString(tj.expr + " IS NULL AND ")
			} else {
				b.sql.WriteString(tj.expr + " = " + arg(j) + " AND ")
			}
		}
		v := value(i)
		switch {
		case v.Null && t.desc:
			// NULLs sort last descending: nothing differs from a NULL
			// and comes after it.
			b.sql.WriteString("false")
		case v.Null:
			b.sql.WriteString(t.expr + " IS NOT NULL")
		case t.desc && t.nullable:
			b.sql.WriteString("(" + t.expr + " < " + arg(i) + " OR " + t.expr + " IS NULL)")
		case t.desc:
			b.sql.WriteString(t.expr + " < " + arg(i))
		default:
			b.sql.WriteString(t.expr + " > " + arg(i))
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
		switch {
		case t.desc && t.nullable:
			b.sql.WriteString(" DESC NULLS LAST")
		case t.desc:
			b.sql.WriteString(" DESC")
		case t.nullable:
			b.sql.WriteString(" NULLS FIRST")
		}
	}
}
