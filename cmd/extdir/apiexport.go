package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir"
)

// The API mode of extdir export: with --url, the profiles of one
// collection are read through the Graph API (of extdir or Microsoft
// Graph), page after page along @odata.nextLink, and written as JSON lines
// (each profile as the API answered it) or CSV (a column per property, the
// header names extdir invite reads). The other half of invite's round trip.

// apiExport holds the flags of the API mode.
type apiExport struct {
	api      *apiFlags
	kind     string
	filter   string
	sel      string
	format   string
	progress string
	every    time.Duration
	retries  int
	pageSize int
}

// apiOnlyFlags are the flags that mean nothing without --url; storeOnly
// the ones that mean nothing with it.
var (
	apiOnlyFlags   = []string{"kind", "filter", "select", "format", "client-id", "client-secret", "certificate", "certificate-password", "token", "authority", "ca-file", "timeout", "progress", "progress-interval", "page-size"}
	storeOnlyFlags = []string{"data-dir", "database"}
)

// defineAPIExport adds the API mode's flags to export's; tenant is
// export's --tenant, the tenant to sign in to in this mode.
func defineAPIExport(fs *flag.FlagSet, tenant *string) *apiExport {
	e := &apiExport{api: defineAPIFlags(fs, "export", "", tenant)}
	fs.StringVar(&e.kind, "kind", "pending", "with --url: the profiles to export, pending or external")
	fs.StringVar(&e.filter, "filter", "", "with --url: a $filter, such as \"startswith(companyName,'Contoso')\"")
	fs.StringVar(&e.sel, "select", "", "with --url: the properties to write, comma-separated (default: all); the CSV's columns")
	fs.StringVar(&e.format, "format", "auto", "with --url: jsonl or csv (auto: csv when --out ends in .csv)")
	fs.StringVar(&e.progress, "progress", "auto", "with --url: auto (a bar on a terminal, lines otherwise), bar, lines or off")
	fs.DurationVar(&e.every, "progress-interval", 5*time.Second, "with --url: time between two progress lines")
	fs.IntVar(&e.pageSize, "page-size", 999, "with --url: profiles per page ($top), 1 to 999")
	e.retries = 8
	return e
}

// enabled reports whether export goes through the API; args are export's,
// to tell flags given on the command line from the environment's.
func (e *apiExport) enabled(args []string) (bool, error) {
	on := e.api.url != ""
	for _, name := range storeOnlyFlags {
		if on && onCommandLine(args, name) {
			return false, &usageError{msg: fmt.Sprintf("export: --%s names a store, and --url exports through the API instead: give one of them", name)}
		}
	}
	for _, name := range apiOnlyFlags {
		if !on && onCommandLine(args, name) {
			return false, &usageError{msg: fmt.Sprintf("export: --%s is for an export through the API: give --url too", name)}
		}
	}
	return on, nil
}

// onCommandLine reports whether args set the flag.
func onCommandLine(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if n == name {
			return true
		}
	}
	return false
}

func (e *apiExport) run(ctx context.Context, out string, getenv func(string) string, stdout, stderr io.Writer) error {
	var coll string
	switch strings.ToLower(e.kind) {
	case "pending", "pendingexternaluserprofile", "pendingexternaluserprofiles":
		coll = pendingURL
	case "external", "externaluserprofile", "externaluserprofiles":
		coll = externalURL
	default:
		return &usageError{msg: "export: --kind must be pending or external"}
	}
	format := e.format
	if format == "auto" {
		format = "jsonl"
		if strings.HasSuffix(strings.ToLower(out), ".csv") {
			format = "csv"
		}
	}
	if format != "jsonl" && format != "csv" {
		return &usageError{msg: "export: --format must be jsonl, csv or auto"}
	}
	switch e.progress {
	case "auto", "bar", "lines", "off":
	default:
		return &usageError{msg: "export: --progress must be auto, bar, lines or off"}
	}
	if e.pageSize < 1 || e.pageSize > 999 {
		return &usageError{msg: "export: --page-size must be 1 to 999"}
	}
	columns, err := exportColumns(e.sel)
	if err != nil {
		return &usageError{msg: "export: " + err.Error()}
	}
	c, err := e.api.connect(getenv, 1)
	if err != nil {
		return err
	}
	q := url.Values{}
	q.Set("$top", strconv.Itoa(e.pageSize))
	if e.filter != "" {
		q.Set("$filter", e.filter)
	}
	if e.sel != "" {
		q.Set("$select", e.sel)
	}
	query := strings.ReplaceAll(q.Encode(), "+", "%20")
	total := e.count(ctx, c, coll, q)

	w, finish, err := outputFile(out, stdout)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(bw)
		cw.Write(columns)
	}
	prog := startProgress("export", "profiles", e.progress, stderr, total, e.every)
	next := coll + "?" + query
	for next != "" && err == nil {
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err = e.get(ctx, c, next, &page); err != nil {
			break
		}
		for _, raw := range page.Value {
			if cw != nil {
				err = cw.Write(csvRecord(raw, columns))
			} else {
				_, err = bw.Write(append(raw, '\n'))
			}
			if err != nil {
				break
			}
			prog.add(statusCreated)
		}
		next = page.NextLink
	}
	prog.finish()
	if cw != nil && err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err = finish(err); err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(stdout, "exported %d profiles to %s\n", prog.done.Load(), out)
	}
	return nil
}

