package graph

import (
	"context"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
)

func (s *Server) healthz(c *call) error {
	writeJSON(c.w, http.StatusOK, []byte(`{"status":"ok"}`))
	return nil
}

func (s *Server) readyz(c *call) error {
	ctx, cancel := context.WithTimeout(c.r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		logger(c.r).Warn("store not ready", "error", err)
		writeJSON(c.w, http.StatusServiceUnavailable, []byte(`{"status":"unavailable"}`))
		return nil
	}
	writeJSON(c.w, http.StatusOK, []byte(`{"status":"ready"}`))
	return nil
}

// contextURL builds "<origin>/beta/$metadata#<fragment>".
func (s *Server) contextURL(r *http.Request, fragment string) string {
	return s.origin(r) + "/beta/$metadata#" + fragment
}

// entityURL is the canonical URL of a live profile.
func (s *Server) entityURL(r *http.Request, p *extdir.Profile) string {
	return s.origin(r) + "/beta/directory/" + p.Kind.Collection() + "/" + p.ID
}

func (s *Server) createProfile(c *call) error {
	if c.kind == extdir.KindExternal {
		// External profiles come only from redemption.
		return errMethodNotAllowed
	}
	if err := c.require(c.kind.WritePermission()); err != nil {
		return err
	}
	body, err := readJSONBody(c.r)
	if err != nil {
		return err
	}
	changes, err := extdir.DecodeBody(c.kind, body, extdir.ModeCreate)
	if err != nil {
		return err
	}
	p := &extdir.Profile{
		Tenant:          c.caller.Tenant,
		Kind:            c.kind,
		ID:              uuid.NewString(),
		IsDiscoverable:  true,
		IsEnabled:       true,
		CreatedBy:       c.caller.ObjectID,
		CreatedDateTime: extdir.Timestamp(s.now()),
		Epoch:           1,
	}
	changes.Apply(p)
	if err := s.Store.Create(c.r.Context(), p); err != nil {
		return err
	}
	c.w.Header().Set("Location", s.entityURL(c.r, p))
	s.writeEntity(c, http.StatusCreated, p, nil, false)
	return nil
}

func (s *Server) getProfile(c *call) error {
	if err := c.require(c.kind.ReadPermission()); err != nil {
		return err
	}
	opts, err := odata.ParseOptions(c.r.URL.RawQuery, c.kind)
	if err != nil {
		return err
	}
	p, err := s.Store.Get(c.r.Context(), c.caller.Tenant, c.id)
	if err != nil {
		return err
	}
	if p.Kind != c.kind || p.Deleted() {
		return extdir.NotFound(c.id)
	}
	s.writeEntity(c, http.StatusOK, p, opts.Select, false)
	return nil
}

