package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCharts draws the charts of a small made-up report and reads them
// back: one SVG per workload, well-formed XML, naming every series.
func TestCharts(t *testing.T) {
	rep := syntheticReport()
	dir := t.TempDir()
	files, err := drawCharts(dir, &rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("charts %v, want get and search", files)
	}
	want := map[string][]string{
		workGet:    {"extdir SQLite", "extdir PostgreSQL", "extdir SQLite @compare", "entra-emulator (502 users)", "bare (the machine", "bare+rs256 (the limit", "1k", "1M", "req/s"},
		workSearch: {"extdir SQLite", "extdir PostgreSQL", "extdir SQLite @compare", "entra-emulator (502 users)"},
	}
	for w, names := range want {
		file := filepath.Join(dir, w+".svg")
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(strings.NewReader(string(b)))
		var text strings.Builder
		root := ""
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s is not XML: %v", file, err)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				if root == "" {
					root = tok.Name.Local
				}
			case xml.CharData:
				text.Write(tok)
				text.WriteByte('\n')
			}
		}
		if root != "svg" {
			t.Errorf("%s: root element %q", file, root)
		}
		for _, name := range names {
			if !strings.Contains(text.String(), name) {
				t.Errorf("%s does not name %q", file, name)
			}
		}
		if w == workSearch && strings.Contains(text.String(), "bare") {
			t.Errorf("%s draws the bare server, measured for get only", file)
		}
	}

	if _, err := drawCharts(dir, &report{Summary: []summary{{Target: "extdir", Workload: workGet, RPS: 1}}}); err == nil {
		t.Error("a report without stores and sizes drew charts")
	}
}

// syntheticReport is a made-up report of every kind of series: extdir on
// SQLite, PostgreSQL and a -compare build at four sizes, the peer, and the
// bare servers for get.
func syntheticReport() report {
	sum := func(target, workload, st, build string, profiles int, rps, cpu float64) summary {
		return summary{Target: target, Workload: workload, Store: st, Build: build, Profiles: profiles, Runs: 3,
			RPS: rps, RPSMin: rps * 0.9, RPSMax: rps * 1.1, ServerCPUUs: cpu, ServerCPUMin: cpu * 0.95, ServerCPUMax: cpu * 1.05}
	}
	var rep report
	for _, w := range []string{workGet, workSearch} {
		for i, n := range []int{1000, 10000, 100000, 1000000} {
			f := float64(i + 1)
			rep.Summary = append(rep.Summary,
				sum("extdir n="+thousands(float64(n)), w, "sqlite", "", n, 10000/f, 100*f),
				sum("extdir pg n="+thousands(float64(n)), w, "postgres", "", n, 6000/f, 150*f),
				sum("extdir n="+thousands(float64(n))+"@compare", w, "sqlite", "compare", n, 9000/f, 110*f))
		}
		rep.Summary = append(rep.Summary, sum("entra-emulator", w, "peer", "", 502, 300, 900))
	}
	rep.Summary = append(rep.Summary, sum("bare", workGet, "bare", "", 0, 30000, 40), sum("bare+rs256", workGet, "bare", "", 0, 15000, 90))
	return rep
}
