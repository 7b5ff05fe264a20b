package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// batchAnswer is a decoded $batch response.
type batchAnswer struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

// batch posts a batch and returns its decoded answer, failing unless the
// batch itself is a 200.
func (ts *testServer) batch(token string, requests ...map[string]any) batchAnswer {
	ts.t.Helper()
	r := ts.req("POST", "/beta/$batch", token, map[string]any{"requests": requests})
	if r.status != http.StatusOK {
		ts.t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != graphJSON {
		ts.t.Errorf("batch Content-Type = %q", ct)
	}
	var a batchAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		ts.t.Fatalf("batch answer: %v\n%s", err, r.body)
	}
	if len(a.Responses) != len(requests) {
		ts.t.Fatalf("%d responses to %d requests: %s", len(a.Responses), len(requests), r.body)
	}
	return a
}

// step finds the response to the request with the given id.
func (a batchAnswer) step(t *testing.T, id string) (int, map[string]string, map[string]any) {
	t.Helper()
	for _, r := range a.Responses {
		if r.ID == id {
			var body map[string]any
			if len(r.Body) > 0 {
				if err := json.Unmarshal(r.Body, &body); err != nil {
					t.Fatalf("step %s body is not a JSON object: %s", id, r.Body)
				}
			}
			return r.Status, r.Headers, body
		}
	}
	t.Fatalf("no response with id %s", id)
	return 0, nil, nil
}

func jsonHeaders() map[string]any { return map[string]any{"Content-Type": "application/json"} }

func TestBatchRunsTheProfileLifecycle(t *testing.T) {
	ts := startServer(t)
	oid := "11111111-2222-3333-4444-555555555555"
	tok := ts.token("--oid", oid)

	a := ts.batch(tok,
		// A url with a leading slash, one without, one with the version the
		// classic client keeps: all relative to /beta.
		map[string]any{"id": "create", "method": "POST", "url": "/directory/pendingExternalUserProfiles",
			"headers": jsonHeaders(), "body": map[string]any{"displayName": "Batched", "phoneNumber": "+15550100001"}},
		map[string]any{"id": "list", "method": "GET", "url": "directory/pendingExternalUserProfiles?$select=displayName", "dependsOn": []string{"CREATE"}},
		map[string]any{"id": "count", "method": "GET", "url": "/beta/directory/pendingExternalUserProfiles/$count",
			"headers": map[string]any{"ConsistencyLevel": "eventual"}, "dependsOn": []string{"create"}},
	)
	status, headers, created := a.step(t, "create")
	if status != http.StatusCreated {
		t.Fatalf("create step: %d %v", status, created)
	}
	id, _ := created["id"].(string)
	if !guidRE.MatchString(id) {
		t.Fatalf("created id %q", id)
	}
	assertFields(t, created, map[string]any{"displayName": "Batched", "createdBy": oid, "epoch": 1.0,
		"@odata.context": ts.base + "/beta/$metadata#directory/pendingExternalUserProfiles/$entity"})
	if headers["Location"] != ts.base+pendingPath+"/"+id || headers["Content-Type"] != graphJSON || headers["ETag"] != `W/"1"` || headers["OData-Version"] != "4.0" {
		t.Errorf("create step headers = %v", headers)
	}
	for name := range headers {
		if strings.EqualFold(name, "request-id") || strings.EqualFold(name, "content-length") {
			t.Errorf("step headers carry the batch's own %s", name)
		}
	}
	if status, _, list := a.step(t, "list"); status != 200 || len(list["value"].([]any)) != 1 ||
		list["@odata.context"] != ts.base+"/beta/$metadata#directory/pendingExternalUserProfiles(displayName)" {
		t.Errorf("list step: %d %v", status, list)
	}
	// A body that is not JSON comes back base64-encoded.
	for _, r := range a.Responses {
		if r.ID == "count" {
			var b64 string
			if err := json.Unmarshal(r.Body, &b64); err != nil {
				t.Fatalf("count body %s is not a string", r.Body)
			}
			if n, err := base64.StdEncoding.DecodeString(b64); err != nil || string(n) != "1" || !strings.HasPrefix(r.Headers["Content-Type"], "text/plain") {
				t.Errorf("count step: %s %v", r.Body, r.Headers)
			}
		}
	}

	item := "/directory/pendingExternalUserProfiles/" + id
	a = ts.batch(tok,
		map[string]any{"id": "patch", "method": "PATCH", "url": item, "headers": jsonHeaders(), "body": map[string]any{"jobTitle": "Lead"}},
		map[string]any{"id": "get", "method": "GET", "url": item, "dependsOn": []string{"patch"}},
		map[string]any{"id": "redeem", "method": "POST", "url": item + "/redeem", "headers": jsonHeaders(), "body": map[string]any{}, "dependsOn": []string{"get"}},
		map[string]any{"id": "delete", "method": "DELETE", "url": "/directory/externalUserProfiles/" + id, "dependsOn": []string{"redeem"}},
	)
	for _, r := range a.Responses {
		if r.ID == "patch" || r.ID == "delete" {
			if r.Status != 204 || r.Body != nil {
				t.Errorf("%s step: %d with body %s, want 204 and no body member", r.ID, r.Status, r.Body)
			}
		}
	}
	if status, _, got := a.step(t, "get"); status != 200 || got["jobTitle"] != "Lead" || got["epoch"] != 2.0 {
		t.Errorf("get after patch: %d %v", status, got)
	}
	if status, _, ext := a.step(t, "redeem"); status != 200 || ext["id"] != id ||
		ext["@odata.context"] != ts.base+"/beta/$metadata#directory/externalUserProfiles/$entity" {
		t.Errorf("redeem step: %d %v", status, ext)
	}
	// Batched changes are the same changes as top-level ones.
	r := ts.req("GET", deletedPath+"/"+id, tok, nil)
	if r.status != 200 || r.json(t)["jobTitle"] != "Lead" {
		t.Errorf("deleted item after the batch: %d %s", r.status, r.body)
	}
}

