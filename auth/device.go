package auth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The device authorization grant (RFC 8628): a device without a browser
// gets a device code to poll with and a user code, which its user types
// into the verification page on another device and signs in. A pending
// device code is in memory, on the node that issued it: the page and the
// polls must reach that node (see the README's limitations).

// maxPendingDevices bounds the memory unauthenticated callers can fill.
const maxPendingDevices = 10000

// userCodeAlphabet has no vowels (no words) and none of 0/O, 1/I.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"

const userCodeLength = 9

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDeclined
)

// deviceAuthorization is one device code on its way.
type deviceAuthorization struct {
	deviceCode, userCode string
	clientID, tenant     string
	clientName           string
	scopes               scopeGrant
	expires              time.Time
	interval             time.Duration
	lastPoll             time.Time
	state                deviceState
	objectID, stamp      string // the user who approved
}

type deviceCodes struct {
	mu       sync.Mutex
	byDevice map[string]*deviceAuthorization
	byUser   map[string]*deviceAuthorization
}

func newDeviceCodes() *deviceCodes {
	return &deviceCodes{byDevice: map[string]*deviceAuthorization{}, byUser: map[string]*deviceAuthorization{}}
}

// sweep forgets expired codes; the caller holds mu.
func (d *deviceCodes) sweep(now time.Time) {
	for k, a := range d.byDevice {
		if now.After(a.expires) {
			delete(d.byDevice, k)
			delete(d.byUser, a.userCode)
		}
	}
}

// DeviceAuthorizationResponse is the devicecode endpoint's answer (RFC 8628
// §3.2, in Entra's shape).
type DeviceAuthorizationResponse struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
	Message         string `json:"message"`
}

// StartDeviceAuthorization answers the devicecode endpoint for req's
// client_id and scope; the user will sign in at verificationURI.
func (p *Provider) StartDeviceAuthorization(req TokenRequest, verificationURI string) (*DeviceAuthorizationResponse, error) {
	s := p.signIn
	switch {
	case s == nil:
		return nil, oauthErrorf("unsupported_grant_type", 70003, "This server has no sign-in.")
	case req.ClientID == "":
		return nil, missingParameter("client_id")
	case req.Scope == "":
		return nil, missingParameter("scope")
	}
	client, err := p.findClient(req.Tenant, req.ClientID)
	if err != nil {
		return nil, err
	}
	scopes, err := p.delegatedScopes(req.Scope)
	if err != nil {
		return nil, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("device code: %w", err)
	}
	userCode, err := newUserCode()
	if err != nil {
		return nil, err
	}
	now := s.now()
	a := &deviceAuthorization{
		deviceCode: base64.RawURLEncoding.EncodeToString(b[:]), userCode: userCode,
		clientID: client.ID, tenant: client.Tenant, clientName: client.Name, scopes: scopes,
		expires: now.Add(DeviceCodeLifetime), interval: s.interval,
	}
	d := s.devices
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep(now)
	if len(d.byDevice) >= maxPendingDevices {
		return nil, &OAuthError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "Too many device codes are waiting for their users; try again later."}
	}
	if _, taken := d.byUser[userCode]; taken {
		return nil, fmt.Errorf("device code: user code collision, try again")
	}
	d.byDevice[a.deviceCode] = a
	d.byUser[a.userCode] = a
	return &DeviceAuthorizationResponse{
		DeviceCode:      a.deviceCode,
		UserCode:        a.userCode,
		VerificationURI: verificationURI,
		ExpiresIn:       int(DeviceCodeLifetime / time.Second),
		Interval:        max(1, int(s.interval/time.Second)),
		Message:         fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verificationURI, a.userCode),
	}, nil
}

func newUserCode() (string, error) {
	var b [userCodeLength]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("user code: %w", err)
	}
	out := make([]byte, userCodeLength)
	for i, v := range b {
		// 256 is not a multiple of 28: the bias (a few percent toward
		// the first letters) costs well under a bit of the 43.
		out[i] = userCodeAlphabet[int(v)%len(userCodeAlphabet)]
	}
	return string(out), nil
}

// normalizeUserCode forgives what people type: case, spaces and dashes.
func normalizeUserCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
}

func errUnknownUserCode() error {
	return oauthErrorf("invalid_request", 70000, "The code you entered is not valid or has expired. Check the code on your device and try again.")
}

