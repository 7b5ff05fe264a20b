package extdirtest_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/extdir/extdir/extdirtest"
)

// The audit log over HTTP: who did what, filtered and paged as Graph's.
func TestAuditLogAnswersWhoDidWhat(t *testing.T) {
	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	app := tn.AppToken(t)
	user := tn.UserToken(t, "ada@contoso.test")
	_, created := call(t, srv, app, "POST", "/beta/directory/pendingExternalUserProfiles", `{"displayName":"Bob","phoneNumber":"+14255550100","companyName":"Contoso"}`)
	id := created["id"].(string)
	call(t, srv, user, "PATCH", "/beta/directory/pendingExternalUserProfiles/"+id, `{"companyName":"Fabrikam"}`)
	call(t, srv, app, "DELETE", "/beta/directory/pendingExternalUserProfiles/"+id, "")
	for i := range 4 { // other profiles, for paging
		call(t, srv, app, "POST", "/beta/directory/pendingExternalUserProfiles", `{"displayName":"P`+string(rune('0'+i))+`","phoneNumber":"+1425555020`+string(rune('0'+i))+`"}`)
	}

	status, body := call(t, srv, app, "GET", "/beta/auditLogs/directoryAudits?$filter="+url.QueryEscape("targetResources/any(t: t/id eq '"+id+"')"), "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, body)
	}
	recs := body["value"].([]any)
	if len(recs) != 3 {
		t.Fatalf("%d records of the profile, want invite, update, delete: %v", len(recs), recs)
	}
	newest := recs[0].(map[string]any)
	if newest["activityDisplayName"] != "Delete external user profile" || newest["operationType"] != "Delete" ||
		newest["category"] != "UserManagement" || newest["result"] != "success" || newest["loggedByService"] != "Core Directory" {
		t.Fatalf("newest record %v", newest)
	}
	update := recs[1].(map[string]any)
	by := update["initiatedBy"].(map[string]any)
	u, _ := by["user"].(map[string]any)
	if by["app"] != nil || u == nil || u["userPrincipalName"] != "ada@contoso.test" {
		t.Fatalf("update initiatedBy %v", by)
	}
	target := update["targetResources"].([]any)[0].(map[string]any)
	mod := target["modifiedProperties"].([]any)[0].(map[string]any)
	if target["id"] != id || mod["displayName"] != "companyName" || mod["oldValue"] != `["Contoso"]` || mod["newValue"] != `["Fabrikam"]` {
		t.Fatalf("update target %v", target)
	}
	// The record's correlationId is the request-id of the request.
	journal := tn.Requests(t)
	if update["correlationId"] != journal[1].RequestID {
		t.Fatalf("correlationId %v, the PATCH's request-id %s", update["correlationId"], journal[1].RequestID)
	}
	invite := recs[2].(map[string]any)
	if a := invite["initiatedBy"].(map[string]any)["app"].(map[string]any); a["appId"] == nil || invite["initiatedBy"].(map[string]any)["user"] != nil {
		t.Fatalf("invite initiatedBy %v", invite["initiatedBy"])
	}

	// One record, by id; another tenant does not see it.
	recID := newest["id"].(string)
	if status, one := call(t, srv, app, "GET", "/beta/auditLogs/directoryAudits/"+recID, ""); status != 200 || one["id"] != recID {
		t.Fatalf("get: %d %v", status, one)
	}
	other := srv.Tenant(t).AppToken(t)
	if status, _ := call(t, srv, other, "GET", "/beta/auditLogs/directoryAudits/"+recID, ""); status != 404 {
		t.Fatalf("another tenant's record: %d, want 404", status)
	}
	if _, list := call(t, srv, other, "GET", "/beta/auditLogs/directoryAudits", ""); len(list["value"].([]any)) != 0 {
		t.Fatalf("another tenant lists %v", list["value"])
	}

	// Pages of 3 follow the nextLink to all 7 records, newest first, each once.
	seen := map[string]bool{}
	next := "/beta/auditLogs/directoryAudits?$top=3"
	pages := 0
	for next != "" {
		status, page := call(t, srv, app, "GET", next, "")
		if status != 200 {
			t.Fatalf("page %s: %d %v", next, status, page)
		}
		for _, r := range page["value"].([]any) {
			rid := r.(map[string]any)["id"].(string)
			if seen[rid] {
				t.Fatalf("record %s on two pages", rid)
			}
			seen[rid] = true
		}
		next, _ = page["@odata.nextLink"].(string)
		next = strings.TrimPrefix(next, srv.URL)
		pages++
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("%d records on %d pages, want 7 on 3", len(seen), pages)
	}
	_, asc := call(t, srv, app, "GET", "/beta/auditLogs/directoryAudits?$orderby=activityDateTime%20asc&$top=1", "")
	if first := asc["value"].([]any)[0].(map[string]any); first["id"] != invite["id"] {
		t.Fatalf("oldest first: %v, want the invitation", first["activityDisplayName"])
	}
	_, byApp := call(t, srv, app, "GET", "/beta/auditLogs/directoryAudits?$filter="+url.QueryEscape("initiatedBy/user/id eq '"+u["id"].(string)+"'"), "")
	if len(byApp["value"].([]any)) != 1 {
		t.Fatalf("records by the user: %d, want 1", len(byApp["value"].([]any)))
	}
}

func TestAuditLogRefusals(t *testing.T) {
	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	noAudit := tn.AppToken(t, "PendingExternalUserProfile.ReadWrite.All")
	if status, body := call(t, srv, noAudit, "GET", "/beta/auditLogs/directoryAudits", ""); status != 403 ||
		!strings.Contains(body["error"].(map[string]any)["message"].(string), "AuditLog.Read.All") {
		t.Fatalf("without AuditLog.Read.All: %d %v", status, body)
	}
	tok := tn.AppToken(t)
	for _, q := range []string{
		"$filter=" + url.QueryEscape("displayName eq 'x'"),
		"$filter=" + url.QueryEscape("targetResources/all(t: t/id eq 'x')"),
		"$orderby=activityDisplayName",
		"$select=id",
		"$top=0",
		"$skiptoken=nope",
	} {
		if status, body := call(t, srv, tok, "GET", "/beta/auditLogs/directoryAudits?"+q, ""); status != 400 {
			t.Errorf("?%s: %d %v, want 400", q, status, body)
		}
	}
}
