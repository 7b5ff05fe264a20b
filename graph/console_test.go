package graph_test

import (
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/extdir/extdir/console"
	"github.com/extdir/extdir/graph"
)

const consoleClient = "db7b2e45-356b-4644-84c3-ad793d8e2125"

// consoleServer is a protocol server with the console on or off, and its
// journal.
func consoleServer(t *testing.T, on bool) (*protocolServer, *graph.Journal) {
	t.Helper()
	j := graph.NewJournal(100, 1024)
	ps := newProtocolServer(t, func(s *graph.Server) {
		if on {
			s.Console = &graph.Console{ClientID: consoleClient, Tenant: "00000000-0000-0000-0000-0000000000e1", RedirectURI: "https://127.0.0.1:8443/console/"}
		}
		s.Journal = j
	})
	return ps, j
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConsoleOffAnswers404(t *testing.T) {
	ps, _ := consoleServer(t, false)
	for _, path := range []string{"/console", "/console/", "/console/app.js"} {
		res := ps.from("127.0.0.1:1", "GET", path, "", "")
		if b := body(t, res); res.StatusCode != http.StatusNotFound || !strings.Contains(b, "--console=false") {
			t.Errorf("GET %s with the console off: %d %s", path, res.StatusCode, b)
		}
	}
}

func TestConsolePage(t *testing.T) {
	ps, journal := consoleServer(t, true)
	res := ps.from("127.0.0.1:1", "GET", "/console", "", "")
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/console/" {
		t.Fatalf("GET /console: %d to %q, want a redirect to /console/", res.StatusCode, res.Header.Get("Location"))
	}
	res = ps.from("127.0.0.1:1", "GET", "/console/", "", "")
	page := body(t, res)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /console/: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self';", "connect-src 'self';", "frame-ancestors 'none'", "object-src 'none'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows inline code or another origin", csp)
	}
	if res.Header.Get("OData-Version") != "" || res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("page headers: %v", res.Header)
	}
	for _, want := range []string{
		`<meta name="extdir-client-id" content="` + consoleClient + `">`,
		`<meta name="extdir-tenant" content="00000000-0000-0000-0000-0000000000e1">`,
		`<meta name="extdir-redirect-uri" content="https://127.0.0.1:8443/console/">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// Nothing inline: every script and style sheet is a file of the
	// console, which the CSP allows; an inline one would be refused.
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=`).MatchString(page) {
		t.Error("the page holds an inline script, style or event handler")
	}
	for _, ref := range regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`).FindAllStringSubmatch(page, -1) {
		res := ps.from("127.0.0.1:1", "GET", "/console/"+ref[1], "", "")
		if res.StatusCode != http.StatusOK {
			t.Errorf("the page refers to %s, which answers %d", ref[1], res.StatusCode)
		}
	}
	if n := len(journal.Entries(nil)); n != 0 {
		t.Errorf("the console's page and files made %d journal entries", n)
	}
}

func TestConsoleFiles(t *testing.T) {
	ps, _ := consoleServer(t, true)
	entries, err := fs.ReadDir(console.Files, "web")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	served := 0
	for _, e := range entries {
		name := e.Name()
		ext := name[strings.LastIndexByte(name, '.'):]
		res := ps.from("127.0.0.1:1", "GET", "/console/"+name, "", "")
		b := body(t, res)
		want, ok := types[ext]
		if !ok {
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("GET /console/%s: %d, want 404 (only scripts, style sheets and images are served)", name, res.StatusCode)
			}
			continue
		}
		served++
		raw, _ := fs.ReadFile(console.Files, "web/"+name)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != want || b != string(raw) {
			t.Errorf("GET /console/%s: %d %s, %d bytes of %d", name, res.StatusCode, res.Header.Get("Content-Type"), len(b), len(raw))
		}
		if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /console/%s: no CSP or nosniff", name)
		}
		etag := res.Header.Get("ETag")
		again := ps.from("127.0.0.1:1", "GET", "/console/"+name, "", "", "If-None-Match", etag)
		if etag == "" || again.StatusCode != http.StatusNotModified {
			t.Errorf("GET /console/%s with If-None-Match %s: %d, want 304", name, etag, again.StatusCode)
		}
	}
	if served < 3 {
		t.Errorf("only %d files served", served)
	}
	for _, path := range []string{"/console/nothing.js", "/console/index.html", "/console/schema.json"} {
		if res := ps.from("127.0.0.1:1", "GET", path, "", ""); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	// Only the files of the table: a path that climbs out reaches none.
	for _, path := range []string{"/console/../go.mod", "/console/%2e%2e%2fgo.mod", "/console/..%2fconsole.go", "/console/web/app.js"} {
		if res := ps.from("127.0.0.1:1", "GET", path, "", ""); res.StatusCode == http.StatusOK {
			t.Errorf("GET %s: 200", path)
		}
	}
}
