package console_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/extdirtest"
	"github.com/extdir/extdir/internal/phone"
)

// The console, driven in a real browser against a real server: every
// action signs in through the issuer's sign-in page and goes through the
// public API, as a person's would. Each test takes a tenant of its own on
// one shared server, and a tab of one shared browser.

const password = "Correct-Horse-Battery-42"

// sharedServer is TestConsole's server, which its subtests share.
var sharedServer *extdirtest.Server

// server is the server of TestConsole's subtests.
func server(t *testing.T) *extdirtest.Server {
	if sharedServer == nil {
		t.Fatal("server() outside TestConsole")
	}
	return sharedServer
}

// signedIn opens the console in a new tab and signs in as a new user of a
// new tenant with the given roles (none: a user without a role).
func signedIn(t *testing.T, roles ...string) (*tab, *extdirtest.Tenant, string) {
	t.Helper()
	srv := server(t)
	tn := srv.Tenant(t)
	upn := "admin@" + tn.ID[:8] + ".test"
	tn.AddUser(t, upn, password, roles...)
	tb := newTab(t)
	signIn(tb, srv.URL, tn.ID, upn, nil)
	return tb, tn, upn
}

var adminRoles = []string{auth.RoleExtendedDirectoryUserAdministrator, auth.RoleReportsReader}

// signIn goes through the console's sign-in form and the issuer's page of
// the server at origin; look, if not nil, is called on each of the two.
func signIn(tb *tab, origin, tenant, upn string, look func(screen string)) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(origin + "/console/"))
	tb.waitFor(`document.querySelector("#si-tenant") !== null`)
	if look != nil {
		look("console-sign-in")
	}
	tb.fill("#si-tenant", tenant)
	tb.click("#si-go")
	// The issuer's own page, at /{tenant}/oauth2/v2.0/authorize.
	tb.waitFor(`location.pathname.endsWith("/oauth2/v2.0/authorize") && document.querySelector("#username") !== null`)
	if look != nil {
		look("issuer-sign-in")
	}
	tb.fill("#username", upn)
	tb.fill("#password", password)
	tb.click(`button[value="sign_in"]`)
	tb.waitText("#who-name", upn)
}

func apiClient(t *testing.T, srv *extdirtest.Server, tn *extdirtest.Tenant, method, path string, body any, headers ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+"/beta"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tn.AppToken(t))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func count(t *testing.T, srv *extdirtest.Server, tn *extdirtest.Tenant, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/beta"+path+"/$count", nil)
	req.Header.Set("Authorization", "Bearer "+tn.AppToken(t))
	req.Header.Set("ConsistencyLevel", "eventual")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var n int
	if _, err := fmt.Sscan(string(raw), &n); err != nil {
		t.Fatalf("count %s: %s", path, raw)
	}
	return n
}

func TestConsole(t *testing.T) {
	findBrowser(t)
	sharedServer = extdirtest.Start(t)
	t.Cleanup(func() { sharedServer = nil })
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"SignInAndInvite", testSignInAndInvite},
		{"BrowseSearchFilterSort", testBrowse},
		{"EditConflict", testEditConflict},
		{"DeleteRestorePurgeRedeem", testLifecycle},
		{"ImportCSV", testImport},
		{"NoRoleSees403Explained", testNoRole},
		{"AuditLog", testAudit},
		{"Developer", testDeveloper},
		{"KeyboardOnly", testKeyboard},
		{"NarrowAndDark", testNarrowAndDark},
		{"PhoneNumbersAsInvite", testPhoneParity},
	} {
		t.Run(tc.name, tc.f)
	}
}

func testSignInAndInvite(t *testing.T) {
	srv := server(t)
	tn := srv.Tenant(t)
	upn := "ada@" + tn.ID[:8] + ".test"
	tn.AddUser(t, upn, password, adminRoles...)
	tb := newTab(t)
	signIn(tb, srv.URL, tn.ID, upn, func(screen string) {
		tb.checkA11y(screen)
		tb.screenshot(screen)
	})
	tb.waitText("#list-status", "No profile to show.")
	tb.checkA11y("pending, empty")
	// The tokens are in the page's memory only.
	stored := eval[string](tb, `JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])`)
	if strings.Contains(stored, "eyJ") {
		t.Errorf("the browser's storage holds a token: %s", stored)
	}

	tb.open("#/invite")
	tb.waitFor(`document.querySelector("#inv-displayName") !== null`)
	// The server's message goes under the field it names.
	tb.fill("#inv-displayName", "Ada Lovelace")
	tb.fill("#inv-phoneNumber", "12ab")
	tb.click("#invite-send")
	tb.waitText("#inv-phoneNumber-error", "Invalid value specified for property 'phoneNumber'")
	tb.checkA11y("invite, refused")
	tb.screenshot("invite-error")
	tb.fill("#inv-phoneNumber", "+14255550100")
	tb.fill("#inv-companyName", "Analytical Engines")
	tb.click("#invite-send")
	tb.waitText("#invite-result", "Invited Ada Lovelace (+14255550100)")
	if n := count(t, srv, tn, "/directory/pendingExternalUserProfiles"); n != 1 {
		t.Fatalf("%d pending profiles after the invite, want 1", n)
	}

	tb.open("#/pending")
	tb.waitText("#list-table tbody", "Ada Lovelace")
	tb.waitText("#list-total", "1 profile")
	tb.checkA11y("pending, one row")

	// Sign out: the tokens are gone, and so is the way in.
	tb.click("#sign-out")
	tb.waitText("#si-message", "You signed out")
	if got := eval[bool](tb, `document.querySelector("#nav").hidden`); !got {
		t.Error("the sections stay in the header after signing out")
	}
}

