package extdir_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlite"
)

// Every lifecycle action of the Directory writes exactly one audit record,
// naming who did it and what changed from what to what.
func TestEveryActionWritesOneRecord(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	d := &extdir.Directory{Store: st, AuditRetention: 365 * 24 * time.Hour, Now: func() time.Time { return now }, NewID: func() string {
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}}
	ctx := context.Background()
	app := extdir.Actor{Tenant: tenant, ObjectID: "sp-1", CorrelationID: "req-1",
		Initiator: extdir.Initiator{AppID: "app-1", ServicePrincipalID: "sp-1"}}
	user := extdir.Actor{Tenant: tenant, ObjectID: "user-1", CorrelationID: "req-2",
		Initiator: extdir.Initiator{User: true, AppID: "app-1", UserID: "user-1", UPN: "ada@contoso.test"}}

	step := func(what string, fn func() error) {
		t.Helper()
		now = now.Add(time.Minute)
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	p, _ := d.Invite(ctx, app, changes(t, extdir.ModeCreate, `{"displayName":"Ada","phoneNumber":"+15555550100","companyName":"Contoso"}`))
	id := p.ID
	step("patch", func() error {
		_, err := d.Patch(ctx, user, extdir.KindPending, id, changes(t, extdir.ModeUpdate, `{"companyName":"Fabrikam","address":{"city":"Oslo"}}`), "")
		return err
	})
	step("empty patch", func() error { _, err := d.Patch(ctx, user, extdir.KindPending, id, nil, ""); return err })
	step("redeem", func() error { _, err := d.Redeem(ctx, app, id, ""); return err })
	step("delete", func() error { return d.Delete(ctx, app, extdir.KindExternal, id, "") })
	step("restore", func() error { _, err := d.Restore(ctx, user, id); return err })
	step("delete again", func() error { return d.Delete(ctx, app, extdir.KindExternal, id, "") })
	step("purge", func() error { return d.Purge(ctx, app, id) })
	// Refused actions write nothing.
	if _, err := d.Patch(ctx, user, extdir.KindPending, id, changes(t, extdir.ModeUpdate, `{"jobTitle":"x"}`), ""); err == nil {
		t.Fatal("a patch of a purged profile succeeded")
	}
	step("seed", func() error {
		_, err := d.Seed(ctx, extdir.Actor{Tenant: tenant, ObjectID: "seeder"}, []extdir.SeedRow{{Kind: extdir.KindExternal, Changes: changes(t, extdir.ModeCreate, `{"displayName":"Grace","phoneNumber":"+15555550101"}`)}})
		return err
	})
	step("expire", func() error {
		q, _ := d.Seed(ctx, extdir.Actor{Tenant: tenant}, []extdir.SeedRow{{Kind: extdir.KindPending, Changes: changes(t, extdir.ModeCreate, `{"displayName":"Old","phoneNumber":"+15555550102"}`)}})
		if err := d.Delete(ctx, app, extdir.KindPending, q[0].ID, ""); err != nil {
			return err
		}
		now = now.Add(31 * 24 * time.Hour)
		_, err := d.Expire(ctx, 30*24*time.Hour)
		return err
	})

	page, err := st.ListAudits(ctx, store.AuditQuery{Tenant: tenant, Top: 100, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		activity, op, initiator string
		modified                string
	}
	wants := []want{
		{extdir.ActivityInvite, "Add", "app app-1 sp-1 req-1", `createdDateTime:<nil>→["2026-03-01T10:00:00Z"] createdBy:<nil>→["sp-1"] companyName:<nil>→["Contoso"] displayName:<nil>→["Ada"] isDiscoverable:<nil>→[true] isEnabled:<nil>→[true] phoneNumber:<nil>→["+15555550100"]`},
		{extdir.ActivityUpdate, "Update", "user user-1 ada@contoso.test req-2", `companyName:["Contoso"]→["Fabrikam"] address/city:<nil>→["Oslo"]`},
		{extdir.ActivityRedeem, "Update", "app app-1 sp-1 req-1", `@odata.type:["#microsoft.graph.pendingExternalUserProfile"]→["#microsoft.graph.externalUserProfile"]`},
		{extdir.ActivityDelete, "Delete", "app app-1 sp-1 req-1", `deletedDateTime:<nil>→["2026-03-01T10:04:00Z"]`},
		{extdir.ActivityRestore, "Update", "user user-1 ada@contoso.test req-2", `deletedDateTime:["2026-03-01T10:04:00Z"]→<nil>`},
		{extdir.ActivityDelete, "Delete", "app app-1 sp-1 req-1", `deletedDateTime:<nil>→["2026-03-01T10:06:00Z"]`},
		{extdir.ActivityPurge, "Delete", "app app-1 sp-1 req-1", ``},
		{extdir.ActivitySeed, "Add", "app 00000000-0000-0000-0000-000000000000 seeder ", ``},
		{extdir.ActivitySeed, "Add", "app 00000000-0000-0000-0000-000000000000  ", ``},
		{extdir.ActivityDelete, "Delete", "app app-1 sp-1 req-1", ``},
		{extdir.ActivityExpire, "Delete", "app 00000000-0000-0000-0000-000000000000  ", ``},
	}
	if len(page.Records) != len(wants) {
		for _, r := range page.Records {
			t.Logf("%s %s", r.Activity, r.Target.ID)
		}
		t.Fatalf("%d records, want %d (the empty patch and the refused one write none)", len(page.Records), len(wants))
	}
	for i, r := range page.Records {
		w := wants[i]
		in := r.Initiator
		got := "app " + in.AppID + " " + in.ServicePrincipalID + " " + r.CorrelationID
		if in.User {
			got = "user " + in.UserID + " " + in.UPN + " " + r.CorrelationID
		}
		if strings.HasSuffix(w.initiator, " ") {
			got = strings.TrimSuffix(got, r.CorrelationID) // a fresh id of its own
		}
		if r.Activity != w.activity || r.OperationType != w.op || got != w.initiator || r.Tenant != tenant {
			t.Errorf("record %d: %s %s by %q, want %s %s by %q", i, r.Activity, r.OperationType, got, w.activity, w.op, w.initiator)
		}
		if w.modified != "" {
			var ms []string
			for _, m := range r.Target.Modified {
				ms = append(ms, m.Name+":"+show(m.Old)+"→"+show(m.New))
			}
			if g := strings.Join(ms, " "); g != w.modified {
				t.Errorf("record %d (%s) modified:\n got %s\nwant %s", i, r.Activity, g, w.modified)
			}
		}
	}
	if page.Records[0].Target.ID != id || page.Records[0].Target.DisplayName != "Ada" || page.Records[0].Target.Type != "PendingExternalUserProfile" ||
		page.Records[2].Target.Type != "ExternalUserProfile" {
		t.Errorf("targets: %+v, %+v", page.Records[0].Target, page.Records[2].Target)
	}
}

func show(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// Audit records older than the audit retention go with the retention sweep.
func TestAuditRetention(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d := &extdir.Directory{Store: st, Now: func() time.Time { return now }}
	ctx := context.Background()
	if _, err := d.Invite(ctx, admin, changes(t, extdir.ModeCreate, `{"displayName":"Ada","phoneNumber":"+15555550100"}`)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(29 * 24 * time.Hour)
	if _, err := d.Invite(ctx, admin, changes(t, extdir.ModeCreate, `{"displayName":"Bob","phoneNumber":"+15555550101"}`)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * 24 * time.Hour) // the first record is 31 days old, the second 2
	if _, err := d.Expire(ctx, extdir.DefaultAuditRetention); err != nil {
		t.Fatal(err)
	}
	page, err := st.ListAudits(ctx, store.AuditQuery{Tenant: tenant, Top: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].Target.DisplayName != "Bob" {
		t.Fatalf("after the sweep: %d records, want Bob's invitation only", len(page.Records))
	}
}

// The old and new values of modifiedProperties are JSON arrays as text,
// whatever the string holds.
func TestModifiedValuesAreJSON(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	d := &extdir.Directory{Store: st}
	ctx := context.Background()
	weird := "q\"uote \\back\nline\ttab\x01 é 😀 \u2028"
	body, _ := json.Marshal(map[string]any{"displayName": weird, "phoneNumber": "+15555550100", "isDiscoverable": false})
	if _, err := d.Invite(ctx, admin, changes(t, extdir.ModeCreate, string(body))); err != nil {
		t.Fatal(err)
	}
	page, err := st.ListAudits(ctx, store.AuditQuery{Tenant: tenant, Top: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Records[0].Target.Modified {
		var v []any
		if err := json.Unmarshal([]byte(*m.New), &v); err != nil || len(v) != 1 {
			t.Fatalf("%s: %q is not a JSON array of one value: %v", m.Name, *m.New, err)
		}
		if m.Name == "displayName" && v[0] != weird {
			t.Fatalf("displayName recorded as %q, want %q", v[0], weird)
		}
		if m.Name == "isDiscoverable" && v[0] != false {
			t.Fatalf("isDiscoverable recorded as %v", v[0])
		}
	}
}
