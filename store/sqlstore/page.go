package sqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlfilter"
)

// ListSQL is the statement of one page of q on the profiles table: the rows
// after q.After in q's order, Top+1 of them, so that the caller learns
// whether a next page exists (PageOf). selectProfile is the backend's
// "SELECT ... FROM profiles" of a whole row.
//
// The text depends only on the shape of q (its order, filter and search
// structure, whether a cursor is given and which of its keys are NULL),
// never on its values, so that a cache of prepared statements keyed by the
// text stays small.
func ListSQL(d sqlfilter.Dialect, selectProfile string, q store.Query) (string, []any, error) {
	if q.Top < 1 {
		return "", nil, fmt.Errorf("page size %d, want at least 1", q.Top)
	}
	b, err := newQueryBuilder(d, q.OrderBy)
	if err != nil {
		return "", nil, err
	}
	b.sql.WriteString(selectProfile)
	b.searchIndex(q)
	if err := b.where(q); err != nil {
		return "", nil, err
	}
	if q.After != nil {
		if err := b.after(q.After); err != nil {
			return "", nil, err
		}
	}
	b.orderBy()
	b.sql.WriteString(" LIMIT ")
	b.sql.WriteString(b.bind(q.Top + 1))
	return b.sql.String(), b.args, nil
}

// CountSQL is the statement that counts q's rows; Top, After and OrderBy
// play no part.
func CountSQL(d sqlfilter.Dialect, q store.Query) (string, []any, error) {
	b := queryBuilder{d: d, args: make([]any, 0, 2)} // tenant and kind
	b.sql.WriteString("SELECT count(*) FROM profiles")
	b.searchIndex(q)
	if err := b.where(q); err != nil {
		return "", nil, err
	}
	return b.sql.String(), b.args, nil
}

// PageOf makes the page of q from the rows its ListSQL returned: the first
// q.Top of them, and a cursor after the last when there was one more.
func PageOf(profiles []*extdir.Profile, q store.Query) store.Page {
	page := store.Page{Profiles: profiles}
	if len(profiles) > q.Top {
		page.Profiles = profiles[:q.Top]
		page.Next = store.CursorAfter(page.Profiles[q.Top-1], q.OrderBy)
	}
	return page
}

// A sortTerm is one key of a listing's order, as SQL.
type sortTerm struct {
	prop *extdir.Property // nil for seq
	expr string
	desc bool
	// nullable terms need explicit NULL handling in the keyset condition.
	// NULL sorts first ascending and last descending in every backend (the
	// dialect's NullsOrder says so where the database's rule differs).
	nullable bool
}

// queryBuilder accumulates the SQL text and the bound arguments of one
// statement; values never enter the text.
type queryBuilder struct {
	d     sqlfilter.Dialect
	sql   strings.Builder
	args  []any
	terms []sortTerm
}

// bind appends an argument and returns its placeholder.
func (b *queryBuilder) bind(v any) string {
	b.args = append(b.args, v)
	return b.d.Placeholder(len(b.args))
}

// newQueryBuilder resolves the order into sort terms and appends seq as the
// final tie-breaker. seq runs in the direction of the last term, so that a
// descending listing is the exact reverse of the ascending one and an index
// scanned backwards serves it without a sort.
func newQueryBuilder(d sqlfilter.Dialect, order []store.Order) (*queryBuilder, error) {
	// Room for the tenant, kind, cursor seq and limit: the arguments of an
	// unfiltered page, in one allocation.
	b := &queryBuilder{d: d, terms: make([]sortTerm, 0, len(order)+1), args: make([]any, 0, 4)}
	desc := false
	for _, o := range order {
		if o.Prop == nil || o.Prop.Column == "" {
			return nil, errors.New("order by a property without a column")
		}
		expr := o.Prop.Column
		if o.Prop.Type == extdir.TypeString {
			// Graph orders strings case-insensitively.
			expr = d.FoldOrder(expr)
		}
		b.terms = append(b.terms, sortTerm{prop: o.Prop, expr: expr, desc: o.Desc, nullable: o.Prop.Nullable})
		desc = o.Desc
	}
	b.terms = append(b.terms, sortTerm{expr: "seq", desc: desc})
	return b, nil
}

// searchHit is the rowid of the dialect's search index in a statement
// that searches through it: the seq of a candidate row.
const searchHit = "hit"