// seedPeople seeds n pending profiles: Person 001..., every third at
// Fabrikam, the others at Contoso.
func seedPeople(t *testing.T, tn *extdirtest.Tenant, n int) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("displayName,phoneNumber,companyName,jobTitle\n")
	for i := 1; i <= n; i++ {
		company := "Contoso"
		if i%3 == 0 {
			company = "Fabrikam"
		}
		fmt.Fprintf(&b, "Person %03d,+1425555%04d,%s,Engineer\n", i, i, company)
	}
	return tn.Seed(t, b.String())
}

// rows are the first column's texts of the listing's rows.
func rows(tb *tab) []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll("#list-table tbody tr:not(.placeholder)")].map((r) => r.cells[0].innerText)`)
}

// column is the text of one column of the listing, by its header.
func column(tb *tab, name string) []string {
	tb.t.Helper()
	return eval[[]string](tb, fmt.Sprintf(`(() => {
		const t = document.querySelector("#list-table");
		const i = [...t.tHead.rows[0].cells].findIndex((c) => c.innerText.replace(/[▲▼⇅]/g, "").trim().startsWith(%q));
		return i < 0 ? ["no column"] : [...t.tBodies[0].rows].filter((r) => !r.classList.contains("placeholder")).map((r) => r.cells[i].innerText);
	})()`, name))
}

func testBrowse(t *testing.T) {
	tb, tn, _ := signedIn(t, adminRoles...)
	seedPeople(t, tn, 60)
	tb.open("#/pending")
	tb.waitText("#list-total", "60 profiles")
	tb.waitFor(`document.querySelectorAll("#list-table tbody tr:not(.placeholder)").length === 50`)
	tb.waitFor(`!document.querySelector("#page-next").disabled`)
	tb.screenshot("pending")
	// Server paging: the next page is the nextLink's.
	tb.click("#page-next")
	tb.waitText("#list-status", "Page 2: 10 profiles")
	tb.click("#page-prev")
	tb.waitText("#list-status", "Page 1: 50 profiles")

	// $search, with ConsistencyLevel: eventual (the server refuses it
	// otherwise).
	tb.fill("#q-search", "Person 04")
	tb.click("#q-apply")
	tb.waitText("#list-total", "10 profiles match")
	if got := rows(tb); len(got) != 10 || got[0] != "Person 040" {
		t.Errorf("search Person 04: %v", got)
	}

	// The filter builder: companyName eq 'Fabrikam'.
	tb.fill("#q-search", "Person")
	tb.click("details.filter summary")
	tb.click("#q-add")
	eval[chromedp.Void](tb, `(() => { const s = document.querySelector("#q-c1-prop"); s.value = "companyName"; s.dispatchEvent(new Event("change")); })()`)
	tb.fill("#q-c1-value", "Fabrikam")
	if f := eval[string](tb, `document.querySelector("#q-filter").value`); f != "companyName eq 'Fabrikam'" {
		t.Errorf("the builder wrote $filter %q", f)
	}
	tb.click("#q-apply")
	tb.waitText("#list-total", "20 profiles match")
	for _, c := range column(tb, "companyName") {
		if c != "Fabrikam" {
			t.Fatalf("a row of companyName %q under the filter Fabrikam", c)
		}
	}
	tb.checkA11y("pending, searched and filtered")
	tb.screenshot("pending-filtered")

	// $orderby by the column header: descending on the second click.
	tb.click("#sort-displayName")
	tb.waitFor(`document.querySelector("th[aria-sort=ascending]") !== null`)
	tb.click("#sort-displayName")
	tb.waitFor(`document.querySelector("th[aria-sort=descending]") !== null`)
	tb.waitFor(`document.querySelector("#list-table tbody tr")?.cells[0].innerText === "Person 060"`)

	// $select: the column chooser.
	tb.click("details.cols summary")
	tb.click("#col-jobTitle")
	tb.click("#q-apply")
	tb.waitFor(`[...document.querySelectorAll("#list-table th")].some((c) => c.innerText.startsWith("jobTitle")) && document.querySelector(".table-wrap").getAttribute("aria-busy") === "false"`)
	if got := column(tb, "jobTitle"); len(got) == 0 || got[0] != "Engineer" {
		t.Errorf("the jobTitle column: %v", got)
	}

	// What the server was asked: every option, a page at a time.
	var sawSearch, sawFilter, sawOrder, sawSelect, sawNext bool
	for _, r := range tn.Requests(t) {
		if !strings.HasSuffix(r.Path, "/pendingExternalUserProfiles") || r.Method != "GET" {
			continue
		}
		if r.Status != 200 {
			t.Errorf("GET %s?%s: %d %s", r.Path, r.Query, r.Status, r.ResponseBody)
		}
		sawSearch = sawSearch || strings.Contains(r.Query, "%24search=")
		sawFilter = sawFilter || strings.Contains(r.Query, "%24filter=companyName")
		sawOrder = sawOrder || strings.Contains(r.Query, "%24orderby=displayName+desc")
		sawSelect = sawSelect || strings.Contains(r.Query, "jobTitle")
		sawNext = sawNext || strings.Contains(r.Query, "skiptoken")
		if !strings.Contains(r.Query, "%24top=50") {
			t.Errorf("a listing without $top=50: %s", r.Query)
		}
	}
	if !sawSearch || !sawFilter || !sawOrder || !sawSelect || !sawNext {
		t.Errorf("the listings asked $search %v, $filter %v, $orderby %v, $select %v, a nextLink %v", sawSearch, sawFilter, sawOrder, sawSelect, sawNext)
	}
}

func testEditConflict(t *testing.T) {
	tb, tn, _ := signedIn(t, adminRoles...)
	srv := server(t)
	id := seedPeople(t, tn, 1)[0]
	tb.open("#/pending/" + id)
	tb.waitText("#profile-etag", `W/"1"`)
	tb.checkA11y("profile")
	tb.screenshot("profile")
	tb.click("#act-edit")
	tb.fill("#edit-displayName", "Person One")
	// Meanwhile another client changes the profile.
	if status, body := apiClient(t, srv, tn, "PATCH", "/directory/pendingExternalUserProfiles/"+id, map[string]any{"jobTitle": "Director"}); status != 204 {
		t.Fatalf("the other client's PATCH: %d %v", status, body)
	}
	tb.click("#edit-save")
	tb.waitText("#conflict", "412 Request_PreconditionFailed")
	// Both versions: the jobTitle the other client set, the displayName
	// this one typed.
	tb.waitText(`#conflict-table tr[data-prop="jobTitle"]`, "Director")
	tb.waitText(`#conflict-table tr[data-prop="displayName"]`, "Person One")
	tb.checkA11y("edit conflict")
	tb.screenshot("edit-conflict")
	tb.click("#conflict-retry")
	tb.waitText("#profile-etag", `W/"3"`)
	status, p := apiClient(t, srv, tn, "GET", "/directory/pendingExternalUserProfiles/"+id, nil)
	if status != 200 || p["displayName"] != "Person One" || p["jobTitle"] != "Director" {
		t.Errorf("after the retry: %d %v; want both changes", status, p)
	}
	// Only what the person changed went out, with If-Match.
	var patches []string
	for _, r := range tn.Requests(t) {
		if r.Method == "PATCH" && r.Caller != nil && r.Caller.Type == "user" {
			patches = append(patches, fmt.Sprint(r.Status, " ", r.RequestBody))
		}
	}
	if len(patches) != 2 || patches[0] != `412 {"displayName":"Person One"}` || patches[1] != `204 {"displayName":"Person One"}` {
		t.Errorf("the console's PATCHes: %q", patches)
	}
}

