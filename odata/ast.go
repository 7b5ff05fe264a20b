package odata

import (
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir"
)

// Expr is a boolean $filter expression: *Logical, *Not, *Compare, *In or
// *Call. ParseFilter builds it with unbound paths; CheckFilter returns a copy
// whose paths are bound to the property table. String prints the canonical
// form, which parses back to an equal tree.
type Expr interface {
	String() string
	// expr seals the interface: a translator's type switch over the five
	// node types is then complete.
	expr()
}

// LogicalOp is and or or.
type LogicalOp uint8

const (
	// And is the conjunction; it binds tighter than Or.
	And LogicalOp = iota + 1
	// Or is the disjunction.
	Or
)

// String returns the operator as written in $filter.
func (o LogicalOp) String() string {
	if o == And {
		return "and"
	}
	return "or"
}

// CompareOp is a comparison operator.
type CompareOp uint8

const (
	// Eq is eq.
	Eq CompareOp = iota + 1
	// Ne is ne.
	Ne
	// Gt is gt.
	Gt
	// Ge is ge.
	Ge
	// Lt is lt.
	Lt
	// Le is le.
	Le
)

var compareOpNames = [...]string{Eq: "eq", Ne: "ne", Gt: "gt", Ge: "ge", Lt: "lt", Le: "le"}

// String returns the operator as written in $filter.
func (o CompareOp) String() string {
	if int(o) < len(compareOpNames) && compareOpNames[o] != "" {
		return compareOpNames[o]
	}
	return "?"
}

// Allowed is the bit of the property table's Filter set that grants o.
func (o CompareOp) Allowed() extdir.Op {
	switch o {
	case Eq:
		return extdir.OpEq
	case Ne:
		return extdir.OpNe
	}
	return extdir.OpOrder
}

// Negate returns the operator that is true exactly when o is false (for
// non-null operands).
func (o CompareOp) Negate() CompareOp {
	switch o {
	case Eq:
		return Ne
	case Ne:
		return Eq
	case Gt:
		return Le
	case Ge:
		return Lt
	case Lt:
		return Ge
	case Le:
		return Gt
	}
	return o
}

// Func is a built-in string function.
type Func uint8

const (
	// StartsWith is startswith(prop,'prefix').
	StartsWith Func = iota + 1
	// EndsWith is endswith(prop,'suffix'); Graph serves it only as an
	// advanced query, and extdir not at all.
	EndsWith
	// Contains is contains(prop,'part'); not supported on directory objects.
	Contains
)

var funcNames = [...]string{StartsWith: "startswith", EndsWith: "endswith", Contains: "contains"}

// String returns the canonical (lower-case) function name.
func (f Func) String() string {
	if int(f) < len(funcNames) && funcNames[f] != "" {
		return funcNames[f]
	}
	return "?"
}

// Logical is "Left and Right" or "Left or Right".
type Logical struct {
	Op          LogicalOp
	Left, Right Expr
}

// Not is "not X".
type Not struct {
	X Expr
}

// Compare is "Path Op Value": a property compared with a literal.
type Compare struct {
	Path  Path
	Op    CompareOp
	Value Literal
}

// In is "Path in (Values...)".
type In struct {
	Path   Path
	Values []Literal
}

// Call is a string function applied to a property and a literal:
// "startswith(Path,Arg)".
type Call struct {
	Func Func
	Path Path
	Arg  Literal
}

func (*Logical) expr() {}
func (*Not) expr()     {}
func (*Compare) expr() {}
func (*In) expr()      {}
func (*Call) expr()    {}

// Path names a property: "companyName" or, for a field of a complex
// property, "address/city".
type Path struct {
	Segments []string
	// Prop is the property (for address/city, the field) the path names; nil
	// until CheckFilter binds it.
	Prop *extdir.Property
}

// String returns the path as written in $filter.
func (p Path) String() string { return strings.Join(p.Segments, "/") }

