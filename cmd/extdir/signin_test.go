package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/extdir/extdir/auth"
)

// The delegated flows end to end: a user added with `extdir user`, a public
// client added with `extdir client add --public`, each flow driven over
// HTTP as a client library and a browser would, ending in a Graph call
// that the role rule decides.

const (
	userPassword   = "Correct-Horse-42"
	writeScope     = "https://graph.microsoft.com/PendingExternalUserProfile.ReadWrite.All"
	signInScope    = writeScope + " openid profile offline_access"
	loopbackRedir  = "http://127.0.0.1/callback"
	testVerifier   = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkAAAA"
	otherVerifier  = "ZZZftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkAAAA"
	adminRole      = auth.RoleExtendedDirectoryUserAdministrator
	signInInterval = "1s"
)

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (ts *testServer) addUser(tenant, upn, password string, wids ...string) addedUser {
	ts.t.Helper()
	args := []string{"user", "add", "--data-dir", ts.dir, "--tenant", tenant, "--upn", upn, "--display-name", "Test " + upn}
	if password != "" {
		args = append(args, "--password", password)
	}
	if len(wids) > 0 {
		args = append(args, "--wids", strings.Join(wids, ","))
	}
	var u addedUser
	if err := json.Unmarshal([]byte(mustCLI(ts.t, args...)), &u); err != nil {
		ts.t.Fatal(err)
	}
	return u
}

func (ts *testServer) addPublicClient(tenant string, redirects ...string) addedClient {
	ts.t.Helper()
	args := []string{"client", "add", "--data-dir", ts.dir, "--tenant", tenant, "--public", "--name", "Test app"}
	for _, r := range redirects {
		args = append(args, "--redirect-uri", r)
	}
	var c addedClient
	if err := json.Unmarshal([]byte(mustCLI(ts.t, args...)), &c); err != nil {
		ts.t.Fatal(err)
	}
	return c
}

// oauthAnswer is a JSON answer of the token or devicecode endpoint.
type oauthAnswer struct {
	status int
	body   map[string]any
}

func (a oauthAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

// refused reports an error answer with the code and Entra's number
// that issued nothing.
func (a oauthAnswer) refused(code string, aadsts int) bool {
	codes, _ := a.body["error_codes"].([]any)
	numberOK := aadsts == 0 || (len(codes) == 1 && codes[0] == float64(aadsts))
	return a.str("error") == code && numberOK && a.str("access_token") == "" && a.str("refresh_token") == ""
}

func (ts *testServer) post(path string, form url.Values) oauthAnswer {
	ts.t.Helper()
	resp, err := ts.client.PostForm(ts.base+path, form)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := oauthAnswer{status: resp.StatusCode}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		ts.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	return a
}

func tokenPath(tenant string) string { return "/" + tenant + "/oauth2/v2.0/token" }

func (ts *testServer) ropc(tenant, clientID, upn, password string) oauthAnswer {
	ts.t.Helper()
	return ts.post(tokenPath(tenant), url.Values{"grant_type": {"password"}, "client_id": {clientID}, "username": {upn}, "password": {password}, "scope": {signInScope}})
}

// browser is a user agent with cookies that does not follow redirects, so
// that a test sees where the sign-in sends it.
type browser struct {
	ts     *testServer
	client *http.Client
}

func (ts *testServer) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	return &browser{ts: ts, client: &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	header   http.Header
	body     string
	location string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.ts.t.Helper()
	var resp *http.Response
	var err error
	if method == "GET" {
		resp, err = b.client.Get(b.ts.base + path)
	} else {
		resp, err = b.client.PostForm(b.ts.base+path, form)
	}
	if err != nil {
		b.ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw), location: resp.Header.Get("Location")}
}

