package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOverloadFlagErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--max-inflight", "-1"}, "must not be negative"},
		{[]string{"--request-timeout", "-1s"}, "must not be negative"},
		{[]string{"--read-header-timeout", "0"}, "must be positive"},
		{[]string{"--idle-timeout", "0"}, "must be positive"},
		{[]string{"--request-timeout", "90s"}, "must be below --write-timeout"},
	}
	for _, tt := range tests {
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, tt.args...)
		err := run(context.Background(), args, noEnv, io.Discard, io.Discard)
		var usage *usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v: %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}

// A client that sends its headers a line at a time, never finishing them,
// has its connection cut at --read-header-timeout; the server goes on
// serving others.
func TestASlowHeaderClientIsCut(t *testing.T) {
	ts := startServer(t, "--read-header-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan error, 1)
	go func() {
		// The server never answers headers it has not finished reading; a
		// read ends when it closes the connection.
		_, err := conn.Read(make([]byte, 1))
		closed <- err
	}()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: extdir\r\n"); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(20 * time.Second)
	for cut := false; !cut; {
		select {
		case err := <-closed:
			if err == nil {
				t.Fatal("the server answered headers it had not finished reading")
			}
			cut = true
		case <-tick.C:
			// Errors are ignored: the server may have closed already, and
			// the read above reports it.
			_, _ = io.WriteString(conn, "X-Slow: 1\r\n")
		case <-giveUp:
			t.Fatal("a client trickling its headers held its connection for 20 s")
		}
	}
	if r := ts.req("GET", "/healthz", "", nil); r.status != http.StatusOK {
		t.Fatalf("healthz after cutting the slow client: %d", r.status)
	}
}

// SIGTERM lets a request in flight finish, and what it wrote is in the
// store when the server starts again: the shutdown drains the requests,
// then the group commit.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(t.TempDir(), "faults.json")
	// The create waits two seconds before it runs: it is in flight when
	// the shutdown begins, right after the injection is logged.
	if err := os.WriteFile(rules, []byte(`{"rules":[{"name":"slow-create","method":"POST","path":"`+pendingPath+`","latency":"2s"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServerIn(t, dir, "--faults-file", rules)
	tok := ts.token()
	type result struct {
		r   response
		err error
	}
	answered := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", ts.base+pendingPath, strings.NewReader(`{"displayName":"In flight","phoneNumber":"+15550199000"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := ts.client.Do(req)
		if err != nil {
			answered <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		answered <- result{r: response{status: resp.StatusCode, header: resp.Header, body: body}, err: err}
	}()
	if !ts.eventuallyLogged(`"rule":"slow-create"`) {
		t.Fatalf("the create did not reach the server:\n%s", ts.logText())
	}
	ts.cancel() // what SIGTERM does
	if !ts.eventuallyLogged(`"msg":"shutting down"`) {
		t.Fatal("no shutdown logged")
	}
	res := <-answered
	if res.err != nil || res.r.status != http.StatusCreated {
		t.Fatalf("the request in flight at shutdown: %v %d %s", res.err, res.r.status, res.r.body)
	}
	id, _ := res.r.json(t)["id"].(string)
	ts.stop()
	if !strings.Contains(ts.logText(), `"msg":"store closed"`) {
		t.Errorf("the store was not closed:\n%s", ts.logText())
	}

	again := startServerIn(t, dir)
	if r := again.req("GET", pendingPath+"/"+id, again.token(), nil); r.status != http.StatusOK {
		t.Fatalf("the create answered during the shutdown, after a restart: %d %s", r.status, r.body)
	}
}
