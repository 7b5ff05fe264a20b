package store

import (
	"context"

	"github.com/extdir/extdir"
)

// Stats is what a backend can tell about its data for monitoring. It is
// not part of Store: a backend implements it besides, and a caller finds it
// with a type assertion (st.(store.Stats)); a store without it simply has
// no such figures. Its calls read the whole table, so they are meant for a
// metrics scrape, not for a request.
type Stats interface {
	// Backend names the backend in metric labels: "sqlite" or "postgres".
	Backend() string
	// ProfileCounts counts the profiles of every tenant by kind and by
	// state (live or soft-deleted), and by tenant too when byTenant is
	// set; without it each ProfileCount's Tenant is "". Combinations with
	// no profile are left out.
	ProfileCounts(ctx context.Context, byTenant bool) ([]ProfileCount, error)
	// SizeBytes is the space the database takes: the SQLite file's pages
	// (the WAL not counted), the PostgreSQL database's size on disk.
	SizeBytes(ctx context.Context) (int64, error)
}

// ProfileCount is how many profiles of a kind, live or deleted, a tenant
// (or, with Tenant "", every tenant) has.
type ProfileCount struct {
	Tenant  string
	Kind    extdir.Kind
	Deleted bool
	N       int64
}
