package auth

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/extdir/extdir"
)

// Config is the authentication configuration file (extdir serve
// --auth-config): the external issuers whose tokens extdir accepts, and
// clients of the built-in token endpoint and the test users who sign in to
// it. It is JSON, read strictly: an
// unknown member is an error, so that a misspelt "jwks_url" does not
// silently leave an issuer without keys.
type Config struct {
	Issuers []IssuerConfig `json:"issuers"`
	Clients []Client       `json:"clients"`
	// Users sign in by the delegated flows; object_id may be left out
	// (a stable one is derived from tenant and upn).
	Users []User `json:"users"`
}

// IssuerConfig is one trusted external issuer.
type IssuerConfig struct {
	// Issuer is the iss of its tokens, with at most one "{tenantid}" that
	// stands for the token's tid, as in Entra's
	// "https://login.microsoftonline.com/{tenantid}/v2.0".
	Issuer string `json:"issuer"`
	// JWKSURI is where its signing keys are published; give it or
	// DiscoveryURL, not both.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// DiscoveryURL is its OpenID configuration, which names the jwks_uri.
	DiscoveryURL string `json:"discovery_url,omitempty"`
	// Audiences are the accepted aud values; at least one.
	Audiences []string `json:"audiences"`
	// Tenants, when not empty, are the only tid values accepted.
	Tenants []string `json:"tenants,omitempty"`
	// RefreshInterval is how long fetched keys are used before they are
	// fetched again; default DefaultRefreshInterval.
	RefreshInterval Duration `json:"refresh_interval,omitempty"`
	// MinRefreshInterval is the least time between two fetches, whatever
	// tokens arrive; default DefaultMinRefreshInterval, at least a second.
	MinRefreshInterval Duration `json:"min_refresh_interval,omitempty"`
}

// Duration is a time.Duration written in JSON as a string such as "5m".
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"5m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// LoadConfig reads and checks the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("auth config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and checks a configuration document.
func ParseConfig(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check reports the first mistake in c.
func (c *Config) Check() error {
	seen := map[string]bool{}
	for n, is := range c.Issuers {
		if err := is.check(); err != nil {
			return fmt.Errorf("issuers[%d]: %w", n, err)
		}
		// One entry per issuer: two would race for the same tokens, and
		// audiences and tenants are lists already.
		if seen[is.Issuer] {
			return fmt.Errorf("issuers[%d]: issuer %q is configured twice", n, is.Issuer)
		}
		seen[is.Issuer] = true
	}
	ids := map[string]bool{}
	for n, cl := range c.Clients {
		if err := cl.check(); err != nil {
			return fmt.Errorf("clients[%d]: %w", n, err)
		}
		if ids[cl.ID] {
			return fmt.Errorf("clients[%d]: client_id %q is configured twice", n, cl.ID)
		}
		ids[cl.ID] = true
	}
	users := map[string]bool{}
	for n, u := range c.Users {
		if u.ObjectID == "" {
			u.ObjectID = configuredObjectID(u.Tenant, u.UPN)
		}
		if err := u.check(); err != nil {
			return fmt.Errorf("users[%d]: %w", n, err)
		}
		name := strings.ToLower(u.Tenant + "/" + u.UPN)
		if users[name] || users[u.ObjectID] {
			return fmt.Errorf("users[%d]: user %q (object id %s) is configured twice", n, u.UPN, u.ObjectID)
		}
		users[name], users[u.ObjectID] = true, true
	}
	return nil
}

func (is *IssuerConfig) check() error {
	if err := checkTemplate(is.Issuer); err != nil {
		return err
	}
	switch {
	case (is.JWKSURI == "") == (is.DiscoveryURL == ""):
		return fmt.Errorf("issuer %q needs exactly one of jwks_uri and discovery_url", is.Issuer)
	case is.JWKSURI != "":
		if err := checkKeyURL(is.JWKSURI); err != nil {
			return fmt.Errorf("jwks_uri: %w", err)
		}
	default:
		if err := checkKeyURL(is.DiscoveryURL); err != nil {
			return fmt.Errorf("discovery_url: %w", err)
		}
	}
	if len(is.Audiences) == 0 {
		return fmt.Errorf("issuer %q has no audiences: list the aud values of tokens meant for extdir", is.Issuer)
	}
	for _, a := range is.Audiences {
		if a == "" {
			return fmt.Errorf("issuer %q has an empty audience", is.Issuer)
		}
	}
	for _, t := range is.Tenants {
		if err := checkTenant(t); err != nil {
			return err
		}
	}
	if is.MinRefreshInterval != 0 && time.Duration(is.MinRefreshInterval) < time.Second {
		return fmt.Errorf("min_refresh_interval %v is below one second", time.Duration(is.MinRefreshInterval))
	}
	if is.RefreshInterval < 0 {
		return fmt.Errorf("refresh_interval %v is negative", time.Duration(is.RefreshInterval))
	}
	return nil
}

// checkTenant accepts what can stand in a tid claim and a URL path segment.
func checkTenant(t string) error {
	if t == "" || len(t) > maxTenantLength || strings.ContainsFunc(t, func(r rune) bool {
		return r == '/' || r == '?' || r == '#' || r == '%' || unicode.IsSpace(r) || unicode.IsControl(r)
	}) {
		return fmt.Errorf("tenant %q is not a usable tenant id", t)
	}
	return nil
}

// maxTenantLength bounds a tenant id; Entra's are 36-character GUIDs.
const maxTenantLength = 128

// checkRoles accepts the permissions of the external profile API only, so
// that a misspelt role fails at registration rather than as a 403 later.
func checkRoles(roles []string) error {
	if len(roles) == 0 {
		return errors.New("no roles: grant at least one permission")
	}
	for _, r := range roles {
		if !knownPermission(r) {
			return fmt.Errorf("unknown role %q (known: %s)", r, strings.Join(Permissions(), ", "))
		}
	}
	return nil
}

// Permissions lists every application permission of the API: the two of
// each kind of profile, and the audit log's.
func Permissions() []string {
	var out []string
	for _, k := range extdir.Kinds {
		out = append(out, k.ReadPermission(), k.WritePermission())
	}
	return append(out, PermissionAuditLogRead)
}

// AllGrants are the least permissions that allow everything: the
// ReadWrite permission of each kind, and the audit log's. Development
// tokens and the test kit's default to them.
func AllGrants() []string {
	var out []string
	for _, k := range extdir.Kinds {
		out = append(out, k.WritePermission())
	}
	return append(out, PermissionAuditLogRead)
}

func knownPermission(p string) bool {
	for _, k := range extdir.Kinds {
		if p == k.ReadPermission() || p == k.WritePermission() {
			return true
		}
	}
	return p == PermissionAuditLogRead
}

// checkSecretHash accepts a hex SHA-256 digest.
func checkSecretHash(h string) error {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return errors.New("secret_sha256 must be 64 hex digits (extdir client secret prints one)")
	}
	return nil
}
