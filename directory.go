package extdir

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ProfileStore is what the Directory needs of storage: store.Store satisfies
// it. The store persists; it decides nothing. Update's and Purge's callbacks
// may run more than once and must not call the store.
type ProfileStore interface {
	Create(ctx context.Context, p *Profile) error
	Get(ctx context.Context, tenant, id string) (*Profile, error)
	Update(ctx context.Context, tenant, id string, fn func(p *Profile) error) (*Profile, error)
	Purge(ctx context.Context, tenant, id string, fn func(p *Profile) error) error
	Expire(ctx context.Context, deletedBefore time.Time) (int64, error)
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
}

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
	return uuid.NewString()
}

// Invite creates a pending profile from validated changes (a create body):
// the invitation's defaults, then the changes. Only pending profiles are
// invited; external ones come from Redeem. It returns EInvalid when a
// required property is missing and ErrPhoneTaken when a live profile of the
// tenant has the phone number.
func (d *Directory) Invite(ctx context.Context, a Actor, changes Changes) (*Profile, error) {
	if err := changes.CheckRequired(KindPending); err != nil {
		return nil, err
	}
	p := NewPending(a.Tenant, d.newID(), a.ObjectID, d.now())
	changes.Apply(p)
	if err := d.Store.Create(ctx, p); err != nil {
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
	return d.Store.Update(ctx, a.Tenant, id, func(p *Profile) error {
		if err := live(p, k, id, m); err != nil {
			return err
		}
		p.Patch(changes)
		return nil
	})
}

// Delete moves the live profile of kind k to the deleted items, if its ETag
// satisfies m. ENotFound, EPrecondition.
func (d *Directory) Delete(ctx context.Context, a Actor, k Kind, id string, m IfMatch) error {
	now := d.now()
	_, err := d.Store.Update(ctx, a.Tenant, id, func(p *Profile) error {
		if err := live(p, k, id, m); err != nil {
			return err
		}
		return p.SoftDelete(now)
	})
	return err
}

// Redeem turns the live pending profile into an external one, if its ETag
// satisfies m, and returns it. Graph has no public call for this (the
// invited person consents in Teams); extdir offers it so that tests and
// administrators can drive the lifecycle. ENotFound, EPrecondition.
func (d *Directory) Redeem(ctx context.Context, a Actor, id string, m IfMatch) (*Profile, error) {
	return d.Store.Update(ctx, a.Tenant, id, func(p *Profile) error {
		if err := live(p, KindPending, id, m); err != nil {
			return err
		}
		return p.Redeem()
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
	return d.Store.Update(ctx, a.Tenant, id, func(p *Profile) error {
		if err := deleted(p, id, a); err != nil {
			return err
		}
		return p.Restore()
	})
}

// Purge deletes the soft-deleted profile for good, once the actor is known
// to hold its kind's write permission. A live profile is never purged: it
// must be deleted first. ENotFound, EForbidden.
func (d *Directory) Purge(ctx context.Context, a Actor, id string) error {
	return d.Store.Purge(ctx, a.Tenant, id, func(p *Profile) error {
		return deleted(p, id, a)
	})
}

// Expire purges, in every tenant, the profiles that have been in the
// deleted items for longer than retention (Graph keeps them 30 days), and
// returns how many.
func (d *Directory) Expire(ctx context.Context, retention time.Duration) (int64, error) {
	return d.Store.Expire(ctx, d.now().Add(-retention))
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
