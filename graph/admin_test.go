package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/clock"
)

const adminTenant = "6b8e3a1e-0000-4000-8000-00000000000a"

// adminServer is a protocol server with the admin API, a journal and a
// movable clock.
func adminServer(t *testing.T, token string) *protocolServer {
	t.Helper()
	c := &clock.Clock{}
	return newProtocolServer(t, func(s *graph.Server) {
		s.Now = c.Now
		s.Admin = &graph.Admin{Token: token, Clock: c, Retention: 30 * 24 * 3600e9, Tenant: adminTenant, CreatedBy: "00000000-0000-0000-0000-0000000000a1"}
		s.Journal = graph.NewJournal(100, 1024)
	})
}

// from sends a request from the given remote address.
func (ps *protocolServer) from(addr, method, path, contentType, body string, headers ...string) *http.Response {
	ps.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = addr
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	ps.handler.ServeHTTP(w, r)
	return w.Result()
}

func (ps *protocolServer) count(tenant string) int {
	ps.t.Helper()
	res := ps.do("GET", "/beta/directory/pendingExternalUserProfiles/$count", ps.token("app", tenant), "", "ConsistencyLevel", "eventual")
	raw, _ := io.ReadAll(res.Body)
	n := 0
	for _, c := range strings.TrimSpace(string(raw)) {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestAdminIsLoopbackOnlyWithoutAToken(t *testing.T) {
	ps := adminServer(t, "")
	ps.from("127.0.0.1:1", "POST", "/admin/seed", "text/csv", "displayName,phoneNumber\nAda,+14255550100\n")
	for _, path := range []string{"/admin/reset", "/admin/requests", "/admin/clock", "/admin/faults", "/admin/export"} {
		method := "GET"
		if path == "/admin/reset" {
			method = "POST"
		}
		res := ps.from("192.0.2.10:5000", method, path, "", "")
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s from 192.0.2.10: %d, want 403", method, path, res.StatusCode)
		}
	}
	// A Graph token opens nothing.
	res := ps.from("192.0.2.10:5000", "POST", "/admin/reset", "", "", "Authorization", "Bearer "+ps.token("app", adminTenant))
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("reset with a Graph token from afar: %d", res.StatusCode)
	}
	if n := ps.count(adminTenant); n != 1 {
		t.Fatalf("after refused resets the tenant holds %d profiles, want 1", n)
	}
	if res := ps.from("[::1]:1", "GET", "/admin/clock", "", ""); res.StatusCode != 200 {
		t.Errorf("GET /admin/clock from ::1: %d", res.StatusCode)
	}
	// A reverse proxy on this host forwards from loopback: its clients are
	// not loopback clients.
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
		if res := ps.from("127.0.0.1:1", "POST", "/admin/reset", "", "", h, "198.51.100.7"); res.StatusCode != http.StatusForbidden {
			t.Errorf("reset through a proxy (%s): %d, want 403", h, res.StatusCode)
		}
	}
	if n := ps.count(adminTenant); n != 1 {
		t.Fatalf("after proxied resets the tenant holds %d profiles, want 1", n)
	}
	// A page of another site in a browser on this machine is refused too;
	// the server's own pages are not.
	for _, h := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}} {
		if res := ps.from("127.0.0.1:1", "POST", "/admin/reset", "", "", h...); res.StatusCode != http.StatusForbidden {
			t.Errorf("reset from another site (%s: %s): %d, want 403", h[0], h[1], res.StatusCode)
		}
	}
	if n := ps.count(adminTenant); n != 1 {
		t.Fatalf("after cross-site resets the tenant holds %d profiles, want 1", n)
	}
	if res := ps.from("127.0.0.1:1", "GET", "/admin/clock", "", "", "Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"); res.StatusCode != 200 {
		t.Errorf("a same-origin page: %d, want 200", res.StatusCode)
	}
}

