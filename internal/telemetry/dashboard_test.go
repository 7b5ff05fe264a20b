package telemetry

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardUsesTheseMetrics keeps docs/grafana-dashboard.json in step
// with the metric names: a renamed metric must not leave a panel that
// silently shows nothing.
func TestDashboardUsesTheseMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, n := range []string{nameRequests, nameRequestDuration, nameInFlight, nameBatchInner, nameTokensIssued,
		nameTokensRefused, nameThrottled, nameShed, nameStoreDuration, nameCommitWrites, nameProfiles, nameStoreSize} {
		known[n] = true
	}
	used := regexp.MustCompile(`extdir_[a-z_]+`).FindAllString(string(raw), -1)
	seen := map[string]bool{}
	for _, name := range used {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && known[b] {
				base = b
			}
		}
		if !known[base] {
			t.Errorf("the dashboard queries %s, which extdir does not export", name)
		}
		seen[base] = true
	}
	for n := range known {
		if !seen[n] {
			t.Errorf("the dashboard has no panel for %s", n)
		}
	}
}