func testLifecycle(t *testing.T) {
	tb, tn, _ := signedIn(t, adminRoles...)
	srv := server(t)
	ids := seedPeople(t, tn, 3)
	// Delete: a confirmation, then the deleted item.
	tb.open("#/pending/" + ids[0])
	tb.click("#act-delete")
	tb.waitFor(`document.querySelector("dialog[open]") !== null`)
	tb.checkA11y("delete confirmation")
	tb.click("dialog[open] .btn.danger")
	tb.waitText(".kind", "Deleted pending profile")
	if status, _ := apiClient(t, srv, tn, "GET", "/directory/deletedItems/"+ids[0], nil); status != 200 {
		t.Fatalf("the deleted item: %d", status)
	}
	// Restore.
	tb.click("#act-restore")
	tb.waitFor(`location.hash === "#/pending/` + ids[0] + `"`)
	tb.waitText("#profile-etag", `W/"3"`)
	// Delete both others; purge one from the deleted items' list.
	for _, id := range ids[1:] {
		if status, _ := apiClient(t, srv, tn, "DELETE", "/directory/pendingExternalUserProfiles/"+id, nil); status != 204 {
			t.Fatal(status)
		}
	}
	tb.open("#/deleted/pending")
	tb.waitText("#list-total", "2 profiles")
	tb.waitFor(`document.querySelectorAll("#list-table tbody tr:not(.placeholder)").length === 2`)
	tb.checkA11y("deleted items")
	tb.screenshot("deleted")
	tb.click(`#list-table tr[data-id="` + ids[1] + `"] [data-action=purge]`)
	tb.click("dialog[open] .btn.danger")
	tb.waitText("#list-total", "1 profile")
	if status, _ := apiClient(t, srv, tn, "GET", "/directory/deletedItems/"+ids[1], nil); status != 404 {
		t.Errorf("the purged item answers %d, want 404", status)
	}
	tb.click(`#list-table tr[data-id="` + ids[2] + `"] [data-action=restore]`)
	tb.waitText("#list-total", "0 profiles")
	if n := count(t, srv, tn, "/directory/pendingExternalUserProfiles"); n != 2 {
		t.Errorf("%d pending profiles, want 2 (restored twice)", n)
	}
	// Redeem: the pending profile becomes an external one.
	tb.open("#/pending/" + ids[2])
	tb.click("#act-redeem")
	tb.waitFor(`location.hash === "#/external/` + ids[2] + `"`)
	tb.waitText(".kind", "external profile")
	if status, _ := apiClient(t, srv, tn, "GET", "/directory/externalUserProfiles/"+ids[2], nil); status != 200 {
		t.Errorf("the redeemed profile answers %d as an external profile", status)
	}
}

