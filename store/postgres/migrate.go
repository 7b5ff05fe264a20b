package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
		return nil, fmt.Errorf("postgres: list migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		prefix, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version < 1 {
			return nil, fmt.Errorf("postgres: migration %s: name must be NNNN_what.sql", base)
		}
		text, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("postgres: read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: version, name: base, sql: string(text)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrationLock is the first key of the advisory lock that serializes
// migrations ("extd"); the second is a hash of the schema, so that extdir
// deployments in different schemas of one database do not wait for each
// other.
const migrationLock = 0x65787464

// migrate applies, in one transaction, the migrations the database has not
// seen yet, and records each in schema_migrations. The transaction first
// takes a transaction-scoped advisory lock: when several nodes start at
// once, one applies the migrations while the others wait, then find nothing
// left to do. A failed migration rolls back whole (PostgreSQL's DDL is
// transactional), leaving the database as it was.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Waiting for another node's migration, or building an index on a
		// large table, may outlast the statement timeout meant for requests.
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return fmt.Errorf("lift the statement timeout: %w", err)
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))", migrationLock); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > len(ms) {
			return fmt.Errorf("database schema version %d is newer than this build knows (%d)", current, len(ms))
		}
		for _, m := range ms[current:] {
			// The simple protocol runs a file of several statements at once.
			if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// sqlType is the column type (as information_schema spells it) that stores
// a property type.
func sqlType(t extdir.Type) (string, bool) {
	switch t {
	case extdir.TypeString:
		return "text", true
	case extdir.TypeBoolean:
		return "boolean", true
	case extdir.TypeDateTimeOffset:
		return "bigint", true
	case extdir.TypeInt32:
		return "integer", true
	}
	return "", false
}

// checkSchema holds the migrated profiles table against extdir.Columns: a
// property added to the table without a migration (or the reverse) stops
// Open with a message naming it, rather than failing the first insert.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	type column struct {
		typ     string
		notNull bool
	}
	rows, err := pool.Query(ctx, `SELECT column_name, data_type, is_nullable = 'NO'
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'profiles'`)
	if err != nil {
		return fmt.Errorf("postgres: check schema: %w", err)
	}
	table := map[string]column{}
	var name string
	var c column
	_, err = pgx.ForEachRow(rows, []any{&name, &c.typ, &c.notNull}, func() error {
		table[name] = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: check schema: %w", err)
	}

	want := map[string]column{
		"seq":    {"bigint", true},
		"tenant": {"text", true},
		"kind":   {"smallint", true},
	}
	for _, p := range extdir.Columns {
		typ, ok := sqlType(p.Type)
		if !ok {
			return fmt.Errorf("postgres: check schema: property %s has type %s, which has no column type", p.Name, p.Type.EDMName())
		}
		want[p.Column] = column{typ, !p.Nullable}
	}
	for name, w := range want {
		got, ok := table[name]
		switch {
		case !ok:
			return fmt.Errorf("postgres: check schema: profiles has no column %s: add a migration", name)
		case got != w:
			return fmt.Errorf("postgres: check schema: column profiles.%s is %s (not null: %t), want %s (not null: %t)",
				name, got.typ, got.notNull, w.typ, w.notNull)
		}
	}
	for name := range table {
		if _, ok := want[name]; !ok {
			return fmt.Errorf("postgres: check schema: column profiles.%s is not in extdir.Columns", name)
		}
	}
	return nil
}
