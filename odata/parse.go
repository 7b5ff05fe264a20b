// Package odata parses the OData query options of the profile collections
// ($filter, $orderby, $search; query.go has the others) into typed values
// checked against the property table. It knows nothing of HTTP or SQL:
// store/sqlfilter turns a checked $filter into SQL.
//
// The $filter language is the subset of OData 4.01 that Graph's directory
// uses:
//
//	expr    = or
//	or      = and *( "or" and )
//	and     = unary *( "and" unary )
//	unary   = "not" unary / "(" expr ")" / call / compare
//	call    = ( "startswith" / "endswith" / "contains" ) "(" path "," literal ")"
//	compare = path ( ( "eq" / "ne" / "gt" / "ge" / "lt" / "le" ) literal
//	               / "in" "(" literal *( "," literal ) ")" )
//	        / path "/any(" identifier ":" expr ")"
//	path    = identifier *( "/" identifier )
//
// A lambda, collection/any(t: t/id eq 'x'), is read as its body with the
// range variable replaced by the collection's path (collection/id eq 'x'):
// exact for the collections extdir filters on, which hold one member each
// (an audit record's one target resource). Lambdas do not nest, and inside
// one every path starts with the range variable.
//
//	literal = 'string' / integer / true / false / null / GUID / DateTimeOffset
//
// Precedence is not > and > or, comparisons bind tighter than and, and and/or
// group to the left. As in OData, not applies to what follows it directly:
// OData reads "not companyName eq 'x'" as "(not companyName) eq 'x'", a type
// error, so the parser refuses it and suggests "not (companyName eq 'x')".
// A comparison has a property on the left and a literal on the right;
// comparing two properties, or a function call with true/false, is outside
// the subset.
//
// Keywords (operators, and/or/not/in, function names, true/false/null, and
// asc/desc in $orderby) are matched in any case, as OData 4.01 requires of
// operators and Graph does (its documentation writes startsWith); property
// names are matched exactly, as the property table does. The canonical
// printer writes keywords in lower case. $search is the exception: OData
// spells its AND and OR in capitals only.
//
// Errors are *extdir.Error. A syntax error is extdir.EBadRequest with
// "Syntax error at position N in '<expression>': expected ...", N counting
// characters from 0, as Graph's OData layer reports them.
//
// Limits: an expression is at most MaxFilterLength bytes of valid UTF-8, and
// parentheses and not nest at most MaxDepth deep; past that the parser
// answers with an error rather than recursing further.
package odata

import (
	"strconv"
	"strings"

	"github.com/extdir/extdir"
)

// MaxFilterLength bounds a $filter, $orderby or $search value in bytes.
const MaxFilterLength = 4096

// MaxDepth bounds how deep parentheses and not may nest in $filter: 32
// levels are accepted, a 33rd is refused.
const MaxDepth = 32

// ParseFilter parses a $filter expression into a tree whose paths are not
// yet bound to properties: pass it to CheckFilter (or use Filter, which does
// both). A malformed expression is an *extdir.Error with extdir.EBadRequest
// whose message names the character offset and what was expected there.
func ParseFilter(s string) (Expr, error) {
	return parseFilter(s, MaxFilterLength)
}

// Filter parses a $filter expression and checks it against the property
// table for kind k: ParseFilter then CheckFilter. The result is ready for
// store/sqlfilter.
func Filter(s string, k extdir.Kind) (Expr, error) {
	e, err := ParseFilter(s)
	if err != nil {
		return nil, err
	}
	return CheckFilter(e, k)
}

func parseFilter(s string, limit int) (Expr, error) {
	if err := checkInput("$filter", s, limit); err != nil {
		return nil, err
	}
	toks, lerr := tokenize(s)
	if lerr != nil {
		return nil, syntaxError(s, lerr.pos, lerr.msg)
	}
	p := &filterParser{src: s, toks: toks}
	e := p.parseOr(0)
	if p.err != nil {
		return nil, p.err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.fail(t, "expected 'and', 'or' or the end of the expression, found "+t.describe())
	}
	return e, nil
}

// filterParser is a recursive-descent parser over a token slice. The first
// error stops it: every parse method returns nil once err is set.
type filterParser struct {
	src  string
	toks []token
	i    int
	err  error
	// lambdaVar is the range variable of the lambda being read, and
	// lambdaPrefix the collection path it stands for.
	lambdaVar    string
	lambdaPrefix []string
}

