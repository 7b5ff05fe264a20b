package extdir

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The audit log, Graph's way: every change to a profile writes one
// microsoft.graph.directoryAudit record, in the same transaction as the
// change, so that no change is stored without its record and no record
// without its change. The Directory builds the record (who, what, which
// properties from what to what); the store only keeps it beside the change.

// Audit constants every record of extdir carries.
const (
	AuditCategory = "UserManagement"
	AuditService  = "Core Directory"
	AuditSuccess  = "success"
)

// AuditRecord is one directoryAudit.
type AuditRecord struct {
	// Tenant is the directory the change happened in; never rendered.
	Tenant string
	// Seq is the store's insertion order, the tie-breaker of paging.
	Seq int64
	// ID is a GUID.
	ID string
	// Time is activityDateTime, kept to the microsecond.
	Time time.Time
	// Activity is activityDisplayName, such as "Invite external user";
	// OperationType is Add, Update or Delete.
	Activity      string
	OperationType string
	// CorrelationID is the request-id of the request that made the change
	// (for a seed, import or the retention sweep: an id of its own).
	CorrelationID string
	Initiator     Initiator
	Target        AuditTarget
}

// Initiator is initiatedBy: an app, or a user (with the app it used).
type Initiator struct {
	// User is set for a delegated caller.
	User bool
	// The app: appId, servicePrincipalId (the token's oid for an app-only
	// caller) and displayName.
	AppID, ServicePrincipalID, AppName string
	// The user: id (oid) and userPrincipalName.
	UserID, UPN string
}

// AuditTarget is the one targetResource: the profile.
type AuditTarget struct {
	ID, DisplayName string
	// Type is the profile's resource name, PendingExternalUserProfile or
	// ExternalUserProfile.
	Type     string
	Modified []ModifiedProperty
}

// ModifiedProperty is one modifiedProperties entry. Old and New are JSON
// texts, as Entra writes them ("[\"Contoso\"]"); nil is null.
type ModifiedProperty struct {
	Name     string
	Old, New *string
}

// The activities of extdir's audit log, by what the Directory did.
const (
	ActivityInvite  = "Invite external user"
	ActivityUpdate  = "Update external user profile"
	ActivityDelete  = "Delete external user profile"
	ActivityRestore = "Restore external user profile"
	ActivityRedeem  = "Redeem external user invitation"
	ActivityPurge   = "Hard delete external user profile"
	ActivityExpire  = "Hard delete external user profile (retention)"
	ActivitySeed    = "Seed external user profile"
	ActivityImport  = "Import external user profile"
)

// operationTypes maps each activity to Graph's operationType.
var operationTypes = map[string]string{
	ActivityInvite:  "Add",
	ActivityUpdate:  "Update",
	ActivityDelete:  "Delete",
	ActivityRestore: "Update",
	ActivityRedeem:  "Update",
	ActivityPurge:   "Delete",
	ActivityExpire:  "Delete",
	ActivitySeed:    "Add",
	ActivityImport:  "Add",
}

// SystemInitiator is the initiator of what extdir does by itself: the
// retention sweep, and seeds and imports from the command line.
var SystemInitiator = Initiator{AppID: "00000000-0000-0000-0000-000000000000", AppName: "extdir"}

// newRecord starts the record of an activity on p by the actor.
func newRecord(a Actor, activity string, p *Profile, now time.Time) *AuditRecord {
	return &AuditRecord{
		Tenant:        p.Tenant,
		ID:            newObjectID(),
		Time:          now.UTC().Truncate(time.Microsecond),
		Activity:      activity,
		OperationType: operationTypes[activity],
		CorrelationID: a.correlationID(),
		Initiator:     a.initiator(),
		Target:        AuditTarget{ID: p.ID, DisplayName: p.DisplayName, Type: p.Kind.ResourceName()},
	}
}

