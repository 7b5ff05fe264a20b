// Package sqlfilter turns a checked $filter tree (odata.CheckFilter) and a
// parsed $search (odata.ParseSearch) into a SQL condition with bound
// arguments, for any backend through a Dialect.
//
// What it guarantees, whatever tree it is given:
//   - column names come only from Property.Column of a property in
//     extdir.Columns (the property table); a tree naming any other
//     *extdir.Property, or none, is an error, never SQL;
//   - every value is a bound argument; the only SQL literals are the LIKE
//     escape character and the constant condition "1 = 0";
//   - each operator is re-checked against the property's Filter set, so an
//     unchecked or hand-made tree cannot reach a column the table does not
//     open to it.
//
// Semantics. String comparisons ignore case (eq, ne, in, startswith), as
// Graph's do. Times are stored as whole Unix seconds in an integer column
// in every backend and bound as int64; a literal with a fraction of a
// second is compared exactly (createdDateTime gt 2024-01-01T00:00:00.5Z
// matches 00:00:01 and later). Logic is two-valued, as OData's eq and ne are: "x ne 'a'" is true
// when x is null, "x eq null" is IS NULL, and not is the complement of what
// it negates, so "not startswith(companyName,'C')" includes profiles with no
// companyName, and not (a eq 'x') means exactly a ne 'x'. Strict OData
// would let a null propagate through startswith and not and drop those
// profiles; extdir prefers the rule a reader can check by hand: a filter
// and its negation partition the collection. To get this from SQL's
// three-valued logic the translator pushes not down to the comparisons (De
// Morgan) and gives each negated comparison on a nullable column an
// explicit "column IS NULL OR" branch; no SQL NOT is ever applied to
// something that could be NULL.
package sqlfilter

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
)

// whitelist holds the properties whose Column may appear in SQL: the stored
// columns of the property table.
var whitelist = func() map[*extdir.Property]bool {
	m := make(map[*extdir.Property]bool, len(extdir.Columns))
	for _, p := range extdir.Columns {
		if p.Column != "" {
			m[p] = true
		}
	}
	return m
}()

// Where translates a checked $filter tree into a SQL condition and its
// arguments. argOffset is the number of arguments the statement binds before
// this condition, so that PostgreSQL's placeholders continue from
// $argOffset+1. A nil e gives "" and no arguments: there is no condition to
// add. The condition is self-contained (parenthesized where it has AND or
// OR) and may be joined to others with AND.
//
// An error means the tree did not come from odata.CheckFilter (an unbound
// or foreign property, an operator or literal the property does not allow):
// a bug in the caller, not a client error.
func Where(e odata.Expr, d Dialect, argOffset int) (string, []any, error) {
	return where(e, d, argOffset, whitelist, 1)
}

// auditWhitelist holds the columns of the audit log's filterable
// properties (extdir.AuditProperties).
var auditWhitelist = func() map[*extdir.Property]bool {
	m := make(map[*extdir.Property]bool, len(extdir.AuditProperties))
	for _, p := range extdir.AuditProperties {
		m[p] = true
	}
	return m
}()

// AuditWhere is Where for a checked audit $filter (odata.ParseAuditFilter),
// over the audit table's columns, whose times are Unix microseconds.
func AuditWhere(e odata.Expr, d Dialect, argOffset int) (string, []any, error) {
	return where(e, d, argOffset, auditWhitelist, 1_000_000)
}

// where writes e with columns from allowed and time columns holding
// perSecond units a second.
func where(e odata.Expr, d Dialect, argOffset int, allowed map[*extdir.Property]bool, perSecond int64) (string, []any, error) {
	if e == nil {
		return "", nil, nil
	}
	w := &writer{d: d, offset: argOffset, allowed: allowed, perSecond: perSecond}
	if err := w.expr(e, false); err != nil {
		return "", nil, fmt.Errorf("sqlfilter: %w", err)
	}
	return w.b.String(), w.args, nil
}

