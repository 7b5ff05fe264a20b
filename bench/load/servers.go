package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/extdir/extdir/internal/procstat"
)

// server is one process under load, started by the harness on a loopback
// port it chose.
type server struct {
	name  string
	cmd   *exec.Cmd
	base  string // http://127.0.0.1:port
	pprof string // base URL of its net/http/pprof listener, "" for none
	// profiles is the size of the directory it serves: the tenant under
	// test's profiles, the peer's users, 0 for the bare server.
	profiles int
	startup  time.Duration
	exited   chan struct{}
	waitErr  error
	out      *tailBuffer
}

// checkLoopback refuses any target that is not on this machine's loopback
// interface: the harness is a load generator, and must never be one for
// someone else's server.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("target %q: %w", base, err)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %q is not a loopback address: load goes to 127.0.0.1 only", base)
	}
	return nil
}

// freePort returns a loopback port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// fSetPipeSize is Linux's F_SETPIPE_SZ fcntl.
const fSetPipeSize = 1031

// start runs bin and waits until ready answers true for its base URL (or
// the process dies, or a minute passes). The process's output goes to a
// pipe that is read only every few milliseconds, keeping its last lines for
// error messages: an access log line per request must cost the server a
// write and the harness nearly nothing.
func start(ctx context.Context, name, bin string, args, env []string, dir string, port int, ready func(base string) bool) (*server, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, r.Fd(), fSetPipeSize, 1<<20)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = w, w
	dieWithParent(cmd)
	s := &server{name: name, cmd: cmd, base: "http://127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{}), out: &tailBuffer{max: 16 << 10}}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	w.Close()
	go s.out.drain(r)
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(time.Minute)
	for !ready(s.base) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", name, s.waitErr, s.out)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not ready within a minute:\n%s", name, s.out)
		}
	}
	s.startup = time.Since(began)
	return s, nil
}

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// alive reports an error if the process has died.
func (s *server) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("%s died (%v):\n%s", s.name, s.waitErr, s.out)
	default:
		return nil
	}
}

// resetPeak starts a new peak-RSS window (Linux: clear_refs 5 resets
// VmHWM), so that each workload reports its own peak.
func (s *server) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
}

// peakRSS is the process's peak resident set (VmHWM) in bytes.
func (s *server) peakRSS() (int64, error) { return s.status("VmHWM") }

// anonRSS is the process's resident anonymous memory (RssAnon) in bytes:
// its heap and stacks, without the pages of files it maps, which VmHWM
// counts too (the kernel's page cache, shared and reclaimable).
func (s *server) anonRSS() (int64, error) { return s.status("RssAnon") }

// status reads one kB field of /proc/<pid>/status, in bytes.
func (s *server) status(field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", field, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// cpuTime is the processor time (user + system) the server has used so far.
func (s *server) cpuTime() (time.Duration, error) { return procstat.CPUTime(s.cmd.Process.Pid) }

// tailBuffer keeps the last max bytes of a process's output.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

// drain reads r until it closes, in large gulps a few milliseconds apart.
func (t *tailBuffer) drain(r io.ReadCloser) {
	defer r.Close()
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		t.mu.Lock()
		t.b = append(t.b, buf[:n]...)
		if len(t.b) > t.max {
			t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
		}
		t.mu.Unlock()
		if err != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// client talks to the servers outside the measured load: readiness,
// seeding, recording a response.
var client = &http.Client{Timeout: 30 * time.Second}

// statusIs returns a readiness check: GET path answers want.
func statusIs(path string, want int) func(base string) bool {
	return func(base string) bool {
		resp, err := client.Get(base + path)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return want == 0 || resp.StatusCode == want
	}
}

// recordedResponse is one HTTP response as bench/bare reads it.
type recordedResponse struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body"`
}

// call makes one request and returns the response with its body read.
func call(method, target, token, contentType string, body []byte) (*recordedResponse, error) {
	if err := checkLoopback(target); err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &recordedResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

// writeJSONFile writes v to path.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
