// Command seed fills an extdir SQLite database with a large, deterministic
// directory for benchmarks:
//
//	go run ./bench/seed -db extdir-data/extdir.db -profiles 1000000
//
// The tenant under test is the one `extdir token` uses by default, so a
// server started on the same data dir serves the seeded rows at once.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/extdir/extdir/internal/seed"
	"github.com/extdir/extdir/store/sqlite"
)

func main() {
	db := flag.String("db", "extdir-data/extdir.db", "SQLite database file (created if missing)")
	tenant := flag.String("tenant", "00000000-0000-0000-0000-0000000000e1", "tenant under test")
	profiles := flag.Int("profiles", 1_000_000, "profiles in the tenant under test")
	others := flag.Int("other-tenants", 2, "other tenants")
	otherProfiles := flag.Int("other-profiles", 100_000, "profiles in each other tenant")
	flag.Parse()
	if err := run(*db, seed.Shape{Tenant: *tenant, Profiles: *profiles, OtherTenants: *others, OtherProfiles: *otherProfiles}); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(path string, shape seed.Shape) error {
	ctx := context.Background()
	// The data dir of a server to come: made here, as extdir serve would.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	err = seed.Run(ctx, st, shape, 10_000, func(done, total int) {
		if done%100_000 == 0 || done == total {
			fmt.Printf("%d/%d profiles (%s)\n", done, total, time.Since(start).Round(time.Second))
		}
	})
	if err != nil {
		return err
	}
	if err := st.Analyze(ctx); err != nil {
		return err
	}
	fmt.Printf("seeded %s in %s\n", path, time.Since(start).Round(time.Second))
	return nil
}