var (
	formRE   = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// fields are the hidden inputs of the page's form, as a browser posts them.
func (p page) fields() url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

func (p page) action() string {
	m := formRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func authorizeQuery(clientID, redirect, challenge string, extra ...string) url.Values {
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {signInScope},
		"state": {"state-123"}, "nonce": {"nonce-456"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

func authorizePath(tenant string) string { return "/" + tenant + "/oauth2/v2.0/authorize" }

// signInForCode follows the sign-in page with the user's credentials and
// returns the page it ends on (a redirect, when all went well).
func (b *browser) signInForCode(tenant string, q url.Values, upn, password string) page {
	b.ts.t.Helper()
	p := b.do("GET", authorizePath(tenant)+"?"+q.Encode(), nil)
	if p.status != 200 || p.action() == "" {
		b.ts.t.Fatalf("sign-in page: %d %s", p.status, p.body)
	}
	form := p.fields()
	form.Set("username", upn)
	form.Set("password", password)
	return b.do("POST", p.action(), form)
}

// codeFrom reads code and state from a redirect to redirect.
func codeFrom(t *testing.T, p page, redirect string) (code, state string) {
	t.Helper()
	if p.status != http.StatusFound {
		t.Fatalf("sign-in did not redirect: %d %s", p.status, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil || !strings.HasPrefix(p.location, redirect+"?") {
		t.Fatalf("redirected to %q, want %s?...", p.location, redirect)
	}
	return u.Query().Get("code"), u.Query().Get("state")
}

func (ts *testServer) redeem(tenant, clientID, code, redirect, verifier string) oauthAnswer {
	ts.t.Helper()
	return ts.post(tokenPath(tenant), url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}, "scope": {signInScope}})
}

func (ts *testServer) refresh(tenant, clientID, rt string) oauthAnswer {
	ts.t.Helper()
	return ts.post(tokenPath(tenant), url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {rt}})
}

// approveDevice fills the verification page with the user code and the
// user's credentials, pressing the button named action.
func (b *browser) approveDevice(verificationURI, userCode, upn, password, action string) page {
	b.ts.t.Helper()
	path := strings.TrimPrefix(verificationURI, b.ts.base)
	p := b.do("GET", path, nil)
	if p.status != 200 || !strings.Contains(p.body, `name="user_code"`) {
		b.ts.t.Fatalf("verification page: %d %s", p.status, p.body)
	}
	form := p.fields()
	form.Set("user_code", userCode)
	form.Set("username", upn)
	form.Set("password", password)
	form.Set("action", action)
	return b.do("POST", p.action(), form)
}

func (ts *testServer) startDevice(tenant, clientID string) oauthAnswer {
	ts.t.Helper()
	a := ts.post("/"+tenant+"/oauth2/v2.0/devicecode", url.Values{"client_id": {clientID}, "scope": {signInScope}})
	if a.status != 200 || a.str("device_code") == "" || a.str("user_code") == "" {
		ts.t.Fatalf("devicecode: %d %v", a.status, a.body)
	}
	return a
}

func (ts *testServer) pollDevice(tenant, clientID, deviceCode string) oauthAnswer {
	ts.t.Helper()
	return ts.post(tokenPath(tenant), url.Values{"grant_type": {auth.GrantDeviceCode}, "client_id": {clientID}, "device_code": {deviceCode}})
}

func claimsOf(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	return claims
}

func invite(ts *testServer, token string) int {
	ts.t.Helper()
	return ts.req("POST", pendingPath, token, map[string]any{"displayName": "Invited", "phoneNumber": fmt.Sprintf("+1555%07d", time.Now().UnixNano()%1e7)}).status
}

func TestDelegatedFlowsEndToEnd(t *testing.T) {
	ts := startServer(t, "--device-code-interval", signInInterval)
	app := ts.addPublicClient(tenantA, loopbackRedir)
	admin := ts.addUser(tenantA, "admin@contoso.example", userPassword, adminRole)
	plain := ts.addUser(tenantA, "plain@contoso.example", "")
	if plain.Password == "" || admin.Password != "" || !guidRE.MatchString(admin.ObjectID) || admin.TenantID != tenantA {
		t.Fatalf("user add printed %+v and %+v", admin, plain)
	}
	passwords := map[string]string{admin.UPN: userPassword, plain.UPN: plain.Password}

	flows := []struct {
		name string
		get  func(t *testing.T, upn string) oauthAnswer
	}{
		{"password", func(t *testing.T, upn string) oauthAnswer { return ts.ropc(tenantA, app.ClientID, upn, passwords[upn]) }},
		{"device code", func(t *testing.T, upn string) oauthAnswer {
			start := ts.startDevice(tenantA, app.ClientID)
			if got := ts.pollDevice(tenantA, app.ClientID, start.str("device_code")); !got.refused("authorization_pending", 70016) {
				t.Fatalf("poll before sign-in: %v", got.body)
			}
			if p := ts.browser().approveDevice(start.str("verification_uri"), strings.ToLower(start.str("user_code")), upn, passwords[upn], "sign_in"); p.status != 200 {
				t.Fatalf("verification page post: %d %s", p.status, p.body)
			}
			time.Sleep(time.Second)
			return ts.pollDevice(tenantA, app.ClientID, start.str("device_code"))
		}},
		{"authorization code with PKCE", func(t *testing.T, upn string) oauthAnswer {
			p := ts.browser().signInForCode(tenantA, authorizeQuery(app.ClientID, "http://127.0.0.1:43210/callback", challengeOf(testVerifier)), upn, passwords[upn])
			code, state := codeFrom(t, p, "http://127.0.0.1:43210/callback")
			if state != "state-123" {
				t.Errorf("state = %q", state)
			}
			return ts.redeem(tenantA, app.ClientID, code, "http://127.0.0.1:43210/callback", testVerifier)
		}},
		{"refresh token", func(t *testing.T, upn string) oauthAnswer {
			first := ts.ropc(tenantA, app.ClientID, upn, passwords[upn])
			return ts.refresh(tenantA, app.ClientID, first.str("refresh_token"))
		}},
	}
	for _, flow := range flows {
		for _, who := range []struct {
			user   addedUser
			status int
		}{{admin, 201}, {plain, 403}} {
			name := fmt.Sprintf("%s: a user with role %v invites: %d", flow.name, who.user.RoleIDs, who.status)
			t.Run(name, func(t *testing.T) {
				got := flow.get(t, who.user.UPN)
				if got.status != 200 || got.str("access_token") == "" || got.str("id_token") == "" || got.str("refresh_token") == "" || got.str("client_info") == "" {
					t.Fatalf("token answer: %d %v", got.status, got.body)
				}
				at := claimsOf(t, got.str("access_token"))
				if at["oid"] != who.user.ObjectID || at["tid"] != tenantA || at["preferred_username"] != who.user.UPN || at["name"] != "Test "+who.user.UPN || at["roles"] != nil || !strings.Contains(at["scp"].(string), "PendingExternalUserProfile.ReadWrite.All") {
					t.Errorf("access token claims: %v", at)
				}
				id := claimsOf(t, got.str("id_token"))
				if id["aud"] != app.ClientID || id["oid"] != who.user.ObjectID || id["sub"] == nil || id["preferred_username"] != who.user.UPN {
					t.Errorf("id token claims: %v", id)
				}
				info, _ := base64.RawURLEncoding.DecodeString(got.str("client_info"))
				if string(info) != fmt.Sprintf(`{"uid":%q,"utid":%q}`, who.user.ObjectID, tenantA) {
					t.Errorf("client_info = %s", info)
				}
				if status := invite(ts, got.str("access_token")); status != who.status {
					t.Errorf("invite: %d, want %d", status, who.status)
				}
			})
		}
	}

	t.Run("the nonce of the authorization request is in the ID token", func(t *testing.T) {
		p := ts.browser().signInForCode(tenantA, authorizeQuery(app.ClientID, loopbackRedir, challengeOf(testVerifier)), admin.UPN, userPassword)
		code, _ := codeFrom(t, p, loopbackRedir)
		got := ts.redeem(tenantA, app.ClientID, code, loopbackRedir, testVerifier)
		if id := claimsOf(t, got.str("id_token")); id["nonce"] != "nonce-456" {
			t.Errorf("nonce = %v", id["nonce"])
		}
	})

	t.Run("fragment response mode puts the code after #", func(t *testing.T) {
		p := ts.browser().signInForCode(tenantA, authorizeQuery(app.ClientID, loopbackRedir, challengeOf(testVerifier), "response_mode", "fragment"), admin.UPN, userPassword)
		if p.status != http.StatusFound || !strings.HasPrefix(p.location, loopbackRedir+"#") || !strings.Contains(p.location, "code=") {
			t.Errorf("redirect %d %q", p.status, p.location)
		}
	})

	t.Run("discovery lists the delegated endpoints and grants", func(t *testing.T) {
		doc := ts.req("GET", "/"+tenantA+"/v2.0/.well-known/openid-configuration", "", nil).json(t)
		raw, _ := json.Marshal(doc)
		for _, want := range []string{`"device_authorization_endpoint":"` + ts.base + "/" + tenantA + `/oauth2/v2.0/devicecode"`, `"response_types_supported":["code"]`, `"code_challenge_methods_supported":["S256"]`, `"refresh_token"`, `"password"`, `"urn:ietf:params:oauth:grant-type:device_code"`, `"authorization_code"`} {
			if !strings.Contains(string(raw), want) {
				t.Errorf("discovery lacks %s: %s", want, raw)
			}
		}
	})

	t.Run("the sign-in page is locked down", func(t *testing.T) {
		p := ts.browser().do("GET", authorizePath(tenantA)+"?"+authorizeQuery(app.ClientID, loopbackRedir, challengeOf(testVerifier)).Encode(), nil)
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || p.header.Get("X-Frame-Options") != "DENY" || strings.Contains(p.body, "<script") {
			t.Errorf("headers %v", p.header)
		}
		for _, label := range []string{`<label for="username">`, `<label for="password">`} {
			if !strings.Contains(p.body, label) {
				t.Errorf("page lacks %s", label)
			}
		}
	})
}

func TestSignInRefusesHostileInputs(t *testing.T) {
	ts := startServer(t, "--device-code-interval", signInInterval)
	app := ts.addPublicClient(tenantA, loopbackRedir, "https://app.example/callback")
	other := ts.addPublicClient(tenantA, loopbackRedir)
	admin := ts.addUser(tenantA, "admin@contoso.example", userPassword, adminRole)
	challenge := challengeOf(testVerifier)
	freshCode := func(t *testing.T, clientID string) string {
		p := ts.browser().signInForCode(tenantA, authorizeQuery(clientID, loopbackRedir, challenge), admin.UPN, userPassword)
		code, _ := codeFrom(t, p, loopbackRedir)
		return code
	}

	codeCases := []struct {
		name   string
		redeem func(t *testing.T) oauthAnswer
		code   string
		aadsts int
	}{
		{"a reused code is refused with AADSTS54005", func(t *testing.T) oauthAnswer {
			code := freshCode(t, app.ClientID)
			if first := ts.redeem(tenantA, app.ClientID, code, loopbackRedir, testVerifier); first.status != 200 {
				t.Fatalf("first redemption: %v", first.body)
			}
			return ts.redeem(tenantA, app.ClientID, code, loopbackRedir, testVerifier)
		}, "invalid_grant", 54005},
		{"a code of another client is refused with AADSTS70000", func(t *testing.T) oauthAnswer {
			return ts.redeem(tenantA, other.ClientID, freshCode(t, app.ClientID), loopbackRedir, testVerifier)
		}, "invalid_grant", 70000},
		{"a wrong PKCE verifier is refused with AADSTS501481", func(t *testing.T) oauthAnswer {
			return ts.redeem(tenantA, app.ClientID, freshCode(t, app.ClientID), loopbackRedir, otherVerifier)
		}, "invalid_grant", 501481},
		{"a code redeemed for another redirect URI is refused with AADSTS50011", func(t *testing.T) oauthAnswer {
			return ts.redeem(tenantA, app.ClientID, freshCode(t, app.ClientID), "https://app.example/callback", testVerifier)
		}, "invalid_grant", 50011},
		{"a forged code is refused as malformed", func(t *testing.T) oauthAnswer {
			return ts.redeem(tenantA, app.ClientID, "AAAA"+strings.Repeat("x", 80), loopbackRedir, testVerifier)
		}, "invalid_grant", 9002313},
		{"an unknown client is refused with AADSTS700016", func(t *testing.T) oauthAnswer {
			return ts.ropc(tenantA, "11111111-2222-3333-4444-555555555555", admin.UPN, userPassword)
		}, "invalid_client", 700016},
		{"a public client sending a secret is refused with AADSTS700025", func(t *testing.T) oauthAnswer {
			return ts.post(tokenPath(tenantA), url.Values{"grant_type": {"password"}, "client_id": {app.ClientID}, "client_secret": {"x"}, "username": {admin.UPN}, "password": {userPassword}, "scope": {signInScope}})
		}, "invalid_client", 700025},
		{"an overlong username is refused", func(t *testing.T) oauthAnswer {
			return ts.ropc(tenantA, app.ClientID, strings.Repeat("a", 300)+"@contoso.example", userPassword)
		}, "invalid_request", 90015},
		{"an unknown Graph permission is refused with AADSTS70011", func(t *testing.T) oauthAnswer {
			return ts.post(tokenPath(tenantA), url.Values{"grant_type": {"password"}, "client_id": {app.ClientID}, "username": {admin.UPN}, "password": {userPassword}, "scope": {"https://graph.microsoft.com/Directory.ReadWrite.All"}})
		}, "invalid_scope", 70011},
	}
	for _, c := range codeCases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.redeem(t); !got.refused(c.code, c.aadsts) {
				t.Errorf("got %d %v, want %s AADSTS%d", got.status, got.body, c.code, c.aadsts)
			}
		})
	}

	pageCases := []struct {
		name  string
		query url.Values
		shows string
	}{
		{"an unregistered redirect URI is shown on the page, not redirected", authorizeQuery(app.ClientID, "https://evil.example/callback", challenge), "AADSTS50011"},
		{"an open-redirect attempt with a bad response_type is shown on the page, not redirected", authorizeQuery(app.ClientID, "https://evil.example/", challenge, "response_type", "token"), "AADSTS50011"},
		{"a look-alike of a loopback redirect URI is shown on the page", authorizeQuery(app.ClientID, "http://127.0.0.1.evil.example/callback", challenge), "AADSTS50011"},
		{"an unknown client is shown on the page", authorizeQuery("11111111-2222-3333-4444-555555555555", loopbackRedir, challenge), "AADSTS700016"},
	}
	for _, c := range pageCases {
		t.Run(c.name, func(t *testing.T) {
			p := ts.browser().do("GET", authorizePath(tenantA)+"?"+c.query.Encode(), nil)
			if p.status != 400 || p.location != "" || !strings.Contains(p.body, c.shows) || strings.Contains(p.body, "<form") {
				t.Errorf("got %d, Location %q, body %s", p.status, p.location, p.body)
			}
		})
	}

	redirectedCases := []struct {
		name, key, value, aadsts string
	}{
		{"the plain PKCE method is refused at the redirect URI", "code_challenge_method", "plain", "AADSTS501481"},
		{"a public client without PKCE is refused at the redirect URI", "code_challenge", "", "AADSTS9002325"},
		{"an unsupported response type is refused at the redirect URI", "response_type", "token", "AADSTS700054"},
	}
	for _, c := range redirectedCases {
		t.Run(c.name, func(t *testing.T) {
			q := authorizeQuery(app.ClientID, loopbackRedir, challenge, c.key, c.value)
			if c.value == "" {
				q.Del(c.key)
				q.Del("code_challenge_method")
			}
			p := ts.browser().do("GET", authorizePath(tenantA)+"?"+q.Encode(), nil)
			u, _ := url.Parse(p.location)
			if p.status != 302 || !strings.HasPrefix(p.location, loopbackRedir+"?") || u.Query().Get("code") != "" || !strings.Contains(u.Query().Get("error_description"), c.aadsts) || u.Query().Get("state") != "state-123" {
				t.Errorf("got %d %q", p.status, p.location)
			}
		})
	}

	t.Run("a CSRF post without its token is refused and issues no code", func(t *testing.T) {
		b := ts.browser()
		p := b.do("GET", authorizePath(tenantA)+"?"+authorizeQuery(app.ClientID, loopbackRedir, challenge).Encode(), nil)
		form := p.fields()
		form.Del("csrf_token")
		form.Set("username", admin.UPN)
		form.Set("password", userPassword)
		if got := b.do("POST", p.action(), form); got.status != 403 || got.location != "" {
			t.Errorf("without token: %d %q", got.status, got.location)
		}
		// The token of another browser (another cookie) does not pass either.
		form.Set("csrf_token", ts.browser().do("GET", authorizePath(tenantA)+"?"+authorizeQuery(app.ClientID, loopbackRedir, challenge).Encode(), nil).fields().Get("csrf_token"))
		if got := b.do("POST", p.action(), form); got.status != 403 || got.location != "" {
			t.Errorf("with another browser's token: %d %q", got.status, got.location)
		}
		// Nor does a token with a hidden field changed under it.
		form = p.fields()
		form.Set("redirect_uri", "https://app.example/callback")
		form.Set("username", admin.UPN)
		form.Set("password", userPassword)
		if got := b.do("POST", p.action(), form); got.status != 403 || got.location != "" {
			t.Errorf("with a changed field: %d %q", got.status, got.location)
		}
	})

	t.Run("a wrong password on the page shows the form again, keeping the hidden fields", func(t *testing.T) {
		p := ts.browser().signInForCode(tenantA, authorizeQuery(app.ClientID, loopbackRedir, challenge), admin.UPN, "not-the-password")
		if p.status != 400 || p.location != "" || !strings.Contains(p.body, "AADSTS50126") || p.fields().Get("code_challenge") != challenge {
			t.Errorf("got %d %q %s", p.status, p.location, p.body)
		}
	})

	t.Run("a rotated refresh token reused revokes its family with AADSTS50173", func(t *testing.T) {
		first := ts.ropc(tenantA, app.ClientID, admin.UPN, userPassword)
		second := ts.refresh(tenantA, app.ClientID, first.str("refresh_token"))
		if second.status != 200 {
			t.Fatalf("rotation: %v", second.body)
		}
		if got := ts.refresh(tenantA, app.ClientID, first.str("refresh_token")); !got.refused("invalid_grant", 50173) {
			t.Errorf("reuse: %v", got.body)
		}
		if got := ts.refresh(tenantA, app.ClientID, second.str("refresh_token")); !got.refused("invalid_grant", 50173) {
			t.Errorf("the family's newest token after the reuse: %v", got.body)
		}
	})

	t.Run("a refresh token of another client is refused with AADSTS70000", func(t *testing.T) {
		first := ts.ropc(tenantA, app.ClientID, admin.UPN, userPassword)
		if got := ts.refresh(tenantA, other.ClientID, first.str("refresh_token")); !got.refused("invalid_grant", 70000) {
			t.Errorf("got %v", got.body)
		}
	})

	t.Run("a declined device code gets authorization_declined, and a fast poller slow_down", func(t *testing.T) {
		start := ts.startDevice(tenantA, app.ClientID)
		ts.pollDevice(tenantA, app.ClientID, start.str("device_code"))
		if got := ts.pollDevice(tenantA, app.ClientID, start.str("device_code")); !got.refused("slow_down", 0) {
			t.Errorf("fast poll: %v", got.body)
		}
		if p := ts.browser().approveDevice(start.str("verification_uri"), start.str("user_code"), "", "", "decline"); p.status != 200 {
			t.Fatalf("decline: %d %s", p.status, p.body)
		}
		if got := ts.pollDevice(tenantA, app.ClientID, start.str("device_code")); !got.refused("authorization_declined", 0) {
			t.Errorf("after decline: %v", got.body)
		}
	})

	t.Run("a device code of another client is refused", func(t *testing.T) {
		start := ts.startDevice(tenantA, app.ClientID)
		if got := ts.pollDevice(tenantA, other.ClientID, start.str("device_code")); !got.refused("invalid_grant", 70000) {
			t.Errorf("got %v", got.body)
		}
	})

	t.Run("a password change revokes refresh tokens and the old password", func(t *testing.T) {
		u := ts.addUser(tenantA, "changer@contoso.example", userPassword, adminRole)
		first := ts.ropc(tenantA, app.ClientID, u.UPN, userPassword)
		mustCLI(t, "user", "set-password", "--data-dir", ts.dir, "--user", u.ObjectID, "--password", "Another-Pass-99")
		if got := ts.refresh(tenantA, app.ClientID, first.str("refresh_token")); !got.refused("invalid_grant", 50173) {
			t.Errorf("refresh after the change: %v", got.body)
		}
		if got := ts.ropc(tenantA, app.ClientID, u.UPN, userPassword); !got.refused("invalid_grant", 50126) {
			t.Errorf("old password: %v", got.body)
		}
		if got := ts.ropc(tenantA, app.ClientID, u.UPN, "Another-Pass-99"); got.status != 200 {
			t.Errorf("new password: %v", got.body)
		}
	})

	t.Run("a removed user cannot sign in and their refresh token stops working", func(t *testing.T) {
		u := ts.addUser(tenantA, "leaver@contoso.example", userPassword, adminRole)
		first := ts.ropc(tenantA, app.ClientID, u.UPN, userPassword)
		mustCLI(t, "user", "remove", "--data-dir", ts.dir, "--tenant", tenantA, "--user", u.UPN)
		if got := ts.ropc(tenantA, app.ClientID, u.UPN, userPassword); !got.refused("invalid_grant", 50126) {
			t.Errorf("sign-in: %v", got.body)
		}
		if got := ts.refresh(tenantA, app.ClientID, first.str("refresh_token")); !got.refused("invalid_grant", 50173) {
			t.Errorf("refresh: %v", got.body)
		}
	})

	t.Run("brute force is locked out with AADSTS50053, even with the right password", func(t *testing.T) {
		u := ts.addUser(tenantA, "target@contoso.example", userPassword, adminRole)
		for range 5 {
			if got := ts.ropc(tenantA, app.ClientID, u.UPN, "guess-guess"); !got.refused("invalid_grant", 50126) {
				t.Fatalf("guess: %v", got.body)
			}
		}
		if got := ts.ropc(tenantA, app.ClientID, u.UPN, userPassword); !got.refused("invalid_grant", 50053) {
			t.Errorf("after 5 failures: %v", got.body)
		}
		p := ts.browser().signInForCode(tenantA, authorizeQuery(app.ClientID, loopbackRedir, challenge), u.UPN, userPassword)
		if p.location != "" || !strings.Contains(p.body, "AADSTS50053") {
			t.Errorf("sign-in page after 5 failures: %d %q", p.status, p.location)
		}
	})
}

