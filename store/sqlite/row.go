package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlstore"
)

// A row travels from SQLite as one value, json_array(seq, tenant, kind,
// every column), not as one value per column. The driver crosses into
// SQLite twice for every column it reads (its type, then its value), each
// time taking the connection's mutex, and database/sql converts and boxes
// every value; a page of 100 profiles made 4,600 such crossings and spent
// most of its time in them. json_array is built inside SQLite's own loop,
// and one string per row is cut apart here, its string values sliced out of
// it without a copy. SQLite escapes only '"', '\' and control characters in
// json_array's strings, so nearly every value is a plain slice.

// rowJSON is the expression that selects a whole row as one value.
func rowJSON() string { return "json_array(seq, tenant, kind, " + sqlstore.ColumnList() + ")" }

// rowValue is one element of a row array.
type rowValue struct {
	null bool
	num  bool // an integer; otherwise a string
	i    int64
	s    string
}

var errRowSyntax = errors.New("malformed row")

// parseRow splits the json_array text of one row into dst, which must have
// exactly as many elements as the array.
func parseRow(s string, dst []rowValue) error {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return errRowSyntax
	}
	i := 1
	for n := range dst {
		if n > 0 {
			if i >= len(s) || s[i] != ',' {
				return errRowSyntax
			}
			i++
		}
		if i >= len(s) {
			return errRowSyntax
		}
		v := &dst[n]
		*v = rowValue{}
		switch c := s[i]; {
		case c == 'n':
			if !strings.HasPrefix(s[i:], "null") {
				return errRowSyntax
			}
			v.null = true
			i += 4
		case c == '"':
			j := i + 1
			escaped := false
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			if j >= len(s) {
				return errRowSyntax
			}
			if escaped {
				if err := json.Unmarshal([]byte(s[i:j+1]), &v.s); err != nil {
					return errRowSyntax
				}
			} else {
				v.s = s[i+1 : j]
			}
			i = j + 1
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			x, err := strconv.ParseInt(s[i:j], 10, 64)
			if err != nil {
				return errRowSyntax
			}
			v.num, v.i = true, x
			i = j
		default:
			return errRowSyntax
		}
	}
	if i != len(s)-1 {
		return errRowSyntax
	}
	return nil
}

// value turns a row element back into a property value.
func (v *rowValue) value(p *extdir.Property) (extdir.Value, error) {
	switch {
	case v.null:
		return extdir.Value{Null: true}, nil
	case !v.num:
		if p.Type == extdir.TypeString {
			return extdir.Value{Str: v.s}, nil
		}
	default:
		switch p.Type {
		case extdir.TypeBoolean:
			return extdir.Value{Bool: v.i != 0}, nil
		case extdir.TypeDateTimeOffset:
			return extdir.Value{Time: time.Unix(v.i, 0).UTC()}, nil
		case extdir.TypeInt32:
			return extdir.Value{Int: v.i}, nil
		}
	}
	kind := "a string"
	if v.num {
		kind = "an integer"
	}
	return extdir.Value{}, fmt.Errorf("column %s holds %s, not a %s", p.Column, kind, p.Type.EDMName())
}

// profileFromRow builds a profile from the json_array text of its row.
func profileFromRow(s string) (*extdir.Profile, error) {
	var buf [32]rowValue
	vals := buf[:]
	if rowWidth > len(buf) {
		vals = make([]rowValue, rowWidth)
	}
	vals = vals[:rowWidth]
	if err := parseRow(s, vals); err != nil {
		return nil, err
	}
	if !vals[0].num || vals[1].num || vals[1].null || !vals[2].num {
		return nil, errors.New("row does not start with seq, tenant, kind")
	}
	p := &extdir.Profile{Seq: vals[0].i, Tenant: vals[1].s, Kind: extdir.Kind(vals[2].i)}
	// The optional strings that are present share one allocation.
	present := 0
	for i, c := range extdir.Columns {
		if c.Field != nil && !vals[3+i].null && !vals[3+i].num {
			present++
		}
	}
	strs := make([]string, present)
	for i, c := range extdir.Columns {
		if v := &vals[3+i]; c.Field != nil && !v.null && !v.num {
			present--
			strs[present] = v.s
			*c.Field(p) = &strs[present]
			continue
		}
		v, err := vals[3+i].value(c)
		if err != nil {
			return nil, fmt.Errorf("profile seq %d: %w", p.Seq, err)
		}
		c.Set(p, v)
	}
	return p, nil
}
