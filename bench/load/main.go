// Command load measures extdir under HTTP load beside its limit and its
// peer, in one run, so that every comparison is a ratio taken on the same
// machine in the same minutes.
//
// It seeds a deterministic directory (internal/seed; kept in -data and
// reused by later runs), mints tokens with the built-in issuer, starts each
// server on a loopback port, and drives it with wrk for a fixed time and
// connection count per workload: GET by id, the first page of a list, a
// filtered list, a $search and the collection's /$count (both with
// ConsistencyLevel: eventual), create, patch and a realistic mix. The
// servers:
//
//   - extdir, built from this module (or -extdir), once per -profiles size,
//     on SQLite and, with -postgres, on PostgreSQL too;
//   - bench/bare, answering every request with the bytes extdir sent for
//     one entity, without and with RS256 verification (golang-jwt): the
//     limit of this machine and of Go's HTTP server;
//   - entra-emulator, the peer, when -peer names a build of it (it has
//     neither $search nor /$count: it is measured on the other workloads);
//   - another build of extdir, when -compare names one (before/after).
//
// For each it prints req/s, p50/p99 latency, errors and the server's peak
// RSS (VmHWM), then the medians of -runs runs and the ratios between
// servers taken within each run, with their targets and whether the median
// meets them; -json writes all of it, each figure with the store
// ("sqlite", "postgres", "bare", "peer") and the size of the directory it
// was taken on. The flatness ratios divide the smallest directory's rate by
// the largest's; the filtered list's and the search's also from the
// smallest directory whose page of 1 % is a full 100 rows (10,000
// profiles), which is the one with the target. It needs wrk (apt-get
// install -y wrk). Load goes to 127.0.0.1 only, and every wrk run stops by
// itself after -duration.
//
// With -pprof DIR, every extdir server is started with --pprof on a
// loopback port, and through each measured window the harness fetches a
// CPU profile and an allocation delta (/debug/pprof/allocs?seconds=N: what
// the window allocated, as of Go's last collection at either end) lasting
// the window less a second, to DIR/<target>-<workload>-run<N>.cpu.pprof
// and .allocs.pprof (go tool pprof -top FILE; -sample_index=alloc_space
// for the allocations). Those results say "pprof": true in the JSON: the
// profiler's cost is in their figures.
//
// With -charts DIR it draws DIR/<workload>.svg for each workload: req/s and
// server CPU µs per request against the directory's size (log scale), a
// line per extdir series (SQLite, PostgreSQL, a -compare build) with the
// min–max of the runs, and the servers whose size does not vary (bare, the
// peer) as horizontal lines. -from-json FILE redraws them from a -json
// file, measuring nothing.
//
//	go run ./bench/load                                  # 10,000 profiles, every workload, 3 runs
//	go run ./bench/load -profiles 1000,1000000 -peer /path/to/entra-emulator -json out.json -charts charts
//	go run ./bench/load -charts charts -from-json out.json  # the charts again, no servers, no wrk
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	duration, warmup time.Duration
	readConns        int
	writeConns       int
	threads          int
	runs             int
	sizes            []int
	otherTenants     int
	otherProfiles    int
	workloads        []string
	dataDir          string
	postgres         string
	extdirBin        string
	extdirArgs       []string
	compareBin       string
	bareBin          string
	peerBin          string
	peerUsers        int
	jsonOut          string
	pprofDir         string
	chartsDir        string
	fromJSON         string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func parseConfig(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per workload")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured load before each workload (0: none)")
	fs.IntVar(&cfg.readConns, "c", 8, "connections for the read workloads and the mix")
	fs.IntVar(&cfg.writeConns, "write-c", 64, "connections for create and patch")
	fs.IntVar(&cfg.threads, "threads", runtime.NumCPU(), "wrk threads")
	fs.IntVar(&cfg.runs, "runs", 3, "runs of everything; the report gives medians")
	sizes := fs.String("profiles", "10000", "profiles in the tenant under test, comma-separated for several directories (e.g. 1000,1000000)")
	fs.IntVar(&cfg.otherTenants, "other-tenants", 2, "other tenants seeded beside it")
	fs.IntVar(&cfg.otherProfiles, "other-profiles", 1000, "profiles in each other tenant")
	workloads := fs.String("workloads", strings.Join(allWorkloads, ","), "workloads, comma-separated")
	fs.StringVar(&cfg.dataDir, "data", filepath.Join(os.TempDir(), "extdir-load"), "directory of the seeded data, kept for later runs")
	fs.StringVar(&cfg.postgres, "postgres", "", "also measure extdir on PostgreSQL: a postgres:// URL of a server, on which databases extdir_load_<size> are created and seeded")
	fs.StringVar(&cfg.extdirBin, "extdir", "", "extdir binary (default: built from this module)")
	extdirArgs := fs.String("extdir-args", "", "extra flags for extdir serve, space-separated (e.g. --token-cache=0)")
	fs.StringVar(&cfg.compareBin, "compare", "", "a second extdir binary, measured the same way as extdir@compare (e.g. a build of the previous commit)")
	fs.StringVar(&cfg.bareBin, "bare", "", "bench/bare binary (default: built from this module)")
	fs.StringVar(&cfg.peerBin, "peer", "", "entra-emulator binary to measure beside extdir (see docs/operations.md, Load harness)")
	fs.IntVar(&cfg.peerUsers, "peer-users", 500, "users seeded in the peer (at most 999)")
	fs.StringVar(&cfg.jsonOut, "json", "", "also write every figure to this JSON file")
	fs.StringVar(&cfg.pprofDir, "pprof", "", "start extdir with --pprof and save a CPU profile and an allocation delta of each measured window here, as <target>-<workload>-run<N>.cpu.pprof and .allocs.pprof")
	fs.StringVar(&cfg.chartsDir, "charts", "", "draw one SVG chart per workload here, <workload>.svg: req/s and server CPU µs/req against the directory's size")
	fs.StringVar(&cfg.fromJSON, "from-json", "", "measure nothing: read this -json file and draw its -charts")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-profiles: %q is not a positive number", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	for w := range strings.SplitSeq(*workloads, ",") {
		w = strings.TrimSpace(w)
		if !slices.Contains(allWorkloads, w) {
			return nil, fmt.Errorf("-workloads: unknown %q (known: %s)", w, strings.Join(allWorkloads, ", "))
		}
		cfg.workloads = append(cfg.workloads, w)
	}
	cfg.extdirArgs = strings.Fields(*extdirArgs)
	switch {
	case cfg.duration < time.Second:
		return nil, errors.New("-duration must be at least 1s")
	case cfg.readConns < 1 || cfg.writeConns < 1 || cfg.threads < 1 || cfg.runs < 1:
		return nil, errors.New("-c, -write-c, -threads and -runs must be positive")
	case cfg.peerUsers < 1 || cfg.peerUsers > 999:
		return nil, errors.New("-peer-users must be within 1..999")
	case cfg.fromJSON != "" && cfg.chartsDir == "":
		return nil, errors.New("-from-json draws charts: give -charts DIR too")
	}
	return cfg, nil
}

