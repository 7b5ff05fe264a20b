package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/internal/seed"
	"github.com/extdir/extdir/store/postgres/pgtest"
	"github.com/extdir/extdir/store/sqlite"
)

// dumpDirectory writes n profiles of three tenants into a new SQLite data
// dir: pending and redeemed, live and deleted, with every optional property
// (quotes, backslashes and non-ASCII included) on some of them.
func dumpDirectory(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "extdir.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tenants := []string{"6b8e3a1e-0000-4000-8000-00000000000a", "6b8e3a1e-0000-4000-8000-00000000000b", "6b8e3a1e-0000-4000-8000-00000000000c"}
	batch := make([]*extdir.Profile, 0, 5000)
	for i := range n {
		p := seed.Profile(tenants[i%3], i, created)
		if i%13 == 0 {
			street, city, dept := fmt.Sprintf("%d \"Quai\" d'Orsay \\ Süd", i), "Zürich", "R&D <lab>"
			p.Address.Street, p.Address.City, p.Department, p.JobTitle = &street, &city, &dept, &dept
		}
		if i%7 == 0 {
			if err := p.Redeem(); err != nil {
				t.Fatal(err)
			}
		}
		if i%11 == 0 {
			if err := p.SoftDelete(created.Add(time.Duration(i) * time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		batch = append(batch, p)
		if len(batch) == cap(batch) || i == n-1 {
			if err := st.Import(context.Background(), batch, nil); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return dir
}

func runCommand(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), args, noEnv, &out, io.Discard); err != nil {
		t.Fatalf("extdir %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExportImportRoundTripsBetweenStores moves 100,000 profiles from
// SQLite to PostgreSQL and back, and compares the exports byte for byte.
func TestExportImportRoundTripsBetweenStores(t *testing.T) {
	pg := pgtest.NewDatabase(t)
	const n = 100_000
	src := dumpDirectory(t, n)
	tmp := t.TempDir()
	a, b, c := filepath.Join(tmp, "a.jsonl"), filepath.Join(tmp, "b.jsonl"), filepath.Join(tmp, "c.jsonl")

	runCommand(t, "export", "--data-dir", src, "--out", a)
	if got := bytes.Count(readFile(t, a), []byte("\n")); got != n {
		t.Fatalf("export wrote %d lines, want %d", got, n)
	}
	if out := runCommand(t, "import", "--database", pg, "--in", a); !strings.Contains(out, fmt.Sprintf("imported %d profiles", n)) {
		t.Fatalf("import into PostgreSQL said %q", out)
	}
	runCommand(t, "export", "--database", pg, "--out", b)
	if !bytes.Equal(readFile(t, a), readFile(t, b)) {
		t.Fatal("the PostgreSQL export differs from the SQLite export it was imported from")
	}
	back := t.TempDir()
	runCommand(t, "import", "--data-dir", back, "--in", b)
	runCommand(t, "export", "--data-dir", back, "--out", c)
	if !bytes.Equal(readFile(t, a), readFile(t, c)) {
		t.Fatal("the SQLite export after the round trip differs from the first")
	}
	// One tenant alone.
	one := runCommand(t, "export", "--database", pg, "--tenant", "6b8e3a1e-0000-4000-8000-00000000000b")
	if got := strings.Count(one, "\n"); got != n/3 || strings.Contains(one, `"tenant":"6b8e3a1e-0000-4000-8000-00000000000a"`) {
		t.Fatalf("a one-tenant export has %d lines, want %d of that tenant only", got, n/3)
	}
}

func TestImportRefusesABadDumpAndChangesNothing(t *testing.T) {
	src := dumpDirectory(t, 10)
	tmp := t.TempDir()
	good := runCommand(t, "export", "--data-dir", src)
	lines := strings.SplitAfter(good, "\n")
	bad := filepath.Join(tmp, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(lines[0]+lines[1]+`{"tenant":1}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	err := run(context.Background(), []string{"import", "--data-dir", dst, "--in", bad}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "Line 3") {
		t.Fatalf("import of a bad line: %v, want an error naming line 3", err)
	}
	// Importing the same dump twice clashes on the ids: the second import
	// stores nothing, so the store still equals the dump.
	in := filepath.Join(tmp, "good.jsonl")
	if err := os.WriteFile(in, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	runCommand(t, "import", "--data-dir", dst, "--in", in)
	if err := run(context.Background(), []string{"import", "--data-dir", dst, "--in", in}, noEnv, io.Discard, io.Discard); err == nil {
		t.Fatal("a second import of the same profiles succeeded")
	}
	if got := runCommand(t, "export", "--data-dir", dst); got != good {
		t.Fatalf("after a refused import the store differs from the dump:\n%s", got)
	}
}
