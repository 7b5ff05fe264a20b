package conformance

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
)

// The audit log: a write and its record are one transaction, and the
// records read back in pages, filtered, per tenant.

// record is an audit record of an activity on p at the time, by an app or
// (user set) by a user.
func record(p *extdir.Profile, activity string, at time.Time, user bool) *extdir.AuditRecord {
	r := &extdir.AuditRecord{
		Tenant: p.Tenant, ID: uuid.NewString(), Time: at.UTC().Truncate(time.Microsecond),
		Activity: activity, OperationType: "Update", CorrelationID: uuid.NewString(),
		Initiator: extdir.Initiator{AppID: "app-" + p.Tenant[len(p.Tenant)-1:], ServicePrincipalID: "sp-1", AppName: "Contoso HR"},
		Target: extdir.AuditTarget{ID: p.ID, DisplayName: p.DisplayName, Type: p.Kind.ResourceName(),
			Modified: []extdir.ModifiedProperty{{Name: "displayName", Old: ptr(`["old \"x\""]`), New: ptr(`["Ada"]`)}, {Name: "jobTitle", New: ptr(`["Lead"]`)}}},
	}
	if user {
		r.Initiator = extdir.Initiator{User: true, AppID: "app-u", UserID: "user-" + p.ID[len(p.ID)-2:], UPN: "ada@contoso.test"}
	}
	return r
}

// audits lists every record of the tenant, newest first, page by page.
func audits(t *testing.T, s store.Store, tenant, filter string) []*extdir.AuditRecord {
	t.Helper()
	q := store.AuditQuery{Tenant: tenant, Top: 7}
	if filter != "" {
		e, err := odata.ParseAuditFilter(filter)
		if err != nil {
			t.Fatalf("filter %s: %v", filter, err)
		}
		q.Filter = e
	}
	var out []*extdir.AuditRecord
	for range 1000 {
		page, err := s.ListAudits(context.Background(), q)
		if err != nil {
			t.Fatalf("ListAudits: %v", err)
		}
		out = append(out, page.Records...)
		if page.Next == nil {
			return out
		}
		q.After = page.Next
	}
	t.Fatal("ListAudits never ends")
	return nil
}

