package graph

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/internal/clock"
	"github.com/extdir/extdir/internal/dump"
	"github.com/extdir/extdir/internal/seedfile"
)

// The admin API, under /admin: what a test suite needs around the Graph API
// (reset, seed, export and import, the request journal, the clock, fault
// rules). One convention for all of it: JSON in, JSON out (export streams
// JSON lines), errors in Graph's envelope. It never changes what the Graph
// API does with a request; it only changes the data and the clock.

// Admin configures the admin API; Server.Admin nil turns it off (every
// /admin path answers 404).
type Admin struct {
	// Token, when set, is a secret that a caller must send as
	// "Authorization: Bearer <token>" and that admits it from anywhere;
	// empty admits loopback clients only. A Graph token is never enough.
	Token string
	// Clock is what /admin/clock moves; it must be the clock of the server
	// and of everything else (Server.Now, the Directory, the issuer, the
	// verifier). nil: the clock cannot be moved.
	Clock *clock.Clock
	// Retention is the deleted items' retention, for the sweep that runs at
	// once when the clock moves.
	Retention time.Duration
	// Tenant is the tenant /admin/seed writes to without ?tenant=.
	Tenant string
	// CreatedBy is the createdBy of seeded profiles.
	CreatedBy string
}

// MaxImportBytes bounds an /admin/import body and one of its lines.
const (
	MaxImportBytes    = 1 << 30
	maxImportLine     = 1 << 20
	maxAdminParamSize = 1024
)

// errAdminOff answers every /admin path while the admin API is off.
var errAdminOff = extdir.Errorf(extdir.ENotFound, "The admin API is off: extdir serve was started with --admin=false.")

// adminGate admits a caller of /admin: the bearer of the admin token when
// one is set, else a loopback client.
func (s *Server) adminGate(c *call) error {
	a := s.Admin
	if a == nil {
		return errAdminOff
	}
	if s.crossSite(c.r) {
		// A page of another site in a browser on this machine would
		// otherwise reach the loopback-only API: a form POST to
		// /admin/reset needs no CORS preflight.
		return extdir.Errorf(extdir.EForbidden, "The admin API does not answer requests from the pages of other sites.")
	}
	if a.Token != "" {
		scheme, tok, _ := strings.Cut(c.r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(a.Token)) != 1 {
			return &extdir.Error{Code: extdir.EUnauthenticated, Message: "The admin API needs its admin token: Authorization: Bearer <the content of --admin-token-file>."}
		}
		return nil
	}
	host, _, err := net.SplitHostPort(c.r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || proxied(c.r) {
		return extdir.Errorf(extdir.EForbidden, "The admin API accepts loopback clients only; start extdir serve with --admin-token-file to reach it from elsewhere.")
	}
	return nil
}

// crossSite reports a browser's request from a page of another origin: its
// Sec-Fetch-Site says so, or its Origin is not this server's. Tools such as
// curl send neither; the console, served here, is same-origin.
func (s *Server) crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	return origin != "" && !strings.EqualFold(origin, s.origin(r))
}

// proxied reports a request that a reverse proxy forwarded: it comes from
// loopback when the proxy runs on this host, but its client is elsewhere.
func proxied(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// adminParams reads the query of an admin call: only the named parameters,
// each once and at most maxAdminParamSize long, so that a typo or a
// runaway filter fails loudly instead of matching everything.
func adminParams(c *call, allowed ...string) (map[string]string, error) {
	q := c.r.URL.Query()
	out := make(map[string]string, len(q))
	for name, vs := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		switch {
		case !ok:
			return nil, extdir.Errorf(extdir.EBadRequest, "Unknown query parameter '%s' (this endpoint takes: %s).", name, strings.Join(allowed, ", "))
		case len(vs) != 1:
			return nil, extdir.Errorf(extdir.EBadRequest, "Query parameter '%s' is given %d times.", name, len(vs))
		case len(vs[0]) > maxAdminParamSize:
			return nil, extdir.Errorf(extdir.EBadRequest, "Query parameter '%s' is longer than %d characters.", name, maxAdminParamSize)
		}
		out[name] = vs[0]
	}
	return out, nil
}

func writeAdminJSON(c *call, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode admin response: %w", err)
	}
	writeJSON(c.w, status, append(b, '\n'))
	return nil
}

// adminTenantCall admits an admin call whose only parameter is ?tenant=
// and returns the tenant, "" for every tenant.
func (s *Server) adminTenantCall(c *call) (string, error) {
	if err := s.adminGate(c); err != nil {
		return "", err
	}
	q, err := adminParams(c, "tenant")
	if err != nil {
		return "", err
	}
	return adminTenant(q["tenant"])
}

