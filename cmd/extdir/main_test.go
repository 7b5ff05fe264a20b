package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is the real program, started in-process by run() on port 0
// with a fresh data directory, as a user would start it.
type testServer struct {
	t       *testing.T
	dir     string
	base    string // http://127.0.0.1:port
	client  *http.Client
	cancel  context.CancelFunc
	done    chan error
	logMu   sync.Mutex
	logs    bytes.Buffer
	stopped bool
}

func noEnv(string) string { return "" }

// startServer runs `extdir serve` with the given extra flags and waits for
// its "listening" log line.
func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	return startServerIn(t, t.TempDir(), extra...)
}

func startServerIn(t *testing.T, dir string, extra ...string) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: dir, client: &http.Client{Timeout: 30 * time.Second}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json"}, extra...)
	go func() {
		err := run(ctx, args, noEnv, io.Discard, pw)
		pw.CloseWithError(errors.New("server stopped"))
		ts.done <- err
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			ts.logMu.Lock()
			ts.logs.Write(line)
			ts.logs.WriteByte('\n')
			ts.logMu.Unlock()
			var entry struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if !sent && json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" {
				addr <- strings.TrimSuffix(entry.URL, "/beta")
				sent = true
			}
		}
		if !sent {
			close(addr)
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("server did not start: %v\n%s", <-ts.done, ts.logText())
		}
		ts.base = a
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start in time\n%s", ts.logText())
	}
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) logText() string {
	ts.logMu.Lock()
	defer ts.logMu.Unlock()
	return ts.logs.String()
}

// eventuallyLogged waits a few seconds for s to appear in the log.
func (ts *testServer) eventuallyLogged(s string) bool {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(ts.logText(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// stop shuts the server down as SIGTERM would and checks it exits cleanly.
func (ts *testServer) stop() {
	if ts.stopped {
		return
	}
	ts.stopped = true
	ts.cancel()
	select {
	case err := <-ts.done:
		if err != nil {
			ts.t.Errorf("server exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		ts.t.Errorf("server did not stop in time")
	}
}

// token runs `extdir token` against the server's data dir.
func (ts *testServer) token(args ...string) string {
	ts.t.Helper()
	var out bytes.Buffer
	all := append([]string{"token", "--data-dir", ts.dir}, args...)
	if err := run(context.Background(), all, noEnv, &out, io.Discard); err != nil {
		ts.t.Fatalf("extdir token %v: %v", args, err)
	}
	return strings.TrimSpace(out.String())
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// errorCode returns error.code of a Graph error body.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// req sends one request; headers come in name, value pairs.
func (ts *testServer) req(method, path, token string, body any, headers ...string) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = ts.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

const (
	pendingPath  = "/beta/directory/pendingExternalUserProfiles"
	externalPath = "/beta/directory/externalUserProfiles"
	deletedPath  = "/beta/directory/deletedItems"
)

// snapshot is everything the tenant of token holds, live and deleted, so a
// test can show that a rejected request changed nothing.
func (ts *testServer) snapshot(token string) string {
	ts.t.Helper()
	var sb strings.Builder
	for _, p := range []string{
		pendingPath, externalPath,
		deletedPath + "/microsoft.graph.pendingExternalUserProfile",
		deletedPath + "/microsoft.graph.externalUserProfile",
	} {
		next := p + "?$top=999"
		for next != "" {
			r := ts.req("GET", next, token, nil)
			if r.status != 200 {
				ts.t.Fatalf("snapshot GET %s: %d %s", next, r.status, r.body)
			}
			m := r.json(ts.t)
			vals, _ := json.Marshal(m["value"])
			sb.Write(vals)
			sb.WriteByte('\n')
			next, _ = m["@odata.nextLink"].(string)
		}
	}
	return sb.String()
}

func (ts *testServer) create(token string, body map[string]any) map[string]any {
	ts.t.Helper()
	r := ts.req("POST", pendingPath, token, body)
	if r.status != http.StatusCreated {
		ts.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.json(ts.t)
}
