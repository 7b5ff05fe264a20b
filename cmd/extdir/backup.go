package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/extdir/extdir/store/postgres"
	"github.com/extdir/extdir/store/sqlite"
)

// extdir backup and extdir restore copy the SQLite store of a data
// directory, online, and put such a copy back (store/sqlite/backup.go).
// They cover the database only: the issuer's keys, the registered clients
// and users and the TLS certificate are plain files of the data directory,
// which any file copy keeps.

func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory whose SQLite database (extdir.db) to back up; a server may be running on it")
	database := fs.String("database", "sqlite", "store: sqlite (the file in --data-dir); a PostgreSQL store is backed up with pg_dump")
	out := fs.String("out", "", "file to write the backup to (required; it must not exist)")
	if err := parseFlags(fs, args, getenv, stdout, "Copies the SQLite store of a data directory while a server runs on it, consistently (VACUUM INTO), and verifies the copy."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := sqliteOnly("backup", *database, "pg_dump"); err != nil {
		return err
	}
	if *out == "" {
		return &usageError{msg: "backup: --out is required"}
	}
	info, err := sqlite.Backup(ctx, filepath.Join(*dataDir, "extdir.db"), *out)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s: %s, %d profiles, schema version %d, integrity ok\n",
		filepath.Join(*dataDir, "extdir.db"), info.Path, byteSize(info.Bytes), info.Profiles, info.SchemaVersion)
	return nil
}

func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	from := fs.String("from", "", "backup file written by extdir backup (required)")
	dataDir := fs.String("data-dir", "./extdir-data", "data directory to restore the SQLite database (extdir.db) into; no server may be running on it")
	database := fs.String("database", "sqlite", "store: sqlite (the file in --data-dir); a PostgreSQL store is restored with pg_restore")
	force := fs.Bool("force", false, "replace the database the data directory holds already")
	if err := parseFlags(fs, args, getenv, stdout, "Verifies a backup and puts it in place of a data directory's SQLite store; refuses while a server has the store open."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := sqliteOnly("restore", *database, "pg_restore"); err != nil {
		return err
	}
	if *from == "" {
		return &usageError{msg: "restore: --from is required"}
	}
	dst := filepath.Join(*dataDir, "extdir.db")
	info, err := sqlite.Restore(ctx, *from, dst, *force)
	switch {
	case errors.Is(err, sqlite.ErrExists):
		return &usageError{msg: fmt.Sprintf("restore: %s exists: give --force to replace it", dst)}
	case err != nil:
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s from %s: %s, %d profiles, schema version %d, integrity ok\n",
		dst, *from, byteSize(info.Bytes), info.Profiles, info.SchemaVersion)
	return nil
}

// sqliteOnly refuses a --database other than sqlite, naming the tool that
// does the job for PostgreSQL.
func sqliteOnly(cmd, database, pgTool string) error {
	switch {
	case database == "sqlite":
		return nil
	case postgres.IsURL(database):
		return &usageError{msg: fmt.Sprintf("%s: extdir %s is for the SQLite store; for PostgreSQL use %s (see docs/operations.md, Backup and restore)", cmd, cmd, pgTool)}
	}
	return &usageError{msg: fmt.Sprintf("%s: --database must be sqlite", cmd)}
}

// byteSize writes n bytes for people: 812 B, 4.2 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
