package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	cfg, err := parseConfig([]string{"-profiles", "1000, 1000000", "-workloads", "get,list", "-duration", "5s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.sizes) != 2 || cfg.sizes[0] != 1000 || cfg.sizes[1] != 1000000 {
		t.Errorf("sizes %v", cfg.sizes)
	}
	if strings.Join(cfg.workloads, ",") != "get,list" || cfg.duration != 5*time.Second || cfg.readConns != 8 || cfg.writeConns != 64 || cfg.runs != 3 {
		t.Errorf("config %+v", cfg)
	}

	refused := map[string][]string{
		"a size that is not a number": {"-profiles", "many"},
		"a size of zero":              {"-profiles", "0"},
		"an unknown workload":         {"-workloads", "get,delete"},
		"a duration under one second": {"-duration", "100ms"},
		"no connections":              {"-c", "0"},
		"a peer of a thousand users":  {"-peer-users", "1000"},
		"a stray argument":            {"http://example.com"},
		"-from-json without -charts":  {"-from-json", "load.json"},
	}
	for name, args := range refused {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, err := parseConfig(args); err == nil {
				t.Fatalf("%v accepted", args)
			}
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:8080", "http://127.0.0.2:1", "http://[::1]:8080"} {
		if err := checkLoopback(base); err != nil {
			t.Errorf("%s refused: %v", base, err)
		}
	}
	for _, base := range []string{"http://10.0.0.1:8080", "http://example.com", "http://0.0.0.0:8080", "http://localhost.example.com:80", "::"} {
		if err := checkLoopback(base); err == nil {
			t.Errorf("%s accepted as a load target", base)
		}
	}
}

