package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the flusher and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogWriterFlushesOnItsOwn(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out)
	defer lw.Close()
	if _, err := lw.Lazy().Write([]byte("one line\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "one line\n" {
		if time.Now().After(deadline) {
			t.Fatalf("after 5s the line is still buffered: got %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogWriterKeepsRecordsWholeAndFlushesOnClose(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out)
	small := "small record\n"
	big := strings.Repeat("x", logBufferSize-len(small)+10) + "\n"
	for _, rec := range []string{small, big, small} {
		if _, err := lw.Lazy().Write([]byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	// The big record did not fit beside the first: that one went out alone,
	// before it, and nothing went out cut in two.
	if got := out.String(); got != "" && got != small && got != small+big {
		t.Fatalf("before Close: %d bytes out, not a whole number of records", len(got))
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), small+big+small; got != want {
		t.Fatalf("after Close: %d bytes, want %d", len(got), len(want))
	}
	if _, err := lw.Lazy().Write([]byte("late\n")); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "late\n") {
		t.Fatal("a write after Close stayed in the buffer")
	}
}

// A warning goes out at once, after the access-log lines before it.
func TestLogWriterWritesOtherRecordsAtOnce(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out)
	defer lw.Close()
	if _, err := lw.Lazy().Write([]byte("request\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := lw.Write([]byte("warning\n")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "request\nwarning\n" {
		t.Fatalf("got %q", got)
	}
}
