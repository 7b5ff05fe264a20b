package clock

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	var c Clock
	if d := time.Until(c.Now()); d > time.Second || d < -time.Second {
		t.Fatalf("zero clock is %v from the wall clock", d)
	}
	c.Advance(31 * 24 * time.Hour)
	if d := time.Until(c.Now()); d < 31*24*time.Hour-time.Second {
		t.Fatalf("after Advance(31d) the clock is only %v ahead", d)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Set(at)
	if d := c.Now().Sub(at); d < 0 || d > time.Second {
		t.Fatalf("after Set the clock reads %v, want %v", c.Now(), at)
	}
	c.Reset()
	if c.Offset() != 0 {
		t.Fatalf("after Reset the offset is %v", c.Offset())
	}
	var none *Clock
	if d := time.Until(none.Now()); d > time.Second || d < -time.Second || none.Offset() != 0 {
		t.Fatal("a nil clock is not the wall clock")
	}
}