func testImport(t *testing.T) {
	tb, tn, _ := signedIn(t, adminRoles...)
	srv := server(t)
	// 500 rows, 3 bad: a number that is none, a duplicate, a name too long.
	var b strings.Builder
	b.WriteString("displayName;phoneNumber;companyName;city\n")
	for i := 1; i <= 500; i++ {
		phone := fmt.Sprintf("(425) 55%d-%04d", i/1000, i%10000)
		name := fmt.Sprintf("Imported %03d", i)
		switch i {
		case 100:
			phone = "12ab"
		case 200:
			phone = "(425) 550-0007" // row 8's number
		case 300:
			name = strings.Repeat("x", 257)
		}
		fmt.Fprintf(&b, "%s;%s;Contoso;Redmond\n", name, phone)
	}
	file := filepath.Join(t.TempDir(), "staff.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// Throttling inside the batches: the console must wait and retry.
	srv.Faults(t, 7, extdirtest.FaultRule{Name: "busy", Method: "POST", Path: "/beta/directory/pendingExternalUserProfiles", Scope: "inner", Status: 429, RetryAfter: 1, Times: 30})
	t.Cleanup(func() { srv.Faults(t, 0) })

	tb.open("#/import")
	tb.waitFor(`document.querySelector("#imp-file") !== null`)
	eval[chromedp.Void](tb, `(() => { const s = document.querySelector("#imp-region"); s.value = "US"; s.dispatchEvent(new Event("change")); })()`)
	tb.run(chromedp.SetUploadFiles(chromedp.CSS("#imp-file"), []string{file}))
	tb.waitText("#imp-summary", "500 rows: 497 to send, 2 invalid, 1 duplicate")
	tb.checkA11y("import check")
	tb.screenshot("import-check")
	tb.click("#imp-send")
	tb.waitText("#imp-results-summary", "Done: 497 created, 0 failed, 3 skipped.")
	tb.checkA11y("import results")
	tb.screenshot("import-results")

	results := eval[[][]string](tb, `[...document.querySelectorAll("#imp-results tbody tr")].map((r) => [...r.cells].map((c) => c.innerText))`)
	if len(results) != 500 {
		t.Fatalf("%d result rows, want 500", len(results))
	}
	byRow := map[string][]string{}
	for _, r := range results {
		byRow[r[0]] = r
	}
	for row, want := range map[string]string{
		"101": "Invalid phone number '12ab'",
		"201": "Duplicate of row 8: the same phoneNumber +14255500007",
		"301": "It is longer than the limit of 256 characters",
	} {
		if r := byRow[row]; r[3] != "skipped" || !strings.Contains(r[7], want) {
			t.Errorf("row %s: %v, want skipped with %q", row, r, want)
		}
	}
	if r := byRow["2"]; r[3] != "created" || r[1] != "+14255500001" || r[4] == "" || r[5] != "201" {
		t.Errorf("row 2: %v", r)
	}
	if n := count(t, srv, tn, "/directory/pendingExternalUserProfiles"); n != 497 {
		t.Errorf("%d pending profiles after the import, want 497", n)
	}
	// In $batch requests of at most 20, the throttled ones sent again.
	batches, inner, throttled := 0, 0, 0
	ours := map[string]bool{}
	for _, r := range tn.Requests(t) {
		switch {
		case r.Path == "/beta/$batch":
			batches++
			ours[r.RequestID] = true
		case r.BatchRequestID != "" && r.Method == "POST":
			inner++
		}
	}
	// An injected fault answers before the token is read: its entry has no
	// tenant, only its batch's id.
	for _, r := range srv.Requests(t) {
		if r.Status == 429 && ours[r.BatchRequestID] {
			throttled++
			inner++
		}
	}
	if throttled != 30 || inner != 497+30 || batches < 25 {
		t.Errorf("%d batches, %d inner creates of which %d throttled; want at least 25, 527 and 30", batches, inner, throttled)
	}

	// The results file: the command's columns, a line a row.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(tb.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	tb.click("#imp-download")
	var csv []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, "results.csv")); err == nil && bytes.Count(b, []byte("\n")) == 501 {
			csv = b
			break
		}
	}
	if !bytes.HasPrefix(csv, []byte("row,phoneNumber,displayName,status,id,httpStatus,errorCode,errorMessage,requestId\n2,+14255500001,Imported 001,created,")) {
		t.Errorf("the downloaded results: %.300q", csv)
	}
}