// writer accumulates SQL text and its arguments in the same order, which is
// what positional '?' placeholders need.
type writer struct {
	d      Dialect
	offset int
	b      strings.Builder
	args   []any
	// allowed are the properties whose columns may appear; perSecond is
	// the unit of time columns (1: seconds).
	allowed   map[*extdir.Property]bool
	perSecond int64
}

func (w *writer) bind(v any) string {
	w.args = append(w.args, v)
	return w.d.Placeholder(w.offset + len(w.args))
}

// expr writes e, or its negation when neg is set.
func (w *writer) expr(e odata.Expr, neg bool) error {
	switch e := e.(type) {
	case *odata.Logical:
		op := " AND "
		if (e.Op == odata.Or) != neg { // De Morgan: not (a and b) = not a or not b
			op = " OR "
		}
		w.b.WriteString("(")
		for i, x := range operands(e, nil) {
			if i > 0 {
				w.b.WriteString(op)
			}
			if err := w.expr(x, neg); err != nil {
				return err
			}
		}
		w.b.WriteString(")")
		return nil
	case *odata.Not:
		return w.expr(e.X, !neg)
	case *odata.Compare:
		return w.compare(e, neg)
	case *odata.In:
		return w.in(e, neg)
	case *odata.Call:
		return w.call(e, neg)
	}
	return fmt.Errorf("unexpected filter node %T", e)
}

// operands flattens a chain of the same operator, so that a or b or c is
// written (a OR b OR c) rather than nested.
func operands(e *odata.Logical, dst []odata.Expr) []odata.Expr {
	for _, x := range []odata.Expr{e.Left, e.Right} {
		if l, ok := x.(*odata.Logical); ok && l.Op == e.Op {
			dst = operands(l, dst)
		} else {
			dst = append(dst, x)
		}
	}
	return dst
}

// column returns the property a path is bound to after checking it is in
// the whitelist and allows the operator.
func (w *writer) column(path odata.Path, need extdir.Op) (*extdir.Property, error) {
	p := path.Prop
	if p == nil {
		return nil, fmt.Errorf("property %q is not bound; run odata.CheckFilter first", path.String())
	}
	if !w.allowed[p] {
		return nil, fmt.Errorf("property %q is not a column of the property table", p.Name)
	}
	if !p.Filter.Has(need) {
		return nil, fmt.Errorf("property %q does not allow this operator", p.Name)
	}
	return p, nil
}

var errLiteral = errors.New("literal does not match the property's type")

func (w *writer) compare(e *odata.Compare, neg bool) error {
	p, err := w.column(e.Path, e.Op.Allowed())
	if err != nil {
		return err
	}
	op := e.Op
	if neg {
		op = op.Negate()
	}
	// Under OData's two-valued eq/ne, a null column satisfies ne and
	// nothing else; negation flips that.
	nullMatches := (e.Op == odata.Ne) != neg
	col := p.Column
	v := e.Value

	if v.Kind == odata.LitNull {
		if !p.Nullable || (op != odata.Eq && op != odata.Ne) {
			return fmt.Errorf("property %q: %w", p.Name, errLiteral)
		}
		if op == odata.Eq {
			w.b.WriteString(col + " IS NULL")
		} else {
			w.b.WriteString(col + " IS NOT NULL")
		}
		return nil
	}

	var cond string
	switch {
	case p.Type == extdir.TypeString && v.Kind == odata.LitString && (op == odata.Eq || op == odata.Ne):
		cond = w.d.FoldEqual(col, w.bind(v.Str))
		if op == odata.Ne {
			cond = "NOT (" + cond + ")"
		}
	case p.Type == extdir.TypeBoolean && v.Kind == odata.LitBool && (op == odata.Eq || op == odata.Ne):
		sym := " = "
		if op == odata.Ne {
			sym = " <> "
		}
		cond = col + sym + w.bind(w.d.Bool(v.Bool))
	case p.Type == extdir.TypeDateTimeOffset && v.Kind == odata.LitDateTimeOffset:
		cond = w.timeCompare(col, op, v)
	default:
		return fmt.Errorf("property %q with operator %s: %w", p.Name, e.Op, errLiteral)
	}
	if nullMatches && p.Nullable {
		cond = "(" + col + " IS NULL OR " + cond + ")"
	}
	w.b.WriteString(cond)
	return nil
}

