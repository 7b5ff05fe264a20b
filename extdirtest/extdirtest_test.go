package extdirtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/extdirtest"
	"github.com/extdir/extdir/store/postgres/pgtest"
)

// call sends one Graph request with the token and returns the status and
// the decoded body.
func call(t *testing.T, srv *extdirtest.Server, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

func names(t *testing.T, srv *extdirtest.Server, token string) []string {
	t.Helper()
	status, body := call(t, srv, token, "GET", "/beta/directory/pendingExternalUserProfiles?$orderby=displayName", "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, body)
	}
	var out []string
	for _, v := range body["value"].([]any) {
		out = append(out, v.(map[string]any)["displayName"].(string))
	}
	return out
}

func TestParallelTenantsStayApart(t *testing.T) {
	srv := extdirtest.Start(t)
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			tn := srv.Tenant(t)
			tok := tn.AppToken(t)
			for j := range 3 {
				status, body := call(t, srv, tok, "POST", "/beta/directory/pendingExternalUserProfiles",
					fmt.Sprintf(`{"displayName":"t%d-%d","phoneNumber":"+1425555%04d"}`, i, j, j))
				if status != 201 {
					t.Fatalf("create: %d %v", status, body)
				}
			}
			got := names(t, srv, tok)
			want := []string{fmt.Sprintf("t%d-0", i), fmt.Sprintf("t%d-1", i), fmt.Sprintf("t%d-2", i)}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("tenant sees %v, want only its own %v", got, want)
			}
			if reqs := tn.Requests(t); len(reqs) != 4 {
				t.Fatalf("tenant's journal has %d entries, want its own 4", len(reqs))
			}
		})
	}
}

func TestResetBetweenSubtests(t *testing.T) {
	srv := extdirtest.Start(t)
	tok := srv.AppToken(t)
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			srv.Reset(t)
			if got := names(t, srv, tok); len(got) != 0 {
				t.Fatalf("after Reset the directory holds %v", got)
			}
			status, _ := call(t, srv, tok, "POST", "/beta/directory/pendingExternalUserProfiles", `{"displayName":"`+name+`","phoneNumber":"+14255550100"}`)
			if status != 201 {
				t.Fatalf("create after Reset: %d (the phone number of the other subtest must be free again)", status)
			}
			if got := names(t, srv, tok); fmt.Sprint(got) != "["+name+"]" {
				t.Fatalf("directory holds %v", got)
			}
			if n := len(srv.Requests(t)); n != 3 {
				t.Fatalf("journal holds %d entries since Reset, want 3", n)
			}
		})
	}
}

func TestSeedIsVisibleOnTheFirstRequest(t *testing.T) {
	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	ids := tn.Seed(t, `[
	  {"displayName": "Ada", "phoneNumber": "+14255550100", "companyName": "Contoso"},
	  {"@odata.type": "#microsoft.graph.externalUserProfile", "id": "5E7A1C3B-0000-4000-8000-000000000001", "displayName": "Grace", "phoneNumber": "+14255550101"}
	]`)
	if len(ids) != 2 || ids[1] != "5e7a1c3b-0000-4000-8000-000000000001" {
		t.Fatalf("seed ids %v", ids)
	}
	tok := tn.AppToken(t)
	if got := names(t, srv, tok); fmt.Sprint(got) != "[Ada]" {
		t.Fatalf("pending profiles %v, want [Ada]", got)
	}
	status, body := call(t, srv, tok, "GET", "/beta/directory/externalUserProfiles/"+ids[1], "")
	if status != 200 || body["displayName"] != "Grace" || body["@odata.etag"] != `W/"2"` {
		t.Fatalf("seeded external profile: %d %v (want it invited then redeemed: ETag W/\"2\")", status, body)
	}
	ids = tn.Seed(t, "kind,displayName,phoneNumber,isDiscoverable\nexternal,Linus,+14255550102,false\n")
	status, body = call(t, srv, tok, "GET", "/beta/directory/externalUserProfiles/"+ids[0], "")
	if status != 200 || body["isDiscoverable"] != false {
		t.Fatalf("CSV-seeded profile: %d %v", status, body)
	}
}