// result is one workload on one server in one run.
type result struct {
	Run      int    `json:"run"`
	Target   string `json:"target"`
	Workload string `json:"workload"`
	// Store, Profiles and Build say what Target is, so that nothing needs
	// to read its name: "sqlite", "postgres", "bare" or "peer"; the size of
	// the directory (the tenant under test's profiles, the peer's users, 0
	// for bare); "compare" for the -compare build of extdir.
	Store    string `json:"store"`
	Profiles int    `json:"profiles"`
	Build    string `json:"build,omitempty"`
	// Profiled is set when Go's profiler ran through the window (-pprof):
	// its cost is in the figures.
	Profiled    bool    `json:"pprof,omitempty"`
	Connections int     `json:"connections"`
	Seconds     float64 `json:"seconds"`
	Requests    int64   `json:"requests"`
	RPS         float64 `json:"rps"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// Errors counts failed connections, reads, writes and timeouts, and
	// responses of status 400 or more (Non2xx alone).
	Errors    int64   `json:"errors"`
	Non2xx    int64   `json:"non_2xx"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// AnonRSSMB is the anonymous part of the resident set at the end of
	// the window: what the server holds itself, without mapped files.
	AnonRSSMB float64 `json:"anon_rss_mb"`
	StartupMs float64 `json:"startup_ms"`
	// ServerCPUUs and LoadCPUUs are the processor time per request of the
	// server and of wrk: on a machine where both share the cores, what
	// each request costs decides the rate more than anything else.
	ServerCPUUs float64 `json:"server_cpu_us_per_req"`
	LoadCPUUs   float64 `json:"wrk_cpu_us_per_req"`
}