func testNoRole(t *testing.T) {
	tb, _, _ := signedIn(t)
	tb.waitText(".alert", "403 Authorization_RequestDenied")
	tb.waitText(".alert", "What was missing: The signed-in user needs one of the directory roles Extended Directory User Administrator")
	tb.waitText(".alert", "directory roles (wids) none")
	tb.checkA11y("403 explained")
	tb.screenshot("forbidden")
	tb.open("#/me")
	tb.waitText("#me-roles", "none: every call of the API will be refused")
	tb.checkA11y("your sign-in")
}

func testAudit(t *testing.T) {
	tb, tn, _ := signedIn(t, adminRoles...)
	srv := server(t)
	id := seedPeople(t, tn, 2)[0]
	if status, _ := apiClient(t, srv, tn, "PATCH", "/directory/pendingExternalUserProfiles/"+id, map[string]any{"jobTitle": "Director"}); status != 204 {
		t.Fatal(status)
	}
	tb.open("#/pending/" + id)
	tb.click("a[href^='#/audit?profile=']")
	tb.waitText("#audit-table", "Update external user profile")
	tb.waitText("#audit-table", "Seed external user profile")
	if n := eval[int](tb, `document.querySelectorAll("#audit-table tbody tr").length`); n != 2 {
		t.Errorf("%d records of the profile, want 2", n)
	}
	tb.checkA11y("audit log")
	tb.screenshot("audit")
	// By app: the test kit's app made the update, the admin API the seeds.
	tb.open("#/audit?app=00000000-0000-0000-0000-0000000000c1")
	tb.waitText("#audit-table", "Update external user profile")
	if n := eval[int](tb, `document.querySelectorAll("#audit-table tbody tr").length`); n != 1 {
		t.Errorf("%d records of the app, want 1", n)
	}
	// By date: none tomorrow.
	tomorrow := srv.Clock().Now().UTC().Add(24 * time.Hour).Format("2006-01-02")
	tb.open("#/audit?from=" + tomorrow)
	tb.waitText(".status", "No record matches.")
}