func recordIDs(rs []*extdir.AuditRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func wantRecord(t *testing.T, want, got *extdir.AuditRecord) {
	t.Helper()
	w, g := *want, *got
	g.Seq = 0
	if !w.Time.Equal(g.Time) {
		t.Errorf("record %s time %v, want %v", w.ID, g.Time, w.Time)
	}
	w.Time, g.Time = time.Time{}, time.Time{}
	if fmt.Sprintf("%+v", w.Initiator) != fmt.Sprintf("%+v", g.Initiator) || w.Target.ID != g.Target.ID ||
		w.Target.DisplayName != g.Target.DisplayName || w.Target.Type != g.Target.Type ||
		w.Activity != g.Activity || w.OperationType != g.OperationType || w.CorrelationID != g.CorrelationID || w.Tenant != g.Tenant {
		t.Errorf("record read back as %+v, want %+v", g, w)
	}
	if len(w.Target.Modified) != len(g.Target.Modified) {
		t.Fatalf("record %s: %d modified properties, want %d", w.ID, len(g.Target.Modified), len(w.Target.Modified))
	}
	for i := range w.Target.Modified {
		a, b := w.Target.Modified[i], g.Target.Modified[i]
		if a.Name != b.Name || (a.Old == nil) != (b.Old == nil) || (a.New == nil) != (b.New == nil) ||
			(a.Old != nil && *a.Old != *b.Old) || (a.New != nil && *a.New != *b.New) {
			t.Errorf("record %s modified[%d] = %+v, want %+v", w.ID, i, b, a)
		}
	}
}

var auditTests = []test{
	{"every write keeps its record", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		p := Profile(tenantA, 1)
		created := record(p, extdir.ActivityInvite, base, false)
		if err := s.Create(ctx, p, created); err != nil {
			t.Fatal(err)
		}
		updated := record(p, extdir.ActivityUpdate, base.Add(time.Second+1500*time.Microsecond), true)
		if _, err := s.Update(ctx, tenantA, p.ID, func(p *extdir.Profile) (*extdir.AuditRecord, error) {
			p.Patch(setJobTitle("Lead"))
			return updated, nil
		}); err != nil {
			t.Fatal(err)
		}
		// A record without a change of the row is kept too.
		noted := record(p, extdir.ActivityUpdate, base.Add(2*time.Second), false)
		if _, err := s.Update(ctx, tenantA, p.ID, func(p *extdir.Profile) (*extdir.AuditRecord, error) { return noted, nil }); err != nil {
			t.Fatal(err)
		}
		softDelete(t, s, p, base.Add(3*time.Second))
		purged := record(p, extdir.ActivityPurge, base.Add(4*time.Second), false)
		if err := s.Purge(ctx, tenantA, p.ID, func(*extdir.Profile) (*extdir.AuditRecord, error) { return purged, nil }); err != nil {
			t.Fatal(err)
		}
		imported := Profile(tenantA, 2)
		importedRec := record(imported, extdir.ActivityImport, base.Add(5*time.Second), false)
		if err := s.Import(ctx, []*extdir.Profile{imported}, []*extdir.AuditRecord{importedRec}); err != nil {
			t.Fatal(err)
		}
		got := audits(t, s, tenantA, "")
		want := []*extdir.AuditRecord{importedRec, purged, noted, updated, created}
		if len(got) != len(want) {
			t.Fatalf("%d records %v, want %d", len(got), recordIDs(got), len(want))
		}
		for i := range want {
			wantRecord(t, want[i], got[i])
		}
		one, err := s.GetAudit(ctx, tenantA, updated.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRecord(t, updated, one)
	}},
	{"a refused write keeps no record", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		held := create(t, s, Profile(tenantA, 1))
		clash := Profile(tenantA, 2)
		clash.PhoneNumber = held.PhoneNumber
		wantPhoneTaken(t, s.Create(ctx, clash, record(clash, extdir.ActivityInvite, base, false)), "create with a taken phone")
		_, err := s.Update(ctx, tenantA, held.ID, func(*extdir.Profile) (*extdir.AuditRecord, error) {
			return record(held, extdir.ActivityUpdate, base, false), extdir.ErrPreconditionFailed
		})
		wantCode(t, err, extdir.EPrecondition, "a refused update")
		_, err = s.Update(ctx, tenantA, "0d0e5c4b-0000-4000-8000-999999999999", func(p *extdir.Profile) (*extdir.AuditRecord, error) {
			return record(p, extdir.ActivityUpdate, base, false), nil
		})
		wantCode(t, err, extdir.ENotFound, "an update of an unknown id")
		// A restore onto a taken number fails in the store: no record.
		gone := softDelete(t, s, create(t, s, Profile(tenantA, 3)), base)
		taker := Profile(tenantA, 4)
		taker.PhoneNumber = gone.PhoneNumber
		create(t, s, taker)
		_, err = s.Update(ctx, tenantA, gone.ID, func(p *extdir.Profile) (*extdir.AuditRecord, error) {
			if err := p.Restore(); err != nil {
				return nil, err
			}
			return record(p, extdir.ActivityRestore, base, false), nil
		})
		wantPhoneTaken(t, err, "restore onto a taken number")
		err = s.Purge(ctx, tenantA, held.ID, func(*extdir.Profile) (*extdir.AuditRecord, error) {
			return record(held, extdir.ActivityPurge, base, false), extdir.NotFound(held.ID)
		})
		wantCode(t, err, extdir.ENotFound, "a refused purge")
		dup := Profile(tenantA, 5)
		dup.PhoneNumber = held.PhoneNumber
		fresh := Profile(tenantA, 6)
		err = s.Import(ctx, []*extdir.Profile{fresh, dup}, []*extdir.AuditRecord{record(fresh, extdir.ActivityImport, base, false), record(dup, extdir.ActivityImport, base, false)})
		wantPhoneTaken(t, err, "an import with a taken phone")
		if got := audits(t, s, tenantA, ""); len(got) != 0 {
			t.Fatalf("refused writes left %d records: %+v", len(got), got[0])
		}
	}},
	{"the retention sweep records each purge", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		var gone []string
		for i := range 5 {
			p := create(t, s, Profile(tenantA, i+1))
			if i < 3 {
				softDelete(t, s, p, base)
				gone = append(gone, p.ID)
			}
		}
		n, err := s.Expire(ctx, base.Add(time.Hour), func(p *extdir.Profile) *extdir.AuditRecord {
			return record(p, extdir.ActivityExpire, base.Add(time.Hour), false)
		})
		if err != nil || n != 3 {
			t.Fatalf("Expire = %d, %v; want 3", n, err)
		}
		got := audits(t, s, tenantA, "")
		var targets []string
		for _, r := range got {
			if r.Activity != extdir.ActivityExpire {
				t.Errorf("record %+v", r)
			}
			targets = append(targets, r.Target.ID)
		}
		slices.Sort(targets)
		slices.Sort(gone)
		if !slices.Equal(targets, gone) {
			t.Fatalf("purge records name %v, want %v", targets, gone)
		}
	}},
	{"records are listed per tenant, in time order, filtered", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		var all []*extdir.AuditRecord
		for i := range 20 {
			tenant := tenantA
			if i%4 == 3 {
				tenant = tenantB
			}
			p := Profile(tenant, i+1)
			activity := extdir.ActivityInvite
			if i%3 == 0 {
				activity = extdir.ActivityUpdate
			}
			// Two records share each second, a microsecond apart, and
			// every fifth shares its time exactly with the one before.
			at := base.Add(time.Duration(i/2)*time.Second + time.Duration(i%2)*time.Microsecond)
			if i%5 == 4 {
				at = all[len(all)-1].Time
			}
			r := record(p, activity, at, i%2 == 1)
			if err := s.Create(ctx, p, r); err != nil {
				t.Fatal(err)
			}
			all = append(all, r)
		}
		expect := func(keep func(r *extdir.AuditRecord) bool) []string {
			var out []*extdir.AuditRecord
			for _, r := range all {
				if r.Tenant == tenantA && keep(r) {
					out = append(out, r)
				}
			}
			slices.SortStableFunc(out, func(a, b *extdir.AuditRecord) int { return b.Time.Compare(a.Time) })
			// Records of one instant come newest-written first.
			for i := 1; i < len(out); i++ {
				if out[i].Time.Equal(out[i-1].Time) && slices.Index(all, out[i]) > slices.Index(all, out[i-1]) {
					out[i], out[i-1] = out[i-1], out[i]
				}
			}
			return recordIDs(out)
		}
		target := all[6]
		mid := all[9].Time
		for _, tc := range []struct {
			filter string
			keep   func(r *extdir.AuditRecord) bool
		}{
			{"", func(*extdir.AuditRecord) bool { return true }},
			{"activityDisplayName eq '" + extdir.ActivityUpdate + "'", func(r *extdir.AuditRecord) bool { return r.Activity == extdir.ActivityUpdate }},
			{"startswith(activityDisplayName,'invite')", func(r *extdir.AuditRecord) bool { return r.Activity == extdir.ActivityInvite }},
			{"initiatedBy/app/appId eq 'APP-A'", func(r *extdir.AuditRecord) bool { return !r.Initiator.User }},
			{"initiatedBy/user/id eq '" + all[1].Initiator.UserID + "'", func(r *extdir.AuditRecord) bool { return r.Initiator.UserID == all[1].Initiator.UserID }},
			{"targetResources/any(t: t/id eq '" + target.Target.ID + "')", func(r *extdir.AuditRecord) bool { return r.Target.ID == target.Target.ID }},
			{"activityDateTime ge " + mid.Format(time.RFC3339Nano), func(r *extdir.AuditRecord) bool { return !r.Time.Before(mid) }},
			{"activityDateTime le " + mid.Format(time.RFC3339Nano) + " and not (category eq 'x')", func(r *extdir.AuditRecord) bool { return !r.Time.After(mid) }},
			{"category eq 'UserManagement' and result eq 'success'", func(*extdir.AuditRecord) bool { return true }},
		} {
			got := recordIDs(audits(t, s, tenantA, tc.filter))
			if want := expect(tc.keep); !slices.Equal(got, want) {
				t.Errorf("filter %q: %d records %v\nwant %d %v", tc.filter, len(got), got, len(want), want)
			}
		}
		// Oldest first, the exact reverse.
		q := store.AuditQuery{Tenant: tenantA, Top: 100, Ascending: true}
		page, err := s.ListAudits(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		newest := expect(func(*extdir.AuditRecord) bool { return true })
		slices.Reverse(newest)
		if got := recordIDs(page.Records); !slices.Equal(got, newest) {
			t.Errorf("ascending: %v\nwant %v", got, newest)
		}
		// Another tenant's record is not there.
		other := all[3]
		if _, err := s.GetAudit(ctx, tenantA, other.ID); extdir.ErrorCode(err) != extdir.ENotFound {
			t.Errorf("another tenant's record: %v, want ENotFound", err)
		}
	}},
	{"old records expire and Reset takes a tenant's", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for i := range 6 {
			tenant := []string{tenantA, tenantB}[i%2]
			p := Profile(tenant, i+1)
			if err := s.Create(ctx, p, record(p, extdir.ActivityInvite, base.Add(time.Duration(i)*time.Hour), false)); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.ExpireAudits(ctx, base.Add(2*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("ExpireAudits = %d, %v; want 2 (hours 0 and 1)", n, err)
		}
		if got := len(audits(t, s, tenantA, "")) + len(audits(t, s, tenantB, "")); got != 4 {
			t.Fatalf("%d records left, want 4", got)
		}
		if _, err := s.Reset(ctx, tenantB); err != nil {
			t.Fatal(err)
		}
		if a, b := len(audits(t, s, tenantA, "")), len(audits(t, s, tenantB, "")); a != 2 || b != 0 {
			t.Fatalf("after resetting B: %d records in A (want 2), %d in B (want 0)", a, b)
		}
		if _, err := s.Reset(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if a := len(audits(t, s, tenantA, "")); a != 0 {
			t.Fatalf("after a full reset: %d records", a)
		}
	}},
}
