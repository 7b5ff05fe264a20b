// Package store declares the storage interface every backend implements and
// the paging cursor they share. Backends live in sub-packages (sqlite,
// postgres); store/conformance is the suite each of them must pass and
// store/storebench the benchmarks each runs; store/sqlstore (with
// store/sqlfilter) is the SQL the two share.
package store

import (
	"context"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
)

// Store keeps profiles. Every method is scoped to one tenant: no call ever
// reads or changes another tenant's rows. The exceptions say so: Expire
// sweeps every tenant, and Reset and Export act on every tenant when given
// the tenant "". A method that returns without error has made its change
// durable.
//
// Errors are *extdir.Error where the caller can act on them:
// extdir.ENotFound for an id that is not in the tenant, extdir.EConflict
// (extdir.ErrPhoneTaken) for a phone number already held by a live profile
// of the tenant; any error returned by a callback is returned unchanged.
//
// The audit log. Every write takes the audit record of its change (the
// Directory builds it) and keeps it in the same transaction as the change:
// a write that fails stores neither, one that succeeds both. A nil record
// writes none (tests, and a PATCH that changes nothing).
type Store interface {
	// Create inserts p (which carries its Tenant, ID and every property) and
	// sets p.Seq, with its audit record. It returns ErrPhoneTaken when a
	// live profile of the tenant already has p's phone number, and
	// EConflict too on a duplicate id.
	Create(ctx context.Context, p *extdir.Profile, rec *extdir.AuditRecord) error

	// Get returns the profile with the id in the tenant, whatever its kind
	// and whether soft-deleted or not; ENotFound if there is none.
	Get(ctx context.Context, tenant, id string) (*extdir.Profile, error)

	// Update reads the profile, passes it to fn and, if fn returns nil, writes
	// back whatever fn changed, all in one transaction: fn sees the latest
	// committed state and no other write to the row interleaves. fn decides
	// what the update means (kind and deletion checks, If-Match, epoch);
	// the store only persists. Writing a row that makes a live profile share
	// a phone number with another live one returns ErrPhoneTaken and changes
	// nothing. Update returns the profile as written.
	//
	// The callback rules, Purge's too:
	//   - fn may run more than once for one call. PostgreSQL runs the whole
	//     transaction again, on a fresh read, when the database aborts it for
	//     a concurrent one (a serialization failure or a deadlock, up to ten
	//     attempts); each run gets the profile as then committed, and only
	//     the last run's changes are written. SQLite runs fn at most once per
	//     call, inside a batch of other calls' writes (group commit).
	//   - fn returning nil does not mean the write happened: the commit may
	//     still fail (SQLite then fails every write of the batch), and the
	//     call returns that error. And fn is not called at all for an
	//     unknown id, a closed store or a context canceled before the write
	//     began.
	//   So fn must be a pure decision on the profile it is given: read it,
	//   change it or refuse with an error, and nothing else; no I/O, no
	//   state outside the profile that assumes the write is made.
	//   - fn must not call the store, nor wait for anything that does: it
	//     runs while the backend holds the write. On SQLite that is the
	//     store's only write connection and the open batch, so a Create,
	//     Update or Purge from fn waits for ever behind fn itself, an Expire
	//     until its context ends, and a read of an in-memory store for the
	//     busy timeout (then fails); on PostgreSQL it is the row's lock and a
	//     pooled connection, so another write of the row waits until the
	//     statement timeout. fn should also be quick: on SQLite every other
	//     write waits for it.
	//
	// fn returns the audit record of the change it made, written in the
	// same transaction; nil with a nil error writes the profile (if fn
	// changed it) without a record.
	Update(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) (*extdir.AuditRecord, error)) (*extdir.Profile, error)

	// Purge deletes the profile for good if fn, given its current state,
	// returns no error, in one transaction with the record fn returns; fn's
	// error is returned unchanged and nothing is deleted. fn follows
	// Update's callback rules, and should only decide: Purge ignores what
	// it changes.
	Purge(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) (*extdir.AuditRecord, error)) error

	// List returns one page of the profiles that match q, in q's order.
	List(ctx context.Context, q Query) (Page, error)

	// Count returns how many profiles match q (Top and After are ignored).
	Count(ctx context.Context, q Query) (int64, error)

	// Expire deletes for good, in every tenant, the profiles soft-deleted
	// before the given time (the retention period's end), and returns how
	// many it deleted; each deletion's record is rec of the profile as it
	// was, written in the deletion's transaction (rec must be pure, as
	// Update's fn). Safe to run concurrently with itself and with any other
	// call.
	Expire(ctx context.Context, deletedBefore time.Time, rec func(p *extdir.Profile) *extdir.AuditRecord) (int64, error)

	// Import inserts the profiles exactly as given (tenant, id, kind, every
	// property, createdBy, createdDateTime, deletedDateTime, epoch; times are
	// brought to whole seconds in UTC, as by Create), in one transaction: all
	// of them or, on the first failure, none. It sets each Seq (the one a
	// profile carries is ignored), increasing in slice order, so that a
	// later Export returns them in that order; after an error every Seq is
	// left as it was. Its errors are Create's: ErrPhoneTaken when a live
	// profile would share its phone number with another live one of the
	// tenant, already stored or earlier in the slice, and EConflict on a
	// duplicate id. It is how a directory is seeded or restored from an
	// Export; a request-serving path uses Create. recs, nil or one per
	// profile, are written in the same transaction.
	Import(ctx context.Context, profiles []*extdir.Profile, recs []*extdir.AuditRecord) error

	// Reset deletes for good every profile of the tenant, live and
	// soft-deleted, of both kinds, and the tenant's audit records, or those
	// of every tenant when tenant is "", and returns how many profiles it
	// deleted. A profile written while it runs may or
	// may not be deleted. A Seq is never handed out again, so a cursor taken
	// before a Reset never meets a profile created after it.
	Reset(ctx context.Context, tenant string) (int64, error)

	// Export calls fn for every profile of the tenant, or of every tenant
	// when tenant is "", live and soft-deleted, of both kinds, in Seq order,
	// each with its Tenant and Seq set. It reads in batches, each a short
	// read of its own, so that no read stays open for the whole export and a
	// large directory streams in constant memory; it is therefore not a
	// snapshot: a write made during the export may or may not be seen, but
	// a profile that exists throughout it is passed exactly once.
	//
	// fn's first error stops the export and is returned unchanged; ctx's end
	// stops it too (Export calls fn no more and returns ctx.Err()). fn must
	// not call the store, nor wait for anything that does: a backend is free
	// to hold a read, and with it a connection, while fn runs. Close waits
	// for the batch being read, not for fn, which serves a client at the
	// client's pace: an export still running then fails with the error of a
	// closed store.
	Export(ctx context.Context, tenant string, fn func(p *extdir.Profile) error) error

	// ListAudits returns one page of the tenant's audit records that match
	// q, newest first unless q.Ascending.
	ListAudits(ctx context.Context, q AuditQuery) (AuditPage, error)

	// GetAudit returns one audit record of the tenant; ENotFound if none.
	GetAudit(ctx context.Context, tenant, id string) (*extdir.AuditRecord, error)

	// ExpireAudits deletes, in every tenant, the audit records older than
	// before (the audit retention's end), and returns how many.
	ExpireAudits(ctx context.Context, before time.Time) (int64, error)

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error

	// Close waits for in-flight calls and releases the store.
	Close() error
}

