package main

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// csdlTypes reads the structural properties of every entity and complex
// type of a CSDL document, and each entity type's base.
func csdlTypes(t *testing.T, raw []byte) (props map[string][]string, bases map[string]string) {
	t.Helper()
	var doc struct {
		Types []struct {
			XMLName    xml.Name
			Name       string `xml:"Name,attr"`
			BaseType   string `xml:"BaseType,attr"`
			Properties []struct {
				Name string `xml:"Name,attr"`
			} `xml:"Property"`
		} `xml:"DataServices>Schema>EntityType"`
		Complex []struct {
			Name       string `xml:"Name,attr"`
			Properties []struct {
				Name string `xml:"Name,attr"`
			} `xml:"Property"`
		} `xml:"DataServices>Schema>ComplexType"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("$metadata is not XML: %v", err)
	}
	props, bases = map[string][]string{}, map[string]string{}
	for _, et := range doc.Types {
		bases[et.Name] = strings.TrimPrefix(et.BaseType, "graph.")
		for _, p := range et.Properties {
			props[et.Name] = append(props[et.Name], p.Name)
		}
	}
	for _, ct := range doc.Complex {
		for _, p := range ct.Properties {
			props[ct.Name] = append(props[ct.Name], p.Name)
		}
	}
	return props, bases
}

func TestMetadataDescribesTheServedShapes(t *testing.T) {
	ts := startServer(t)
	r := ts.req("GET", "/beta/$metadata", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/xml" {
		t.Fatalf("GET /beta/$metadata without a token: %d %q", r.status, r.header.Get("Content-Type"))
	}
	props, bases := csdlTypes(t, r.body)

	tok := ts.token()
	created := ts.create(tok, map[string]any{"displayName": "Shape", "phoneNumber": "+15550100100"})
	for _, kind := range []string{"pendingExternalUserProfile", "externalUserProfile"} {
		var declared []string
		for typ := kind; typ != ""; typ = bases[typ] {
			declared = append(declared, props[typ]...)
		}
		var served []string
		for name := range maps.Keys(created) {
			if !strings.HasPrefix(name, "@odata.") {
				served = append(served, name)
			}
		}
		slices.Sort(declared)
		slices.Sort(served)
		if !slices.Equal(declared, served) {
			t.Errorf("%s declares %v, a served profile has %v", kind, declared, served)
		}
	}
	addr := slices.Sorted(maps.Keys(created["address"].(map[string]any)))
	if declared := slices.Sorted(slices.Values(props["physicalOfficeAddress"])); !slices.Equal(declared, addr) {
		t.Errorf("physicalOfficeAddress declares %v, a served address has %v", declared, addr)
	}
	// The context URLs point into this document.
	if ctx, _ := created["@odata.context"].(string); !strings.HasPrefix(ctx, ts.base+"/beta/$metadata#") {
		t.Errorf("@odata.context %q does not point at $metadata", ctx)
	}
}

func TestThrottleWaitsRetryAfterThenSucceeds(t *testing.T) {
	ts := startServer(t, "--throttle", "--throttle-units", "3/3s")
	if !strings.Contains(ts.logText(), `"msg":"throttling on"`) {
		t.Errorf("no throttling log line:\n%s", ts.logText())
	}
	tok := ts.token()
	other := ts.token("--app-id", "00000000-0000-0000-0000-0000000000c2")
	var r response
	for i := range 4 {
		r = ts.req("GET", pendingPath, tok, nil)
		if i < 3 && r.status != 200 {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
	}
	if r.status != 429 || r.errorCode(t) != "TooManyRequests" || r.errorMessage(t) != "Please retry again later." {
		t.Fatalf("fourth request in 3 s: %d %s", r.status, r.body)
	}
	wait, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || wait < 1 || wait > 3 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	if got := ts.req("GET", pendingPath, other, nil); got.status != 200 {
		t.Errorf("another application while the first is throttled: %d", got.status)
	}
	time.Sleep(time.Duration(wait) * time.Second)
	if r := ts.req("GET", pendingPath, tok, nil); r.status != 200 {
		t.Errorf("after waiting Retry-After: %d %s", r.status, r.body)
	}
}

func TestProtocolFlagErrors(t *testing.T) {
	dir := t.TempDir()
	badRules := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badRules, []byte(`{"rules":[{"path":"/beta/**","status":418}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typo, []byte(`{"rules":[{"path":"/beta/**","stauts":503}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--throttle-units", "lots"}, "--throttle-units"},
		{[]string{"--throttle-writes", "5/0s"}, "--throttle-writes"},
		{[]string{"--faults-file", filepath.Join(dir, "missing.json")}, "--faults-file"},
		{[]string{"--faults-file", badRules}, "status 418"},
		{[]string{"--faults-file", typo}, `unknown field "stauts"`},
	}
	for _, tt := range tests {
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, tt.args...)
		err := run(context.Background(), args, noEnv, io.Discard, io.Discard)
		var usage *usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v: %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestFaultInjectionFromFileAndAdminEndpoint(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "faults.json")
	if err := os.WriteFile(rules, []byte(`{"seed": 5, "rules": [
		{"name": "no-creates", "method": "POST", "path": "/beta/directory/pendingExternalUserProfiles", "status": 503, "retryAfter": 2}
	]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "--faults-file", rules)
	if !strings.Contains(ts.logText(), `"level":"WARN","msg":"fault injection is on`) {
		t.Errorf("no warning that faults are on:\n%s", ts.logText())
	}
	tok := ts.token()
	before := ts.snapshot(tok)

	// The file's rule fails every create, and nothing is stored.
	r := ts.req("POST", pendingPath, tok, map[string]any{"displayName": "Lost", "phoneNumber": "+15550100200"})
	if r.status != 503 || r.errorCode(t) != "ServiceUnavailable" || r.header.Get("Retry-After") != "2" ||
		r.header.Get("X-Extdir-Fault") != "status=503; rule=no-creates" {
		t.Fatalf("create under the rule: %d %v %s", r.status, r.header, r.body)
	}
	assertGraphError(t, r)
	// Inside a batch the rule fails the step, not the batch.
	a := ts.batch(tok, map[string]any{"id": "1", "method": "POST", "url": "/directory/pendingExternalUserProfiles",
		"headers": jsonHeaders(), "body": map[string]any{"displayName": "Lost too", "phoneNumber": "+15550100201"}})
	if status, headers, _ := a.step(t, "1"); status != 503 || headers["X-Extdir-Fault"] != "status=503; rule=no-creates" || headers["Retry-After"] != "2" {
		t.Errorf("batched create under the rule: %d %v", status, headers)
	}
	if after := ts.snapshot(tok); after != before {
		t.Errorf("injected failures changed the directory:\nbefore %s\nafter  %s", before, after)
	}
	if !strings.Contains(ts.logText(), `"msg":"fault injected"`) {
		t.Error("injections are not logged")
	}

	// The admin endpoint, on the same loopback listener, shows and replaces
	// the rules.
	r = ts.req("GET", "/admin/faults", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"name":"no-creates"`) || !strings.Contains(string(r.body), `"injected":2`) {
		t.Fatalf("GET /admin/faults: %d %s", r.status, r.body)
	}
	r = ts.req("PUT", "/admin/faults", "", map[string]any{"seed": 1, "rules": []map[string]any{
		{"name": "slow-list", "method": "GET", "path": pendingPath, "latency": "150ms"},
		{"name": "once", "method": "GET", "path": externalPath, "status": 429, "times": 1},
	}})
	if r.status != 200 {
		t.Fatalf("PUT /admin/faults: %d %s", r.status, r.body)
	}
	if r := ts.req("POST", pendingPath, tok, map[string]any{"displayName": "Kept", "phoneNumber": "+15550100202"}); r.status != 201 {
		t.Errorf("create after the rules were replaced: %d", r.status)
	}
	start := time.Now()
	r = ts.req("GET", pendingPath, tok, nil)
	if took := time.Since(start); r.status != 200 || took < 150*time.Millisecond || r.header.Get("X-Extdir-Fault") != "latency=150ms; rule=slow-list" {
		t.Errorf("list under a latency rule: %d in %v, marker %q", r.status, took, r.header.Get("X-Extdir-Fault"))
	}
	if r := ts.req("GET", externalPath, tok, nil); r.status != 429 || r.header.Get("Retry-After") != "1" || r.errorCode(t) != "TooManyRequests" {
		t.Errorf("first external list under a once-only 429: %d %v", r.status, r.header)
	}
	if r := ts.req("GET", externalPath, tok, nil); r.status != 200 || r.header.Get("X-Extdir-Fault") != "" {
		t.Errorf("second external list: %d, marker %q", r.status, r.header.Get("X-Extdir-Fault"))
	}
	if r := ts.req("DELETE", "/admin/faults", "", nil); r.status != 204 {
		t.Fatalf("DELETE /admin/faults: %d", r.status)
	}
	if r := ts.req("GET", pendingPath, tok, nil); r.header.Get("X-Extdir-Fault") != "" {
		t.Errorf("a fault after DELETE /admin/faults: %q", r.header.Get("X-Extdir-Fault"))
	}
}

func TestFaultRulesAreTheAdminAPIs(t *testing.T) {
	// Without --faults no rule is set, nothing is injected and nothing is
	// logged, but the admin API can set rules (loopback clients only).
	ts := startServer(t)
	if strings.Contains(ts.logText(), "fault injection") {
		t.Errorf("a fault warning without --faults:\n%s", ts.logText())
	}
	if r := ts.req("GET", "/admin/faults", "", nil); r.status != 200 || !strings.Contains(string(r.body), `"rules":[]`) {
		t.Errorf("GET /admin/faults without --faults: %d %s", r.status, r.body)
	}
	if r := ts.req("GET", "/healthz", "", nil); r.status != 200 || r.header.Get("X-Extdir-Fault") != "" {
		t.Errorf("/healthz: %d", r.status)
	}

	off := startServer(t, "--admin=false")
	if r := off.req("GET", "/admin/faults", "", nil); r.status != 404 || !strings.Contains(string(r.body), "--admin=false") {
		t.Errorf("GET /admin/faults with --admin=false: %d %s", r.status, r.body)
	}
	if r := off.req("PUT", "/admin/faults", "", map[string]any{"rules": []map[string]any{{"path": "/**", "status": 500}}}); r.status != 404 {
		t.Errorf("PUT /admin/faults with --admin=false: %d", r.status)
	}
	if r := off.req("GET", "/healthz", "", nil); r.status != 200 {
		t.Errorf("/healthz: %d", r.status)
	}
}
