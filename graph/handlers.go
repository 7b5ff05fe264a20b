package graph

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
)

func (s *Server) healthz(c *call) error {
	writeJSON(c.w, http.StatusOK, []byte(`{"status":"ok"}`))
	return nil
}

func (s *Server) readyz(c *call) error {
	if reason := s.starting.Load(); reason != nil {
		b, _ := json.Marshal(map[string]string{"status": "starting", "reason": *reason})
		writeJSON(c.w, http.StatusServiceUnavailable, b)
		return nil
	}
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

// The handlers of one profile: decode, check the permissions the request
// names, one Directory call, render. The lifecycle rules live in the domain
// (the root package's directory.go and lifecycle.go).

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
	p, err := s.dir.Invite(c.r.Context(), c.actor(), changes)
	if err != nil {
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
	p, err := s.dir.Get(c.r.Context(), c.actor(), c.kind, c.id)
	if err != nil {
		return err
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
	if _, err := s.dir.Patch(c.r.Context(), c.actor(), c.kind, c.id, changes, ifMatch(c.r)); err != nil {
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
	if err := s.dir.Delete(c.r.Context(), c.actor(), c.kind, c.id, ifMatch(c.r)); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// redeemProfile serves extdir's redeem action: it needs the write permission
// of both kinds, since a pending profile becomes an external one.
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
	p, err := s.dir.Redeem(c.r.Context(), c.actor(), c.id, ifMatch(c.r))
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

// listDeletedWithoutCast answers as Graph does when the deleted items are
// listed without a type cast: 400 Request_UnsupportedQuery, with Graph's
// message and the cast that works.
func (s *Server) listDeletedWithoutCast(c *call) error {
	return extdir.Errorf(extdir.EUnsupportedQuery, "Searches against this resource are not supported. Only specific instances can be queried. List the deleted items of one type with a type cast, such as /directory/deletedItems/microsoft.graph.pendingExternalUserProfile.")
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

// The deleted items: which permission a call needs depends on the kind of
// the item, which the Directory learns when it reads it.

func (s *Server) getDeleted(c *call) error {
	p, err := s.dir.GetDeleted(c.r.Context(), c.actor(), c.id)
	if err != nil {
		return err
	}
	// $select is checked against the item's own type, so that an error
	// about a deleted externalUserProfile names that type.
	opts, err := odata.ParseOptions(c.r.URL.RawQuery, p.Kind)
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
	p, err := s.dir.Restore(c.r.Context(), c.actor(), c.id)
	if err != nil {
		return err
	}
	s.writeEntity(c, http.StatusOK, p, nil, true)
	return nil
}

func (s *Server) purgeDeleted(c *call) error {
	if err := s.dir.Purge(c.r.Context(), c.actor(), c.id); err != nil {
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

// query turns the parsed options into a store query for the caller's tenant.
func (s *Server) query(c *call, opts *odata.Options, deleted bool) (store.Query, error) {
	if opts.Search != nil && !eventual(c.r) {
		// $search is one of Graph's advanced queries on directory objects.
		return store.Query{}, extdir.Errorf(extdir.EInvalid, "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
	}
	return store.Query{
		Tenant:  c.caller.Tenant,
		Kind:    c.kind,
		Deleted: deleted,
		Filter:  opts.Filter,
		OrderBy: opts.OrderBy,
		Search:  opts.Search,
	}, nil
}

// ifMatch is the request's If-Match precondition.
func ifMatch(r *http.Request) extdir.IfMatch { return extdir.IfMatch(r.Header.Get("If-Match")) }

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