// LiteralKind is the type of a literal.
type LiteralKind uint8

const (
	// LitNull is null.
	LitNull LiteralKind = iota + 1
	// LitString is a quoted string.
	LitString
	// LitBool is true or false.
	LitBool
	// LitInt is an integer.
	LitInt
	// LitGUID is an unquoted GUID.
	LitGUID
	// LitDateTimeOffset is an unquoted DateTimeOffset.
	LitDateTimeOffset
)

// EDMName is the type of the literal as OData names it in messages.
func (k LiteralKind) EDMName() string {
	switch k {
	case LitString:
		return "Edm.String"
	case LitBool:
		return "Edm.Boolean"
	case LitInt:
		return "Edm.Int64"
	case LitGUID:
		return "Edm.Guid"
	case LitDateTimeOffset:
		return "Edm.DateTimeOffset"
	}
	return "null"
}

// Literal is a constant in a $filter expression. Exactly one value field is
// meaningful, chosen by Kind.
type Literal struct {
	Kind LiteralKind
	// Str holds a LitString (unescaped) or a LitGUID (lower case).
	Str  string
	Bool bool
	Int  int64
	// Time holds a LitDateTimeOffset, in UTC, to the nanosecond.
	Time time.Time
}

// String prints the literal as $filter writes it.
func (l Literal) String() string {
	switch l.Kind {
	case LitString:
		return "'" + strings.ReplaceAll(l.Str, "'", "''") + "'"
	case LitBool:
		return strconv.FormatBool(l.Bool)
	case LitInt:
		return strconv.FormatInt(l.Int, 10)
	case LitGUID:
		return l.Str
	case LitDateTimeOffset:
		return l.Time.UTC().Format(time.RFC3339Nano)
	}
	return "null"
}

// Precedence levels of the canonical printer: a child is parenthesized when
// it binds more loosely than its place requires.
const (
	precOr = iota + 1
	precAnd
	precAtom
)

func precedence(e Expr) int {
	if l, ok := e.(*Logical); ok {
		if l.Op == And {
			return precAnd
		}
		return precOr
	}
	return precAtom
}

// String prints the canonical form: lower-case keywords, single spaces, and
// only the parentheses the tree needs (a right operand of the same operator
// keeps them, since and/or group to the left).
func (e *Logical) String() string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

// String prints "not X", parenthesizing X unless it is a call or another not.
func (e *Not) String() string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

// String prints "path op literal".
func (e *Compare) String() string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

// String prints "path in (a,b)".
func (e *In) String() string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

// String prints "func(path,literal)".
func (e *Call) String() string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *Logical:
		p := precedence(e)
		writeOperand(b, e.Left, precedence(e.Left) < p)
		b.WriteString(" ")
		b.WriteString(e.Op.String())
		b.WriteString(" ")
		writeOperand(b, e.Right, precedence(e.Right) <= p)
	case *Not:
		b.WriteString("not ")
		switch e.X.(type) {
		case *Call, *Not:
			writeExpr(b, e.X)
		default:
			writeOperand(b, e.X, true)
		}
	case *Compare:
		b.WriteString(e.Path.String())
		b.WriteString(" ")
		b.WriteString(e.Op.String())
		b.WriteString(" ")
		b.WriteString(e.Value.String())
	case *In:
		b.WriteString(e.Path.String())
		b.WriteString(" in (")
		for i, v := range e.Values {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(v.String())
		}
		b.WriteString(")")
	case *Call:
		b.WriteString(e.Func.String())
		b.WriteString("(")
		b.WriteString(e.Path.String())
		b.WriteString(",")
		b.WriteString(e.Arg.String())
		b.WriteString(")")
	case nil:
		b.WriteString("<nil>")
	}
}

func writeOperand(b *strings.Builder, e Expr, parens bool) {
	if parens {
		b.WriteString("(")
	}
	writeExpr(b, e)
	if parens {
		b.WriteString(")")
	}
}
