package auth

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// maxRedirectURILength is Entra's limit on a redirect URI.
const maxRedirectURILength = 256

// checkRedirectURI accepts what Entra lets an application register: an
// absolute URI without fragment or user info, https, http on a loopback
// address only (a desktop app listening on the machine), or a custom scheme
// (msal<id>://auth of mobile and desktop apps).
func checkRedirectURI(uri string) error {
	u, err := url.Parse(uri)
	switch {
	case err != nil || len(uri) > maxRedirectURILength:
		return fmt.Errorf("redirect URI %q is not a URI of at most %d characters", clip(uri), maxRedirectURILength)
	case u.Scheme == "" || u.Opaque != "" || (u.Host == "" && (u.Scheme == "http" || u.Scheme == "https")):
		return fmt.Errorf("redirect URI %q is not absolute", uri)
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return fmt.Errorf("redirect URI %q holds a fragment, which OAuth forbids", uri)
	case u.User != nil:
		return fmt.Errorf("redirect URI %q holds user info", uri)
	case strings.Contains(uri, "*"):
		return fmt.Errorf("redirect URI %q holds a wildcard: register each URI", uri)
	case u.Scheme == "http" && !isLoopbackRedirect(u):
		return fmt.Errorf("redirect URI %q is plain http: only loopback addresses (http://localhost, http://127.0.0.1, http://[::1]) may use http", uri)
	}
	return nil
}

// isLoopbackRedirect reports a URI of a local HTTP listener, whose port the
// application picks when it starts.
func isLoopbackRedirect(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redirectAllowed reports whether uri is one of the client's redirect URIs:
// compared exactly, as Entra does, except that for a registered loopback
// URI any port matches (RFC 8252 §7.3), the rest still exactly.
func (c *Client) redirectAllowed(uri string) bool {
	if uri == "" || len(uri) > maxRedirectURILength {
		return false
	}
	if slices.Contains(c.RedirectURIs, uri) {
		return true
	}
	got, err := url.Parse(uri)
	if err != nil || !isLoopbackRedirect(got) || got.Fragment != "" || got.User != nil {
		return false
	}
	for _, registered := range c.RedirectURIs {
		want, err := url.Parse(registered)
		if err != nil || !isLoopbackRedirect(want) {
			continue
		}
		if strings.EqualFold(want.Hostname(), got.Hostname()) && want.EscapedPath() == got.EscapedPath() && want.RawQuery == got.RawQuery {
			return true
		}
	}
	return false
}
