package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

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
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
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
		pending, err := sqlstore.Pending(ms, func(query string) (version int, err error) {
			err = tx.QueryRow(ctx, query).Scan(&version)
			return version, err
		})
		if err != nil {
			return err
		}
		for _, m := range pending {
			// The simple protocol runs a file of several statements at once.
			if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
				return fmt.Errorf("record %s: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// schema is the profiles table as information_schema spells it. Times
// are bigint Unix seconds, as in every backend.
var schema = sqlstore.Schema{
	Fixed: map[string]sqlstore.Column{"seq": {Type: "bigint", NotNull: true}, "tenant": {Type: "text", NotNull: true}, "kind": {Type: "smallint", NotNull: true}},
	Types: map[extdir.Type]string{
		extdir.TypeString:         "text",
		extdir.TypeBoolean:        "boolean",
		extdir.TypeDateTimeOffset: "bigint",
		extdir.TypeInt32:          "integer",
	},
}

// checkSchema holds the migrated profiles table against extdir.Columns
// (sqlstore.Schema.Check), so that a property without a migration stops
// Open rather than the first insert.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, `SELECT column_name, data_type, is_nullable = 'NO'
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'profiles'`)
	if err != nil {
		return fmt.Errorf("postgres: check schema: %w", err)
	}
	table := map[string]sqlstore.Column{}
	var name string
	var c sqlstore.Column
	_, err = pgx.ForEachRow(rows, []any{&name, &c.Type, &c.NotNull}, func() error {
		table[name] = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: check schema: %w", err)
	}
	if err := schema.Check(table); err != nil {
		return fmt.Errorf("postgres: check schema: %w", err)
	}
	return nil
}