// searchIndex joins the candidates of q's $search to profiles, where the
// dialect has a search index and the search can use it
// (sqlfilter.SearchMatch):
//
//	FROM profiles JOIN (SELECT rowid AS hit FROM idx WHERE idx MATCH ?) ON seq = hit
//
// and makes hit, which equals seq, the listing's last sort term, so that
// the cursor's seq and the insertion order are a rowid range and the rowid
// order of the index, which FTS5 serves itself: a page drives from the
// index in seq order and reads about a page of rows, whatever the tenant's
// size. The subquery exposes only hit, so the columns of profiles stay
// unambiguous; SQLite flattens it into a join. where still applies
// SearchWhere's LIKEs, the exact test of a match. Without a usable index
// this writes nothing and the search tests every row of the listing.
func (b *queryBuilder) searchIndex(q store.Query) {
	idx := b.d.SearchIndex()
	if idx == "" || q.Search == nil {
		return
	}
	match, ok := sqlfilter.SearchMatch(q.Search)
	if !ok {
		return
	}
	b.sql.WriteString(" JOIN (SELECT rowid AS " + searchHit + " FROM " + idx + " WHERE " + idx + " MATCH ")
	b.sql.WriteString(b.bind(match))
	b.sql.WriteString(") ON seq = " + searchHit)
	if n := len(b.terms); n > 0 {
		b.terms[n-1].expr = searchHit
	}
}

// where selects the tenant, kind and state of q, then applies its $filter
// and $search. The deleted_at terms are written exactly as the partial
// indexes' WHERE clauses are, which is what lets the planner use those
// indexes. The filter's columns come from the property table only and its
// values are bound arguments (store/sqlfilter).
func (b *queryBuilder) where(q store.Query) error {
	b.sql.WriteString(" WHERE tenant = ")
	b.sql.WriteString(b.bind(q.Tenant))
	b.sql.WriteString(" AND kind = ")
	b.sql.WriteString(b.bind(int64(q.Kind)))
	if q.Deleted {
		b.sql.WriteString(" AND deleted_at IS NOT NULL")
	} else {
		b.sql.WriteString(" AND deleted_at IS NULL")
	}
	if q.Filter != nil {
		cond, args, err := sqlfilter.Where(q.Filter, b.d, len(b.args))
		if err != nil {
			return err
		}
		b.condition(cond, args)
	}
	if q.Search != nil {
		cond, args, err := sqlfilter.SearchWhere(q.Search, b.d, len(b.args))
		if err != nil {
			return err
		}
		b.condition(cond, args)
	}
	return nil
}

// condition adds " AND (cond)" and its arguments, or nothing for an empty
// cond (a $search with no terms).
func (b *queryBuilder) condition(cond string, args []any) {
	if cond == "" {
		return
	}
	b.sql.WriteString(" AND (")
	b.sql.WriteString(cond)
	b.sql.WriteString(")")
	b.args = append(b.args, args...)
}

// after restricts the rows to those that sort after the cursor.
//
// Where the dialect has RowRange, every term runs in one direction and none
// can be NULL, that is one row comparison, (k1, ..., seq) > (c1, ..., cseq),
// which the planner turns into a single index range. Otherwise the
// comparison is expanded term by term, each with its own direction:
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
		ph := b.bind(Encode(b.d, t.prop, c.Keys[i]))
		if t.prop.Type == extdir.TypeString {
			return b.d.FoldOrderArg(ph)
		}
		return ph
	}

	if b.d.RowRange() && b.uniform(value) {
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

	if len(b.terms) == 1 {
		// Insertion order: the cursor's seq alone.
		seq := b.terms[0].expr
		cond := seq + " > " + arg(0)
		if b.terms[0].desc {
			cond = seq + " < " + arg(0)
		}
		b.sql.WriteString(" AND " + b.d.Likely(cond))
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
		b.sql.WriteString(arg(0))
		b.sql.WriteString(" AND ")
	}
	b.sql.WriteString("(")
	for i, t := range b.terms {
		if i > 0 {
			b.sql.WriteString(" OR ")
		}
		b.sql.WriteString("(")
		for j := range i {
			tj := b.terms[j]
			b.sql.WriteString(tj.expr)
			if value(j).Null {
				b.sql.WriteString(" IS NULL AND ")
			} else {
				b.sql.WriteString(" = ")
				b.sql.WriteString(arg(j))
				b.sql.WriteString(" AND ")
			}
		}
		v := value(i)
		switch {
		case v.Null && t.desc:
			// NULLs sort last descending: nothing differs from a NULL
			// and comes after it.
			b.sql.WriteString(b.d.False())
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

// uniform reports whether every term runs in the first one's direction and
// none of them, nor the cursor's key for it, can be NULL.
func (b *queryBuilder) uniform(value func(int) extdir.Value) bool {
	for i, t := range b.terms {
		if t.nullable || value(i).Null || t.desc != b.terms[0].desc {
			return false
		}
	}
	return true
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
		if t.nullable {
			b.sql.WriteString(b.d.NullsOrder(t.desc))
		}
	}
}
