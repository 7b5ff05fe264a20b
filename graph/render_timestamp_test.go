package graph

import (
	"testing"
	"time"
)

// FuzzAppendTimestamp checks the hand-written date renderer against the
// standard library's, for any instant in any zone, including years it hands
// over to AppendFormat.
func FuzzAppendTimestamp(f *testing.F) {
	for _, unix := range []int64{0, -1, 951782400, 1798761599, 253402300799, 253402300800, -62167219200, -62167219201} {
		f.Add(unix, int64(0), 0)
	}
	f.Add(int64(1798761599), int64(999_999_999), 5*3600+30*60)
	f.Fuzz(func(t *testing.T, unix, nanos int64, offset int) {
		tm := time.Unix(unix, nanos%1_000_000_000).In(time.FixedZone("z", offset%(24*3600)))
		want := tm.UTC().AppendFormat([]byte("x"), timeLayout)
		if got := appendTimestamp([]byte("x"), tm); string(got) != string(want) {
			t.Fatalf("appendTimestamp(%v) = %q, want %q", tm, got, want)
		}
	})
}