// timeCompare compares an INTEGER column of whole units (seconds, or
// microseconds for the audit log) with an instant that may carry a
// fraction of a unit. For such an instant t, between whole units s and
// s+1, a column value c satisfies c > t exactly when c > s, c >= t when
// c > s, c < t when c <= s, c <= t when c <= s; it never equals t.
func (w *writer) timeCompare(col string, op odata.CompareOp, v odata.Literal) string {
	sec, rest := v.Time.Unix(), int64(v.Time.Nanosecond()) // floor, also before 1970
	unit := int64(1_000_000_000) / w.perSecond
	sec = sec*w.perSecond + rest/unit
	frac := rest%unit != 0
	var sym string
	switch op {
	case odata.Eq:
		if frac {
			return "1 = 0"
		}
		sym = " = "
	case odata.Ne:
		if frac {
			return col + " IS NOT NULL"
		}
		sym = " <> "
	case odata.Gt:
		sym = " > "
	case odata.Ge:
		sym = " >= "
		if frac {
			sym = " > "
		}
	case odata.Lt:
		sym = " < "
		if frac {
			sym = " <= "
		}
	case odata.Le:
		sym = " <= "
	}
	return col + sym + w.bind(sec)
}

func (w *writer) in(e *odata.In, neg bool) error {
	p, err := w.column(e.Path, extdir.OpIn)
	if err != nil {
		return err
	}
	if p.Type != extdir.TypeString || len(e.Values) == 0 {
		return fmt.Errorf("property %q: in: %w", p.Name, errLiteral)
	}
	phs := make([]string, len(e.Values))
	for i, v := range e.Values {
		if v.Kind != odata.LitString {
			return fmt.Errorf("property %q: in: %w", p.Name, errLiteral)
		}
		phs[i] = w.bind(v.Str)
	}
	w.b.WriteString(negated(p, w.d.FoldIn(p.Column, phs), neg))
	return nil
}

func (w *writer) call(e *odata.Call, neg bool) error {
	if e.Func != odata.StartsWith {
		return fmt.Errorf("function %s is not supported", e.Func)
	}
	p, err := w.column(e.Path, extdir.OpStartsWith)
	if err != nil {
		return err
	}
	if p.Type != extdir.TypeString || e.Arg.Kind != odata.LitString {
		return fmt.Errorf("property %q: startswith: %w", p.Name, errLiteral)
	}
	cond := w.d.FoldLike(p.Column, w.bind(EscapeLike(e.Arg.Str)+"%"))
	w.b.WriteString(negated(p, cond, neg))
	return nil
}

// negated returns cond, or when neg is set its complement, which includes
// the rows where the (nullable) column is null: cond is false there.
func negated(p *extdir.Property, cond string, neg bool) string {
	if !neg {
		return cond
	}
	if p.Nullable {
		return "(" + p.Column + " IS NULL OR NOT (" + cond + "))"
	}
	return "NOT (" + cond + ")"
}

