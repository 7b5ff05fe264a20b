package extdir

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ProfileStore is what the Directory needs of storage: store.Store satisfies
// it. The store persists; it decides nothing. Update's and Purge's callbacks
// may run more than once and must not call the store.
//
// Every write takes the audit record of its change, and the store keeps the
// two in one transaction: both or neither.
type ProfileStore interface {
	Create(ctx context.Context, p *Profile, rec *AuditRecord) error
	Get(ctx context.Context, tenant, id string) (*Profile, error)
	Update(ctx context.Context, tenant, id string, fn func(p *Profile) (*AuditRecord, error)) (*Profile, error)
	Purge(ctx context.Context, tenant, id string, fn func(p *Profile) (*AuditRecord, error)) error
	Expire(ctx context.Context, deletedBefore time.Time, rec func(p *Profile) *AuditRecord) (int64, error)
	Import(ctx context.Context, profiles []*Profile, recs []*AuditRecord) error
	Reset(ctx context.Context, tenant string) (int64, error)
	Export(ctx context.Context, tenant string, fn func(p *Profile) error) error
	ExpireAudits(ctx context.Context, before time.Time) (int64, error)
}

// Permissions answers whether a permission is held; the HTTP layer's
// verified principal is one.
type Permissions interface {
	Allowed(permission string) bool
}

// Actor is who asks the Directory for something: the tenant it acts in, its
// object id (the createdBy of what it invites) and what it may do.
type Actor struct {
	Tenant   string
	ObjectID string
	// CorrelationID is the request-id of the request the actor made, the
	// correlationId of the audit records; empty gives each record its own.
	CorrelationID string
	// Initiator is who the audit records name; the zero value names
	// extdir itself acting for ObjectID (the command line, the admin API).
	Initiator Initiator
	// Permissions says which permissions, such as
	// "PendingExternalUserProfile.ReadWrite.All", the actor holds. The
	// Directory asks only where the profile itself decides which permission
	// applies (the deleted items, whose kind is known once read); every front
	// door checks the permissions a request names before it calls the
	// Directory. nil allows everything: the command line, the seeder, tests.
	Permissions Permissions
}

// Refuser is Permissions that can say what an actor lacks for a
// permission, so that a 403 tells the caller what would have been enough.
type Refuser interface {
	Refusal(permission string) string
}

func (a Actor) require(permission string) error {
	if a.Permissions == nil || a.Permissions.Allowed(permission) {
		return nil
	}
	return Forbidden(a.Permissions, permission)
}

// Forbidden is the 403 of a caller without permission: Graph's message,
// then what was missing when p can say it.
func Forbidden(p any, permission string) *Error {
	if r, ok := p.(Refuser); ok {
		return Errorf(EForbidden, "%s %s", ErrForbidden.Message, r.Refusal(permission))
	}
	return ErrForbidden
}

// Directory is the one path to a profile's lifecycle: every front door (the
// Graph API, $batch, the command line, the seeder, the test kit) invites,
// changes, deletes, restores, redeems and purges through it, and it applies
// the rules of lifecycle.go: which state a call may see, If-Match, the epoch.
// It is safe for concurrent use; it keeps no state of its own.
type Directory struct {
	// Store keeps the profiles.
	Store ProfileStore
	// Now is the clock of creation and deletion times and of the retention
	// cutoff; nil means time.Now.
	Now func() time.Time
	// NewID issues the id of an invited profile; nil means a random UUID.
	NewID func() string
	// AuditRetention is how long audit records are kept; 0 is 30 days.
	AuditRetention time.Duration
}

// DefaultAuditRetention is how long Entra keeps audit logs (P1/P2).
const DefaultAuditRetention = 30 * 24 * time.Hour

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Directory) newID() string {
	if d.NewID != nil {
		return d.NewID()
	}
	return newObjectID()
}

// newObjectID is the id of a new profile or audit record: a GUID, like
// Graph's, of version 7 rather than 4, whose leading 48 bits are the time.
// Clients see a GUID either way; the store sees ids that grow: each index
// on an id (a profile's, an audit record's, the audit log's target) takes
// the writes of a batch on its last page, where random ids dirtied a page
// per write, each written to the WAL and fsync'd with the batch (three of
// the four random pages a create touched).
func newObjectID() string { return uuid.Must(uuid.NewV7()).String() }

// Invite creates a pending profile from validated changes (a create body):
// the invitation's defaults, then the changes. Only pending profiles are
// invited; external ones come from Redeem. It returns EInvalid when a
// required property is missing and ErrPhoneTaken when a live profile of the
// tenant has the phone number.
func (d *Directory) Invite(ctx context.Context, a Actor, changes Changes) (*Profile, error) {
	if err := changes.CheckRequired(KindPending); err != nil {
		return nil, err
	}
	now := d.now()
	p := NewPending(a.Tenant, d.newID(), a.ObjectID, now)
	changes.Apply(p)
	rec := newRecord(a, ActivityInvite, p, now)
	rec.Target.Modified = modified(nil, p)
	if err := d.Store.Create(ctx, p, rec); err != nil {
		return nil, err
	}
	return p, nil
}

