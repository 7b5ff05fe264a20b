package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir/auth"
)

var (
	guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
)

const graphJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// everyProperty is what a profile renders: each declared property, always.
var everyProperty = []string{"id", "deletedDateTime", "createdDateTime", "createdBy", "companyName",
	"displayName", "jobTitle", "isDiscoverable", "isEnabled", "department", "phoneNumber", "address",
	"supervisorId", "epoch"}

func TestProfileLifecycle(t *testing.T) {
	ts := startServer(t)
	tok := ts.token("--oid", "11111111-2222-3333-4444-555555555555")

	// Create, exactly as the documentation's example.
	r := ts.req("POST", pendingPath, tok, `{"phoneNumber":"+15555555555","displayName":"Bob Henry"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != graphJSON {
		t.Errorf("Content-Type = %q", ct)
	}
	created := r.json(t)
	id, _ := created["id"].(string)
	if !guidRE.MatchString(id) {
		t.Fatalf("id %q is not a lowercase GUID", id)
	}
	if loc := r.header.Get("Location"); loc != ts.base+pendingPath+"/"+id {
		t.Errorf("Location = %q", loc)
	}
	if got := created["@odata.context"]; got != ts.base+"/beta/$metadata#directory/pendingExternalUserProfiles/$entity" {
		t.Errorf("@odata.context = %v", got)
	}
	for _, name := range everyProperty {
		if _, ok := created[name]; !ok {
			t.Errorf("property %s missing from %s", name, r.body)
		}
	}
	want := map[string]any{
		"displayName": "Bob Henry", "phoneNumber": "+15555555555", "isEnabled": true, "isDiscoverable": true,
		"epoch": 1.0, "createdBy": "11111111-2222-3333-4444-555555555555", "deletedDateTime": nil,
		"companyName": nil, "supervisorId": nil, "department": nil, "jobTitle": nil, "@odata.etag": `W/"1"`,
		"address": map[string]any{"city": nil, "countryOrRegion": nil, "officeLocation": nil, "postalCode": nil, "state": nil, "street": nil},
	}
	assertFields(t, created, want)
	if s, _ := created["createdDateTime"].(string); !timeRE.MatchString(s) {
		t.Errorf("createdDateTime %q is not whole-second UTC", s)
	}

	// Get it back: the same representation, and its ETag.
	r = ts.req("GET", pendingPath+"/"+id, tok, nil)
	if r.status != 200 || r.header.Get("ETag") != `W/"1"` {
		t.Fatalf("get: %d etag %q %s", r.status, r.header.Get("ETag"), r.body)
	}
	assertFields(t, r.json(t), want)
	// Ids are matched case-insensitively, like Graph's GUIDs.
	if r := ts.req("GET", pendingPath+"/"+strings.ToUpper(id), tok, nil); r.status != 200 {
		t.Errorf("get by upper-case id: %d", r.status)
	}
	// OData key syntax reaches the same entity.
	if r := ts.req("GET", pendingPath+"('"+id+"')", tok, nil); r.status != 200 {
		t.Errorf("get by key syntax: %d %s", r.status, r.body)
	}

	// Patch: 204, no body, even when asked for a representation.
	r = ts.req("PATCH", pendingPath+"/"+id, tok, map[string]any{
		"jobTitle": "Contractor", "companyName": "Contoso", "address": map[string]any{"city": "Oslo"},
		"@odata.type": "#microsoft.graph.pendingExternalUserProfile",
	}, "Prefer", "return=representation")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("patch: %d %q", r.status, r.body)
	}
	got := ts.req("GET", pendingPath+"/"+id, tok, nil).json(t)
	assertFields(t, got, map[string]any{"jobTitle": "Contractor", "companyName": "Contoso", "epoch": 2.0, "@odata.etag": `W/"2"`})
	if addr := got["address"].(map[string]any); addr["city"] != "Oslo" || addr["street"] != nil {
		t.Errorf("address after patch = %v", addr)
	}
	// A partial address patch keeps the other fields; null clears them.
	ts.req("PATCH", pendingPath+"/"+id, tok, map[string]any{"address": map[string]any{"street": "1 Main St"}})
	got = ts.req("GET", pendingPath+"/"+id, tok, nil).json(t)
	if addr := got["address"].(map[string]any); addr["city"] != "Oslo" || addr["street"] != "1 Main St" {
		t.Errorf("address merge = %v", addr)
	}

	// Redeem: the same object becomes an external profile.
	r = ts.req("POST", pendingPath+"/"+id+"/redeem", tok, nil)
	if r.status != 200 {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	ext := r.json(t)
	assertFields(t, ext, map[string]any{"id": id, "displayName": "Bob Henry", "createdBy": created["createdBy"],
		"createdDateTime": created["createdDateTime"], "jobTitle": "Contractor", "epoch": 4.0,
		"@odata.context": ts.base + "/beta/$metadata#directory/externalUserProfiles/$entity"})
	if r := ts.req("GET", pendingPath+"/"+id, tok, nil); r.status != 404 {
		t.Errorf("pending after redeem: %d", r.status)
	}
	if r := ts.req("POST", pendingPath+"/"+id+"/redeem", tok, nil); r.status != 404 {
		t.Errorf("second redeem: %d", r.status)
	}
	if r := ts.req("GET", externalPath+"/"+id, tok, nil); r.status != 200 {
		t.Errorf("external get: %d", r.status)
	}
	// Redemption is not a deletion.
	if n := len(ts.req("GET", deletedPath+"/microsoft.graph.pendingExternalUserProfile", tok, nil).json(t)["value"].([]any)); n != 0 {
		t.Errorf("redeemed profile listed as deleted (%d items)", n)
	}

	// Patch and delete the external profile.
	if r := ts.req("PATCH", externalPath+"/"+id, tok, map[string]any{"jobTitle": "Employee"}); r.status != 204 {
		t.Fatalf("patch external: %d %s", r.status, r.body)
	}
	if r := ts.req("DELETE", externalPath+"/"+id, tok, nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("delete external: %d %s", r.status, r.body)
	}
	if r := ts.req("GET", externalPath+"/"+id, tok, nil); r.status != 404 || r.errorCode(t) != "Request_ResourceNotFound" {
		t.Errorf("get after delete: %d %s", r.status, r.body)
	}

	// It is now a deleted item of its type, and only of its type.
	r = ts.req("GET", deletedPath+"/microsoft.graph.externalUserProfile", tok, nil)
	list := r.json(t)
	if list["@odata.context"] != ts.base+"/beta/$metadata#directory/deletedItems/microsoft.graph.externalUserProfile" {
		t.Errorf("deleted list context = %v", list["@odata.context"])
	}
	items := list["value"].([]any)
	if len(items) != 1 {
		t.Fatalf("deleted items = %s", r.body)
	}
	item := items[0].(map[string]any)
	assertFields(t, item, map[string]any{"id": id, "@odata.type": "#microsoft.graph.externalUserProfile", "jobTitle": "Employee"})
	if s, _ := item["deletedDateTime"].(string); !timeRE.MatchString(s) {
		t.Errorf("deletedDateTime = %v", item["deletedDateTime"])
	}
	r = ts.req("GET", deletedPath+"/"+id, tok, nil)
	if r.status != 200 {
		t.Fatalf("get deleted item: %d %s", r.status, r.body)
	}
	assertFields(t, r.json(t), map[string]any{"@odata.type": "#microsoft.graph.externalUserProfile",
		"@odata.context": ts.base + "/beta/$metadata#directoryObjects/$entity"})

	// Restore brings it back, deletedDateTime cleared.
	r = ts.req("POST", deletedPath+"/"+id+"/restore", tok, nil)
	if r.status != 200 {
		t.Fatalf("restore: %d %s", r.status, r.body)
	}
	assertFields(t, r.json(t), map[string]any{"id": id, "deletedDateTime": nil, "@odata.type": "#microsoft.graph.externalUserProfile"})
	if r := ts.req("GET", externalPath+"/"+id, tok, nil); r.status != 200 {
		t.Errorf("get after restore: %d", r.status)
	}
	if r := ts.req("GET", deletedPath+"/"+id, tok, nil); r.status != 404 {
		t.Errorf("live object as deleted item: %d", r.status)
	}

	// Delete again, then permanently.
	ts.req("DELETE", externalPath+"/"+id, tok, nil)
	if r := ts.req("DELETE", deletedPath+"/"+id, tok, nil); r.status != 204 {
		t.Fatalf("permanent delete: %d %s", r.status, r.body)
	}
	for _, p := range []string{deletedPath + "/" + id, externalPath + "/" + id, pendingPath + "/" + id} {
		if r := ts.req("GET", p, tok, nil); r.status != 404 {
			t.Errorf("GET %s after permanent delete: %d", p, r.status)
		}
	}
	if r := ts.req("POST", deletedPath+"/"+id+"/restore", tok, nil); r.status != 404 {
		t.Errorf("restore after permanent delete: %d", r.status)
	}
}

func assertFields(t *testing.T, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s = %s, want %s", k, gj, wj)
		}
	}
}

func TestCreateWithEveryProperty(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	body := map[string]any{
		"displayName": "Ada", "phoneNumber": "+4712345678", "companyName": "Contoso", "supervisorId": "sup-1",
		"department": "R&D", "jobTitle": "Engineer", "isDiscoverable": false, "isEnabled": false,
		"address": map[string]any{"city": "Oslo", "countryOrRegion": "NO", "officeLocation": "B1", "postalCode": "0150", "state": "Oslo", "street": "Karl Johans gate 1"},
	}
	got := ts.create(tok, body)
	assertFields(t, got, body)
	assertFields(t, ts.req("GET", pendingPath+"/"+got["id"].(string), tok, nil).json(t), body)
}

func TestRejectedRequestsChangeNothing(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	p := ts.create(tok, map[string]any{"displayName": "Existing", "phoneNumber": "+15550000001"})
	id := p["id"].(string)
	before := ts.snapshot(tok)

	readOnly := ts.token("--roles", "PendingExternalUserProfile.Read.All,ExternalUserProfile.Read.All")
	pendingOnly := ts.token("--roles", "PendingExternalUserProfile.ReadWrite.All")
	delegatedNoRole := ts.token("--scp", "PendingExternalUserProfile.ReadWrite.All")
	delegatedReader := ts.token("--scp", "PendingExternalUserProfile.ReadWrite.All", "--wids", "f2ef992c-3afb-46b9-b7cf-a126ee74c451")
	otherTenant := ts.token("--tenant", "99999999-9999-9999-9999-999999999999")
	expired, forged, algNone := hostileTokens(t, ts.dir)
	big := `{"displayName":"` + strings.Repeat("x", 1<<20) + `","phoneNumber":"+15550000002"}`

	cases := []struct {
		name    string
		method  string
		path    string
		token   string
		body    any
		headers []string
		status  int
		code    string
		message string
	}{
		{"malformed JSON is 400", "POST", pendingPath, tok, `{"displayName": "x",`, nil, 400, "BadRequest", ""},
		{"a JSON array body is 400", "POST", pendingPath, tok, `[]`, nil, 400, "BadRequest", ""},
		{"trailing data is 400", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"+15550000002"} {}`, nil, 400, "BadRequest", ""},
		{"a number for displayName is 400", "POST", pendingPath, tok, `{"displayName":42,"phoneNumber":"+15550000002"}`, nil, 400, "BadRequest", "Edm.String"},
		{"a string for isEnabled is 400", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"+15550000002","isEnabled":"yes"}`, nil, 400, "BadRequest", "Edm.Boolean"},
		{"duplicate keys are 400", "POST", pendingPath, tok, `{"displayName":"a","displayName":"b","phoneNumber":"+15550000002"}`, nil, 400, "BadRequest", "displayName"},
		{"an unknown property is 400", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"+15550000002","nickname":"y"}`, nil, 400, "Request_BadRequest", "Invalid property 'nickname'."},
		{"an unknown address field is 400", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"+15550000002","address":{"zip":"1"}}`, nil, 400, "Request_BadRequest", "Invalid property"},
		{"id in a create body is 400", "POST", pendingPath, tok, `{"id":"x","displayName":"x","phoneNumber":"+15550000002"}`, nil, 400, "Request_BadRequest", "Property 'id' is read-only"},
		{"createdBy in a create body is 400", "POST", pendingPath, tok, `{"createdBy":"x","displayName":"x","phoneNumber":"+15550000002"}`, nil, 400, "Request_BadRequest", "'createdBy' is read-only"},
		{"epoch in a create body is 400", "POST", pendingPath, tok, `{"epoch":5,"displayName":"x","phoneNumber":"+15550000002"}`, nil, 400, "Request_BadRequest", "'epoch' is read-only"},
		{"a missing displayName is 400", "POST", pendingPath, tok, `{"phoneNumber":"+15550000002"}`, nil, 400, "Request_BadRequest", "displayName"},
		{"a missing phoneNumber is 400", "POST", pendingPath, tok, `{"displayName":"x"}`, nil, 400, "Request_BadRequest", "phoneNumber"},
		{"a null displayName is 400", "POST", pendingPath, tok, `{"displayName":null,"phoneNumber":"+15550000002"}`, nil, 400, "Request_BadRequest", "displayName"},
		{"an over-long displayName is 400", "POST", pendingPath, tok, map[string]any{"displayName": strings.Repeat("é", 257), "phoneNumber": "+15550000002"}, nil, 400, "Request_BadRequest", "256"},
		{"an over-long companyName is 400", "POST", pendingPath, tok, map[string]any{"displayName": "x", "companyName": strings.Repeat("c", 65), "phoneNumber": "+15550000002"}, nil, 400, "Request_BadRequest", "companyName"},
		{"an over-long street is 400", "POST", pendingPath, tok, map[string]any{"displayName": "x", "phoneNumber": "+15550000002", "address": map[string]any{"street": strings.Repeat("s", 1025)}}, nil, 400, "Request_BadRequest", "address/street"},
		{"a phone without + is 400", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"4257034568"}`, nil, 400, "Request_BadRequest", "E.164"},
		{"a phone with letters is 400", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"+1555CALLNOW"}`, nil, 400, "Request_BadRequest", "E.164"},
		{"a phone of 16 digits is 400", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"+1234567890123456"}`, nil, 400, "Request_BadRequest", "E.164"},
		{"a duplicate phone is 400", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"+15550000001"}`, nil, 400, "Request_BadRequest", "Another object with the same value for property phoneNumber already exists."},
		{"a body over 1 MiB is 413", "POST", pendingPath, tok, big, nil, 413, "RequestEntityTooLarge", ""},
		{"a text/plain body is 415", "POST", pendingPath, tok, `{"displayName":"x","phoneNumber":"+15550000002"}`, []string{"Content-Type", "text/plain"}, 415, "UnsupportedMediaType", ""},
		{"a missing token is 401", "POST", pendingPath, "", `{"displayName":"x","phoneNumber":"+15550000002"}`, nil, 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"an expired token is 401", "POST", pendingPath, expired, `{"displayName":"x","phoneNumber":"+15550000002"}`, nil, 401, "InvalidAuthenticationToken", ""},
		{"a forged token is 401", "POST", pendingPath, forged, `{"displayName":"x","phoneNumber":"+15550000002"}`, nil, 401, "InvalidAuthenticationToken", ""},
		{"an alg none token is 401", "DELETE", pendingPath + "/" + id, algNone, nil, nil, 401, "InvalidAuthenticationToken", ""},
		{"a garbage token is 401", "GET", pendingPath, "not-a-jwt", nil, nil, 401, "InvalidAuthenticationToken", ""},
		{"a Basic authorization is 401", "GET", pendingPath, "", nil, []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, "InvalidAuthenticationToken", ""},
		{"a read-only app creating is 403", "POST", pendingPath, readOnly, `{"displayName":"x","phoneNumber":"+15550000002"}`, nil, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
		{"a read-only app deleting is 403", "DELETE", pendingPath + "/" + id, readOnly, nil, nil, 403, "Authorization_RequestDenied", ""},
		{"a pending-only app listing external profiles is 403", "GET", externalPath, pendingOnly, nil, nil, 403, "Authorization_RequestDenied", ""},
		{"a pending-only app redeeming is 403", "POST", pendingPath + "/" + id + "/redeem", pendingOnly, nil, nil, 403, "Authorization_RequestDenied", ""},
		{"a delegated token without an admin role is 403", "POST", pendingPath, delegatedNoRole, `{"displayName":"x","phoneNumber":"+15550000002"}`, nil, 403, "Authorization_RequestDenied", ""},
		{"a delegated Global Reader writing is 403", "PATCH", pendingPath + "/" + id, delegatedReader, `{"jobTitle":"x"}`, nil, 403, "Authorization_RequestDenied", ""},
		{"another tenant's id is 404 on GET", "GET", pendingPath + "/" + id, otherTenant, nil, nil, 404, "Request_ResourceNotFound", "Resource '" + id + "' does not exist"},
		{"another tenant's id is 404 on PATCH", "PATCH", pendingPath + "/" + id, otherTenant, `{"jobTitle":"x"}`, nil, 404, "Request_ResourceNotFound", ""},
		{"another tenant's id is 404 on DELETE", "DELETE", pendingPath + "/" + id, otherTenant, nil, nil, 404, "Request_ResourceNotFound", ""},
		{"another tenant's id is 404 on redeem", "POST", pendingPath + "/" + id + "/redeem", otherTenant, nil, nil, 404, "Request_ResourceNotFound", ""},
		{"a pending id on the external collection is 404", "PATCH", externalPath + "/" + id, tok, `{"jobTitle":"x"}`, nil, 404, "Request_ResourceNotFound", ""},
		{"a live id as a deleted item is 404", "DELETE", deletedPath + "/" + id, tok, nil, nil, 404, "Request_ResourceNotFound", ""},
		{"a live id cannot be restored", "POST", deletedPath + "/" + id + "/restore", tok, nil, nil, 404, "Request_ResourceNotFound", ""},
		{"phoneNumber in a PATCH is 400", "PATCH", pendingPath + "/" + id, tok, `{"phoneNumber":"+15550000009"}`, nil, 400, "Request_BadRequest", "Property 'phoneNumber' is read-only"},
		{"createdDateTime in a PATCH is 400", "PATCH", pendingPath + "/" + id, tok, `{"createdDateTime":"2020-01-01T00:00:00Z"}`, nil, 400, "Request_BadRequest", "'createdDateTime' is read-only"},
		{"another type's @odata.type is 400", "PATCH", pendingPath + "/" + id, tok, `{"@odata.type":"#microsoft.graph.user","jobTitle":"x"}`, nil, 400, "BadRequest", ""},
		{"a stale If-Match is 412", "PATCH", pendingPath + "/" + id, tok, `{"jobTitle":"x"}`, []string{"If-Match", `W/"7"`}, 412, "Request_PreconditionFailed", ""},
		{"a stale If-Match on DELETE is 412", "DELETE", pendingPath + "/" + id, tok, nil, []string{"If-Match", `W/"7"`}, 412, "Request_PreconditionFailed", ""},
		{"POST on external profiles is 405", "POST", externalPath, tok, `{"displayName":"x","phoneNumber":"+15550000002"}`, nil, 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."},
		{"PUT on a profile is 405", "PUT", pendingPath + "/" + id, tok, `{"displayName":"x"}`, nil, 405, "Request_BadRequest", ""},
		{"an unknown segment is 400", "GET", "/beta/directory/pendingExternalUserProfilez", tok, nil, nil, 400, "BadRequest", "Resource not found for the segment 'pendingExternalUserProfilez'."},
		{"an unknown nested segment is 400", "GET", pendingPath + "/" + id + "/manager", tok, nil, nil, 400, "BadRequest", "Resource not found for the segment 'manager'."},
		{"another version is 400", "GET", "/v2.0/directory", tok, nil, nil, 400, "BadRequest", "Invalid version"},
		{"deletedItems without a cast is 400", "GET", deletedPath, tok, nil, nil, 400, "Request_UnsupportedQuery", "Only specific instances can be queried"},
		{"$top=0 is 400", "GET", pendingPath + "?$top=0", tok, nil, nil, 400, "BadRequest", "Invalid page size"},
		{"$top=1000 is 400", "GET", pendingPath + "?$top=1000", tok, nil, nil, 400, "BadRequest", "Invalid page size"},
		{"$skip is 400", "GET", pendingPath + "?$skip=1", tok, nil, nil, 400, "Request_BadRequest", "'$skip' is not supported"},
		{"$expand is 400", "GET", pendingPath + "?$expand=manager", tok, nil, nil, 400, "Request_BadRequest", ""},
		{"a repeated option is 400", "GET", pendingPath + "?$top=1&top=2", tok, nil, nil, 400, "BadRequest", "more than once"},
		{"an unknown $select property is 400", "GET", pendingPath + "?$select=nickname", tok, nil, nil, 400, "BadRequest", "nickname"},
		{"a forged $skiptoken is 400", "GET", pendingPath + "?$skiptoken=abc", tok, nil, nil, 400, "BadRequest", "skiptoken"},
		{"$count without ConsistencyLevel is 400", "GET", pendingPath + "/$count", tok, nil, nil, 400, "Request_BadRequest", "ConsistencyLevel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdrs := tc.headers
			if tc.token == "" && len(hdrs) == 0 {
				hdrs = []string{"Authorization", ""}
			}
			r := ts.req(tc.method, tc.path, tc.token, tc.body, hdrs...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if code := r.errorCode(t); code != tc.code {
				t.Errorf("error code %q, want %q: %s", code, tc.code, r.body)
			}
			if !strings.Contains(r.errorMessage(t), tc.message) {
				t.Errorf("message %q does not contain %q", r.errorMessage(t), tc.message)
			}
			assertGraphError(t, r)
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if after := ts.snapshot(tok); after != before {
				t.Fatalf("the rejected request changed the directory:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// assertGraphError checks the envelope every error shares, and that nothing
// of the implementation leaks into it.
func assertGraphError(t *testing.T, r response) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != graphJSON {
		t.Errorf("error Content-Type = %q", ct)
	}
	body := r.json(t)
	e, ok := body["error"].(map[string]any)
	if !ok || len(body) != 1 {
		t.Fatalf("not a Graph error envelope: %s", r.body)
	}
	inner, _ := e["innerError"].(map[string]any)
	if inner == nil || inner["request-id"] != r.header.Get("request-id") || inner["client-request-id"] == nil {
		t.Errorf("innerError = %v (request-id header %q)", inner, r.header.Get("request-id"))
	}
	if d, _ := inner["date"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`).MatchString(d) {
		t.Errorf("innerError.date = %q", d)
	}
	for _, leak := range []string{"panic", ".go:", "sql", "goroutine", "runtime."} {
		if strings.Contains(strings.ToLower(string(r.body)), leak) {
			t.Errorf("error body leaks %q: %s", leak, r.body)
		}
	}
}