// modified lists the properties whose stored value differs between before
// and after (nil before: a new profile, every property set), with the kind
// first when it changed. The epoch is bookkeeping, not a property a person
// changed, and is left out.
func modified(before, after *Profile) []ModifiedProperty {
	n := 4
	if before == nil {
		n = len(Properties) + 6
	}
	out := make([]ModifiedProperty, 0, n)
	if before != nil && before.Kind != after.Kind {
		out = append(out, ModifiedProperty{Name: "@odata.type", Old: jsonText(before.Kind.ODataType()), New: jsonText(after.Kind.ODataType())})
	}
	for _, l := range leafOrder {
		nv := l.prop.Get(after)
		if before == nil {
			if !nv.Null {
				out = append(out, ModifiedProperty{Name: l.path, New: valueText(l.prop, nv)})
			}
			continue
		}
		if ov := l.prop.Get(before); !sameValue(l.prop, ov, nv) {
			out = append(out, ModifiedProperty{Name: l.path, Old: valueText(l.prop, ov), New: valueText(l.prop, nv)})
		}
	}
	return out
}

// modifiedBy lists what applying changes to p will modify, read before
// they are applied: the properties whose value they change, in the
// property table's order, as modified would list them, without a copy of
// the profile (a PATCH is a hot path, and the store copies it already).
func modifiedBy(p *Profile, changes Changes) []ModifiedProperty {
	out := make([]ModifiedProperty, 0, len(changes))
	for _, leaf := range leafOrder {
		for _, ch := range changes {
			if ch.Prop != leaf.prop {
				continue
			}
			if old := leaf.prop.Get(p); !sameValue(leaf.prop, old, ch.Value) {
				out = append(out, ModifiedProperty{Name: leaf.path, Old: valueText(leaf.prop, old), New: valueText(leaf.prop, ch.Value)})
			}
		}
	}
	return out
}

// leafPath is a leaf property with the path its audit entry names.
type leafPath struct {
	prop *Property
	path string
}

// leafOrder is every leaf property but the epoch (bookkeeping, not a
// change a person made) and the id, in the table's order.
var leafOrder = func() []leafPath {
	var out []leafPath
	for _, prop := range Properties {
		if prop.Name == "epoch" || prop.Name == "id" {
			continue
		}
		for _, leaf := range prop.Leaves() {
			path := leaf.Name
			if leaf != prop {
				path = prop.Name + "/" + leaf.Name
			}
			out = append(out, leafPath{leaf, path})
		}
	}
	return out
}()

func sameValue(p *Property, a, b Value) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	switch p.Type {
	case TypeBoolean:
		return a.Bool == b.Bool
	case TypeInt32:
		return a.Int == b.Int
	case TypeDateTimeOffset:
		return a.Time.Equal(b.Time)
	}
	return a.Str == b.Str
}

// valueText is a value as Entra's modifiedProperties write it: a JSON array
// of the value, as text; nil for null.
func valueText(p *Property, v Value) *string {
	if v.Null {
		return nil
	}
	var sb strings.Builder
	switch p.Type {
	case TypeBoolean:
		sb.WriteString("[" + strconv.FormatBool(v.Bool) + "]")
	case TypeInt32:
		sb.WriteString("[" + strconv.FormatInt(v.Int, 10) + "]")
	case TypeDateTimeOffset:
		sb.WriteString(`["` + v.Time.UTC().Format(time.RFC3339) + `"]`)
	default:
		return jsonText(v.Str)
	}
	s := sb.String()
	return &s
}

// jsonText is ["s"] as JSON text. Values are written on every change, so
// this escapes by hand rather than through encoding/json's reflection.
func jsonText(s string) *string {
	var sb strings.Builder
	sb.Grow(len(s) + 6)
	sb.WriteByte('[')
	writeJSONString(&sb, s)
	sb.WriteByte(']')
	t := sb.String()
	return &t
}

