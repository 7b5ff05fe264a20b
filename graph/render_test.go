package graph

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAppendString checks the hand-written JSON string encoder against
// encoding/json: whatever the input, the output is valid JSON that decodes
// to the input (invalid UTF-8 becoming U+FFFD, as encoding/json does).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x1f\x7f", "é ü 日本", "\u2028\u2029", "bad \xff utf8", "<script>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: not JSON: %v", s, out, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			// encoding/json replaces each invalid byte on its own.
			var viaStd string
			raw, _ := json.Marshal(s)
			_ = json.Unmarshal(raw, &viaStd)
			want = viaStd
		}
		if got != want {
			t.Fatalf("appendString(%q) decodes to %q, want %q", s, got, want)
		}
		if strings.ContainsAny(string(out), "\u2028\u2029") {
			t.Fatalf("line separators left raw in %s", out)
		}
	})
}
