// Package console holds the web console that extdir serves at /console/: an
// administrator's and a developer's view of the directory in a browser.
//
// It is plain HTML, CSS and JavaScript modules, embedded in the binary and
// served as they are (graph/console.go): no framework, no build step, no
// file from anywhere but the server itself. It speaks only the public
// surface: the Graph API under /beta, the built-in issuer's sign-in
// (authorization code with PKCE, as a public client), and the admin API
// under /admin for the developer views. docs/console.md describes it.
//
// schema.js is generated from the property table, the directory roles and
// the phone numbering metadata that the server and extdir invite use, so
// that the console's forms, filters and CSV checks follow the same rules:
// run go generate ./console after changing any of them (a test fails until
// it is current).
package console

import "embed"

//go:generate go run ./internal/genschema -o web/schema.js

// Files are the console's files, under web/. index.html is a template
// (html/template) that the server fills with the sign-in settings.
//
//go:embed web
var Files embed.FS
