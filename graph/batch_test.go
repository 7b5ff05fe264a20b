package graph

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/extdir/extdir"
)

func TestParseBatchRefusesWhatCannotRun(t *testing.T) {
	get := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"method":"GET","url":"/directory/pendingExternalUserProfiles"}`, id)
	}
	many := make([]string, maxBatchRequests+1)
	for i := range many {
		many[i] = get(fmt.Sprint(i))
	}
	tests := []struct {
		name, body, message string
	}{
		{"not JSON is the malformed-payload 400", `{"requests":[`, "Unable to read JSON request payload"},
		{"trailing data is malformed", `{"requests":[]} {}`, "Unable to read JSON request payload"},
		{"an array body is refused", `[]`, "the body cannot be a JSON array"},
		{"missing requests is refused", `{}`, "'requests' array"},
		{"requests that is not an array is refused", `{"requests":{}}`, "requests cannot be a JSON object"},
		{"an empty batch is refused, as Graph refuses it", `{"requests":[]}`, "at least one request; this one holds none"},
		{"21 requests are refused", `{"requests":[` + strings.Join(many, ",") + `]}`, "at most 20 requests; this one holds 21"},
		{"a missing id is refused", `{"requests":[{"method":"GET","url":"/x"}]}`, "index 0 has no id"},
		{"a numeric id is refused", `{"requests":[{"id":1,"method":"GET","url":"/x"}]}`, "requests.id cannot be a JSON number"},
		{"ids differing only in case are duplicates", `{"requests":[` + get("a") + "," + get("A") + `]}`, "the id 'A' is used by more than one request"},
		{"a missing method is refused", `{"requests":[{"id":"1","url":"/x"}]}`, "request '1' has no method"},
		{"an unknown method is refused", `{"requests":[{"id":"1","method":"TRACE","url":"/x"}]}`, "uses the method 'TRACE'"},
		{"a missing url is refused", `{"requests":[{"id":"1","method":"GET"}]}`, "request '1' has no url"},
		{"an absolute url is refused", `{"requests":[{"id":"1","method":"GET","url":"https://graph.microsoft.com/beta/directory"}]}`, "must be relative to /beta"},
		{"a nested batch is refused", `{"requests":[{"id":"1","method":"POST","url":"/$batch","headers":{"Content-Type":"application/json"},"body":{"requests":[]}}]}`, "cannot contain another $batch"},
		{"a nested batch behind the version is refused", `{"requests":[{"id":"1","method":"POST","url":"beta/%24BATCH","headers":{"Content-Type":"application/json"},"body":{}}]}`, "cannot contain another $batch"},
		{"a write without a body is refused as Graph does", `{"requests":[{"id":"w","method":"POST","url":"/directory/pendingExternalUserProfiles","headers":{"Content-Type":"application/json"}}]}`, "Write request id : w does not contain Content-Type header or body."},
		{"a write without Content-Type is refused as Graph does", `{"requests":[{"id":"w","method":"PATCH","url":"/directory/pendingExternalUserProfiles/1","body":{}}]}`, "Write request id : w does not contain Content-Type header or body."},
		{"a body without Content-Type is refused", `{"requests":[{"id":"d","method":"DELETE","url":"/x","body":{}}]}`, "has a body but no Content-Type"},
		{"a body string that is not base64 is refused", `{"requests":[{"id":"b","method":"POST","url":"/x","headers":{"Content-Type":"image/png"},"body":"%%%"}]}`, "must be base64-encoded"},
		{"a header that is not a string is refused", `{"requests":[{"id":"1","method":"GET","url":"/x","headers":{"ConsistencyLevel":1}}]}`, "cannot be a JSON number"},
		{"a dependency outside the batch is refused", `{"requests":[{"id":"1","method":"GET","url":"/x","dependsOn":["2"]}]}`, "depends on '2', which is not in the batch"},
		{"a request depending on itself is refused", `{"requests":[{"id":"1","method":"GET","url":"/x","dependsOn":["1"]}]}`, "depends on itself"},
		{"a dependency cycle is refused", `{"requests":[{"id":"1","method":"GET","url":"/x","dependsOn":["2"]},{"id":"2","method":"GET","url":"/x","dependsOn":["1"]}]}`, "form a cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBatch([]byte(tt.body))
			if err == nil {
				t.Fatal("parseBatch accepted the batch")
			}
			if code := extdir.ErrorCode(err); code != extdir.EBadRequest {
				t.Errorf("code = %s, want %s (a Graph 400 BadRequest)", code, extdir.EBadRequest)
			}
			if msg := extdir.ErrorMessage(err); !strings.Contains(msg, tt.message) {
				t.Errorf("message %q does not contain %q", msg, tt.message)
			}
		})
	}
}

func TestParseBatchAcceptsGraphsForms(t *testing.T) {
	body := `{"requests":[
		{"id":"Create","method":"post","url":"/directory/pendingExternalUserProfiles","headers":{"content-type":"application/json"},"body":{"displayName":"A"}},
		{"id":"2","method":"GET","url":"directory/pendingExternalUserProfiles?$filter=companyName eq 'x y'","dependsOn":["create"]},
		{"id":"3","method":"GET","url":"/beta/directory/externalUserProfiles"},
		{"id":"4","method":"POST","url":"/x","headers":{"Content-Type":"application/octet-stream"},"body":"aGVsbG8="},
		{"id":"5","method":"DELETE","url":"/directory/pendingExternalUserProfiles('abc')"}
	]}`
	steps, err := parseBatch([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ method, path, query, body string }{
		{"POST", "/beta/directory/pendingExternalUserProfiles", "", `{"displayName":"A"}`},
		{"GET", "/beta/directory/pendingExternalUserProfiles", "$filter=companyName%20eq%20'x%20y'", ""},
		{"GET", "/beta/directory/externalUserProfiles", "", ""},
		{"POST", "/beta/x", "", "hello"},
		{"DELETE", "/beta/directory/pendingExternalUserProfiles('abc')", "", ""},
	}
	for i, w := range want {
		st := steps[i]
		if st.method != w.method || st.url.Path != w.path || st.url.RawQuery != w.query || string(st.body) != w.body {
			t.Errorf("step %d = %s %s ? %s body %q, want %+v", i, st.method, st.url.Path, st.url.RawQuery, st.body, w)
		}
	}
	if !slices.Equal(steps[1].deps, []int{0}) {
		t.Errorf("dependsOn [create] resolved to %v, want [0] (ids compare without case)", steps[1].deps)
	}
}

func TestBatchOrderRunsDependenciesFirst(t *testing.T) {
	// The documentation's example: 1, then 2, then 4, then 3.
	steps, err := parseBatch([]byte(`{"requests":[
		{"id":"1","method":"GET","url":"/a"},
		{"id":"2","dependsOn":["1"],"method":"GET","url":"/a"},
		{"id":"3","dependsOn":["4"],"method":"GET","url":"/a"},
		{"id":"4","dependsOn":["2"],"method":"GET","url":"/a"},
		{"id":"5","method":"GET","url":"/a"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range batchOrder(steps) {
		got = append(got, steps[i].id)
	}
	if want := []string{"1", "2", "4", "3", "5"}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestRenderBatchSpellsHeadersAsGraphAndOmitsEmptyBodies(t *testing.T) {
	steps := []*batchStep{{id: "a"}, {id: "b"}, {id: "c"}}
	results := []*batchResult{
		{status: 201, header: map[string][]string{
			"Content-Type": {jsonContentType}, "Location": {"https://x/beta/y"}, "Etag": {`W/"1"`},
			"Odata-Version": {"4.0"}, "Request-Id": {"r"}, "Client-Request-Id": {"c"}, "Content-Length": {"9"},
			"X-Ms-Resource-Unit": {"1"},
		}, body: []byte(`{"id":"y"}`)},
		{status: 204, header: map[string][]string{"Odata-Version": {"4.0"}}},
		{status: 200, header: map[string][]string{"Content-Type": {"text/plain;charset=utf-8"}}, body: []byte("7")},
	}
	var out struct {
		Responses []struct {
			ID      string            `json:"id"`
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"responses"`
	}
	raw := renderBatch(steps, results)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	created := out.Responses[0]
	wantHeaders := map[string]string{"Content-Type": jsonContentType, "Location": "https://x/beta/y", "ETag": `W/"1"`,
		"OData-Version": "4.0", "x-ms-resource-unit": "1"}
	if fmt.Sprint(created.Headers) != fmt.Sprint(wantHeaders) {
		t.Errorf("headers = %v, want %v", created.Headers, wantHeaders)
	}
	if string(created.Body) != `{"id":"y"}` {
		t.Errorf("JSON body = %s, want it embedded as JSON", created.Body)
	}
	if out.Responses[1].Body != nil {
		t.Errorf("a 204 has a body member: %s", raw)
	}
	if string(out.Responses[2].Body) != `"Nw=="` {
		t.Errorf("text body = %s, want base64 \"Nw==\"", out.Responses[2].Body)
	}
}
