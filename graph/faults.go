package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/extdir/extdir"
)

// FaultHeader marks every response that a fault rule changed: its value
// names the effect and the rule.
const FaultHeader = "X-Extdir-Fault"

// faultAdminPath is the admin endpoint of fault injection. Faults never
// apply to /admin, so that rules can always be changed or removed.
const faultAdminPath = "/admin/faults"

// Codes of injected failures: they reach the status table through their own
// codes so that writeError does not log them as the service's own failures.
const (
	eInjectedInternal    extdir.Code = "injected_internal"
	eInjectedBadGateway  extdir.Code = "injected_bad_gateway"
	eInjectedUnavailable extdir.Code = "injected_unavailable"
	eInjectedTimeout     extdir.Code = "injected_gateway_timeout"
)

// faultCodes are the statuses a rule may inject besides 429, which is
// written as Graph's throttling response.
var faultCodes = map[int]extdir.Code{
	http.StatusInternalServerError: eInjectedInternal,
	http.StatusBadGateway:          eInjectedBadGateway,
	http.StatusServiceUnavailable:  eInjectedUnavailable,
	http.StatusGatewayTimeout:      eInjectedTimeout,
}

// FaultConfig is a set of fault rules: the content of --faults-file and the
// body of the admin endpoint. Seed makes the draws reproducible: the same
// seed and the same sequence of matching requests inject the same faults.
type FaultConfig struct {
	Seed  uint64      `json:"seed"`
	Rules []FaultRule `json:"rules"`
}

// FaultRule makes a share of the matching requests fail, wait, or both.
type FaultRule struct {
	// Name identifies the rule in the marker header and the log; default
	// "#<position>" (from 1).
	Name string `json:"name,omitempty"`
	// Method is GET, POST, PATCH, PUT or DELETE; empty or "*" matches any.
	Method string `json:"method,omitempty"`
	// Path is a URL path pattern, compared segment by segment without
	// regard to case: a segment may use path.Match wildcards (*, ?, [a-z]),
	// and a last segment "**" matches any number of remaining segments.
	Path string `json:"path"`
	// Rate is the share of matching requests that get the fault, 0 to 1;
	// absent means 1.
	Rate *float64 `json:"rate,omitempty"`
	// Status is the injected status: 429, 500, 502, 503 or 504; 0 with a
	// Latency only delays the request.
	Status int `json:"status,omitempty"`
	// RetryAfter is the Retry-After of a 429 or 503, in seconds; a 429
	// defaults to 1.
	RetryAfter int `json:"retryAfter,omitempty"`
	// Latency is a delay before the answer, as a Go duration ("250ms") or
	// a range drawn from uniformly ("50ms..400ms").
	Latency string `json:"latency,omitempty"`
	// Scope picks the requests by how they came: "inner" only the requests
	// inside a $batch (Graph throttles those one by one: the batch answers
	// 200 with a 429 inside), "top" only requests sent on their own, empty
	// or "any" both.
	Scope string `json:"scope,omitempty"`
	// Drop closes the connection without an answer, as a crashed proxy or
	// a cut network does; on an inner request it drops the whole batch.
	Drop bool `json:"drop,omitempty"`
	// Times stops the rule after that many injections; 0 means no end.
	Times int `json:"times,omitempty"`
	// Injected counts the rule's injections so far (output only).
	Injected int `json:"injected,omitempty"`
}

// Faults injects failures and latency into the requests its rules match,
// before routing, as a proxy in front of Graph would (Microsoft's Dev Proxy
// is the model). A failed request never reaches a handler, so an injected
// failure never changes stored data; a delayed one runs normally after the
// delay.
type Faults struct {
	// active counts the rules, so that a server with none (the admin
	// API's default) pays one atomic load per request.
	active atomic.Int32

	mu    sync.Mutex
	seed  uint64
	rules []*faultRule
}

type faultRule struct {
	FaultRule
	pattern []string
	rate    float64
	// latency, up to latency+spread, drawn uniformly.
	latency, spread time.Duration
	rng             *rand.Rand
}

// NewFaults checks the rules and returns them ready to inject.
func NewFaults(cfg FaultConfig) (*Faults, error) {
	f := &Faults{}
	if err := f.Set(cfg); err != nil {
		return nil, err
	}
	return f, nil
}

// LoadFaultFile reads a FaultConfig from a JSON file; unknown members are
// errors, so that a misspelt option does not silently do nothing.
func LoadFaultFile(name string) (FaultConfig, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return FaultConfig{}, fmt.Errorf("read fault rules: %w", err)
	}
	cfg, err := decodeFaultConfig(raw)
	if err != nil {
		return FaultConfig{}, fmt.Errorf("fault rules %s: %w", name, err)
	}
	return cfg, nil
}

