// Package seedfile reads the files that seed a directory (extdir serve
// --seed, POST /admin/seed, extdirtest's Seed): JSON in the API's own shape
// (an array of profiles, or a collection response {"value": [...]}), or CSV
// with a header row of property names and an optional kind column. Every
// row goes through the domain's decoders, so that a value is refused with
// the message the API would give, prefixed by the row.
package seedfile

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/extdir/extdir"
)

// MaxBytes bounds a seed file: seeds are fixtures, not migrations (those
// are export and import).
const MaxBytes = 64 << 20

// Format is how a seed file is written.
type Format int

const (
	// Sniff decides by the first byte that is not a space or a BOM: [ or {
	// is JSON, anything else CSV.
	Sniff Format = iota
	JSON
	CSV
)

// FormatOf picks the format a file name or media type says, or Sniff.
func FormatOf(nameOrType string) Format {
	s := strings.ToLower(nameOrType)
	switch {
	case strings.HasSuffix(s, ".json"), strings.Contains(s, "json"):
		return JSON
	case strings.HasSuffix(s, ".csv"), strings.Contains(s, "csv"):
		return CSV
	}
	return Sniff
}

// Parse reads every row of a seed, or fails on the first bad one.
func Parse(data []byte, f Format) ([]extdir.SeedRow, error) {
	if len(data) > MaxBytes {
		return nil, extdir.Errorf(extdir.EInvalid, "The seed is larger than %d MiB.", MaxBytes>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if f == Sniff {
		f = CSV
		if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
			f = JSON
		}
	}
	if f == JSON {
		return parseJSON(data)
	}
	return parseCSV(data)
}

func parseJSON(data []byte) ([]extdir.SeedRow, error) {
	var rows []json.RawMessage
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '{' {
		var coll struct {
			Value []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(t, &coll); err != nil || coll.Value == nil {
			return nil, extdir.Errorf(extdir.EBadRequest, "The seed is not a JSON array of profiles nor a collection {\"value\": [...]}.")
		}
		rows = coll.Value
	} else if err := json.Unmarshal(t, &rows); err != nil {
		return nil, extdir.Errorf(extdir.EBadRequest, "The seed is not valid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	out := make([]extdir.SeedRow, 0, len(rows))
	for i, raw := range rows {
		row, err := extdir.DecodeSeedRow(raw)
		if err != nil {
			return nil, rowError(i+1, 0, err)
		}
		out = append(out, row)
	}
	return out, nil
}

func parseCSV(data []byte) ([]extdir.SeedRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.Comma = delimiter(data)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, extdir.Errorf(extdir.EBadRequest, "The seed's header row is not CSV: %v.", err)
	}
	cols, err := extdir.ParseHeader(header, "kind", "id")
	if err != nil {
		return nil, err
	}
	kindCol, idCol := cols.Extra("kind"), cols.Extra("id")
	var out []extdir.SeedRow
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, extdir.Errorf(extdir.EBadRequest, "Row %d: not CSV: %v.", n, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		row := extdir.SeedRow{Kind: extdir.KindPending}
		if kindCol >= 0 && kindCol < len(rec) {
			if row.Kind, err = kindOf(rec[kindCol]); err != nil {
				return nil, rowError(n, line, err)
			}
			rec[kindCol] = ""
		}
		if idCol >= 0 && idCol < len(rec) {
			row.ID, rec[idCol] = strings.TrimSpace(rec[idCol]), ""
		}
		if row.Changes, err = cols.Decode(row.Kind, extdir.ModeCreate, rec); err != nil {
			return nil, rowError(n, line, err)
		}
		out = append(out, row)
	}
}

// delimiter picks ; when the header row has more semicolons than commas,
// as spreadsheets in many locales write CSV.
func delimiter(data []byte) rune {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		return ';'
	}
	return ','
}

// kindOf reads a kind cell: pending or external, or a type name.
func kindOf(cell string) (extdir.Kind, error) {
	c := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(cell)), "#microsoft.graph.")
	switch c {
	case "", "pending", "pendingexternaluserprofile":
		return extdir.KindPending, nil
	case "external", "externaluserprofile":
		return extdir.KindExternal, nil
	}
	return 0, extdir.Errorf(extdir.EInvalid, "Invalid kind '%s': it is pending or external.", cell)
}

func rowError(n, line int, err error) error {
	if line > 0 {
		return extdir.Errorf(extdir.ErrorCode(err), "Row %d (line %d): %s", n, line, extdir.ErrorMessage(err))
	}
	return extdir.Errorf(extdir.ErrorCode(err), "Row %d: %s", n, extdir.ErrorMessage(err))
}
