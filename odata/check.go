package odata

import (
	"fmt"
	"slices"

	"github.com/extdir/extdir"
)

// MaxInItems bounds the values of one in list, as Graph's directory does.
const MaxInItems = 15

// CheckFilter validates a parsed $filter against the property table for
// kind k and returns a copy whose paths are bound to their *extdir.Property,
// so that no later stage looks a name up again. e is left unchanged.
//
// The rules, in the order they are applied to each clause:
//   - the path names a top-level scalar property or a field of address, else
//     extdir.EUnsupportedQuery;
//   - the literal has the property's type (null fits any), else
//     extdir.EBadRequest naming the types, as Graph's OData layer does;
//   - the operator (or startswith) is in the property's Filter set, else
//     extdir.EUnsupportedQuery; endswith and contains never are;
//   - null is compared only with eq or ne, and only to a nullable property;
//   - an in list holds at most MaxInItems values, none of them null.
//
// Every extdir.EUnsupportedQuery carries Graph's message "Unsupported or
// invalid query filter clause specified for property 'X' of resource 'Y'.",
// with Y = k.ResourceName().
func CheckFilter(e Expr, k extdir.Kind) (Expr, error) {
	c := checker{kind: k}
	return c.check(e)
}

// ParseAuditFilter parses and checks a $filter of the audit log against
// extdir.AuditProperties (initiatedBy/app/appId,
// targetResources/any(t: t/id eq '...'), ...), with CheckFilter's rules.
func ParseAuditFilter(s string) (Expr, error) {
	e, err := ParseFilter(s)
	if err != nil {
		return nil, err
	}
	return checker{audit: true}.check(e)
}

type checker struct {
	kind extdir.Kind
	// audit checks against the audit log's properties instead.
	audit bool
}

