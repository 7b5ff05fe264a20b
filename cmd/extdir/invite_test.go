package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/extdir/extdir/extdirtest"
)

// inviteTarget is an in-process extdir and a tenant of the test's own,
// with the flags that point invite and export at it as a user would:
// client credentials for its token endpoint and its certificate trusted
// with --ca-file.
type inviteTarget struct {
	srv  *extdirtest.Server
	tn   *extdirtest.Tenant
	args []string
}

func newInviteTarget(t *testing.T, opts ...extdirtest.Option) *inviteTarget {
	t.Helper()
	srv := extdirtest.Start(t, opts...)
	tn := srv.Tenant(t)
	id, secret := tn.Credentials(t)
	return &inviteTarget{srv: srv, tn: tn, args: []string{
		"--url", srv.URL, "--tenant", tn.ID, "--client-id", id, "--client-secret", secret,
		"--ca-file", serverCA(t, srv.URL), "--progress", "off",
	}}
}

// serverCA writes the certificate the server presents to a PEM file, as
// extdir serve --ephemeral's ca_file is.
func serverCA(t testing.TB, origin string) string {
	t.Helper()
	u, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := filepath.Join(t.TempDir(), "ca.pem")
	cert := conn.ConnectionState().PeerCertificates[0]
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCmd runs extdir in-process with args; it returns stdout, stderr and the
// error run returned.
func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, noEnv, &out, &errb)
	return out.String(), errb.String(), err
}

func (it *inviteTarget) invite(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCmd(t, append(append([]string{"invite"}, it.args...), args...)...)
	return out, err
}

