package extdir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// Mode says which rules a request body follows.
type Mode uint8

const (
	// ModeCreate is a POST body: required properties must be there.
	ModeCreate Mode = iota + 1
	// ModeUpdate is a PATCH body: only updatable properties may be there.
	ModeUpdate
)

// Change sets one stored (leaf) property to a value.
type Change struct {
	Prop  *Property
	Value Value
}

// Changes is a validated request body: what a create or a PATCH writes.
type Changes []Change

// Apply writes the changes onto p.
func (c Changes) Apply(p *Profile) {
	for _, ch := range c {
		ch.Prop.Set(p, ch.Value)
	}
}

// Has reports whether the changes touch the named top-level property.
func (c Changes) Has(name string) bool {
	for _, ch := range c {
		if ch.Prop.Name == name {
			return true
		}
	}
	return false
}

// ErrMalformedBody is Graph's answer to a body that is not valid JSON.
var ErrMalformedBody = &Error{Code: EBadRequest, Message: "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."}

// DecodeBody parses and validates a JSON request body for a profile of kind k.
// It enforces everything a body alone can break: JSON syntax, duplicate
// keys, unknown and read-only properties, JSON types, lengths, the E.164
// format and, in ModeCreate, the required properties. It returns *Error
// with EBadRequest (syntax, types, duplicates) or EInvalid (the rules).
func DecodeBody(k Kind, body []byte, mode Mode) (Changes, error) {
	d := &bodyDecoder{dec: json.NewDecoder(bytes.NewReader(body)), kind: k, mode: mode}
	d.dec.UseNumber()
	changes, err := d.object()
	if err != nil {
		return nil, err
	}
	// Nothing may follow the object.
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, ErrMalformedBody
	}
	if mode == ModeCreate {
		if err := changes.CheckRequired(k); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

type bodyDecoder struct {
	dec  *json.Decoder
	kind Kind
	mode Mode
	// id, when not nil, takes the body's "id" member instead of refusing
	// it as read-only: a seed row may name its profile's id.
	id *string
}

// DecodeSeedRow parses one profile of a seed file: a create body in the
// API's shape, whose "@odata.type" (pendingExternalUserProfile unless
// given) says which kind the seeded profile ends as, and which may name its
// "id". Everything else follows DecodeBody's create rules.
func DecodeSeedRow(body []byte) (SeedRow, error) {
	var head struct {
		Type any `json:"@odata.type"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return SeedRow{}, ErrMalformedBody
	}
	row := SeedRow{Kind: KindPending}
	if head.Type != nil {
		name, _ := head.Type.(string)
		k, ok := KindByQualifiedName(strings.TrimPrefix(name, "#"))
		if !ok {
			return SeedRow{}, Errorf(EBadRequest, "A type named '%v' is not one of '%s' and '%s'.", head.Type, KindPending.QualifiedName(), KindExternal.QualifiedName())
		}
		row.Kind = k
	}
	d := &bodyDecoder{dec: json.NewDecoder(bytes.NewReader(body)), kind: row.Kind, mode: ModeCreate, id: &row.ID}
	d.dec.UseNumber()
	changes, err := d.object()
	if err != nil {
		return SeedRow{}, err
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return SeedRow{}, ErrMalformedBody
	}
	if err := changes.CheckRequired(row.Kind); err != nil {
		return SeedRow{}, err
	}
	row.Changes = changes
	return row, nil
}

func (d *bodyDecoder) token() (json.Token, error) {
	t, err := d.dec.Token()
	if err != nil {
		return nil, ErrMalformedBody
	}
	return t, nil
}

// object reads the top-level entity object.
func (d *bodyDecoder) object() (Changes, error) {
	t, err := d.token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, &Error{Code: EBadRequest, Message: "The request body must be a JSON object."}
	}
	var changes Changes
	seen := make(map[string]bool)
	for d.dec.More() {
		name, err := d.name(seen)
		if err != nil {
			return nil, err
		}
		if name == "@odata.type" {
			if err := d.typeAnnotation(d.kind.QualifiedName()); err != nil {
				return nil, err
			}
			continue
		}
		if isAnnotation(name) {
			// SDKs send back what they read (@odata.context, @odata.etag,
			// property@odata.type); OData services ignore instance
			// annotations they do not act on.
			if err := d.skip(); err != nil {
				return nil, err
			}
			continue
		}
		if name == "id" && d.id != nil {
			t, err := d.token()
			if err != nil {
				return nil, err
			}
			s, ok := t.(string)
			if !ok {
				return nil, typeMismatch("id", TypeString, t)
			}
			*d.id = s
			continue
		}
		p, ok := PropertyByName(name)
		if !ok {
			return nil, Errorf(EInvalid, "Invalid property '%s'.", name)
		}
		if err := p.CheckWritable(d.mode, name); err != nil {
			return nil, err
		}
		if p.Type == TypeAddress {
			changes, err = d.address(p, changes)
		} else {
			var v Value
			v, err = d.scalar(p, p.Name)
			changes = append(changes, Change{Prop: p, Value: v})
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := d.token(); err != nil { // the closing brace
		return nil, err
	}
	return changes, nil
}

// name reads an object key and refuses a key seen before in the same object.
func (d *bodyDecoder) name(seen map[string]bool) (string, error) {
	t, err := d.token()
	if err != nil {
		return "", err
	}
	name, _ := t.(string)
	if seen[name] {
		return "", Errorf(EBadRequest, "Multiple values were found for the property '%s'. A property can only be given once.", name)
	}
	seen[name] = true
	return name, nil
}

// isAnnotation reports an OData instance or property annotation name:
// "@odata.etag", "@my.term", "displayName@odata.type".
func isAnnotation(name string) bool {
	return strings.Contains(name, "@") && len(name) > 1
}

// maxSkipDepth bounds the nesting of an ignored annotation's value.
const maxSkipDepth = 32

// skip reads and discards one JSON value of any shape.
func (d *bodyDecoder) skip() error {
	depth := 0
	for {
		t, err := d.token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > maxSkipDepth {
				return ErrMalformedBody
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// typeAnnotation accepts @odata.type only when it names the expected type.
func (d *bodyDecoder) typeAnnotation(want string) error {
	t, err := d.token()
	if err != nil {
		return err
	}
	s, ok := t.(string)
	if !ok || strings.TrimPrefix(s, "#") != want {
		return Errorf(EBadRequest, "A type named '%v' is not compatible with the expected type '%s'.", describe(t), want)
	}
	return nil
}

// address reads a physicalOfficeAddress. Fields not in the object keep their
// value (merge semantics); null clears every field.
func (d *bodyDecoder) address(p *Property, changes Changes) (Changes, error) {
	t, err := d.token()
	if err != nil {
		return nil, err
	}
	if t == nil {
		for _, f := range p.Fields {
			changes = append(changes, Change{Prop: f, Value: Value{Null: true}})
		}
		return changes, nil
	}
	if t != json.Delim('{') {
		return nil, typeMismatch(p.Name, p.Type, t)
	}
	seen := make(map[string]bool)
	for d.dec.More() {
		name, err := d.name(seen)
		if err != nil {
			return nil, err
		}
		if name == "@odata.type" {
			if err := d.typeAnnotation("microsoft.graph.physicalOfficeAddress"); err != nil {
				return nil, err
			}
			continue
		}
		if isAnnotation(name) {
			if err := d.skip(); err != nil {
				return nil, err
			}
			continue
		}
		f, ok := p.FieldByName(name)
		if !ok {
			return nil, Errorf(EInvalid, "Invalid property '%s'.", p.Name+"/"+name)
		}
		v, err := d.scalar(f, p.Name+"/"+f.Name)
		if err != nil {
			return nil, err
		}
		changes = append(changes, Change{Prop: f, Value: v})
	}
	if _, err := d.token(); err != nil {
		return nil, err
	}
	return changes, nil
}

// scalar reads one scalar value for p, turns the JSON token into a Value of
// p's type and leaves the value's rules to CheckValue.
func (d *bodyDecoder) scalar(p *Property, path string) (Value, error) {
	t, err := d.token()
	if err != nil {
		return Value{}, err
	}
	var v Value
	switch x := t.(type) {
	case nil:
		v = Value{Null: true}
	case string:
		if p.Type != TypeString {
			return Value{}, typeMismatch(path, p.Type, t)
		}
		v = Value{Str: x}
	case bool:
		if p.Type != TypeBoolean {
			return Value{}, typeMismatch(path, p.Type, t)
		}
		v = Value{Bool: x}
	default:
		if p.Type != TypeString && p.Type != TypeBoolean {
			// No writable property has another type; refuse rather than guess.
			return Value{}, Errorf(EInvalid, "Property '%s' is read-only and cannot be set.", path)
		}
		return Value{}, typeMismatch(path, p.Type, t)
	}
	if err := p.CheckValue(d.kind, path, v); err != nil {
		return Value{}, err
	}
	return v, nil
}

func typeMismatch(path string, want Type, got json.Token) *Error {
	return Errorf(EBadRequest, "Cannot convert the JSON %s to the expected type '%s' of property '%s'.", jsonKind(got), want.EDMName(), path)
}

func jsonKind(t json.Token) string {
	switch v := t.(type) {
	case string:
		return "string"
	case json.Number:
		return "number " + string(v)
	case bool:
		return "boolean"
	case json.Delim:
		if v == '[' {
			return "array"
		}
		return "object"
	}
	return "null"
}

func describe(t json.Token) string {
	if s, ok := t.(string); ok {
		return s
	}
	return jsonKind(t)
}