func (c checker) check(e Expr) (Expr, error) {
	switch e := e.(type) {
	case *Logical:
		l, err := c.check(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := c.check(e.Right)
		if err != nil {
			return nil, err
		}
		return &Logical{Op: e.Op, Left: l, Right: r}, nil
	case *Not:
		x, err := c.check(e.X)
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case *Compare:
		return c.compare(e)
	case *In:
		return c.in(e)
	case *Call:
		return c.call(e)
	}
	return nil, fmt.Errorf("odata: check filter: unexpected node %T", e)
}

func (c checker) compare(e *Compare) (Expr, error) {
	prop, err := c.resolve(e.Path)
	if err != nil {
		return nil, err
	}
	if e.Value.Kind != LitNull && e.Value.Kind != literalKindOf(prop.Type) {
		return nil, extdir.Errorf(extdir.EBadRequest,
			"A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'. Property '%s' is compared with %s.",
			prop.Type.EDMName(), e.Value.Kind.EDMName(), operatorKind(e.Op), e.Path, expectedValue(prop.Type))
	}
	if !prop.Filter.Has(e.Op.Allowed()) {
		return nil, c.unsupported(e.Path)
	}
	if e.Value.Kind == LitNull && (!prop.Nullable || (e.Op != Eq && e.Op != Ne)) {
		return nil, c.unsupported(e.Path)
	}
	return &Compare{Path: bind(e.Path, prop), Op: e.Op, Value: e.Value}, nil
}

func (c checker) in(e *In) (Expr, error) {
	prop, err := c.resolve(e.Path)
	if err != nil {
		return nil, err
	}
	for _, v := range e.Values {
		if v.Kind != LitNull && v.Kind != literalKindOf(prop.Type) {
			return nil, extdir.Errorf(extdir.EBadRequest,
				"A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind 'In'. Property '%s' is compared with %s.",
				prop.Type.EDMName(), v.Kind.EDMName(), e.Path, expectedValue(prop.Type))
		}
	}
	if !prop.Filter.Has(extdir.OpIn) {
		return nil, c.unsupported(e.Path)
	}
	for _, v := range e.Values {
		// null in a list would need its own IS NULL branch; eq null says
		// the same thing plainly.
		if v.Kind == LitNull {
			return nil, c.unsupported(e.Path)
		}
	}
	if len(e.Values) > MaxInItems {
		return nil, extdir.Errorf(extdir.EUnsupportedQuery,
			"Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d.",
			len(e.Values), MaxInItems)
	}
	return &In{Path: bind(e.Path, prop), Values: slices.Clone(e.Values)}, nil
}

func (c checker) call(e *Call) (Expr, error) {
	prop, err := c.resolve(e.Path)
	if err != nil {
		return nil, err
	}
	if prop.Type != extdir.TypeString || (e.Arg.Kind != LitString && e.Arg.Kind != LitNull) {
		return nil, extdir.Errorf(extdir.EBadRequest,
			"No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).",
			e.Func, e.Func)
	}
	// endswith and contains are valid OData but not served by the
	// directory (Graph allows endswith only as an advanced query).
	if e.Func != StartsWith || !prop.Filter.Has(extdir.OpStartsWith) || e.Arg.Kind == LitNull {
		return nil, c.unsupported(e.Path)
	}
	return &Call{Func: e.Func, Path: bind(e.Path, prop), Arg: e.Arg}, nil
}

// resolve finds the scalar property a path names: a top-level property, or
// a field of the complex address. Whether the field may be filtered is then
// the field's own Filter set, like any other property's.
func (c checker) resolve(path Path) (*extdir.Property, error) {
	if c.audit {
		if prop, ok := extdir.AuditPropertyByPath(path.String()); ok {
			return prop, nil
		}
		return nil, c.unsupported(path)
	}
	if len(path.Segments) == 0 || len(path.Segments) > 2 {
		return nil, c.unsupported(path)
	}
	prop, ok := extdir.PropertyByName(path.Segments[0])
	if !ok {
		return nil, c.unsupported(path)
	}
	if len(path.Segments) == 2 {
		if prop.Type != extdir.TypeAddress {
			return nil, c.unsupported(path)
		}
		if prop, ok = prop.FieldByName(path.Segments[1]); !ok {
			return nil, c.unsupported(path)
		}
	}
	if prop.Type == extdir.TypeAddress || prop.Column == "" {
		return nil, c.unsupported(path)
	}
	return prop, nil
}

func (c checker) unsupported(path Path) error {
	resource := c.kind.ResourceName()
	if c.audit {
		resource = "DirectoryAudit"
	}
	return extdir.Errorf(extdir.EUnsupportedQuery,
		"Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.",
		path, resource)
}

func bind(path Path, prop *extdir.Property) Path {
	return Path{Segments: slices.Clone(path.Segments), Prop: prop}
}

// literalKindOf is the literal kind a property of type t is compared with.
func literalKindOf(t extdir.Type) LiteralKind {
	switch t {
	case extdir.TypeString:
		return LitString
	case extdir.TypeBoolean:
		return LitBool
	case extdir.TypeDateTimeOffset:
		return LitDateTimeOffset
	case extdir.TypeInt32:
		return LitInt
	}
	return 0
}

func expectedValue(t extdir.Type) string {
	switch t {
	case extdir.TypeString:
		return "a string in single quotes"
	case extdir.TypeBoolean:
		return "true or false"
	case extdir.TypeDateTimeOffset:
		return "an unquoted DateTimeOffset such as 2024-01-01T00:00:00Z"
	case extdir.TypeInt32:
		return "an integer"
	}
	return "nothing"
}

// operatorKind is the name OData's messages give a comparison operator.
func operatorKind(op CompareOp) string {
	switch op {
	case Eq:
		return "Equal"
	case Ne:
		return "NotEqual"
	case Gt:
		return "GreaterThan"
	case Ge:
		return "GreaterThanOrEqual"
	case Lt:
		return "LessThan"
	case Le:
		return "LessThanOrEqual"
	}
	return op.String()
}
