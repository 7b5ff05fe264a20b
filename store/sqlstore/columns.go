package sqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlfilter"
)

// The profiles table of every SQL backend has the columns seq, tenant and
// kind, then one column per entry of extdir.Columns: a property is named
// once, in the property table, and each backend's checkSchema holds its
// migrated table to the same list.

// ColumnList joins the name of every column of extdir.Columns, in order.
func ColumnList() string {
	names := make([]string, len(extdir.Columns))
	for i, p := range extdir.Columns {
		names[i] = p.Column
	}
	return strings.Join(names, ", ")
}

// Encode turns a property value into the argument its column takes: NULL,
// a string, an int64 (times as whole Unix seconds), or a boolean as the
// dialect stores it.
func Encode(d sqlfilter.Dialect, p *extdir.Property, v extdir.Value) any {
	if v.Null {
		return nil
	}
	switch p.Type {
	case extdir.TypeBoolean:
		return d.Bool(v.Bool)
	case extdir.TypeDateTimeOffset:
		return v.Time.Unix()
	case extdir.TypeInt32:
		return v.Int
	default:
		return v.Str
	}
}

// StoredEqual reports whether a and b, values of the property p, are the
// same in p's column: what Encode makes of them is equal. An update writes
// the columns whose values are not. It compares without encoding, since
// boxing each value into an interface would cost an allocation per column
// on every update.
func StoredEqual(p *extdir.Property, a, b extdir.Value) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	switch p.Type {
	case extdir.TypeBoolean:
		return a.Bool == b.Bool
	case extdir.TypeDateTimeOffset:
		return a.Time.Unix() == b.Time.Unix()
	case extdir.TypeInt32:
		return a.Int == b.Int
	default:
		return a.Str == b.Str
	}
}

// Normalize brings the times of p to what the store keeps, whole seconds in
// UTC, so that the profile a write returns is the one a later read returns.
func Normalize(p *extdir.Profile) {
	for _, c := range extdir.Columns {
		if c.Type != extdir.TypeDateTimeOffset {
			continue
		}
		if v := c.Get(p); !v.Null {
			v.Time = extdir.Timestamp(v.Time)
			c.Set(p, v)
		}
	}
}

// errIdentityChanged is the bug of an Update callback that changed what
// names the row.
var errIdentityChanged = errors.New("the callback changed the tenant, seq or id")

// RunUpdate runs an Update callback on p, the row as the backend read it,
// and returns a copy of p as it was before, for the backend to see what
// changed. The callback's own error is returned unchanged. A callback that
// changed Tenant, Seq or ID, which identify the row, is refused; the times
// of p are brought to what the store keeps, so that the profile Update
// returns is the one a later read returns.
func RunUpdate(p *extdir.Profile, fn func(*extdir.Profile) (*extdir.AuditRecord, error)) (before *extdir.Profile, rec *extdir.AuditRecord, err error) {
	before = p.Clone()
	if rec, err = fn(p); err != nil {
		return nil, nil, err
	}
	if p.Tenant != before.Tenant || p.Seq != before.Seq || p.ID != before.ID {
		return nil, nil, fmt.Errorf("update profile %s: %w", before.ID, errIdentityChanged)
	}
	Normalize(p)
	return before, rec, nil
}
