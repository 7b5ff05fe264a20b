package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/extdir/extdir/store/sqlstore"
)

// Online backup and restore.
//
// Backup copies a database with VACUUM INTO, on a connection of its own,
// while a server (in this process or another) goes on reading and writing
// it. The statement reads the whole database in one read transaction: in
// WAL mode that is one snapshot, which includes every transaction committed
// before it began, and every write a Store acknowledged had committed
// (commit.go) before its caller heard of it. Writers are not held up: a
// WAL reader never blocks them. A copy of the files would not be a
// snapshot at all (the database file and its WAL change independently),
// and the SQLite online backup API restarts its copy whenever another
// connection writes, which under steady writes may be for ever. VACUUM
// INTO also leaves the copy compact, in one file, with no WAL.
//
// SQLite does not sync what VACUUM INTO writes, so the copy is written
// beside its destination, synced, verified, and only then linked into
// place.
//
// Restore must not replace a database under a Store that has it open: the
// Store's connections would go on with the old file's pages and WAL, and
// corrupt the new one. So every Store opened on a file holds a shared
// flock(2) on <database>.lock for as long as it is open, and a restore
// takes it exclusively, without waiting: it fails while anything has the
// database open, and a Store cannot open it while a restore runs. A lock
// file of our own, rather than SQLite's locks: a server that is idle holds
// no SQLite lock a second process could test for, short of SQLite's
// internal shared-memory locks, which are not an interface.

var (
	// ErrInUse is what Restore returns while the database is open: a
	// server, or an extdir command, is using it.
	ErrInUse = errors.New("the database is open: stop the server (and any extdir command) using it first")
	// ErrExists is what Restore returns for a database that exists when it
	// was not told to replace it.
	ErrExists = errors.New("a database is there already")

	// errLocked is a lock held the other way (lockFile).
	errLocked = errors.New("locked")
)

// BackupInfo describes a database file that has been verified.
type BackupInfo struct {
	// Path is the file verified.
	Path string
	// Bytes is its size.
	Bytes int64
	// Profiles is the number of profiles in it, live and deleted.
	Profiles int64
	// SchemaVersion is the last migration applied to it.
	SchemaVersion int
}

// lockPath is the lock file of the database at path.
func lockPath(path string) string { return path + ".lock" }

// Backup writes a consistent copy of the database at src to the new file
// dst, while src stays in use, and verifies the copy (Verify). dst must not
// exist; nothing is left at dst unless the whole backup succeeded.
func Backup(ctx context.Context, src, dst string) (BackupInfo, error) {
	if _, err := os.Stat(src); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %s: %w", dst, fs.ErrExist)
	}
	// Shared, as a Store's: a backup reads the database while servers use
	// it, but not while a restore replaces it.
	lock, err := lockFile(lockPath(src), false)
	if errors.Is(err, errLocked) {
		return BackupInfo{}, fmt.Errorf("sqlite: backup %s: a restore is replacing it", src)
	}
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: lock: %w", err)
	}
	defer lock.Close()
	srcVersion, err := schemaVersionOf(ctx, src, false)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	tmp, err := copyDatabase(ctx, src, filepath.Dir(dst), false)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	defer os.Remove(tmp)
	info, err := Verify(ctx, tmp)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: the copy: %w", err)
	}
	// The copy's version was read in the copy's own snapshot; a newer one
	// means a server migrated the database in between, which is no harm,
	// but an older one means the copy is not what was asked for.
	if info.SchemaVersion < srcVersion {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: the copy has schema version %d, the database %d", info.SchemaVersion, srcVersion)
	}
	// A link fails if dst appeared meanwhile, where a rename would replace
	// it.
	if err := os.Link(tmp, dst); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	info.Path = dst
	return info, nil
}

