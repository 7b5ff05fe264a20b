package sqlstore

import (
	"context"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlfilter"
)

// ResetSQL is the statement that deletes every profile of the tenant, or of
// every tenant when tenant is "" (store.Store.Reset), and its arguments. A
// plain DELETE: neither backend hands a seq out again after it, as TRUNCATE
// ... RESTART IDENTITY would, and it counts the rows it deletes.
func ResetSQL(d sqlfilter.Dialect, tenant string) (string, []any) {
	if tenant == "" {
		return "DELETE FROM profiles", nil
	}
	return "DELETE FROM profiles WHERE tenant = " + d.Placeholder(1), []any{tenant}
}

// ExportBatch is how many rows one read of an export fetches: enough that
// the round trips cost little beside the rows, few enough that a batch is a
// short read and a small slice.
const ExportBatch = 1000

// ExportSQL is the statement of one batch of an export (store.Store.Export):
// at most limit rows whose seq is above after, in seq order, of the tenant
// or, when tenant is "", of every tenant. selectProfile is the backend's
// "SELECT ... FROM profiles" of a whole row. The text depends only on
// whether tenant is "", so that each backend prepares two statements at
// most.
func ExportSQL(d sqlfilter.Dialect, selectProfile, tenant string, after int64, limit int) (string, []any) {
	if tenant == "" {
		query := selectProfile + " WHERE seq > " + d.Placeholder(1) + " ORDER BY seq LIMIT " + d.Placeholder(2)
		return query, []any{after, limit}
	}
	query := selectProfile + " WHERE tenant = " + d.Placeholder(1) + " AND seq > " + d.Placeholder(2) +
		" ORDER BY seq LIMIT " + d.Placeholder(3)
	return query, []any{tenant, after, limit}
}

// Export is the export loop of a SQL backend: it reads batches of batch
// rows with readBatch, which returns at most limit profiles whose seq is
// above after, in seq order, each read on its own (no transaction spans
// two), and hands each profile to fn. It stops after a batch that comes
// back short, at fn's first error, returned unchanged, at readBatch's, and
// once ctx is done, with ctx.Err(), before the next read or call of fn.
//
// Keyset batches rather than one long cursor: a read held open for a whole
// export, which runs at the pace of the client it serves, would hold a
// connection (on SQLite, in memory, the lock every writer needs) for as
// long; and a profile's seq never changes, so a batch starts exactly after
// the last one, however the rows changed in between.
func Export(ctx context.Context, batch int, readBatch func(after int64, limit int) ([]*extdir.Profile, error), fn func(*extdir.Profile) error) error {
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		profiles, err := readBatch(after, batch)
		if err != nil {
			// A read that the context's end interrupted reports it in the
			// driver's words; the caller is owed ctx.Err() itself.
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return err
		}
		for _, p := range profiles {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		if len(profiles) < batch {
			return nil
		}
		after = profiles[len(profiles)-1].Seq
	}
}

// Rows is what both backends' result sets offer (database/sql's *sql.Rows
// and pgx.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanProfileCounts reads the rows of a profile-counts statement (tenant,
// kind, deleted, count), as ProfileCountsSQL or a backend's own writes them.
func ScanProfileCounts(rows Rows) ([]store.ProfileCount, error) {
	var out []store.ProfileCount
	for rows.Next() {
		var c store.ProfileCount
		var kind int64
		if err := rows.Scan(&c.Tenant, &kind, &c.Deleted, &c.N); err != nil {
			return nil, err
		}
		c.Kind = extdir.Kind(kind)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ProfileCountsSQL counts the profiles by kind and deletion, and by tenant
// too when byTenant (store.Stats.ProfileCounts), as rows of tenant (” when
// not by tenant), kind, deleted, count.
func ProfileCountsSQL(byTenant bool) string {
	if byTenant {
		return "SELECT tenant, kind, deleted_at IS NOT NULL, count(*) FROM profiles GROUP BY 1, 2, 3"
	}
	return "SELECT '', kind, deleted_at IS NOT NULL, count(*) FROM profiles GROUP BY 2, 3"
}