// adminTenant checks a ?tenant= value.
func adminTenant(v string) (string, error) {
	if _, err := uuid.Parse(v); v == "" || (err == nil && len(v) == 36) {
		return strings.ToLower(v), nil
	}
	return "", extdir.Errorf(extdir.EBadRequest, "Invalid tenant '%s': give a tenant id (a GUID).", v)
}

// adminActor is who the admin API's seeds and imports are audited as:
// extdir's admin API, for CreatedBy, correlated by the request-id.
func (s *Server) adminActor(c *call, tenant string) extdir.Actor {
	return extdir.Actor{
		Tenant: tenant, ObjectID: s.Admin.CreatedBy, CorrelationID: requestIDs(c.r).request,
		Initiator: extdir.Initiator{AppID: extdir.SystemInitiator.AppID, ServicePrincipalID: s.Admin.CreatedBy, AppName: "extdir admin API"},
	}
}

// POST /admin/reset[?tenant=]: every profile and deleted item, the journal
// and, for a whole reset, the clock, the fault counters and the throttle.
func (s *Server) adminReset(c *call) error {
	tenant, err := s.adminTenantCall(c)
	if err != nil {
		return err
	}
	n, err := s.dir.Reset(c.r.Context(), tenant)
	if err != nil {
		return err
	}
	out := map[string]any{"profiles": n}
	if s.Journal != nil {
		out["requests"] = s.Journal.Clear(tenant)
	}
	if tenant != "" {
		out["tenant"] = tenant
	} else {
		if s.Admin.Clock != nil {
			s.Admin.Clock.Reset()
		}
		if s.Faults != nil {
			s.Faults.ResetCounts()
		}
		if s.Throttle != nil {
			s.Throttle.Reset()
		}
	}
	logger(c.r).Info("admin reset", slog.String("tenant", tenant), slog.Int64("profiles", n))
	return writeAdminJSON(c, http.StatusOK, out)
}

// POST /admin/seed[?tenant=]: a seed file, JSON or CSV by Content-Type.
func (s *Server) adminSeed(c *call) error {
	tenant, err := s.adminTenantCall(c)
	if err != nil {
		return err
	}
	if tenant == "" {
		tenant = s.Admin.Tenant
	}
	if tenant == "" {
		return extdir.Errorf(extdir.EBadRequest, "Give the tenant to seed: ?tenant=<tenant id>.")
	}
	body, err := io.ReadAll(io.LimitReader(c.r.Body, seedfile.MaxBytes+1))
	if err != nil {
		return extdir.Errorf(extdir.EBadRequest, "The request body could not be read.")
	}
	rows, err := seedfile.Parse(body, seedfile.FormatOf(c.r.Header.Get("Content-Type")))
	if err != nil {
		return err
	}
	ps, err := s.dir.Seed(c.r.Context(), s.adminActor(c, tenant), rows)
	if err != nil {
		return err
	}
	type seeded struct {
		ID   string `json:"id"`
		Type string `json:"@odata.type"`
	}
	out := make([]seeded, len(ps))
	for i, p := range ps {
		out[i] = seeded{ID: p.ID, Type: p.Kind.ODataType()}
	}
	logger(c.r).Info("admin seed", slog.String("tenant", tenant), slog.Int("profiles", len(ps)))
	return writeAdminJSON(c, http.StatusCreated, map[string]any{"tenant": tenant, "count": len(ps), "value": out})
}