func (r result) line() string {
	return fmt.Sprintf("%-24s %-7s c=%-3d %9s req/s  p50 %6.2f ms  p99 %7.2f ms  errors %-6d peak RSS %6.1f MB  CPU/req server %4.0f µs wrk %3.0f µs",
		r.Target, r.Workload, r.Connections, thousands(r.RPS), r.P50Ms, r.P99Ms, r.Errors, r.PeakRSSMB, r.ServerCPUUs, r.LoadCPUUs)
}

// report is everything -json writes.
type report struct {
	Machine machine   `json:"machine"`
	Command string    `json:"command"`
	Results []result  `json:"results"`
	Summary []summary `json:"summary"`
	Ratios  []ratio   `json:"ratios"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	if cfg.fromJSON != "" {
		return redraw(cfg, stdout)
	}
	for _, dir := range []string{cfg.pprofDir, cfg.chartsDir} {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
	}
	wrkVersion, err := checkWrk()
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stdout, "# "+format+"\n", a...) }
	work, err := os.MkdirTemp("", "extdir-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return err
	}

	root, err := moduleRoot(ctx)
	if err != nil && (cfg.extdirBin == "" || cfg.bareBin == "") {
		return fmt.Errorf("building extdir and bench/bare needs this module's source (or give -extdir and -bare): %w", err)
	}
	if cfg.extdirBin == "" {
		logf("building extdir")
		if cfg.extdirBin, err = buildBinary(ctx, root, "./cmd/extdir", work); err != nil {
			return err
		}
	}
	if cfg.bareBin == "" {
		logf("building bench/bare")
		if cfg.bareBin, err = buildBinary(ctx, root, "./bench/bare", work); err != nil {
			return err
		}
	}

	// Targets, in the order each run visits them: the extdir directories
	// first, since the bare server replays what extdir answered.
	var targets []target
	var responseFile, jwksFile string
	var bareAPI api
	var recorder *extdirSetup
	var recorderName string
	// One store, SQLite, or two when -postgres adds PostgreSQL beside it:
	// each maps its directory sizes to their servers' names.
	stores := []string{""}
	if cfg.postgres != "" {
		stores = append(stores, cfg.postgres)
	}
	var storeNames []map[int]string
	for _, pgServer := range stores {
		names := map[int]string{}
		storeNames = append(storeNames, names)
		for _, size := range cfg.sizes {
			setup, err := prepareExtdir(ctx, cfg, pgServer, size, logf)
			if err != nil {
				return err
			}
			name := "extdir"
			if pgServer != "" {
				name += " pg"
			}
			if len(cfg.sizes) > 1 {
				name += " n=" + strconv.Itoa(size)
			}
			names[size] = name
			profile := cfg.pprofDir != ""
			targets = append(targets, setup.target(name, "", cfg.workloads, profile))
			if cfg.compareBin != "" {
				before := *setup
				before.bin = cfg.compareBin
				targets = append(targets, before.target(name+"@compare", "compare", cfg.workloads, profile))
			}
			// The largest SQLite directory is the one the bare server
			// imitates.
			if pgServer == "" && (recorder == nil || size > recorder.profiles) {
				recorder, recorderName = setup, name
			}
		}
	}
	if slices.Contains(cfg.workloads, workGet) {
		bareAPI = recorder.api()
		files := func() (string, string) { return responseFile, jwksFile }
		apiOf := func() api { return bareAPI }
		targets = append(targets,
			bareTarget("bare", cfg.bareBin, files, false, apiOf),
			bareTarget("bare+rs256", cfg.bareBin, files, true, apiOf))
	}
	if cfg.peerBin != "" {
		targets = append(targets, peerTarget(cfg.peerBin, work, cfg.peerUsers, cfg.workloads))
	}

	rep := report{Machine: describeMachine(wrkVersion), Command: "go run ./bench/load " + strings.Join(args, " ")}
	logf("machine: %s, %d CPUs, load average %s", rep.Machine.CPU, rep.Machine.CPUs, rep.Machine.LoadBefore)
	nonce, err := nextNonce(cfg.dataDir)
	if err != nil {
		return err
	}
	for runNo := 1; runNo <= cfg.runs; runNo++ {
		results, err := runOnce(ctx, cfg, runNo, targets, stdout, func(t target, srv *server) error {
			if responseFile != "" || t.name != recorderName {
				return nil
			}
			var err error
			responseFile, jwksFile, err = recorder.record(srv, work)
			return err
		}, work, &nonce)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, results...)
	}
	rep.Machine.LoadAfter = loadAverage()
	rep.Summary = summarize(rep.Results)
	rep.Ratios = ratios(rep.Results, cfg, storeNames)
	printReport(stdout, &rep)
	if cfg.jsonOut != "" {
		if err := writeJSONFile(cfg.jsonOut, rep); err != nil {
			return err
		}
	}
	if cfg.chartsDir != "" {
		return drawAndList(cfg.chartsDir, &rep, stdout)
	}
	return nil
}

// redraw is -from-json: the charts of a report written earlier.
func redraw(cfg *config, stdout io.Writer) error {
	b, err := os.ReadFile(cfg.fromJSON)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", cfg.fromJSON, err)
	}
	return drawAndList(cfg.chartsDir, &rep, stdout)
}

func drawAndList(dir string, rep *report, stdout io.Writer) error {
	files, err := drawCharts(dir, rep)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "# chart %s\n", f)
	}
	return nil
}

// runOnce is one run: every server is started, then each workload is
// measured on each server in turn, so that the figures a ratio compares are
// taken minutes apart at most, on a machine whose load drifts; then every
// server is stopped. started is told of each server once it is ready.
func runOnce(ctx context.Context, cfg *config, runNo int, targets []target, stdout io.Writer,
	started func(target, *server) error, work string, nonce *int) ([]result, error) {
	type running struct {
		target
		srv *server
		api api
	}
	var servers []running
	defer func() {
		for _, r := range servers {
			r.srv.stop()
		}
	}()
	for _, t := range targets {
		srv, a, err := t.start(ctx, runNo)
		if err != nil {
			return nil, err
		}
		servers = append(servers, running{t, srv, a})
		if err := started(t, srv); err != nil {
			return nil, err
		}
	}
	var results []result
	for _, w := range cfg.workloads {
		for _, r := range servers {
			if !slices.Contains(r.workloads, w) {
				continue
			}
			*nonce++
			if err := saveNonce(cfg.dataDir, *nonce); err != nil {
				return nil, err
			}
			res, err := measure(ctx, cfg, work, r.srv, r.api, w, *nonce, runNo)
			if err != nil {
				return nil, fmt.Errorf("%s, %s: %w", r.name, w, err)
			}
			res.Run, res.Target, res.StartupMs = runNo, r.name, float64(r.srv.startup.Microseconds())/1000
			res.Store, res.Profiles, res.Build = r.store, r.srv.profiles, r.build
			results = append(results, res)
			fmt.Fprintf(stdout, "run %d/%d  %s\n", runNo, cfg.runs, res.line())
		}
	}
	return results, nil
}

// measure runs one workload: a warm-up, then the measured run with the
// peak RSS window reset before it and, with -pprof, the server's profiles
// taken through it.
func measure(ctx context.Context, cfg *config, work string, srv *server, a api, workload string, nonce, runNo int) (result, error) {
	script, err := a.script(workload, (2*nonce+1)%100_000)
	if err != nil {
		return result{}, err
	}
	conns := cfg.readConns
	if writes(workload) {
		conns = cfg.writeConns
	}
	if cfg.warmup > 0 {
		// The warm-up creates under a nonce of its own: every wrk run counts
		// its requests from zero again.
		warm, err := a.script(workload, (2*nonce)%100_000)
		if err != nil {
			return result{}, err
		}
		if _, err := runWrk(ctx, work, srv.base, warm, cfg.threads, conns, cfg.warmup); err != nil {
			return result{}, err
		}
	}
	srv.resetPeak()
	cpuBefore, err := srv.cpuTime()
	if err != nil {
		return result{}, err
	}
	var prof *profiles
	if cfg.pprofDir != "" && srv.pprof != "" {
		prof = startProfiles(ctx, srv.pprof, cfg.duration,
			filepath.Join(cfg.pprofDir, fmt.Sprintf("%s-%s-run%d", slug(srv.name), workload, runNo)))
	}
	s, err := runWrk(ctx, work, srv.base, script, cfg.threads, conns, cfg.duration)
	if prof != nil {
		if perr := prof.wait(err != nil); err == nil && perr != nil {
			return result{}, perr
		}
	}
	if err != nil {
		return result{}, err
	}
	cpuAfter, err := srv.cpuTime()
	if err != nil {
		return result{}, err
	}
	if err := srv.alive(); err != nil {
		return result{}, err
	}
	peak, err := srv.peakRSS()
	if err != nil {
		return result{}, err
	}
	anon, err := srv.anonRSS()
	if err != nil {
		return result{}, err
	}
	secs := float64(s.DurationUS) / 1e6
	return result{
		Workload:    workload,
		Profiled:    prof != nil,
		Connections: conns,
		Seconds:     secs,
		Requests:    s.Requests,
		RPS:         float64(s.Requests) / secs,
		P50Ms:       float64(s.P50US) / 1000,
		P90Ms:       float64(s.P90US) / 1000,
		P99Ms:       float64(s.P99US) / 1000,
		MaxMs:       float64(s.MaxUS) / 1000,
		Errors:      s.Connect + s.Read + s.Write + s.Timeout + s.Status,
		Non2xx:      s.Status,
		PeakRSSMB:   float64(peak) / (1 << 20),
		AnonRSSMB:   float64(anon) / (1 << 20),
		ServerCPUUs: perRequestUs(cpuAfter-cpuBefore, s.Requests),
		LoadCPUUs:   perRequestUs(s.CPU, s.Requests),
	}, nil
}

func perRequestUs(d time.Duration, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(requests)
}

// summary is the median of a (target, workload) over the runs.
type summary struct {
	Target       string  `json:"target"`
	Workload     string  `json:"workload"`
	Store        string  `json:"store"`
	Profiles     int     `json:"profiles"`
	Build        string  `json:"build,omitempty"`
	Connections  int     `json:"connections"`
	Runs         int     `json:"runs"`
	RPS          float64 `json:"rps_median"`
	RPSMin       float64 `json:"rps_min"`
	RPSMax       float64 `json:"rps_max"`
	P50Ms        float64 `json:"p50_ms_median"`
	P99Ms        float64 `json:"p99_ms_median"`
	Errors       int64   `json:"errors_total"`
	PeakRSSMB    float64 `json:"peak_rss_mb_max"`
	AnonRSSMB    float64 `json:"anon_rss_mb_max"`
	StartupMsMed float64 `json:"startup_ms_median"`
	ServerCPUUs  float64 `json:"server_cpu_us_per_req_median"`
	ServerCPUMin float64 `json:"server_cpu_us_per_req_min"`
	ServerCPUMax float64 `json:"server_cpu_us_per_req_max"`
	LoadCPUUs    float64 `json:"wrk_cpu_us_per_req_median"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(results []result) []summary {
	type key struct{ target, workload string }
	var order []key
	groups := map[key][]result{}
	for _, r := range results {
		k := key{r.Target, r.Workload}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make([]summary, 0, len(order))
	for _, k := range order {
		rs := groups[k]
		pick := func(f func(result) float64) []float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			return v
		}
		rps := pick(func(r result) float64 { return r.RPS })
		cpu := pick(func(r result) float64 { return r.ServerCPUUs })
		s := summary{
			Target: k.target, Workload: k.workload, Store: rs[0].Store, Profiles: rs[0].Profiles, Build: rs[0].Build,
			Connections: rs[0].Connections, Runs: len(rs),
			RPS: median(rps), RPSMin: slices.Min(rps), RPSMax: slices.Max(rps),
			P50Ms:        median(pick(func(r result) float64 { return r.P50Ms })),
			P99Ms:        median(pick(func(r result) float64 { return r.P99Ms })),
			PeakRSSMB:    slices.Max(pick(func(r result) float64 { return r.PeakRSSMB })),
			AnonRSSMB:    slices.Max(pick(func(r result) float64 { return r.AnonRSSMB })),
			StartupMsMed: median(pick(func(r result) float64 { return r.StartupMs })),
			ServerCPUUs:  median(cpu),
			ServerCPUMin: slices.Min(cpu),
			ServerCPUMax: slices.Max(cpu),
			LoadCPUUs:    median(pick(func(r result) float64 { return r.LoadCPUUs })),
		}
		for _, r := range rs {
			s.Errors += r.Errors
		}
		out = append(out, s)
	}
	return out
}

// flatTarget is the target of the flatness ratios: the rate of a list, a
// search or a count within 20 % of itself however large the directory.
const flatTarget = "1 ± 0.2"

// ratio compares two servers (or two directories) on one workload: the
// ratio of their req/s within each run, and the median of those.
type ratio struct {
	Name   string    `json:"name"`
	PerRun []float64 `json:"per_run"`
	Median float64   `json:"median"`
	Target string    `json:"target,omitempty"`
	// Met says whether the median meets Target; absent without one.
	Met *bool `json:"met,omitempty"`
}

// meets judges a median against a target as ratios spell them: "≥ x" or
// "c ± d". ok is false for a target it cannot read (or none).
func meets(median float64, target string) (met, ok bool) {
	if v, found := strings.CutPrefix(target, "≥ "); found {
		x, err := strconv.ParseFloat(v, 64)
		return err == nil && median >= x, err == nil
	}
	if c, d, found := strings.Cut(target, " ± "); found {
		cv, err1 := strconv.ParseFloat(c, 64)
		dv, err2 := strconv.ParseFloat(d, 64)
		if err1 != nil || err2 != nil {
			return false, false
		}
		// A hair of slack for the floating point of 1.2 - 1.
		return math.Abs(median-cv) <= dv+1e-9, true
	}
	return false, false
}

func ratios(results []result, cfg *config, storeNames []map[int]string) []ratio {
	rps := map[string]float64{}
	key := func(run int, target, workload string) string {
		return fmt.Sprint(run, "\x00", target, "\x00", workload)
	}
	for _, r := range results {
		rps[key(r.Run, r.Target, r.Workload)] = r.RPS
	}
	var out []ratio
	add := func(name, target, aTarget, aWork, bTarget, bWork string) {
		rt := ratio{Name: name, Target: target}
		for run := 1; run <= cfg.runs; run++ {
			a, okA := rps[key(run, aTarget, aWork)]
			b, okB := rps[key(run, bTarget, bWork)]
			if okA && okB && b > 0 {
				rt.PerRun = append(rt.PerRun, a/b)
			}
		}
		if len(rt.PerRun) > 0 {
			rt.Median = median(rt.PerRun)
			if met, ok := meets(rt.Median, rt.Target); ok {
				rt.Met = &met
			}
			out = append(out, rt)
		}
	}
	add("bare+rs256 / bare (what RS256 on every request costs)", "", "bare+rs256", workGet, "bare", workGet)
	largest, smallest := slices.Max(cfg.sizes), slices.Min(cfg.sizes)
	peerTargets := map[string]string{workList: "≥ 10", workCreate: "≥ 10"}
	for _, names := range storeNames {
		for _, size := range cfg.sizes {
			name := names[size]
			add(name+" GET by id / bare (no auth)", "≥ 0.6", name, workGet, "bare", workGet)
			add(name+" GET by id / bare+rs256", "", name, workGet, "bare+rs256", workGet)
		}
		// Against the peer and across sizes, the largest directory speaks
		// for extdir.
		primary := names[largest]
		for _, w := range cfg.workloads {
			add(primary+" "+w+" / entra-emulator "+w, peerTargets[w], primary, w, "entra-emulator", w)
		}
		// Flatness: the rate of the smallest directory over the largest's,
		// which a request whose cost does not grow with the directory keeps
		// near 1. The filtered list and the search return 1 % of the
		// directory, which is not a page's worth of 100 below 10,000
		// profiles: their target is on the ratio from the smallest
		// directory whose page is full.
		if smallest != largest {
			for _, w := range []string{workGet, workList, workFilter, workSearch, workCount} {
				if !slices.Contains(cfg.workloads, w) {
					continue
				}
				target := flatTarget
				if w == workGet {
					target = ""
				}
				from := smallest
				onePercent := w == workFilter || w == workSearch
				if onePercent {
					full := slices.DeleteFunc(slices.Clone(cfg.sizes), func(n int) bool { return n/100 < 100 })
					if from < 100*100 {
						add(fmt.Sprintf("%s %s / %s %s (flatness; pages of %d rows against %d, no target)", names[from], w, primary, w, from/100, min(largest/100, 100)), "", names[from], w, primary, w)
						if len(full) == 0 {
							continue
						}
						from = slices.Min(full)
					}
					if from == largest {
						continue
					}
					add(fmt.Sprintf("%s %s / %s %s (flatness, full pages of 100)", names[from], w, primary, w), target, names[from], w, primary, w)
					continue
				}
				add(fmt.Sprintf("%s %s / %s %s (flatness)", names[from], w, primary, w), target, names[from], w, primary, w)
			}
		}
		for _, size := range cfg.sizes {
			for _, w := range cfg.workloads {
				name := names[size]
				add(fmt.Sprintf("%s %s / %s@compare", name, w, name), "", name, w, name+"@compare", w)
			}
		}
	}
	return out
}

func printReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "\n## Medians of the runs (%s; load average before %s, after %s)\n\n", rep.Machine.CPU, rep.Machine.LoadBefore, rep.Machine.LoadAfter)
	fmt.Fprintln(w, "| server | workload | conns | req/s (median) | min–max | p50 ms | p99 ms | errors | peak RSS MB | anon RSS MB | start-up ms | server CPU µs/req | wrk CPU µs/req |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range rep.Summary {
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s–%s | %.2f | %.2f | %d | %.1f | %.1f | %.0f | %.0f | %.0f |\n",
			s.Target, s.Workload, s.Connections, thousands(s.RPS), thousands(s.RPSMin), thousands(s.RPSMax), s.P50Ms, s.P99Ms, s.Errors, s.PeakRSSMB, s.AnonRSSMB, s.StartupMsMed, s.ServerCPUUs, s.LoadCPUUs)
	}
	if len(rep.Ratios) > 0 {
		fmt.Fprintln(w, "\n| ratio of req/s, within each run | per run | median | target | met |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, r := range rep.Ratios {
			per := make([]string, len(r.PerRun))
			for i, v := range r.PerRun {
				per[i] = strconv.FormatFloat(v, 'f', 2, 64)
			}
			met := ""
			if ok, known := meets(r.Median, r.Target); known {
				met = "✘"
				if ok {
					met = "✔"
				}
			}
			fmt.Fprintf(w, "| %s | %s | %.2f | %s | %s |\n", r.Name, strings.Join(per, ", "), r.Median, r.Target, met)
		}
	}
}

// thousands formats a rate as an integer with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// machine describes where the figures were taken.
type machine struct {
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Wrk        string `json:"wrk"`
	LoadBefore string `json:"load_average_before"`
	LoadAfter  string `json:"load_average_after"`
	Date       string `json:"date"`
}

func describeMachine(wrkVersion string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Wrk: wrkVersion, LoadBefore: loadAverage(), Date: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// loadAverage is the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// nextNonce reads the run counter kept in the data directory: creates
// number their phone numbers by it, so that no run clashes with an earlier
// one on the same store.
func nextNonce(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "load-nonce"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func saveNonce(dir string, n int) error {
	return os.WriteFile(filepath.Join(dir, "load-nonce"), []byte(strconv.Itoa(n)+"\n"), 0o600)
}

// moduleRoot is the directory of this module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := execCommand(ctx, "", "go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

func execCommand(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	return cmd
}
