package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// seedQueryData creates profiles whose companies, supervisors and flags
// differ, and returns their display names by id.
func seedQueryData(t *testing.T, ts *testServer, tok string) map[string]string {
	t.Helper()
	rows := []map[string]any{
		{"displayName": "Alice Adams", "companyName": "Contoso", "supervisorId": "sup-1", "isDiscoverable": true, "department": "Sales"},
		{"displayName": "bob brown", "companyName": "contoso ltd", "supervisorId": "sup-2", "isDiscoverable": false},
		{"displayName": "Carol Chen", "companyName": "Fabrikam", "supervisorId": "sup-1", "isDiscoverable": true, "isEnabled": false},
		{"displayName": "Dan Diaz", "supervisorId": "sup-3", "isDiscoverable": false},
		{"displayName": "Eve 100%_Off", "companyName": "100%_Off Inc", "isDiscoverable": true},
	}
	names := map[string]string{}
	for i, r := range rows {
		r["phoneNumber"] = fmt.Sprintf("+1555800%04d", i)
		p := ts.create(tok, r)
		names[p["id"].(string)] = r["displayName"].(string)
	}
	return names
}

// listNames walks every page of a query and returns the display names.
func listNames(t *testing.T, ts *testServer, tok, path string, headers ...string) []string {
	t.Helper()
	var names []string
	next := path
	for next != "" {
		r := ts.req("GET", next, tok, nil, headers...)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", next, r.status, r.body)
		}
		m := r.json(t)
		for _, v := range m["value"].([]any) {
			names = append(names, v.(map[string]any)["displayName"].(string))
		}
		next, _ = m["@odata.nextLink"].(string)
	}
	return names
}