func testDeveloper(t *testing.T) {
	tb, tn, _ := signedIn(t, adminRoles...)
	seedPeople(t, tn, 2)
	tb.open("#/pending")
	tb.waitText("#list-total", "2 profiles")
	// The admin API answers this loopback browser: the section shows.
	tb.waitFor(`!document.querySelector("#nav-dev").parentElement.hidden`)
	tb.click("#nav-dev")
	tb.waitText("#rq-table", "/beta/directory/pendingExternalUserProfiles")
	tb.checkA11y("journal")
	tb.screenshot("journal")
	// Filter by status: a refused call.
	if status, _ := apiClient(t, server(t), tn, "GET", "/directory/pendingExternalUserProfiles/00000000-0000-0000-0000-000000000000", nil); status != 404 {
		t.Fatal(status)
	}
	tb.open("#/dev/requests?status=4xx")
	tb.waitText("#rq-table", "404 refused")
	if n := eval[int](tb, `document.querySelectorAll("#rq-table tbody tr").length`); n != 1 {
		t.Errorf("%d entries of status 4xx, want 1", n)
	}
	tb.click("#rq-table tbody button")
	tb.waitText("#rq-detail", "Request_ResourceNotFound")
	// By path pattern, and by request id.
	var notFound string
	for _, r := range tn.Requests(t) {
		if r.Status == 404 {
			notFound = r.RequestID
		}
	}
	for _, q := range []string{"path=/beta/directory/*/0*", "requestId=" + notFound} {
		tb.open("#/dev/requests?" + q)
		tb.waitText("#rq-count", "1 request,")
		if got := tb.text("#rq-table tbody"); !strings.Contains(got, "404 refused") {
			t.Errorf("the journal by %s shows %q", q, got)
		}
	}

	// Fault rules: set, counted, removed.
	tb.open("#/dev/faults")
	tb.waitFor(`document.querySelector("#faults-json")?.value.includes("rules")`)
	eval[chromedp.Void](tb, `document.querySelector("#faults-json").value = JSON.stringify({seed: 1, rules: [{name: "slow-lists", method: "GET", path: "/beta/directory/*", latency: "1ms"}]}), undefined`)
	tb.click("#faults-save")
	tb.waitText("#faults-counts", "slow-lists: injected 0 times")
	eval[chromedp.Void](tb, `document.querySelector("#faults-json").value = "{\"rules\": [{\"status\": 299}]}", undefined`)
	tb.click("#faults-save")
	tb.waitText(".alert", "Invalid fault rules")
	tb.checkA11y("faults")
	tb.click("#faults-clear")
	tb.waitText("#faults-counts", "No rule is set")

	// The clock: ten minutes on, then back.
	tb.open("#/dev/clock")
	tb.waitText("#clock-now", "Offset")
	tb.fill("#clock-advance", "10m")
	tb.click("#clock-advance-go")
	tb.waitText("#clock-now", "10m0s")
	tb.checkA11y("clock")
	tb.click("#clock-reset")
	tb.waitText("#clock-now", "0s")

	// Seed and reset this tenant.
	tb.open("#/dev/data")
	tb.click("#seed-go")
	tb.waitText("#data-alerts", "Seeded 1 profiles.")
	if n := count(t, server(t), tn, "/directory/pendingExternalUserProfiles"); n != 3 {
		t.Errorf("%d profiles after the seed, want 3", n)
	}
	tb.click("#reset-tenant")
	tb.click("dialog[open] .btn.danger")
	tb.waitText("#data-alerts", "Reset: 3 profiles")
	if n := count(t, server(t), tn, "/directory/pendingExternalUserProfiles"); n != 0 {
		t.Errorf("%d profiles after the reset, want 0", n)
	}
}

