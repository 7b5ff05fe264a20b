package extdir_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/sqlite"
)

// The lifecycle, driven through the Directory alone: no HTTP, a real
// (in-memory) store, a clock the test moves.

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type grants map[string]bool

func (g grants) Allowed(p string) bool { return g[p] }

const tenant = "11111111-1111-1111-1111-111111111111"

func newDirectory(t *testing.T) (*extdir.Directory, *clock, context.Context) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 700_000_000, time.UTC)}
	n := 0
	d := &extdir.Directory{Store: st, Now: c.now, NewID: func() string {
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}}
	return d, c, t.Context()
}

var admin = extdir.Actor{Tenant: tenant, ObjectID: "admin-oid"}

func invite(t *testing.T, d *extdir.Directory, phone string) *extdir.Profile {
	t.Helper()
	p, err := d.Invite(context.Background(), admin, changes(t, extdir.ModeCreate, `{"displayName":"Ada","phoneNumber":"`+phone+`"}`))
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	return p
}

func changes(t *testing.T, mode extdir.Mode, body string) extdir.Changes {
	t.Helper()
	ch, err := extdir.DecodeBody(extdir.KindPending, []byte(body), mode)
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return ch
}

func wantCode(t *testing.T, err error, code extdir.Code) {
	t.Helper()
	if got := extdir.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

func TestInviteSetsTheInvitationDefaults(t *testing.T) {
	d, c, ctx := newDirectory(t)
	p := invite(t, d, "+15555550100")
	got, err := d.Get(ctx, admin, extdir.KindPending, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "00000000-0000-4000-8000-000000000001" || got.Kind != extdir.KindPending || got.Epoch != 1 ||
		!got.IsDiscoverable || !got.IsEnabled || got.CreatedBy != "admin-oid" || got.Tenant != tenant ||
		!got.CreatedDateTime.Equal(c.t.Truncate(time.Second)) || got.DisplayName != "Ada" || got.ETag() != `W/"1"` {
		t.Fatalf("invited profile = %+v", got)
	}
}

func TestInviteRefusesAnIncompleteOrClashingInvitation(t *testing.T) {
	d, _, ctx := newDirectory(t)
	_, err := d.Invite(ctx, admin, changes(t, extdir.ModeUpdate, `{"displayName":"No phone"}`))
	wantCode(t, err, extdir.EInvalid)
	invite(t, d, "+15555550100")
	_, err = d.Invite(ctx, admin, changes(t, extdir.ModeCreate, `{"displayName":"Twin","phoneNumber":"+15555550100"}`))
	wantCode(t, err, extdir.EConflict)
}

func TestPatchMovesTheEpochOnlyWhenSomethingChanges(t *testing.T) {
	d, _, ctx := newDirectory(t)
	p := invite(t, d, "+15555550100")
	got, err := d.Patch(ctx, admin, extdir.KindPending, p.ID, nil, "")
	if err != nil || got.Epoch != 1 {
		t.Fatalf("empty patch: epoch %d, %v; want 1", got.Epoch, err)
	}
	got, err = d.Patch(ctx, admin, extdir.KindPending, p.ID, changes(t, extdir.ModeUpdate, `{"jobTitle":"Pilot"}`), `W/"1"`)
	if err != nil || got.Epoch != 2 || got.JobTitle == nil || *got.JobTitle != "Pilot" {
		t.Fatalf("patch: %+v, %v", got, err)
	}
	// The weak tag of an older state no longer matches; the strong form of
	// the current one does.
	_, err = d.Patch(ctx, admin, extdir.KindPending, p.ID, changes(t, extdir.ModeUpdate, `{"jobTitle":"Lost"}`), `W/"1"`)
	wantCode(t, err, extdir.EPrecondition)
	if _, err := d.Patch(ctx, admin, extdir.KindPending, p.ID, changes(t, extdir.ModeUpdate, `{"department":"Air"}`), `"2"`); err != nil {
		t.Fatalf("strong form of the current tag: %v", err)
	}
	stored, _ := d.Get(ctx, admin, extdir.KindPending, p.ID)
	if *stored.JobTitle != "Pilot" || stored.Epoch != 3 {
		t.Fatalf("after a refused patch: %+v", stored)
	}
	// Through the other collection the profile does not exist.
	_, err = d.Patch(ctx, admin, extdir.KindExternal, p.ID, changes(t, extdir.ModeUpdate, `{"jobTitle":"X"}`), "")
	wantCode(t, err, extdir.ENotFound)
}

func TestDeleteRestoreAndPurge(t *testing.T) {
	d, c, ctx := newDirectory(t)
	p := invite(t, d, "+15555550100")
	c.t = c.t.Add(time.Hour)
	if err := d.Delete(ctx, admin, extdir.KindPending, p.ID, `W/"5"`); extdir.ErrorCode(err) != extdir.EPrecondition {
		t.Fatalf("delete with a stale tag: %v", err)
	}
	if err := d.Delete(ctx, admin, extdir.KindPending, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	_, err := d.Get(ctx, admin, extdir.KindPending, p.ID)
	wantCode(t, err, extdir.ENotFound)
	wantCode(t, d.Delete(ctx, admin, extdir.KindPending, p.ID, ""), extdir.ENotFound)
	del, err := d.GetDeleted(ctx, admin, p.ID)
	if err != nil || del.DeletedDateTime == nil || !del.DeletedDateTime.Equal(c.t.Truncate(time.Second)) || del.Epoch != 2 {
		t.Fatalf("deleted item = %+v, %v", del, err)
	}

	// While it is deleted its number is free; restoring it then clashes.
	other := invite(t, d, "+15555550100")
	_, err = d.Restore(ctx, admin, p.ID)
	wantCode(t, err, extdir.EConflict)
	if _, err := d.GetDeleted(ctx, admin, p.ID); err != nil {
		t.Fatalf("a refused restore left the item deleted: %v", err)
	}
	if err := d.Delete(ctx, admin, extdir.KindPending, other.ID, ""); err != nil {
		t.Fatal(err)
	}
	back, err := d.Restore(ctx, admin, p.ID)
	if err != nil || back.Deleted() || back.Epoch != 3 || back.Kind != extdir.KindPending {
		t.Fatalf("restored = %+v, %v", back, err)
	}
	_, err = d.Restore(ctx, admin, p.ID)
	wantCode(t, err, extdir.ENotFound)

	// A live profile is never purged.
	wantCode(t, d.Purge(ctx, admin, p.ID), extdir.ENotFound)
	if _, err := d.Get(ctx, admin, extdir.KindPending, p.ID); err != nil {
		t.Fatalf("purge of a live profile removed it: %v", err)
	}
	if err := d.Purge(ctx, admin, other.ID); err != nil {
		t.Fatal(err)
	}
	_, err = d.GetDeleted(ctx, admin, other.ID)
	wantCode(t, err, extdir.ENotFound)
}

func TestRedeemMakesAnExternalProfile(t *testing.T) {
	d, _, ctx := newDirectory(t)
	p := invite(t, d, "+15555550100")
	ext, err := d.Redeem(ctx, admin, p.ID, `W/"1"`)
	if err != nil || ext.Kind != extdir.KindExternal || ext.ID != p.ID || ext.Epoch != 2 || ext.DisplayName != "Ada" {
		t.Fatalf("redeemed = %+v, %v", ext, err)
	}
	_, err = d.Redeem(ctx, admin, p.ID, "")
	wantCode(t, err, extdir.ENotFound)
	if _, err := d.Get(ctx, admin, extdir.KindExternal, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = d.Get(ctx, admin, extdir.KindPending, p.ID)
	wantCode(t, err, extdir.ENotFound)

	deleted := invite(t, d, "+15555550101")
	if err := d.Delete(ctx, admin, extdir.KindPending, deleted.ID, ""); err != nil {
		t.Fatal(err)
	}
	_, err = d.Redeem(ctx, admin, deleted.ID, "")
	wantCode(t, err, extdir.ENotFound)
}

func TestDeletedItemsNeedThePermissionOfTheirKind(t *testing.T) {
	d, _, ctx := newDirectory(t)
	p := invite(t, d, "+15555550100")
	if _, err := d.Redeem(ctx, admin, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, admin, extdir.KindExternal, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	pendingOnly := extdir.Actor{Tenant: tenant, Permissions: grants{
		"PendingExternalUserProfile.Read.All": true, "PendingExternalUserProfile.ReadWrite.All": true,
	}}
	_, err := d.GetDeleted(ctx, pendingOnly, p.ID)
	wantCode(t, err, extdir.EForbidden)
	_, err = d.Restore(ctx, pendingOnly, p.ID)
	wantCode(t, err, extdir.EForbidden)
	wantCode(t, d.Purge(ctx, pendingOnly, p.ID), extdir.EForbidden)

	reader := extdir.Actor{Tenant: tenant, Permissions: grants{"ExternalUserProfile.Read.All": true}}
	if _, err := d.GetDeleted(ctx, reader, p.ID); err != nil {
		t.Fatalf("reader: %v", err)
	}
	_, err = d.Restore(ctx, reader, p.ID)
	wantCode(t, err, extdir.EForbidden)
	if _, err := d.GetDeleted(ctx, admin, p.ID); err != nil {
		t.Fatalf("a refused restore changed the item: %v", err)
	}

	// Another tenant sees nothing.
	_, err = d.GetDeleted(ctx, extdir.Actor{Tenant: "22222222-2222-2222-2222-222222222222"}, p.ID)
	wantCode(t, err, extdir.ENotFound)
}

func TestExpireFollowsTheClock(t *testing.T) {
	d, c, ctx := newDirectory(t)
	old, young := invite(t, d, "+15555550100"), invite(t, d, "+15555550101")
	if err := d.Delete(ctx, admin, extdir.KindPending, old.ID, ""); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(10 * 24 * time.Hour)
	if err := d.Delete(ctx, admin, extdir.KindPending, young.ID, ""); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(25 * 24 * time.Hour)
	n, err := d.Expire(ctx, 30*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("expire = %d, %v; want 1", n, err)
	}
	_, err = d.GetDeleted(ctx, admin, old.ID)
	wantCode(t, err, extdir.ENotFound)
	if _, err := d.GetDeleted(ctx, admin, young.ID); err != nil {
		t.Fatalf("the younger item expired too: %v", err)
	}
}