func (p *filterParser) peek() token { return p.toks[p.i] }

func (p *filterParser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *filterParser) fail(at token, msg string) error {
	if p.err == nil {
		p.err = syntaxError(p.src, at.pos, msg)
	}
	return p.err
}

// failExpected reports what was expected at t, naming t unless it is the end.
func (p *filterParser) failExpected(t token, what string) {
	msg := "expected " + what
	if t.kind != tokEOF {
		msg += ", found " + t.describe()
	}
	p.fail(t, msg)
}

func (p *filterParser) parseOr(depth int) Expr {
	left := p.parseAnd(depth)
	for p.err == nil && p.peek().is("or") {
		p.next()
		right := p.parseAnd(depth)
		if p.err != nil {
			return nil
		}
		left = &Logical{Op: Or, Left: left, Right: right}
	}
	if p.err != nil {
		return nil
	}
	return left
}

func (p *filterParser) parseAnd(depth int) Expr {
	left := p.parseUnary(depth)
	for p.err == nil && p.peek().is("and") {
		p.next()
		right := p.parseUnary(depth)
		if p.err != nil {
			return nil
		}
		left = &Logical{Op: And, Left: left, Right: right}
	}
	if p.err != nil {
		return nil
	}
	return left
}

func (p *filterParser) parseUnary(depth int) Expr {
	t := p.peek()
	if depth > MaxDepth {
		p.fail(t, "the expression nests parentheses and 'not' deeper than the limit of "+strconv.Itoa(MaxDepth))
		return nil
	}
	switch {
	case t.is("not"):
		p.next()
		n := p.peek()
		callNext := n.kind == tokIdent && p.peekAt(1).kind == tokLParen
		if n.kind != tokLParen && !n.is("not") && !callNext {
			p.failExpected(n, "'(' or a function call after 'not' (write not (companyName eq 'x'))")
			return nil
		}
		x := p.parseUnary(depth + 1)
		if p.err != nil {
			return nil
		}
		return &Not{X: x}
	case t.kind == tokLParen:
		p.next()
		e := p.parseOr(depth + 1)
		if p.err != nil {
			return nil
		}
		if c := p.peek(); c.kind != tokRParen {
			p.failExpected(c, "')' or an operator ('and', 'or')")
			return nil
		}
		p.next()
		return e
	case t.kind == tokIdent && p.peekAt(1).kind == tokLParen:
		return p.parseCall()
	case t.kind == tokIdent && !isLiteralKeyword(t):
		return p.parseComparison(depth)
	}
	p.failExpected(t, "a property name, 'not', '(' or a function call")
	return nil
}

func (p *filterParser) parseCall() Expr {
	name := p.next()
	var f Func
	switch {
	case name.is("startswith"):
		f = StartsWith
	case name.is("endswith"):
		f = EndsWith
	case name.is("contains"):
		f = Contains
	default:
		p.fail(name, "unknown function "+name.describe()+"; expected startswith")
		return nil
	}
	p.next() // the '(' the caller saw
	path, ok := p.parsePath("a property name as the first argument of " + f.String())
	if !ok {
		return nil
	}
	if c := p.peek(); c.kind != tokComma {
		p.failExpected(c, "',' after the property name in "+f.String())
		return nil
	}
	p.next()
	arg, ok := p.parseLiteral("a value as the second argument of " + f.String())
	if !ok {
		return nil
	}
	if c := p.peek(); c.kind != tokRParen {
		p.failExpected(c, "')' to close "+f.String())
		return nil
	}
	p.next()
	return &Call{Func: f, Path: path, Arg: arg}
}

func (p *filterParser) parseComparison(depth int) Expr {
	path, ok := p.parsePath("a property name")
	if !ok {
		return nil
	}
	if n := len(path.Segments); n >= 2 && p.peek().kind == tokLParen && isLambda(path.Segments[n-1]) {
		return p.parseLambda(path, depth)
	}
	opTok := p.peek()
	if opTok.is("in") {
		p.next()
		return p.parseInList(path)
	}
	op, ok := compareOp(opTok)
	if !ok {
		p.failExpected(opTok, "an operator (eq, ne, gt, ge, lt, le or in) after '"+path.String()+"'")
		return nil
	}
	p.next()
	v, ok := p.parseLiteral("a value after '" + opTok.text + "'")
	if !ok {
		return nil
	}
	return &Compare{Path: path, Op: op, Value: v}
}

