package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logWriter is the server's log output. The access log, one line per
// request, is the busiest thing extdir writes, and a write(2) for each line
// cost a tenth of a small request's time; so its lines (Lazy) gather in a
// buffer that goes out at least every flushEvery, or as soon as a buffer's
// worth has gathered, which costs almost nothing per line. Every other line
// (Write: start-up, warnings, errors) goes out at once, after the buffered
// ones, in order. Close writes out what is left, so only a crash of the
// process itself (never a request's panic, which is recovered) can lose the
// last flushEvery of access-log lines. Lines are never split: each Write is
// one slog record.
type logWriter struct {
	mu     sync.Mutex
	buf    *bufio.Writer
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

const (
	logBufferSize = 64 << 10
	flushEvery    = 100 * time.Millisecond
)

func newLogWriter(w io.Writer) *logWriter {
	lw := &logWriter{buf: bufio.NewWriterSize(w, logBufferSize), done: make(chan struct{})}
	lw.wg.Add(1)
	go lw.flushLoop()
	return lw
}

// Write writes a record out at once.
func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	n, err := lw.write(p)
	if err == nil {
		err = lw.buf.Flush()
	}
	return n, err
}

// Lazy is the writer of the access log: its records wait in the buffer.
func (lw *logWriter) Lazy() io.Writer { return lazyWriter{lw} }

type lazyWriter struct{ lw *logWriter }

func (l lazyWriter) Write(p []byte) (int, error) {
	l.lw.mu.Lock()
	defer l.lw.mu.Unlock()
	n, err := l.lw.write(p)
	if err == nil && l.lw.closed {
		err = l.lw.buf.Flush()
	}
	return n, err
}

// write buffers one record; lw.mu is held.
func (lw *logWriter) write(p []byte) (int, error) {
	// A record that would not fit goes out after what is buffered, whole.
	if len(p) > lw.buf.Available() && lw.buf.Buffered() > 0 {
		if err := lw.buf.Flush(); err != nil {
			return 0, err
		}
	}
	return lw.buf.Write(p)
}

// Flush writes out what is buffered.
func (lw *logWriter) Flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.buf.Flush()
}

func (lw *logWriter) flushLoop() {
	defer lw.wg.Done()
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-lw.done:
			return
		case <-t.C:
			_ = lw.Flush()
		}
	}
}

// Close stops the flusher and writes out the rest; later writes go out at
// once.
func (lw *logWriter) Close() error {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		return nil
	}
	lw.closed = true
	lw.mu.Unlock()
	close(lw.done)
	lw.wg.Wait()
	return lw.Flush()
}
