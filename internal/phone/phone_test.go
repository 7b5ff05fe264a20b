package phone

import (
	"strings"
	"testing"
)

func TestNormalise(t *testing.T) {
	for _, tc := range []struct{ in, region, want, err string }{
		{"(425) 555-0100", "US", "+14255550100", ""},
		{"+1 (425) 555-0100", "", "+14255550100", ""},
		{"0044 20 7946 0958", "GB", "+442079460958", ""},
		{"0044 20 7946 0958", "US", "+442079460958", ""}, // 00 read as + where the region dials 011
		{"00 12", "US", "", "too short"},
		{"020 7946 0958", "GB", "+442079460958", ""},
		{"+15555555555", "", "+15555555555", ""}, // the documentation's own example, kept as it is
		{"(425) 555-0100", "", "", "no country code"},
		{"+1 425 555 0100 ext. 7", "US", "", "extension"},
		{"555-0100", "US", "", "too short"},
		{"call me", "US", "", "not a number"},
	} {
		got, err := Normalise(tc.in, tc.region)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Normalise(%q, %q) = %q, %v; want %q, %q", tc.in, tc.region, got, err, tc.want, tc.err)
		}
	}
}