// GET /admin/export[?tenant=]: JSON lines of every profile, live and deleted.
func (s *Server) adminExport(c *call) error {
	tenant, err := s.adminTenantCall(c)
	if err != nil {
		return err
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Content-Disposition", `attachment; filename="extdir-export.jsonl"`)
	bw := bufio.NewWriterSize(c.w, 64<<10)
	started := false
	var buf []byte
	err = s.dir.Export(c.r.Context(), tenant, func(p *extdir.Profile) error {
		started = true
		buf = append(dump.Append(buf[:0], p), '\n')
		_, err := bw.Write(buf)
		return err
	})
	if err != nil && !started {
		h.Del("Content-Disposition")
		return err
	}
	if err != nil {
		// The status is sent: cut the stream short, so that the client
		// sees a broken transfer rather than a short export.
		logger(c.r).Error("export failed midway", slog.Any("error", err))
		panic(http.ErrAbortHandler)
	}
	return bw.Flush()
}

// POST /admin/import: JSON lines as export writes them, all or none.
func (s *Server) adminImport(c *call) error {
	if err := s.adminGate(c); err != nil {
		return err
	}
	if _, err := adminParams(c); err != nil {
		return err
	}
	ps, err := ReadDump(io.LimitReader(c.r.Body, MaxImportBytes))
	if err != nil {
		return err
	}
	if err := s.dir.Import(c.r.Context(), s.adminActor(c, ""), ps); err != nil {
		return err
	}
	logger(c.r).Info("admin import", slog.Int("profiles", len(ps)))
	return writeAdminJSON(c, http.StatusOK, map[string]any{"imported": len(ps)})
}

// ReadDump reads the JSON lines of an export; a line that is not one names
// its number. Blank lines are skipped.
func ReadDump(r io.Reader) ([]*extdir.Profile, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxImportLine)
	var out []*extdir.Profile
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		p, err := dump.Decode(line)
		if err != nil {
			return nil, extdir.Errorf(extdir.EBadRequest, "Line %d: %v. Nothing was imported.", n, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, extdir.Errorf(extdir.EBadRequest, "Line %d is longer than %d bytes. Nothing was imported.", len(out)+1, maxImportLine)
		}
		return nil, extdir.Errorf(extdir.EBadRequest, "The import could not be read: %v. Nothing was imported.", err)
	}
	return out, nil
}

// GET /admin/requests: the journal, filtered.
func (s *Server) adminRequests(c *call) error {
	if err := s.adminGate(c); err != nil {
		return err
	}
	if s.Journal == nil {
		return extdir.Errorf(extdir.ENotFound, "The request journal is off: extdir serve was started with --journal-size 0.")
	}
	q, err := adminParams(c, "method", "path", "status", "since", "requestId", "tenant", "top")
	if err != nil {
		return err
	}
	keep, top, err := journalFilter(q)
	if err != nil {
		return err
	}
	entries := s.Journal.Entries(keep)
	if top > 0 && len(entries) > top {
		entries = entries[len(entries)-top:]
	}
	if entries == nil {
		entries = []JournalEntry{}
	}
	return writeAdminJSON(c, http.StatusOK, map[string]any{"count": len(entries), "value": entries})
}

// journalFilter compiles the query of /admin/requests: method, path (a
// pattern as fault rules take: * within a segment, ** for the rest),
// status (201, or a class such as 4xx), since (a time), requestId (the
// request's, its client's, or its batch's id), tenant, and top (the last N).
func journalFilter(q map[string]string) (func(*JournalEntry) bool, int, error) {
	var tests []func(*JournalEntry) bool
	if m := q["method"]; m != "" {
		tests = append(tests, func(e *JournalEntry) bool { return strings.EqualFold(e.Method, m) })
	}
	if p := q["path"]; p != "" {
		pattern, err := compilePathPattern(p)
		if err != nil {
			return nil, 0, extdir.Errorf(extdir.EBadRequest, "Invalid path filter: %v.", err)
		}
		tests = append(tests, func(e *JournalEntry) bool { return matchPathPattern(pattern, splitPath(e.Path)) })
	}
	if st := q["status"]; st != "" {
		lo, hi, ok := statusRange(st)
		if !ok {
			return nil, 0, extdir.Errorf(extdir.EBadRequest, "Invalid status filter '%s': give a status such as 201 or a class such as 4xx.", st)
		}
		tests = append(tests, func(e *JournalEntry) bool { return e.Status >= lo && e.Status <= hi })
	}
	if v := q["since"]; v != "" {
		since, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, 0, extdir.Errorf(extdir.EBadRequest, "Invalid since '%s': give a time such as 2026-01-02T15:04:05Z.", v)
		}
		tests = append(tests, func(e *JournalEntry) bool { return !e.Time.Before(since) })
	}
	if id := q["requestId"]; id != "" {
		tests = append(tests, func(e *JournalEntry) bool {
			return strings.EqualFold(e.RequestID, id) || strings.EqualFold(e.ClientRequestID, id) || strings.EqualFold(e.BatchRequestID, id)
		})
	}
	if t := q["tenant"]; t != "" {
		tests = append(tests, func(e *JournalEntry) bool { return strings.EqualFold(e.Tenant, t) })
	}
	top := 0
	if v := q["top"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, 0, extdir.Errorf(extdir.EBadRequest, "Invalid top '%s': give a positive number.", v)
		}
		top = n
	}
	return func(e *JournalEntry) bool {
		for _, t := range tests {
			if !t(e) {
				return false
			}
		}
		return true
	}, top, nil
}