// hostileTokens mints an expired token, a token from another issuer's key
// and an unsigned alg:none token, all for the server's default tenant.
func hostileTokens(t *testing.T, dir string) (expired, forged, algNone string) {
	t.Helper()
	roles := []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.ReadWrite.All"}
	claims := auth.Claims{Tenant: defaultTenant, ObjectID: defaultOID, AppID: defaultAppID, Roles: roles}
	past, err := auth.OpenIssuer(dir, auth.IssuerOptions{Now: func() time.Time { return time.Now().Add(-3 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if expired, err = past.Mint(claims); err != nil {
		t.Fatal(err)
	}
	other, err := auth.OpenIssuer(t.TempDir(), auth.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if forged, err = other.Mint(claims); err != nil {
		t.Fatal(err)
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(map[string]any{
		"iss": strings.ReplaceAll(auth.LegacyIssuerTemplate, "{tenantid}", defaultTenant), "aud": auth.DefaultAudiences[0],
		"tid": defaultTenant, "oid": defaultOID, "roles": roles,
		"exp": time.Now().Add(time.Hour).Unix(), "nbf": time.Now().Add(-time.Minute).Unix(),
	})
	algNone = header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	return expired, forged, algNone
}

func TestIfMatch(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	id := ts.create(tok, map[string]any{"displayName": "x", "phoneNumber": "+15551230000"})["id"].(string)
	if r := ts.req("PATCH", pendingPath+"/"+id, tok, `{"jobTitle":"a"}`, "If-Match", `W/"1"`); r.status != 204 {
		t.Fatalf("matching If-Match: %d %s", r.status, r.body)
	}
	if r := ts.req("PATCH", pendingPath+"/"+id, tok, `{"jobTitle":"b"}`, "If-Match", `W/"1"`); r.status != 412 {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	if r := ts.req("DELETE", pendingPath+"/"+id, tok, nil, "If-Match", `*`); r.status != 204 {
		t.Fatalf("If-Match *: %d %s", r.status, r.body)
	}
}

func TestPhoneUniquenessFollowsDeletion(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	other := ts.token("--tenant", "99999999-9999-9999-9999-999999999999")
	first := ts.create(tok, map[string]any{"displayName": "a", "phoneNumber": "+15557770000"})["id"].(string)
	// Another tenant may hold the same number.
	ts.create(other, map[string]any{"displayName": "a", "phoneNumber": "+15557770000"})
	// A deleted holder frees the number...
	ts.req("DELETE", pendingPath+"/"+first, tok, nil)
	second := ts.create(tok, map[string]any{"displayName": "b", "phoneNumber": "+15557770000"})["id"].(string)
	// ...so restoring it would clash: 400, and it stays deleted.
	r := ts.req("POST", deletedPath+"/"+first+"/restore", tok, nil)
	if r.status != 400 || !strings.Contains(r.errorMessage(t), "phoneNumber") {
		t.Fatalf("restore into a clash: %d %s", r.status, r.body)
	}
	if r := ts.req("GET", deletedPath+"/"+first, tok, nil); r.status != 200 {
		t.Errorf("clashing restore left the item: %d", r.status)
	}
	// A redeemed holder still holds it.
	ts.req("POST", pendingPath+"/"+second+"/redeem", tok, nil)
	if r := ts.req("POST", pendingPath, tok, map[string]any{"displayName": "c", "phoneNumber": "+15557770000"}); r.status != 400 {
		t.Errorf("number held by an external profile: %d", r.status)
	}
}

func TestPagingAndSelect(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	var ids []string
	for i := range 25 {
		ids = append(ids, ts.create(tok, map[string]any{"displayName": fmt.Sprintf("user %02d", i), "phoneNumber": fmt.Sprintf("+1555100%04d", i)})["id"].(string))
	}
	// Walk with $top=10 (given without the $, as beta allows) and $select,
	// inserting a row between pages.
	var seen []string
	next := pendingPath + "?top=10&$select=displayName,phoneNumber"
	pages := 0
	for next != "" {
		r := ts.req("GET", next, tok, nil)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", next, r.status, r.body)
		}
		m := r.json(t)
		if m["@odata.context"] != ts.base+"/beta/$metadata#directory/pendingExternalUserProfiles(displayName,phoneNumber)" {
			t.Errorf("context = %v", m["@odata.context"])
		}
		for _, v := range m["value"].([]any) {
			item := v.(map[string]any)
			for k := range item {
				if k != "id" && k != "displayName" && k != "phoneNumber" && k != "@odata.etag" {
					t.Errorf("$select rendered %s", k)
				}
			}
			seen = append(seen, item["id"].(string))
		}
		next, _ = m["@odata.nextLink"].(string)
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || u.Query().Get("$skiptoken") == "" || u.Query().Get("top") != "10" || u.Query().Get("$select") != "displayName,phoneNumber" {
				t.Fatalf("nextLink does not keep the options: %s", next)
			}
			if !strings.HasPrefix(next, ts.base+pendingPath+"?") {
				t.Errorf("nextLink %s is not absolute on the origin", next)
			}
		}
		if pages == 0 {
			ids = append(ids, ts.create(tok, map[string]any{"displayName": "late", "phoneNumber": "+15559990000"})["id"].(string))
		}
		pages++
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("paging returned %d ids %v, want %d %v", len(seen), seen, len(ids), ids)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
	// Default page size is 100 and there is no nextLink on a short page.
	m := ts.req("GET", pendingPath, tok, nil).json(t)
	if _, ok := m["@odata.nextLink"]; ok || len(m["value"].([]any)) != 26 {
		t.Errorf("default page: %d items, nextLink %v", len(m["value"].([]any)), m["@odata.nextLink"])
	}
	// $count on the first page under ConsistencyLevel: eventual, and /$count.
	r := ts.req("GET", pendingPath+"?$count=true&$top=5", tok, nil, "ConsistencyLevel", "eventual")
	if r.json(t)["@odata.count"] != 26.0 {
		t.Errorf("@odata.count = %v", r.json(t)["@odata.count"])
	}
	r = ts.req("GET", pendingPath+"/$count", tok, nil, "ConsistencyLevel", "eventual")
	if r.status != 200 || string(r.body) != "26" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("/$count = %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	// $select on a single entity.
	r = ts.req("GET", pendingPath+"/"+ids[0]+"?$select=displayName", tok, nil)
	if m := r.json(t); m["@odata.context"] != ts.base+"/beta/$metadata#directory/pendingExternalUserProfiles(displayName)/$entity" || m["phoneNumber"] != nil {
		t.Errorf("entity $select: %s", r.body)
	}
}

func TestHeaders(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	for _, tc := range []struct {
		name, path, token string
	}{
		{"on success", pendingPath, tok},
		{"on an error", pendingPath, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.req("GET", tc.path, tc.token, nil, "client-request-id", "my-client-id")
			if !guidRE.MatchString(r.header.Get("request-id")) {
				t.Errorf("request-id = %q", r.header.Get("request-id"))
			}
			if r.header.Get("client-request-id") != "my-client-id" {
				t.Errorf("client-request-id = %q", r.header.Get("client-request-id"))
			}
			if r.header.Get("OData-Version") != "4.0" {
				t.Errorf("OData-Version = %q", r.header.Get("OData-Version"))
			}
		})
	}
	// Without a client-request-id, the request-id is echoed in its place.
	r := ts.req("GET", pendingPath, tok, nil)
	if r.header.Get("client-request-id") != r.header.Get("request-id") {
		t.Errorf("client-request-id %q != request-id %q", r.header.Get("client-request-id"), r.header.Get("request-id"))
	}
	// The request id is on the server's log line for the request (which
	// the access log writes out within a tenth of a second).
	if !ts.eventuallyLogged(r.header.Get("request-id")) {
		t.Errorf("request id %s not logged", r.header.Get("request-id"))
	}
}

func TestHealth(t *testing.T) {
	ts := startServer(t, "--database", "memory")
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := ts.req("GET", p, "", nil); r.status != 200 {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

func TestDelegatedTokens(t *testing.T) {
	ts := startServer(t)
	admin := ts.token("--scp", "PendingExternalUserProfile.ReadWrite.All", "--wids", "dd13091a-6207-4fc0-82ba-3641e056ab95")
	reader := ts.token("--scp", "PendingExternalUserProfile.Read.All", "--wids", "f2ef992c-3afb-46b9-b7cf-a126ee74c451")
	r := ts.req("POST", pendingPath, admin, map[string]any{"displayName": "x", "phoneNumber": "+15552220000"})
	if r.status != 201 {
		t.Fatalf("delegated admin create: %d %s", r.status, r.body)
	}
	if r := ts.req("GET", pendingPath, reader, nil); r.status != 200 {
		t.Errorf("delegated global reader list: %d %s", r.status, r.body)
	}
	if r := ts.req("GET", externalPath, reader, nil); r.status != 403 {
		t.Errorf("delegated reader without the external scope: %d", r.status)
	}
}

func TestRetentionPurge(t *testing.T) {
	ts := startServer(t, "--retention", "1s")
	tok := ts.token()
	id := ts.create(tok, map[string]any{"displayName": "x", "phoneNumber": "+15553330000"})["id"].(string)
	ts.req("DELETE", pendingPath+"/"+id, tok, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := ts.req("GET", deletedPath+"/"+id, tok, nil)
		if r.status == 404 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted item not purged after its retention: %d", r.status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServerIn(t, dir)
	tok := ts.token()
	id := ts.create(tok, map[string]any{"displayName": "kept", "phoneNumber": "+15554440000"})["id"].(string)
	ts.stop()
	ts2 := startServerIn(t, dir)
	// The token minted before the restart is still valid: the keys are kept.
	if r := ts2.req("GET", pendingPath+"/"+id, tok, nil); r.status != 200 {
		t.Fatalf("after restart: %d %s", r.status, r.body)
	}
}

func TestMemoryStoreKeepsNothing(t *testing.T) {
	dir := t.TempDir()
	ts := startServerIn(t, dir, "--database", "memory")
	tok := ts.token()
	id := ts.create(tok, map[string]any{"displayName": "gone", "phoneNumber": "+15554440001"})["id"].(string)
	ts.stop()
	ts2 := startServerIn(t, dir, "--database", "memory")
	if r := ts2.req("GET", pendingPath+"/"+id, tok, nil); r.status != 404 {
		t.Fatalf("memory store kept data across restart: %d", r.status)
	}
}