func TestBatchFailedDependencyIs424(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	a := ts.batch(tok,
		map[string]any{"id": "bad", "method": "POST", "url": "/directory/pendingExternalUserProfiles",
			"headers": jsonHeaders(), "body": map[string]any{"displayName": "No phone"}},
		map[string]any{"id": "next", "method": "POST", "url": "/directory/pendingExternalUserProfiles", "dependsOn": []string{"Bad"},
			"headers": jsonHeaders(), "body": map[string]any{"displayName": "Never", "phoneNumber": "+15550100002"}},
		map[string]any{"id": "after", "method": "GET", "url": "/directory/pendingExternalUserProfiles", "dependsOn": []string{"next"}},
		map[string]any{"id": "free", "method": "GET", "url": "/directory/pendingExternalUserProfiles"},
	)
	status, _, body := a.step(t, "bad")
	if status != 400 || body["error"].(map[string]any)["code"] != "Request_BadRequest" {
		t.Errorf("invalid create step: %d %v", status, body)
	}
	for _, id := range []string{"next", "after"} {
		status, headers, body := a.step(t, id)
		e, _ := body["error"].(map[string]any)
		if status != http.StatusFailedDependency || e["code"] != "FailedDependency" || headers["Content-Type"] != graphJSON {
			t.Errorf("step %s: %d %v %v, want 424", id, status, headers, body)
		}
	}
	if status, _, list := a.step(t, "free"); status != 200 || len(list["value"].([]any)) != 0 {
		t.Errorf("independent step: %d %v (the dependent create must not have run)", status, list)
	}
}

