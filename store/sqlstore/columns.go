package sqlstore

import (
	"strings"
	"time"

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

// ExpireCutoff is the stored deletion time (Unix seconds) below which a
// profile was soft-deleted before deletedBefore. Stored times are whole
// seconds: a row deleted at second t is before a cutoff of t+0.5s, which
// the comparison must see as before t+1.
func ExpireCutoff(deletedBefore time.Time) int64 {
	cutoff := deletedBefore.Unix()
	if deletedBefore.Nanosecond() > 0 {
		cutoff++
	}
	return cutoff
}
