package extdir

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The value rules of the property table, apart from any wire format: the
// JSON decoder (body.go) calls them once it has turned a token into a Value,
// and so does every other decoder (a CSV row, a form), so that a value is
// accepted or refused with the same message whatever brought it.

// CheckWritable refuses a property that a body of the mode may not set:
// read-only ones (id, createdBy, createdDateTime, ...) always, phoneNumber
// in a PATCH. path is the name the error shows.
func (p *Property) CheckWritable(mode Mode, path string) error {
	if (mode == ModeCreate && !p.OnCreate) || (mode == ModeUpdate && !p.OnUpdate) {
		return Errorf(EInvalid, "Property '%s' is read-only and cannot be set.", path)
	}
	return nil
}

// CheckValue applies p's rules to a value of p's type, for a profile of kind
// k: null only where nullable, the length limit in characters, a non-blank
// displayName, the E.164 form of phoneNumber. path names the property in the
// error ("address/city").
func (p *Property) CheckValue(k Kind, path string, v Value) error {
	if v.Null {
		if !p.Nullable {
			return invalidValue(k, path, "It cannot be null.")
		}
		return nil
	}
	if p.Type != TypeString {
		return nil
	}
	switch p.Name {
	case "displayName":
		if strings.TrimSpace(v.Str) == "" {
			return invalidValue(k, path, "It cannot be empty.")
		}
	case "phoneNumber":
		// The format rule says more than the length limit it implies.
		if !ValidE164(v.Str) {
			return invalidValue(k, path, "It must be in E.164 format: '+' followed by 2 to 15 digits, the first of them not 0.")
		}
	}
	if p.MaxLength > 0 && utf8.RuneCountInString(v.Str) > p.MaxLength {
		return invalidValue(k, path, "It is longer than the limit of "+strconv.Itoa(p.MaxLength)+" characters.")
	}
	return nil
}

// CheckRequired refuses a create whose changes leave out a required property.
func (c Changes) CheckRequired(k Kind) error {
	for _, p := range Properties {
		if p.Required && !c.Has(p.Name) {
			return invalidValue(k, p.Name, "It is required.")
		}
	}
	return nil
}

// Set checks one assignment of a value to a property, named by its path
// ("displayName", "address/city"), and appends it to the changes: the whole
// rule set of one field for a decoder that has already parsed the value into
// the property's type. A create is complete once CheckRequired passes.
func (c *Changes) Set(k Kind, mode Mode, path string, v Value) error {
	top, field, nested := strings.Cut(path, "/")
	p, ok := PropertyByName(top)
	if !ok {
		return Errorf(EInvalid, "Invalid property '%s'.", path)
	}
	if err := p.CheckWritable(mode, top); err != nil {
		return err
	}
	if nested {
		f, ok := p.FieldByName(field)
		if !ok {
			return Errorf(EInvalid, "Invalid property '%s'.", path)
		}
		p = f
	} else if p.Type == TypeAddress {
		return Errorf(EInvalid, "Property '%s' is a complex type: set its fields, such as '%s/city'.", path, path)
	}
	if err := p.CheckValue(k, path, v); err != nil {
		return err
	}
	*c = append(*c, Change{Prop: p, Value: v})
	return nil
}

// ValidE164 checks the E.164 format: a plus sign, then 2 to 15 digits of
// which the first is 1-9. It is a format check, not a numbering-plan check,
// so the documentation's own +15555555555 passes.
func ValidE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func invalidValue(k Kind, path, why string) *Error {
	return Errorf(EInvalid, "Invalid value specified for property '%s' of resource '%s'. %s", path, k.ResourceName(), why)
}

// Check applies the value rules to a whole stored profile, as an import
// brings it: a known kind, a tenant and an id, a creation time, a positive
// epoch, and every property's value (the required ones present). It is the
// gate of data that did not come through a request body.
func (p *Profile) Check() error {
	if p.Kind != KindPending && p.Kind != KindExternal {
		return Errorf(EInvalid, "The profile has no known kind: give @odata.type %s or %s.", KindPending.ODataType(), KindExternal.ODataType())
	}
	if strings.TrimSpace(p.Tenant) == "" {
		return Errorf(EInvalid, "The profile %s has no tenant.", p.ID)
	}
	if strings.TrimSpace(p.ID) == "" {
		return invalidValue(p.Kind, "id", "It is required.")
	}
	if p.CreatedDateTime.IsZero() {
		return invalidValue(p.Kind, "createdDateTime", "It is required.")
	}
	if p.Epoch < 1 {
		return invalidValue(p.Kind, "epoch", "It must be at least 1.")
	}
	for _, prop := range Properties {
		for _, leaf := range prop.Leaves() {
			path := leaf.Name
			if leaf != prop {
				path = prop.Name + "/" + leaf.Name
			}
			if leaf.Type != TypeString {
				continue
			}
			if err := leaf.CheckValue(p.Kind, path, leaf.Get(p)); err != nil {
				return err
			}
		}
	}
	return nil
}
