package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// statsTimeout bounds the queries of one scrape: Prometheus gives up on a
// scrape after 10 s by default, and a late answer helps nobody.
const statsTimeout = 5 * time.Second

// WatchStore puts st's profile counts and database size on the metrics,
// read at each scrape: extdir_profiles (by kind and state, and by tenant
// with Options.PerTenant) and extdir_store_size_bytes. It does nothing
// when metrics are off or st has no store.Stats; give it the store as
// opened, not the wrapper of Store.
func (t *Telemetry) WatchStore(st store.Store) {
	stats, ok := st.(store.Stats)
	if !t.MetricsEnabled() || !ok {
		return
	}
	t.m.reg.MustRegister(&statsCollector{
		stats:     stats,
		perTenant: t.opts.PerTenant,
		maxAge:    t.opts.StatsMaxAge,
		profiles: prometheus.NewDesc(nameProfiles,
			"Profiles in the store, by kind (pendingExternalUserProfile, externalUserProfile) and state (live, deleted), counted at the scrape; on PostgreSQL every node counts the same shared table.",
			profileLabels(t.opts.PerTenant), nil),
		size: prometheus.NewDesc(nameStoreSize,
			"Size of the database: the SQLite file's pages, or the PostgreSQL database on disk.",
			[]string{"backend"}, nil),
	})
}

func profileLabels(perTenant bool) []string {
	if perTenant {
		return []string{"tenant", "kind", "state"}
	}
	return []string{"kind", "state"}
}

// statsCollector reads the store's statistics when scraped.
type statsCollector struct {
	stats              store.Stats
	perTenant          bool
	maxAge             time.Duration
	profiles, size     *prometheus.Desc
	mu                 sync.Mutex // one reading at a time; guards the cache
	at                 time.Time
	counts             []store.ProfileCount
	sizeBytes          int64
	countsErr, sizeErr error
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.profiles
	ch <- c.size
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || c.maxAge == 0 || time.Since(c.at) >= c.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
		c.counts, c.countsErr = c.stats.ProfileCounts(ctx, c.perTenant)
		c.sizeBytes, c.sizeErr = c.stats.SizeBytes(ctx)
		cancel()
		c.at = time.Now()
	}
	if c.countsErr != nil {
		ch <- prometheus.NewInvalidMetric(c.profiles, c.countsErr)
	} else {
		c.collectCounts(ch)
	}
	if c.sizeErr != nil {
		ch <- prometheus.NewInvalidMetric(c.size, c.sizeErr)
	} else {
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(c.sizeBytes), c.stats.Backend())
	}
}

func (c *statsCollector) collectCounts(ch chan<- prometheus.Metric) {
	state := func(deleted bool) string {
		if deleted {
			return "deleted"
		}
		return "live"
	}
	if c.perTenant {
		for _, pc := range c.counts {
			ch <- prometheus.MustNewConstMetric(c.profiles, prometheus.GaugeValue, float64(pc.N), pc.Tenant, pc.Kind.TypeName(), state(pc.Deleted))
		}
		return
	}
	// Every kind and state, zeros included: a series that appears only
	// once it is non-zero makes a graph start at its first profile.
	type key struct {
		kind    extdir.Kind
		deleted bool
	}
	n := map[key]int64{}
	for _, pc := range c.counts {
		n[key{pc.Kind, pc.Deleted}] += pc.N
	}
	for _, kind := range extdir.Kinds {
		for _, deleted := range []bool{false, true} {
			ch <- prometheus.MustNewConstMetric(c.profiles, prometheus.GaugeValue, float64(n[key{kind, deleted}]), kind.TypeName(), state(deleted))
		}
	}
}
