package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/extdir/extdir"
)

// FaultHeader marks every response that a fault rule changed: its value
// names the effect and the rule.
const FaultHeader = "X-Extdir-Fault"

// faultAdminPath is the admin endpoint of fault injection. Faults never
// apply to it, so that rules can always be changed or removed.
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
	// Latency is a delay before the answer, as a Go duration ("250ms").
	Latency string `json:"latency,omitempty"`
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
	mu    sync.Mutex
	seed  uint64
	rules []*faultRule
}

type faultRule struct {
	FaultRule
	pattern []string
	rate    float64
	latency time.Duration
	rng     *rand.Rand
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
	f.mu.Unlock()
	return nil
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
	if !strings.HasPrefix(r.Path, "/") {
		return nil, bad("path %q must start with /", r.Path)
	}
	fr.pattern = splitPath(strings.ToLower(r.Path))
	for j, seg := range fr.pattern {
		if seg == "**" && j != len(fr.pattern)-1 {
			return nil, bad("** must be the last segment of path %q", r.Path)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return nil, bad("path %q: %v", r.Path, err)
		}
	}
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
		d, err := time.ParseDuration(r.Latency)
		if err != nil || d < 0 || d > time.Minute {
			return nil, bad("latency %q must be a duration between 0 and 1m, such as 250ms", r.Latency)
		}
		fr.latency = d
	}
	if r.Status == 0 && fr.latency == 0 {
		return nil, bad("give a status, a latency or both")
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

func (r *faultRule) matches(method string, segs []string) bool {
	if r.Method != "" && r.Method != method {
		return false
	}
	for i, pat := range r.pattern {
		if pat == "**" {
			return true
		}
		if i >= len(segs) {
			return false
		}
		if ok, _ := path.Match(pat, strings.ToLower(segs[i])); !ok {
			return false
		}
	}
	return len(segs) == len(r.pattern)
}

// pick draws for the rules that match r, in order, and returns the first
// that fires.
func (f *Faults) pick(r *http.Request) (FaultRule, time.Duration, bool) {
	segs := splitPath(r.URL.Path)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rule := range f.rules {
		if rule.Times > 0 && rule.Injected >= rule.Times {
			continue
		}
		if !rule.matches(r.Method, segs) {
			continue
		}
		if rule.rate < 1 && rule.rng.Float64() >= rule.rate {
			continue
		}
		rule.Injected++
		return rule.FaultRule, rule.latency, true
	}
	return FaultRule{}, 0, false
}

// injectFault applies the fault a rule picks for r, if any, and reports
// whether it answered r; after a latency alone the request goes on.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	if s.Faults == nil || strings.EqualFold(strings.TrimSuffix(r.URL.Path, "/"), faultAdminPath) {
		return false
	}
	rule, latency, ok := s.Faults.pick(r)
	if !ok {
		return false
	}
	effect := "status=" + strconv.Itoa(rule.Status)
	if rule.Status == 0 {
		effect = "latency=" + latency.String()
	} else if latency > 0 {
		effect += "; latency=" + latency.String()
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

// faultAdmin guards the admin endpoint: loopback clients only, and only
// while fault injection is on.
func (s *Server) faultAdmin(c *call) error {
	host, _, err := net.SplitHostPort(c.r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return extdir.Errorf(extdir.EForbidden, "The fault injection endpoint accepts loopback clients only.")
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
