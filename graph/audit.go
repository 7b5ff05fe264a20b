package graph

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
)

// The audit log, as Graph serves it: GET /beta/auditLogs/directoryAudits
// and /{id}, under AuditLog.Read.All, tenant-isolated. The records are the
// Directory's (audit.go in the root package); this file reads and renders.

// AuditLogRead is the permission that reads the audit log.
const AuditLogRead = auth.PermissionAuditLogRead

// auditOptions are the query options of the audit listing.
type auditOptions struct {
	filter    odata.Expr
	ascending bool
	top       int
	skipToken string
}

// parseAuditOptions reads $filter, $orderby (activityDateTime, either
// way), $top and $skiptoken; other system query options are refused, so
// that a client does not take a page for what it asked.
func parseAuditOptions(rawQuery string) (*auditOptions, error) {
	o := &auditOptions{top: odata.DefaultTop}
	err := odata.EachOption(rawQuery, func(name, value string) error {
		value = strings.TrimSpace(value)
		switch name {
		case "filter":
			if value == "" {
				return nil
			}
			e, err := odata.ParseAuditFilter(value)
			if err != nil {
				return err
			}
			o.filter = e
		case "orderby":
			switch f := strings.Fields(value); {
			case len(f) == 0:
			case f[0] == "activityDateTime" && len(f) == 1, f[0] == "activityDateTime" && len(f) == 2 && strings.EqualFold(f[1], "asc"):
				o.ascending = true
			case f[0] == "activityDateTime" && len(f) == 2 && strings.EqualFold(f[1], "desc"):
			default:
				return extdir.Errorf(extdir.EBadRequest, "Invalid $orderby '%s': the audit log sorts by activityDateTime only, asc or desc.", value)
			}
		case "top":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > odata.MaxTop {
				return extdir.Errorf(extdir.EBadRequest, "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", value, odata.MaxTop)
			}
			o.top = n
		case "skiptoken":
			o.skipToken = value
		default:
			return extdir.Errorf(extdir.EBadRequest, "Query option '$%s' is not supported on auditLogs/directoryAudits; use $filter, $orderby, $top and the @odata.nextLink.", name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// auditSkipToken is the cursor of the next page, with the order it was
// issued for.
type auditSkipToken struct {
	Asc  bool  `json:"a,omitempty"`
	Time int64 `json:"t"`
	Seq  int64 `json:"s"`
}

func encodeAuditSkipToken(c *store.AuditCursor, asc bool) string {
	b, _ := json.Marshal(auditSkipToken{Asc: asc, Time: c.Time.UnixMicro(), Seq: c.Seq})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeAuditSkipToken(s string, asc bool) (*store.AuditCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	var t auditSkipToken
	if err != nil || len(s) > 256 || json.Unmarshal(raw, &t) != nil || t.Asc != asc || t.Seq < 0 {
		return nil, errBadSkipToken
	}
	return &store.AuditCursor{Time: time.UnixMicro(t.Time).UTC(), Seq: t.Seq}, nil
}

func (s *Server) listAudits(c *call) error {
	if err := c.require(AuditLogRead); err != nil {
		return err
	}
	o, err := parseAuditOptions(c.r.URL.RawQuery)
	if err != nil {
		return err
	}
	q := store.AuditQuery{Tenant: c.caller.Tenant, Filter: o.filter, Ascending: o.ascending, Top: o.top}
	if o.skipToken != "" {
		if q.After, err = decodeAuditSkipToken(o.skipToken, o.ascending); err != nil {
			return err
		}
	}
	page, err := s.Store.ListAudits(c.r.Context(), q)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 256+len(page.Records)*900)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, s.contextURL(c.r, "auditLogs/directoryAudits"))
	if page.Next != nil {
		b = append(b, `,"@odata.nextLink":`...)
		b = appendString(b, nextLink(s.origin(c.r), c.r.URL.EscapedPath(), c.r.URL.RawQuery, encodeAuditSkipToken(page.Next, o.ascending)))
	}
	b = append(b, `,"value":[`...)
	for i, r := range page.Records {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAudit(b, r)
	}
	b = append(b, "]}"...)
	writeJSON(c.w, http.StatusOK, b)
	return nil
}

func (s *Server) getAudit(c *call) error {
	if err := c.require(AuditLogRead); err != nil {
		return err
	}
	r, err := s.Store.GetAudit(c.r.Context(), c.caller.Tenant, c.id)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 1024)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, s.contextURL(c.r, "auditLogs/directoryAudits/$entity"))
	b = append(b, ',')
	b = appendAuditMembers(b, r)
	writeJSON(c.w, http.StatusOK, b)
	return nil
}

// appendAudit writes one directoryAudit object in Graph's member order.
func appendAudit(b []byte, r *extdir.AuditRecord) []byte {
	return appendAuditMembers(append(b, '{'), r)
}

func appendAuditMembers(b []byte, r *extdir.AuditRecord) []byte {
	b = append(b, `"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"category":`...)
	b = appendString(b, extdir.AuditCategory)
	b = append(b, `,"correlationId":`...)
	b = appendString(b, r.CorrelationID)
	b = append(b, `,"result":`...)
	b = appendString(b, extdir.AuditSuccess)
	b = append(b, `,"resultReason":"","activityDisplayName":`...)
	b = appendString(b, r.Activity)
	b = append(b, `,"activityDateTime":`...)
	b = appendString(b, r.Time.UTC().Format("2006-01-02T15:04:05.0000000Z"))
	b = append(b, `,"loggedByService":`...)
	b = appendString(b, extdir.AuditService)
	b = append(b, `,"operationType":`...)
	b = appendString(b, r.OperationType)
	b = append(b, `,"userAgent":null,"initiatedBy":{`...)
	in := r.Initiator
	if in.User {
		b = append(b, `"app":null,"user":{"id":`...)
		b = appendString(b, in.UserID)
		b = append(b, `,"displayName":null,"userPrincipalName":`...)
		b = appendNullable(b, in.UPN)
		b = append(b, `,"ipAddress":"","userType":null,"homeTenantId":null,"homeTenantName":null}}`...)
	} else {
		b = append(b, `"app":{"appId":`...)
		b = appendNullable(b, in.AppID)
		b = append(b, `,"displayName":`...)
		b = appendNullable(b, in.AppName)
		b = append(b, `,"servicePrincipalId":`...)
		b = appendNullable(b, in.ServicePrincipalID)
		b = append(b, `,"servicePrincipalName":null},"user":null}`...)
	}
	b = append(b, `,"targetResources":[{"id":`...)
	b = appendString(b, r.Target.ID)
	b = append(b, `,"displayName":`...)
	b = appendString(b, r.Target.DisplayName)
	b = append(b, `,"type":`...)
	b = appendString(b, r.Target.Type)
	b = append(b, `,"userPrincipalName":null,"groupType":null,"modifiedProperties":[`...)
	for i, m := range r.Target.Modified {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"displayName":`...)
		b = appendString(b, m.Name)
		b = append(b, `,"oldValue":`...)
		b = appendNullablePtr(b, m.Old)
		b = append(b, `,"newValue":`...)
		b = appendNullablePtr(b, m.New)
		b = append(b, '}')
	}
	return append(b, `]}],"additionalDetails":[]}`...)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

func appendNullablePtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}