// Get returns the live profile of kind k with the id; ENotFound for any
// other state, as the collection of k does not hold it.
func (d *Directory) Get(ctx context.Context, a Actor, k Kind, id string) (*Profile, error) {
	p, err := d.Store.Get(ctx, a.Tenant, id)
	if err != nil {
		return nil, err
	}
	if !p.Live(k) {
		return nil, NotFound(id)
	}
	return p, nil
}

// Patch applies validated changes (a PATCH body) to the live profile of kind
// k, if its ETag satisfies m. A PATCH without content changes nothing.
// ENotFound, EPrecondition, ErrPhoneTaken.
func (d *Directory) Patch(ctx context.Context, a Actor, k Kind, id string, changes Changes, m IfMatch) (*Profile, error) {
	now := d.now()
	return d.Store.Update(ctx, a.Tenant, id, func(p *Profile) (*AuditRecord, error) {
		if err := live(p, k, id, m); err != nil {
			return nil, err
		}
		mods := modifiedBy(p, changes)
		if !p.Patch(changes) {
			return nil, nil
		}
		rec := newRecord(a, ActivityUpdate, p, now)
		rec.Target.Modified = mods
		return rec, nil
	})
}

// record is the audit record of a change of before into after.
func (d *Directory) record(a Actor, activity string, before, after *Profile, now time.Time) *AuditRecord {
	rec := newRecord(a, activity, after, now)
	rec.Target.Modified = modified(before, after)
	return rec
}

// Delete moves the live profile of kind k to the deleted items, if its ETag
// satisfies m. ENotFound, EPrecondition.
func (d *Directory) Delete(ctx context.Context, a Actor, k Kind, id string, m IfMatch) error {
	now := d.now()
	_, err := d.Store.Update(ctx, a.Tenant, id, func(p *Profile) (*AuditRecord, error) {
		if err := live(p, k, id, m); err != nil {
			return nil, err
		}
		before := p.Clone()
		if err := p.SoftDelete(now); err != nil {
			return nil, err
		}
		return d.record(a, ActivityDelete, before, p, now), nil
	})
	return err
}

// Redeem turns the live pending profile into an external one, if its ETag
// satisfies m, and returns it. Graph has no public call for this (the
// invited person consents in Teams); extdir offers it so that tests and
// administrators can drive the lifecycle. ENotFound, EPrecondition.
func (d *Directory) Redeem(ctx context.Context, a Actor, id string, m IfMatch) (*Profile, error) {
	now := d.now()
	return d.Store.Update(ctx, a.Tenant, id, func(p *Profile) (*AuditRecord, error) {
		if err := live(p, KindPending, id, m); err != nil {
			return nil, err
		}
		before := p.Clone()
		if err := p.Redeem(); err != nil {
			return nil, err
		}
		return d.record(a, ActivityRedeem, before, p, now), nil
	})
}

// GetDeleted returns the soft-deleted profile with the id, of either kind,
// once the actor is known to hold the read permission of its kind.
// ENotFound, EForbidden.
func (d *Directory) GetDeleted(ctx context.Context, a Actor, id string) (*Profile, error) {
	p, err := d.Store.Get(ctx, a.Tenant, id)
	if err != nil {
		return nil, err
	}
	if !p.Deleted() {
		return nil, NotFound(id)
	}
	if err := a.require(p.Kind.ReadPermission()); err != nil {
		return nil, err
	}
	return p, nil
}

// Restore brings the soft-deleted profile back as the kind it was deleted
// as, once the actor is known to hold that kind's write permission.
// ENotFound, EForbidden, ErrPhoneTaken (a live profile took its number
// meanwhile: it stays deleted).
func (d *Directory) Restore(ctx context.Context, a Actor, id string) (*Profile, error) {
	now := d.now()
	return d.Store.Update(ctx, a.Tenant, id, func(p *Profile) (*AuditRecord, error) {
		if err := deleted(p, id, a); err != nil {
			return nil, err
		}
		before := p.Clone()
		if err := p.Restore(); err != nil {
			return nil, err
		}
		return d.record(a, ActivityRestore, before, p, now), nil
	})
}

// Purge deletes the soft-deleted profile for good, once the actor is known
// to hold its kind's write permission. A live profile is never purged: it
// must be deleted first. ENotFound, EForbidden.
func (d *Directory) Purge(ctx context.Context, a Actor, id string) error {
	now := d.now()
	return d.Store.Purge(ctx, a.Tenant, id, func(p *Profile) (*AuditRecord, error) {
		if err := deleted(p, id, a); err != nil {
			return nil, err
		}
		return newRecord(a, ActivityPurge, p, now), nil
	})
}

