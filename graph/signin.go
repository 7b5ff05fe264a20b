package graph

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/extdir/extdir/auth"
)

// The built-in issuer's sign-in, at Entra's paths:
//
//	GET  /{tenant}/oauth2/v2.0/authorize    the sign-in page of the authorization code flow
//	POST /{tenant}/oauth2/v2.0/authorize    the page's form: signs in, redirects with the code
//	POST /{tenant}/oauth2/v2.0/devicecode   starts a device code flow
//	GET  /{tenant}/oauth2/v2.0/deviceauth   the device code verification page
//	POST /{tenant}/oauth2/v2.0/deviceauth   its form: approves (or declines) a device
//
// The pages are plain server-rendered HTML: no script (form_post's
// one-line auto-submit aside, allowed by its hash), a Content-Security-Policy
// that allows nothing else, no framing. Their forms carry an anti-CSRF
// token bound to a cookie and to the form's own fields (FormToken).

//go:embed templates/signin.html templates/form_post.html templates/signin.css
var signInFiles embed.FS

var (
	signInTemplates = template.Must(template.ParseFS(signInFiles, "templates/*.html"))
	signInCSS       = template.CSS(mustReadEmbedded("templates/signin.css"))
	// formPostScript submits the form_post page's form as soon as it loads.
	formPostScript = template.JS("document.forms[0].submit();")
	// The CSP allows the page's own style and script by hash only.
	signInCSSHash      = cspHash(string(signInCSS))
	formPostScriptHash = cspHash(string(formPostScript))
)

func mustReadEmbedded(name string) string {
	b, err := signInFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// csrfCookie holds the browser's half of the anti-CSRF token.
const csrfCookie = "extdir_signin"

// maxSignInFormSize bounds a posted sign-in form.
const maxSignInFormSize = 32 << 10

// hiddenField is one hidden input of a form.
type hiddenField struct{ Name, Value string }

// signInPage is what signin.html shows.
type signInPage struct {
	Title, Tenant, Action          string
	CSS                            template.CSS
	Error, ErrorCode, Message      string
	ShowForm, Device               bool
	Hidden                         []hiddenField
	ClientName, UserCode, Username string
}

// authorizeFields are the request parameters the sign-in form carries back,
// in a fixed order: the anti-CSRF token covers them all.
var authorizeFields = []string{"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce", "code_challenge", "code_challenge_method"}

func authorizeRequest(tenant string, values url.Values) auth.AuthorizeRequest {
	return auth.AuthorizeRequest{
		Tenant: tenant, ClientID: values.Get("client_id"), RedirectURI: values.Get("redirect_uri"),
		ResponseType: values.Get("response_type"), ResponseMode: values.Get("response_mode"), Scope: values.Get("scope"),
		State: values.Get("state"), Nonce: values.Get("nonce"),
		CodeChallenge: values.Get("code_challenge"), CodeChallengeMethod: values.Get("code_challenge_method"),
	}
}

func fieldValues(values url.Values, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = values.Get(n)
	}
	return out
}

// authorize shows the sign-in page of an authorization request.
func (s *Server) authorize(c *call) error {
	if s.OAuth == nil {
		return errOAuthDisabled
	}
	query := c.r.URL.Query()
	if repeated(query) {
		s.signInError(c, http.StatusBadRequest, "invalid_request", "A parameter is given more than once.")
		return nil
	}
	req := authorizeRequest(c.pathTenant, query)
	client, ok := s.authorizeChecks(c, req)
	if !ok {
		return nil
	}
	s.showAuthorizeForm(c, http.StatusOK, client, query, "", "", query.Get("login_hint"))
	return nil
}

// authorizeChecks runs the checks of a request: the client's (shown on the
// page), then the rest (sent to the redirect URI). It reports whether the
// request may go on.
func (s *Server) authorizeChecks(c *call, req auth.AuthorizeRequest) (*auth.Client, bool) {
	client, err := s.OAuth.AuthorizeClient(req)
	if err != nil {
		s.signInFailure(c, err)
		return nil, false
	}
	if err := s.OAuth.CheckAuthorizeRequest(client, req); err != nil {
		var refused *auth.OAuthError
		if !errors.As(err, &refused) {
			s.signInFailure(c, err)
			return nil, false
		}
		params := url.Values{"error": {refused.Code}, "error_description": {oauthDescription(refused)}}
		if req.State != "" {
			params.Set("state", req.State)
		}
		s.respondToClient(c, req, params)
		return nil, false
	}
	return client, true
}