func TestFilterOrderSearchOverHTTP(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	seedQueryData(t, ts, tok)
	// Another tenant's rows never match.
	other := ts.token("--tenant", "99999999-9999-9999-9999-999999999999")
	ts.create(other, map[string]any{"displayName": "Zed Contoso", "companyName": "Contoso", "phoneNumber": "+15558009999"})

	q := func(opts string) string { return pendingPath + "?" + opts }
	cases := []struct {
		name  string
		query string
		want  []string
	}{
		{"the documented isDiscoverable eq true", "$filter=" + url.QueryEscape("isDiscoverable eq true"), []string{"Alice Adams", "Carol Chen", "Eve 100%_Off"}},
		{"the documented startswith(companyName,'Contoso') ignores case", "$filter=" + url.QueryEscape("startswith(companyName,'Contoso')"), []string{"Alice Adams", "bob brown"}},
		{"companyName eq ignores case", "$filter=" + url.QueryEscape("companyName eq 'CONTOSO'"), []string{"Alice Adams"}},
		{"supervisorId eq", "$filter=" + url.QueryEscape("supervisorId eq 'sup-1'"), []string{"Alice Adams", "Carol Chen"}},
		{"startswith(supervisorId)", "$filter=" + url.QueryEscape("startswith(supervisorId,'sup-')"), []string{"Alice Adams", "bob brown", "Carol Chen", "Dan Diaz"}},
		{"and of both documented filters", "$filter=" + url.QueryEscape("startswith(companyName,'contoso') and supervisorId eq 'sup-2'"), []string{"bob brown"}},
		{"or with parentheses and not", "$filter=" + url.QueryEscape("(supervisorId eq 'sup-3' or companyName eq 'Fabrikam') and not (isEnabled eq false)"), []string{"Dan Diaz"}},
		{"in a list", "$filter=" + url.QueryEscape("supervisorId in ('sup-2','sup-3')"), []string{"bob brown", "Dan Diaz"}},
		{"eq null", "$filter=" + url.QueryEscape("companyName eq null"), []string{"Dan Diaz"}},
		{"ne keeps nulls, as OData does", "$filter=" + url.QueryEscape("companyName ne 'Contoso'"), []string{"bob brown", "Carol Chen", "Dan Diaz", "Eve 100%_Off"}},
		{"LIKE metacharacters match literally", "$filter=" + url.QueryEscape("startswith(companyName,'100%_')"), []string{"Eve 100%_Off"}},
		{"no $ prefix", "filter=" + url.QueryEscape("department eq 'sales'"), []string{"Alice Adams"}},
		{"createdDateTime ge", "$filter=" + url.QueryEscape("createdDateTime ge 2000-01-01T00:00:00Z"), []string{"Alice Adams", "bob brown", "Carol Chen", "Dan Diaz", "Eve 100%_Off"}},
		{"orderby displayName asc ignores case", "$orderby=displayName", []string{"Alice Adams", "bob brown", "Carol Chen", "Dan Diaz", "Eve 100%_Off"}},
		{"orderby displayName desc", "$orderby=" + url.QueryEscape("displayName desc"), []string{"Eve 100%_Off", "Dan Diaz", "Carol Chen", "bob brown", "Alice Adams"}},
		{"filter, orderby and paging together", "$filter=" + url.QueryEscape("startswith(supervisorId,'sup')") + "&$orderby=" + url.QueryEscape("displayName desc") + "&$top=1", []string{"Dan Diaz", "Carol Chen", "bob brown", "Alice Adams"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := listNames(t, ts, tok, q(tc.query))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("search needs ConsistencyLevel and matches word prefixes", func(t *testing.T) {
		path := q("$search=" + url.QueryEscape(`"displayName:chen"`))
		if r := ts.req("GET", path, tok, nil); r.status != 400 {
			t.Fatalf("$search without ConsistencyLevel: %d %s", r.status, r.body)
		}
		if got := listNames(t, ts, tok, path, "ConsistencyLevel", "eventual"); !slices.Equal(got, []string{"Carol Chen"}) {
			t.Fatalf("$search = %q", got)
		}
	})

	t.Run("count with a filter", func(t *testing.T) {
		f := "$filter=" + url.QueryEscape("startswith(companyName,'contoso')")
		r := ts.req("GET", pendingPath+"/$count?"+f, tok, nil, "ConsistencyLevel", "eventual")
		if r.status != 200 || string(r.body) != "2" {
			t.Fatalf("/$count = %d %q", r.status, r.body)
		}
		r = ts.req("GET", q(f+"&$count=true&$top=1"), tok, nil, "ConsistencyLevel", "eventual")
		m := r.json(t)
		if m["@odata.count"] != 2.0 {
			t.Fatalf("@odata.count = %v", m["@odata.count"])
		}
		// The count is on the first page only.
		next := m["@odata.nextLink"].(string)
		if !strings.Contains(next, "count=true") {
			t.Fatalf("nextLink lost $count: %s", next)
		}
		if _, ok := ts.req("GET", next, tok, nil, "ConsistencyLevel", "eventual").json(t)["@odata.count"]; ok {
			t.Error("@odata.count on a later page")
		}
	})

	t.Run("deleted items filter too", func(t *testing.T) {
		got := listNames(t, ts, tok, q("$filter="+url.QueryEscape("displayName eq 'Dan Diaz'")))
		if len(got) != 1 {
			t.Fatal(got)
		}
		id := ts.req("GET", q("$filter="+url.QueryEscape("displayName eq 'Dan Diaz'")), tok, nil).json(t)["value"].([]any)[0].(map[string]any)["id"].(string)
		ts.req("DELETE", pendingPath+"/"+id, tok, nil)
		got = listNames(t, ts, tok, deletedPath+"/microsoft.graph.pendingExternalUserProfile?$filter="+url.QueryEscape("startswith(displayName,'dan')"))
		if !slices.Equal(got, []string{"Dan Diaz"}) {
			t.Fatalf("deleted filter = %q", got)
		}
	})
}

func TestQueryErrors(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	cases := []struct {
		name, query, code, message string
	}{
		{"a malformed filter names the position", "$filter=" + url.QueryEscape("companyName eq"), "BadRequest", "position"},
		{"an unknown property is unsupported", "$filter=" + url.QueryEscape("nickname eq 'x'"), "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'nickname' of resource 'PendingExternalUserProfile'."},
		{"an operator a property does not allow is unsupported", "$filter=" + url.QueryEscape("companyName gt 'a'"), "Request_UnsupportedQuery", "companyName"},
		{"endswith is unsupported", "$filter=" + url.QueryEscape("endswith(companyName,'x')"), "Request_UnsupportedQuery", ""},
		{"a type error is 400", "$filter=" + url.QueryEscape("isEnabled eq 'yes'"), "BadRequest", ""},
		{"an unsortable property", "$orderby=phoneNumber", "Request_UnsupportedQuery", "phoneNumber"},
		{"an unsearchable property", "$search=" + url.QueryEscape(`"jobTitle:x"`), "Request_UnsupportedQuery", ""},
		{"a skiptoken from another order", "$orderby=displayName&$skiptoken=" + tokenFor(t, ts, tok), "BadRequest", "skiptoken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.req("GET", pendingPath+"?"+tc.query, tok, nil, "ConsistencyLevel", "eventual")
			if r.status != 400 || r.errorCode(t) != tc.code || !strings.Contains(r.errorMessage(t), tc.message) {
				t.Fatalf("%d %s", r.status, r.body)
			}
			assertGraphError(t, r)
		})
	}
}

// tokenFor returns a $skiptoken issued for the default (insertion) order.
func tokenFor(t *testing.T, ts *testServer, tok string) string {
	t.Helper()
	for i := range 2 {
		ts.create(tok, map[string]any{"displayName": fmt.Sprintf("t%d", i), "phoneNumber": fmt.Sprintf("+1555900%04d", i)})
	}
	next := ts.req("GET", pendingPath+"?$top=1", tok, nil).json(t)["@odata.nextLink"].(string)
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("$skiptoken")
}

func TestPagingUnderInsertsWithOrder(t *testing.T) {
	ts := startServer(t)
	tok := ts.token()
	for i := range 30 {
		ts.create(tok, map[string]any{"displayName": fmt.Sprintf("name %02d", i%10), "companyName": "Acme", "phoneNumber": fmt.Sprintf("+1555700%04d", i)})
	}
	seen := map[string]bool{}
	var order []string
	next := pendingPath + "?$filter=" + url.QueryEscape("startswith(companyName,'acme')") + "&$orderby=" + url.QueryEscape("displayName desc") + "&$top=7&$select=displayName"
	inserted := 0
	for next != "" {
		m := ts.req("GET", next, tok, nil).json(t)
		for _, v := range m["value"].([]any) {
			item := v.(map[string]any)
			id := item["id"].(string)
			if seen[id] {
				t.Fatalf("row %s returned twice", id)
			}
			seen[id] = true
			order = append(order, item["displayName"].(string))
		}
		next, _ = m["@odata.nextLink"].(string)
		// Rows inserted on both sides of the cursor while paging.
		for _, name := range []string{"name 00", "name 99"} {
			ts.create(tok, map[string]any{"displayName": name, "companyName": "Acme", "phoneNumber": fmt.Sprintf("+1555710%04d", inserted)})
			inserted++
		}
	}
	if len(seen) < 30 {
		t.Fatalf("only %d of the 30 original rows returned", len(seen))
	}
	if !slices.IsSortedFunc(order, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Fatalf("not in descending order: %q", order)
	}
}
