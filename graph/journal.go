package graph

import (
	"bytes"
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
	entries []*JournalEntry // ring of cap size
	next    int             // slot of the next entry
	full    bool
	seq     int64
}

// NewJournal keeps the last size requests and bodyLimit bytes of each body.
func NewJournal(size, bodyLimit int) *Journal {
	return &Journal{entries: make([]*JournalEntry, max(size, 1)), bodyLimit: max(bodyLimit, 0)}
}

func (j *Journal) add(e *JournalEntry) {
	j.mu.Lock()
	j.seq++
	e.Seq = j.seq
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
	visit := func(e *JournalEntry) {
		if e != nil && (keep == nil || keep(e)) {
			out = append(out, *e)
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
	var kept []*JournalEntry
	n := 0
	walk := func(es []*JournalEntry) {
		for _, e := range es {
			switch {
			case e == nil:
			case tenant == "" || strings.EqualFold(e.Tenant, tenant):
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
	buf       bytes.Buffer
	limit     int
	truncated bool
}

func (c *capture) Write(p []byte) (int, error) {
	room := c.limit - c.buf.Len()
	if room < len(p) {
		c.truncated = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
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
type journalCall struct {
	entry    *JournalEntry
	reqBody  *capture
	respBody *capture
	secret   bool // a sign-in or token endpoint: no bodies kept
}

// startJournal begins the entry of r, or returns nil when nothing is
// journaled: no journal, or an /admin request (the journal records the
// API's traffic, not the test's own calls to inspect it).
func (s *Server) startJournal(r *http.Request, reqID, clientID string) *journalCall {
	if s.Journal == nil || isAdminPath(r.URL.Path) {
		return nil
	}
	jc := &journalCall{entry: &JournalEntry{
		Time: s.now().UTC(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		RequestID: reqID, ClientRequestID: clientID,
	}}
	if step, ok := r.Context().Value(batchStepKey).(batchStepInfo); ok {
		jc.entry.BatchRequestID, jc.entry.BatchStepID = step.batchRequestID, step.id
	}
	jc.secret = isSecretPath(r.URL.Path)
	if !jc.secret && s.Journal.bodyLimit > 0 {
		jc.reqBody = &capture{limit: s.Journal.bodyLimit}
		jc.respBody = &capture{limit: s.Journal.bodyLimit}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = teeBody{ReadCloser: r.Body, c: jc.reqBody}
		}
	}
	return jc
}

// finish completes the entry and adds it to the journal.
func (jc *journalCall) finish(j *Journal, status int, d time.Duration, fault string) {
	e := jc.entry
	e.Status, e.Duration, e.DurationMS, e.Fault = status, d, float64(d.Microseconds())/1000, fault
	if jc.reqBody != nil {
		e.RequestBody, e.RequestBodyTruncated = jc.reqBody.buf.String(), jc.reqBody.truncated
		e.ResponseBody, e.ResponseBodyTruncated = jc.respBody.buf.String(), jc.respBody.truncated
	}
	j.add(e)
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
	a := &JournalActor{Type: "app", AppID: p.AppID, ObjectID: p.ObjectID}
	if p.Delegated() {
		a.Type, a.Username = "user", p.Username
	}
	jc.entry.Tenant, jc.entry.Caller = p.Tenant, a
}

// batchStepInfo marks the request of a $batch step: which batch, which step.
type batchStepInfo struct{ batchRequestID, id string }

// batchStepKey is the context key of batchStepInfo.
const batchStepKey = journalCtxKey(0)

type journalCtxKey int

// isSecretPath reports the sign-in and token endpoints, whose bodies carry
// client secrets, passwords, codes and tokens.
func isSecretPath(path string) bool {
	segs := splitPath(path)
	return len(segs) >= 3 && strings.EqualFold(segs[1], "oauth2")
}

func isAdminPath(path string) bool {
	segs := splitPath(path)
	return len(segs) > 0 && strings.EqualFold(segs[0], "admin")
}
