package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir/graph"
)

// BenchmarkOverload drives extdir serve, started as the binary starts it
// (access log and request journal on, a SQLite file), with wrk: as many
// connections as the default --max-inflight (graph.DefaultMaxInflight),
// then twice as many, each sending its next request the moment it has an
// answer, and a shed one again at once, ignoring Retry-After: the worst
// client there is (and, in one case, clients that wait the Retry-After of a
// shed request, as Graph's SDKs do). wrk, written in C, costs the two shared cores far less
// per request than a Go client would. It reports per second the requests
// answered 2xx (ok/s) and those shed with the limiter's 503 (shed/s), and
// the p99 latency of all answers; any other answer, or a failed or timed
// out connection, fails the benchmark: every request the server accepts
// must complete. Each case is one wrk run of 5 s after one of 1 s, whatever
// b.N, so run it with -benchtime 1x:
//
//	go test -run '^$' -bench Overload -benchtime 1x ./cmd/extdir
//
// docs/benchmarks.md (Overload) keeps the figures. It skips without wrk.
func BenchmarkOverload(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install -y wrk)")
	}
	limit := graph.DefaultMaxInflight()
	cases := []struct {
		name  string
		args  []string
		conns int
	}{
		{"limit", nil, limit},
		{"limit", nil, 2 * limit},
		{"limit/wait=0s", []string{"--max-inflight-wait", "0s"}, 2 * limit},
		{"no-limit", []string{"--max-inflight", "0"}, 2 * limit},
		{"limit", nil, 4 * limit},
		{"limit/clients-honour-retry-after", []string{honourRetryAfter}, 4 * limit},
		{"no-limit", []string{"--max-inflight", "0"}, 4 * limit},
	}
	for _, workload := range []string{"get", "create"} {
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/%s/conns=%d", workload, c.name, c.conns), func(b *testing.B) {
				args := append([]string{"--max-inflight", strconv.Itoa(limit)}, c.args...)
				honour := slices.Contains(args, honourRetryAfter)
				srv := startBenchServer(b, slices.DeleteFunc(args, func(a string) bool { return a == honourRetryAfter })...)
				srv.wrk(b, workload, c.conns, honour, 5*time.Second)
			})
		}
	}
}

// honourRetryAfter marks the case whose clients wait out Retry-After; it is
// not a flag of serve.
const honourRetryAfter = "honour-retry-after"

// benchServer is extdir serve started in-process by run, on a fresh data
// directory with 500 profiles, and a token of the development tenant.
type benchServer struct {
	base, token string
	ids         []string
}

func startBenchServer(b *testing.B, extra ...string) *benchServer {
	b.Helper()
	dir := b.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json"}, extra...)
	go func() {
		err := run(ctx, args, noEnv, io.Discard, pw)
		pw.CloseWithError(errors.New("server stopped"))
		done <- err
	}()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			var e struct{ Msg, URL string }
			if !sent && json.Unmarshal(sc.Bytes(), &e) == nil && e.Msg == "listening" {
				urls <- strings.TrimSuffix(e.URL, "/beta")
				sent = true
			}
		}
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("server: %v", err)
		}
	})
	s := &benchServer{}
	select {
	case s.base = <-urls:
	case err := <-done:
		b.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		b.Fatal("server did not start in time")
	}
	var tok bytes.Buffer
	if err := run(context.Background(), []string{"token", "--data-dir", dir}, noEnv, &tok, io.Discard); err != nil {
		b.Fatal(err)
	}
	s.token = strings.TrimSpace(tok.String())
	for i := range 500 {
		body := fmt.Sprintf(`{"displayName":"Seed %d","phoneNumber":"+1555%07d"}`, i, i)
		req, _ := http.NewRequest("POST", s.base+pendingPath, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var p struct{ ID string }
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			b.Fatalf("seed: %d %v", resp.StatusCode, err)
		}
		s.ids = append(s.ids, p.ID)
	}
	return s
}