// Query selects profiles of one kind in one tenant.
type Query struct {
	Tenant string
	Kind   extdir.Kind
	// Deleted selects soft-deleted profiles instead of live ones.
	Deleted bool
	// Filter is a checked $filter tree (odata.Filter), nil for none.
	Filter odata.Expr
	// Search is a parsed $search, nil for none.
	Search *odata.Search
	// OrderBy sorts the page; empty means insertion order. The store always
	// adds Seq as the final tie-breaker, so every order is total.
	OrderBy []Order
	// Top is the page size, at least 1.
	Top int
	// After continues from the row the cursor describes; nil starts at the
	// beginning.
	After *Cursor
}

// AuditQuery selects audit records of one tenant.
type AuditQuery struct {
	Tenant string
	// Filter is a checked $filter tree of the audit properties
	// (odata.ParseAuditFilter), nil for none.
	Filter odata.Expr
	// Ascending orders by activityDateTime ascending; the default is Graph's
	// newest first. Seq breaks ties in the same direction.
	Ascending bool
	// Top is the page size, at least 1.
	Top int
	// After continues after the record the cursor names; nil starts at the
	// beginning.
	After *AuditCursor
}

// AuditCursor names the last record of a page by its time and Seq.
type AuditCursor struct {
	Time time.Time
	Seq  int64
}

// AuditPage is one page of audit records.
type AuditPage struct {
	Records []*extdir.AuditRecord
	// Next is the cursor of the next page, nil on the last.
	Next *AuditCursor
}

// Order is one $orderby term on a sortable property.
type Order = odata.Order

// Cursor names the last row of a page by its sort keys, so that the next
// page is "everything after it": keyset paging, stable under inserts and
// independent of any server's memory.
type Cursor struct {
	// Keys holds the last row's values of the OrderBy properties, in order.
	Keys []extdir.Value
	// Seq is the last row's Seq.
	Seq int64
}

// Page is one page of a listing.
type Page struct {
	Profiles []*extdir.Profile
	// Next is the cursor of the next page, nil on the last page.
	Next *Cursor
}

// CursorAfter builds the cursor that continues after p under the order.
func CursorAfter(p *extdir.Profile, order []Order) *Cursor {
	c := &Cursor{Seq: p.Seq}
	for _, o := range order {
		c.Keys = append(c.Keys, o.Prop.Get(p))
	}
	return c
}

// Unaudited adapts a write callback that records nothing to Update's and
// Purge's form: for tests and tools that drive a store directly, without
// the Directory (which always records).
func Unaudited(fn func(p *extdir.Profile) error) func(p *extdir.Profile) (*extdir.AuditRecord, error) {
	return func(p *extdir.Profile) (*extdir.AuditRecord, error) { return nil, fn(p) }
}