// EncodeModified writes modifiedProperties as the JSON array Graph renders
// ([{"displayName":…,"oldValue":…,"newValue":…}]): the form a store keeps.
func EncodeModified(ms []ModifiedProperty) string {
	var sb strings.Builder
	sb.Grow(64 * (len(ms) + 1))
	sb.WriteByte('[')
	for i, m := range ms {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"displayName":`)
		writeJSONString(&sb, m.Name)
		sb.WriteString(`,"oldValue":`)
		writeNullable(&sb, m.Old)
		sb.WriteString(`,"newValue":`)
		writeNullable(&sb, m.New)
		sb.WriteByte('}')
	}
	sb.WriteByte(']')
	return sb.String()
}

// DecodeModified reads what EncodeModified wrote.
func DecodeModified(s string) ([]ModifiedProperty, error) {
	var raw []struct {
		DisplayName string  `json:"displayName"`
		OldValue    *string `json:"oldValue"`
		NewValue    *string `json:"newValue"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, err
	}
	out := make([]ModifiedProperty, len(raw))
	for i, r := range raw {
		out[i] = ModifiedProperty{Name: r.DisplayName, Old: r.OldValue, New: r.NewValue}
	}
	return out, nil
}

func writeNullable(sb *strings.Builder, s *string) {
	if s == nil {
		sb.WriteString("null")
		return
	}
	writeJSONString(sb, *s)
}

// writeJSONString writes s as a JSON string: quotes, backslashes and
// control characters escaped; the rest as it is (valid UTF-8 comes from
// the value rules).
func writeJSONString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		sb.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case '\n':
			sb.WriteString(`\n`)
		case '\t':
			sb.WriteString(`\t`)
		case '\r':
			sb.WriteString(`\r`)
		default:
			sb.WriteString(`\u00`)
			sb.WriteByte("0123456789abcdef"[c>>4])
			sb.WriteByte("0123456789abcdef"[c&0xf])
		}
		start = i + 1
	}
	sb.WriteString(s[start:])
	sb.WriteByte('"')
}

// correlationID is the actor's request id, or a fresh one.
func (a Actor) correlationID() string {
	if a.CorrelationID != "" {
		return a.CorrelationID
	}
	return uuid.NewString()
}

func (a Actor) initiator() Initiator {
	switch {
	case a.Initiator != Initiator{}:
		return a.Initiator
	case a.ObjectID == "":
		return SystemInitiator
	}
	return Initiator{AppID: SystemInitiator.AppID, ServicePrincipalID: a.ObjectID, AppName: "extdir"}
}

// AuditProperties are the properties of directoryAudit that $filter takes,
// as Graph documents them, by their path: what the query language checks a
// filter against, and the columns the stores keep them in. Times are kept
// in microseconds (TypeDateTimeOffset with AuditTimeColumn's unit).
var AuditProperties = []*Property{
	{Name: "id", Type: TypeString, Column: "id", Filter: OpEq | OpIn},
	{Name: "activityDateTime", Type: TypeDateTimeOffset, Column: "activity_at", Filter: OpEq | OpOrder, Sortable: true},
	{Name: "activityDisplayName", Type: TypeString, Column: "activity", Filter: OpEq | OpStartsWith | OpIn},
	{Name: "category", Type: TypeString, Column: "category", Filter: OpEq},
	{Name: "correlationId", Type: TypeString, Column: "correlation_id", Filter: OpEq},
	{Name: "loggedByService", Type: TypeString, Column: "logged_by", Filter: OpEq},
	{Name: "operationType", Type: TypeString, Column: "operation_type", Filter: OpEq},
	{Name: "result", Type: TypeString, Column: "result", Filter: OpEq},
	{Name: "initiatedBy/app/appId", Type: TypeString, Column: "app_id", Nullable: true, Filter: OpEq},
	{Name: "initiatedBy/app/displayName", Type: TypeString, Column: "app_name", Nullable: true, Filter: OpEq},
	{Name: "initiatedBy/user/id", Type: TypeString, Column: "user_id", Nullable: true, Filter: OpEq},
	{Name: "initiatedBy/user/userPrincipalName", Type: TypeString, Column: "user_upn", Nullable: true, Filter: OpEq | OpStartsWith},
	{Name: "targetResources/id", Type: TypeString, Column: "target_id", Filter: OpEq | OpIn},
	{Name: "targetResources/displayName", Type: TypeString, Column: "target_name", Filter: OpEq | OpStartsWith},
}

// AuditPropertyByPath finds an audit property by its path, as written.
func AuditPropertyByPath(path string) (*Property, bool) {
	for _, p := range AuditProperties {
		if p.Name == path {
			return p, true
		}
	}
	return nil, false
}