func TestMedianAndThousands(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median of 3 = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median of 4 = %v", m)
	}
	for in, want := range map[float64]string{0: "0", 999.6: "1,000", 12345: "12,345", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestLuaString(t *testing.T) {
	got := luaString("a \"b\" \\ c\n\x01é")
	want := `"a \"b\" \\ c\010\001\195\169"`
	if got != want {
		t.Errorf("luaString = %s, want %s", got, want)
	}
}

func TestScripts(t *testing.T) {
	a := extdirAPI("READ", "WRITE", "b1c68a6f-0000-4000-8000-", 1000, 100)
	for _, w := range allWorkloads {
		t.Run(w, func(t *testing.T) {
			s, err := a.script(w, 42)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []string{"function done(", "local nonce = 42", `"Bearer READ"`, "WRKJSON"} {
				if !strings.Contains(s, part) {
					t.Errorf("script lacks %q:\n%s", part, s)
				}
			}
			if w == workMix {
				if !strings.Contains(s, "function request()") || !strings.Contains(s, "else return create() end") {
					t.Errorf("mix script:\n%s", s)
				}
			} else if !strings.Contains(s, "request = "+w+"\n") {
				t.Errorf("script does not serve %s:\n%s", w, s)
			}
		})
	}
	if _, err := a.script("delete", 1); err == nil {
		t.Error("an unknown workload made a script")
	}
	total := 0
	for _, w := range mixWeights {
		total += w.percent
	}
	if total != 100 {
		t.Errorf("the mix adds up to %d%%", total)
	}
	if n := len(a.filters); n != 100 {
		t.Errorf("%d filters, want one per company", n)
	}
}

func TestRatiosWithinRuns(t *testing.T) {
	cfg := &config{runs: 3, sizes: []int{1000}, workloads: []string{workGet}}
	var results []result
	for run, pair := range [][2]float64{{60, 100}, {50, 100}, {90, 100}} {
		results = append(results,
			result{Run: run + 1, Target: "extdir", Workload: workGet, RPS: pair[0]},
			result{Run: run + 1, Target: "bare", Workload: workGet, RPS: pair[1]})
	}
	rs := ratios(results, cfg, []map[int]string{{1000: "extdir"}})
	if len(rs) != 1 {
		t.Fatalf("ratios %+v, want extdir/bare alone", rs)
	}
	if rs[0].Median != 0.6 || len(rs[0].PerRun) != 3 {
		t.Errorf("ratio %+v, want the median 0.6 of three runs", rs[0])
	}
}

func TestSearchAndCountScripts(t *testing.T) {
	a := extdirAPI("READ", "WRITE", "b1c68a6f-0000-4000-8000-", 1000, 100)
	s, err := a.script(workSearch, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The quotes and the colon escaped, the header of advanced queries sent.
	for _, part := range []string{`"/beta/directory/pendingExternalUserProfiles?$search=%22companyName%3A042%22&$top=100"`, `ConsistencyLevel = "eventual"`, "request = search\n"} {
		if !strings.Contains(s, part) {
			t.Errorf("search script lacks %q:\n%s", part, s)
		}
	}
	if len(a.searches) != 100 {
		t.Errorf("%d searches, want one per company", len(a.searches))
	}
	s, err = a.script(workCount, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, `countRequest = wrk.format("GET", "/beta/directory/pendingExternalUserProfiles/$count", eventualHeaders)`) {
		t.Errorf("count script:\n%s", s)
	}
	peer := peerAPI("TOKEN", []string{"a", "b"})
	for _, w := range []string{workSearch, workCount} {
		if _, err := peer.script(w, 1); err == nil {
			t.Errorf("the peer got a %s script", w)
		}
	}
	if pt := peerTarget("peer", t.TempDir(), 500, allWorkloads); slices.Contains(pt.workloads, workSearch) || slices.Contains(pt.workloads, workCount) {
		t.Errorf("the peer is measured on %v", pt.workloads)
	}
}

func TestFlatnessRatios(t *testing.T) {
	sizes := []int{1000, 10000, 1000000}
	cfg := &config{runs: 2, sizes: sizes, workloads: []string{workGet, workList, workFilter, workSearch, workCount}}
	names := map[int]string{1000: "extdir n=1000", 10000: "extdir n=10000", 1000000: "extdir n=1000000"}
	var results []result
	for run := 1; run <= 2; run++ {
		for _, n := range sizes {
			for _, w := range cfg.workloads {
				results = append(results, result{Run: run, Target: names[n], Workload: w, RPS: 1000 + 1e9/float64(n)})
			}
		}
	}
	byName := map[string]ratio{}
	for _, r := range ratios(results, cfg, []map[int]string{names}) {
		byName[r.Name] = r
	}
	for name, want := range map[string]string{
		"extdir n=1000 get / extdir n=1000000 get (flatness)":                                                "",
		"extdir n=1000 list / extdir n=1000000 list (flatness)":                                              "1 ± 0.2",
		"extdir n=1000 count / extdir n=1000000 count (flatness)":                                            "1 ± 0.2",
		"extdir n=1000 filter / extdir n=1000000 filter (flatness; pages of 10 rows against 100, no target)": "",
		"extdir n=10000 filter / extdir n=1000000 filter (flatness, full pages of 100)":                      "1 ± 0.2",
		"extdir n=1000 search / extdir n=1000000 search (flatness; pages of 10 rows against 100, no target)": "",
		"extdir n=10000 search / extdir n=1000000 search (flatness, full pages of 100)":                      "1 ± 0.2",
	} {
		r, ok := byName[name]
		if !ok {
			t.Errorf("no ratio %q among %v", name, byName)
			continue
		}
		if r.Target != want || len(r.PerRun) != 2 {
			t.Errorf("%s: %+v, want target %q over two runs", name, r, want)
		}
		if (r.Met != nil) != (want != "") {
			t.Errorf("%s: met %v with target %q", name, r.Met, want)
		}
	}
	// 1000 + 1e6 against 1000 + 1e3: far from flat; 10,000 against 1M:
	// (1000 + 1e5) / 1001, no nearer.
	if r := byName["extdir n=1000 list / extdir n=1000000 list (flatness)"]; r.Met == nil || *r.Met {
		t.Errorf("a ratio of %.0f met %q", r.Median, r.Target)
	}
}

func TestMeets(t *testing.T) {
	for _, c := range []struct {
		median      float64
		target      string
		met, parsed bool
	}{
		{1.2, "1 ± 0.2", true, true}, {0.8, "1 ± 0.2", true, true}, {1.21, "1 ± 0.2", false, true},
		{0.6, "≥ 0.6", true, true}, {0.59, "≥ 0.6", false, true}, {12, "≥ 10", true, true},
		{1, "", false, false}, {1, "about 1", false, false},
	} {
		met, parsed := meets(c.median, c.target)
		if met != c.met || parsed != c.parsed {
			t.Errorf("meets(%v, %q) = %v, %v", c.median, c.target, met, parsed)
		}
	}
}

func TestSlugAndProfileSeconds(t *testing.T) {
	for in, want := range map[string]string{"extdir": "extdir", "extdir pg n=1000@compare": "extdir-pg-n-1000-compare", "bare+rs256": "bare-rs256"} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
	for d, want := range map[time.Duration]int{time.Second: 1, 2 * time.Second: 1, 10 * time.Second: 9} {
		if got := profileSeconds(d); got != want {
			t.Errorf("profileSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}
