package main

import (
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	const app = "http://localhost:3000"
	preflight := func(ts *testServer, path, origin string) response {
		return ts.req("OPTIONS", path, "", nil, "Origin", origin,
			"Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization, content-type, consistencylevel, x-client-sku")
	}

	t.Run("on a local server any origin may call the API and the token endpoint", func(t *testing.T) {
		ts := startServer(t)
		for _, path := range []string{pendingPath, "/" + defaultTenant + "/oauth2/v2.0/token", "/" + defaultTenant + "/v2.0/.well-known/openid-configuration"} {
			r := preflight(ts, path, app)
			if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != app {
				t.Fatalf("preflight of %s: %d %v", path, r.status, r.header)
			}
			methods, headers := r.header.Get("Access-Control-Allow-Methods"), strings.ToLower(r.header.Get("Access-Control-Allow-Headers"))
			for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
				if !strings.Contains(methods, m) {
					t.Errorf("%s: methods %q lack %s", path, methods, m)
				}
			}
			for _, h := range []string{"authorization", "content-type", "consistencylevel", "if-match", "client-request-id", "prefer", "x-client-sku"} {
				if !strings.Contains(headers, h) {
					t.Errorf("%s: allowed headers %q lack %s", path, headers, h)
				}
			}
		}
		r := ts.req("GET", pendingPath, ts.token(), nil, "Origin", app)
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != app {
			t.Fatalf("GET with Origin: %d %v", r.status, r.header)
		}
		exposed := strings.ToLower(r.header.Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"request-id", "client-request-id", "location", "etag", "retry-after"} {
			if !strings.Contains(exposed, h) {
				t.Errorf("exposed headers %q lack %s", exposed, h)
			}
		}
		// A refusal is readable by the script too.
		if r := ts.req("GET", pendingPath, "", nil, "Origin", app); r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != app {
			t.Errorf("401 with Origin: %d %v", r.status, r.header)
		}
		// The admin API is not for browsers.
		if r := preflight(ts, "/admin/faults", app); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("admin preflight allowed: %d %v", r.status, r.header)
		}
	})

	t.Run("configured origins are the only ones allowed", func(t *testing.T) {
		ts := startServer(t, "--cors-origins", "https://app.example.com/")
		if r := preflight(ts, pendingPath, "https://app.example.com"); r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Errorf("configured origin: %d %v", r.status, r.header)
		}
		if r := preflight(ts, pendingPath, "https://evil.example.com"); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("other origin's preflight: %d %v", r.status, r.header)
		}
		if r := ts.req("GET", pendingPath, ts.token(), nil, "Origin", "https://evil.example.com"); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("other origin's GET carries CORS headers: %v", r.header)
		}
	})

	t.Run("an exposed server allows no origin unless configured", func(t *testing.T) {
		ts := startServer(t, "--public-url", "https://directory.example.com")
		if r := preflight(ts, pendingPath, app); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("exposed server answered CORS by default: %d %v", r.status, r.header)
		}
	})

	t.Run("none turns CORS off", func(t *testing.T) {
		ts := startServer(t, "--cors-origins", "none")
		if r := ts.req("GET", pendingPath, ts.token(), nil, "Origin", app); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("CORS header with none: %v", r.header)
		}
	})

	t.Run("a malformed origin stops serve", func(t *testing.T) {
		err := run(t.Context(), []string{"serve", "--data-dir", t.TempDir(), "--cors-origins", "app.example.com"}, noEnv, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "is not an origin") {
			t.Fatalf("serve = %v", err)
		}
	})
}