func (s *Server) showAuthorizeForm(c *call, status int, client *auth.Client, values url.Values, msg, code, username string) {
	fields := fieldValues(values, authorizeFields)
	token, ok := s.formToken(c, fields)
	if !ok {
		return
	}
	hidden := make([]hiddenField, 0, len(authorizeFields)+1)
	for i, n := range authorizeFields {
		if fields[i] != "" {
			hidden = append(hidden, hiddenField{n, fields[i]})
		}
	}
	hidden = append(hidden, hiddenField{"csrf_token", token})
	name := client.Name
	if name == "" {
		name = client.ID
	}
	s.renderSignIn(c, status, signInPage{
		Title: "Sign in", Tenant: c.pathTenant, Action: c.r.URL.Path, ShowForm: true, Hidden: hidden,
		ClientName: name, Username: username, Error: msg, ErrorCode: code,
	}, redirectOrigin(values.Get("redirect_uri")))
}

// authorizeSignIn takes the sign-in form and redirects to the client with
// the code, or shows the form again with what went wrong.
func (s *Server) authorizeSignIn(c *call) error {
	if s.OAuth == nil {
		return errOAuthDisabled
	}
	form, ok := s.readSignInForm(c)
	if !ok {
		return nil
	}
	req := authorizeRequest(c.pathTenant, form)
	client, ok := s.authorizeChecks(c, req)
	if !ok {
		return nil
	}
	if !s.checkFormToken(c, form, fieldValues(form, authorizeFields)) {
		return nil
	}
	code, err := s.OAuth.AuthorizeSignIn(client, req, form.Get("username"), form.Get("password"), clientAddress(c.r))
	var refused *auth.OAuthError
	switch {
	case errors.As(err, &refused):
		logger(c.r).Info("sign-in refused", "tenant", c.pathTenant, "client_id", client.ID, "error", refused.Code, "aadsts", refused.AADSTS)
		s.showAuthorizeForm(c, http.StatusBadRequest, client, form, refused.Description, aadsts(refused), form.Get("username"))
		return nil
	case err != nil:
		s.signInFailure(c, err)
		return nil
	}
	logger(c.r).Info("user signed in", "tenant", c.pathTenant, "client_id", client.ID, "flow", "authorization_code")
	params := url.Values{"code": {code}}
	if req.State != "" {
		params.Set("state", req.State)
	}
	s.respondToClient(c, req, params)
	return nil
}

// respondToClient sends params to the request's redirect URI, which
// AuthorizeClient has checked, as its response_mode asks.
func (s *Server) respondToClient(c *call, req auth.AuthorizeRequest, params url.Values) {
	target, err := url.Parse(req.RedirectURI)
	if err != nil {
		s.signInFailure(c, err)
		return
	}
	switch req.ResponseMode {
	case "form_post":
		fields := make([]hiddenField, 0, len(params))
		for _, n := range []string{"code", "state", "error", "error_description"} {
			if v := params.Get(n); v != "" {
				fields = append(fields, hiddenField{n, v})
			}
		}
		h := c.w.Header()
		s.pageHeaders(h, "script-src "+formPostScriptHash+"; form-action "+redirectOrigin(req.RedirectURI))
		var buf bytes.Buffer
		if err := signInTemplates.ExecuteTemplate(&buf, "form_post.html", map[string]any{"Action": req.RedirectURI, "Fields": fields, "Script": formPostScript}); err != nil {
			s.signInFailure(c, err)
			return
		}
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write(buf.Bytes())
		return
	case "fragment":
		target.Fragment = ""
		target.RawFragment = ""
		noStore(c.w)
		http.Redirect(c.w, c.r, target.String()+"#"+params.Encode(), http.StatusFound)
		return
	}
	q := target.Query()
	for k, v := range params {
		q[k] = v
	}
	target.RawQuery = q.Encode()
	noStore(c.w)
	http.Redirect(c.w, c.r, target.String(), http.StatusFound)
}

