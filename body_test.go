package extdir_test

import (
	"strings"
	"testing"

	"github.com/extdir/extdir"
)

func TestDecodeBody(t *testing.T) {
	valid := `"displayName":"Bob","phoneNumber":"+15555555555"`
	cases := []struct {
		name    string
		kind    extdir.Kind
		mode    extdir.Mode
		body    string
		code    extdir.Code // "" for success
		message string
	}{
		{"the documented example is accepted", extdir.KindPending, extdir.ModeCreate, `{` + valid + `}`, "", ""},
		{"every writable property is accepted", extdir.KindPending, extdir.ModeCreate, `{` + valid + `,"companyName":"C","supervisorId":"s","department":"d","jobTitle":"j","isDiscoverable":false,"isEnabled":true,"address":{"city":"Oslo","street":null,"@odata.type":"microsoft.graph.physicalOfficeAddress"}}`, "", ""},
		{"its own @odata.type is accepted", extdir.KindPending, extdir.ModeCreate, `{"@odata.type":"#microsoft.graph.pendingExternalUserProfile",` + valid + `}`, "", ""},
		{"another @odata.type is 400", extdir.KindExternal, extdir.ModeUpdate, `{"@odata.type":"#microsoft.graph.pendingExternalUserProfile"}`, extdir.EBadRequest, "not compatible"},
		{"an empty PATCH is accepted", extdir.KindPending, extdir.ModeUpdate, `{}`, "", ""},
		{"an empty body is malformed", extdir.KindPending, extdir.ModeCreate, ``, extdir.EBadRequest, "Unable to read JSON"},
		{"a truncated body is malformed", extdir.KindPending, extdir.ModeCreate, `{"displayName":`, extdir.EBadRequest, "Unable to read JSON"},
		{"a second object is malformed", extdir.KindPending, extdir.ModeCreate, `{` + valid + `}{}`, extdir.EBadRequest, "Unable to read JSON"},
		{"a string body is not an object", extdir.KindPending, extdir.ModeCreate, `"x"`, extdir.EBadRequest, "JSON object"},
		{"a duplicate key is 400", extdir.KindPending, extdir.ModeCreate, `{` + valid + `,"displayName":"x"}`, extdir.EBadRequest, "'displayName'"},
		{"a duplicate address key is 400", extdir.KindPending, extdir.ModeCreate, `{` + valid + `,"address":{"city":"a","city":"b"}}`, extdir.EBadRequest, "'city'"},
		{"a number for a string is a type error", extdir.KindPending, extdir.ModeCreate, `{"displayName":1,"phoneNumber":"+15555555555"}`, extdir.EBadRequest, "Edm.String"},
		{"an object for a string is a type error", extdir.KindPending, extdir.ModeUpdate, `{"jobTitle":{}}`, extdir.EBadRequest, "Edm.String"},
		{"a string for a boolean is a type error", extdir.KindPending, extdir.ModeUpdate, `{"isEnabled":"true"}`, extdir.EBadRequest, "Edm.Boolean"},
		{"an array for the address is a type error", extdir.KindPending, extdir.ModeUpdate, `{"address":[]}`, extdir.EBadRequest, "physicalOfficeAddress"},
		{"null for a boolean is invalid", extdir.KindPending, extdir.ModeUpdate, `{"isEnabled":null}`, extdir.EInvalid, "cannot be null"},
		{"null for displayName is invalid", extdir.KindPending, extdir.ModeUpdate, `{"displayName":null}`, extdir.EInvalid, "cannot be null"},
		{"a blank displayName is invalid", extdir.KindPending, extdir.ModeUpdate, `{"displayName":"  "}`, extdir.EInvalid, "empty"},
		{"an unknown property is invalid", extdir.KindPending, extdir.ModeUpdate, `{"mail":"x"}`, extdir.EInvalid, "Invalid property 'mail'."},
		{"annotations an SDK sends back are ignored", extdir.KindPending, extdir.ModeUpdate, `{"@odata.context":"x","@odata.etag":"W/\"1\"","jobTitle@odata.type":"#String","@my.term":{"a":[1,{"b":null}]},"jobTitle":"x"}`, "", ""},
		{"a malformed annotation value is malformed", extdir.KindPending, extdir.ModeUpdate, `{"@odata.etag":[1,}`, extdir.EBadRequest, "Unable to read JSON"},
		{"an annotation inside the address is ignored", extdir.KindPending, extdir.ModeUpdate, `{"address":{"@odata.etag":"x","city":"y"}}`, "", ""},
		{"id on create is read-only", extdir.KindPending, extdir.ModeCreate, `{"id":"x",` + valid + `}`, extdir.EInvalid, "Property 'id' is read-only and cannot be set."},
		{"deletedDateTime on create is read-only", extdir.KindPending, extdir.ModeCreate, `{"deletedDateTime":null,` + valid + `}`, extdir.EInvalid, "'deletedDateTime' is read-only"},
		{"phoneNumber on update is read-only", extdir.KindExternal, extdir.ModeUpdate, `{"phoneNumber":"+15555555555"}`, extdir.EInvalid, "'phoneNumber' is read-only"},
		{"epoch on update is read-only", extdir.KindExternal, extdir.ModeUpdate, `{"epoch":2}`, extdir.EInvalid, "'epoch' is read-only"},
		{"a missing displayName is invalid", extdir.KindPending, extdir.ModeCreate, `{"phoneNumber":"+15555555555"}`, extdir.EInvalid, "'displayName'"},
		{"a missing phoneNumber is invalid", extdir.KindPending, extdir.ModeCreate, `{"displayName":"x"}`, extdir.EInvalid, "'phoneNumber'"},
		{"256 characters of displayName are accepted", extdir.KindPending, extdir.ModeUpdate, `{"displayName":"` + strings.Repeat("ü", 256) + `"}`, "", ""},
		{"257 characters of displayName are invalid", extdir.KindPending, extdir.ModeUpdate, `{"displayName":"` + strings.Repeat("ü", 257) + `"}`, extdir.EInvalid, "256"},
		{"an over-long address field names its path", extdir.KindPending, extdir.ModeUpdate, `{"address":{"city":"` + strings.Repeat("c", 129) + `"}}`, extdir.EInvalid, "'address/city'"},
		{"an unknown address field is invalid", extdir.KindPending, extdir.ModeUpdate, `{"address":{"zip":"1"}}`, extdir.EInvalid, "'address/zip'"},
		{"a national phone number is invalid", extdir.KindPending, extdir.ModeCreate, `{"displayName":"x","phoneNumber":"4257034568"}`, extdir.EInvalid, "E.164"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extdir.DecodeBody(tc.kind, []byte(tc.body), tc.mode)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if extdir.ErrorCode(err) != tc.code || !strings.Contains(extdir.ErrorMessage(err), tc.message) {
				t.Fatalf("got %v, want code %s containing %q", err, tc.code, tc.message)
			}
		})
	}
}

