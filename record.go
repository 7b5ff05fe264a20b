package extdir

import (
	"fmt"
	"strings"
)

// Header reads the rows of a spreadsheet (CSV) whose header names the
// properties a row sets: displayName, phoneNumber, companyName, ...,
// address fields as address/city (or address.city, or city alone). Header
// names match without regard to case, as people type them; each cell goes
// through Changes.Set, so a cell is accepted or refused exactly as the same
// value in a JSON body is. An empty cell leaves its property unset. The
// seeder and `extdir invite` read their files through it.
type Header struct {
	names []string    // the header as given, for messages
	paths []string    // property path per column; "" for an extra column
	props []*Property // the leaf property per column; nil for an extra one
	extra map[string]int
}

// ParseHeader maps a header row onto the property table. extra names
// columns the caller reads itself (such as "kind" or "id"); Extra finds them.
// A header naming no property and no extra column, a column named twice or
// a read-only property is an error that names every such column.
func ParseHeader(header []string, extra ...string) (*Header, error) {
	c := &Header{names: header, paths: make([]string, len(header)), props: make([]*Property, len(header)), extra: map[string]int{}}
	var unknown, readOnly, twice []string
	seen := map[string]bool{}
	for i, raw := range header {
		name := strings.TrimSpace(raw)
		key := strings.ToLower(name)
		if isExtra(key, extra) {
			if _, dup := c.extra[key]; dup {
				twice = append(twice, name)
			}
			c.extra[key] = i
			continue
		}
		path, p, ok := columnProperty(key)
		switch {
		case !ok:
			unknown = append(unknown, fmt.Sprintf("%q", name))
			continue
		case p.ReadOnly():
			readOnly = append(readOnly, name)
			continue
		case seen[path]:
			twice = append(twice, name)
		}
		seen[path] = true
		c.paths[i], c.props[i] = path, p
	}
	var why []string
	if len(unknown) > 0 {
		why = append(why, "unknown columns "+strings.Join(unknown, ", ")+" (the columns are property names: "+strings.Join(ColumnNames(), ", ")+")")
	}
	if len(readOnly) > 0 {
		why = append(why, "read-only properties "+strings.Join(readOnly, ", ")+" cannot be set")
	}
	if len(twice) > 0 {
		why = append(why, "columns given twice: "+strings.Join(twice, ", "))
	}
	if len(why) > 0 {
		return nil, Errorf(EInvalid, "Invalid header row: %s.", strings.Join(why, "; "))
	}
	return c, nil
}

func isExtra(key string, extra []string) bool {
	for _, e := range extra {
		if strings.EqualFold(key, e) {
			return true
		}
	}
	return false
}

// columnProperty resolves a lowercased header name to a leaf property and
// its path: a top-level name, address/field, address.field, or an address
// field's own name.
func columnProperty(key string) (string, *Property, bool) {
	address, _ := PropertyByName("address")
	if top, field, ok := strings.Cut(key, "/"); ok || strings.Contains(key, ".") {
		if !ok {
			top, field, _ = strings.Cut(key, ".")
		}
		if top != "address" {
			return "", nil, false
		}
		for _, f := range address.Fields {
			if strings.EqualFold(f.Name, field) {
				return "address/" + f.Name, f, true
			}
		}
		return "", nil, false
	}
	for _, p := range Properties {
		if strings.EqualFold(p.Name, key) && p.Type != TypeAddress {
			return p.Name, p, true
		}
	}
	for _, f := range address.Fields {
		if strings.EqualFold(f.Name, key) {
			return "address/" + f.Name, f, true
		}
	}
	return "", nil, false
}

// ColumnNames lists the column names a spreadsheet may use for writable
// properties, in the property table's order.
func ColumnNames() []string {
	var out []string
	for _, p := range Properties {
		switch {
		case p.ReadOnly():
		case p.Type == TypeAddress:
			for _, f := range p.Fields {
				out = append(out, "address/"+f.Name)
			}
		default:
			out = append(out, p.Name)
		}
	}
	return out
}

// Extra returns the index of an extra column named to ParseHeader, or -1.
func (c *Header) Extra(name string) int {
	if i, ok := c.extra[strings.ToLower(name)]; ok {
		return i
	}
	return -1
}

// Index returns the index of the column that sets the property path
// ("phoneNumber", "address/city"), or -1.
func (c *Header) Index(path string) int {
	for i, p := range c.paths {
		if p == path {
			return i
		}
	}
	return -1
}

// Len is the number of columns.
func (c *Header) Len() int { return len(c.names) }

// Decode turns one row into changes for a profile of kind k, under the
// mode's rules; in ModeCreate the required properties must be there. A row
// shorter than the header leaves the missing cells empty; a longer one is
// an error.
func (c *Header) Decode(k Kind, mode Mode, record []string) (Changes, error) {
	if len(record) > len(c.names) {
		return nil, Errorf(EInvalid, "The row has %d cells but the header only %d columns.", len(record), len(c.names))
	}
	var changes Changes
	for i, cell := range record {
		p := c.props[i]
		if p == nil || cell == "" {
			continue
		}
		v, err := cellValue(p, c.paths[i], cell)
		if err != nil {
			return nil, err
		}
		if err := changes.Set(k, mode, c.paths[i], v); err != nil {
			return nil, err
		}
	}
	if mode == ModeCreate {
		if err := changes.CheckRequired(k); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

// cellValue parses a cell into the property's type. Only strings and
// booleans are writable.
func cellValue(p *Property, path, cell string) (Value, error) {
	if p.Type != TypeBoolean {
		return StringValue(cell), nil
	}
	switch strings.ToLower(strings.TrimSpace(cell)) {
	case "true", "yes", "1":
		return Value{Bool: true}, nil
	case "false", "no", "0":
		return Value{Bool: false}, nil
	}
	return Value{}, Errorf(EInvalid, "Invalid value '%s' for property '%s': it must be true or false.", cell, path)
}
