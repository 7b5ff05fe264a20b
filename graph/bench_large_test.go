package graph_test

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/store/sqlite"
)

// BenchmarkLargeDirectory measures the documented filters on a directory of
// a million profiles (plus other tenants), seeded once by
//
//	go run ./bench/seed -db /tmp/extdir-1m/extdir.db -profiles 1000000
//
// and named by EXTDIR_BENCH_LARGE_DB; without it the benchmark is skipped,
// so that `go test -bench .` stays quick.
func BenchmarkLargeDirectory(b *testing.B) {
	path := os.Getenv("EXTDIR_BENCH_LARGE_DB")
	if path == "" {
		b.Skip("set EXTDIR_BENCH_LARGE_DB to a database seeded by ./bench/seed")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	iss, err := auth.OpenIssuer(b.TempDir(), auth.IssuerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := iss.Mint(auth.Claims{Tenant: "00000000-0000-0000-0000-0000000000e1", ObjectID: "bench",
		Roles: []string{"PendingExternalUserProfile.Read.All"}})
	if err != nil {
		b.Fatal(err)
	}
	s := &benchServer{handler: (&graph.Server{Store: st, Verifier: iss.Verifier(nil, 0)}).Handler(), token: tok}

	base := "/beta/directory/pendingExternalUserProfiles"
	filter := func(f string) string { return "$filter=" + url.QueryEscape(f) }
	cases := []struct{ name, path string }{
		{"first page, no filter", base},
		{"startswith(companyName)", base + "?" + filter("startswith(companyName,'Company 04')")},
		{"companyName eq", base + "?" + filter("companyName eq 'Company 042'")},
		{"supervisorId eq", base + "?" + filter("supervisorId eq 'sup-00042'")},
		{"startswith(supervisorId)", base + "?" + filter("startswith(supervisorId,'sup-0004')")},
		{"startswith(companyName) and supervisorId eq", base + "?" + filter("startswith(companyName,'Company 04') and supervisorId eq 'sup-00042'")},
		{"count startswith(companyName)", base + "/$count?" + filter("startswith(companyName,'Company 04')")},
		{"count supervisorId eq", base + "/$count?" + filter("supervisorId eq 'sup-00042'")},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				s.doWith(b, "GET", tc.path, 200, "ConsistencyLevel", "eventual")
			}
		})
	}
}
