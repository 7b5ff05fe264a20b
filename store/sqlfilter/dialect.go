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
// Case-insensitive conditions must be shaped so that the backend's
// case-insensitive index on the column can serve them; each implementation
// says which index that is.
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
