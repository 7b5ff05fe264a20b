package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlfilter"
)

// The audit table (migrations 0002 on SQLite, 0004 on PostgreSQL): the SQL
// both backends share to write, read and page audit records.

// auditColumns are the audit table's columns after seq, in the order
// AuditArgs and ScanAudit use.
var auditColumns = []string{
	"tenant", "id", "activity_at", "activity", "category", "correlation_id", "logged_by",
	"operation_type", "result", "user_initiated", "app_id", "app_name", "sp_id",
	"user_id", "user_upn", "target_id", "target_name", "target_type", "modified",
}

// SelectAudit is "SELECT <every column> FROM audits".
var SelectAudit = "SELECT seq, " + strings.Join(auditColumns, ", ") + " FROM audits"

// AuditInsertSQL is the INSERT of one record with the dialect's placeholders.
func AuditInsertSQL(d sqlfilter.Dialect) string { return AuditInsertSQLAfter(d, 0) }

// AuditInsertSQLAfter is AuditInsertSQL with placeholders numbered after
// the offset first ones, for a statement that binds other values first.
func AuditInsertSQLAfter(d sqlfilter.Dialect, offset int) string {
	phs := make([]string, len(auditColumns))
	for i := range phs {
		phs[i] = d.Placeholder(offset + i + 1)
	}
	return "INSERT INTO audits (" + strings.Join(auditColumns, ", ") + ") VALUES (" + strings.Join(phs, ", ") + ")"
}

// AuditArgs are the values of r's columns, in auditColumns order.
func AuditArgs(d sqlfilter.Dialect, r *extdir.AuditRecord) []any {
	in := r.Initiator
	return []any{
		r.Tenant, r.ID, r.Time.UnixMicro(), r.Activity, extdir.AuditCategory, r.CorrelationID, extdir.AuditService,
		r.OperationType, extdir.AuditSuccess, d.Bool(in.User), nullable(in.AppID), nullable(in.AppName), nullable(in.ServicePrincipalID),
		nullable(in.UserID), nullable(in.UPN), r.Target.ID, r.Target.DisplayName, r.Target.Type, extdir.EncodeModified(r.Target.Modified),
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ScanAudit reads one row of SelectAudit; scan is a row's Scan.
func ScanAudit(scan func(dest ...any) error) (*extdir.AuditRecord, error) {
	var (
		r                                     extdir.AuditRecord
		micros                                int64
		category, service, result, mod        string
		user                                  any
		appID, appName, spID, userID, userUPN sql.NullString
	)
	err := scan(&r.Seq, &r.Tenant, &r.ID, &micros, &r.Activity, &category, &r.CorrelationID, &service,
		&r.OperationType, &result, &user, &appID, &appName, &spID, &userID, &userUPN,
		&r.Target.ID, &r.Target.DisplayName, &r.Target.Type, &mod)
	if err != nil {
		return nil, err
	}
	r.Time = time.UnixMicro(micros).UTC()
	switch u := user.(type) {
	case bool:
		r.Initiator.User = u
	case int64:
		r.Initiator.User = u != 0
	}
	r.Initiator.AppID, r.Initiator.AppName, r.Initiator.ServicePrincipalID = appID.String, appName.String, spID.String
	r.Initiator.UserID, r.Initiator.UPN = userID.String, userUPN.String
	if r.Target.Modified, err = extdir.DecodeModified(mod); err != nil {
		return nil, fmt.Errorf("audit %s: modified properties: %w", r.ID, err)
	}
	return &r, nil
}

// AuditListSQL is one page of q: Top+1 rows after q.After, newest first
// unless q.Ascending, with seq breaking ties in the same direction.
func AuditListSQL(d sqlfilter.Dialect, q store.AuditQuery) (string, []any, error) {
	if q.Top < 1 {
		return "", nil, fmt.Errorf("page size %d, want at least 1", q.Top)
	}
	args := []any{q.Tenant}
	var sb strings.Builder
	sb.WriteString(SelectAudit)
	sb.WriteString(" WHERE tenant = " + d.Placeholder(1))
	if q.Filter != nil {
		cond, fargs, err := sqlfilter.AuditWhere(q.Filter, d, len(args))
		if err != nil {
			return "", nil, err
		}
		sb.WriteString(" AND " + cond)
		args = append(args, fargs...)
	}
	cmp, dir := "<", "DESC"
	if q.Ascending {
		cmp, dir = ">", "ASC"
	}
	if q.After != nil {
		args = append(args, q.After.Time.UnixMicro(), q.After.Seq)
		sb.WriteString(" AND (activity_at, seq) " + cmp + " (" + d.Placeholder(len(args)-1) + ", " + d.Placeholder(len(args)) + ")")
	}
	args = append(args, q.Top+1)
	sb.WriteString(" ORDER BY activity_at " + dir + ", seq " + dir + " LIMIT " + d.Placeholder(len(args)))
	return sb.String(), args, nil
}

// AuditPageOf cuts the Top+1 rows of AuditListSQL into a page.
func AuditPageOf(recs []*extdir.AuditRecord, q store.AuditQuery) store.AuditPage {
	if len(recs) <= q.Top {
		return store.AuditPage{Records: recs}
	}
	last := recs[q.Top-1]
	return store.AuditPage{Records: recs[:q.Top], Next: &store.AuditCursor{Time: last.Time, Seq: last.Seq}}
}

// AuditGetSQL reads one record of a tenant by id.
func AuditGetSQL(d sqlfilter.Dialect) string {
	return SelectAudit + " WHERE tenant = " + d.Placeholder(1) + " AND id = " + d.Placeholder(2)
}

// AuditExpireSQL deletes at most limit records older than a time, in
// microseconds, across tenants: one batch of the audit retention sweep.
func AuditExpireSQL(d sqlfilter.Dialect) string {
	return "DELETE FROM audits WHERE seq IN (SELECT seq FROM audits WHERE activity_at < " + d.Placeholder(1) +
		" ORDER BY activity_at LIMIT " + d.Placeholder(2) + ")"
}

// AuditResetSQL deletes the audit records of the tenant, or of every tenant
// when tenant is "" (with store.Store.Reset's profiles).
func AuditResetSQL(d sqlfilter.Dialect, tenant string) (string, []any) {
	if tenant == "" {
		return "DELETE FROM audits", nil
	}
	return "DELETE FROM audits WHERE tenant = " + d.Placeholder(1), []any{tenant}
}
