package graph

import (
	"context"
	"testing"
	"time"
)

// A place freed goes to the longest waiter at once: the counts never show
// a waiter that has its place, so a request arriving right after a release
// finds room in the queue rather than being shed.
func TestLimiterHandsAFreedPlaceToTheLongestWaiter(t *testing.T) {
	l := NewLimiter(1, time.Hour)
	ctx := context.Background()
	if !l.acquire(ctx) {
		t.Fatal("the first request was not admitted")
	}
	got := make(chan string, 2)
	waitFor := func(name string, n int) {
		go func() {
			if l.acquire(ctx) {
				got <- name
			} else {
				got <- name + " shed"
			}
		}()
		for l.Waiting() != n {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("first waiter", 1)
	l.release()
	if l.InFlight() != 1 || l.Waiting() != 0 {
		t.Fatalf("after a release: %d in flight, %d waiting; want the waiter admitted, 1 and 0", l.InFlight(), l.Waiting())
	}
	// The queue has room again for the next one, at once.
	waitFor("second waiter", 1)
	if name := <-got; name != "first waiter" {
		t.Fatalf("the freed place went to %q", name)
	}
	l.release()
	if name := <-got; name != "second waiter" {
		t.Fatalf("the next place went to %q", name)
	}
	l.release()
	if l.InFlight() != 0 || l.Waiting() != 0 {
		t.Fatalf("all released: %d in flight, %d waiting", l.InFlight(), l.Waiting())
	}
}

func TestLimiterWaitEndsWithTheTimeoutOrTheClient(t *testing.T) {
	l := NewLimiter(1, 20*time.Millisecond)
	if !l.acquire(context.Background()) {
		t.Fatal("the first request was not admitted")
	}
	if l.acquire(context.Background()) {
		t.Fatal("a request admitted beyond the limit")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	long := NewLimiter(1, time.Hour)
	long.acquire(context.Background())
	if long.acquire(ctx) {
		t.Fatal("a request whose client is gone was admitted")
	}
	for _, lim := range []*Limiter{l, long} {
		if lim.Waiting() != 0 || lim.InFlight() != 1 {
			t.Errorf("after the waits ended: %d waiting, %d in flight; want 0 and 1", lim.Waiting(), lim.InFlight())
		}
	}
}
