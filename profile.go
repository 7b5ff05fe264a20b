// Package extdir holds the domain of the external user profile directory: the
// two kinds of profile, their property table, the rules a body must follow,
// and the error codes every other package speaks. It imports nothing of ours.
package extdir

import (
	"strconv"
	"strings"
	"time"
)

// Kind is the concrete type of a profile. A pending profile becomes an
// external one when it is redeemed; the id stays the same.
type Kind uint8

const (
	// KindPending is a pendingExternalUserProfile: invited, not yet redeemed.
	KindPending Kind = 1
	// KindExternal is an externalUserProfile: redeemed.
	KindExternal Kind = 2
)

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{KindPending, KindExternal}

// TypeName is the OData entity type name without namespace.
func (k Kind) TypeName() string {
	if k == KindExternal {
		return "externalUserProfile"
	}
	return "pendingExternalUserProfile"
}

// QualifiedName is the namespace-qualified type name, as used in type casts
// such as /directory/deletedItems/microsoft.graph.externalUserProfile.
func (k Kind) QualifiedName() string { return "microsoft.graph." + k.TypeName() }

// ODataType is the value of the @odata.type annotation.
func (k Kind) ODataType() string { return "#microsoft.graph." + k.TypeName() }

// Collection is the navigation segment under /directory.
func (k Kind) Collection() string { return k.TypeName() + "s" }

// ResourceName is the name Graph uses for the type in error messages.
func (k Kind) ResourceName() string {
	if k == KindExternal {
		return "ExternalUserProfile"
	}
	return "PendingExternalUserProfile"
}

// ReadPermission is the least privileged permission that reads this kind.
func (k Kind) ReadPermission() string { return k.ResourceName() + ".Read.All" }

// WritePermission is the permission that creates, updates and deletes this kind.
// It also grants reads.
func (k Kind) WritePermission() string { return k.ResourceName() + ".ReadWrite.All" }

// String returns the type name.
func (k Kind) String() string { return k.TypeName() }

// KindByQualifiedName resolves a type cast segment, without regard to case
// as Graph matches path segments.
func KindByQualifiedName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if strings.EqualFold(name, k.QualifiedName()) {
			return k, true
		}
	}
	return 0, false
}

// KindByCollection resolves a /directory collection segment, without regard
// to case.
func KindByCollection(segment string) (Kind, bool) {
	for _, k := range Kinds {
		if strings.EqualFold(segment, k.Collection()) {
			return k, true
		}
	}
	return 0, false
}

// Address is the physicalOfficeAddress complex type; every field is nullable.
type Address struct {
	City            *string
	CountryOrRegion *string
	OfficeLocation  *string
	PostalCode      *string
	State           *string
	Street          *string
}

// Profile is one external profile, pending or redeemed, live or soft-deleted.
type Profile struct {
	// Tenant is the directory (Entra tid) the profile lives in; never rendered.
	Tenant string
	// Seq is the store's insertion order, the tie-breaker of keyset paging;
	// never rendered.
	Seq  int64
	Kind Kind

	ID              string
	DisplayName     string
	PhoneNumber     string
	CompanyName     *string
	SupervisorID    *string
	Department      *string
	JobTitle        *string
	IsDiscoverable  bool
	IsEnabled       bool
	Address         Address
	CreatedBy       string
	CreatedDateTime time.Time
	DeletedDateTime *time.Time
	Epoch           int64
}

// Deleted reports whether the profile is soft-deleted.
func (p *Profile) Deleted() bool { return p.DeletedDateTime != nil }

// ETag is the weak entity tag derived from the epoch: W/"<epoch>".
func (p *Profile) ETag() string { return `W/"` + strconv.FormatInt(p.Epoch, 10) + `"` }

// Clone returns a deep copy, so that a store can hand out profiles that
// callers may change freely.
func (p *Profile) Clone() *Profile {
	c := *p
	c.CompanyName = cloneString(p.CompanyName)
	c.SupervisorID = cloneString(p.SupervisorID)
	c.Department = cloneString(p.Department)
	c.JobTitle = cloneString(p.JobTitle)
	c.Address = Address{
		City:            cloneString(p.Address.City),
		CountryOrRegion: cloneString(p.Address.CountryOrRegion),
		OfficeLocation:  cloneString(p.Address.OfficeLocation),
		PostalCode:      cloneString(p.Address.PostalCode),
		State:           cloneString(p.Address.State),
		Street:          cloneString(p.Address.Street),
	}
	if p.DeletedDateTime != nil {
		t := *p.DeletedDateTime
		c.DeletedDateTime = &t
	}
	return &c
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

// Timestamp truncates t to whole seconds in UTC, the precision Graph renders
// and extdir stores.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