// pendingByUserCode returns the pending authorization of tenant with the
// user code; the caller holds mu.
func (d *deviceCodes) pendingByUserCode(tenant, userCode string, now time.Time) *deviceAuthorization {
	a, ok := d.byUser[normalizeUserCode(userCode)]
	if !ok || !now.Before(a.expires) || a.state != devicePending || !strings.EqualFold(a.tenant, tenant) {
		return nil
	}
	return a
}

// DevicePrompt describes a pending device code for the verification page.
type DevicePrompt struct{ ClientName, ClientID string }

// LookUpUserCode returns what the verification page shows for a user code
// of tenant, or an *OAuthError when it is not a pending one.
func (p *Provider) LookUpUserCode(tenant, userCode string) (*DevicePrompt, error) {
	d := p.signIn.devices
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.pendingByUserCode(tenant, userCode, p.signIn.now())
	if a == nil {
		return nil, errUnknownUserCode()
	}
	return &DevicePrompt{ClientName: a.clientName, ClientID: a.clientID}, nil
}

// ApproveDevice signs the user in on the verification page and, on
// success, lets the device's next poll get the user's tokens.
func (p *Provider) ApproveDevice(tenant, userCode, username, password, addr string) error {
	if _, err := p.LookUpUserCode(tenant, userCode); err != nil {
		return err
	}
	user, err := p.SignInUser(tenant, username, password, addr)
	if err != nil {
		return err
	}
	return p.withPendingDevice(tenant, userCode, func(a *deviceAuthorization) {
		a.state, a.objectID, a.stamp = deviceApproved, user.ObjectID, user.stamp()
	})
}

// DeclineDevice is the user's "no, that was not me": the device's next
// poll gets authorization_declined.
func (p *Provider) DeclineDevice(tenant, userCode string) error {
	return p.withPendingDevice(tenant, userCode, func(a *deviceAuthorization) { a.state = deviceDeclined })
}

// withPendingDevice runs f on the pending authorization of a user code,
// under the lock, or refuses an unknown code.
func (p *Provider) withPendingDevice(tenant, userCode string, f func(*deviceAuthorization)) error {
	d := p.signIn.devices
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.pendingByUserCode(tenant, userCode, p.signIn.now())
	if a == nil {
		return errUnknownUserCode()
	}
	f(a)
	return nil
}

// deviceCodeGrant answers a device's poll (RFC 8628 §3.4, §3.5).
func (p *Provider) deviceCodeGrant(client *Client, req TokenRequest) (*TokenResponse, error) {
	if req.DeviceCode == "" {
		return nil, missingParameter("device_code")
	}
	s := p.signIn
	now := s.now()
	d := s.devices
	d.mu.Lock()
	a, ok := d.byDevice[req.DeviceCode]
	if !ok || a.clientID != client.ID || !strings.EqualFold(a.tenant, req.Tenant) {
		d.mu.Unlock()
		return nil, oauthErrorf("invalid_grant", 70000, "The device code is not one this server issued to client '%s', or it was used already.", client.ID)
	}
	if !now.Before(a.expires) {
		delete(d.byDevice, a.deviceCode)
		delete(d.byUser, a.userCode)
		d.mu.Unlock()
		return nil, oauthErrorf("expired_token", 70019, "Verification code expired.")
	}
	switch a.state {
	case deviceDeclined:
		delete(d.byDevice, a.deviceCode)
		delete(d.byUser, a.userCode)
		d.mu.Unlock()
		return nil, oauthErrorf("authorization_declined", 0, "The end user declined the authorization request.")
	case devicePending:
		// A quarter of slack for timers and latency; a client polling
		// faster than that is told to slow down, by 5 s (RFC 8628 §3.5).
		tooSoon := !a.lastPoll.IsZero() && now.Sub(a.lastPoll) < a.interval*3/4
		a.lastPoll = now
		if tooSoon {
			a.interval += 5 * time.Second
			d.mu.Unlock()
			return nil, oauthErrorf("slow_down", 0, "The client polls too often: wait at least %d seconds between polls.", int(a.interval/time.Second))
		}
		d.mu.Unlock()
		return nil, oauthErrorf("authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	}
	// Approved: the code is spent now, whatever follows.
	delete(d.byDevice, a.deviceCode)
	delete(d.byUser, a.userCode)
	d.mu.Unlock()
	user, err := p.currentUser(a.tenant, a.objectID, a.stamp)
	if err != nil {
		return nil, err
	}
	family, err := newID()
	if err != nil {
		return nil, err
	}
	return p.issueDelegated(client, user, a.scopes, "", family)
}
