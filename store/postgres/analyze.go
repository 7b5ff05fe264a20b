package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Statistics where nobody else gathers them. The planner needs statistics
// of profiles to choose a listing's plan: without any, it takes every
// tenant to hold about one row, and so every index that starts with
// (tenant, kind) to cost the same, and may pick one that gives neither the
// filter's range nor the page's order, reading the tenant's every row for
// each page. (The realistic mix of the cluster benchmark fell from
// 4,300 to 700 requests per second that way, its list walking the
// supervisor index over all 23,000 rows of the tenant, on a server with
// autovacuum off.) Autovacuum analyzes a table once 50 rows plus a tenth of
// it have changed; where it is off, on the server or for the table, the
// store does the same: every analyzeCheckEvery rows created, it looks, and
// analyzes the table when autovacuum would have.
//
// The check and the ANALYZE run in the background, on one goroutine at a
// time per store; nodes sharing the database take turns with an advisory
// lock, so that one of them analyzes.

// analyzeCheckEvery is how many created rows a store counts before it
// checks whether profiles needs ANALYZE.
const analyzeCheckEvery = 256

// analyzeLock is the advisory lock key of the check (migrate's is another).
const analyzeLock = "extdir: analyze profiles"

// analyzeStaleSQL reports whether nobody else will analyze profiles
// (autovacuum is off, on the server or for the table) and it has changed
// as much as autovacuum's default thresholds allow. The changes are those
// the server counted (every node's, but counted only when a session
// reports them, up to a second late) or the $1 rows this store created
// since it last analyzed, whichever is more.
const analyzeStaleSQL = `SELECT (current_setting('autovacuum') = 'off'
		OR coalesce(c.reloptions @> ARRAY['autovacuum_enabled=false'], false))
	AND greatest(coalesce(s.n_mod_since_analyze, 0), $1) > 50 + 0.1 * greatest(c.reltuples, 0)
	FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
	WHERE c.oid = 'profiles'::regclass`

// analyzer counts a store's created rows and runs the check.
type analyzer struct {
	// created counts the rows created since the last check, own those
	// since this store last analyzed.
	created, own atomic.Int64
	running      atomic.Bool
	// done, if set (by tests), receives the outcome of each check.
	done chan analyzeOutcome
}

type analyzeOutcome struct {
	analyzed bool
	err      error
}

// noteCreated counts n created rows, and starts a check in the background
// once analyzeCheckEvery have been counted and none is running.
func (s *Store) noteCreated(n int) {
	s.analyze.own.Add(int64(n))
	if s.analyze.created.Add(int64(n)) < analyzeCheckEvery || !s.analyze.running.CompareAndSwap(false, true) {
		return
	}
	s.analyze.created.Store(0)
	go func() {
		defer s.analyze.running.Store(false)
		// A check that fails (the database is away, the store closing)
		// is made again after the next analyzeCheckEvery rows: statistics
		// make plans better, and no request waits for them.
		analyzed, err := s.analyzeIfStale(context.Background())
		if s.analyze.done != nil {
			s.analyze.done <- analyzeOutcome{analyzed, err}
		}
	}()
}

// analyzeIfStale analyzes profiles if analyzeStaleSQL says so and no other
// store is doing it, and reports whether it did.
func (s *Store) analyzeIfStale(ctx context.Context) (bool, error) {
	if err := s.gate.Enter(); err != nil {
		return false, err
	}
	defer s.gate.Leave()
	analyzed, own := false, int64(0)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked, stale bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock(hashtext($1))", analyzeLock).Scan(&locked); err != nil || !locked {
			return err
		}
		own = s.analyze.own.Load()
		if err := tx.QueryRow(ctx, analyzeStaleSQL, own).Scan(&stale); err != nil || !stale {
			return err
		}
		_, err := tx.Exec(ctx, "ANALYZE profiles")
		analyzed = err == nil
		return err
	})
	if analyzed && err == nil {
		s.analyze.own.Add(-own)
	}
	return analyzed && err == nil, err
}