// deviceCode starts a device code flow (RFC 8628 §3.1).
func (s *Server) deviceCode(c *call) error {
	if s.OAuth == nil {
		return errOAuthDisabled
	}
	req, oerr := readTokenRequest(c)
	if oerr != nil {
		writeOAuthError(c, oerr)
		return nil
	}
	resp, err := s.OAuth.StartDeviceAuthorization(req, s.origin(c.r)+"/"+c.pathTenant+"/oauth2/v2.0/deviceauth")
	if err != nil {
		writeOAuthFailure(c, req, "devicecode", err)
		return nil
	}
	return writeOAuthAnswer(c, resp)
}

// deviceFields binds the device page's anti-CSRF token to its tenant.
func deviceFields(tenant string) []string { return []string{"deviceauth", tenant} }

// devicePage shows the device code verification page.
func (s *Server) devicePage(c *call) error {
	if s.OAuth == nil || !s.OAuth.SignInEnabled() {
		return errOAuthDisabled
	}
	s.showDeviceForm(c, http.StatusOK, c.r.URL.Query().Get("user_code"), "", "", "")
	return nil
}

func (s *Server) showDeviceForm(c *call, status int, userCode, username, msg, code string) {
	token, ok := s.formToken(c, deviceFields(c.pathTenant))
	if !ok {
		return
	}
	if len(userCode) > 64 {
		userCode = ""
	}
	s.renderSignIn(c, status, signInPage{
		Title: "Enter code", Tenant: c.pathTenant, Action: c.r.URL.Path, ShowForm: true, Device: true,
		Hidden: []hiddenField{{"csrf_token", token}}, UserCode: userCode, Username: username, Error: msg, ErrorCode: code,
	}, "")
}

// deviceSignIn takes the verification page's form.
func (s *Server) deviceSignIn(c *call) error {
	if s.OAuth == nil || !s.OAuth.SignInEnabled() {
		return errOAuthDisabled
	}
	form, ok := s.readSignInForm(c)
	if !ok || !s.checkFormToken(c, form, deviceFields(c.pathTenant)) {
		return nil
	}
	userCode, username := form.Get("user_code"), form.Get("username")
	var err error
	declined := form.Get("action") == "decline"
	if declined {
		err = s.OAuth.DeclineDevice(c.pathTenant, userCode)
	} else {
		err = s.OAuth.ApproveDevice(c.pathTenant, userCode, username, form.Get("password"), clientAddress(c.r))
	}
	var refused *auth.OAuthError
	switch {
	case errors.As(err, &refused):
		logger(c.r).Info("device sign-in refused", "tenant", c.pathTenant, "error", refused.Code, "aadsts", refused.AADSTS)
		s.showDeviceForm(c, http.StatusBadRequest, userCode, username, refused.Description, aadsts(refused))
		return nil
	case err != nil:
		s.signInFailure(c, err)
		return nil
	}
	msg := "You have signed in to the application on your device. You may now close this window."
	if declined {
		msg = "The sign-in was cancelled: the application on your device gets no access. You may now close this window."
	}
	logger(c.r).Info("device code answered", "tenant", c.pathTenant, "declined", declined)
	s.renderSignIn(c, http.StatusOK, signInPage{Title: "Done", Tenant: c.pathTenant, Message: msg}, "")
	return nil
}

// readSignInForm reads a posted form, refusing large and repeated fields.
func (s *Server) readSignInForm(c *call) (url.Values, bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxSignInFormSize))
	if err != nil {
		s.signInError(c, http.StatusRequestEntityTooLarge, "invalid_request", "The form is larger than 32 KiB.")
		return nil, false
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil || repeated(form) {
		s.signInError(c, http.StatusBadRequest, "invalid_request", "The form is not valid, or gives a field more than once.")
		return nil, false
	}
	return form, true
}

func repeated(values url.Values) bool {
	for _, v := range values {
		if len(v) > 1 {
			return true
		}
	}
	return false
}