// EscapeLike escapes s for use in a LIKE pattern with ESCAPE '\', so that
// '%', '_' and '\' in a client's value match themselves.
func EscapeLike(s string) string {
	if !strings.ContainsAny(s, `\%_`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '%', '_':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// wordSeparators are the characters after which a $search term may start a
// word (see odata.Search).
const wordSeparators = " -_."

// SearchWhere translates a parsed $search into a SQL condition and its
// arguments, with the same conventions as Where (argOffset, nil gives "").
// A term matches when the column, ignoring case, starts with the text or
// contains it right after a space, '-', '_' or '.'; see odata.Search. No
// index serves the word rule: $search scans the rows its other conditions
// (tenant, kind) select, as Graph's advanced queries are eventual anyway.
func SearchWhere(s *odata.Search, d Dialect, argOffset int) (string, []any, error) {
	if s == nil || len(s.Any) == 0 {
		return "", nil, nil
	}
	w := &writer{d: d, offset: argOffset}
	w.b.WriteString("(")
	for i, group := range s.Any {
		if i > 0 {
			w.b.WriteString(" OR ")
		}
		if len(group) == 0 {
			return "", nil, errors.New("sqlfilter: empty $search group")
		}
		w.b.WriteString("(")
		for j, t := range group {
			if j > 0 {
				w.b.WriteString(" AND ")
			}
			if t.Prop == nil || !whitelist[t.Prop] || !t.Prop.Searchable || t.Prop.Type != extdir.TypeString {
				return "", nil, fmt.Errorf("sqlfilter: $search on a property that is not searchable")
			}
			text := EscapeLike(t.Text)
			w.b.WriteString("(")
			w.b.WriteString(d.FoldLike(t.Prop.Column, w.bind(text+"%")))
			for _, sep := range wordSeparators {
				w.b.WriteString(" OR ")
				w.b.WriteString(d.FoldLike(t.Prop.Column, w.bind("%"+EscapeLike(string(sep))+text+"%")))
			}
			w.b.WriteString(")")
		}
		w.b.WriteString(")")
	}
	w.b.WriteString(")")
	return w.b.String(), w.args, nil
}

// SearchMatch returns the FTS5 query of the rows a $search may match, for a
// dialect whose SearchIndex is an FTS5 index of the Searchable columns under
// their column names, tokenized by unicode61 (store/sqlite migration 0004):
// each term becomes `column : "text" *`, the phrase of the text's tokens
// with the last one a prefix, ANDed within a group and ORed across groups.
// The text is one FTS5 string (its '"' doubled), so no client text is ever
// FTS5 syntax, and FTS5 tokenizes it with the index's own tokenizer.
//
// Every row SearchWhere accepts is among those the query matches: the
// LIKEs' word starts are token starts (the separators split tokens), a
// match holds the text's tokens consecutively, the last perhaps longer, and
// unicode61 folds at least the ASCII case the LIKEs fold. The query may
// match more (a '+' or a '/' splits tokens too), so SearchWhere stays the
// exact test and this is the access path.
//
// ok is false when some term's text has no token (only punctuation, such as
// "displayName:-"): its phrase would match nothing, not everything, and the
// search must go without the index.
func SearchMatch(s *odata.Search) (match string, ok bool) {
	if s == nil || len(s.Any) == 0 {
		return "", false
	}
	var b strings.Builder
	for i, group := range s.Any {
		if len(group) == 0 {
			return "", false
		}
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(")
		for j, t := range group {
			if t.Prop == nil || !whitelist[t.Prop] || !t.Prop.Searchable || t.Prop.Type != extdir.TypeString || !HasSearchToken(t.Text) {
				return "", false
			}
			if j > 0 {
				b.WriteString(" AND ")
			}
			b.WriteString(t.Prop.Column)
			b.WriteString(` : "`)
			b.WriteString(strings.ReplaceAll(t.Text, `"`, `""`))
			b.WriteString(`" *`)
		}
		b.WriteString(")")
	}
	return b.String(), true
}

// HasSearchToken reports whether text surely holds a token for unicode61:
// an ASCII letter or digit, or a letter or number of Go's Unicode tables
// that SQLite's tables (an older Unicode) also know as one; the sqlite
// package's tests check every such rune against the linked SQLite. False is
// the safe answer: it only costs the index. A NUL ends an SQLite string
// early, so text holding one is never tokenized here.
func HasSearchToken(text string) bool {
	if strings.IndexByte(text, 0) >= 0 {
		return false
	}
	for _, r := range text {
		if isSearchTokenRune(r) {
			return true
		}
	}
	return false
}

func isSearchTokenRune(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	case r > 0xFFFF:
		// Beyond the basic plane the scripts are the newest, the ones
		// SQLite's tables may predate.
		return false
	case 0x19B0 <= r && r <= 0x19C9, r == 0x1CF2 || r == 0x1CF3:
		// New Tai Lue vowels and two Vedic signs, marks in SQLite's
		// tables and letters in Go's.
		return false
	}
	return unicode.In(r, unicode.L, unicode.N)
}
