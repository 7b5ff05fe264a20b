package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// loadMigrations reads the embedded migrations (sqlstore.LoadMigrations).
func loadMigrations() ([]sqlstore.Migration, error) {
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
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
	pending, err := sqlstore.Pending(ms, current)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, m := range pending {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("sqlite: migrate: apply %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, time.Now().Unix()); err != nil {
			return fmt.Errorf("sqlite: migrate: record %s: %w", m.Name, err)
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

// schema is the profiles table as pragma_table_info spells it.
var schema = sqlstore.Schema{
	Fixed: map[string]sqlstore.Column{
		"seq":    {Type: "INTEGER", NotNull: false},
		"tenant": {Type: "TEXT", NotNull: true},
		"kind":   {Type: "INTEGER", NotNull: true},
	},
	Type: sqlType,
}

// checkSchema holds the migrated profiles table against extdir.Columns
// (sqlstore.Schema.Check), so that a property without a migration stops
// Open rather than the first insert.
func checkSchema(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT name, type, \"notnull\" FROM pragma_table_info('profiles')")
	if err != nil {
		return fmt.Errorf("sqlite: check schema: %w", err)
	}
	defer rows.Close()
	table := map[string]sqlstore.Column{}
	for rows.Next() {
		var name string
		var c sqlstore.Column
		if err := rows.Scan(&name, &c.Type, &c.NotNull); err != nil {
			return fmt.Errorf("sqlite: check schema: %w", err)
		}
		table[name] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: check schema: %w", err)
	}
	if err := schema.Check(table); err != nil {
		return fmt.Errorf("sqlite: check schema: %w", err)
	}
	return nil
}
