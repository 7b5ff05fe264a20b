package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the built binary as its own process, because what they
// check, surviving kill -9 and stopping on SIGTERM, cannot happen in-process.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func extdirBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "extdir-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "extdir")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is `extdir serve` as a child process.
type proc struct {
	cmd  *exec.Cmd
	base string
	exit chan error
}

func startProcess(t *testing.T, dir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json"}, extra...)
	cmd := exec.Command(extdirBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, exit: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			var e struct{ Msg, URL string }
			if !sent && json.Unmarshal(sc.Bytes(), &e) == nil && e.Msg == "listening" {
				urls <- strings.TrimSuffix(e.URL, "/beta")
				sent = true
			}
		}
		p.exit <- cmd.Wait()
	}()
	select {
	case p.base = <-urls:
	case err := <-p.exit:
		t.Fatalf("extdir exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("extdir did not start")
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	return p
}

func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir)
	ts := &testServer{t: t, dir: dir, client: &http.Client{Timeout: 10 * time.Second}}
	tok := ts.token()

	// Writers create and patch profiles until the process dies under them;
	// every create answered 201 and every patch answered 204 is recorded.
	var mu sync.Mutex
	var acked []string
	patched := map[string]string{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"displayName":"w%d-%d","phoneNumber":"+1%d%09d"}`, w, i, w+2, i)
				req, _ := http.NewRequest("POST", p.base+pendingPath, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := ts.client.Do(req)
				if err != nil {
					return // the server is gone
				}
				var m struct{ ID string }
				err = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				if resp.StatusCode != 201 || err != nil {
					continue
				}
				mu.Lock()
				acked = append(acked, m.ID)
				mu.Unlock()
				// Then patch what was created; a 204 is a promise too.
				title := fmt.Sprintf("patched %d-%d", w, i)
				req, _ = http.NewRequest("PATCH", p.base+pendingPath+"/"+m.ID, strings.NewReader(`{"jobTitle":"`+title+`"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err = ts.client.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == 204 {
					mu.Lock()
					patched[m.ID] = title
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	<-p.exit
	if len(acked) == 0 {
		t.Fatal("no create was acknowledged before the kill")
	}

	p2 := startProcess(t, dir)
	ts.base = p2.base
	for _, id := range acked {
		r := ts.req("GET", pendingPath+"/"+id, tok, nil)
		if r.status != 200 {
			t.Fatalf("acknowledged create %s lost after kill -9: %d %s", id, r.status, r.body)
		}
		if title, ok := patched[id]; ok && r.json(t)["jobTitle"] != title {
			t.Fatalf("acknowledged patch of %s lost after kill -9: jobTitle %v, want %q", id, r.json(t)["jobTitle"], title)
		}
	}
	t.Logf("%d acknowledged creates and %d patches all present after kill -9", len(acked), len(patched))

	// No change without its audit record, no record without its change:
	// every change moves a profile's epoch by one and writes one record, so
	// each profile has as many records as its epoch, and every record names
	// a profile that is there (nothing was purged).
	epochs := map[string]float64{}
	for _, v := range collect(t, ts, tok, pendingPath+"?$top=999") {
		epochs[v["id"].(string)] = v["epoch"].(float64)
	}
	records := map[string]float64{}
	for _, v := range collect(t, ts, tok, "/beta/auditLogs/directoryAudits?$top=999") {
		target := v["targetResources"].([]any)[0].(map[string]any)["id"].(string)
		if _, ok := epochs[target]; !ok {
			t.Fatalf("audit record %v names profile %s, which is not there", v["id"], target)
		}
		records[target]++
	}
	for id, epoch := range epochs {
		if records[id] != epoch {
			t.Fatalf("profile %s has epoch %v but %v audit records", id, epoch, records[id])
		}
	}
	t.Logf("%d profiles, each with as many audit records as changes", len(epochs))
}

// collect follows a listing's nextLinks and returns every item.
func collect(t *testing.T, ts *testServer, tok, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for path != "" {
		r := ts.req("GET", path, tok, nil)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		body := r.json(t)
		for _, v := range body["value"].([]any) {
			out = append(out, v.(map[string]any))
		}
		next, _ := body["@odata.nextLink"].(string)
		path = strings.TrimPrefix(next, ts.base)
	}
	return out
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir)
	ts := &testServer{t: t, dir: dir, base: p.base, client: &http.Client{Timeout: 10 * time.Second}}
	tok := ts.token()
	ts.create(tok, map[string]any{"displayName": "x", "phoneNumber": "+15556660000"})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exit:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not stop after SIGTERM")
	}
}

func TestCommandLine(t *testing.T) {
	bin := extdirBinary(t)
	cases := []struct {
		name   string
		args   []string
		env    []string
		code   int
		output string
	}{
		{"version prints the version", []string{"version"}, nil, 0, "extdir"},
		{"serve --help lists the flags with their variables", []string{"serve", "--help"}, nil, 0, "EXTDIR_DATA_DIR"},
		{"token --help lists the flags", []string{"token", "--help"}, nil, 0, "--roles"},
		{"an unknown flag is a one-line usage error", []string{"serve", "--nope"}, nil, 2, "flag provided but not defined"},
		{"an unknown command is exit 2", []string{"frobnicate"}, nil, 2, "unknown command"},
		{"a bad database is exit 2", []string{"serve", "--database", "oracle"}, nil, 2, "unknown --database"},
		{"a bad environment value is exit 2", []string{"serve"}, []string{"EXTDIR_RETENTION=soon"}, 2, "EXTDIR_RETENTION"},
		{"tls cert without key is exit 2", []string{"serve", "--tls-cert", "x.pem"}, nil, 2, "go together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tc.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.output) {
				t.Fatalf("exit %d (want %d), output:\n%s", code, tc.code, out)
			}
			if tc.code == 2 && strings.Count(strings.TrimSpace(string(out)), "\n") > 0 && tc.args[0] != "frobnicate" {
				t.Errorf("usage error is not one line:\n%s", out)
			}
		})
	}
}