func decodeFaultConfig(raw []byte) (FaultConfig, error) {
	var cfg FaultConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return FaultConfig{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return FaultConfig{}, errors.New("unexpected data after the rules object")
	}
	return cfg, nil
}

// Set replaces every rule and restarts the draws from the seed.
func (f *Faults) Set(cfg FaultConfig) error {
	rules := make([]*faultRule, 0, len(cfg.Rules))
	for i, r := range cfg.Rules {
		fr, err := compileFaultRule(i, r, cfg.Seed)
		if err != nil {
			return err
		}
		rules = append(rules, fr)
	}
	f.mu.Lock()
	f.seed, f.rules = cfg.Seed, rules
	f.active.Store(int32(len(rules)))
	f.mu.Unlock()
	return nil
}

// ResetCounts sets every rule's injection count back to zero, and its
// draws back to the seed: the rules start over as if just set.
func (f *Faults) ResetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.rules {
		r.Injected = 0
		r.rng = rand.New(rand.NewPCG(f.seed, uint64(i)))
	}
}

// Config returns the rules and how often each has fired.
func (f *Faults) Config() FaultConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg := FaultConfig{Seed: f.seed, Rules: make([]FaultRule, len(f.rules))}
	for i, r := range f.rules {
		cfg.Rules[i] = r.FaultRule
	}
	return cfg
}

func compileFaultRule(i int, r FaultRule, seed uint64) (*faultRule, error) {
	fr := &faultRule{FaultRule: r, rate: 1}
	fr.Injected = 0
	if fr.Name == "" {
		fr.Name = "#" + strconv.Itoa(i+1)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("fault rule %s: "+format, append([]any{fr.Name}, args...)...)
	}
	switch m := strings.ToUpper(r.Method); m {
	case "", "*":
		fr.Method = ""
	case "GET", "POST", "PATCH", "PUT", "DELETE":
		fr.Method = m
	default:
		return nil, bad("method %q is not GET, POST, PATCH, PUT, DELETE or *", r.Method)
	}
	pattern, err := compilePathPattern(r.Path)
	if err != nil {
		return nil, bad("%v", err)
	}
	fr.pattern = pattern
	if r.Rate != nil {
		if *r.Rate < 0 || *r.Rate > 1 {
			return nil, bad("rate %v must be between 0 and 1", *r.Rate)
		}
		fr.rate = *r.Rate
	}
	if r.Status != 0 && r.Status != http.StatusTooManyRequests && faultCodes[r.Status] == "" {
		return nil, bad("status %d is not 429, 500, 502, 503 or 504", r.Status)
	}
	if r.Latency != "" {
		lo, hi, ok := parseLatency(r.Latency)
		if !ok {
			return nil, bad("latency %q must be a duration between 0 and 1m, such as 250ms, or a range such as 50ms..400ms", r.Latency)
		}
		fr.latency, fr.spread = lo, hi-lo
	}
	switch strings.ToLower(r.Scope) {
	case "", "any":
		fr.Scope = ""
	case "inner", "top":
		fr.Scope = strings.ToLower(r.Scope)
	default:
		return nil, bad("scope %q is not inner, top or any", r.Scope)
	}
	if r.Drop && r.Status != 0 {
		return nil, bad("drop closes the connection: it takes no status")
	}
	if r.Status == 0 && fr.latency+fr.spread == 0 && !r.Drop {
		return nil, bad("give a status, a latency, drop, or a status with a latency")
	}
	if r.RetryAfter < 0 || (r.RetryAfter > 0 && r.Status != http.StatusTooManyRequests && r.Status != http.StatusServiceUnavailable) {
		return nil, bad("retryAfter goes with status 429 or 503, in positive seconds")
	}
	if r.Status == http.StatusTooManyRequests && fr.RetryAfter == 0 {
		fr.RetryAfter = 1
	}
	if r.Times < 0 {
		return nil, bad("times must not be negative")
	}
	// One stream per rule: a rule's draws do not depend on how much
	// traffic the other rules see.
	fr.rng = rand.New(rand.NewPCG(seed, uint64(i)))
	return fr, nil
}

// parseLatency reads "250ms" or "50ms..400ms", each end within 0..1m.
func parseLatency(s string) (lo, hi time.Duration, ok bool) {
	a, b, isRange := strings.Cut(s, "..")
	lo, err := time.ParseDuration(strings.TrimSpace(a))
	if err != nil {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = time.ParseDuration(strings.TrimSpace(b)); err != nil || hi < lo {
			return 0, 0, false
		}
	}
	return lo, hi, lo >= 0 && hi <= time.Minute
}

