package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// profiles are the two profiles -pprof takes of a server through one
// measured window, fetched while wrk runs.
type profiles struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

// profileSeconds is how long the profiles of a window of d last: a second
// less than wrk's whole seconds, so that each is written and fetched while
// the load is still on, and at least one.
func profileSeconds(d time.Duration) int {
	return max(int(d.Round(time.Second)/time.Second)-1, 1)
}

// startProfiles begins fetching, from the pprof listener at base, a CPU
// profile (/debug/pprof/profile) and an allocation delta (/debug/pprof/
// allocs?seconds=N, which net/http/pprof answers with the difference of
// two snapshots N seconds apart) to prefix+".cpu.pprof" and
// prefix+".allocs.pprof". The allocation profile is Go's, as of the last
// garbage collection at either end: under load, milliseconds.
func startProfiles(ctx context.Context, base string, d time.Duration, prefix string) *profiles {
	secs := profileSeconds(d)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	p := &profiles{cancel: cancel}
	for _, f := range []struct{ path, file string }{
		{"/debug/pprof/profile", prefix + ".cpu.pprof"},
		{"/debug/pprof/allocs", prefix + ".allocs.pprof"},
	} {
		p.wg.Go(func() {
			if err := fetchProfile(ctx, base+f.path+"?seconds="+strconv.Itoa(secs), f.file); err != nil {
				p.mu.Lock()
				p.errs = append(p.errs, err)
				p.mu.Unlock()
			}
		})
	}
	return p
}

// wait waits for both profiles, or with abandon cuts them short (the
// measurement failed), and reports what went wrong.
func (p *profiles) wait(abandon bool) error {
	if abandon {
		p.cancel()
	}
	p.wg.Wait()
	p.cancel()
	return errors.Join(p.errs...)
}

// fetchProfile saves the profile at url to file.
func fetchProfile(ctx context.Context, url, file string) error {
	if err := checkLoopback(url); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	// Its own client: the harness' other one gives up after 30 s, and a
	// profile lasts as long as the window.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("pprof %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("pprof %s: %w", url, err)
	}
	return f.Close()
}

// slug is a target's name as a file name: lower case letters and digits,
// every other run of characters one hyphen ("extdir pg n=1000@compare" is
// "extdir-pg-n-1000-compare").
func slug(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
			continue
		}
		hyphen = true
	}
	return b.String()
}