// overloadScript is the wrk script: a random seeded profile by id, or a
// new profile, and a count of the answers by kind in every thread.
const overloadScript = `
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  ok, shed, other, first, n, last = 0, 0, 0, "", 0, 0
  math.randomseed(7919 * (tid + 1))
end
function request()
  if workload == "create" then
    n = n + 1
    return wrk.format("POST", path, headers, string.format('{"displayName":"Load %d %d","phoneNumber":"+4%d%02d%08d"}', tid, n, run, tid, n))
  end
  return wrk.format("GET", path .. "/" .. ids[math.random(1, #ids)], headers)
end
function response(status, hdrs, body)
  last = 0
  if status < 300 then
    ok = ok + 1
  elseif status == 503 and hdrs["Retry-After"] ~= nil and string.find(body, "busy", 1, true) then
    shed = shed + 1
    last = tonumber(hdrs["Retry-After"]) * 1000
  else
    other = other + 1
    if first == "" then first = status .. " " .. string.gsub(body, "[^%w%p ]", " ") end
  end
end
-- wrk asks for the delay of a connection's next request right after the
-- response to its last one, on the same thread: last is that response's.
if honour then
  function delay() return last end
end
function done(summary, latency, requests)
  local ok, shed, other, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    ok, shed, other = ok + t:get("ok"), shed + t:get("shed"), other + t:get("other")
    if first == "" then first = t:get("first") end
  end
  local e = summary.errors
  io.write(string.format('OVERLOAD {"ok":%d,"shed":%d,"other":%d,"duration_us":%d,"p99_us":%d,"socket_errors":%d,"first":%q}\n',
    ok, shed, other, summary.duration, latency:percentile(99), e.connect + e.read + e.write + e.timeout, first))
end
`

// wrk drives the server for d over conns connections and reports the
// answers, failing the benchmark on any that is neither 2xx nor shed.
func (s *benchServer) wrk(b *testing.B, workload string, conns int, honour bool, d time.Duration) {
	var prelude strings.Builder
	fmt.Fprintf(&prelude, "honour = %t\nworkload = %q\npath = %q\nheaders = {Authorization = %q, [\"Content-Type\"] = \"application/json\"}\nids = {", honour, workload, pendingPath, "Bearer "+s.token)
	for i, id := range s.ids {
		if i > 0 {
			prelude.WriteByte(',')
		}
		fmt.Fprintf(&prelude, "%q", id)
	}
	prelude.WriteString("}\n")
	dir := b.TempDir()
	wrk := func(run int, d time.Duration) ([]byte, error) {
		// run keeps the phone numbers of two runs apart.
		script := filepath.Join(dir, fmt.Sprintf("overload-%d.lua", run))
		if err := os.WriteFile(script, fmt.Appendf(nil, "%srun = %d\n%s", prelude.String(), run, overloadScript), 0o600); err != nil {
			return nil, err
		}
		return exec.Command("wrk", "-t", "2", "-c", strconv.Itoa(conns), "-d", strconv.Itoa(int(d.Seconds()))+"s",
			"--timeout", "10s", "-s", script, s.base).CombinedOutput()
	}
	// A second unmeasured first: the token cache, the page cache and the
	// connections warm up.
	if out, err := wrk(1, time.Second); err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	b.ResetTimer()
	out, err := wrk(2, d)
	b.StopTimer()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	_, line, ok := strings.Cut(string(out), "OVERLOAD ")
	if !ok {
		b.Fatalf("wrk printed no summary:\n%s", out)
	}
	line, _, _ = strings.Cut(line, "\n")
	var r struct {
		OK           int64  `json:"ok"`
		Shed         int64  `json:"shed"`
		Other        int64  `json:"other"`
		DurationUS   int64  `json:"duration_us"`
		P99US        int64  `json:"p99_us"`
		SocketErrors int64  `json:"socket_errors"`
		First        string `json:"first"`
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		b.Fatalf("wrk summary %q: %v", line, err)
	}
	if r.Other > 0 || r.SocketErrors > 0 {
		b.Fatalf("%d answers neither 2xx nor shed, %d failed connections; the first: %s", r.Other, r.SocketErrors, r.First)
	}
	secs := float64(r.DurationUS) / 1e6
	b.ReportMetric(float64(r.OK)/secs, "ok/s")
	b.ReportMetric(float64(r.Shed)/secs, "shed/s")
	b.ReportMetric(float64(r.P99US)/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