func (r *faultRule) matches(method string, segs []string, inner bool) bool {
	if r.Method != "" && r.Method != method {
		return false
	}
	if (r.Scope == "inner" && !inner) || (r.Scope == "top" && inner) {
		return false
	}
	return matchPathPattern(r.pattern, segs)
}

// pick draws for the rules that match r, in order, and returns the first
// that fires.
func (f *Faults) pick(r *http.Request) (FaultRule, time.Duration, bool) {
	if f.active.Load() == 0 {
		return FaultRule{}, 0, false
	}
	segs := splitPath(r.URL.Path)
	_, inner := r.Context().Value(batchStepKey).(batchStepInfo)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rule := range f.rules {
		if rule.Times > 0 && rule.Injected >= rule.Times {
			continue
		}
		if !rule.matches(r.Method, segs, inner) {
			continue
		}
		if rule.rate < 1 && rule.rng.Float64() >= rule.rate {
			continue
		}
		rule.Injected++
		latency := rule.latency
		if rule.spread > 0 {
			latency += time.Duration(rule.rng.Int64N(int64(rule.spread) + 1))
		}
		return rule.FaultRule, latency, true
	}
	return FaultRule{}, 0, false
}

// injectFault applies the fault a rule picks for r, if any, and reports
// whether it answered r; after a latency alone the request goes on.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	if s.Faults == nil || s.Faults.active.Load() == 0 || isAdminPath(r.URL.Path) {
		return false
	}
	rule, latency, ok := s.Faults.pick(r)
	if !ok {
		return false
	}
	var effect string
	switch {
	case rule.Drop:
		effect = "drop"
	case rule.Status != 0:
		effect = "status=" + strconv.Itoa(rule.Status)
	}
	if latency > 0 {
		if effect != "" {
			effect += "; "
		}
		effect += "latency=" + latency.String()
	}
	w.Header().Set(FaultHeader, effect+"; rule="+rule.Name)
	logger(r).Info("fault injected", slog.String("rule", rule.Name), slog.String("effect", effect),
		slog.String("method", r.Method), slog.String("path", r.URL.Path))
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if rule.Drop {
		// net/http closes the connection (HTTP/1) or resets the stream
		// (HTTP/2) without writing a response, and logs nothing.
		panic(http.ErrAbortHandler)
	}
	switch rule.Status {
	case 0:
		return false
	case http.StatusTooManyRequests:
		writeThrottled(w, r, time.Duration(rule.RetryAfter)*time.Second)
	default:
		if rule.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(rule.RetryAfter))
		}
		writeError(w, r, extdir.Errorf(faultCodes[rule.Status],
			"Fault injected by extdir rule '%s': the request was not processed.", rule.Name))
	}
	return true
}

// faultAdmin guards the fault rules' endpoint: an admin caller, and only
// while fault injection is on.
func (s *Server) faultAdmin(c *call) error {
	if err := s.adminGate(c); err != nil {
		return err
	}
	if s.Faults == nil {
		return extdir.Errorf(extdir.ENotFound, "Fault injection is off: start extdir serve with --faults or --faults-file.")
	}
	return nil
}

func (s *Server) getFaults(c *call) error {
	if err := s.faultAdmin(c); err != nil {
		return err
	}
	return writeFaultConfig(c, s.Faults.Config())
}

func (s *Server) putFaults(c *call) error {
	if err := s.faultAdmin(c); err != nil {
		return err
	}
	raw, err := readJSONBody(c.r)
	if err != nil {
		return err
	}
	cfg, err := decodeFaultConfig(raw)
	if err == nil {
		err = s.Faults.Set(cfg)
	}
	if err != nil {
		return extdir.Errorf(extdir.EInvalid, "Invalid fault rules: %v", err)
	}
	logger(c.r).Warn("fault rules replaced", slog.Int("rules", len(cfg.Rules)), slog.Uint64("seed", cfg.Seed))
	return writeFaultConfig(c, s.Faults.Config())
}

func (s *Server) deleteFaults(c *call) error {
	if err := s.faultAdmin(c); err != nil {
		return err
	}
	if err := s.Faults.Set(FaultConfig{}); err != nil {
		return err
	}
	logger(c.r).Warn("fault rules removed")
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func writeFaultConfig(c *call, cfg FaultConfig) error {
	if cfg.Rules == nil {
		cfg.Rules = []FaultRule{}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode fault rules: %w", err)
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b)
	return nil
}