func TestAdminTokenOpensItFromAnywhere(t *testing.T) {
	const secret = "s3cret-admin-token-0123456789"
	ps := adminServer(t, secret)
	for _, tc := range []struct {
		name, addr, auth string
		want             int
	}{
		{"no token, loopback", "127.0.0.1:1", "", 401},
		{"wrong token", "192.0.2.10:1", "Bearer nope", 401},
		{"a Graph token", "127.0.0.1:1", "Bearer " + ps.token("app", adminTenant), 401},
		{"the token from afar", "192.0.2.10:1", "Bearer " + secret, 200},
	} {
		var h []string
		if tc.auth != "" {
			h = []string{"Authorization", tc.auth}
		}
		if res := ps.from(tc.addr, "GET", "/admin/requests", "", "", h...); res.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, res.StatusCode, tc.want)
		}
	}
}

func TestAdminOffAnswers404AndTheAPIIsUnchanged(t *testing.T) {
	ps := newProtocolServer(t, nil)
	ps.srv.Admin = nil
	ps.handler = ps.srv.Handler()
	if res := ps.from("127.0.0.1:1", "POST", "/admin/reset", "", ""); res.StatusCode != 404 {
		t.Errorf("reset with the admin API off: %d", res.StatusCode)
	}
	if res := ps.do("GET", "/beta/directory/pendingExternalUserProfiles", ps.token("app", adminTenant), ""); res.StatusCode != 200 {
		t.Errorf("the Graph API with the admin API off: %d", res.StatusCode)
	}
}

func TestAdminSeedWithABadRowStoresNothing(t *testing.T) {
	ps := adminServer(t, "")
	for _, tc := range []struct{ name, ct, body, want string }{
		{"an invalid phone on row 2", "text/csv", "displayName,phoneNumber\nAda,+14255550100\nBob,555-0100\n", "Row 2 (line 3): Invalid value specified for property 'phoneNumber'"},
		{"an unknown column", "text/csv", "displayName,phoneNumber,email\nAda,+14255550100,a@b.c\n", `unknown columns "email"`},
		{"a missing required column", "text/csv", "displayName\nAda\n", "Row 1 (line 2): Invalid value specified for property 'phoneNumber' of resource 'PendingExternalUserProfile'. It is required."},
		{"an overlong name", "application/json", `[{"displayName":"` + strings.Repeat("x", 257) + `","phoneNumber":"+14255550100"}]`, "Row 1: Invalid value specified for property 'displayName'"},
		{"a read-only property", "application/json", `[{"displayName":"Ada","phoneNumber":"+14255550100","createdBy":"x"}]`, "Row 1: Property 'createdBy' is read-only"},
		{"two rows with one phone", "application/json", `[{"displayName":"Ada","phoneNumber":"+14255550100"},{"displayName":"Bob","phoneNumber":"+14255550100"}]`, "Row 2: the phone number +14255550100 is already the number of row 1"},
		{"an id that is no GUID", "application/json", `[{"id":"x","displayName":"Ada","phoneNumber":"+14255550100"}]`, "Row 1: the id 'x' is not a GUID"},
		{"not JSON", "application/json", `[{"displayName":`, "The seed is not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ps.from("127.0.0.1:1", "POST", "/admin/seed", tc.ct, tc.body)
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != 400 || !strings.Contains(errorMessage(raw), tc.want) {
				t.Fatalf("%d %s\nwant 400 containing %q", res.StatusCode, raw, tc.want)
			}
			if n := ps.count(adminTenant); n != 0 {
				t.Fatalf("a refused seed stored %d profiles", n)
			}
		})
	}
	// A clash with a profile already there names the cause and stores
	// nothing of the seed either.
	ps.from("127.0.0.1:1", "POST", "/admin/seed", "text/csv", "displayName,phoneNumber\nAda,+14255550100\n")
	res := ps.from("127.0.0.1:1", "POST", "/admin/seed", "text/csv", "displayName,phoneNumber\nBob,+14255550101\nEve,+14255550100\n")
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(raw), "Nothing of the seed was stored") {
		t.Fatalf("seed clashing with a stored profile: %d %s", res.StatusCode, raw)
	}
	if n := ps.count(adminTenant); n != 1 {
		t.Fatalf("after the clash the tenant holds %d profiles, want 1", n)
	}
}