// count asks for the number of profiles, for the progress bar; -1 when
// the API does not say.
func (e *apiExport) count(ctx context.Context, c *apiClient, coll string, q url.Values) int64 {
	cq := url.Values{}
	if f := q.Get("$filter"); f != "" {
		cq.Set("$filter", f)
	}
	path := coll + "/$count"
	if len(cq) > 0 {
		path += "?" + strings.ReplaceAll(cq.Encode(), "+", "%20")
	}
	resp, err := c.do(ctx, "GET", path, nil, map[string]string{"ConsistencyLevel": "eventual", "Accept": "text/plain"})
	if err != nil || resp.status != http.StatusOK {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(resp.body)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// get reads one page, retrying what a GET may retry: 429 and 503 after
// their Retry-After, other 5xx and network errors after the backoff.
func (e *apiExport) get(ctx context.Context, c *apiClient, pathOrURL string, into any) error {
	for attempt := 0; ; attempt++ {
		resp, err := c.do(ctx, "GET", pathOrURL, nil, nil)
		var wait time.Duration
		var signIn *signInError
		switch {
		case errors.As(err, &signIn):
			return fmt.Errorf("export: %v", err)
		case ctx.Err() != nil:
			return fmt.Errorf("export: %w", ctx.Err())
		case err != nil:
			wait = backoff(attempt + 1)
		case resp.status == http.StatusOK:
			if err := json.Unmarshal(resp.body, into); err != nil {
				return fmt.Errorf("export: a page of the listing is not JSON: %v", err)
			}
			return nil
		case resp.status == http.StatusTooManyRequests || resp.status >= 500:
			d, ok := retryAfter(resp.header.Get("Retry-After"), time.Now())
			wait = min(d, maxRetryAfter)
			if !ok {
				wait = backoff(attempt + 1)
			}
			ge := parseGraphError(resp.body)
			err = fmt.Errorf("%d %s: %s", resp.status, ge.Code, ge.Message)
		default:
			ge := parseGraphError(resp.body)
			return fmt.Errorf("export: the API answered %d %s: %s", resp.status, ge.Code, ge.Message)
		}
		if attempt >= e.retries {
			return fmt.Errorf("export: gave up after %d attempts: %s", attempt+1, oneLine(err))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("export: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// exportColumns are the CSV's columns: the --select list with address
// expanded into its fields, or every property.
func exportColumns(sel string) ([]string, error) {
	var cols []string
	add := func(p *extdir.Property) {
		if p.Type == extdir.TypeAddress {
			for _, f := range p.Fields {
				cols = append(cols, "address/"+f.Name)
			}
			return
		}
		cols = append(cols, p.Name)
	}
	if sel == "" {
		for _, p := range extdir.Properties {
			add(p)
		}
		return cols, nil
	}
	for _, name := range splitList(sel) {
		p, ok := extdir.PropertyByName(name)
		if !ok {
			return nil, fmt.Errorf("--select: no property %q (properties: %s)", name, strings.Join(propertyNames(), ", "))
		}
		add(p)
	}
	return cols, nil
}

func propertyNames() []string {
	var out []string
	for _, p := range extdir.Properties {
		out = append(out, p.Name)
	}
	return out
}

// csvRecord flattens one profile into the columns: strings as they are,
// other values in their JSON form, null and absent as an empty cell.
func csvRecord(raw json.RawMessage, columns []string) []string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	var address map[string]json.RawMessage
	rec := make([]string, len(columns))
	for i, col := range columns {
		v := m[col]
		if field, ok := strings.CutPrefix(col, "address/"); ok {
			if address == nil {
				_ = json.Unmarshal(m["address"], &address)
			}
			v = address[field]
		}
		rec[i] = cell(v)
	}
	return rec
}

func cell(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}
