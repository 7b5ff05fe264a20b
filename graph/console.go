package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/console"
)

// The web console (package console), at /console/: its files as embedded,
// index.html filled in with how to sign in. The console is a client of the
// public API like any other: it signs in with the built-in issuer's
// authorization code flow and calls /beta and /admin from the browser.
//
//	GET /console            redirects to /console/
//	GET /console/           the page
//	GET /console/{asset}    its scripts and style sheet

// Console turns the web console on; Server.Console nil answers its paths
// with 404.
type Console struct {
	// ClientID is the public client the console signs in as.
	ClientID string
	// Tenant is the tenant its sign-in form suggests; the person may
	// change it.
	Tenant string
	// RedirectURI is where the issuer sends the console's codes: the
	// server's origin + "/console/", a redirect URI of ClientID.
	RedirectURI string
}

// ConsolePath is the console's address under the server's origin; the
// built-in console client's redirect URI is the origin + ConsolePath.
const ConsolePath = "/console/"

// consoleCSP lets the page load this origin's scripts and style sheet and
// call this origin's API, nothing else: no inline script or style, no
// framing, no plugin, and (Trusted Types) no HTML parsed from strings, so
// that a profile's values can only ever be text.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

var errConsoleOff = extdir.Errorf(extdir.ENotFound, "The console is off: extdir serve was started with --console=false.")

// consoleAsset is one embedded file, with what its answer needs.
type consoleAsset struct {
	body        []byte
	contentType string
	etag        string
}

var (
	consoleIndex  = template.Must(template.ParseFS(console.Files, "web/index.html"))
	consoleAssets = loadConsoleAssets()
)

// consoleTypes are the files the console is made of; nothing else under
// web/ is served.
var consoleTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
}

func loadConsoleAssets() map[string]consoleAsset {
	out := map[string]consoleAsset{}
	entries, err := fs.ReadDir(console.Files, "web")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		ct, ok := consoleTypes[path.Ext(e.Name())]
		if !ok || e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(console.Files, "web/"+e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = consoleAsset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return out
}

// consoleHeaders are the headers of every console answer.
func consoleHeaders(h http.Header, contentType string) {
	h.Del("OData-Version")
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// consolePage answers /console/ with the page, /console with a redirect to
// it: the page's files are relative to it, and its address is the redirect
// URI, which must be exactly one.
func (s *Server) consolePage(c *call) error {
	if s.Console == nil {
		return errConsoleOff
	}
	if c.r.URL.Path != ConsolePath {
		http.Redirect(c.w, c.r, ConsolePath, http.StatusMovedPermanently)
		return nil
	}
	var buf bytes.Buffer
	if err := consoleIndex.Execute(&buf, s.Console); err != nil {
		return err
	}
	consoleHeaders(c.w.Header(), "text/html; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(buf.Bytes())
	return nil
}

// consoleFile answers one of the page's files, revalidated by its ETag
// (every answer is no-cache), so that a new binary's console is never
// mixed with an old one's cached files.
func (s *Server) consoleFile(c *call) error {
	if s.Console == nil {
		return errConsoleOff
	}
	a, ok := consoleAssets[c.asset]
	if !ok {
		return extdir.Errorf(extdir.ENotFound, "The console has no file '%s'.", c.asset)
	}
	h := c.w.Header()
	consoleHeaders(h, a.contentType)
	h.Set("ETag", a.etag)
	if c.r.Header.Get("If-None-Match") == a.etag {
		c.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(a.body)
	return nil
}

// isConsolePath reports /console and what is under it, as the route table
// matches it: without regard to case.
func isConsolePath(p string) bool {
	const prefix = "/console"
	if len(p) < len(prefix) || !strings.EqualFold(p[:len(prefix)], prefix) {
		return false
	}
	return len(p) == len(prefix) || p[len(prefix)] == '/'
}
