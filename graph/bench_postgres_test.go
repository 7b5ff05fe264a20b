package graph_test

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/seed"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/postgres"
	"github.com/extdir/extdir/store/postgres/pgtest"
)

// The benchmarks of bench_test.go again, over a PostgreSQL store in a
// database of their own on the server EXTDIR_TEST_POSTGRES_URL names: the
// same handler, tokens and requests, only the store differs. Without the
// variable they are skipped.

func newPostgresBenchServer(b *testing.B) *benchServer {
	b.Helper()
	st, err := postgres.Open(context.Background(), pgtest.NewDatabase(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	iss, err := auth.OpenIssuer(b.TempDir(), auth.IssuerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := iss.Mint(auth.Claims{Tenant: "bench-tenant", ObjectID: "bench-oid",
		Roles: []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.ReadWrite.All"}})
	if err != nil {
		b.Fatal(err)
	}
	srv := &graph.Server{Store: st, Verifier: iss.Verifier(nil, 0), PublicURL: "https://graph.example"}
	return &benchServer{handler: srv.Handler(), token: tok}
}

// BenchmarkPostgresCreate is a durable create: each 201 is a commit flushed
// to the WAL.
func BenchmarkPostgresCreate(b *testing.B) {
	s := newPostgresBenchServer(b)
	for b.Loop() {
		s.create(b)
	}
}

func BenchmarkPostgresGetByID(b *testing.B) {
	s := newPostgresBenchServer(b)
	path := "/beta/directory/pendingExternalUserProfiles/" + s.create(b)
	for b.Loop() {
		s.do(b, "GET", path, "", 200)
	}
}

func BenchmarkPostgresListFirstPage(b *testing.B) {
	s := newPostgresBenchServer(b)
	for range 1000 {
		s.create(b)
	}
	for b.Loop() {
		s.do(b, "GET", "/beta/directory/pendingExternalUserProfiles?$top=100", "", 200)
	}
}

func BenchmarkPostgresFilteredPage(b *testing.B) {
	s := newPostgresBenchServer(b)
	seedCompanies(b, s)
	for b.Loop() {
		s.do(b, "GET", filteredPage, "", 200)
	}
}

func BenchmarkPostgresPatch(b *testing.B) {
	s := newPostgresBenchServer(b)
	path := "/beta/directory/pendingExternalUserProfiles/" + s.create(b)
	for b.Loop() {
		s.do(b, "PATCH", path, `{"jobTitle":"Contractor"}`, 204)
	}
}

// BenchmarkPostgresLargeDirectory is BenchmarkLargeDirectory on PostgreSQL:
// the documented filters on a million profiles, in the database that
// EXTDIR_BENCH_LARGE_POSTGRES names. The database is seeded on first use
// (internal/seed, the same rows as ./bench/seed writes to SQLite) and kept,
// so that later runs start at once. Skipped without the variable.
func BenchmarkPostgresLargeDirectory(b *testing.B) {
	dbURL := os.Getenv("EXTDIR_BENCH_LARGE_POSTGRES")
	if dbURL == "" {
		b.Skip("set EXTDIR_BENCH_LARGE_POSTGRES to a database URL (seeded on first use)")
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, dbURL, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	const tenant = "00000000-0000-0000-0000-0000000000e1"
	n, err := st.Count(ctx, store.Query{Tenant: tenant, Kind: extdir.KindPending, Top: 1})
	if err != nil {
		b.Fatal(err)
	}
	if n == 0 {
		shape := seed.Shape{Tenant: tenant, Profiles: 1_000_000, OtherTenants: 2, OtherProfiles: 100_000}
		if err := seed.Run(ctx, st, shape, 10_000, nil); err != nil {
			b.Fatal(err)
		}
	}
	// Statistics as fresh as the schema: a migration may have added some.
	if err := st.Analyze(ctx); err != nil {
		b.Fatal(err)
	}
	iss, err := auth.OpenIssuer(b.TempDir(), auth.IssuerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := iss.Mint(auth.Claims{Tenant: tenant, ObjectID: "bench", Roles: []string{"PendingExternalUserProfile.Read.All"}})
	if err != nil {
		b.Fatal(err)
	}
	s := &benchServer{handler: (&graph.Server{Store: st, Verifier: iss.Verifier(nil, 0)}).Handler(), token: tok}

	base := "/beta/directory/pendingExternalUserProfiles"
	filter := func(f string) string { return "$filter=" + url.QueryEscape(f) }
	for _, tc := range []struct{ name, path string }{
		{"first page, no filter", base},
		{"startswith(companyName)", base + "?" + filter("startswith(companyName,'Company 04')")},
		{"companyName eq", base + "?" + filter("companyName eq 'Company 042'")},
		{"supervisorId eq", base + "?" + filter("supervisorId eq 'sup-00042'")},
		{"startswith(supervisorId)", base + "?" + filter("startswith(supervisorId,'sup-0004')")},
		{"startswith(companyName) and supervisorId eq", base + "?" + filter("startswith(companyName,'Company 04') and supervisorId eq 'sup-00042'")},
		{"count startswith(companyName)", base + "/$count?" + filter("startswith(companyName,'Company 04')")},
		{"count supervisorId eq", base + "/$count?" + filter("supervisorId eq 'sup-00042'")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				s.doWith(b, "GET", tc.path, 200, "ConsistencyLevel", "eventual")
			}
		})
	}
}
