package console_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser the console's tests drive: one headless Chromium for the
// whole package, a tab per test, the server's self-signed certificate
// accepted. Each tab records the page's Content-Security-Policy violations
// and uncaught exceptions, and the test fails on any.

// browserEnv names a browser binary to use instead of the ones looked for.
const browserEnv = "EXTDIR_TEST_BROWSER"

// axeVersion is the axe-core of testdata/axe, and axeSHA256 its file's sum.
const (
	axeVersion = "4.14.1"
	axeSHA256  = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
)

// findBrowser returns the browser to run, or skips the test saying how to
// get one: these tests need a real browser, and CI installs one.
func findBrowser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(browserEnv); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skipf("no Chromium to drive: install it (apt-get install chromium) or set %s to a Chrome or Chromium binary; .ci/run installs it", browserEnv)
	return ""
}

var (
	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
	stopBrowser func()
)

// browser starts the package's browser once; TestMain stops it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := findBrowser(t)
	browserOnce.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Flag("ignore-certificate-errors", true),
			chromedp.Flag("lang", "en-US"),
			chromedp.WindowSize(1280, 800),
		)
		if os.Geteuid() == 0 {
			// Chromium refuses to run as root with its sandbox on; CI
			// containers run as root.
			opts = append(opts, chromedp.NoSandbox)
		}
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(actx)
		browserErr = chromedp.Do(bctx)
		browserCtx = bctx
		stopBrowser = func() { cancelBrowser(); cancelAlloc() }
	})
	if browserErr != nil {
		t.Fatalf("start %s: %v", path, browserErr)
	}
	return browserCtx
}

func TestMain(m *testing.M) {
	code := m.Run()
	if stopBrowser != nil {
		stopBrowser()
	}
	os.Exit(code)
}

// tab is one browser tab of a test.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex
	exceptions []string
}

// newTab opens a tab that closes with the test; every step of the test
// must finish within two minutes.
func newTab(t *testing.T) *tab {
	t.Helper()
	tb := &tab{t: t}
	ctx, cancel := chromedp.NewContext(browser(t), chromedp.WithListener(func(ev any) {
		// This runs in the tab's event loop: it only records.
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			tb.mu.Lock()
			tb.exceptions = append(tb.exceptions, msg)
			tb.mu.Unlock()
		}
	}))
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	tb.ctx = ctx
	tb.run(
		chromedp.EmulateViewport(1280, 800),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			// Every document of the tab records its CSP violations, before
			// any of its own scripts run.
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || e.sample)));
window.__layoutShift = 0;
new PerformanceObserver((l) => { for (const e of l.getEntries()) if (!e.hadRecentInput) window.__layoutShift += e.value; }).observe({type: "layout-shift", buffered: true});`})
			return err
		}),
	)
	t.Cleanup(func() {
		tb.checkPage()
		cancelTimeout()
		cancel()
	})
	return tb
}

func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v (page says: %s)", err, tb.pageText())
	}
}

// pageText is what the page shows, for a failure's message.
func (tb *tab) pageText() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// checkPage fails the test on a CSP violation or an uncaught exception of
// the page now shown.
func (tb *tab) checkPage() {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__cspViolations || []`)); err == nil && len(violations) > 0 {
		tb.t.Errorf("Content-Security-Policy violations: %v", violations)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.exceptions) > 0 {
		tb.t.Errorf("uncaught exceptions in the page: %v", tb.exceptions)
	}
}

// eval evaluates a JavaScript expression, awaiting a promise.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v (page says: %s)", expr, err, tb.pageText())
	}
	return v
}

// waitFor waits until a JavaScript expression is true.
func (tb *tab) waitFor(expr string) {
	tb.t.Helper()
	// Evaluated again and again rather than with chromedp.Poll, whose
	// wait ends with an error when the page navigates meanwhile (as a
	// sign-in does).
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var ok bool
		ok, err = chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`Boolean(`+expr+`)`))
		if err == nil && ok {
			return
		}
		if tb.ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.t.Fatalf("waited 30 s for %s (%v); the page says: %s", expr, err, tb.pageText())
}

// waitText waits until the element of sel shows text.
func (tb *tab) waitText(sel, text string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf(`(document.querySelector(%q)?.innerText || "").includes(%q)`, sel, text))
}

// text is the text the element of sel shows.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ""`, sel))
}

