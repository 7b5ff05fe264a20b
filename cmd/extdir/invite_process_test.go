package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/extdir/extdir/extdirtest"
)

// kill -9 in the middle of a run, then --resume: every row is invited once.
// The rows of the batches in flight at the kill are the hard part: their
// creates may or may not have landed, and the resumed run must find out
// which before it sends them again.
func TestInviteResumeAfterKill9InvitesEachRowOnce(t *testing.T) {
	bin := extdirBinary(t)
	it := newInviteTarget(t)
	const n = 300
	path := writeFile(t, "staff.csv", staffCSV(n))
	results := filepath.Join(t.TempDir(), "results.csv")
	// Slow creates, so that batches are in flight whenever the kill comes.
	it.srv.Faults(t, 1, extdirtest.FaultRule{Method: "POST", Path: "/beta/directory/pendingExternalUserProfiles", Scope: "inner", Latency: "5ms..15ms"})

	cmd := exec.Command(bin, append(append([]string{"invite"}, it.args...), "--csv", path, "--default-region", "US", "--out", results, "--concurrency", "3")...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Kill once a third of the rows are recorded created.
	for created := 0; created < n/3; {
		select {
		case err := <-exited:
			t.Fatalf("the run ended (%v) before the kill: %d rows created", err, created)
		case <-time.After(10 * time.Millisecond):
		}
		raw, _ := os.ReadFile(results)
		created = strings.Count(string(raw), ","+statusCreated+",")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	raw, _ := os.ReadFile(results)
	t.Logf("killed with %d profiles in the directory; the results file has %d sending lines and %d created", len(it.profiles(t)), strings.Count(string(raw), ","+statusSending+","), strings.Count(string(raw), ","+statusCreated+","))

	it.srv.Faults(t, 1)
	out, err := it.invite(t, "--csv", path, "--default-region", "US", "--resume", results)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
	got := readResultsFile(t, results)
	dir := byPhone(t, it.profiles(t)) // fails on a number held twice
	if len(dir) != n || len(got) != n {
		t.Fatalf("%d profiles and %d result lines for %d rows", len(dir), len(got), n)
	}
	for i := range n {
		r := got[i+2]
		if p := dir[staffPhone(i)]; r.status != statusCreated || p == nil || p["id"] != r.id {
			t.Fatalf("row %d: %+v, profile %v", i+2, r, p)
		}
	}
}
