package extdir_test

import (
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir"
)

func TestHeaderReadsSpreadsheetRows(t *testing.T) {
	h, err := extdir.ParseHeader([]string{" DisplayName", "PHONENUMBER", "city", "address.street", "Address/PostalCode", "isDiscoverable", "kind"}, "kind")
	if err != nil {
		t.Fatal(err)
	}
	if h.Extra("KIND") != 6 || h.Index("address/city") != 2 || h.Index("address/street") != 3 || h.Index("jobTitle") != -1 {
		t.Fatalf("columns: kind %d, city %d, street %d", h.Extra("kind"), h.Index("address/city"), h.Index("address/street"))
	}
	ch, err := h.Decode(extdir.KindPending, extdir.ModeCreate, []string{"Ada", "+14255550100", "Oslo", "", "0150", "no", "external"})
	if err != nil {
		t.Fatal(err)
	}
	p := extdir.NewPending("t", "id", "me", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ch.Apply(p)
	if p.DisplayName != "Ada" || *p.Address.City != "Oslo" || p.Address.Street != nil || *p.Address.PostalCode != "0150" || p.IsDiscoverable {
		t.Fatalf("decoded profile %+v (an empty cell leaves its property unset; no is false)", p)
	}
	for _, tc := range []struct {
		name   string
		header []string
		row    []string
		want   string
	}{
		{"unknown columns are named", []string{"displayName", "phoneNumber", "email", "team"}, nil, `unknown columns "email", "team"`},
		{"a read-only column", []string{"displayName", "phoneNumber", "createdBy"}, nil, "read-only properties createdBy"},
		{"a column twice", []string{"displayName", "phoneNumber", "City", "address/city"}, nil, "columns given twice: address/city"},
		{"a bad boolean", []string{"displayName", "phoneNumber", "isEnabled"}, []string{"Ada", "+14255550100", "maybe"}, "must be true or false"},
		{"a missing required value", []string{"displayName", "phoneNumber"}, []string{"Ada", ""}, "'phoneNumber'"},
		{"a value over its limit", []string{"displayName", "phoneNumber", "companyName"}, []string{"Ada", "+14255550100", strings.Repeat("x", 65)}, "longer than the limit of 64"},
		{"more cells than columns", []string{"displayName", "phoneNumber"}, []string{"Ada", "+14255550100", "extra"}, "3 cells but the header only 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := extdir.ParseHeader(tc.header)
			if err == nil && tc.row != nil {
				_, err = h.Decode(extdir.KindPending, extdir.ModeCreate, tc.row)
			}
			if err == nil || !strings.Contains(extdir.ErrorMessage(err), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