func TestConfiguredUsersAndDisabledUsers(t *testing.T) {
	hashOut := mustCLI(t, "user", "hash-password", "--password", userPassword)
	var h struct {
		Hash string `json:"password_hash"`
	}
	if err := json.Unmarshal([]byte(hashOut), &h); err != nil || !strings.HasPrefix(h.Hash, "$argon2id$v=19$") {
		t.Fatalf("hash-password printed %q", hashOut)
	}
	conf := writeAuthConfig(t, map[string]any{"users": []any{
		map[string]any{"upn": "ci@contoso.example", "tenant": tenantA, "password_hash": h.Hash, "wids": []string{adminRole}},
		map[string]any{"upn": "off@contoso.example", "tenant": tenantA, "password_hash": h.Hash, "wids": []string{adminRole}, "disabled": true},
	}})
	ts := startServer(t, "--auth-config", conf)
	app := ts.addPublicClient(tenantA)
	t.Run("a configured user signs in and invites: 201", func(t *testing.T) {
		got := ts.ropc(tenantA, app.ClientID, "CI@contoso.example", userPassword)
		if got.status != 200 || invite(ts, got.str("access_token")) != 201 {
			t.Errorf("got %v", got.body)
		}
	})
	t.Run("a disabled user is refused with AADSTS50057", func(t *testing.T) {
		if got := ts.ropc(tenantA, app.ClientID, "off@contoso.example", userPassword); !got.refused("invalid_grant", 50057) {
			t.Errorf("got %v", got.body)
		}
	})
	t.Run("a user of another tenant is unknown there", func(t *testing.T) {
		b := ts.addPublicClient(tenantB)
		if got := ts.ropc(tenantB, b.ClientID, "ci@contoso.example", userPassword); !got.refused("invalid_grant", 50126) {
			t.Errorf("got %v", got.body)
		}
	})
	t.Run("an unknown member of users is refused at start", func(t *testing.T) {
		bad := writeAuthConfig(t, map[string]any{"users": []any{map[string]any{"upn": "x@y.z", "tenant": tenantA, "password": userPassword}}})
		if _, err := cli(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--auth-config", bad); err == nil || !strings.Contains(err.Error(), "password") {
			t.Errorf("serve: %v", err)
		}
	})
}