// profiles lists every profile of the tenant, of both kinds, through the API.
func (it *inviteTarget) profiles(t *testing.T) []map[string]any {
	t.Helper()
	tok := it.tn.AppToken(t)
	var all []map[string]any
	for _, coll := range []string{pendingURL, externalURL} {
		next := it.srv.URL + "/beta" + coll + "?$top=999"
		for next != "" {
			req, _ := http.NewRequest("GET", next, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := it.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var page struct {
				Value []map[string]any `json:"value"`
				Next  string           `json:"@odata.nextLink"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("list %s: %d %v", coll, resp.StatusCode, err)
			}
			all = append(all, page.Value...)
			next = page.Next
		}
	}
	return all
}

// byPhone indexes profiles by phone number, failing on a number held twice.
func byPhone(t *testing.T, ps []map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, p := range ps {
		phone := p["phoneNumber"].(string)
		if _, dup := out[phone]; dup {
			t.Fatalf("two profiles with phone number %s", phone)
		}
		out[phone] = p
	}
	return out
}

// readResultsFile returns the results file's lines by row, failing on a
// row that has two.
func readResultsFile(t *testing.T, path string) map[int]result {
	t.Helper()
	out := map[int]result{}
	if err := readResults(path, func(r result) error {
		if prev, dup := out[r.row]; dup {
			return fmt.Errorf("row %d has two lines: %+v and %+v", r.row, prev, r)
		}
		out[r.row] = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// staffCSV is n good rows: Person i with +1 425 7xx xxxx.
func staffCSV(n int) string {
	var b strings.Builder
	b.WriteString("displayName,phoneNumber,companyName\n")
	for i := range n {
		fmt.Fprintf(&b, "Person %d,(425) 7%02d-%04d,Partner\n", i, i/10000, i%10000)
	}
	return b.String()
}

func staffPhone(i int) string { return fmt.Sprintf("+14257%02d%04d", i/10000, i%10000) }

func TestInviteChecksEveryRowAndRecordsEach(t *testing.T) {
	it := newInviteTarget(t)
	long := strings.Repeat("x", 257)
	// A spreadsheet's CSV: BOM, semicolons, header names in any case,
	// phone numbers as people write them, an address field.
	csvText := "\ufeffDisplayName;PHONENUMBER;companyName;address/city\n" +
		"Bob Henry;(425) 555-0100;Contoso;Redmond\n" + // row 2: good
		"Alice Smith;0044 20 7946 0958;Fabrikam;London\n" + // row 3: good, GB written with 00
		"Bad Phone;12ab;X;\n" + // row 4: not a number
		";+14255550101;Nameless;\n" + // row 5: no displayName
		long + ";+14255550102;Long;\n" + // row 6: displayName over 256
		"Bob Again;425.555.0100;Dup;\n" + // row 7: row 2's number
		"\"Carol; Jr\";+1 425 555 0103;;\n" + // row 8: good, quoted semicolon
		"Short;+1 425 55;;\n" // row 9: too short
	path := writeFile(t, "staff.csv", csvText)
	results := filepath.Join(t.TempDir(), "results.csv")

	// The dry run reports every problem and sends nothing.
	out, err := it.invite(t, "--csv", path, "--default-region", "GB", "--dry-run")
	if err == nil || !strings.Contains(err.Error(), "4 of the 8 rows") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"3 to send, 4 invalid, 1 duplicate", "row 4:", "row 5:", "row 6:", "row 7: Duplicate of row 2", "row 9:", "Nothing was sent"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run report lacks %q:\n%s", want, out)
		}
	}
	if n := len(it.profiles(t)); n != 0 {
		t.Fatalf("the dry run created %d profiles", n)
	}

	// US numbers without a country code need the region: (425) 555-0100
	// reads as a US number with --default-region US, and 0044 ... still as
	// the international prefix people write, though the US dials 011.
	out, err = it.invite(t, "--csv", path, "--default-region", "US", "--out", results)
	if err == nil {
		t.Fatalf("a run with skipped rows succeeded:\n%s", out)
	}
	got := readResultsFile(t, results)
	want := map[int]struct{ status, phone, inMessage string }{
		2: {statusCreated, "+14255550100", ""},
		3: {statusCreated, "+442079460958", ""},
		4: {statusSkipped, "12ab", "not a number"},
		5: {statusSkipped, "+14255550101", "'displayName'"},
		6: {statusSkipped, "+14255550102", "longer than the limit of 256"},
		7: {statusSkipped, "+14255550100", "Duplicate of row 2"},
		8: {statusCreated, "+14255550103", ""},
		9: {statusSkipped, "+1 425 55", "too short"},
	}
	if len(got) != len(want) {
		t.Fatalf("results has %d rows, want %d: %v", len(got), len(want), got)
	}
	dir := byPhone(t, it.profiles(t))
	for row, w := range want {
		r := got[row]
		if r.status != w.status || r.phone != w.phone || !strings.Contains(r.message, w.inMessage) {
			t.Errorf("row %d = %+v, want %s %s with %q", row, r, w.status, w.phone, w.inMessage)
		}
		if w.status == statusCreated {
			p := dir[w.phone]
			if p == nil || p["id"] != r.id || r.http != 201 || r.requestID == "" {
				t.Errorf("row %d: results %+v, directory %v", row, r, p)
			}
		}
	}
	if len(dir) != 3 {
		t.Errorf("directory holds %d profiles, want 3", len(dir))
	}
	if p := dir["+14255550100"]; p["companyName"] != "Contoso" || p["address"].(map[string]any)["city"] != "Redmond" {
		t.Errorf("row 2's profile = %v", p)
	}
	if p := dir["+14255550103"]; p["displayName"] != "Carol; Jr" {
		t.Errorf("row 8's profile = %v", p)
	}
}

func TestInviteRefusesABadHeaderBeforeSending(t *testing.T) {
	it := newInviteTarget(t)
	for _, tc := range []struct{ name, header, want string }{
		{"unknown column", "displayName,phoneNumber,email,team", `unknown columns "email", "team"`},
		{"missing required column", "displayName,companyName", "no phoneNumber column"},
		{"read-only column", "displayName,phoneNumber,id", "read-only properties id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "staff.csv", tc.header+"\nBob,+14255550100,x\n")
			_, err := it.invite(t, "--csv", path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %v, want one line with %q", err, tc.want)
			}
		})
	}
	if n := len(it.profiles(t)); n != 0 {
		t.Fatalf("%d profiles created from bad headers", n)
	}
}

func TestInviteOutRefusesToOverwriteAResultsFile(t *testing.T) {
	it := newInviteTarget(t)
	results := writeFile(t, "results.csv", strings.Join(resultColumns, ",")+"\n")
	_, err := it.invite(t, "--csv", writeFile(t, "s.csv", staffCSV(1)), "--default-region", "US", "--out", results)
	if err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("error = %v, want the hint to resume", err)
	}
}

// Throttled inner requests, whole batches that are unavailable or fail,
// and answers that never come: every row still ends created exactly once.
func TestInviteRetriesThrottlingAndFaultsToExactlyOnce(t *testing.T) {
	it := newInviteTarget(t, extdirtest.WithJournalSize(20000))
	const n = 240
	path := writeFile(t, "staff.csv", staffCSV(n))
	results := filepath.Join(t.TempDir(), "results.csv")
	it.srv.Faults(t, 7,
		extdirtest.FaultRule{Name: "throttled", Method: "POST", Path: "/beta/directory/pendingExternalUserProfiles", Scope: "inner", Status: 429, RetryAfter: 1, Rate: rate(0.1), Times: 30},
		extdirtest.FaultRule{Name: "unavailable", Method: "POST", Path: "/beta/$batch", Scope: "top", Status: 503, RetryAfter: 1, Rate: rate(0.2), Times: 4},
		extdirtest.FaultRule{Name: "broken", Method: "POST", Path: "/beta/directory/pendingExternalUserProfiles", Scope: "inner", Status: 500, Rate: rate(0.05), Times: 8},
	)
	out, err := it.invite(t, "--csv", path, "--default-region", "US", "--out", results, "--concurrency", "4")
	if err != nil {
		t.Fatalf("invite: %v\n%s", err, out)
	}
	got := readResultsFile(t, results)
	dir := byPhone(t, it.profiles(t))
	if len(dir) != n || len(got) != n {
		t.Fatalf("%d profiles and %d result lines for %d rows", len(dir), len(got), n)
	}
	for i := range n {
		r := got[i+2]
		if p := dir[staffPhone(i)]; r.status != statusCreated || p == nil || p["id"] != r.id {
			t.Fatalf("row %d: %+v, profile %v", i+2, r, p)
		}
	}
	// The faults fired: the run met throttling, unavailability and errors.
	seen := map[string]int{}
	// Faults strike before the token is read: the server's journal has them.
	for _, e := range it.srv.Requests(t) {
		if e.Fault != "" {
			seen[fmt.Sprintf("%d", e.Status)]++
		}
	}
	if seen["429"] == 0 || seen["500"] == 0 || seen["503"] == 0 {
		t.Errorf("faults seen in the journal: %v, want 429, 500 and 503", seen)
	}
	if !strings.Contains(out, fmt.Sprintf("%d created, 0 failed", n)) {
		t.Errorf("summary: %s", out)
	}
}

func rate(r float64) *float64 { return &r }

// The answer to a batch is lost after the server ran it, as when a proxy
// or the network fails on the way back: the rows are found by phone
// number, not sent again, and recorded created with their ids.
func TestInviteLooksUpRowsWhoseAnswerWasLost(t *testing.T) {
	it := newInviteTarget(t, extdirtest.WithJournalSize(5000))
	target, _ := url.Parse(it.srv.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = it.srv.Client().Transport
	var mu sync.Mutex
	lost := 0
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		drop := r.URL.Path == "/beta/$batch" && strings.Contains(string(body), `"method":"POST"`) && lost < 2
		if drop {
			lost++
		}
		mu.Unlock()
		if !drop {
			rp.ServeHTTP(w, r)
			return
		}
		// Forward, let the server answer, then cut the connection.
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(proxy.Close)
	const n = 50
	path := writeFile(t, "staff.csv", staffCSV(n))
	results := filepath.Join(t.TempDir(), "results.csv")
	_, _, err := runCmd(t, "invite", "--url", proxy.URL, "--token", it.tn.AppToken(t), "--ca-file", serverCA(t, proxy.URL),
		"--progress", "off", "--csv", path, "--default-region", "US", "--out", results, "--concurrency", "1")
	if err != nil {
		t.Fatal(err)
	}
	got := readResultsFile(t, results)
	dir := byPhone(t, it.profiles(t))
	if len(dir) != n || len(got) != n || lost != 2 {
		t.Fatalf("%d profiles and %d result lines for %d rows, %d answers lost", len(dir), len(got), n, lost)
	}
	found := 0
	for i := range n {
		r := got[i+2]
		if r.status != statusCreated || dir[staffPhone(i)]["id"] != r.id {
			t.Fatalf("row %d = %+v", i+2, r)
		}
		if strings.Contains(r.message, "found by its phoneNumber") {
			found++
		}
	}
	if found != 40 { // the two batches of 20 whose answers were lost
		t.Fatalf("%d rows found by phone number, want 40", found)
	}
	posts := 0
	for _, e := range it.tn.Requests(t) {
		if e.Method == "POST" && e.Path == "/beta"+pendingURL {
			posts++
		}
	}
	if posts != n {
		t.Fatalf("%d creates reached the server for %d rows", posts, n)
	}
}

// A 4xx is the row's answer: never sent again.
func TestInviteNeverRetriesAClientError(t *testing.T) {
	it := newInviteTarget(t, extdirtest.WithJournalSize(5000))
	// The directory already holds row 3's number.
	it.tn.Seed(t, "displayName,phoneNumber\nEarlier,+14257000001\n")
	path := writeFile(t, "staff.csv", staffCSV(3))
	results := filepath.Join(t.TempDir(), "results.csv")
	_, err := it.invite(t, "--csv", path, "--default-region", "US", "--out", results)
	if err == nil || !strings.Contains(err.Error(), "1 failed") {
		t.Fatalf("error = %v", err)
	}
	r := readResultsFile(t, results)[3]
	if r.status != statusFailed || r.http != 400 || r.code != "Request_BadRequest" || !strings.Contains(r.message, "phoneNumber already exists") {
		t.Fatalf("row 3 = %+v", r)
	}
	posts := 0
	for _, e := range it.tn.Requests(t) {
		if e.Method == "POST" && e.Path == "/beta"+pendingURL && strings.Contains(e.RequestBody, "+14257000001") {
			posts++
		}
	}
	if posts != 1 {
		t.Fatalf("row 3 was posted %d times, want once", posts)
	}
}

// The file lines of a resumed run hold every row once, and the rows the
// first run created are not sent again.
func TestInviteResumeSendsOnlyWhatIsLeft(t *testing.T) {
	it := newInviteTarget(t, extdirtest.WithJournalSize(5000))
	const n = 60
	path := writeFile(t, "staff.csv", staffCSV(n))
	results := filepath.Join(t.TempDir(), "results.csv")
	// The first run loses its rows' answers after some were created: a
	// results file as a kill leaves it, with rows created, rows failed and
	// rows still sending.
	var lines []string
	lines = append(lines, strings.Join(resultColumns, ","))
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("%d,%s,Person %d,%s,,,,,", i+2, staffPhone(i), i, statusSending))
	}
	created := map[string]string{}
	ids := it.tn.Seed(t, "displayName,phoneNumber\n"+func() string {
		var b strings.Builder
		for i := range 15 {
			fmt.Fprintf(&b, "Person %d,%s\n", i, staffPhone(i))
		}
		return b.String()
	}())
	for i := range 10 { // 10 answered, 5 created with the answer lost
		created[staffPhone(i)] = ids[i]
		lines = append(lines, fmt.Sprintf("%d,%s,Person %d,%s,%s,201,,,", i+2, staffPhone(i), i, statusCreated, ids[i]))
	}
	lines = append(lines, fmt.Sprintf("%d,%s,Person %d,%s,,429,TooManyRequests,x,", 22, staffPhone(20), 20, statusFailed))
	if err := os.WriteFile(results, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := it.invite(t, "--csv", path, "--default-region", "US", "--resume", results)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if !strings.Contains(out, "of the 10 in flight when it stopped, 5 had been created") {
		t.Errorf("report: %s", out)
	}
	got := readResultsFile(t, results)
	dir := byPhone(t, it.profiles(t))
	if len(got) != n || len(dir) != n {
		t.Fatalf("%d result lines and %d profiles for %d rows", len(got), len(dir), n)
	}
	for i := range n {
		r := got[i+2]
		if r.status != statusCreated || dir[staffPhone(i)]["id"] != r.id {
			t.Fatalf("row %d: %+v", i+2, r)
		}
		if id, ok := created[staffPhone(i)]; ok && r.id != id {
			t.Fatalf("row %d was created again: %s, first %s", i+2, r.id, id)
		}
	}
	for _, e := range it.tn.Requests(t) {
		if e.Method == "POST" && e.Path == "/beta"+pendingURL {
			for i := range 15 {
				if strings.Contains(e.RequestBody, staffPhone(i)) {
					t.Fatalf("row %d, created before, was sent again", i+2)
				}
			}
		}
	}
	// A resume of a finished run sends nothing and says so.
	out, err = it.invite(t, "--csv", path, "--default-region", "US", "--resume", results)
	if err != nil || !strings.Contains(out, "0 to send") {
		t.Fatalf("second resume: %v\n%s", err, out)
	}
	// A results file of another CSV is refused before anything is sent.
	other := writeFile(t, "other.csv", strings.Replace(staffCSV(n), "(425) 700-0003", "(425) 799-0003", 1))
	if _, err := it.invite(t, "--csv", other, "--default-region", "US", "--resume", results); err == nil || !strings.Contains(err.Error(), "row 5 was sent as +14257000003") {
		t.Fatalf("resume with another file: %v", err)
	}
}

// readLines reads a CSV file whole, for tests.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestExportThroughTheAPIRoundTripsIntoInvite(t *testing.T) {
	it := newInviteTarget(t)
	it.tn.Seed(t, "displayName,phoneNumber,companyName,address/city\n"+
		"Ann,+15550000001,Contoso,Oslo\nBen,+15550000002,Contoso,\nCid,+15550000003,Fabrikam,\n")
	dir := t.TempDir()
	// CSV of the selected columns, along nextLink (pages of 2).
	out := filepath.Join(dir, "contoso.csv")
	stdout, _, err := runCmd(t, append(append([]string{"export"}, it.args...), "--filter", "companyName eq 'Contoso'",
		"--select", "displayName,phoneNumber,companyName,address", "--page-size", "1", "--out", out)...)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	want := [][]string{
		{"displayName", "phoneNumber", "companyName", "address/city", "address/countryOrRegion", "address/officeLocation", "address/postalCode", "address/state", "address/street"},
		{"Ann", "+15550000001", "Contoso", "Oslo", "", "", "", "", ""},
		{"Ben", "+15550000002", "Contoso", "", "", "", "", "", ""},
	}
	if got := readCSV(t, out); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("export CSV = %v\nwant %v", got, want)
	}
	if !strings.Contains(stdout, "exported 2 profiles") {
		t.Errorf("stdout: %s", stdout)
	}
	// JSON lines, every property, as the API answers.
	jl := filepath.Join(dir, "all.jsonl")
	if _, _, err := runCmd(t, append(append([]string{"export"}, it.args...), "--out", jl, "--page-size", "2")...); err != nil {
		t.Fatalf("export jsonl: %v", err)
	}
	raw, _ := os.ReadFile(jl)
	if lines := strings.Split(strings.TrimSpace(string(raw)), "\n"); len(lines) != 3 || !strings.Contains(lines[2], `"displayName":"Cid"`) {
		t.Fatalf("jsonl = %s", raw)
	}
	// The CSV invites the same people into another tenant.
	other := it.srv.Tenant(t)
	id, secret := other.Credentials(t)
	args := slices.Clone(it.args)
	args[3], args[5], args[7] = other.ID, id, secret
	if _, _, err := runCmd(t, append(append([]string{"invite"}, args...), "--csv", out)...); err != nil {
		t.Fatalf("invite the export: %v", err)
	}
	tok := other.AppToken(t)
	req, _ := http.NewRequest("GET", it.srv.URL+"/beta"+pendingURL+"?$orderby=displayName", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := it.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct{ Value []map[string]any }
	_ = json.NewDecoder(resp.Body).Decode(&page)
	if len(page.Value) != 2 || page.Value[0]["displayName"] != "Ann" || page.Value[0]["address"].(map[string]any)["city"] != "Oslo" {
		t.Fatalf("the other tenant holds %v", page.Value)
	}
}

func TestExportFlagsKeepTheTwoModesApart(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--url", "http://127.0.0.1:1", "--data-dir", "x", "--token", "t"}, "--data-dir names a store"},
		{[]string{"export", "--kind", "external"}, "--kind is for an export through the API"},
		{[]string{"export", "--url", "http://127.0.0.1:1", "--token", "t", "--kind", "deleted"}, "--kind must be pending or external"},
		{[]string{"export", "--url", "http://127.0.0.1:1/v1.0", "--token", "t"}, "beta API"},
		{[]string{"export", "--url", "http://127.0.0.1:1", "--select", "nope", "--token", "t"}, `no property "nope"`},
		{[]string{"invite", "--csv", "x.csv", "--batch-size", "21"}, "1 to 20"},
		{[]string{"invite", "--csv", "x.csv", "--default-region", "XX"}, "not a region code"},
	} {
		_, _, err := runCmd(t, tc.args...)
		if _, usage := err.(*usageError); !usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
}

func TestRetryAfterAndBackoff(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{"", 0, false},
		{"soon", 0, false},
	} {
		if got, ok := retryAfter(tc.in, now); got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v %v", tc.in, got, ok)
		}
	}
	for n := range 30 {
		step := min(backoffBase<<min(n, 20), backoffCap)
		if d := backoff(n); d < step/2 || d > step {
			t.Errorf("backoff(%d) = %v, outside [%v, %v]", n, d, step/2, step)
		}
	}
}

func TestResultsFileIgnoresALineCutShortAtTheEnd(t *testing.T) {
	path := writeFile(t, "r.csv", strings.Join(resultColumns, ",")+"\n2,+15550000001,A,created,id1,201,,,r\n3,+15550000002,B,crea")
	p, err := readPriorRun(path)
	if err != nil || len(p.created) != 1 || p.created[2] != phoneKey("+15550000001") {
		t.Fatalf("prior = %+v, %v", p, err)
	}
	if _, err := readPriorRun(writeFile(t, "x.csv", "a,b\n")); err == nil {
		t.Fatal("a file that is no results file was read as one")
	}
}

// BenchmarkInvite sends 5,000 rows per iteration into an in-process
// extdir (in-memory SQLite) and reports rows/s:
//
//	go test ./cmd/extdir -run '^$' -bench Invite -benchtime 3x
func BenchmarkInvite(b *testing.B) {
	const rows = 5000
	srv := extdirtest.Start(b)
	path := filepath.Join(b.TempDir(), "staff.csv")
	if err := os.WriteFile(path, []byte(staffCSV(rows)), 0o600); err != nil {
		b.Fatal(err)
	}
	ca := serverCA(b, srv.URL)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		tn := srv.Tenant(b)
		id, secret := tn.Credentials(b)
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"invite", "--url", srv.URL, "--tenant", tn.ID, "--client-id", id, "--client-secret", secret,
			"--ca-file", ca, "--progress", "off", "--csv", path, "--default-region", "US",
			"--out", filepath.Join(b.TempDir(), fmt.Sprintf("r%d.csv", i))}, noEnv, &out, &errb)
		if err != nil {
			b.Fatalf("invite: %v\n%s", err, out.String())
		}
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}
