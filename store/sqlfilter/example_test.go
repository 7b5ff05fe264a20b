package sqlfilter_test

import (
	"fmt"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store/sqlfilter"
)

// A backend appends the filter to its own conditions; argOffset is the
// number of arguments already bound, which PostgreSQL's $n numbering needs.
func ExampleWhere() {
	// In the HTTP layer: a client error here is a 400 (EBadRequest or
	// EUnsupportedQuery), before any storage is involved.
	filter, err := odata.Filter("startswith(companyName,'Contoso') and isEnabled eq true", extdir.KindPending)
	if err != nil {
		fmt.Println(extdir.ErrorCode(err), extdir.ErrorMessage(err))
		return
	}

	// In the backend, with the checked tree from store.Query.
	for _, d := range []sqlfilter.Dialect{sqlfilter.SQLite{}, sqlfilter.Postgres{}} {
		conds := []string{"tenant = " + d.Placeholder(1), "kind = " + d.Placeholder(2), "deleted_at IS NULL"}
		args := []any{"tenant-1", int64(extdir.KindPending)}
		where, whereArgs, err := sqlfilter.Where(filter, d, len(args))
		if err != nil {
			fmt.Println(err) // a bug: the tree did not come from odata.CheckFilter
			return
		}
		if where != "" {
			conds = append(conds, where)
			args = append(args, whereArgs...)
		}
		fmt.Println("WHERE " + strings.Join(conds, " AND "))
		fmt.Println(args...)
	}
	// Output:
	// WHERE tenant = ? AND kind = ? AND deleted_at IS NULL AND (company_name LIKE ? ESCAPE '\' AND is_enabled = ?)
	// tenant-1 1 Contoso% 1
	// WHERE tenant = $1 AND kind = $2 AND deleted_at IS NULL AND (lower(company_name) LIKE lower($3::text) ESCAPE E'\\' AND is_enabled = $4)
	// tenant-1 1 Contoso% true
}
