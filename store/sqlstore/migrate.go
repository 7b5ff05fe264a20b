package sqlstore

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/extdir/extdir"
)

// A Migration is one SQL file of a backend's migrations directory, named
// NNNN_what.sql; NNNN is its version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the files migrations/*.sql of fsys (a backend's
// embedded directory) in version order, and checks that the versions run
// 1, 2, 3... with no gap or repeat, so that a misnamed file fails every
// test rather than one database in the field.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []Migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		prefix, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", base)
		}
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, Migration{Version: version, Name: base, SQL: string(text)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// Pending returns, in order, the migrations of ms that the database has not
// applied yet. Every backend records each migration it applies as a row
// (version, name, ...) of schema_migrations; readVersion runs the query it
// is given, which reads the highest version recorded (0 for none), in the
// migrating transaction. A database newer than ms is an error: this build
// would not know its tables.
func Pending(ms []Migration, readVersion func(query string) (int, error)) ([]Migration, error) {
	current, err := readVersion("SELECT coalesce(max(version), 0) FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if current < 0 || current > len(ms) {
		return nil, fmt.Errorf("database schema version %d is newer than this build knows (%d)", current, len(ms))
	}
	return ms[current:], nil
}

// A Column is what a database's catalog says of one column.
type Column struct {
	Type    string
	NotNull bool
}

// Schema is how a backend's catalog spells the profiles table that its
// migrations build.
type Schema struct {
	// Fixed are the columns outside extdir.Columns (seq, tenant, kind).
	Fixed map[string]Column
	// Types holds the column type that stores each property type.
	Types map[extdir.Type]string
}

// Check holds the migrated profiles table, as the catalog lists it, against
// the fixed columns and extdir.Columns: a property added to the table
// without a migration (or the reverse) stops Open with a message naming
// it, rather than failing the first insert.
func (s Schema) Check(table map[string]Column) error {
	want := make(map[string]Column, len(s.Fixed)+len(extdir.Columns))
	for name, c := range s.Fixed {
		want[name] = c
	}
	for _, p := range extdir.Columns {
		typ, ok := s.Types[p.Type]
		if !ok {
			return fmt.Errorf("property %s has type %s, which has no column type", p.Name, p.Type.EDMName())
		}
		want[p.Column] = Column{typ, !p.Nullable}
	}
	for name, w := range want {
		got, ok := table[name]
		switch {
		case !ok:
			return fmt.Errorf("profiles has no column %s: add a migration", name)
		case got != w:
			return fmt.Errorf("column profiles.%s is %s (not null: %t), want %s (not null: %t)",
				name, got.Type, got.NotNull, w.Type, w.NotNull)
		}
	}
	for name := range table {
		if _, ok := want[name]; !ok {
			return fmt.Errorf("column profiles.%s is not in extdir.Columns", name)
		}
	}
	return nil
}
