package odata_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
)

func TestAuditFilter(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "activityDateTime ge 2026-01-01T00:00:00Z and activityDateTime le 2026-02-01T00:00:00Z", want: "activityDateTime ge 2026-01-01T00:00:00Z and activityDateTime le 2026-02-01T00:00:00Z"},
		{in: "initiatedBy/app/appId eq 'abc'", want: "initiatedBy/app/appId eq 'abc'"},
		{in: "initiatedBy/user/id eq '1f0c5d2a-0000-4000-8000-0000000000c1'", want: "initiatedBy/user/id eq '1f0c5d2a-0000-4000-8000-0000000000c1'"},
		{in: "targetResources/any(t: t/id eq 'x')", want: "targetResources/id eq 'x'"},
		{in: "targetResources/any(t:t/id eq 'x' or t/displayName eq 'Ada') and category eq 'UserManagement'", want: "(targetResources/id eq 'x' or targetResources/displayName eq 'Ada') and category eq 'UserManagement'"},
		{in: "startswith(activityDisplayName,'Invite')", want: "startswith(activityDisplayName,'Invite')"},
		{in: "targetResources/all(t: t/id eq 'x')", err: "only the any lambda"},
		{in: "targetResources/any(t: id eq 'x')", err: "starts with its range variable"},
		{in: "targetResources/any(t: targetResources/any(u: u/id eq 'x'))", err: "starts with its range variable"},
		{in: "targetResources/any(t t/id eq 'x')", err: "':' after the range variable"},
		{in: "targetResources/any(t: t/id eq 'x'", err: "')' to close the lambda"},
		{in: "targetResources/any(t: t/type eq 'x')", err: "property 'targetResources/type' of resource 'DirectoryAudit'"},
		{in: "displayName eq 'x'", err: "property 'displayName' of resource 'DirectoryAudit'"},
		{in: "category ne 'x'", err: "property 'category'"},
	} {
		e, err := odata.ParseAuditFilter(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(extdir.ErrorMessage(err), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := fmt.Sprint(e); got != tc.want {
			t.Errorf("%s: read as %s, want %s", tc.in, got, tc.want)
		}
	}
	// A profile filter does not take the audit's paths, lambdas included.
	if _, err := odata.Filter("targetResources/any(t: t/id eq 'x')", extdir.KindPending); err == nil {
		t.Error("a profile filter accepted a lambda over targetResources")
	}
}
