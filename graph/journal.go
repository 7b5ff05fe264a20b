package graph

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The request journal: the last N requests the API answered, for a test
// to assert on what the code under test sent ("it invited these three
// people, with these fields, once each"), as WireMock's request journal
// and Azurite's debug log are used. Each inner request of a $batch is an
// entry of its own, pointing at its batch. Headers are not kept (so no
// Authorization), and neither are the bodies of the sign-in and token
// endpoints, which carry secrets, passwords, codes and tokens.

// DefaultJournalSize is how many requests the journal keeps by default.
const DefaultJournalSize = 1000

// DefaultJournalBodyBytes is how much of each request and response body an
// entry keeps by default.
const DefaultJournalBodyBytes = 4096

// JournalEntry is one request as the journal keeps it.
type JournalEntry struct {
	// Seq numbers entries from 1 in the order requests finished.
	Seq             int64         `json:"seq"`
	Time            time.Time     `json:"time"` // when it arrived, by the server's clock
	Method          string        `json:"method"`
	Path            string        `json:"path"`
	Query           string        `json:"query,omitempty"`
	Status          int           `json:"status"`
	Duration        time.Duration `json:"-"`
	DurationMS      float64       `json:"durationMs"`
	Tenant          string        `json:"tenant,omitempty"`
	Caller          *JournalActor `json:"caller,omitempty"`
	RequestID       string        `json:"requestId"`
	ClientRequestID string        `json:"clientRequestId,omitempty"`
	// BatchRequestID and BatchStepID name the $batch an inner request was
	// part of, and its id in that batch.
	BatchRequestID string `json:"batchRequestId,omitempty"`
	BatchStepID    string `json:"batchStepId,omitempty"`
	// RequestBody and ResponseBody hold up to the journal's body limit;
	// the Truncated flags say when more was sent.
	RequestBody           string `json:"requestBody,omitempty"`
	RequestBodyTruncated  bool   `json:"requestBodyTruncated,omitempty"`
	ResponseBody          string `json:"responseBody,omitempty"`
	ResponseBodyTruncated bool   `json:"responseBodyTruncated,omitempty"`
	// Fault names the fault rule that changed the answer, if one did.
	Fault string `json:"fault,omitempty"`
}

// JournalActor is the caller of a journaled request.
type JournalActor struct {
	Type     string `json:"type"` // "app" or "user"
	AppID    string `json:"appId,omitempty"`
	ObjectID string `json:"objectId,omitempty"`
	Username string `json:"userPrincipalName,omitempty"`
}

// Journal keeps the last requests in a ring. It is safe for concurrent use.
type Journal struct {
	bodyLimit int

	mu      sync.Mutex
	entries []*journalCall // ring of cap size
	next    int            // slot of the next entry
	full    bool
	seq     int64
}

// NewJournal keeps the last size requests and bodyLimit bytes of each body.
func NewJournal(size, bodyLimit int) *Journal {
	return &Journal{entries: make([]*journalCall, max(size, 1)), bodyLimit: max(bodyLimit, 0)}
}

func (j *Journal) add(e *journalCall) {
	j.mu.Lock()
	j.seq++
	e.entry.Seq = j.seq
	j.entries[j.next] = e
	j.next++
	if j.next == len(j.entries) {
		j.next, j.full = 0, true
	}
	j.mu.Unlock()
}

// Entries returns the kept entries that keep matches, oldest first.
func (j *Journal) Entries(keep func(*JournalEntry) bool) []JournalEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []JournalEntry
	visit := func(jc *journalCall) {
		if jc != nil && (keep == nil || keep(&jc.entry)) {
			out = append(out, jc.export())
		}
	}
	if j.full {
		for _, e := range j.entries[j.next:] {
			visit(e)
		}
	}
	for _, e := range j.entries[:j.next] {
		visit(e)
	}
	return out
}

// Clear drops the entries of the tenant, or every entry when tenant is "",
// and returns how many.
func (j *Journal) Clear(tenant string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	var kept []*journalCall
	n := 0
	walk := func(es []*journalCall) {
		for _, e := range es {
			switch {
			case e == nil:
			case tenant == "" || strings.EqualFold(e.entry.Tenant, tenant):
				n++
			default:
				kept = append(kept, e)
			}
		}
	}
	if j.full {
		walk(j.entries[j.next:])
	}
	walk(j.entries[:j.next])
	clear(j.entries)
	copy(j.entries, kept)
	j.next, j.full = len(kept)%len(j.entries), len(kept) == len(j.entries)
	return n
}

// capture is a body kept up to a limit.
type capture struct {
	buf       []byte
	limit     int
	truncated bool
}