// Expire purges, in every tenant, the profiles that have been in the
// deleted items for longer than retention (Graph keeps them 30 days), and
// returns how many.
func (d *Directory) Expire(ctx context.Context, retention time.Duration) (int64, error) {
	now := d.now()
	n, err := d.Store.Expire(ctx, now.Add(-retention), func(p *Profile) *AuditRecord {
		return newRecord(Actor{}, ActivityExpire, p, now)
	})
	if err != nil {
		return n, err
	}
	keep := d.AuditRetention
	if keep <= 0 {
		keep = DefaultAuditRetention
	}
	if _, err := d.Store.ExpireAudits(ctx, now.Add(-keep)); err != nil {
		return n, err
	}
	return n, nil
}

// SeedRow is one profile of a seed file: the kind it ends as, its id if the
// file names one, and its validated create body (DecodeSeedRow, or a
// spreadsheet row through Header.Decode).
type SeedRow struct {
	Kind    Kind
	ID      string
	Changes Changes
}

// Seed brings known profiles into the actor's tenant the way the API would:
// each row is invited (and redeemed, for an external one), then all of them
// are stored in one transaction, so that a bad row stores nothing. Errors
// name the row, counted from 1: an id that is not a GUID or is given twice,
// two live rows with one phone number, and the store's own refusal (a phone
// number or id the tenant already has).
func (d *Directory) Seed(ctx context.Context, a Actor, rows []SeedRow) ([]*Profile, error) {
	now := d.now()
	out := make([]*Profile, 0, len(rows))
	recs := make([]*AuditRecord, 0, len(rows))
	byID := make(map[string]int, len(rows))
	byPhone := make(map[string]int, len(rows))
	for i, row := range rows {
		n := i + 1
		if err := row.Changes.CheckRequired(row.Kind); err != nil {
			return nil, rowError(n, err)
		}
		id := d.newID()
		if row.ID != "" {
			u, err := uuid.Parse(row.ID)
			if err != nil {
				return nil, Errorf(EInvalid, "Row %d: the id '%s' is not a GUID.", n, row.ID)
			}
			id = u.String()
		}
		if first, dup := byID[id]; dup {
			return nil, Errorf(EInvalid, "Row %d: the id %s is already the id of row %d.", n, id, first)
		}
		byID[id] = n
		p := NewPending(a.Tenant, id, a.ObjectID, now)
		row.Changes.Apply(p)
		if row.Kind == KindExternal {
			if err := p.Redeem(); err != nil {
				return nil, rowError(n, err)
			}
		}
		if first, dup := byPhone[p.PhoneNumber]; dup {
			return nil, Errorf(EConflict, "Row %d: the phone number %s is already the number of row %d; a live profile's number is unique in its tenant.", n, p.PhoneNumber, first)
		}
		byPhone[p.PhoneNumber] = n
		out = append(out, p)
		recs = append(recs, d.record(a, ActivitySeed, nil, p, now))
	}
	if err := d.Store.Import(ctx, out, recs); err != nil {
		return nil, storedNothing("seed", err)
	}
	return out, nil
}

// Import stores profiles exactly as an export wrote them (ids, kinds,
// timestamps, ETags, deletion), in one transaction, once each passes
// Profile.Check: moving a directory from one store to another changes
// nothing. Errors name the profile, counted from 1.
func (d *Directory) Import(ctx context.Context, a Actor, profiles []*Profile) error {
	now := d.now()
	recs := make([]*AuditRecord, len(profiles))
	for i, p := range profiles {
		if err := p.Check(); err != nil {
			return rowError(i+1, err)
		}
		recs[i] = d.record(a, ActivityImport, nil, p, now)
	}
	if err := d.Store.Import(ctx, profiles, recs); err != nil {
		return storedNothing("import", err)
	}
	return nil
}

// Export calls fn with every profile of the tenant, or of every tenant when
// tenant is "", live and deleted, in the order they were stored; fn must not
// call the Directory or the store.
func (d *Directory) Export(ctx context.Context, tenant string, fn func(p *Profile) error) error {
	return d.Store.Export(ctx, tenant, fn)
}

// Reset deletes for good every profile of the tenant, or of every tenant
// when tenant is "", with their audit records, and returns how many
// profiles: a test's clean slate.
func (d *Directory) Reset(ctx context.Context, tenant string) (int64, error) {
	return d.Store.Reset(ctx, tenant)
}

// rowError puts the row number in front of a domain error's message.
func rowError(n int, err error) error {
	return Errorf(ErrorCode(err), "Row %d: %s", n, ErrorMessage(err))
}

// storedNothing says that a refused bulk write stored none of its rows.
func storedNothing(what string, err error) error {
	code := ErrorCode(err)
	if code == EInternal {
		return fmt.Errorf("%s: %w", what, err)
	}
	return Errorf(code, "%s. Nothing of the %s was stored.", strings.TrimSuffix(ErrorMessage(err), "."), what)
}

// live admits a write to p through the collection of kind k.
func live(p *Profile, k Kind, id string, m IfMatch) error {
	if !p.Live(k) {
		return NotFound(id)
	}
	return m.Check(p)
}

// deleted admits an action on p as a deleted item by the actor.
func deleted(p *Profile, id string, a Actor) error {
	if !p.Deleted() {
		return NotFound(id)
	}
	return a.require(p.Kind.WritePermission())
}