// fill types text into the field of sel, replacing its value.
func (tb *tab) fill(sel, text string) {
	tb.t.Helper()
	// SetValue cannot set "": chromedp sends an empty argument as none.
	tb.run(chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = "", undefined`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.run(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// open goes to a fragment of the console (#/pending) without reloading
// the page, which would forget the tokens.
func (tb *tab) open(fragment string) {
	tb.t.Helper()
	// The same address again is no hashchange: the test asks for the view
	// anew, as clicking its link does.
	eval[chromedp.Void](tb, fmt.Sprintf(`(location.hash === %[1]q ? window.dispatchEvent(new HashChangeEvent("hashchange")) : location.hash = %[1]q), undefined`, fragment))
}

// screenshot saves the viewport as name.png in the test's screenshot
// folder, in 256 colours: small enough for docs/, where the best of them
// go as they are.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	raw, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		tb.t.Fatal(err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, paletted(img)); err != nil {
		tb.t.Fatal(err)
	}
	path := filepath.Join(screenshotDir(tb.t), name+".png")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// paletted is img in its 256 most frequent colours, each other colour
// drawn as the nearest of them. A screen of text and flat panels has few
// colours besides the edges of glyphs, so it looks the same at a third of
// the size.
func paletted(img image.Image) *image.Paletted {
	b := img.Bounds()
	counts := map[color.RGBA]int{}
	rgba := func(x, y int) color.RGBA {
		r, g, bl, a := img.At(x, y).RGBA()
		return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[rgba(x, y)]++
		}
	}
	colors := make([]color.RGBA, 0, len(counts))
	for c := range counts {
		colors = append(colors, c)
	}
	slices.SortFunc(colors, func(a, c color.RGBA) int {
		if d := counts[c] - counts[a]; d != 0 {
			return d
		}
		return cmp.Compare(uint32(a.R)<<24|uint32(a.G)<<16|uint32(a.B)<<8|uint32(a.A), uint32(c.R)<<24|uint32(c.G)<<16|uint32(c.B)<<8|uint32(c.A))
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range colors[:min(len(colors), 256)] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	index := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := rgba(x, y)
			i, ok := index[c]
			if !ok {
				i = uint8(pal.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	return out
}

var (
	shotsOnce sync.Once
	shotsDir  string
)

// screenshotDir is EXTDIR_CONSOLE_SCREENSHOTS, or a folder of the run's
// own that the test log names.
func screenshotDir(t *testing.T) string {
	shotsOnce.Do(func() {
		shotsDir = os.Getenv("EXTDIR_CONSOLE_SCREENSHOTS")
		if shotsDir == "" {
			var err error
			if shotsDir, err = os.MkdirTemp("", "extdir-console-screenshots-"); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(shotsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshots in %s", shotsDir)
	})
	return shotsDir
}

// setDark emulates the person's preference for a dark colour scheme.
func (tb *tab) setDark(dark bool) {
	tb.t.Helper()
	value := "light"
	if dark {
		value = "dark"
	}
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: value}}}); err != nil {
		tb.t.Fatal(err)
	}
}

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

func axeScript(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
		if err != nil {
			axeErr = err
			return
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != axeSHA256 {
			axeErr = fmt.Errorf("testdata/axe/axe.min.js is not axe-core %s as pinned (SHA-256 %x)", axeVersion, sum)
			return
		}
		axeSource = string(b)
	})
	if axeErr != nil {
		t.Fatal(axeErr)
	}
	return axeSource
}

// axeViolation is what the test reports of one.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// checkA11y runs axe-core on the page as shown and fails the test on a
// serious or critical violation. axe runs in an isolated world of the
// page: it sees the same document, while the page's CSP and Trusted Types,
// which would refuse a script injected into the page itself, stay on.
func (tb *tab) checkA11y(screen string) {
	tb.t.Helper()
	for _, v := range tb.axe() {
		if v.Impact == "serious" || v.Impact == "critical" {
			tb.t.Errorf("%s: axe %s (%s): %s at %s", screen, v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
		} else {
			tb.t.Logf("%s: axe %s (%s): %s at %s", screen, v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
		}
	}
}

// axe runs axe-core on the page and returns its violations.
func (tb *tab) axe() []axeViolation {
	tb.t.Helper()
	src := axeScript(tb.t)
	var found []axeViolation
	yes := true
	tb.run(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return err
		}
		world, err := cdp.Call(ctx, t, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: tree.FrameTree.Frame.ID, WorldName: "axe"})
		if err != nil {
			return err
		}
		loaded, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: src, ContextID: world.ExecutionContextID})
		if err != nil || loaded.ExceptionDetails != nil {
			return fmt.Errorf("load axe: %v %+v", err, loaded.ExceptionDetails)
		}
		res, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{
			Expression: `axe.run(document, {resultTypes: ["violations"]}).then((r) => JSON.stringify(r.violations.map((v) => ({
			id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5)}))))`,
			ContextID: world.ExecutionContextID, AwaitPromise: &yes, ReturnByValue: &yes,
		})
		if err != nil || res.ExceptionDetails != nil {
			return fmt.Errorf("run axe: %v %+v", err, res.ExceptionDetails)
		}
		var s string
		if err := json.Unmarshal(res.Result.Value, &s); err != nil {
			return err
		}
		return json.Unmarshal([]byte(s), &found)
	}))
	return found
}
