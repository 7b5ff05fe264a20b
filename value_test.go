package extdir

import (
	"strings"
	"testing"
)

// The value rules reached without JSON, as a CSV row or a form reaches them.
func TestChangesSetAppliesTheValueRules(t *testing.T) {
	tests := []struct {
		name    string
		mode    Mode
		path    string
		value   Value
		message string // "" when accepted
	}{
		{"a display name is accepted", ModeCreate, "displayName", StringValue("Ada"), ""},
		{"an address field is accepted by its path", ModeUpdate, "address/city", StringValue("Oslo"), ""},
		{"a nullable property takes null", ModeUpdate, "jobTitle", Value{Null: true}, ""},
		{"an unknown property is refused", ModeCreate, "nickname", StringValue("x"), "Invalid property 'nickname'."},
		{"an unknown address field is refused", ModeCreate, "address/planet", StringValue("x"), "Invalid property 'address/planet'."},
		{"the phone number cannot be patched", ModeUpdate, "phoneNumber", StringValue("+15555550100"), "Property 'phoneNumber' is read-only"},
		{"the id is read-only", ModeCreate, "id", StringValue("x"), "Property 'id' is read-only"},
		{"a phone number not in E.164 is refused", ModeCreate, "phoneNumber", StringValue("(425) 555-0100"), "E.164"},
		{"a blank display name is refused", ModeCreate, "displayName", StringValue("  "), "It cannot be empty."},
		{"the display name cannot be null", ModeUpdate, "displayName", Value{Null: true}, "It cannot be null."},
		{"an over-long company is refused", ModeCreate, "companyName", StringValue(strings.Repeat("é", 65)), "longer than the limit of 64 characters"},
		{"the whole address is not one value", ModeCreate, "address", StringValue("x"), "complex type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Changes
			err := c.Set(KindPending, tc.mode, tc.path, tc.value)
			if tc.message == "" {
				if err != nil || len(c) != 1 {
					t.Fatalf("Set = %v, changes %v; want one change", err, c)
				}
				return
			}
			if err == nil || !strings.Contains(ErrorMessage(err), tc.message) || ErrorCode(err) != EInvalid || len(c) != 0 {
				t.Fatalf("Set = %v, changes %v; want EInvalid containing %q and no change", err, c, tc.message)
			}
		})
	}
}

func TestCheckRequiredNamesTheMissingProperty(t *testing.T) {
	var c Changes
	if err := c.Set(KindPending, ModeCreate, "displayName", StringValue("Ada")); err != nil {
		t.Fatal(err)
	}
	err := c.CheckRequired(KindPending)
	if err == nil || !strings.Contains(ErrorMessage(err), "'phoneNumber'") {
		t.Fatalf("CheckRequired = %v, want phoneNumber named", err)
	}
	if err := c.Set(KindPending, ModeCreate, "phoneNumber", StringValue("+15555550100")); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckRequired(KindPending); err != nil {
		t.Fatalf("complete create refused: %v", err)
	}
}