func (s *Server) updateProfile(c *call) error {
	if err := c.require(c.kind.WritePermission()); err != nil {
		return err
	}
	body, err := readJSONBody(c.r)
	if err != nil {
		return err
	}
	changes, err := extdir.DecodeBody(c.kind, body, extdir.ModeUpdate)
	if err != nil {
		return err
	}
	match := ifMatch(c.r)
	_, err = s.Store.Update(c.r.Context(), c.caller.Tenant, c.id, func(p *extdir.Profile) error {
		if p.Kind != c.kind || p.Deleted() {
			return extdir.NotFound(c.id)
		}
		if !match(p) {
			return extdir.ErrPreconditionFailed
		}
		if len(changes) > 0 {
			changes.Apply(p)
			p.Epoch++
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Graph answers PATCH with 204 even under Prefer: return=representation.
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteProfile(c *call) error {
	if err := c.require(c.kind.WritePermission()); err != nil {
		return err
	}
	match := ifMatch(c.r)
	now := extdir.Timestamp(s.now())
	_, err := s.Store.Update(c.r.Context(), c.caller.Tenant, c.id, func(p *extdir.Profile) error {
		if p.Kind != c.kind || p.Deleted() {
			return extdir.NotFound(c.id)
		}
		if !match(p) {
			return extdir.ErrPreconditionFailed
		}
		p.DeletedDateTime = &now
		p.Epoch++
		return nil
	})
	if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// redeemProfile converts a live pending profile into an external one: same
// id, same properties, epoch + 1. Graph has no public call for this (the
// invited person consents in Teams); extdir offers it so that tests and
// administrators can drive the lifecycle.
func (s *Server) redeemProfile(c *call) error {
	if c.kind != extdir.KindPending {
		return extdir.Errorf(extdir.EBadRequest, "Resource not found for the segment 'redeem'.")
	}
	if err := c.require(extdir.KindPending.WritePermission()); err != nil {
		return err
	}
	if err := c.require(extdir.KindExternal.WritePermission()); err != nil {
		return err
	}
	if err := discardBody(c.r); err != nil {
		return err
	}
	match := ifMatch(c.r)
	p, err := s.Store.Update(c.r.Context(), c.caller.Tenant, c.id, func(p *extdir.Profile) error {
		if p.Kind != extdir.KindPending || p.Deleted() {
			return extdir.NotFound(c.id)
		}
		if !match(p) {
			return extdir.ErrPreconditionFailed
		}
		p.Kind = extdir.KindExternal
		p.Epoch++
		return nil
	})
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", s.entityURL(c.r, p))
	s.writeEntity(c, http.StatusOK, p, nil, false)
	return nil
}

func (s *Server) listProfiles(c *call) error {
	if err := c.require(c.kind.ReadPermission()); err != nil {
		return err
	}
	return s.list(c, false)
}

func (s *Server) countProfiles(c *call) error {
	if err := c.require(c.kind.ReadPermission()); err != nil {
		return err
	}
	return s.count(c, false)
}

func (s *Server) listDeletedWithoutCast(c *call) error {
	return extdir.Errorf(extdir.EInvalid, "Unsupported query: list the deleted items of one type with a type cast, such as /directory/deletedItems/microsoft.graph.pendingExternalUserProfile.")
}

func (s *Server) listDeleted(c *call) error {
	if err := c.require(c.kind.ReadPermission()); err != nil {
		return err
	}
	return s.list(c, true)
}

func (s *Server) countDeleted(c *call) error {
	if err := c.require(c.kind.ReadPermission()); err != nil {
		return err
	}
	return s.count(c, true)
}

// loadDeleted returns the soft-deleted profile c.id names, once the caller
// is known to hold perm(kind) for its kind.
func (s *Server) loadDeleted(c *call, perm func(extdir.Kind) string) (*extdir.Profile, error) {
	p, err := s.Store.Get(c.r.Context(), c.caller.Tenant, c.id)
	if err != nil {
		return nil, err
	}
	if !p.Deleted() {
		return nil, extdir.NotFound(c.id)
	}
	if err := c.require(perm(p.Kind)); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Server) getDeleted(c *call) error {
	opts, err := odata.ParseOptions(c.r.URL.RawQuery, extdir.KindPending)
	if err != nil {
		return err
	}
	p, err := s.loadDeleted(c, extdir.Kind.ReadPermission)
	if err != nil {
		return err
	}
	s.writeEntity(c, http.StatusOK, p, opts.Select, true)
	return nil
}

func (s *Server) restoreDeleted(c *call) error {
	if err := discardBody(c.r); err != nil {
		return err
	}
	if _, err := s.loadDeleted(c, extdir.Kind.WritePermission); err != nil {
		return err
	}
	p, err := s.Store.Update(c.r.Context(), c.caller.Tenant, c.id, func(p *extdir.Profile) error {
		if !p.Deleted() {
			return extdir.NotFound(c.id)
		}
		// The kind cannot change while deleted, so the permission checked
		// above still holds.
		p.DeletedDateTime = nil
		p.Epoch++
		return nil
	})
	if err != nil {
		return err
	}
	s.writeEntity(c, http.StatusOK, p, nil, true)
	return nil
}

func (s *Server) purgeDeleted(c *call) error {
	if _, err := s.loadDeleted(c, extdir.Kind.WritePermission); err != nil {
		return err
	}
	err := s.Store.Purge(c.r.Context(), c.caller.Tenant, c.id, func(p *extdir.Profile) error {
		if !p.Deleted() {
			return extdir.NotFound(c.id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeEntity renders one profile. Deleted items are rendered as Graph
// renders directory objects: with their @odata.type, under the
// directoryObjects context.
func (s *Server) writeEntity(c *call, status int, p *extdir.Profile, sel []*extdir.Property, asDirectoryObject bool) {
	var fragment string
	if asDirectoryObject {
		fragment = "directoryObjects" + contextSuffix(sel) + "/$entity"
	} else {
		fragment = "directory/" + p.Kind.Collection() + contextSuffix(sel) + "/$entity"
	}
	buf := getBody()
	b := append(*buf, `{"@odata.context":`...)
	b = appendString(b, s.contextURL(c.r, fragment))
	b = append(b, ',')
	if asDirectoryObject {
		b = append(b, `"@odata.type":`...)
		b = appendString(b, p.Kind.ODataType())
		b = append(b, ',')
	}
	b = appendMembers(b, p, newSelection(sel))
	c.w.Header()["Etag"] = []string{p.ETag()}
	writePooledJSON(c.w, status, buf, b)
}

// list serves a collection: live profiles of c.kind, or its deleted items.
func (s *Server) list(c *call, deleted bool) error {
	opts, err := odata.ParseOptions(c.r.URL.RawQuery, c.kind)
	if err != nil {
		return err
	}
	q, err := s.query(c, opts, deleted)
	if err != nil {
		return err
	}
	q.Top = opts.Top
	if opts.SkipToken != "" {
		if q.After, err = decodeSkipToken(opts.SkipToken, q.OrderBy); err != nil {
			return err
		}
	}
	ctx := c.r.Context()
	page, err := s.Store.List(ctx, q)
	if err != nil {
		return err
	}
	countIt := opts.Count && opts.SkipToken == "" && eventual(c.r)
	var total int64
	if countIt {
		if total, err = s.Store.Count(ctx, q); err != nil {
			return err
		}
	}

	var fragment string
	if deleted {
		fragment = "directory/deletedItems/" + c.kind.QualifiedName() + contextSuffix(opts.Select)
	} else {
		fragment = "directory/" + c.kind.Collection() + contextSuffix(opts.Select)
	}
	sel := newSelection(opts.Select)
	buf := getBody()
	b := slices.Grow(*buf, 512+len(page.Profiles)*700)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, s.contextURL(c.r, fragment))
	if countIt {
		b = append(b, `,"@odata.count":`...)
		b = strconv.AppendInt(b, total, 10)
	}
	if page.Next != nil {
		b = append(b, `,"@odata.nextLink":`...)
		b = appendString(b, nextLink(s.origin(c.r), c.r.URL.EscapedPath(), c.r.URL.RawQuery, encodeSkipToken(page.Next, q.OrderBy)))
	}
	b = append(b, `,"value":[`...)
	for i, p := range page.Profiles {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendProfile(b, p, sel, deleted)
	}
	b = append(b, "]}"...)
	writePooledJSON(c.w, http.StatusOK, buf, b)
	return nil
}

// count serves the /$count segment: a bare integer as text/plain.
func (s *Server) count(c *call, deleted bool) error {
	if !eventual(c.r) {
		return extdir.Errorf(extdir.EInvalid, "Count is not currently supported without the header ConsistencyLevel: eventual.")
	}
	opts, err := odata.ParseOptions(c.r.URL.RawQuery, c.kind)
	if err != nil {
		return err
	}
	q, err := s.query(c, opts, deleted)
	if err != nil {
		return err
	}
	n, err := s.Store.Count(c.r.Context(), q)
	if err != nil {
		return err
	}
	body := strconv.AppendInt(nil, n, 10)
	c.w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
	return nil
}

// eventual reports the advanced-query header Graph requires for counting.
func eventual(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("ConsistencyLevel")), "eventual")
}

// query turns the parsed options into a store query for the caller's tenant:
// $filter and $search checked against the property table, $orderby resolved.
func (s *Server) query(c *call, opts *odata.Options, deleted bool) (store.Query, error) {
	q := store.Query{Tenant: c.caller.Tenant, Kind: c.kind, Deleted: deleted}
	var err error
	// An empty option is no option, as clients that build URLs from empty
	// settings expect.
	if strings.TrimSpace(opts.Filter) != "" {
		if q.Filter, err = odata.Filter(opts.Filter, c.kind); err != nil {
			return q, err
		}
	}
	if strings.TrimSpace(opts.OrderBy) != "" {
		if q.OrderBy, err = odata.ParseOrderBy(opts.OrderBy, c.kind); err != nil {
			return q, err
		}
	}
	if strings.TrimSpace(opts.Search) != "" {
		// $search is one of Graph's advanced queries on directory objects.
		if !eventual(c.r) {
			return q, extdir.Errorf(extdir.EInvalid, "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
		}
		if q.Search, err = odata.ParseSearch(opts.Search, c.kind); err != nil {
			return q, err
		}
	}
	return q, nil
}

// ifMatch returns the If-Match precondition of the request; without the
// header every state matches (last writer wins).
func ifMatch(r *http.Request) func(*extdir.Profile) bool {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return func(*extdir.Profile) bool { return true }
	}
	return func(p *extdir.Profile) bool {
		for tag := range strings.SplitSeq(h, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				return true
			}
			want := p.ETag()
			if tag == want || tag == strings.TrimPrefix(want, "W/") {
				return true
			}
		}
		return false
	}
}

// readJSONBody reads a request body that must be JSON and at most
// MaxBodyBytes.
func readJSONBody(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, errMediaType
	}
	return readBody(r)
}

func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, extdir.Errorf(extdir.EBadRequest, "The request body could not be read.")
	}
	if len(body) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return body, nil
}

// discardBody accepts an action's body: empty, or a JSON object with no
// parameters (redeem and restore take none).
func discardBody(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" || trimmed == "{}" || trimmed == "null" {
		return nil
	}
	return extdir.Errorf(extdir.EInvalid, "This action takes no parameters.")
}
