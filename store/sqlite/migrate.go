package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// A migration is one embedded SQL file, named NNNN_what.sql; NNNN is its
// version.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations in version order and checks
// that the versions run 1, 2, 3... with no gap or repeat, so that a misnamed
// file fails every test rather than one database in the field.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		prefix, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version < 1 {
			return nil, fmt.Errorf("sqlite: migration %s: name must be NNNN_what.sql", base)
		}
		text, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("sqlite: read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: version, name: base, sql: string(text)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies, in one transaction, the migrations the database has not
// seen yet, and records each in schema_migrations. Two processes opening the
// same new file serialize on the transaction's write lock; the second finds
// nothing left to do.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: begin: %w", err)
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("sqlite: migrate: read schema version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("sqlite: migrate: database schema version %d is newer than this build knows (%d)", current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("sqlite: migrate: apply %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, time.Now().Unix()); err != nil {
			return fmt.Errorf("sqlite: migrate: record %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: commit: %w", err)
	}
	return nil
}

// sqlType is the STRICT column type that stores a property type.
func sqlType(t extdir.Type) (string, bool) {
	switch t {
	case extdir.TypeString:
		return "TEXT", true
	case extdir.TypeBoolean, extdir.TypeDateTimeOffset, extdir.TypeInt32:
		return "INTEGER", true
	}
	return "", false
}

// checkSchema holds the migrated profiles table against extdir.Columns: a
// property added to the table without a migration (or the reverse) stops
// Open with a message naming it, rather than failing the first insert.
func checkSchema(ctx context.Context, db *sql.DB) error {
	type column struct {
		typ     string
		notNull bool
	}
	rows, err := db.QueryContext(ctx, "SELECT name, type, \"notnull\" FROM pragma_table_info('profiles')")
	if err != nil {
		return fmt.Errorf("sqlite: check schema: %w", err)
	}
	defer rows.Close()
	table := map[string]column{}
	for rows.Next() {
		var name string
		var c column
		if err := rows.Scan(&name, &c.typ, &c.notNull); err != nil {
			return fmt.Errorf("sqlite: check schema: %w", err)
		}
		table[name] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: check schema: %w", err)
	}

	want := map[string]column{
		"seq":    {"INTEGER", false},
		"tenant": {"TEXT", true},
		"kind":   {"INTEGER", true},
	}
	for _, p := range extdir.Columns {
		typ, ok := sqlType(p.Type)
		if !ok {
			return fmt.Errorf("sqlite: check schema: property %s has type %s, which has no column type", p.Name, p.Type.EDMName())
		}
		want[p.Column] = column{typ, !p.Nullable}
	}
	for name, w := range want {
		got, ok := table[name]
		switch {
		case !ok:
			return fmt.Errorf("sqlite: check schema: profiles has no column %s: add a migration", name)
		case got != w:
			return fmt.Errorf("sqlite: check schema: column profiles.%s is %s (not null: %t), want %s (not null: %t)",
				name, got.typ, got.notNull, w.typ, w.notNull)
		}
	}
	for name := range table {
		if _, ok := want[name]; !ok {
			return fmt.Errorf("sqlite: check schema: column profiles.%s is not in extdir.Columns", name)
		}
	}
	return nil
}
