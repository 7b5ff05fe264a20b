package odata

import (
	"strings"

	"github.com/extdir/extdir"
)

// Search is a parsed $search: a profile matches when every term of at least
// one group matches it. "a" AND "b" OR "c" is two groups, [a b] and [c]:
// AND binds tighter than OR, as in OData.
//
// A term matches a property value when, ignoring case, the value begins
// with the term or has it at the start of a word, words being separated by
// a space, '-', '_' or '.'. That is Graph's tokenized prefix match on
// directory objects, without its split of words at case changes
// ("OneVideo"), which no index can serve. Graph applies the word rule to
// displayName and a plain prefix match to other properties; extdir applies
// the word rule to every Searchable property so that the property table's
// one flag says all there is to say (for a phone number there is no
// difference: it has no separators).
type Search struct {
	Any [][]SearchTerm
}

// SearchTerm is one "property:text" clause.
type SearchTerm struct {
	Prop *extdir.Property
	// Text is what is searched for, unescaped and trimmed; never empty.
	Text string
}

// String prints the canonical form, which ParseSearch reads back to an
// equal value.
func (s *Search) String() string {
	var b strings.Builder
	for i, group := range s.Any {
		if i > 0 {
			b.WriteString(" OR ")
		}
		for j, t := range group {
			if j > 0 {
				b.WriteString(" AND ")
			}
			b.WriteString(t.String())
		}
	}
	return b.String()
}

// String prints the clause quoted, with '"' and '\' escaped.
func (t SearchTerm) String() string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + t.Prop.Name + ":" + r.Replace(t.Text) + `"`
}

// ParseSearch parses a $search value such as
// `"displayName:bob" AND "companyName:contoso"` for kind k. Each clause is
// a double-quoted "property:text" (inside it, \" and \\ escape a quote and a
// backslash); clauses are joined by AND (which may be left out, as OData
// allows) or OR, written in capitals as OData's search syntax requires. NOT
// and parentheses are not supported. A malformed value is extdir.EBadRequest
// with its position; a property that is unknown or not Searchable is
// extdir.EUnsupportedQuery.
func ParseSearch(s string, k extdir.Kind) (*Search, error) {
	if err := checkInput("$search", s, MaxFilterLength); err != nil {
		return nil, err
	}
	sp := searchParser{src: s, kind: k}
	return sp.parse()
}

type searchParser struct {
	src  string
	kind extdir.Kind
	i    int
}

func (p *searchParser) skipSpace() {
	for p.i < len(p.src) && isSpace(p.src[p.i]) {
		p.i++
	}
}

// word returns the bare word at the current position without consuming it.
func (p *searchParser) word() string {
	j := p.i
	for j < len(p.src) && !isSpace(p.src[j]) && p.src[j] != '"' {
		j++
	}
	return p.src[p.i:j]
}

func (p *searchParser) parse() (*Search, error) {
	search := &Search{}
	var group []SearchTerm
	p.skipSpace()
	for {
		t, err := p.clause()
		if err != nil {
			return nil, err
		}
		group = append(group, t)
		afterClause := p.i
		p.skipSpace()
		if p.i == len(p.src) {
			search.Any = append(search.Any, group)
			return search, nil
		}
		if p.i == afterClause {
			return nil, syntaxError(p.src, p.i, "expected a space, AND or OR after a clause")
		}
		switch w := p.word(); w {
		case "OR":
			p.i += len(w)
			search.Any = append(search.Any, group)
			group = nil
			if err := p.requireSpace("OR"); err != nil {
				return nil, err
			}
		case "AND":
			p.i += len(w)
			if err := p.requireSpace("AND"); err != nil {
				return nil, err
			}
		case "":
			// Two clauses side by side: an implicit AND.
		case "NOT":
			return nil, syntaxError(p.src, p.i, "NOT is not supported in $search")
		default:
			if strings.EqualFold(w, "and") || strings.EqualFold(w, "or") {
				return nil, syntaxError(p.src, p.i, "expected AND or OR in capitals, found '"+w+"'")
			}
			return nil, syntaxError(p.src, p.i, "expected AND, OR or a quoted clause, found '"+w+"'")
		}
	}
}

func (p *searchParser) requireSpace(after string) error {
	start := p.i
	p.skipSpace()
	if p.i == start || p.i == len(p.src) {
		return syntaxError(p.src, p.i, "expected a quoted clause after "+after)
	}
	return nil
}

// clause reads `"property:text"` at the current position.
func (p *searchParser) clause() (SearchTerm, error) {
	start := p.i
	if p.i == len(p.src) || p.src[p.i] != '"' {
		what := "expected a quoted clause such as \"displayName:bob\""
		if p.i < len(p.src) && (p.src[p.i] == '(' || p.src[p.i] == ')') {
			what = "parentheses are not supported in $search"
		}
		return SearchTerm{}, syntaxError(p.src, p.i, what)
	}
	var b strings.Builder
	j := p.i + 1
	for {
		if j == len(p.src) {
			return SearchTerm{}, syntaxError(p.src, start, "unterminated quoted clause")
		}
		c := p.src[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			if j+1 == len(p.src) || (p.src[j+1] != '"' && p.src[j+1] != '\\') {
				return SearchTerm{}, syntaxError(p.src, j, `only \" and \\ may be escaped in a quoted clause`)
			}
			j++
			c = p.src[j]
		} else if c == 0 {
			return SearchTerm{}, syntaxError(p.src, j, "a clause cannot contain the character U+0000")
		}
		b.WriteByte(c)
		j++
	}
	p.i = j + 1
	name, text, ok := strings.Cut(b.String(), ":")
	if !ok {
		return SearchTerm{}, syntaxError(p.src, start+1, "expected \"property:text\"; Graph's $search on directory objects names the property")
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return SearchTerm{}, syntaxError(p.src, start+1+len(name)+1, "expected the text to search for after '"+name+":'")
	}
	prop, found := extdir.PropertyByName(name)
	if !found || !prop.Searchable {
		return SearchTerm{}, extdir.Errorf(extdir.EUnsupportedQuery,
			"Unsupported or invalid query search clause specified for property '%s' of resource '%s'.", name, p.kind.ResourceName())
	}
	return SearchTerm{Prop: prop, Text: text}, nil
}
