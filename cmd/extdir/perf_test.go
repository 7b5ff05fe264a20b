package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// pprofURL finds the profiler's address in the server's log.
func (ts *testServer) pprofURL() string {
	for line := range strings.SplitSeq(ts.logText(), "\n") {
		var e struct{ Msg, URL string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "pprof listening" {
			return e.URL
		}
	}
	return ""
}

func TestPprofListener(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		ts := startServer(t)
		if u := ts.pprofURL(); u != "" {
			t.Fatalf("a profiler listens at %s without --pprof", u)
		}
		// Nor does the API serve it.
		resp, err := ts.client.Get(ts.base + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("the API listener serves /debug/pprof/")
		}
	})
	t.Run("--pprof serves the profiler on loopback", func(t *testing.T) {
		ts := startServer(t, "--pprof", "127.0.0.1:0")
		u := ts.pprofURL()
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("pprof URL %q, want one on 127.0.0.1", u)
		}
		resp, err := ts.client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
			t.Fatalf("GET %s: %d %q", u, resp.StatusCode, body)
		}
	})
}

func TestPerfFlagsRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"--pprof on every interface is a usage error", []string{"--pprof", ":6060"}, "loopback"},
		{"--pprof on a public address is a usage error", []string{"--pprof", "192.0.2.1:6060"}, "loopback"},
		{"--pprof without a port is a usage error", []string{"--pprof", "127.0.0.1"}, "loopback"},
		{"a negative --token-cache is a usage error", []string{"--token-cache", "-1"}, "token-cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tt.args...)
			err := run(context.Background(), args, noEnv, io.Discard, io.Discard)
			var usage *usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a usage error about %s", err, tt.want)
			}
		})
	}
}

func TestTokenCacheOffStillServes(t *testing.T) {
	ts := startServer(t, "--token-cache", "0")
	tok := ts.token()
	for range 2 {
		if r := ts.req("GET", pendingPath, tok, nil); r.status != http.StatusOK {
			t.Fatalf("list without the token cache: %d %s", r.status, r.body)
		}
	}
	if r := ts.req("GET", pendingPath, tok[:len(tok)-4]+"AAAA", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("a forged signature without the token cache: %d", r.status)
	}
}
