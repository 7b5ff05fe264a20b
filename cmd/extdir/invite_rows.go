package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/internal/phone"
)

// The input side of extdir invite: a CSV file read as a stream (twice:
// once to check every row, once to send), each row checked by the
// domain's own value rules after its phone number is normalised to E.164.

// utf8BOM starts the CSV files that spreadsheets save as "UTF-8".
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// csvInput reads the rows of the file.
type csvInput struct {
	f      *os.File
	r      *csv.Reader
	header *extdir.Header
	comma  rune
	phone  int // column indexes
	name   int
	cells  []string
}

// openCSV opens the file and reads its header: BOM dropped, delimiter
// taken from the header line (semicolons when it has more of them than
// commas, as spreadsheets in many locales write, likewise tabs), header
// names matched to the API's properties by the domain's ParseHeader.
func openCSV(path string) (*csvInput, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	first, _ := br.Peek(br.Size())
	first, _, _ = bytes.Cut(first, []byte("\n"))
	comma := ','
	commas, semis, tabs := bytes.Count(first, []byte(",")), bytes.Count(first, []byte(";")), bytes.Count(first, []byte("\t"))
	switch {
	case semis > commas && semis >= tabs:
		comma = ';'
	case tabs > commas && tabs > semis:
		comma = '\t'
	}
	r := csv.NewReader(br)
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		f.Close()
		return nil, errors.New("the file is empty: it needs a header row naming the columns (displayName, phoneNumber, ...)")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("the header row is not CSV: %v", err)
	}
	head = trimCells(append([]string(nil), head...))
	h, err := extdir.ParseHeader(head)
	if err != nil {
		f.Close()
		return nil, errors.New(extdir.ErrorMessage(err))
	}
	var missing []string
	for _, p := range extdir.Properties {
		if p.Required && h.Index(p.Name) < 0 {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		f.Close()
		return nil, fmt.Errorf("the header has no %s column: each invitation needs %s", strings.Join(missing, " and no "), strings.Join(missing, " and "))
	}
	return &csvInput{f: f, r: r, header: h, comma: comma, phone: h.Index("phoneNumber"), name: h.Index("displayName")}, nil
}

func (in *csvInput) Close() error { return in.f.Close() }

// next returns the next row that is not blank and the line it starts on
// (the header is line 1, as a spreadsheet numbers rows). The cells are the
// reader's until the next call.
func (in *csvInput) next() ([]string, int, error) {
	for {
		rec, err := in.r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, 0, io.EOF
			}
			line, _ := in.r.FieldPos(0)
			return nil, line, fmt.Errorf("line %d is not CSV: %v", line, err)
		}
		line, _ := in.r.FieldPos(0)
		in.cells = trimCells(append(in.cells[:0], rec...))
		blank := true
		for _, c := range in.cells {
			blank = blank && c == ""
		}
		if !blank {
			return in.cells, line, nil
		}
	}
}

// trimCells drops the spaces around each cell, which spreadsheets keep
// and nobody means.
func trimCells(cells []string) []string {
	for i, c := range cells {
		cells[i] = strings.TrimSpace(c)
	}
	return cells
}

// inviteRow is a checked row.
type inviteRow struct {
	line  int
	phone string // E.164, as sent; the cell as written when it is no number
	name  string
	body  []byte // the create body; nil when the row is invalid
	err   string // why the row is invalid
}

// checkRow normalises the phone number and applies the API's rules to the
// row, as POST /directory/pendingExternalUserProfiles would.
func (in *csvInput) checkRow(cells []string, line int, region string) inviteRow {
	row := inviteRow{line: line}
	if in.name < len(cells) {
		row.name = cells[in.name]
	}
	if in.phone < len(cells) && cells[in.phone] != "" {
		row.phone = cells[in.phone]
		e164, err := phone.Normalise(cells[in.phone], region)
		if err != nil {
			row.err = extdir.ErrorMessage(err)
			return row
		}
		row.phone = e164
		cells[in.phone] = e164
	}
	changes, err := in.header.Decode(extdir.KindPending, extdir.ModeCreate, cells)
	if err != nil {
		row.err = extdir.ErrorMessage(err)
		return row
	}
	row.body = createBody(changes)
	return row
}

// phoneKey is an E.164 number as an integer: "+" and at most 15 digits,
// the first not 0, so distinct numbers have distinct keys and a set of a
// million of them stays small.
func phoneKey(e164 string) uint64 {
	k, _ := strconv.ParseUint(strings.TrimPrefix(e164, "+"), 10, 64)
	return k
}

// createBody renders validated changes as the JSON body of a create, the
// address fields in one object.
func createBody(changes extdir.Changes) []byte {
	address, _ := extdir.PropertyByName("address")
	isAddress := func(p *extdir.Property) bool {
		for _, f := range address.Fields {
			if f == p {
				return true
			}
		}
		return false
	}
	b := []byte{'{'}
	member := func(name string, v extdir.Value, t extdir.Type) {
		if len(b) > 1 && b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		name2, _ := json.Marshal(name)
		b = append(b, name2...)
		b = append(b, ':')
		switch {
		case v.Null:
			b = append(b, "null"...)
		case t == extdir.TypeBoolean:
			b = strconv.AppendBool(b, v.Bool)
		default:
			s, _ := json.Marshal(v.Str)
			b = append(b, s...)
		}
	}
	var addr []extdir.Change
	for _, ch := range changes {
		if isAddress(ch.Prop) {
			addr = append(addr, ch)
			continue
		}
		member(ch.Prop.Name, ch.Value, ch.Prop.Type)
	}
	if len(addr) > 0 {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, `"address":{`...)
		for _, ch := range addr {
			member(ch.Prop.Name, ch.Value, ch.Prop.Type)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// bitset is a set of line numbers.
type bitset []uint64

func (s *bitset) add(i int) {
	for i/64 >= len(*s) {
		*s = append(*s, 0)
	}
	(*s)[i/64] |= 1 << (i % 64)
}

func (s bitset) has(i int) bool { return i >= 0 && i/64 < len(s) && s[i/64]&(1<<(i%64)) != 0 }