func TestJournalShowsBatchInnerRequests(t *testing.T) {
	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	status, body := call(t, srv, tn.AppToken(t), "POST", "/beta/$batch", `{"requests":[
	  {"id":"a","method":"POST","url":"/directory/pendingExternalUserProfiles","headers":{"Content-Type":"application/json"},"body":{"displayName":"Ada","phoneNumber":"+14255550100"}},
	  {"id":"b","method":"POST","url":"/directory/pendingExternalUserProfiles","headers":{"Content-Type":"application/json"},"body":{"displayName":"Bob","phoneNumber":"+14255550101"}}
	]}`)
	if status != 200 {
		t.Fatalf("batch: %d %v", status, body)
	}
	reqs := tn.Requests(t)
	if len(reqs) != 3 {
		t.Fatalf("journal has %d entries, want the batch and its 2 requests: %+v", len(reqs), reqs)
	}
	batch := reqs[2] // a batch finishes after its steps
	if batch.Path != "/beta/$batch" || batch.Status != 200 || batch.Caller == nil || batch.Caller.Type != "app" {
		t.Fatalf("batch entry %+v", batch)
	}
	for i, step := range reqs[:2] {
		if step.BatchRequestID != batch.RequestID || step.BatchStepID != []string{"a", "b"}[i] || step.Method != "POST" || step.Status != 201 {
			t.Fatalf("step entry %d: %+v (batch %s)", i, step, batch.RequestID)
		}
		if !strings.Contains(step.RequestBody, `"phoneNumber"`) || !strings.Contains(step.ResponseBody, `"id"`) {
			t.Fatalf("step entry %d keeps no bodies: %+v", i, step)
		}
	}
}