func TestAdminImportRefusesAMalformedLine(t *testing.T) {
	ps := adminServer(t, "")
	ps.from("127.0.0.1:1", "POST", "/admin/seed", "text/csv", "displayName,phoneNumber\nAda,+14255550100\nBob,+14255550101\n")
	res := ps.from("127.0.0.1:1", "GET", "/admin/export", "", "")
	dump, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || bytes.Count(dump, []byte("\n")) != 2 || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), dump)
	}
	ps.from("127.0.0.1:1", "POST", "/admin/reset", "", "")
	lines := strings.SplitAfter(string(dump), "\n")
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", lines[0] + "{nope\n", "Line 2: not a JSON object"},
		{"a missing member", lines[0] + strings.Replace(lines[1], `"displayName":`, `"x":`, 1), `Line 2: member "displayName" is missing`},
		{"an unknown member", strings.Replace(lines[0], `{`, `{"extra":1,`, 1), `Line 1: unknown member "extra"`},
		{"an etag that does not match", strings.Replace(lines[0], `W/\"1\"`, `W/\"7\"`, 1), "does not match epoch 1"},
		{"an invalid value", strings.Replace(lines[0], `"+14255550100"`, `"555"`, 1), "Row 1: Invalid value specified for property 'phoneNumber'"},
		{"a line too long", `{"x":"` + strings.Repeat("a", 2<<20) + "\"}\n", "Line 1 is longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ps.from("127.0.0.1:1", "POST", "/admin/import", "application/x-ndjson", tc.body)
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != 400 || !strings.Contains(errorMessage(raw), tc.want) {
				t.Fatalf("%d %s\nwant 400 containing %q", res.StatusCode, raw, tc.want)
			}
			if n := ps.count(adminTenant); n != 0 {
				t.Fatalf("a refused import stored %d profiles", n)
			}
		})
	}
	res = ps.from("127.0.0.1:1", "POST", "/admin/import", "application/x-ndjson", string(dump))
	if res.StatusCode != 200 {
		raw, _ := io.ReadAll(res.Body)
		t.Fatalf("import of the export: %d %s", res.StatusCode, raw)
	}
	again, _ := io.ReadAll(ps.from("127.0.0.1:1", "GET", "/admin/export", "", "").Body)
	if !bytes.Equal(again, dump) {
		t.Fatalf("export after import differs:\n%s\nwant\n%s", again, dump)
	}
}

func TestAdminRequestsRefusesBadFilters(t *testing.T) {
	ps := adminServer(t, "")
	for _, q := range []string{
		"path=" + strings.Repeat("a", 5000),
		"path=/beta/**/x",
		"path=no-slash",
		"status=abc",
		"status=4xy",
		"since=yesterday",
		"top=-1",
		"colour=red",
		"method=GET&method=POST",
	} {
		res := ps.from("127.0.0.1:1", "GET", "/admin/requests?"+q, "", "")
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != 400 || !strings.Contains(string(raw), `"code":"BadRequest"`) {
			t.Errorf("?%.40s: %d %s", q, res.StatusCode, raw)
		}
	}
}

