package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// extdir backup copies the store of a running server while clients write
// to it; the copy holds every create answered before the backup began, and
// a server started on a data directory restored from it serves them.
func TestBackupARunningServerAndRestoreIt(t *testing.T) {
	dir := t.TempDir()
	ts := startServerIn(t, dir)
	tok := ts.token()

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"displayName":"w%d-%d","phoneNumber":"+1%d%09d"}`, w, i, w+2, i)
				req, _ := http.NewRequest("POST", ts.base+pendingPath, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := ts.client.Do(req)
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
				r := response{status: resp.StatusCode}
				r.body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if r.status != http.StatusCreated {
					t.Errorf("create: %d %s", r.status, r.body)
					return
				}
				mu.Lock()
				acked = append(acked, r.json(t)["id"].(string))
				mu.Unlock()
			}
		})
	}
	for n := 0; n < 30; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n = len(acked)
		mu.Unlock()
	}
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	out := filepath.Join(t.TempDir(), "extdir-backup.db")
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"backup", "--data-dir", dir, "--out", out}, noEnv, &stdout, io.Discard)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("extdir backup: %v", err)
	}
	if got := stdout.String(); !strings.Contains(got, "backed up "+filepath.Join(dir, "extdir.db")+" to "+out) || !strings.Contains(got, "integrity ok") {
		t.Errorf("extdir backup printed %q", got)
	}

	// Not over the store the server has open, however forced.
	err = run(context.Background(), []string{"restore", "--from", out, "--data-dir", dir, "--force"}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the database is open") {
		t.Fatalf("restore over a running server's store: %v", err)
	}

	restored := t.TempDir()
	stdout.Reset()
	if err := run(context.Background(), []string{"restore", "--from", out, "--data-dir", restored}, noEnv, &stdout, io.Discard); err != nil {
		t.Fatalf("extdir restore: %v", err)
	}
	if !strings.Contains(stdout.String(), "restored "+filepath.Join(restored, "extdir.db")+" from "+out) {
		t.Errorf("extdir restore printed %q", stdout.String())
	}
	ts2 := startServerIn(t, restored)
	tok2 := ts2.token()
	for _, id := range before {
		if r := ts2.req("GET", pendingPath+"/"+id, tok2, nil); r.status != http.StatusOK {
			t.Fatalf("create %s answered before the backup began, on the restored server: %d %s", id, r.status, r.body)
		}
	}

	// Over a store nobody has open: only with --force.
	ts.stop()
	err = run(context.Background(), []string{"restore", "--from", out, "--data-dir", dir}, noEnv, io.Discard, io.Discard)
	var usage *usageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "give --force") {
		t.Fatalf("restore over an existing store without --force: %v", err)
	}
	if err := run(context.Background(), []string{"restore", "--from", out, "--data-dir", dir, "--force"}, noEnv, io.Discard, io.Discard); err != nil {
		t.Fatalf("restore --force over a stopped server's store: %v", err)
	}
}

func TestBackupFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"backup", "--data-dir", t.TempDir()}, "--out is required"},
		{[]string{"backup", "--database", "postgres://u@h/db", "--out", "x"}, "pg_dump"},
		{[]string{"restore", "--data-dir", t.TempDir()}, "--from is required"},
		{[]string{"restore", "--database", "postgres://u@h/db", "--from", "x"}, "pg_restore"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, noEnv, io.Discard, io.Discard)
		var usage *usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("extdir %v: %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
	// A data directory without a store is an error, not an empty backup.
	err := run(context.Background(), []string{"backup", "--data-dir", t.TempDir(), "--out", filepath.Join(t.TempDir(), "b.db")}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("backup of an empty data dir: %v", err)
	}
}
