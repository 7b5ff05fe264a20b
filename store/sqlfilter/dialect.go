package sqlfilter

import (
	"strconv"
	"strings"
)

// Dialect is what differs between the SQL databases a backend may use. Each
// method returns SQL text built only from the column name it is given (which
// Where takes from the property table) and placeholders; values never pass
// through it, except Bool, which returns an argument to bind.
//
// Case-insensitive conditions and sort keys must be shaped so that the
// backend's case-insensitive index on the column can serve them; each
// implementation says which index that is. The paging methods (FoldOrder
// to RowRange) are what store/sqlstore's keyset builder needs.
type Dialect interface {
	// Placeholder returns the marker of the n-th argument of the statement,
	// counting from 1.
	Placeholder(n int) string
	// FoldEqual is true when column equals the string bound at ph, ignoring
	// case.
	FoldEqual(column, ph string) string
	// FoldIn is true when column equals one of the strings bound at phs,
	// ignoring case.
	FoldIn(column string, phs []string) string
	// FoldLike is true when column matches, ignoring case, the LIKE pattern
	// bound at ph, in which '\' escapes '%', '_' and itself.
	FoldLike(column, ph string) string
	// Bool returns the argument that stores b in a boolean column.
	Bool(b bool) any

	// FoldOrder returns the case-insensitive sort key of a string column,
	// the expression the column's ordering index is built on (Graph orders
	// strings ignoring case).
	FoldOrder(column string) string
	// FoldOrderArg returns the string bound at ph as a value comparable
	// with FoldOrder(column): a keyset cursor's key.
	FoldOrderArg(ph string) string
	// NullsOrder returns what ORDER BY must add after the direction of a
	// nullable term so that NULL sorts first ascending and last descending,
	// "" where that is the database's own rule.
	NullsOrder(desc bool) string
	// False returns a condition that never holds, in the form the planner
	// folds away.
	False() string
	// RowRange reports whether the planner turns a row comparison,
	// (a, b) > ($1, $2), into a single range of an index on (a, b).
	RowRange() bool
	// Likely returns cond marked as true for most rows, where the planner
	// takes such a hint: a keyset cursor's seq range, which should narrow
	// the range of the listing index after its equalities rather than
	// become a range of the table on its own.
	Likely(cond string) string

	// SearchIndex names the FTS5 index of the Searchable columns that
	// SearchMatch queries, through which a $search finds its candidate
	// rows in seq order; "" where there is none and a search tests every
	// row its other conditions select.
	SearchIndex() string
}

// SQLite is the dialect of SQLite (modernc.org/sqlite). Strings compare
// under the built-in NOCASE collation and LIKE, both of which fold ASCII
// letters only: "É" and "é" are different to SQLite, unlike PostgreSQL.
// Booleans are INTEGER 0 and 1.
//
// Indexes: a filterable string column is served by an index whose column is
// declared COLLATE NOCASE, e.g. (tenant, kind, company_name COLLATE NOCASE):
// eq and in by equality on it, startswith by SQLite's LIKE optimization,
// which turns a constant prefix into a range of that index. The LIKE
// optimization needs PRAGMA case_sensitive_like off (the default), which
// the backend must leave alone.
type SQLite struct{}

// Placeholder returns "?": SQLite numbers them by position.
func (SQLite) Placeholder(int) string { return "?" }

// FoldEqual returns "column = ? COLLATE NOCASE".
func (SQLite) FoldEqual(column, ph string) string {
	return column + " = " + ph + " COLLATE NOCASE"
}

// FoldIn returns "column COLLATE NOCASE IN (?, ?)": an IN compares under
// the collation of its left operand.
func (SQLite) FoldIn(column string, phs []string) string {
	return column + " COLLATE NOCASE IN (" + strings.Join(phs, ", ") + ")"
}

// FoldLike returns "column LIKE ? ESCAPE '\'"; SQLite's LIKE ignores ASCII
// case unless case_sensitive_like is on.
func (SQLite) FoldLike(column, ph string) string {
	return column + " LIKE " + ph + ` ESCAPE '\'`
}

// Bool returns 1 or 0.
func (SQLite) Bool(b bool) any {
	if b {
		return int64(1)
	}
	return int64(0)
}

// FoldOrder returns "column COLLATE NOCASE", which an index declared on
// "column COLLATE NOCASE" serves.
func (SQLite) FoldOrder(column string) string { return column + " COLLATE NOCASE" }

// FoldOrderArg returns ph itself: a comparison takes the collation of its
// left operand, FoldOrder's COLLATE NOCASE.
func (SQLite) FoldOrderArg(ph string) string { return ph }

