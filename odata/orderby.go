package odata

import (
	"github.com/extdir/extdir"
)

// Order is one $orderby term. It has the fields of store.Order, so a backend
// converts with store.Order(o); odata does not import store because the
// query language must not depend on storage.
type Order struct {
	Prop *extdir.Property
	Desc bool
}

// ParseOrderBy parses "$orderby=displayName desc,createdDateTime" for kind
// k: comma-separated property names, each optionally followed by asc or
// desc (any case). A syntax error is extdir.EBadRequest with its position; a
// property named twice is extdir.EBadRequest too, as Graph's OData layer
// answers; a property that is unknown or not Sortable is
// extdir.EUnsupportedQuery "Unsupported sort property 'X' for 'Y'.", Graph's
// message.
func ParseOrderBy(s string, k extdir.Kind) ([]Order, error) {
	if err := checkInput("$orderby", s, MaxFilterLength); err != nil {
		return nil, err
	}
	toks, lerr := tokenize(s)
	if lerr != nil {
		return nil, syntaxError(s, lerr.pos, lerr.msg)
	}
	p := &filterParser{src: s, toks: toks}
	var orders []Order
	seen := map[*extdir.Property]bool{}
	for {
		path, ok := p.parsePath("a property name")
		if !ok {
			return nil, p.err
		}
		desc, direction := false, false
		if t := p.peek(); t.is("asc") || t.is("desc") {
			desc, direction = t.is("desc"), true
			p.next()
		}
		prop, ok := sortable(path)
		if !ok {
			return nil, extdir.Errorf(extdir.EUnsupportedQuery, "Unsupported sort property '%s' for '%s'.", path, k.ResourceName())
		}
		if seen[prop] {
			return nil, extdir.Errorf(extdir.EBadRequest, "Duplicate property named '%s' is not supported in '$orderby'.", path)
		}
		seen[prop] = true
		orders = append(orders, Order{Prop: prop, Desc: desc})
		t := p.next()
		if t.kind == tokEOF {
			return orders, nil
		}
		if t.kind != tokComma {
			if direction {
				p.failExpected(t, "',' or the end of $orderby")
			} else {
				p.failExpected(t, "',', 'asc', 'desc' or the end of $orderby")
			}
			return nil, p.err
		}
	}
}

func sortable(path Path) (*extdir.Property, bool) {
	if len(path.Segments) != 1 {
		return nil, false
	}
	prop, ok := extdir.PropertyByName(path.Segments[0])
	if !ok || !prop.Sortable {
		return nil, false
	}
	return prop, true
}