func TestBatchStepsAreAuthorizedAndScopedByTheBatchToken(t *testing.T) {
	ts := startServer(t)
	tokA := ts.token("--tenant", tenantA, "--oid", "aaaaaaaa-1111-1111-1111-111111111111")
	tokB := ts.token("--tenant", tenantB)
	inB := ts.create(tokB, map[string]any{"displayName": "In B", "phoneNumber": "+15550100003"})

	a := ts.batch(tokA,
		// An Authorization header inside a step never changes the caller.
		map[string]any{"id": "1", "method": "POST", "url": "/directory/pendingExternalUserProfiles",
			"headers": map[string]any{"Content-Type": "application/json", "Authorization": "Bearer " + tokB},
			"body":    map[string]any{"displayName": "Made by A", "phoneNumber": "+15550100004"}},
		// Another tenant's object does not exist for this caller.
		map[string]any{"id": "2", "method": "GET", "url": "/directory/pendingExternalUserProfiles/" + inB["id"].(string),
			"headers": map[string]any{"Authorization": "Bearer " + tokB}},
		// Validation is the same as at the top level.
		map[string]any{"id": "3", "method": "POST", "url": "/directory/externalUserProfiles", "headers": jsonHeaders(), "body": map[string]any{}},
		map[string]any{"id": "4", "method": "GET", "url": "/directory/pendingExternalUserProfiles?$top=0"},
		map[string]any{"id": "5", "method": "GET", "url": "/directory/nowhere"},
	)
	status, _, made := a.step(t, "1")
	if status != 201 || made["createdBy"] != "aaaaaaaa-1111-1111-1111-111111111111" {
		t.Fatalf("create with another token in the step: %d %v", status, made)
	}
	if r := ts.req("GET", pendingPath+"/"+made["id"].(string), tokA, nil); r.status != 200 {
		t.Errorf("the batched create is not in the batch token's tenant: %d", r.status)
	}
	if r := ts.req("GET", pendingPath+"/"+made["id"].(string), tokB, nil); r.status != 404 {
		t.Errorf("the batched create is visible in the step header's tenant: %d", r.status)
	}
	want := map[string]struct {
		status int
		code   string
	}{
		"2": {404, "Request_ResourceNotFound"},
		"3": {405, "Request_BadRequest"},
		"4": {400, "BadRequest"},
		"5": {400, "BadRequest"},
	}
	for id, w := range want {
		status, _, body := a.step(t, id)
		e, _ := body["error"].(map[string]any)
		if status != w.status || e["code"] != w.code {
			t.Errorf("step %s: %d %v, want %d %s", id, status, e, w.status, w.code)
		}
		if inner, _ := e["innerError"].(map[string]any); inner["request-id"] == nil || inner["date"] == nil {
			t.Errorf("step %s innerError = %v", id, inner)
		}
	}

	// Permissions are the batch token's: a reader's batched write is a 403.
	reader := ts.token("--tenant", tenantA, "--roles", "PendingExternalUserProfile.Read.All")
	a = ts.batch(reader,
		map[string]any{"id": "w", "method": "POST", "url": "/directory/pendingExternalUserProfiles",
			"headers": map[string]any{"Content-Type": "application/json", "Authorization": "Bearer " + tokA},
			"body":    map[string]any{"displayName": "Denied", "phoneNumber": "+15550100005"}},
		map[string]any{"id": "r", "method": "GET", "url": "/directory/pendingExternalUserProfiles"},
	)
	if status, _, body := a.step(t, "w"); status != 403 || body["error"].(map[string]any)["code"] != "Authorization_RequestDenied" {
		t.Errorf("reader's batched write: %d %v", status, body)
	}
	if status, _, _ := a.step(t, "r"); status != 200 {
		t.Errorf("reader's batched read: %d", status)
	}
}

func TestBatchWithoutAValidTokenIs401(t *testing.T) {
	ts := startServer(t)
	body := map[string]any{"requests": []map[string]any{{"id": "1", "method": "GET", "url": "/directory/pendingExternalUserProfiles"}}}
	for name, tok := range map[string]string{"no token": "", "a bad token": "not.a.jwt"} {
		r := ts.req("POST", "/beta/$batch", tok, body)
		if r.status != 401 || r.errorCode(t) != "InvalidAuthenticationToken" {
			t.Errorf("batch with %s: %d %s", name, r.status, r.body)
		}
	}
}