func testKeyboard(t *testing.T) {
	tb, tn, _ := signedIn(t, adminRoles...)
	tb.open("#/pending")
	tb.waitText("#list-status", "No profile to show.")
	// From the view's title, Tab through the page to the Invite link.
	found := false
	for range 60 {
		tb.run(chromedp.KeyEvent("\t"))
		if eval[bool](tb, `document.activeElement?.getAttribute("href") === "#/invite"`) {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("Tab never reached the Invite link")
	}
	if style := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`); style == "none" {
		t.Error("the focused link shows no focus outline")
	}
	tb.run(chromedp.KeyEvent("\r"))
	tb.waitFor(`document.activeElement?.id === "view-title" && document.activeElement.innerText === "Invite"`)
	// The first field follows the title; Enter in a field sends the form.
	tb.run(chromedp.KeyEvent("\t"))
	if id := eval[string](tb, `document.activeElement.id`); id != "inv-displayName" {
		t.Fatalf("Tab from the title focused %q, want the displayName field", id)
	}
	tb.run(chromedp.KeyEvent("Keyboard Person\t+14255550199\r"))
	tb.waitText("#invite-result", "Invited Keyboard Person (+14255550199)")
	if n := count(t, server(t), tn, "/directory/pendingExternalUserProfiles"); n != 1 {
		t.Errorf("%d profiles after the keyboard invite, want 1", n)
	}
	// The dialog of a delete takes Escape for no.
	tb.run(chromedp.Click(chromedp.CSS("#invite-open")))
	tb.waitFor(`document.querySelector("#act-delete") !== null`)
	tb.run(chromedp.Focus(chromedp.CSS("#act-delete")), chromedp.KeyEvent("\r"))
	tb.waitFor(`document.querySelector("dialog[open]") !== null && document.activeElement.innerText === "Cancel"`)
	tb.run(chromedp.KeyEvent(kb.Escape))
	tb.waitFor(`document.querySelector("dialog") === null`)
	if n := count(t, server(t), tn, "/directory/pendingExternalUserProfiles"); n != 1 {
		t.Errorf("Escape deleted the profile")
	}
}

func testNarrowAndDark(t *testing.T) {
	tb, tn, _ := signedIn(t, adminRoles...)
	seedPeople(t, tn, 12)
	// Nothing may move while a view loads: the layout shifts the browser
	// measures without input, from opening a view until it has settled,
	// stay under the "good" bound of 0.1, view by view (as CLS is counted
	// per page). Resizing the viewport and switching the colour scheme
	// are the test's doing and are not counted.
	fresh := func() { eval[chromedp.Void](tb, `window.__layoutShift = 0, undefined`) }
	settled := func(view string) {
		t.Helper()
		if cls := eval[float64](tb, `window.__layoutShift || 0`); cls >= 0.1 {
			t.Errorf("%s: cumulative layout shift %.3f while it loaded, want < 0.1", view, cls)
		}
	}
	tb.run(chromedp.EmulateViewport(360, 780))
	for _, view := range []string{"#/pending", "#/invite", "#/import", "#/dev/requests"} {
		fresh()
		tb.open(view)
		tb.waitFor(`document.querySelector("#view-title") !== null && !document.querySelector("[aria-busy=true]") && !document.body.innerText.includes("Loading")`)
		if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("%s at 360 px: the page is %d px wide", view, w)
		}
		settled(view + " at 360 px")
	}
	fresh()
	tb.open("#/pending")
	tb.waitText("#list-total", "12 profiles")
	settled("#/pending at 360 px")
	tb.checkA11y("pending, 360 px")
	tb.screenshot("narrow")
	tb.run(chromedp.EmulateViewport(1280, 800))
	tb.setDark(true)
	fresh()
	tb.open("#/pending/" + tn.Seed(t, "displayName,phoneNumber,companyName\nDora Dark,+14255559999,Contoso\n")[0])
	tb.waitFor(`document.querySelector("#profile-etag") !== null`)
	settled("a profile, dark")
	if bg := eval[string](tb, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(22, 26, 31)" {
		t.Errorf("dark mode: the body's background is %s", bg)
	}
	tb.checkA11y("profile, dark")
	fresh()
	tb.open("#/pending")
	tb.waitText("#list-total", "13 profiles")
	settled("#/pending, dark")
	tb.checkA11y("pending, dark")
	tb.screenshot("dark")
}

func testPhoneParity(t *testing.T) {
	tb, _, _ := signedIn(t, adminRoles...)
	type tc struct{ Cell, Region string }
	var cases []tc
	for region, cells := range phoneCorpus {
		for _, c := range cells {
			cases = append(cases, tc{c, region})
		}
	}
	raw, _ := json.Marshal(cases)
	got := eval[[]map[string]string](tb, `import("/console/phone.js").then((m) => `+string(raw)+`.map((c) => m.normalise(c.Cell, c.Region)))`)
	for i, c := range cases {
		want, err := phone.Normalise(c.Cell, c.Region)
		wantErr := ""
		if err != nil {
			wantErr = extdir.ErrorMessage(err)
		}
		if got[i]["e164"] != want || got[i]["error"] != wantErr {
			t.Errorf("%q in %q: the console reads %v; extdir invite %q %q", c.Cell, c.Region, got[i], want, wantErr)
		}
	}
	t.Logf("%d numbers read alike", len(cases))

	// Rows and headers, against the domain's decoder and the number.
	header := []string{"DisplayName", "phonenumber", "address.city", "isEnabled", "State"}
	rowsIn := [][]string{
		{"Ada", "(425) 555-0100", "London", "yes", ""},
		{"", "+14255550101", "", "", ""},
		{"Bob", "+14255550102", "", "maybe", ""},
		{strings.Repeat("é", 257), "+14255550103", "", "", ""},
		{"Carol", "+14255550104", strings.Repeat("c", 129), "", ""},
		{"Dan", "+14255550105", "", "", "", "extra"},
		{"Eve", "", "", "", ""},
		{"Fay", "12", "", "", ""},
	}
	hj, _ := json.Marshal(header)
	rj, _ := json.Marshal(rowsIn)
	type checked struct {
		Phone, Name, Error string
		Body               map[string]any
	}
	res := eval[[]checked](tb, `import("/console/rows.js").then((m) => { const h = m.parseHeader(`+string(hj)+`); return `+string(rj)+`.map((r) => m.checkRow(h.columns, r, "US")); })`)
	h, err := extdir.ParseHeader(header)
	if err != nil {
		t.Fatal(err)
	}
	for i, cells := range rowsIn {
		cells = append([]string(nil), cells...)
		wantErr := ""
		if n, err := phone.Normalise(cells[1], "US"); cells[1] != "" && err != nil {
			wantErr = extdir.ErrorMessage(err)
		} else if cells[1] != "" {
			cells[1] = n
		}
		if wantErr == "" {
			if _, err := h.Decode(extdir.KindPending, extdir.ModeCreate, cells); err != nil {
				wantErr = extdir.ErrorMessage(err)
			}
		}
		if res[i].Error != wantErr {
			t.Errorf("row %v: the console says %q, the decoder %q", rowsIn[i], res[i].Error, wantErr)
		}
	}
	if res[0].Body["address"].(map[string]any)["city"] != "London" || res[0].Body["isEnabled"] != true || res[0].Phone != "+14255550100" {
		t.Errorf("row 1's body: %+v", res[0])
	}
	for _, bad := range [][]string{
		{"displayName", "phoneNumber", "email", "id", "DISPLAYNAME"},
		{"displayName", "address"},
	} {
		bj, _ := json.Marshal(bad)
		got := eval[map[string]any](tb, `import("/console/rows.js").then((m) => m.parseHeader(`+string(bj)+`))`)
		_, err := extdir.ParseHeader(bad)
		if err == nil || got["error"] != extdir.ErrorMessage(err) {
			t.Errorf("header %v: the console says %v, the decoder %v", bad, got["error"], err)
		}
	}
}

// phoneCorpus are numbers as people write them, by the region they are
// read in: what the console must read as extdir invite does.
var phoneCorpus = map[string][]string{
	"": {"+1 (425) 555-0100", "(425) 555-0100", "+15555555555", "+44 20 7946 0958", "+44 (0)20 7946 0958", "0044 20 7946 0958",
		"+800 1234 5678", "+882 12 345678", "+979 123456789", "+1 242 555 0100", "+999 1234567", "+0 123", "+", "", "call me",
		"+1 425 555 0100 ext. 7", "+١ ٤٢٥ ٥٥٥ ٠١٠٠", "+33 6 12 34 56 78", "+49 (0) 30 123456", "+7 495 123-45-67", "+86 138 0013 8000"},
	"US": {"(425) 555-0100", "425-555-0100", "425.555.0100", "1 425 555 0100", "1-425-555-0100", "14255550100", "+1 425 555 0100",
		"011 44 20 7946 0958", "0044 20 7946 0958", "00 12", "555-0100", "5550100", "1-800-FLOWERS", "425 555 0100 x123",
		"425 555 0100 ext. 5", "(425) 555-0100 #77", "call me", "12345678901234567890", "425-555-0100 / x 12", "(425) 5550100",
		"12ab", "011 0 12345", "1 (425) 555-0100", "+44 (0)20 7946 0958"},
	"GB": {"020 7946 0958", "07911 123456", "+44 7911 123456", "0044 7911 123456", "00 44 20 7946 0958", "7946 0958", "0800 123 456",
		"(020) 7946-0958", "+44 20 7946 095", "020 7946 09581", "44 20 7946 0958"},
	"DE": {"030 123456", "+49 30 123456", "0171 1234567", "0049 171 1234567", "49 30 1234567", "(030) 1234-5678"},
	"FR": {"01 23 45 67 89", "06 12 34 56 78", "+33 6 12 34 56 78", "0033 6 12 34 56 78", "33 6 12 34 56 78", "6 12 34 56 78"},
	"IN": {"98765 43210", "+91 98765 43210", "098765 43210", "09876543210", "91 98765 43210"},
	"AU": {"0412 345 678", "(02) 9876 5432", "+61 412 345 678", "0011 44 20 7946 0958", "61 412 345 678"},
	"JP": {"090-1234-5678", "03-1234-5678", "+81 90-1234-5678", "010 1 425 555 0100"},
	"BR": {"(11) 91234-5678", "011 91234 5678", "11912345678", "0 21 11 91234-5678"},
	"AR": {"011 15-1234-5678", "15 1234 5678", "+54 9 11 1234 5678", "0341 15 123 4567", "11 1234 5678"},
	"MX": {"55 1234 5678", "044 55 1234 5678", "+52 1 55 1234 5678", "01 55 1234 5678"},
	"IT": {"06 1234 5678", "+39 06 1234 5678", "0039 06 12345678", "312 345 6789", "39 06 1234 5678"},
	"RU": {"8 (495) 123-45-67", "+7 495 123-45-67", "810 44 20 7946 0958", "8 800 555 35 35"},
	"CN": {"010 1234 5678", "138 0013 8000", "+86 10 1234 5678"},
	"ZZ": {"+14255550100", "4255550100"},
}