func TestClockPurgesAndExpires(t *testing.T) {
	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	tok := tn.AppToken(t) // lives an hour
	ids := tn.Seed(t, `[{"displayName": "Ada", "phoneNumber": "+14255550100"}]`)
	if status, _ := call(t, srv, tok, "DELETE", "/beta/directory/pendingExternalUserProfiles/"+ids[0], ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _ := call(t, srv, tok, "GET", "/beta/directory/deletedItems/"+ids[0], ""); status != 200 {
		t.Fatalf("deleted item before the clock moves: %d", status)
	}
	before := time.Now()
	now := srv.Clock().Advance(t, 31*24*time.Hour)
	if now.Sub(before) < 31*24*time.Hour {
		t.Fatalf("clock reads %v after advancing 31 days from %v", now, before)
	}
	status, body := call(t, srv, tok, "GET", "/beta/directory/deletedItems/"+ids[0], "")
	if status != 401 {
		t.Fatalf("a token issued 31 days ago: %d %v, want 401", status, body)
	}
	fresh := tn.AppToken(t)
	if status, body = call(t, srv, fresh, "GET", "/beta/directory/deletedItems/"+ids[0], ""); status != 404 {
		t.Fatalf("deleted item 31 days later: %d %v, want 404 (purged)", status, body)
	}
	status, body = call(t, srv, fresh, "POST", "/beta/directory/pendingExternalUserProfiles", `{"displayName":"Bob","phoneNumber":"+14255550101"}`)
	if status != 201 || !strings.HasPrefix(body["createdDateTime"].(string), now.UTC().Format("2006-01-02")) {
		t.Fatalf("a profile created after the move: %d %v, want createdDateTime on %s", status, body, now.Format("2006-01-02"))
	}
	srv.Clock().Reset(t)
	if d := time.Until(srv.Clock().Now()); d > time.Minute {
		t.Fatalf("after Reset the clock is %v ahead", d)
	}
}

func TestUserToken(t *testing.T) {
	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	tok := tn.UserToken(t, "ada@contoso.test")
	status, body := call(t, srv, tok, "POST", "/beta/directory/pendingExternalUserProfiles", `{"displayName":"Bob","phoneNumber":"+14255550101"}`)
	if status != 201 {
		t.Fatalf("create as a user: %d %v", status, body)
	}
	reqs := tn.Requests(t)
	if len(reqs) != 1 || reqs[0].Caller == nil || reqs[0].Caller.Type != "user" || reqs[0].Caller.Username != "ada@contoso.test" || body["createdBy"] != reqs[0].Caller.ObjectID {
		t.Fatalf("journal caller %+v, createdBy %v", reqs, body["createdBy"])
	}
	read := tn.UserToken(t, "ada@contoso.test", "PendingExternalUserProfile.Read.All")
	if status, _ := call(t, srv, read, "POST", "/beta/directory/pendingExternalUserProfiles", `{"displayName":"Eve","phoneNumber":"+14255550102"}`); status != 403 {
		t.Fatalf("create with a read scope: %d, want 403", status)
	}
}

func TestAddUserSignsInWithItsPassword(t *testing.T) {
	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	tn.AddUser(t, "grace@contoso.test", "Correct-Horse-42", auth.RoleExtendedDirectoryUserAdministrator)
	tn.AddUser(t, "nobody@contoso.test", "Correct-Horse-43")
	id, secret := tn.Credentials(t)
	signIn := func(upn, password string) (int, string) {
		resp, err := srv.Client().PostForm(tn.TokenURL(), url.Values{
			"grant_type": {"password"}, "client_id": {id}, "client_secret": {secret}, "username": {upn}, "password": {password},
			"scope": {"https://graph.microsoft.com/PendingExternalUserProfile.ReadWrite.All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.AccessToken
	}
	if status, _ := signIn("grace@contoso.test", "wrong"); status != 400 {
		t.Errorf("a wrong password: %d, want 400", status)
	}
	status, tok := signIn("grace@contoso.test", "Correct-Horse-42")
	if status != 200 {
		t.Fatalf("sign-in: %d", status)
	}
	if status, body := call(t, srv, tok, "POST", "/beta/directory/pendingExternalUserProfiles", `{"displayName":"Bob","phoneNumber":"+14255550101"}`); status != 201 {
		t.Fatalf("create as the user: %d %v", status, body)
	}
	// UserToken mints for the user AddUser added, with its roles.
	if status, _ := call(t, srv, tn.UserToken(t, "nobody@contoso.test"), "GET", "/beta/directory/pendingExternalUserProfiles", ""); status != 403 {
		t.Errorf("a user without a role: %d, want 403", status)
	}
	// The web console is there to sign in to.
	if resp, err := srv.Client().Get(srv.URL + "/console/"); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /console/: %v %v", resp, err)
	}
}

func TestFaultsOnInnerBatchRequests(t *testing.T) {
	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	srv.Faults(t, 1, extdirtest.FaultRule{Method: "POST", Path: "/beta/directory/pendingExternalUserProfiles", Scope: "inner", Status: 429, RetryAfter: 2, Times: 1})
	status, body := call(t, srv, tn.AppToken(t), "POST", "/beta/$batch", `{"requests":[
	  {"id":"1","method":"POST","url":"/directory/pendingExternalUserProfiles","headers":{"Content-Type":"application/json"},"body":{"displayName":"Ada","phoneNumber":"+14255550100"}},
	  {"id":"2","method":"POST","url":"/directory/pendingExternalUserProfiles","headers":{"Content-Type":"application/json"},"body":{"displayName":"Bob","phoneNumber":"+14255550101"}}
	]}`)
	if status != 200 {
		t.Fatalf("batch: %d %v", status, body)
	}
	resps := body["responses"].([]any)
	first, second := resps[0].(map[string]any), resps[1].(map[string]any)
	if first["status"] != 429.0 || first["headers"].(map[string]any)["Retry-After"] != "2" || second["status"] != 201.0 {
		t.Fatalf("want the first inner request throttled with its own Retry-After and the second created: %v", resps)
	}
	// A top-level create is not an inner request: the rule leaves it alone.
	srv.Faults(t, 1, extdirtest.FaultRule{Path: "/beta/directory/**", Scope: "inner", Status: 503})
	if status, _ := call(t, srv, tn.AppToken(t), "POST", "/beta/directory/pendingExternalUserProfiles", `{"displayName":"Eve","phoneNumber":"+14255550102"}`); status != 201 {
		t.Fatalf("top-level create under an inner-only rule: %d", status)
	}
	srv.Faults(t, 0)
}

func TestPostgres(t *testing.T) {
	// A database of its own: the kit migrates it, whatever the shared one
	// holds.
	srv := extdirtest.Start(t, extdirtest.WithPostgres(pgtest.NewDatabase(t)))
	tn := srv.Tenant(t)
	tn.Seed(t, "displayName,phoneNumber\nAda,+14255550100\n")
	if got := names(t, srv, tn.AppToken(t)); fmt.Sprint(got) != "[Ada]" {
		t.Fatalf("PostgreSQL-backed server lists %v", got)
	}
	tn.Reset(t)
	if got := names(t, srv, tn.AppToken(t)); len(got) != 0 {
		t.Fatalf("after the tenant's Reset: %v", got)
	}
}