// Restore puts a verified copy of the backup file src in place of the
// database at dst. It refuses while anything has dst open (ErrInUse), and
// refuses to replace a database that is there unless replace is set
// (ErrExists); the replaced database's WAL and shared-memory files go with
// it. src is only read.
func Restore(ctx context.Context, src, dst string, replace bool) (BackupInfo, error) {
	if !locksWork {
		return BackupInfo{}, errors.New("sqlite: restore: this platform has no flock(2), so a restore cannot tell whether a server has the database open")
	}
	if _, err := Verify(ctx, src); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %s: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	lock, err := lockFile(lockPath(dst), true)
	if errors.Is(err, errLocked) {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %s: %w", dst, ErrInUse)
	}
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: lock: %w", err)
	}
	defer lock.Close()
	if _, err := os.Lstat(dst); err == nil && !replace {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %s: %w", dst, ErrExists)
	}
	tmp, err := copyDatabase(ctx, src, filepath.Dir(dst), true)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	defer os.Remove(tmp)
	info, err := Verify(ctx, tmp)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: the copy: %w", err)
	}
	// The old WAL first: left beside the new database, SQLite would apply
	// its frames to pages they never belonged to. Nothing has the database
	// open (the lock), so nothing can write one meanwhile.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	info.Path = dst
	return info, nil
}

// Verify checks the database file at path without changing it: SQLite's
// integrity check, a schema version this build knows, and, at this
// build's version, the profiles table this build expects (the check Open
// makes). It reports the file's size and profile count.
func Verify(ctx context.Context, path string) (BackupInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, err
	}
	db, err := openDirect(path, true)
	if err != nil {
		return BackupInfo{}, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&check); err != nil {
		return BackupInfo{}, fmt.Errorf("integrity check: %w", err)
	}
	if check != "ok" {
		return BackupInfo{}, fmt.Errorf("integrity check: %s", check)
	}
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		return BackupInfo{}, err
	}
	info := BackupInfo{Path: path, Bytes: fi.Size()}
	if _, err := sqlstore.Pending(ms, func(query string) (int, error) {
		err := db.QueryRowContext(ctx, query).Scan(&info.SchemaVersion)
		return info.SchemaVersion, err
	}); err != nil {
		return BackupInfo{}, fmt.Errorf("not an extdir database, or not one this build can open: %w", err)
	}
	if info.SchemaVersion == len(ms) {
		if err := checkSchema(ctx, db); err != nil {
			return BackupInfo{}, err
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM profiles").Scan(&info.Profiles); err != nil {
		return BackupInfo{}, fmt.Errorf("count profiles: %w", err)
	}
	return info, nil
}

// schemaVersionOf reads the last migration applied to the database at path.
func schemaVersionOf(ctx context.Context, path string, readOnly bool) (int, error) {
	db, err := openDirect(path, readOnly)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: read schema version: %w", path, err)
	}
	return v, nil
}

// copyDatabase writes a VACUUM INTO copy of the database at src to a new
// file in dir, synced, and returns its name. With readOnly, src is opened
// read-only (a backup file, which may sit on read-only media); without, it
// is opened as a Store opens it, so that a live WAL database is read
// through its WAL.
func copyDatabase(ctx context.Context, src, dir string, readOnly bool) (string, error) {
	f, err := os.CreateTemp(dir, ".extdir-copy-*.db")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	// VACUUM INTO writes into an empty file, which CreateTemp has made
	// under a name of our own.
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := vacuumInto(ctx, src, tmp, readOnly); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

func vacuumInto(ctx context.Context, src, dst string, readOnly bool) error {
	db, err := openDirect(src, readOnly)
	if err != nil {
		return err
	}
	defer db.Close()
	// A plain absolute path: SQLite reads the INTO argument as a URI only
	// when it starts with "file:".
	abs, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// openDirect opens one connection to the database file at path, outside
// any Store: no migration, no lock file, the same busy timeout. Read-only,
// it cannot create the file or change it.
func openDirect(path string, readOnly bool) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	if readOnly {
		q.Set("mode", "ro")
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	serr := f.Sync()
	return errors.Join(serr, f.Close())
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	return errors.Join(serr, d.Close())
}
