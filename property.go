package extdir

import "time"

// Type is the EDM type of a property.
type Type uint8

const (
	// TypeString is Edm.String.
	TypeString Type = iota + 1
	// TypeBoolean is Edm.Boolean.
	TypeBoolean
	// TypeDateTimeOffset is Edm.DateTimeOffset, kept in whole seconds.
	TypeDateTimeOffset
	// TypeInt32 is Edm.Int32.
	TypeInt32
	// TypeAddress is the complex type microsoft.graph.physicalOfficeAddress.
	TypeAddress
)

// EDMName is the CSDL name of the type.
func (t Type) EDMName() string {
	switch t {
	case TypeString:
		return "Edm.String"
	case TypeBoolean:
		return "Edm.Boolean"
	case TypeDateTimeOffset:
		return "Edm.DateTimeOffset"
	case TypeInt32:
		return "Edm.Int32"
	case TypeAddress:
		return "microsoft.graph.physicalOfficeAddress"
	}
	return "Edm.Untyped"
}

// Value is one property value of a scalar type. Exactly one of the typed
// fields is meaningful, chosen by the property's Type, unless Null is set.
type Value struct {
	Null bool
	Str  string
	Bool bool
	Int  int64
	Time time.Time
}

// StringValue wraps a non-null string.
func StringValue(s string) Value { return Value{Str: s} }

// Op is a set of $filter operators a property supports.
type Op uint16

const (
	// OpEq is eq (and the in operator, which is a list of eq).
	OpEq Op = 1 << iota
	// OpNe is ne.
	OpNe
	// OpStartsWith is startswith(prop,'x').
	OpStartsWith
	// OpOrder is gt, ge, lt, le.
	OpOrder
	// OpIn is in (...).
	OpIn
)

// Has reports whether every operator in o is in the set.
func (s Op) Has(o Op) bool { return s&o == o }

// Property declares one property of externalProfile: how it is named on the
// wire, typed, limited, stored, filtered and rendered. It is the single list
// that validation, rendering, storage, $select, $filter and $metadata read.
type Property struct {
	// Name is the JSON and OData name.
	Name string
	Type Type
	// Column is the storage column of a scalar property; empty for a complex
	// one, whose Fields carry the columns.
	Column string
	// MaxLength bounds a string value in characters (runes); 0 means no bound.
	MaxLength int
	// Required properties must be present and non-null in a create body.
	Required bool
	// Nullable properties may be set to null.
	Nullable bool
	// OnCreate properties may be given in a create body.
	OnCreate bool
	// OnUpdate properties may be given in a PATCH body.
	OnUpdate bool
	// Filter is the set of $filter operators allowed on it.
	Filter Op
	// Sortable properties may be used in $orderby.
	Sortable bool
	// Searchable properties may be used in $search.
	Searchable bool
	// Fields are the properties of a complex type.
	Fields []*Property

	// Get reads the value of a scalar property.
	Get func(*Profile) Value
	// Set writes the value of a scalar property.
	Set func(*Profile, Value)
	// Field, on an optional string, is where the profile keeps it, so that
	// a decoder can point many of them into one allocation.
	Field func(*Profile) **string
}

// ReadOnly reports whether a client may never write the property.
func (p *Property) ReadOnly() bool { return !p.OnCreate && !p.OnUpdate }

// Leaves returns the property itself, or the fields of a complex property:
// the properties that have a storage column.
func (p *Property) Leaves() []*Property {
	if p.Type == TypeAddress {
		return p.Fields
	}
	return []*Property{p}
}

// stringFilter is what every plain string property supports in $filter.
const stringFilter = OpEq | OpNe | OpStartsWith | OpIn

func optionalString(name, column string, max int, field func(*Profile) **string) *Property {
	return &Property{
		Name: name, Type: TypeString, Column: column, MaxLength: max,
		Nullable: true, OnCreate: true, OnUpdate: true, Filter: stringFilter,
		Field: field,
		Get: func(p *Profile) Value {
			s := *field(p)
			if s == nil {
				return Value{Null: true}
			}
			return Value{Str: *s}
		},
		Set: func(p *Profile, v Value) {
			if v.Null {
				*field(p) = nil
				return
			}
			s := v.Str
			*field(p) = &s
		},
	}
}

func addressField(name, column string, max int, field func(*Address) **string) *Property {
	return optionalString(name, column, max, func(p *Profile) **string { return field(&p.Address) })
}

func boolean(name, column string, field func(*Profile) *bool) *Property {
	return &Property{
		Name: name, Type: TypeBoolean, Column: column,
		OnCreate: true, OnUpdate: true, Filter: OpEq | OpNe,
		Get: func(p *Profile) Value { return Value{Bool: *field(p)} },
		Set: func(p *Profile, v Value) { *field(p) = v.Bool },
	}
}

