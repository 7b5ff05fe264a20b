package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/store/sqlite"
)

// benchServer is the whole HTTP handler over a SQLite file database with
// real RS256 tokens: what a request costs inside the process, without the
// network.
type benchServer struct {
	handler http.Handler
	token   string
}

// newBenchServer serves as extdir serve does by default: the admin API on,
// with no fault rules, and the request journal keeping 1,000 requests.
func newBenchServer(b *testing.B, configure ...func(*graph.Server)) *benchServer {
	b.Helper()
	dir := b.TempDir()
	st, err := sqlite.Open(context.Background(), dir+"/extdir.db", sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	iss, err := auth.OpenIssuer(dir, auth.IssuerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := iss.Mint(auth.Claims{Tenant: "bench-tenant", ObjectID: "bench-oid",
		Roles: []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.ReadWrite.All"}})
	if err != nil {
		b.Fatal(err)
	}
	faults, _ := graph.NewFaults(graph.FaultConfig{})
	srv := &graph.Server{Store: st, Verifier: iss.Verifier(nil, 0), PublicURL: "https://graph.example",
		Admin: &graph.Admin{}, Faults: faults, Journal: graph.NewJournal(graph.DefaultJournalSize, graph.DefaultJournalBodyBytes)}
	for _, c := range configure {
		c(srv)
	}
	return &benchServer{handler: srv.Handler(), token: tok}
}

func (s *benchServer) doWith(b *testing.B, method, path string, want int, headers ...string) {
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", "Bearer "+s.token)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
}

func (s *benchServer) do(b *testing.B, method, path, body string, want int) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+s.token)
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	return w
}

var phoneSeq atomic.Int64

func (s *benchServer) create(b *testing.B) string { return s.createIn(b, "Contoso") }

func (s *benchServer) createIn(b *testing.B, company string) string {
	n := phoneSeq.Add(1)
	w := s.do(b, "POST", "/beta/directory/pendingExternalUserProfiles",
		fmt.Sprintf(`{"displayName":"Bench User %d","phoneNumber":"+1%010d","companyName":%q}`, n, n, company), 201)
	var m struct{ ID string }
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		b.Fatal(err)
	}
	return m.ID
}

// BenchmarkCreate is a durable create: each 201 is fsync'd to the WAL.
func BenchmarkCreate(b *testing.B) {
	s := newBenchServer(b)
	for b.Loop() {
		s.create(b)
	}
}

func BenchmarkGetByID(b *testing.B) {
	s := newBenchServer(b)
	id := s.create(b)
	path := "/beta/directory/pendingExternalUserProfiles/" + id
	for b.Loop() {
		s.do(b, "GET", path, "", 200)
	}
}

// BenchmarkGetByIDWithoutJournal is BenchmarkGetByID with --journal-size 0
// and --admin=false: the difference is what the journal costs a read.
func BenchmarkGetByIDWithoutJournal(b *testing.B) {
	s := newBenchServer(b, func(srv *graph.Server) { srv.Journal, srv.Admin, srv.Faults = nil, nil, nil })
	id := s.create(b)
	path := "/beta/directory/pendingExternalUserProfiles/" + id
	for b.Loop() {
		s.do(b, "GET", path, "", 200)
	}
}

func BenchmarkListFirstPage(b *testing.B) {
	s := newBenchServer(b)
	for range 1000 {
		s.create(b)
	}
	for b.Loop() {
		s.do(b, "GET", "/beta/directory/pendingExternalUserProfiles?$top=100", "", 200)
	}
}

// filteredPage is the harness's filter workload in small: the first page of
// one company's profiles, 100 of the 1,000 in the directory.
const filteredPage = "/beta/directory/pendingExternalUserProfiles?$filter=companyName%20eq%20%27Company%203%27&$top=100"

// seedCompanies creates 1,000 profiles in ten companies.
func seedCompanies(b *testing.B, s *benchServer) {
	for i := range 1000 {
		s.createIn(b, fmt.Sprintf("Company %d", i%10))
	}
}

func BenchmarkFilteredPage(b *testing.B) {
	s := newBenchServer(b)
	seedCompanies(b, s)
	for b.Loop() {
		s.do(b, "GET", filteredPage, "", 200)
	}
}

func BenchmarkPatch(b *testing.B) {
	s := newBenchServer(b)
	id := s.create(b)
	path := "/beta/directory/pendingExternalUserProfiles/" + id
	for b.Loop() {
		s.do(b, "PATCH", path, `{"jobTitle":"Contractor"}`, 204)
	}
}
