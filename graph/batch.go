package graph

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/extdir/extdir"
)

// maxBatchRequests is Graph's limit on the requests of one JSON batch.
const maxBatchRequests = 20

// batchPattern is the route of JSON batching; the throttle charges the
// requests inside a batch, not the batch itself.
const batchPattern = "/beta/$batch"

// eFailedDependency is the code of a batched request that did not run
// because a request it depends on failed.
const eFailedDependency extdir.Code = "failed_dependency"

// serveStep dispatches a step as a top-level request. It is bound in init
// because the route table names the batch handler, which would otherwise
// refer back to the route table through serveHTTP: an initialization cycle.
var serveStep func(*Server, http.ResponseWriter, *http.Request)

func init() {
	serveStep = (*Server).serveHTTP
}

// batchRequest is one member of "requests", as Graph's JSON batching
// documents it.
type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// batchStep is a checked batchRequest, ready to run.
type batchStep struct {
	id      string // as the client spelled it; responses echo it
	method  string
	url     *url.URL // absolute path under /beta, with the query
	headers map[string]string
	body    []byte
	deps    []int // indexes of the steps this one depends on
}

// batchResult is the captured answer to one step.
type batchResult struct {
	status int
	header http.Header
	body   []byte
}

// batch serves POST /beta/$batch. Every step is dispatched as a request of
// its own through serveHTTP, the entry point of top-level requests, so it
// meets the same routing, authentication, throttling, validation and tenant
// scoping. The batch's own token is every step's token.
func (s *Server) batch(c *call) error {
	raw, err := readJSONBody(c.r)
	if err != nil {
		return err
	}
	steps, err := parseBatch(raw)
	if err != nil {
		return err
	}
	results := make([]*batchResult, len(steps))
	for _, i := range batchOrder(steps) {
		results[i] = s.runStep(c, steps, i, results)
	}
	writeJSON(c.w, http.StatusOK, renderBatch(steps, results))
	return nil
}

// batchError is a Graph 400 for a batch that cannot run at all; none of its
// requests run.
func batchError(format string, args ...any) error {
	return extdir.Errorf(extdir.EBadRequest, "Invalid batch payload: "+format, args...)
}