func TestAdminRequestsFilters(t *testing.T) {
	ps := adminServer(t, "")
	tok := ps.token("app", adminTenant)
	ps.do("POST", "/beta/directory/pendingExternalUserProfiles", tok, `{"displayName":"Ada","phoneNumber":"+14255550100"}`)
	ps.do("POST", "/beta/directory/pendingExternalUserProfiles", tok, `{"displayName":"Ada","phoneNumber":"+14255550100"}`, "client-request-id", "mine-1")
	ps.do("GET", "/beta/directory/pendingExternalUserProfiles?$top=1", tok, "")
	ps.do("POST", "/"+adminTenant+"/oauth2/v2.0/token", "", "client_id=x&client_secret=hunter2&grant_type=client_credentials", "Content-Type", "application/x-www-form-urlencoded")
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"", 4},
		{"method=post", 3},
		{"status=4xx", 2},
		{"status=201", 1},
		{"path=/beta/directory/*", 3},
		{"path=/beta/**", 3},
		{"requestId=mine-1", 1},
		{"tenant=" + adminTenant, 4},
		{"top=2", 2},
	} {
		res := ps.from("127.0.0.1:1", "GET", "/admin/requests?"+tc.q, "", "")
		body := readJSON(t, res)
		if res.StatusCode != 200 || int(body["count"].(float64)) != tc.want {
			t.Errorf("?%s: %d %v entries, want %d", tc.q, res.StatusCode, body["count"], tc.want)
		}
	}
	res := ps.from("127.0.0.1:1", "GET", "/admin/requests", "", "")
	raw, _ := io.ReadAll(res.Body)
	if strings.Contains(string(raw), "hunter2") || strings.Contains(string(raw), "Bearer") || strings.Contains(string(raw), tok[:40]) {
		t.Fatalf("the journal keeps a secret or a token:\n%s", raw)
	}
	if res := ps.from("127.0.0.1:1", "DELETE", "/admin/requests", "", ""); res.StatusCode != 204 {
		t.Fatalf("DELETE /admin/requests: %d", res.StatusCode)
	}
	if body := readJSON(t, ps.from("127.0.0.1:1", "GET", "/admin/requests", "", "")); body["count"].(float64) != 0 {
		t.Fatalf("journal after DELETE: %v", body)
	}
}

func TestAdminClockRefusesBadBodies(t *testing.T) {
	ps := adminServer(t, "")
	for _, body := range []string{`{}`, `{"advance":"soon"}`, `{"now":"tomorrow"}`, `{"now":"2030-01-01T00:00:00Z","advance":"1h"}`, `{"speed":2}`} {
		res := ps.from("127.0.0.1:1", "PUT", "/admin/clock", "application/json", body)
		if res.StatusCode != 400 {
			t.Errorf("PUT /admin/clock %s: %d, want 400", body, res.StatusCode)
		}
	}
	body := readJSON(t, ps.from("127.0.0.1:1", "PUT", "/admin/clock", "application/json", `{"advance":"2d"}`))
	if body["offset"] == "0s" || body["purged"] != 0.0 {
		t.Fatalf("after advancing 2d: %v", body)
	}
}

// errorMessage is the message of a Graph error body.
func errorMessage(raw []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.Error.Message
}

func TestAdminIsNotJournaledAndSecretsAreNot(t *testing.T) {
	ps := adminServer(t, "")
	for _, p := range []string{"/admin/requests", "/ADMIN/clock", "/admin"} {
		ps.from("127.0.0.1:1", "GET", p, "", "")
	}
	ps.from("127.0.0.1:1", "POST", "/"+adminTenant+"/OAuth2/v2.0/token", "application/x-www-form-urlencoded", "client_secret=hunter2")
	ps.from("127.0.0.1:1", "GET", "/administrator", "", "")
	body := readJSON(t, ps.from("127.0.0.1:1", "GET", "/admin/requests", "", ""))
	var paths []string
	for _, e := range body["value"].([]any) {
		m := e.(map[string]any)
		paths = append(paths, m["path"].(string))
		if m["requestBody"] != nil {
			t.Errorf("%s: request body kept: %v", m["path"], m["requestBody"])
		}
	}
	if strings.Join(paths, " ") != "/"+adminTenant+"/OAuth2/v2.0/token /administrator" {
		t.Fatalf("journaled paths %v, want the token request and /administrator only", paths)
	}
}
