package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Expiry of what the delegated flows hand out: authorization codes, device
// codes, refresh tokens and the access tokens they mint, driven through the
// Provider with one clock, shared by the sign-in state and the Issuer, that
// the tests move.

const (
	expiryPassword = "Correct-Horse-42"
	expiryUPN      = "alice@contoso.example"
	expiryRedirect = "http://127.0.0.1/callback"
	expiryScope    = "https://graph.microsoft.com/PendingExternalUserProfile.ReadWrite.All openid profile offline_access"
	expiryVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkAAAA"
	expiryInterval = time.Second
)

// signInFixture is a Provider with sign-in enabled, a public client with a
// loopback redirect URI and one user, all on the clock clk.
type signInFixture struct {
	p      *Provider
	clk    *clock
	client *Client
	user   *User
}

func newSignInFixture(t *testing.T) *signInFixture {
	t.Helper()
	dir := t.TempDir()
	clk := &clock{t: t0}
	iss, err := OpenIssuer(dir, IssuerOptions{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	client, _, err := RegisterClientWith(dir, ClientRegistration{Name: "expiry app", Tenant: testTenant, Public: true, RedirectURIs: []string{expiryRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	user, _, err := AddUser(dir, UserRegistration{Tenant: testTenant, UPN: expiryUPN, Password: expiryPassword, RoleIDs: []string{RoleExtendedDirectoryUserAdministrator}})
	if err != nil {
		t.Fatal(err)
	}
	clients, err := NewClients(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	users, err := NewUsers(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{Issuer: iss, Clients: clients}
	if err := p.EnableSignIn(dir, users, SignInOptions{DeviceCodeInterval: expiryInterval, Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	return &signInFixture{p: p, clk: clk, client: client, user: user}
}

// code signs the user in on the authorization page, as the authorize
// handler does, and returns the code the redirect URI would get.
func (f *signInFixture) code(t *testing.T) string {
	t.Helper()
	req := AuthorizeRequest{
		Tenant: testTenant, ClientID: f.client.ID, RedirectURI: expiryRedirect, ResponseType: "code",
		Scope: expiryScope, State: "s", Nonce: "n", CodeChallenge: pkceChallenge(expiryVerifier), CodeChallengeMethod: "S256",
	}
	client, err := f.p.AuthorizeClient(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.p.CheckAuthorizeRequest(client, req); err != nil {
		t.Fatal(err)
	}
	code, err := f.p.AuthorizeSignIn(client, req, expiryUPN, expiryPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (f *signInFixture) redeem(code string) (*TokenResponse, error) {
	return f.p.Token(TokenRequest{
		Tenant: testTenant, GrantType: GrantAuthorizationCode, ClientID: f.client.ID,
		Code: code, RedirectURI: expiryRedirect, CodeVerifier: expiryVerifier,
	})
}

func (f *signInFixture) refresh(rt string) (*TokenResponse, error) {
	return f.p.Token(TokenRequest{Tenant: testTenant, GrantType: GrantRefreshToken, ClientID: f.client.ID, RefreshToken: rt})
}

func (f *signInFixture) startDevice(t *testing.T) *DeviceAuthorizationResponse {
	t.Helper()
	d, err := f.p.StartDeviceAuthorization(TokenRequest{Tenant: testTenant, ClientID: f.client.ID, Scope: expiryScope}, "https://login.example/devicelogin")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *signInFixture) poll(deviceCode string) (*TokenResponse, error) {
	return f.p.Token(TokenRequest{Tenant: testTenant, GrantType: GrantDeviceCode, ClientID: f.client.ID, DeviceCode: deviceCode})
}

// signedIn redeems a fresh code: tokens with a refresh token.
func (f *signInFixture) signedIn(t *testing.T) *TokenResponse {
	t.Helper()
	resp, err := f.redeem(f.code(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.RefreshToken == "" || resp.AccessToken == "" {
		t.Fatalf("sign-in gave %+v", resp)
	}
	return resp
}

// wantRefusal checks that a token request was refused with code and aadsts
// and that nothing was issued.
func wantRefusal(t *testing.T, resp *TokenResponse, err error, code string, aadsts int) {
	t.Helper()
	var oe *OAuthError
	if !errors.As(err, &oe) {
		t.Fatalf("got %+v, %v; want %s AADSTS%d", resp, err, code, aadsts)
	}
	if oe.Code != code || oe.AADSTS != aadsts || oe.Status != 400 {
		t.Errorf("got %s %d AADSTS%d, want %s 400 AADSTS%d (%s)", oe.Code, oe.Status, oe.AADSTS, code, aadsts, oe.Description)
	}
	if resp != nil {
		t.Errorf("a refusal issued %+v", resp)
	}
}

func wantTokens(t *testing.T, resp *TokenResponse, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if resp == nil || resp.AccessToken == "" || resp.RefreshToken == "" || resp.IDToken == "" {
		t.Fatalf("response %+v lacks a token", resp)
	}
}

func TestAuthorizationCodeExpiry(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration // from the code's issue to its redemption
		code  string        // "" for success
	}{
		{"redeemed at once it gives tokens", 0, ""},
		{"redeemed a second before its lifetime ends it gives tokens", CodeLifetime - time.Second, ""},
		{"redeemed when its lifetime ends it is invalid_grant AADSTS70008", CodeLifetime, "invalid_grant"},
		{"redeemed a second after its lifetime it is invalid_grant AADSTS70008", CodeLifetime + time.Second, "invalid_grant"},
		{"redeemed a day later it is invalid_grant AADSTS70008", 24 * time.Hour, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignInFixture(t)
			code := f.code(t)
			f.clk.advance(tt.after)
			resp, err := f.redeem(code)
			if tt.code == "" {
				wantTokens(t, resp, err)
				return
			}
			wantRefusal(t, resp, err, tt.code, 70008)
		})
	}

	t.Run("an expired code refused does not spoil a fresh one", func(t *testing.T) {
		f := newSignInFixture(t)
		stale := f.code(t)
		f.clk.advance(CodeLifetime)
		resp, err := f.redeem(stale)
		wantRefusal(t, resp, err, "invalid_grant", 70008)
		fresh := f.code(t)
		f.clk.advance(CodeLifetime - time.Second)
		resp, err = f.redeem(fresh)
		wantTokens(t, resp, err)
	})
}

func TestDeviceCodeExpiry(t *testing.T) {
	tests := []struct {
		name      string
		approve   bool          // whether the user signs in on the verification page
		approveAt time.Duration // from the start, when approve
		pollAt    time.Duration // from the start
		code      string        // "" for tokens
		aadsts    int
	}{
		{"polled before the user signs in it is authorization_pending", false, 0, expiryInterval, "authorization_pending", 70016},
		{"polled a second before it expires, not signed in, it is authorization_pending", false, 0, DeviceCodeLifetime - time.Second, "authorization_pending", 70016},
		{"polled when it expires, not signed in, it is expired_token", false, 0, DeviceCodeLifetime, "expired_token", 70019},
		{"polled an hour after it expired it is expired_token", false, 0, DeviceCodeLifetime + time.Hour, "expired_token", 70019},
		{"signed in and polled a second before it expires it gives tokens", true, DeviceCodeLifetime - 2*time.Second, DeviceCodeLifetime - time.Second, "", 0},
		{"signed in but polled when it expires it is expired_token", true, time.Minute, DeviceCodeLifetime, "expired_token", 70019},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignInFixture(t)
			d := f.startDevice(t)
			if d.ExpiresIn != int(DeviceCodeLifetime/time.Second) {
				t.Errorf("expires_in %d, want %d", d.ExpiresIn, int(DeviceCodeLifetime/time.Second))
			}
			if tt.approve {
				f.clk.advance(tt.approveAt)
				if err := f.p.ApproveDevice(testTenant, d.UserCode, expiryUPN, expiryPassword, "192.0.2.1"); err != nil {
					t.Fatal(err)
				}
				f.clk.advance(tt.pollAt - tt.approveAt)
			} else {
				f.clk.advance(tt.pollAt)
			}
			resp, err := f.poll(d.DeviceCode)
			if tt.code == "" {
				wantTokens(t, resp, err)
				return
			}
			wantRefusal(t, resp, err, tt.code, tt.aadsts)
		})
	}

	t.Run("an expired device code is forgotten and its user code cannot be signed in with", func(t *testing.T) {
		f := newSignInFixture(t)
		d := f.startDevice(t)
		f.clk.advance(DeviceCodeLifetime)
		err := f.p.ApproveDevice(testTenant, d.UserCode, expiryUPN, expiryPassword, "192.0.2.1")
		wantRefusal(t, nil, err, "invalid_request", 70000)
		if _, err := f.p.LookUpUserCode(testTenant, d.UserCode); err == nil {
			t.Error("the verification page still shows an expired user code")
		}
		resp, err := f.poll(d.DeviceCode)
		wantRefusal(t, resp, err, "expired_token", 70019)
		// Once told it expired, the device code is gone.
		resp, err = f.poll(d.DeviceCode)
		wantRefusal(t, resp, err, "invalid_grant", 70000)
	})
}

func TestRefreshTokenExpiry(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration // from the refresh token's issue to its use
		code  string        // "" for success
	}{
		{"used at once it rotates", 0, ""},
		{"used a second before its lifetime ends it rotates", RefreshTokenLifetime - time.Second, ""},
		{"used when its lifetime ends it is invalid_grant AADSTS700082", RefreshTokenLifetime, "invalid_grant"},
		{"used a day after its lifetime it is invalid_grant AADSTS700082", RefreshTokenLifetime + 24*time.Hour, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignInFixture(t)
			first := f.signedIn(t)
			f.clk.advance(tt.after)
			resp, err := f.refresh(first.RefreshToken)
			if tt.code != "" {
				wantRefusal(t, resp, err, tt.code, 700082)
				return
			}
			wantTokens(t, resp, err)
			if resp.RefreshToken == first.RefreshToken {
				t.Fatal("the refresh token was not rotated")
			}
			// Rotated: the old one is spent.
			again, err := f.refresh(first.RefreshToken)
			wantRefusal(t, again, err, "invalid_grant", 50173)
		})
	}

	t.Run("a rotated refresh token lives its full lifetime from its rotation", func(t *testing.T) {
		f := newSignInFixture(t)
		first := f.signedIn(t)
		f.clk.advance(RefreshTokenLifetime - time.Hour)
		second, err := f.refresh(first.RefreshToken)
		wantTokens(t, second, err)
		// Past the first token's end, within the second's.
		f.clk.advance(RefreshTokenLifetime - time.Second)
		third, err := f.refresh(second.RefreshToken)
		wantTokens(t, third, err)
		f.clk.advance(RefreshTokenLifetime)
		resp, err := f.refresh(third.RefreshToken)
		wantRefusal(t, resp, err, "invalid_grant", 700082)
	})

	t.Run("an expired refresh token refused does not revoke its family", func(t *testing.T) {
		f := newSignInFixture(t)
		first := f.signedIn(t)
		f.clk.advance(time.Hour)
		second, err := f.refresh(first.RefreshToken)
		wantTokens(t, second, err)
		f.clk.advance(RefreshTokenLifetime - time.Hour)
		resp, err := f.refresh(first.RefreshToken)
		wantRefusal(t, resp, err, "invalid_grant", 700082)
		resp, err = f.refresh(second.RefreshToken)
		wantTokens(t, resp, err)
	})
}

func TestDelegatedAccessTokenExpiry(t *testing.T) {
	// Each flow mints at the clock's time; mint returns the response.
	flows := []struct {
		name string
		mint func(t *testing.T, f *signInFixture) *TokenResponse
	}{
		{"authorization code", func(t *testing.T, f *signInFixture) *TokenResponse {
			code := f.code(t)
			f.clk.advance(CodeLifetime - time.Second)
			resp, err := f.redeem(code)
			wantTokens(t, resp, err)
			return resp
		}},
		{"device code", func(t *testing.T, f *signInFixture) *TokenResponse {
			d := f.startDevice(t)
			f.clk.advance(time.Minute)
			if err := f.p.ApproveDevice(testTenant, d.UserCode, expiryUPN, expiryPassword, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			f.clk.advance(time.Minute)
			resp, err := f.poll(d.DeviceCode)
			wantTokens(t, resp, err)
			return resp
		}},
		{"refresh token", func(t *testing.T, f *signInFixture) *TokenResponse {
			// Long after the first access token expired: the new one
			// counts from the refresh, not from the sign-in.
			first := f.signedIn(t)
			f.clk.advance(7 * 24 * time.Hour)
			resp, err := f.refresh(first.RefreshToken)
			wantTokens(t, resp, err)
			return resp
		}},
	}
	checks := []struct {
		name   string
		leeway time.Duration
		after  time.Duration // from minting to verifying
		ok     bool
	}{
		{"verifies at once", 0, 0, true},
		{"verifies a second before exp", 0, TokenLifetime - time.Second, true},
		{"is expired at exp", 0, TokenLifetime, false},
		{"is expired a day after exp", 0, TokenLifetime + 24*time.Hour, false},
		{"verifies within the leeway after exp", 30 * time.Second, TokenLifetime + 29*time.Second, true},
		{"is expired at exp plus the leeway", 30 * time.Second, TokenLifetime + 30*time.Second, false},
	}
	for _, flow := range flows {
		t.Run(flow.name, func(t *testing.T) {
			for _, c := range checks {
				t.Run("its access token "+c.name, func(t *testing.T) {
					f := newSignInFixture(t)
					resp := flow.mint(t, f)
					mintedAt := f.clk.now()
					if resp.ExpiresIn != int(TokenLifetime/time.Second)-1 {
						t.Errorf("expires_in %d, want %d", resp.ExpiresIn, int(TokenLifetime/time.Second)-1)
					}
					var claims struct {
						Exp int64 `json:"exp"`
						Iat int64 `json:"iat"`
					}
					decodeSegment(t, splitJWT(t, resp.AccessToken)[1], &claims)
					if claims.Iat != mintedAt.Unix() || claims.Exp != mintedAt.Add(TokenLifetime).Unix() {
						t.Errorf("iat %d exp %d, want %d and %d", claims.Iat, claims.Exp, mintedAt.Unix(), mintedAt.Add(TokenLifetime).Unix())
					}
					v := f.p.Issuer.Verifier(nil, c.leeway)
					f.clk.advance(c.after)
					pr, err := v.Verify(context.Background(), resp.AccessToken)
					if !c.ok {
						wantCode(t, err, errExpired)
						return
					}
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if pr.ObjectID != f.user.ObjectID || pr.AppID != f.client.ID || !pr.Delegated() {
						t.Errorf("principal %+v", *pr)
					}
				})
			}
		})
	}
}

func splitJWT(t *testing.T, tok string) []string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments in a JWT", len(parts))
	}
	return parts
}
