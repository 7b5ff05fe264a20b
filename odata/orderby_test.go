package odata_test

import (
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
)

func TestParseOrderBy(t *testing.T) {
	display, _ := extdir.PropertyByName("displayName")
	created, _ := extdir.PropertyByName("createdDateTime")
	tests := []struct {
		name, in string
		want     []odata.Order
	}{
		{"one property ascending by default", "displayName", []odata.Order{{Prop: display}}},
		{"desc", "createdDateTime desc", []odata.Order{{Prop: created, Desc: true}}},
		{"asc and desc in any case", "displayName ASC,createdDateTime Desc", []odata.Order{{Prop: display}, {Prop: created, Desc: true}}},
		{"spaces around the comma", " createdDateTime desc , displayName ", []odata.Order{{Prop: created, Desc: true}, {Prop: display}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := odata.ParseOrderBy(tc.in, extdir.KindPending)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d orders, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("order %d: got %s desc=%v, want %s desc=%v", i, got[i].Prop.Name, got[i].Desc, tc.want[i].Prop.Name, tc.want[i].Desc)
				}
			}
		})
	}
}

func TestParseOrderByRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		code     extdir.Code
		msg      string
	}{
		{"not sortable", "companyName", extdir.EUnsupportedQuery, "Unsupported sort property 'companyName' for 'PendingExternalUserProfile'."},
		{"unknown", "foo desc", extdir.EUnsupportedQuery, "Unsupported sort property 'foo' for 'PendingExternalUserProfile'."},
		{"address field", "address/city", extdir.EUnsupportedQuery, "Unsupported sort property 'address/city' for 'PendingExternalUserProfile'."},
		{"duplicate", "displayName,createdDateTime,displayName desc", extdir.EBadRequest, "Duplicate property named 'displayName' is not supported in '$orderby'."},
		{"empty", "", extdir.EBadRequest, "Syntax error at position 0 in '': expected a property name."},
		{"trailing comma", "displayName,", extdir.EBadRequest, "Syntax error at position 12 in 'displayName,': expected a property name."},
		{"unknown direction", "displayName descending", extdir.EBadRequest, "Syntax error at position 12 in 'displayName descending': expected ',', 'asc', 'desc' or the end of $orderby, found 'descending'."},
		{"two directions", "displayName desc asc", extdir.EBadRequest, "Syntax error at position 17 in 'displayName desc asc': expected ',' or the end of $orderby, found 'asc'."},
		{"a literal", "'displayName'", extdir.EBadRequest, "Syntax error at position 0 in ''displayName'': expected a property name, found the string 'displayName'."},
		{"stray character", "displayName;", extdir.EBadRequest, "Syntax error at position 11 in 'displayName;': unexpected character ';'."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := odata.ParseOrderBy(tc.in, extdir.KindPending)
			if got := extdir.ErrorCode(err); got != tc.code {
				t.Fatalf("ParseOrderBy(%q) = %v, want code %s", tc.in, err, tc.code)
			}
			if got := extdir.ErrorMessage(err); got != tc.msg {
				t.Errorf("message\n got %s\nwant %s", got, tc.msg)
			}
		})
	}
}