// statusRange reads "201" or "4xx".
func statusRange(s string) (lo, hi int, ok bool) {
	if len(s) == 3 && (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X') && s[0] >= '1' && s[0] <= '5' {
		c := int(s[0]-'0') * 100
		return c, c + 99, true
	}
	n, err := strconv.Atoi(s)
	return n, n, err == nil && n >= 100 && n <= 599
}

// DELETE /admin/requests[?tenant=]: empties the journal.
func (s *Server) adminClearRequests(c *call) error {
	tenant, err := s.adminTenantCall(c)
	if err != nil {
		return err
	}
	if s.Journal != nil {
		s.Journal.Clear(tenant)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// clockState is the body of /admin/clock.
type clockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
	// Purged is how many deleted items the sweep after a move purged.
	Purged *int64 `json:"purged,omitempty"`
}

func (s *Server) clockState(purged *int64) clockState {
	return clockState{Now: s.now().UTC(), Offset: s.Admin.Clock.Offset().String(), Purged: purged}
}

// GET /admin/clock.
func (s *Server) adminGetClock(c *call) error {
	if err := s.adminGate(c); err != nil {
		return err
	}
	return writeAdminJSON(c, http.StatusOK, s.clockState(nil))
}

// PUT /admin/clock: {"now": "<time>"} or {"advance": "720h"}; the
// retention sweep runs at once on the new time.
func (s *Server) adminPutClock(c *call) error {
	if err := s.adminGate(c); err != nil {
		return err
	}
	if s.Admin.Clock == nil {
		return extdir.Errorf(extdir.ENotFound, "This server's clock cannot be moved.")
	}
	raw, err := readJSONBody(c.r)
	if err != nil {
		return err
	}
	var req struct {
		Now     *time.Time `json:"now"`
		Advance *string    `json:"advance"`
	}
	if err := decodeStrict(raw, &req); err != nil || (req.Now == nil) == (req.Advance == nil) {
		return extdir.Errorf(extdir.EBadRequest, `Give either {"now": "2026-01-02T15:04:05Z"} or {"advance": "720h"} (a Go duration; 31d for days).`)
	}
	if req.Now != nil {
		s.Admin.Clock.Set(*req.Now)
	} else {
		d, err := parseAdvance(*req.Advance)
		if err != nil {
			return err
		}
		s.Admin.Clock.Advance(d)
	}
	n, err := s.MoveClock(c.r)
	if err != nil {
		return err
	}
	return writeAdminJSON(c, http.StatusOK, s.clockState(&n))
}

// DELETE /admin/clock: back to the wall clock.
func (s *Server) adminResetClock(c *call) error {
	if err := s.adminGate(c); err != nil {
		return err
	}
	if s.Admin.Clock != nil {
		s.Admin.Clock.Reset()
	}
	return writeAdminJSON(c, http.StatusOK, s.clockState(nil))
}

// MoveClock runs what must follow a move of the clock: the retention sweep
// at the new time, so that a profile deleted more than the retention ago is
// gone at once rather than at the next tick.
func (s *Server) MoveClock(r *http.Request) (int64, error) {
	n, err := s.dir.Expire(r.Context(), s.Admin.Retention)
	if err != nil {
		return 0, err
	}
	logger(r).Info("admin clock moved", slog.Time("now", s.now()), slog.Duration("offset", s.Admin.Clock.Offset()), slog.Int64("purged", n))
	return n, nil
}

// parseAdvance reads a Go duration, or whole days as "31d".
func parseAdvance(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= -36500 && n <= 36500 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, extdir.Errorf(extdir.EBadRequest, "Invalid advance '%s': give a duration such as 720h, 90m or 31d.", s)
	}
	return d, nil
}

func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one value")
	}
	return nil
}

// compilePathPattern splits a path pattern (a fault rule's, a journal
// filter's) into lowercase segments and checks its wildcards.
func compilePathPattern(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q must start with /", p)
	}
	pattern := splitPath(strings.ToLower(p))
	for j, seg := range pattern {
		if seg == "**" && j != len(pattern)-1 {
			return nil, fmt.Errorf("** must be the last segment of path %q", p)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return nil, fmt.Errorf("path %q: %v", p, err)
		}
	}
	return pattern, nil
}

// matchPathPattern compares a path's segments with a compiled pattern,
// without regard to case.
func matchPathPattern(pattern, segs []string) bool {
	for i, pat := range pattern {
		if pat == "**" {
			return true
		}
		if i >= len(segs) {
			return false
		}
		if ok, _ := path.Match(pat, strings.ToLower(segs[i])); !ok {
			return false
		}
	}
	return len(segs) == len(pattern)
}