// Properties is the property table of externalProfile, in the order
// responses render them.
var Properties = []*Property{
	{
		Name: "id", Type: TypeString, Column: "id", Filter: OpEq | OpIn,
		Get: func(p *Profile) Value { return Value{Str: p.ID} },
		Set: func(p *Profile, v Value) { p.ID = v.Str },
	},
	{
		Name: "deletedDateTime", Type: TypeDateTimeOffset, Column: "deleted_at", Nullable: true,
		Get: func(p *Profile) Value {
			if p.DeletedDateTime == nil {
				return Value{Null: true}
			}
			return Value{Time: *p.DeletedDateTime}
		},
		Set: func(p *Profile, v Value) {
			if v.Null {
				p.DeletedDateTime = nil
				return
			}
			t := v.Time
			p.DeletedDateTime = &t
		},
	},
	{
		Name: "createdDateTime", Type: TypeDateTimeOffset, Column: "created_at",
		Filter: OpEq | OpNe | OpOrder, Sortable: true,
		Get: func(p *Profile) Value { return Value{Time: p.CreatedDateTime} },
		Set: func(p *Profile, v Value) { p.CreatedDateTime = v.Time },
	},
	{
		Name: "createdBy", Type: TypeString, Column: "created_by", Filter: stringFilter,
		Get: func(p *Profile) Value { return Value{Str: p.CreatedBy} },
		Set: func(p *Profile, v Value) { p.CreatedBy = v.Str },
	},
	withSearch(optionalString("companyName", "company_name", 64, func(p *Profile) **string { return &p.CompanyName })),
	{
		Name: "displayName", Type: TypeString, Column: "display_name", MaxLength: 256,
		Required: true, OnCreate: true, OnUpdate: true, Filter: stringFilter,
		Sortable: true, Searchable: true,
		Get: func(p *Profile) Value { return Value{Str: p.DisplayName} },
		Set: func(p *Profile, v Value) { p.DisplayName = v.Str },
	},
	optionalString("jobTitle", "job_title", 128, func(p *Profile) **string { return &p.JobTitle }),
	boolean("isDiscoverable", "is_discoverable", func(p *Profile) *bool { return &p.IsDiscoverable }),
	boolean("isEnabled", "is_enabled", func(p *Profile) *bool { return &p.IsEnabled }),
	optionalString("department", "department", 64, func(p *Profile) **string { return &p.Department }),
	{
		// The phone number is the invitation's identity: set once, never patched.
		Name: "phoneNumber", Type: TypeString, Column: "phone_number", MaxLength: 16,
		Required: true, OnCreate: true, Filter: stringFilter, Searchable: true,
		Get: func(p *Profile) Value { return Value{Str: p.PhoneNumber} },
		Set: func(p *Profile, v Value) { p.PhoneNumber = v.Str },
	},
	{
		Name: "address", Type: TypeAddress, Nullable: true, OnCreate: true, OnUpdate: true,
		Fields: []*Property{
			addressField("city", "address_city", 128, func(a *Address) **string { return &a.City }),
			addressField("countryOrRegion", "address_country_or_region", 128, func(a *Address) **string { return &a.CountryOrRegion }),
			addressField("officeLocation", "address_office_location", 128, func(a *Address) **string { return &a.OfficeLocation }),
			addressField("postalCode", "address_postal_code", 128, func(a *Address) **string { return &a.PostalCode }),
			addressField("state", "address_state", 128, func(a *Address) **string { return &a.State }),
			addressField("street", "address_street", 1024, func(a *Address) **string { return &a.Street }),
		},
	},
	optionalString("supervisorId", "supervisor_id", 64, func(p *Profile) **string { return &p.SupervisorID }),
	{
		Name: "epoch", Type: TypeInt32, Column: "epoch",
		Get: func(p *Profile) Value { return Value{Int: p.Epoch} },
		Set: func(p *Profile, v Value) { p.Epoch = v.Int },
	},
}

func withSearch(p *Property) *Property {
	p.Searchable = true
	return p
}

var propertyByName = func() map[string]*Property {
	m := make(map[string]*Property, len(Properties))
	for _, p := range Properties {
		m[p.Name] = p
	}
	return m
}()

// PropertyByName finds a top-level property by its exact (case-sensitive)
// name, as Graph matches property names.
func PropertyByName(name string) (*Property, bool) {
	p, ok := propertyByName[name]
	return p, ok
}

// FieldByName finds a field of a complex property.
func (p *Property) FieldByName(name string) (*Property, bool) {
	for _, f := range p.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// Columns lists every stored scalar property in table order, complex fields
// flattened: the column list of every storage backend.
var Columns = func() []*Property {
	var cols []*Property
	for _, p := range Properties {
		cols = append(cols, p.Leaves()...)
	}
	return cols
}()
