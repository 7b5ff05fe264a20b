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

// As many may wait as may run; one beyond them is refused, though its 503
// waits out the wait, and a place freed meanwhile is not its.
func TestLimiterRefusesBeyondItsQueue(t *testing.T) {
	l := NewLimiter(1, time.Hour)
	if !l.acquire(context.Background()) {
		t.Fatal("the first request was not admitted")
	}
	queued, refused := make(chan bool, 1), make(chan bool, 1)
	go func() { queued <- l.acquire(context.Background()) }()
	for l.Waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { refused <- l.acquire(ctx) }()
	held := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.held
	}
	for held() != 1 {
		time.Sleep(time.Millisecond)
	}
	if l.Waiting() != 1 {
		t.Fatalf("%d waiting with the queue full, want 1", l.Waiting())
	}
	l.release()
	if !<-queued {
		t.Fatal("the queued request did not get the freed place")
	}
	if held() != 1 {
		t.Fatal("the refused request was let go when a place was freed")
	}
	cancel()
	if <-refused {
		t.Fatal("a request beyond the queue was admitted")
	}
	if held() != 0 || l.InFlight() != 1 {
		t.Fatalf("after the refusal: %d held, %d in flight; want 0 and 1", held(), l.InFlight())
	}
}