// parseBatch decodes and checks the whole batch before anything runs, so
// that a malformed batch changes nothing.
func parseBatch(raw []byte) ([]*batchStep, error) {
	var env struct {
		Requests *[]batchRequest `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&env); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			where := typeErr.Field
			if where == "" {
				where = "the body"
			}
			return nil, batchError("%s cannot be a JSON %s.", where, typeErr.Value)
		}
		return nil, extdir.ErrMalformedBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, extdir.ErrMalformedBody
	}
	if env.Requests == nil {
		return nil, batchError("the body must be a JSON object with a 'requests' array.")
	}
	reqs := *env.Requests
	if len(reqs) == 0 {
		// Graph answers an empty batch with 400 rather than an empty list.
		return nil, batchError("a batch holds at least one request; this one holds none.")
	}
	if len(reqs) > maxBatchRequests {
		return nil, batchError("a batch holds at most %d requests; this one holds %d.", maxBatchRequests, len(reqs))
	}

	// Graph compares ids without regard to case.
	index := make(map[string]int, len(reqs))
	steps := make([]*batchStep, len(reqs))
	for i, br := range reqs {
		st, err := checkBatchRequest(i, br)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(br.ID)
		if _, dup := index[key]; dup {
			return nil, batchError("the id '%s' is used by more than one request; ids are compared without regard to case.", br.ID)
		}
		index[key] = i
		steps[i] = st
	}
	for i, br := range reqs {
		for _, dep := range br.DependsOn {
			j, ok := index[strings.ToLower(dep)]
			if !ok {
				return nil, batchError("request '%s' depends on '%s', which is not in the batch.", br.ID, dep)
			}
			if j == i {
				return nil, batchError("request '%s' depends on itself.", br.ID)
			}
			steps[i].deps = append(steps[i].deps, j)
		}
	}
	if id, ok := dependencyCycle(steps); ok {
		return nil, batchError("the dependsOn of request '%s' form a cycle.", id)
	}
	return steps, nil
}

// batchMethods are the methods a step may use.
var batchMethods = map[string]bool{"GET": true, "POST": true, "PATCH": true, "PUT": true, "DELETE": true}

func checkBatchRequest(i int, br batchRequest) (*batchStep, error) {
	if br.ID == "" {
		return nil, batchError("the request at index %d has no id.", i)
	}
	if br.Method == "" {
		return nil, batchError("request '%s' has no method.", br.ID)
	}
	method := strings.ToUpper(br.Method)
	if !batchMethods[method] {
		return nil, batchError("request '%s' uses the method '%s'; use GET, POST, PATCH, PUT or DELETE.", br.ID, br.Method)
	}
	if br.URL == "" {
		return nil, batchError("request '%s' has no url.", br.ID)
	}
	u, err := stepURL(br.URL)
	if err != nil {
		return nil, batchError("request '%s': %v", br.ID, err)
	}
	body, err := stepBody(br.Body)
	if err != nil {
		return nil, batchError("request '%s': %v", br.ID, err)
	}
	hasType := false
	for name := range br.Headers {
		if strings.EqualFold(name, "Content-Type") {
			hasType = true
		}
	}
	// Graph refuses the whole batch when a write lacks its body or content
	// type, and requires a Content-Type with any body.
	write := method == "POST" || method == "PATCH" || method == "PUT"
	if write && (body == nil || !hasType) {
		return nil, extdir.Errorf(extdir.EBadRequest, "Write request id : %s does not contain Content-Type header or body.", br.ID)
	}
	if body != nil && !hasType {
		return nil, batchError("request '%s' has a body but no Content-Type header.", br.ID)
	}
	return &batchStep{id: br.ID, method: method, url: u, headers: br.Headers, body: body}, nil
}

// stepURL resolves a step's url, relative to /beta with or without a leading
// slash, into an absolute path. A leading /beta is accepted too, since the
// classic Graph client's BatchRequestContent keeps the version segment of
// the absolute URLs it is given.
func stepURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(raw, "//") {
		return nil, errors.New("the url must be relative to /beta, such as /directory/pendingExternalUserProfiles")
	}
	rest := strings.TrimPrefix(u.Path, "/")
	if first, after, _ := strings.Cut(rest, "/"); strings.EqualFold(first, "beta") {
		rest = after
	}
	for seg := range strings.SplitSeq(path.Clean("/"+rest), "/") {
		if strings.EqualFold(seg, "$batch") {
			return nil, errors.New("a batch cannot contain another $batch")
		}
	}
	u.Path = "/beta/" + rest
	u.RawPath = ""
	// Graph's own examples put spaces in batched queries ($filter=city eq
	// null); escape them as a client would in a URL, so that the query a
	// handler echoes (in @odata.nextLink) is a valid URL.
	u.RawQuery = strings.ReplaceAll(u.RawQuery, " ", "%20")
	return u, nil
}

// stepBody turns a step's body into bytes: JSON as it is, a string as the
// base64 content Graph expects for bodies that are not JSON.
func stepBody(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '"' {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("a string body must be base64-encoded")
}

// dependencyCycle reports a step on a dependsOn cycle, if any.
func dependencyCycle(steps []*batchStep) (string, bool) {
	const (
		unvisited = iota
		visiting
		finished
	)
	state := make([]int, len(steps))
	var visit func(i int) bool
	visit = func(i int) bool {
		switch state[i] {
		case visiting:
			return true
		case finished:
			return false
		}
		state[i] = visiting
		for _, d := range steps[i].deps {
			if visit(d) {
				return true
			}
		}
		state[i] = finished
		return false
	}
	for i := range steps {
		if visit(i) {
			return steps[i].id, true
		}
	}
	return "", false
}

// batchOrder is the order the steps run in: each after the steps it depends
// on, otherwise in the order of the batch. Graph may run independent
// requests in any order; running them one at a time in the client's order
// makes a batch's outcome reproducible.
func batchOrder(steps []*batchStep) []int {
	order := make([]int, 0, len(steps))
	done := make([]bool, len(steps))
	for len(order) < len(steps) {
		for i, st := range steps {
			if done[i] || !allDone(st.deps, done) {
				continue
			}
			done[i] = true
			order = append(order, i)
			break
		}
	}
	return order
}

func allDone(deps []int, done []bool) bool {
	for _, d := range deps {
		if !done[d] {
			return false
		}
	}
	return true
}

// runStep answers one step: 424 when a step it depends on failed, otherwise
// whatever serveHTTP answers the step as a request of its own.
func (s *Server) runStep(c *call, steps []*batchStep, i int, results []*batchResult) *batchResult {
	st := steps[i]
	rec := &batchRecorder{header: make(http.Header)}
	inner := stepRequest(c.r, st)
	if d, ok := failedDependency(st, results); ok {
		// Not dispatched, so it gets here the ids and headers serveHTTP
		// gives every answer.
		rec.header.Set("OData-Version", "4.0")
		rec.header.Set("Cache-Control", "no-cache")
		ctx := context.WithValue(inner.Context(), idsKey, ids{request: uuid.NewString(), client: inner.Header.Get("client-request-id"), now: s.clock})
		writeError(rec, inner.WithContext(ctx), extdir.Errorf(eFailedDependency,
			"The request was not run because request '%s', which it depends on, failed.", steps[d].id))
		s.observeUnrunStep(ctx, inner, st.id, rec)
	} else {
		step := batchStepInfo{batchRequestID: requestIDs(c.r).request, id: st.id}
		serveStep(s, rec, inner.WithContext(context.WithValue(inner.Context(), batchStepKey, step)))
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	logger(c.r).Debug("batch step",
		slog.String("step", st.id),
		slog.String("method", st.method),
		slog.String("path", st.url.Path),
		slog.Int("status", rec.status),
		slog.String("step_request_id", rec.header.Get("request-id")))
	return &batchResult{status: rec.status, header: rec.header, body: rec.body.Bytes()}
}

// failedDependency finds a step st depends on that did not succeed. A 424
// counts as a failure, so a failure fails everything downstream of it.
func failedDependency(st *batchStep, results []*batchResult) (int, bool) {
	for _, d := range st.deps {
		if s := results[d].status; s < 200 || s > 299 {
			return d, true
		}
	}
	return 0, false
}

// stepRequest builds the request a step stands for: the batch's context,
// connection and token, the step's method, URL, headers and body.
func stepRequest(batch *http.Request, st *batchStep) *http.Request {
	var body io.ReadCloser = http.NoBody
	if st.body != nil {
		body = io.NopCloser(bytes.NewReader(st.body))
	}
	r := &http.Request{
		Method:        st.method,
		URL:           st.url,
		Proto:         batch.Proto,
		ProtoMajor:    batch.ProtoMajor,
		ProtoMinor:    batch.ProtoMinor,
		Header:        make(http.Header, len(st.headers)+2),
		Body:          body,
		ContentLength: int64(len(st.body)),
		Host:          batch.Host,
		RemoteAddr:    batch.RemoteAddr,
		RequestURI:    st.url.RequestURI(),
		TLS:           batch.TLS,
	}
	for name, value := range st.headers {
		switch strings.ToLower(name) {
		case "authorization", "content-length", "host", "transfer-encoding", "connection":
			// The batch's token is the caller of every step; the rest
			// describe the step's own framing, which has none.
			continue
		}
		r.Header.Set(name, value)
	}
	if auth := batch.Header.Get("Authorization"); auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if r.Header.Get("client-request-id") == "" {
		if id := requestIDs(batch).client; id != "" {
			r.Header.Set("client-request-id", id)
		}
	}
	return r.WithContext(batch.Context())
}

// batchRecorder captures a step's response.
type batchRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *batchRecorder) Header() http.Header { return w.header }

func (w *batchRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *batchRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// stepHeaderNames spells headers inside a batch response as Graph does. Go
// canonicalizes header names (Etag, Odata-Version), which is harmless on
// the wire, where names are case-insensitive, but not inside JSON, where
// clients look them up as written.
var stepHeaderNames = map[string]string{
	"Etag":             "ETag",
	"Odata-Version":    "OData-Version",
	"Www-Authenticate": "WWW-Authenticate",
}

// droppedStepHeaders describe the batch's transport or are the batch's own.
var droppedStepHeaders = map[string]bool{
	"Content-Length":    true,
	"Request-Id":        true,
	"Client-Request-Id": true,
}

func stepHeaderName(name string) string {
	if n, ok := stepHeaderNames[name]; ok {
		return n
	}
	if strings.HasPrefix(name, "X-Ms-") {
		// Graph's own x-ms-* headers are lowercase.
		return strings.ToLower(name)
	}
	return name
}

// renderBatch writes {"responses":[...]} in the order of the requests: each
// with id, status, headers and, unless the answer had none (a 204), body —
// JSON bodies as JSON, other bodies base64-encoded, as Graph does.
func renderBatch(steps []*batchStep, results []*batchResult) []byte {
	b := make([]byte, 0, 1024*len(steps)+32)
	b = append(b, `{"responses":[`...)
	for i, st := range steps {
		res := results[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, st.id)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(res.status), 10)
		b = append(b, `,"headers":{`...)
		first := true
		for _, name := range sortedKeys(res.header) {
			if droppedStepHeaders[name] {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, stepHeaderName(name))
			b = append(b, ':')
			b = appendString(b, strings.Join(res.header[name], ", "))
		}
		b = append(b, '}')
		if len(res.body) > 0 {
			b = append(b, `,"body":`...)
			if isJSONType(res.header.Get("Content-Type")) && json.Valid(res.body) {
				b = append(b, res.body...)
			} else {
				b = appendString(b, base64.StdEncoding.EncodeToString(res.body))
			}
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// sortedKeys makes the rendering deterministic: the same answers render the
// same bytes.
func sortedKeys(h http.Header) []string {
	return slices.Sorted(maps.Keys(h))
}
