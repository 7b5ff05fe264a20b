package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/conformance"
	"github.com/extdir/extdir/store/sqlstore"
)

// The backup of a store that writers keep writing to holds every write
// acknowledged before it began, and opens and serves as a store.
func TestBackupUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "extdir.db")
	s := openTest(t, path)

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := conformance.Profile("tenant", w*1_000_000+i)
				if err := s.Create(ctx, p, nil); err != nil {
					t.Errorf("create: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, p.ID)
				mu.Unlock()
			}
		})
	}
	for n := 0; n < 200; time.Sleep(time.Millisecond) {
		mu.Lock()
		n = len(acked)
		mu.Unlock()
	}
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	out := filepath.Join(t.TempDir(), "backup.db")
	info, err := Backup(ctx, path, out)
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	ms, _ := sqlstore.LoadMigrations(migrationFiles)
	if info.Path != out || info.Profiles < int64(len(before)) || info.SchemaVersion != len(ms) || info.Bytes <= 0 {
		t.Fatalf("backup info %+v; want %s, at least %d profiles, schema %d", info, out, len(before), len(ms))
	}
	t.Logf("%d creates acknowledged before the backup, %d more while it ran; the copy holds %d", len(before), during, info.Profiles)

	copied := openTest(t, out)
	for _, id := range before {
		if _, err := copied.Get(ctx, "tenant", id); err != nil {
			t.Fatalf("create %s acknowledged before the backup began: %v in the copy", id, err)
		}
	}
	n, err := copied.Count(ctx, store.Query{Tenant: "tenant", Kind: extdir.KindPending, Top: 1})
	if err != nil || n != info.Profiles {
		t.Fatalf("count the copy: %d, %v; want %d", n, err, info.Profiles)
	}
	// The copy takes writes too.
	if err := copied.Create(ctx, conformance.Profile("tenant", 5_000_000), nil); err != nil {
		t.Fatalf("create in the copy: %v", err)
	}
}

func TestBackupLeavesNothingBehindWhenItFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "extdir.db")
	openTest(t, path)
	out := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(out, []byte("older"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Backup(ctx, path, out); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("backup over an existing file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "older" {
		t.Fatal("backup replaced an existing file")
	}
	if _, err := Backup(ctx, filepath.Join(dir, "missing.db"), filepath.Join(dir, "b2.db")); err == nil {
		t.Fatal("backup of a missing database succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".extdir-copy-") || e.Name() == "b2.db" {
			t.Errorf("a failed backup left %s behind", e.Name())
		}
	}
}

func TestRestoreRefusesALiveOrExistingStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "extdir.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kept := conformance.Profile("tenant", 1)
	if err := s.Create(ctx, kept, nil); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := Backup(ctx, path, backup); err != nil {
		t.Fatal(err)
	}
	later := conformance.Profile("tenant", 2)
	if err := s.Create(ctx, later, nil); err != nil {
		t.Fatal(err)
	}

	if _, err := Restore(ctx, backup, path, true); !errors.Is(err, ErrInUse) {
		t.Fatalf("restore over a store that is open: %v, want ErrInUse", err)
	}
	if _, err := s.Get(ctx, "tenant", later.ID); err != nil {
		t.Fatalf("the live store after a refused restore: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, backup, path, false); !errors.Is(err, ErrExists) {
		t.Fatalf("restore over an existing store without replace: %v, want ErrExists", err)
	}
	info, err := Restore(ctx, backup, path, true)
	if err != nil || info.Profiles != 1 || info.Path != path {
		t.Fatalf("restore with replace: %+v, %v", info, err)
	}

	// While a restore holds the lock, a store cannot open the file.
	lock, err := lockFile(lockPath(path), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path, Options{}); err == nil || !strings.Contains(err.Error(), "a restore is replacing it") {
		t.Fatalf("open during a restore: %v", err)
	}
	lock.Close()

	restored := openTest(t, path)
	if _, err := restored.Get(ctx, "tenant", kept.ID); err != nil {
		t.Fatalf("the profile of the backup, after the restore: %v", err)
	}
	if _, err := restored.Get(ctx, "tenant", later.ID); extdir.ErrorCode(err) != extdir.ENotFound {
		t.Fatalf("a profile created after the backup, after the restore: %v, want not found", err)
	}
	// A fresh place needs no replace.
	if _, err := Restore(ctx, backup, filepath.Join(t.TempDir(), "new", "extdir.db"), false); err != nil {
		t.Fatalf("restore to a new data dir: %v", err)
	}
}

func TestRestoreRefusesWhatIsNotABackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A SQLite database that is not extdir's.
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := openDirect(other, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, src := range []string{garbage, other, filepath.Join(dir, "missing.db")} {
		dst := filepath.Join(t.TempDir(), "extdir.db")
		if _, err := Restore(ctx, src, dst, false); err == nil {
			t.Errorf("restore of %s succeeded", filepath.Base(src))
		}
		if _, err := os.Stat(dst); err == nil {
			t.Errorf("a refused restore of %s left a database behind", filepath.Base(src))
		}
	}
}
