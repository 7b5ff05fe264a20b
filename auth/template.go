package auth

import (
	"fmt"
	"strings"
)

// issuerTemplate is an iss value that may hold one "{tenantid}", as Entra's
// do: https://login.microsoftonline.com/{tenantid}/v2.0 (v2.0 tokens) and
// https://sts.windows.net/{tenantid}/ (v1.0 tokens). A template without the
// placeholder matches exactly one iss.
type issuerTemplate struct {
	raw            string
	hasTenant      bool
	prefix, suffix string // around the placeholder, when there is one
}

// parseTemplate splits s around its placeholder. It accepts any s;
// checkTemplate says whether s is fit for configuration.
func parseTemplate(s string) issuerTemplate {
	t := issuerTemplate{raw: s}
	t.prefix, t.suffix, t.hasTenant = strings.Cut(s, tenantPlaceholder)
	return t
}

// checkTemplate refuses templates that would match too much: several
// placeholders would let one token's tid stand for several tenants.
func checkTemplate(s string) error {
	if s == "" {
		return fmt.Errorf("issuer is empty")
	}
	if s == tenantPlaceholder {
		return fmt.Errorf("issuer %q is nothing but the placeholder", s)
	}
	if n := strings.Count(s, tenantPlaceholder); n > 1 {
		return fmt.Errorf("issuer %q holds %s %d times, at most once is allowed", s, tenantPlaceholder, n)
	}
	return nil
}

func (t issuerTemplate) templated() bool { return t.hasTenant }

// match reports whether iss is an instance of the template and returns the
// tenant it names ("" for a template without placeholder). The tenant is
// one non-empty path segment, so that "https://x/a/b/v2.0" cannot pass as
// the tenant "a/b" of https://x/{tenantid}/v2.0.
func (t issuerTemplate) match(iss string) (tenant string, ok bool) {
	if !t.templated() {
		return "", iss == t.raw && iss != ""
	}
	if len(iss) <= len(t.prefix)+len(t.suffix) || !strings.HasPrefix(iss, t.prefix) || !strings.HasSuffix(iss, t.suffix) {
		return "", false
	}
	tenant = iss[len(t.prefix) : len(iss)-len(t.suffix)]
	if strings.ContainsAny(tenant, "/?#{} ") {
		return "", false
	}
	return tenant, true
}
