package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/seed"
	extdirserver "github.com/extdir/extdir/internal/server"
	"github.com/extdir/extdir/store/sqlite"
)

// largeDBEnv names a SQLite file of bench/seed (docs/benchmarks.md: a
// million profiles in the development tenant) for TestConsoleFirstPage;
// without it the test seeds ciProfiles profiles of its own.
const (
	largeDBEnv  = "EXTDIR_CONSOLE_LARGE_DB"
	ciProfiles  = 20_000
	devTenant   = "00000000-0000-0000-0000-0000000000e1"
	firstPages  = 5
	perfUPN     = "perf@extdir.test"
	perfTimeout = 10 * time.Minute
)

// TestConsoleFirstPage opens the pending profiles of a large directory in
// the browser and reports how long the first page takes, from the view's
// start to its rows laid out (the "extdir:first-page" measure of
// view-list.js), cold and then warm, and the total's /$count beside it.
// It checks what the person sees (a full page, the total); the figure is
// logged, not asserted: a time depends on the machine. docs/benchmarks.md
// has the figure of a million profiles and the command.
func TestConsoleFirstPage(t *testing.T) {
	findBrowser(t)
	ctx := context.Background()
	dir := t.TempDir()
	path, want := os.Getenv(largeDBEnv), ciProfiles
	if path == "" {
		path = sqlite.Memory
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if path == sqlite.Memory {
		start := time.Now()
		if err := seed.Run(ctx, st, seed.Shape{Tenant: devTenant, Profiles: ciProfiles}, 5000, nil); err != nil {
			t.Fatal(err)
		}
		t.Logf("seeded %d profiles in %v", ciProfiles, time.Since(start).Round(time.Millisecond))
	} else {
		// The file's size is whatever bench/seed made it: the page says.
		want = -1
	}

	ts := httptest.NewUnstartedServer(nil)
	origin := "https://" + ts.Listener.Addr().String()
	built, err := extdirserver.Build(extdirserver.Options{
		DataDir: dir, Store: st, BuiltinIssuer: true, Issuer: auth.IssuerTemplateFor(origin),
		TokenCache: auth.DefaultCacheSize,
		Console:    &graph.Console{Tenant: devTenant, RedirectURI: origin + graph.ConsolePath},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = built.Handler
	ts.StartTLS()
	t.Cleanup(ts.Close)
	if _, _, err := auth.AddUser(dir, auth.UserRegistration{Tenant: devTenant, UPN: perfUPN, Password: password, RoleIDs: []string{auth.RoleExtendedDirectoryUserAdministrator}}); err != nil {
		t.Fatal(err)
	}

	tb := newTab(t)
	signIn(tb, origin, devTenant, perfUPN, nil)
	// The view signing in lands on is done before the measured ones start.
	tb.waitFor(`performance.getEntriesByName("extdir:first-page").length > 0 && performance.getEntriesByName("extdir:total").length > 0`)
	var cold float64
	var warm []float64
	var total float64
	for i := range firstPages + 1 {
		eval[chromedp.Void](tb, `performance.clearMeasures()`)
		tb.open(fmt.Sprintf("#/pending?select=displayName,phoneNumber,companyName,createdDateTime&n=%d", i))
		tb.waitFor(`performance.getEntriesByName("extdir:first-page").length === 1 && performance.getEntriesByName("extdir:total").length === 1`)
		ms := eval[float64](tb, `performance.getEntriesByName("extdir:first-page").at(-1).duration`)
		if i == 0 {
			cold = ms
			total = eval[float64](tb, `performance.getEntriesByName("extdir:total").at(-1).duration`)
		} else {
			warm = append(warm, ms)
		}
		if n := eval[int](tb, `document.querySelectorAll("#list-table tbody tr:not(.placeholder)").length`); n != 50 {
			t.Fatalf("the first page shows %d rows, want 50", n)
		}
	}
	shown := tb.text("#list-total")
	if want > 0 && shown != fmt.Sprintf("%s profiles", commas(want)) {
		t.Errorf("the total reads %q, want %s profiles", shown, commas(want))
	}
	slices.Sort(warm)
	t.Logf("%s: first page %.1f ms cold, %.1f ms warm (median of %d); the total (/$count) %.1f ms",
		shown, cold, warm[len(warm)/2], len(warm), total)
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestAxeFindsViolations makes sure the accessibility check can fail: on
// a page with an unlabelled field and an image without a text, axe must
// report both.
func TestAxeFindsViolations(t *testing.T) {
	findBrowser(t)
	tb := newTab(t)
	tb.run(chromedp.Navigate(`data:text/html,<!DOCTYPE html><html lang="en"><title>t</title><main><input type="text"><img src="x.png"></main></html>`))
	found := map[string]string{}
	for _, v := range tb.axe() {
		found[v.ID] = v.Impact
	}
	if found["label"] != "critical" || found["image-alt"] != "critical" {
		t.Errorf("axe found %v on a page with an unlabelled field and an image without alt", found)
	}
}