// NullsOrder returns "": SQLite sorts NULL first ascending, last descending.
func (SQLite) NullsOrder(bool) string { return "" }

// False returns "0", the integer literal SQLite's planner recognizes as
// always false.
func (SQLite) False() string { return "0" }

// RowRange is false: the keyset condition is expanded term by term, whose
// leading range SQLite's planner uses.
func (SQLite) RowRange() bool { return false }

// Likely wraps cond in likelihood(cond, 0.9). Without it, and without
// sqlite_stat4 samples to tell a small tenant from a large one, the planner
// serves "tenant = ? AND ... AND seq > ?" as a range of the whole table by
// rowid (it guesses that an inequality keeps a quarter of the rows), which
// reads every other tenant's rows after the cursor; with it, the tenant's
// range of the listing index (TestDocumentedQueryPlans).
func (SQLite) Likely(cond string) string { return "likelihood(" + cond + ", 0.9)" }

// SearchIndex returns "profiles_search", the FTS5 table of migration 0004.
func (SQLite) SearchIndex() string { return "profiles_search" }

// Postgres is the dialect of PostgreSQL. Strings compare through lower() on
// both sides, which folds case by the database's collation (all of Unicode
// for an ICU or UTF-8 libc collation). Booleans are boolean.
//
// Indexes: one expression index per filterable string column,
// (tenant, kind, lower(column) text_pattern_ops), serves eq, in and
// startswith: the operator class has equality, and it compares bytes, which
// is what lets LIKE 'prefix%' become a range whatever the database
// collation. PostgreSQL derives that range only when the pattern is known
// at planning time, as it is with custom plans (the unnamed statements of
// the extended protocol, and the first executions of a prepared one); a
// driver that caches prepared statements should run with plan_cache_mode
// = force_custom_plan so that the fifth execution does not switch to a
// generic plan that cannot use the range.
type Postgres struct{}

// Placeholder returns "$n".
func (Postgres) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

// FoldEqual returns "lower(column) = lower($n::text)". The cast settles
// lower's overload (it also takes ranges) for an untyped parameter.
func (Postgres) FoldEqual(column, ph string) string {
	return "lower(" + column + ") = lower(" + ph + "::text)"
}

// FoldIn returns "lower(column) IN (lower($1::text), ...)".
func (Postgres) FoldIn(column string, phs []string) string {
	folded := make([]string, len(phs))
	for i, ph := range phs {
		folded[i] = "lower(" + ph + "::text)"
	}
	return "lower(" + column + ") IN (" + strings.Join(folded, ", ") + ")"
}

// FoldLike returns "lower(column) LIKE lower($n::text) ESCAPE E'\\'". The E
// string means one backslash whatever standard_conforming_strings says.
func (Postgres) FoldLike(column, ph string) string {
	return "lower(" + column + ") LIKE lower(" + ph + `::text) ESCAPE E'\\'`
}

// Bool returns b itself.
func (Postgres) Bool(b bool) any { return b }

// FoldOrder returns "(lower(column) COLLATE "C")": lower() compared
// bytewise, so that the order ignores case and is the same whatever the
// database's locale. The ordering indexes (profiles_live_by_display_name
// and its kin) are built on exactly this expression.
func (Postgres) FoldOrder(column string) string { return foldedC(column) }

// FoldOrderArg returns "(lower($n::text) COLLATE "C")", folded as the
// column is; the cast settles lower's overload for an untyped parameter.
func (Postgres) FoldOrderArg(ph string) string { return foldedC(ph + "::text") }

func foldedC(expr string) string { return "(lower(" + expr + ") COLLATE \"C\")" }

// NullsOrder returns " NULLS LAST" descending and " NULLS FIRST"
// ascending: PostgreSQL's own rule is the reverse of SQLite's, which the
// conformance suite holds every backend to.
func (Postgres) NullsOrder(desc bool) string {
	if desc {
		return " NULLS LAST"
	}
	return " NULLS FIRST"
}

// False returns "false".
func (Postgres) False() string { return "false" }

// RowRange is true: PostgreSQL turns (a, b) > ($1, $2) into one index
// range, so a page deep inside a long run of ties costs no more than the
// first.
func (Postgres) RowRange() bool { return true }

// Likely returns cond: PostgreSQL's planner takes no hints, and its
// statistics tell the tenants apart.
func (Postgres) Likely(cond string) string { return cond }

// SearchIndex returns "": a PostgreSQL search tests the tenant's rows.
func (Postgres) SearchIndex() string { return "" }