func (p *filterParser) parseInList(path Path) Expr {
	if c := p.peek(); c.kind != tokLParen {
		p.failExpected(c, "'(' after 'in'")
		return nil
	}
	p.next()
	var values []Literal
	for {
		v, ok := p.parseLiteral("a value in the 'in' list")
		if !ok {
			return nil
		}
		values = append(values, v)
		c := p.peek()
		if c.kind == tokRParen {
			p.next()
			return &In{Path: path, Values: values}
		}
		if c.kind != tokComma {
			p.failExpected(c, "',' or ')' in the 'in' list")
			return nil
		}
		p.next()
	}
}

func isLambda(seg string) bool {
	return strings.EqualFold(seg, "any") || strings.EqualFold(seg, "all")
}

// parseLambda reads "(" variable ":" expr ")" after collection/any and
// returns the body, its paths rewritten onto the collection.
func (p *filterParser) parseLambda(path Path, depth int) Expr {
	n := len(path.Segments)
	open := p.peek()
	if !strings.EqualFold(path.Segments[n-1], "any") {
		p.fail(open, "only the any lambda is supported, as in "+strings.Join(path.Segments[:n-1], "/")+"/any(t: t/id eq '...')")
		return nil
	}
	if p.lambdaVar != "" {
		p.fail(open, "a lambda cannot be nested in another")
		return nil
	}
	p.next()
	v := p.peek()
	if v.kind != tokIdent || isLiteralKeyword(v) {
		p.failExpected(v, "a range variable, as in any(t: t/id eq '...')")
		return nil
	}
	p.next()
	if c := p.peek(); c.kind != tokColon {
		p.failExpected(c, "':' after the range variable '"+v.text+"'")
		return nil
	}
	p.next()
	p.lambdaVar, p.lambdaPrefix = v.text, path.Segments[:n-1]
	body := p.parseOr(depth + 1)
	p.lambdaVar, p.lambdaPrefix = "", nil
	if p.err != nil {
		return nil
	}
	if c := p.peek(); c.kind != tokRParen {
		p.failExpected(c, "')' to close the lambda")
		return nil
	}
	p.next()
	return body
}

// parsePath reads identifier *( "/" identifier ).
func (p *filterParser) parsePath(what string) (Path, bool) {
	t := p.peek()
	if t.kind != tokIdent || isLiteralKeyword(t) {
		p.failExpected(t, what)
		return Path{}, false
	}
	p.next()
	segs := []string{t.text}
	end := t.pos + len(t.text)
	// A path is one word: "address/city", with no space around the slash.
	for sl := p.peek(); sl.kind == tokSlash && sl.pos == end; sl = p.peek() {
		p.next()
		s := p.peek()
		if s.kind != tokIdent || s.pos != sl.pos+1 {
			p.failExpected(s, "a property name right after '/'")
			return Path{}, false
		}
		p.next()
		segs = append(segs, s.text)
		end = s.pos + len(s.text)
	}
	if p.lambdaVar != "" {
		if segs[0] != p.lambdaVar || len(segs) < 2 {
			p.fail(t, "inside the lambda a path starts with its range variable, as in "+p.lambdaVar+"/id")
			return Path{}, false
		}
		segs = append(append([]string{}, p.lambdaPrefix...), segs[1:]...)
	}
	return Path{Segments: segs}, true
}

func (p *filterParser) parseLiteral(what string) (Literal, bool) {
	t := p.peek()
	switch t.kind {
	case tokString, tokInt, tokGUID, tokDateTime:
		p.next()
		return t.lit, true
	case tokIdent:
		switch {
		case t.is("true"), t.is("false"):
			p.next()
			return Literal{Kind: LitBool, Bool: t.is("true")}, true
		case t.is("null"):
			p.next()
			return Literal{Kind: LitNull}, true
		}
		p.failExpected(t, what+" (a quoted string, a number, true, false, null, a GUID or a DateTimeOffset; comparing with a property or a function is not supported)")
		return Literal{}, false
	}
	p.failExpected(t, what)
	return Literal{}, false
}

func compareOp(t token) (CompareOp, bool) {
	if t.kind != tokIdent {
		return 0, false
	}
	for op := Eq; op <= Le; op++ {
		if strings.EqualFold(t.text, op.String()) {
			return op, true
		}
	}
	return 0, false
}

// isLiteralKeyword reports whether t is true, false or null, which can never
// name a property.
func isLiteralKeyword(t token) bool {
	return t.is("true") || t.is("false") || t.is("null")
}