func (c *capture) Write(p []byte) (int, error) {
	if c.buf == nil && len(p) > 0 {
		// A handler writes its whole body at once: one allocation of its
		// size (up to the limit) rather than a buffer's doublings.
		c.buf = make([]byte, 0, min(c.limit, max(len(p), 512)))
	}
	room := c.limit - len(c.buf)
	if room < len(p) {
		c.truncated = true
		if room > 0 {
			c.buf = append(c.buf, p[:room]...)
		}
		return len(p), nil
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// teeBody copies what a handler reads of the request body into a capture.
type teeBody struct {
	io.ReadCloser
	c *capture
}

func (t teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		_, _ = t.c.Write(p[:n])
	}
	return n, err
}

// journalCall is what serveHTTP learns of a request while it runs, for its
// journal entry: the route fills in the caller, the writer the response.
// It is one allocation per request, and what the ring keeps: the bodies
// become strings, and the entry a JournalEntry, only when someone reads
// the journal.
type journalCall struct {
	entry    JournalEntry // without Caller and the bodies
	caller   JournalActor
	reqBody  capture
	respBody capture
	secret   bool // a sign-in or token endpoint: no bodies kept
}

// export is the entry as the admin API shows it.
func (jc *journalCall) export() JournalEntry {
	e := jc.entry
	if jc.caller.Type != "" {
		c := jc.caller
		e.Caller = &c
	}
	e.RequestBody, e.RequestBodyTruncated = string(jc.reqBody.buf), jc.reqBody.truncated
	e.ResponseBody, e.ResponseBodyTruncated = string(jc.respBody.buf), jc.respBody.truncated
	return e
}

// startJournal begins the entry of r, or returns nil when nothing is
// journaled: no journal, an /admin request or a /metrics scrape (the
// journal records the API's traffic, not the calls that inspect it), or
// the console's page and files (which are not API calls; what the console
// does through the API is journaled like any client's).
func (s *Server) startJournal(r *http.Request, reqID, clientID string) *journalCall {
	if s.Journal == nil || isAdminPath(r.URL.Path) || isConsolePath(r.URL.Path) || strings.EqualFold(r.URL.Path, "/metrics") {
		return nil
	}
	jc := &journalCall{entry: JournalEntry{
		Time: s.now().UTC(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		RequestID: reqID, ClientRequestID: clientID,
	}}
	if step, ok := r.Context().Value(batchStepKey).(batchStepInfo); ok {
		jc.entry.BatchRequestID, jc.entry.BatchStepID = step.batchRequestID, step.id
	}
	jc.secret = isSecretPath(r.URL.Path)
	if !jc.secret {
		jc.reqBody.limit, jc.respBody.limit = s.Journal.bodyLimit, s.Journal.bodyLimit
		if r.Body != nil && r.Body != http.NoBody && s.Journal.bodyLimit > 0 {
			r.Body = teeBody{ReadCloser: r.Body, c: &jc.reqBody}
		}
	}
	return jc
}

// finish completes the entry and adds it to the journal.
func (jc *journalCall) finish(j *Journal, status int, d time.Duration, fault string) {
	e := &jc.entry
	e.Status, e.Duration, e.DurationMS, e.Fault = status, d, float64(d.Microseconds())/1000, fault
	j.add(jc)
}

// setCaller records who made the request, once it is known.
func (jc *journalCall) setCaller(c *call) {
	if jc == nil {
		return
	}
	if c.caller == nil {
		jc.entry.Tenant = c.pathTenant
		return
	}
	p := c.caller
	jc.caller = JournalActor{Type: "app", AppID: p.AppID, ObjectID: p.ObjectID}
	if p.Delegated() {
		jc.caller.Type, jc.caller.Username = "user", p.Username
	}
	jc.entry.Tenant = p.Tenant
}

// batchStepInfo marks the request of a $batch step: which batch, which step.
type batchStepInfo struct{ batchRequestID, id string }

// batchStepKey is the context key of batchStepInfo.
const batchStepKey = journalCtxKey(0)

type journalCtxKey int

// isSecretPath reports the sign-in and token endpoints, whose bodies carry
// client secrets, passwords, codes and tokens: /{tenant}/oauth2/...
func isSecretPath(path string) bool {
	_, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return ok && len(rest) >= len("oauth2/") && strings.EqualFold(rest[:len("oauth2/")], "oauth2/")
}

// isAdminPath reports /admin and what is under it, as the route table
// matches it: without regard to case. It splits nothing: every request asks.
func isAdminPath(path string) bool {
	const prefix = "/admin"
	if len(path) < len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}
