package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkInstall says how to get wrk where it is missing.
const wrkInstall = "wrk is not installed: on Debian or Ubuntu, apt-get install -y wrk (or sudo apt-get install -y wrk)"

// wrkSummary is what the script's done function prints.
type wrkSummary struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"`
	Timeout    int64   `json:"timeout"`
	P50US      int64   `json:"p50_us"`
	P90US      int64   `json:"p90_us"`
	P99US      int64   `json:"p99_us"`
	MaxUS      int64   `json:"max_us"`
	MeanUS     float64 `json:"mean_us"`
	// CPU is the time wrk itself spent on the processors (user + system).
	CPU time.Duration `json:"-"`
}

// checkWrk finds wrk and returns its version line.
func checkWrk() (string, error) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return "", errors.New(wrkInstall)
	}
	// wrk -v prints its version and usage, and exits 1.
	out, _ := exec.Command(path, "-v").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// runWrk drives base (a loopback URL) with the script for d, over conns
// connections on threads threads, and returns wrk's summary.
func runWrk(ctx context.Context, dir, base, script string, threads, conns int, d time.Duration) (*wrkSummary, error) {
	if err := checkLoopback(base); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "workload-*.lua")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	threads = max(min(threads, conns), 1)
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	// wrk stops by itself after -d; the context only bounds a wrk that hangs.
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", filepath.Clean(f.Name()), base)
	dieWithParent(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wrk: %w: %s%s", err, stderr.String(), stdout.String())
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if js, ok := strings.CutPrefix(sc.Text(), "WRKJSON "); ok {
			var s wrkSummary
			if err := json.Unmarshal([]byte(js), &s); err != nil {
				return nil, fmt.Errorf("wrk summary %q: %w", js, err)
			}
			s.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			return &s, nil
		}
	}
	return nil, fmt.Errorf("wrk printed no summary: %s%s", stdout.String(), stderr.String())
}