func TestBatchErrorsAreGraph400sAndRunNothing(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	ts.create(tok, map[string]any{"displayName": "Before", "phoneNumber": "+15550100006"})
	before := ts.snapshot(tok)

	create := func(id string) map[string]any {
		return map[string]any{"id": id, "method": "POST", "url": "/directory/pendingExternalUserProfiles", "headers": jsonHeaders(),
			"body": map[string]any{"displayName": "Must not exist " + id, "phoneNumber": fmt.Sprintf("+1555020%04s", id)}}
	}
	twentyOne := make([]map[string]any, 21)
	for i := range twentyOne {
		twentyOne[i] = create(fmt.Sprint(i))
	}
	tests := []struct {
		name string
		body any
		want string
	}{
		{"not JSON", `{"requests": [`, "Unable to read JSON request payload"},
		{"no requests member", map[string]any{"request": []any{create("1")}}, "'requests' array"},
		{"21 requests", map[string]any{"requests": twentyOne}, "at most 20 requests"},
		{"ids equal but for case", map[string]any{"requests": []any{create("a"), create("A")}}, "used by more than one request"},
		{"a request without id", map[string]any{"requests": []any{create("1"), map[string]any{"method": "GET", "url": "/x"}}}, "has no id"},
		{"a request without url", map[string]any{"requests": []any{create("1"), map[string]any{"id": "2", "method": "GET"}}}, "has no url"},
		{"a request without method", map[string]any{"requests": []any{create("1"), map[string]any{"id": "2", "url": "/x"}}}, "has no method"},
		{"a nested batch", map[string]any{"requests": []any{create("1"), map[string]any{"id": "2", "method": "POST", "url": "/$batch",
			"headers": jsonHeaders(), "body": map[string]any{"requests": []any{create("3")}}}}}, "cannot contain another $batch"},
		{"a write without Content-Type", map[string]any{"requests": []any{create("1"), map[string]any{"id": "2", "method": "POST",
			"url": "/directory/pendingExternalUserProfiles", "body": map[string]any{"displayName": "x"}}}}, "Write request id : 2 does not contain Content-Type header or body."},
		{"an unknown dependency", map[string]any{"requests": []any{create("1"), map[string]any{"id": "2", "method": "GET", "url": "/x", "dependsOn": []string{"9"}}}}, "not in the batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.req("POST", "/beta/$batch", tok, tt.body)
			if r.status != 400 || r.errorCode(t) != "BadRequest" || !strings.Contains(r.errorMessage(t), tt.want) {
				t.Fatalf("%d %s, want 400 BadRequest containing %q", r.status, r.body, tt.want)
			}
			assertGraphError(t, r)
		})
	}
	if r := ts.req("POST", "/beta/$batch", tok, "requests=1", "Content-Type", "application/x-www-form-urlencoded"); r.status != 415 {
		t.Errorf("a batch that is not JSON by its Content-Type: %d", r.status)
	}
	if after := ts.snapshot(tok); after != before {
		t.Errorf("refused batches changed the directory:\nbefore %s\nafter  %s", before, after)
	}

	// Twenty is allowed.
	twenty := make([]map[string]any, 20)
	for i := range twenty {
		twenty[i] = map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/directory/pendingExternalUserProfiles"}
	}
	for _, r := range ts.batch(tok, twenty...).Responses {
		if r.Status != 200 {
			t.Errorf("step %s of 20: %d", r.ID, r.Status)
		}
	}
}

func TestBatchQueriesWithSpacesPageLikeTopLevelOnes(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	for i, phone := range []string{"+15550100301", "+15550100302"} {
		ts.create(tok, map[string]any{"displayName": fmt.Sprint("Paged ", i), "phoneNumber": phone, "companyName": "Contoso Ltd"})
	}
	ts.create(tok, map[string]any{"displayName": "Other", "phoneNumber": "+15550100303", "companyName": "Fabrikam"})
	// Unescaped, as in Graph's own batching examples.
	a := ts.batch(tok, map[string]any{"id": "q", "method": "GET", "url": "/directory/pendingExternalUserProfiles?$filter=companyName eq 'Contoso Ltd'&$top=1"})
	status, _, page := a.step(t, "q")
	if status != 200 || len(page["value"].([]any)) != 1 {
		t.Fatalf("batched filter: %d %v", status, page)
	}
	next, _ := page["@odata.nextLink"].(string)
	if strings.Contains(next, " ") || !strings.HasPrefix(next, ts.base+pendingPath+"?") {
		t.Fatalf("@odata.nextLink %q", next)
	}
	r := ts.req("GET", next, tok, nil)
	if r.status != 200 {
		t.Fatalf("following the batched nextLink: %d %s", r.status, r.body)
	}
	rest := r.json(t)["value"].([]any)
	if len(rest) != 1 || rest[0].(map[string]any)["companyName"] != "Contoso Ltd" {
		t.Errorf("second page = %v", rest)
	}
}