// formToken returns the anti-CSRF token of a form with fields, setting the
// browser's cookie first when it has none.
func (s *Server) formToken(c *call, fields []string) (string, bool) {
	value := ""
	if ck, err := c.r.Cookie(csrfCookie); err == nil && len(ck.Value) == 43 {
		value = ck.Value
	} else {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			s.signInFailure(c, err)
			return "", false
		}
		value = base64.RawURLEncoding.EncodeToString(b[:])
		http.SetCookie(c.w, &http.Cookie{
			Name: csrfCookie, Value: value, Path: "/" + c.pathTenant + "/oauth2/v2.0/",
			HttpOnly: true, Secure: c.r.TLS != nil, SameSite: http.SameSiteStrictMode,
		})
	}
	return s.OAuth.FormToken(value, fields...), true
}

// checkFormToken refuses, on the page, a form without its cookie or token.
func (s *Server) checkFormToken(c *call, form url.Values, fields []string) bool {
	ck, err := c.r.Cookie(csrfCookie)
	if err != nil || !s.OAuth.CheckFormToken(form.Get("csrf_token"), ck.Value, fields...) {
		logger(c.r).Info("sign-in form refused: no valid anti-CSRF token", "tenant", c.pathTenant)
		s.signInError(c, http.StatusForbidden, "invalid_request", "This sign-in form has expired or did not come from this server. Go back to the application and start again.")
		return false
	}
	return true
}

// signInFailure shows a refusal, or the server's own failure, on the page.
func (s *Server) signInFailure(c *call, err error) {
	var refused *auth.OAuthError
	if errors.As(err, &refused) {
		logger(c.r).Info("authorization request refused", "tenant", c.pathTenant, "error", refused.Code, "aadsts", refused.AADSTS)
		status := refused.Status
		if status == http.StatusUnauthorized {
			// A 401 asks for an Authorization header, which a page
			// cannot send; the user's request was bad.
			status = http.StatusBadRequest
		}
		s.renderSignIn(c, status, signInPage{Title: "Sorry, but we're having trouble signing you in", Tenant: c.pathTenant, Error: refused.Description, ErrorCode: aadsts(refused)}, "")
		return
	}
	logger(c.r).Error("sign-in failed", "error", err)
	s.signInError(c, http.StatusInternalServerError, "server_error", "The server could not sign you in.")
}

func (s *Server) signInError(c *call, status int, code, msg string) {
	s.renderSignIn(c, status, signInPage{Title: "Sorry, but we're having trouble signing you in", Tenant: c.pathTenant, Error: msg, ErrorCode: code}, "")
}

// aadsts is the error line of a page: Entra's number and the OAuth code.
func aadsts(e *auth.OAuthError) string {
	if e.AADSTS == 0 {
		return e.Code
	}
	return "AADSTS" + strconv.Itoa(e.AADSTS) + " (" + e.Code + ")"
}

func oauthDescription(e *auth.OAuthError) string {
	if e.AADSTS == 0 {
		return e.Description
	}
	return "AADSTS" + strconv.Itoa(e.AADSTS) + ": " + e.Description
}

// renderSignIn writes a page. formTarget is the origin the page's form may
// redirect to after posting (the client's), which form-action must allow.
func (s *Server) renderSignIn(c *call, status int, page signInPage, formTarget string) {
	page.CSS = signInCSS
	var buf bytes.Buffer
	if err := signInTemplates.ExecuteTemplate(&buf, "signin.html", page); err != nil {
		logger(c.r).Error("render sign-in page", "error", err)
		http.Error(c.w, "server error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	s.pageHeaders(c.w.Header(), "style-src "+signInCSSHash+"; form-action "+formAction)
	c.w.WriteHeader(status)
	_, _ = c.w.Write(buf.Bytes())
}

// pageHeaders are the headers of every sign-in page: HTML never cached, a
// CSP that allows nothing but what allow says, no framing, no referrer.
func (s *Server) pageHeaders(h http.Header, allow string) {
	h.Del("OData-Version")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; "+allow+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// redirectOrigin is the CSP source of a redirect URI: its origin, or its
// scheme for a custom-scheme URI; "" when it has neither.
func redirectOrigin(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || strings.ContainsAny(uri, " ;,'\"") {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// clientAddress is the caller's IP address, which the sign-in limiter
// counts failures against. Forwarded headers are not trusted: anyone could
// send them to get a fresh count.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
