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

// migrate applies, in one transaction, the migrations the database has not
// seen yet, and records each in schema_migrations. Two processes opening the
// same new file serialize on the transaction's write lock; the second finds
// nothing left to do.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
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
	pending, err := sqlstore.Pending(ms, func(query string) (version int, err error) {
		err = tx.QueryRowContext(ctx, query).Scan(&version)
		return version, err
	})
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

// schema is the profiles table as pragma_table_info spells it: STRICT
// column types, and seq, the INTEGER PRIMARY KEY, without NOT NULL.
var schema = sqlstore.Schema{
	Fixed: map[string]sqlstore.Column{"seq": {Type: "INTEGER"}, "tenant": {Type: "TEXT", NotNull: true}, "kind": {Type: "INTEGER", NotNull: true}},
	Types: map[extdir.Type]string{
		extdir.TypeString:  "TEXT",
		extdir.TypeBoolean: "INTEGER", extdir.TypeDateTimeOffset: "INTEGER", extdir.TypeInt32: "INTEGER",
	},
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
