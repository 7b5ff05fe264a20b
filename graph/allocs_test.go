package graph_test

import (
	"bufio"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
)

// A guard on the hot paths that does not time anything: it runs the
// handler benchmarks briefly and compares their allocations per request,
// which are stable where times are not, with the values committed in
// testdata/allocs.txt. Twice the committed value fails: a regression of
// that size is a change of design, not noise. A value far below the file's
// is logged, so that the file is brought down with the improvement.

// allocBudget is the factor over the committed value that fails.
const allocBudget = 2.0

func committedAllocs(t *testing.T) map[string]float64 {
	t.Helper()
	f, err := os.Open("testdata/allocs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if !ok || err != nil {
			t.Fatalf("testdata/allocs.txt: %q is not 'Benchmark allocs'", line)
		}
		out[name] = n
	}
	return out
}

func TestHotPathAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the handler benchmarks")
	}
	// A few hundred requests each: allocations per request settle long
	// before times would.
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	if err := bt.Value.Set("300x"); err != nil {
		t.Fatal(err)
	}
	defer bt.Value.Set(old) //nolint:errcheck // the value it had

	want := committedAllocs(t)
	for _, bm := range []struct {
		name string
		fn   func(*testing.B)
	}{
		{"GetByID", BenchmarkGetByID},
		{"ListFirstPage", BenchmarkListFirstPage},
		{"FilteredPage", BenchmarkFilteredPage},
		{"Create", BenchmarkCreate},
		{"Patch", BenchmarkPatch},
		{"PostgresGetByID", BenchmarkPostgresGetByID},
		{"PostgresListFirstPage", BenchmarkPostgresListFirstPage},
		{"PostgresFilteredPage", BenchmarkPostgresFilteredPage},
		{"PostgresCreate", BenchmarkPostgresCreate},
		{"PostgresPatch", BenchmarkPostgresPatch},
	} {
		committed, ok := want[bm.name]
		if !ok {
			t.Errorf("testdata/allocs.txt has no value for %s", bm.name)
			continue
		}
		r := testing.Benchmark(bm.fn)
		if r.N == 0 {
			t.Logf("%s: skipped (no PostgreSQL: EXTDIR_TEST_POSTGRES_URL is not set)", bm.name)
			continue
		}
		got := float64(r.AllocsPerOp())
		t.Logf("%s: %.0f allocs/op (committed %.0f)", bm.name, got, committed)
		switch {
		case got > allocBudget*committed:
			t.Errorf("%s makes %.0f allocations per request, more than %.0f× the committed %.0f: find what the change added (go test -bench %s -benchmem -memprofile ...), or raise testdata/allocs.txt with the reason in the commit", bm.name, got, allocBudget, committed, bm.name)
		case got < committed/allocBudget:
			t.Logf("%s: far below the committed value; lower testdata/allocs.txt to keep the guard tight", bm.name)
		}
	}
}
