package extdir

import (
	"strings"
	"time"
)

// The lifecycle of a profile, written once. A pending profile is invited
// (NewPending), patched, soft-deleted and restored; redeeming it makes it an
// external profile with the same id. Every change of state moves the epoch,
// and so the ETag, by one; each transition below owns that step, so that no
// caller counts epochs itself.
//
//	          Invite            Redeem
//	  (none) ───────▶ pending ───────▶ external
//	                     │  ▲             │  ▲
//	              Delete │  │ Restore     │  │
//	                     ▼  │             ▼  │
//	                 deleted pending   deleted external ──▶ Purge / Expire (gone)

// NewPending returns a new pending profile with the defaults of an
// invitation: discoverable, enabled, epoch 1, created now by createdBy.
// The caller applies the invitation's properties on top.
func NewPending(tenant, id, createdBy string, now time.Time) *Profile {
	return &Profile{
		Tenant:          tenant,
		Kind:            KindPending,
		ID:              id,
		IsDiscoverable:  true,
		IsEnabled:       true,
		CreatedBy:       createdBy,
		CreatedDateTime: Timestamp(now),
		Epoch:           1,
	}
}

// Live reports whether p is a live (not soft-deleted) profile of kind k:
// the only state in which the collection of k addresses it.
func (p *Profile) Live(k Kind) bool { return p.Kind == k && !p.Deleted() }

// Patch applies the changes of a PATCH. A PATCH without content changes
// nothing, not even the ETag, and reports false.
func (p *Profile) Patch(changes Changes) bool {
	if len(changes) == 0 {
		return false
	}
	changes.Apply(p)
	p.Epoch++
	return true
}

// SoftDelete moves a live profile to the deleted items at the given time.
// It returns NotFound for a profile already deleted.
func (p *Profile) SoftDelete(now time.Time) error {
	if p.Deleted() {
		return NotFound(p.ID)
	}
	t := Timestamp(now)
	p.DeletedDateTime = &t
	p.Epoch++
	return nil
}

// Restore brings a soft-deleted profile back, of the kind it was deleted
// as. It returns NotFound for a profile that is not deleted.
func (p *Profile) Restore() error {
	if !p.Deleted() {
		return NotFound(p.ID)
	}
	p.DeletedDateTime = nil
	p.Epoch++
	return nil
}

// Redeem turns a live pending profile into an external one: same id, same
// properties. It returns NotFound for anything else.
func (p *Profile) Redeem() error {
	if !p.Live(KindPending) {
		return NotFound(p.ID)
	}
	p.Kind = KindExternal
	p.Epoch++
	return nil
}

// IfMatch is the If-Match precondition of a write: a comma-separated list of
// entity tags, or "*". The empty precondition matches every state (last
// writer wins), as Graph does without the header.
type IfMatch string

// Matches reports whether p's current ETag satisfies the precondition. A
// strong form of the weak tag ("3" for W/"3") matches too, since clients
// copy the value in either form.
func (m IfMatch) Matches(p *Profile) bool {
	h := strings.TrimSpace(string(m))
	if h == "" {
		return true
	}
	want := p.ETag()
	for tag := range strings.SplitSeq(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || tag == want || tag == strings.TrimPrefix(want, "W/") {
			return true
		}
	}
	return false
}

// Check returns ErrPreconditionFailed when p does not satisfy m.
func (m IfMatch) Check(p *Profile) error {
	if !m.Matches(p) {
		return ErrPreconditionFailed
	}
	return nil
}
