package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress counts the rows of a run as they finish and shows it: a bar on
// a terminal, a plain line every interval otherwise (a log, a CI job).
type progress struct {
	total   int64
	start   time.Time
	done    atomic.Int64
	created atomic.Int64
	failed  atomic.Int64
	skipped atomic.Int64

	bar      *progressbar.ProgressBar
	w        io.Writer
	what     string // "rows", "profiles"
	prefix   string // "invite", "export"
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress shows progress on w: mode is auto (a bar on a terminal,
// lines otherwise), bar, lines or off. total is -1 when unknown.
func startProgress(prefix, what, mode string, w io.Writer, total int64, every time.Duration) *progress {
	p := &progress{total: total, start: time.Now(), w: w, what: what, prefix: prefix, stop: make(chan struct{})}
	if mode == "auto" {
		mode = "lines"
		if isTerminal(w) {
			mode = "bar"
		}
	}
	switch mode {
	case "bar":
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(prefix),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(what),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetRenderBlankState(true),
		)
	case "lines":
		if every <= 0 {
			break
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					fmt.Fprintln(p.w, p.line())
				}
			}
		}()
	}
	return p
}

// add counts one finished row.
func (p *progress) add(status string) {
	switch status {
	case statusCreated:
		p.created.Add(1)
	case statusFailed:
		p.failed.Add(1)
	case statusSkipped:
		p.skipped.Add(1)
	}
	p.done.Add(1)
	if p.bar != nil {
		if f := p.failed.Load(); f > 0 {
			p.bar.Describe(fmt.Sprintf("%s (%d failed)", p.prefix, f))
		}
		_ = p.bar.Add(1)
	}
}

// rate is rows per second so far.
func (p *progress) rate() float64 {
	secs := time.Since(p.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.done.Load()) / secs
}

// line is the plain progress line.
func (p *progress) line() string {
	done, rate := p.done.Load(), p.rate()
	if p.total < 0 {
		return fmt.Sprintf("%s: %d %s, %.0f %s/s", p.prefix, done, p.what, rate, p.what)
	}
	eta := ""
	if rate > 0 && done < p.total {
		eta = ", about " + (time.Duration(float64(p.total-done)/rate) * time.Second).Round(time.Second).String() + " left"
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(done) / float64(p.total)
	}
	return fmt.Sprintf("%s: %d/%d %s (%.0f%%), %d created, %d failed, %d skipped, %.0f %s/s%s",
		p.prefix, done, p.total, p.what, pct, p.created.Load(), p.failed.Load(), p.skipped.Load(), rate, p.what, eta)
}

// finish stops the display; the caller prints the summary.
func (p *progress) finish() {
	p.stopOnce.Do(func() {
		close(p.stop)
		p.wg.Wait()
		if p.bar != nil {
			_ = p.bar.Exit()
			fmt.Fprintln(p.w)
		}
	})
}
