// Package schemagen writes console/web/schema.js: what the web console
// must know of the server's rules, taken from the code that applies them,
// so that the console never holds a copy that drifts. It holds the
// property table (names, types, limits, what a create and a PATCH may set,
// the $filter operators, $orderby and $search), the kinds, the directory
// roles, and the numbering-plan metadata of the phone library that extdir
// invite normalises numbers with.
package schemagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
)

// property is one entry of the property table as the console reads it.
type property struct {
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	MaxLength  int        `json:"maxLength,omitempty"`
	Required   bool       `json:"required,omitempty"`
	Nullable   bool       `json:"nullable,omitempty"`
	OnCreate   bool       `json:"onCreate,omitempty"`
	OnUpdate   bool       `json:"onUpdate,omitempty"`
	Filter     []string   `json:"filter,omitempty"`
	Sortable   bool       `json:"sortable,omitempty"`
	Searchable bool       `json:"searchable,omitempty"`
	Fields     []property `json:"fields,omitempty"`
}

var typeNames = map[extdir.Type]string{
	extdir.TypeString: "string", extdir.TypeBoolean: "boolean", extdir.TypeDateTimeOffset: "datetime",
	extdir.TypeInt32: "int", extdir.TypeAddress: "address",
}

func convert(p *extdir.Property) property {
	out := property{
		Name: p.Name, Type: typeNames[p.Type], MaxLength: p.MaxLength, Required: p.Required, Nullable: p.Nullable,
		OnCreate: p.OnCreate, OnUpdate: p.OnUpdate, Sortable: p.Sortable, Searchable: p.Searchable,
	}
	for _, op := range []struct {
		op   extdir.Op
		name []string
	}{
		{extdir.OpEq, []string{"eq"}}, {extdir.OpNe, []string{"ne"}}, {extdir.OpStartsWith, []string{"startswith"}},
		{extdir.OpIn, []string{"in"}}, {extdir.OpOrder, []string{"ge", "gt", "le", "lt"}},
	} {
		if p.Filter.Has(op.op) {
			out.Filter = append(out.Filter, op.name...)
		}
	}
	for _, f := range p.Fields {
		out.Fields = append(out.Fields, convert(f))
	}
	return out
}

// region is one region's numbering plan, as parsing a number needs it:
// [calling code, international prefix, national prefix for parsing, its
// transform rule, the national number pattern, possible lengths,
// lengths possible only locally].
type region [7]any

func plan(m *phonenumbers.PhoneMetadata) region {
	d := m.GetGeneralDesc()
	pl, lo := d.GetPossibleLength(), d.GetPossibleLengthLocalOnly()
	if pl == nil {
		pl = []int32{}
	}
	if lo == nil {
		lo = []int32{}
	}
	return region{m.GetCountryCode(), m.GetInternationalPrefix(), m.GetNationalPrefixForParsing(), m.GetNationalPrefixTransformRule(), d.GetNationalNumberPattern(), pl, lo}
}

// jsPattern is a Go pattern of the library in JavaScript's syntax: the
// same text, with the case-insensitive flag moved out of it.
func jsPattern(p string) (source, flags string) {
	if rest, ok := strings.CutPrefix(p, "(?i)"); ok {
		return rest, "iu"
	}
	return p, "u"
}

// digitZeros are the code points of the Unicode decimal digits zero: each
// starts a run of ten (unicode.Nd).
func digitZeros() []rune {
	var out []rune
	for _, r := range unicode.Nd.R16 {
		for c := rune(r.Lo); c <= rune(r.Hi); c += 10 {
			out = append(out, c)
		}
	}
	for _, r := range unicode.Nd.R32 {
		for c := rune(r.Lo); c <= rune(r.Hi); c += 10 {
			out = append(out, c)
		}
	}
	return out
}

// Generate returns the content of schema.js.
func Generate() ([]byte, error) {
	var props []property
	for _, p := range extdir.Properties {
		props = append(props, convert(p))
	}
	kinds := map[string]any{}
	for _, k := range extdir.Kinds {
		kinds[k.TypeName()] = map[string]string{"collection": k.Collection(), "resource": k.ResourceName(), "qualified": k.QualifiedName(), "read": k.ReadPermission(), "write": k.WritePermission()}
	}

	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, fmt.Errorf("phone metadata: %w", err)
	}
	regions := map[string]region{}
	nonGeo := map[string]region{}
	main := map[string]string{}
	for _, m := range coll.GetMetadata() {
		cc := m.GetCountryCode()
		main[fmt.Sprint(cc)] = phonenumbers.GetRegionCodeForCountryCode(int(cc))
		if m.GetId() == "001" {
			nonGeo[fmt.Sprint(cc)] = plan(m)
			continue
		}
		regions[m.GetId()] = plan(m)
	}
	patterns := map[string][2]string{}
	for name, re := range map[string]interface{ String() string }{
		"validStart": phonenumbers.VALID_START_CHAR_PATTERN, "secondNumber": phonenumbers.SECOND_NUMBER_START_PATTERN,
		"validPhone": phonenumbers.VALID_PHONE_NUMBER_PATTERN, "extension": phonenumbers.EXTN_PATTERN,
		"alpha": phonenumbers.VALID_ALPHA_PHONE_PATTERN, "plus": phonenumbers.PLUS_CHARS_PATTERN,
	} {
		src, flags := jsPattern(re.String())
		patterns[name] = [2]string{src, flags}
	}
	alpha := map[string]string{}
	for k, v := range phonenumbers.ALPHA_PHONE_MAPPINGS {
		alpha[string(k)] = string(v)
	}
	phone := map[string]any{
		"minNSN": phonenumbers.MIN_LENGTH_FOR_NSN, "maxNSN": phonenumbers.MAX_LENGTH_FOR_NSN,
		"maxInput": phonenumbers.MAX_INPUT_STRING_LENGTH, "maxCountryCode": phonenumbers.MAX_LENGTH_COUNTRY_CODE,
		"regions": regions, "nonGeographic": nonGeo, "mainRegion": main, "patterns": patterns,
		"alpha": alpha, "digitZeros": digitZeros(),
	}

	roles := auth.DirectoryRoles()
	var b bytes.Buffer
	b.WriteString("// Generated by go generate ./console (console/internal/genschema) from the\n")
	b.WriteString("// property table, the kinds and roles of package auth, and the numbering\n")
	b.WriteString("// plans of github.com/nyaruka/phonenumbers; do not edit.\n\n")
	for _, d := range []struct {
		name, doc string
		v         any
	}{
		{"properties", "The property table of externalProfile, in the order responses render them.", props},
		{"kinds", "The two kinds of profile, by type name.", kinds},
		{"permissions", "The Graph permissions of the API.", auth.Permissions()},
		{"roles", "The directory roles that let a delegated caller in, by template id.", roles},
		{"phone", "What reading a phone number needs of the numbering plans.", phone},
	} {
		j, err := json.Marshal(d.v)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "// %s\nexport const %s = %s;\n\n", d.doc, d.name, j)
	}
	out := bytes.TrimRight(b.Bytes(), "\n")
	return append(out, '\n'), nil
}
