package postgres

import (
	"context"
	"testing"

	"github.com/extdir/extdir/store/conformance"
)

// Where autovacuum is off (here for the table, whatever the server's
// setting), the store gathers the statistics of profiles itself once the
// table has changed as much as autovacuum would wait for.
func TestStatisticsWithoutAutovacuum(t *testing.T) {
	s := openTest(t, schemaURL(t))
	ctx := context.Background()
	s.analyze.done = make(chan analyzeOutcome, 4)
	if _, err := s.pool.Exec(ctx, "ALTER TABLE profiles SET (autovacuum_enabled = false)"); err != nil {
		t.Fatal(err)
	}
	reltuples := func() float64 {
		var n float64
		if err := s.pool.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = 'profiles'::regclass").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := reltuples(); n > 0 {
		t.Fatalf("a new table has reltuples %v, want none: the test tests nothing", n)
	}
	for i := range analyzeCheckEvery {
		if err := s.Create(ctx, conformance.Profile("tenant", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// The check runs in the background: wait for it.
	if out := <-s.analyze.done; !out.analyzed || out.err != nil {
		t.Fatalf("the check after %d creates: analyzed %v, %v; want an ANALYZE", analyzeCheckEvery, out.analyzed, out.err)
	}
	if n := reltuples(); n != analyzeCheckEvery {
		t.Fatalf("reltuples %v after the ANALYZE, want %d", n, analyzeCheckEvery)
	}
}