func TestDecodeBodyApplies(t *testing.T) {
	p := &extdir.Profile{DisplayName: "old", IsEnabled: true}
	city := "Bergen"
	p.Address.City = &city
	changes, err := extdir.DecodeBody(extdir.KindPending, []byte(`{"displayName":"new","jobTitle":"Dev","isEnabled":false,"address":{"street":"1 Main"}}`), extdir.ModeUpdate)
	if err != nil {
		t.Fatal(err)
	}
	changes.Apply(p)
	if p.DisplayName != "new" || p.JobTitle == nil || *p.JobTitle != "Dev" || p.IsEnabled {
		t.Fatalf("applied: %+v", p)
	}
	// Address fields not in the body keep their value.
	if p.Address.City == nil || *p.Address.City != "Bergen" || p.Address.Street == nil || *p.Address.Street != "1 Main" {
		t.Fatalf("address: %+v", p.Address)
	}
	changes, err = extdir.DecodeBody(extdir.KindPending, []byte(`{"address":null,"jobTitle":null}`), extdir.ModeUpdate)
	if err != nil {
		t.Fatal(err)
	}
	changes.Apply(p)
	if p.Address != (extdir.Address{}) || p.JobTitle != nil {
		t.Fatalf("null did not clear: %+v", p)
	}
}

func TestValidE164(t *testing.T) {
	for s, want := range map[string]bool{
		"+15555555555": true, "+12": true, "+123456789012345": true,
		"+1234567890123456": false, "+1": false, "+0123": false, "15555555555": false,
		"+1 555 555": false, "+1-555": false, "": false, "+": false, "++1555": false, "+１２３": false,
	} {
		if got := extdir.ValidE164(s); got != want {
			t.Errorf("ValidE164(%q) = %v, want %v", s, got, want)
		}
	}
}
