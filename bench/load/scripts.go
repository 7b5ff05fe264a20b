package main

import (
	"fmt"
	"net/url"
	"strings"
)

// Workloads, as named on the command line.
const (
	workGet    = "get"    // GET one profile by id, a random one of the seeded tenant
	workList   = "list"   // the first page of 100 of the collection
	workFilter = "filter" // the first page of a filtered list: one company, 1 % of the rows
	workSearch = "search" // the first page of a $search: one company's number, 1 % of the rows
	workCount  = "count"  // the collection's /$count (ConsistencyLevel: eventual)
	workCreate = "create" // POST a new profile (durable)
	workPatch  = "patch"  // PATCH one property of a random profile (durable)
	workMix    = "mix"    // the realistic mix below
)

var allWorkloads = []string{workGet, workList, workFilter, workSearch, workCount, workCreate, workPatch, workMix}

// eventual reports whether a workload is one of Graph's advanced queries,
// which need the header ConsistencyLevel: eventual.
func eventual(workload string) bool { return workload == workSearch || workload == workCount }

// mixWeights is the realistic mix, in percent: a directory is read far more
// than written, and most reads are lookups of one object.
var mixWeights = []struct {
	workload string
	percent  int
}{{workGet, 70}, {workList, 10}, {workFilter, 10}, {workPatch, 5}, {workCreate, 5}}

// writes reports whether a workload changes data, which decides its
// connection count and whether its target must be fresh.
func writes(workload string) bool { return workload == workCreate || workload == workPatch }

// api describes how one kind of server spells each workload, as Lua
// expressions evaluated per request inside the wrk script.
type api struct {
	// readToken and writeToken authorize reads and writes (extdir's writes
	// go to a tenant of their own, so that the tenant under test keeps its
	// size run after run).
	readToken, writeToken string
	// get is a Lua expression for the path of a random entity.
	get string
	// list is the path of the first page.
	list string
	// filters are paths of filtered first pages; one is picked per request.
	filters []string
	// searches are paths of $search first pages, one picked per request,
	// and count the path of the collection's count; both are sent with
	// ConsistencyLevel: eventual. Empty where the server has neither.
	searches []string
	count    string
	// create is the collection path and createBody a Lua expression for a
	// unique body, from the thread number tid, its counter n and the run's
	// nonce.
	create, createBody string
	// patchBody is a Lua expression for a patch body; patches go to get's
	// path.
	patchBody string
	// prelude is Lua that the expressions above need (tables of ids).
	prelude string
}

// luaTable writes "local name = {...}\n", a Lua table of the strings.
func luaTable(b *strings.Builder, name string, items []string) {
	b.WriteString("local " + name + " = {")
	for i, item := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(luaString(item))
	}
	b.WriteString("}\n")
}

// luaString quotes s as a Lua string literal.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range []byte(s) {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(r)
		case r < 0x20 || r >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", r)
		default:
			b.WriteByte(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// extdirAPI is the Graph API of extdir (or of the bare server, which answers
// the same requests with one recorded entity).
func extdirAPI(readToken, writeToken, idPrefix string, profiles, companies int) api {
	const collection = "/beta/directory/pendingExternalUserProfiles"
	a := api{
		readToken:  readToken,
		writeToken: writeToken,
		get:        fmt.Sprintf(`%s .. string.format("%%012x", math.random(0, %d))`, luaString(collection+"/"+idPrefix), profiles-1),
		list:       collection + "?$top=100",
		create:     collection,
		// Phone numbers: +4, the run's nonce, the thread, its counter:
		// unique across runs and threads, never one of the seeded +1...
		createBody: `string.format('{"displayName":"Load %d %d","phoneNumber":"+4%05d%02d%06d","companyName":"Company 007","jobTitle":"Tester"}', tid, n, nonce, tid, n)`,
		patchBody:  `string.format('{"jobTitle":"Load %d %d"}', tid, n)`,
	}
	for c := range companies {
		a.filters = append(a.filters, collection+"?$filter="+url.QueryEscape(fmt.Sprintf("companyName eq 'Company %03d'", c))+"&$top=100")
		// $search matches word prefixes: "042" is the second word of
		// "Company 042" alone, the same 1 % as the filter.
		a.searches = append(a.searches, collection+"?$search="+url.QueryEscape(fmt.Sprintf(`"companyName:%03d"`, c))+"&$top=100")
	}
	a.count = collection + "/$count"
	return a
}

// peerAPI is entra-emulator's Graph surface on its compat origin.
func peerAPI(token string, ids []string) api {
	const collection = "/graph/v1.0/users"
	var table strings.Builder
	luaTable(&table, "ids", ids)
	a := api{
		readToken:  token,
		writeToken: token,
		prelude:    table.String(),
		get:        fmt.Sprintf(`%s .. ids[math.random(1, #ids)]`, luaString(collection+"/")),
		list:       collection,
		create:     collection,
		createBody: `string.format('{"displayName":"Load %d %d","userPrincipalName":"load-%d-%d-%d@entraemulator.dev"}', tid, n, nonce, tid, n)`,
		patchBody:  `string.format('{"displayName":"Patched %d %d"}', tid, n)`,
	}
	// Its users are "Peer User 000" to "Peer User 499": each prefix holds
	// a hundred of them, a page's worth.
	for p := range max(len(ids)/100, 1) {
		a.filters = append(a.filters, collection+"?$filter="+url.QueryEscape(fmt.Sprintf("startswith(displayName,'%s%d')", peerUserPrefix, p))+"&$top=100")
	}
	return a
}

// script is the wrk Lua script of one workload. Each wrk thread numbers its
// requests itself (tid, n), so that creates are unique without any shared
// state; requests that never change are formatted once per thread.
func (a api) script(workload string, nonce int) (string, error) {
	var b strings.Builder
	b.WriteString(a.prelude)
	fmt.Fprintf(&b, "local nonce = %d\n", nonce)
	fmt.Fprintf(&b, "local readHeaders = {Authorization = %s}\n", luaString("Bearer "+a.readToken))
	fmt.Fprintf(&b, "local writeHeaders = {Authorization = %s, [\"Content-Type\"] = \"application/json\"}\n", luaString("Bearer "+a.writeToken))
	fmt.Fprintf(&b, "local eventualHeaders = {Authorization = %s, ConsistencyLevel = \"eventual\"}\n", luaString("Bearer "+a.readToken))
	fmt.Fprintf(&b, "local patchHeaders = {Authorization = %s, [\"Content-Type\"] = \"application/json\"}\n", luaString("Bearer "+a.readToken))
	luaTable(&b, "filters", a.filters)
	luaTable(&b, "searches", a.searches)
	b.WriteString(`local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
n = 0
local listRequest, filterRequests, searchRequests, countRequest
function init(args)
  tid = tid or 0
  math.randomseed(7919 * (tid + 1))
`)
	fmt.Fprintf(&b, "  listRequest = wrk.format(\"GET\", %s, readHeaders)\n", luaString(a.list))
	b.WriteString(`  filterRequests = {}
  for i, f in ipairs(filters) do filterRequests[i] = wrk.format("GET", f, readHeaders) end
  searchRequests = {}
  for i, q in ipairs(searches) do searchRequests[i] = wrk.format("GET", q, eventualHeaders) end
`)
	if a.count != "" {
		fmt.Fprintf(&b, "  countRequest = wrk.format(\"GET\", %s, eventualHeaders)\n", luaString(a.count))
	}
	b.WriteString("end\n")
	fmt.Fprintf(&b, "local function get() return wrk.format(\"GET\", %s, readHeaders) end\n", a.get)
	b.WriteString("local function list() return listRequest end\n")
	b.WriteString("local function filter() return filterRequests[math.random(1, #filterRequests)] end\n")
	b.WriteString("local function search() return searchRequests[math.random(1, #searchRequests)] end\n")
	b.WriteString("local function count() return countRequest end\n")
	fmt.Fprintf(&b, "local function create() n = n + 1; return wrk.format(\"POST\", %s, writeHeaders, %s) end\n", luaString(a.create), a.createBody)
	fmt.Fprintf(&b, "local function patch() n = n + 1; return wrk.format(\"PATCH\", %s, patchHeaders, %s) end\n", a.get, a.patchBody)

	switch {
	case workload == workSearch && len(a.searches) == 0, workload == workCount && a.count == "":
		return "", fmt.Errorf("this server has no %s workload", workload)
	}
	switch workload {
	case workGet, workList, workFilter, workSearch, workCount, workCreate, workPatch:
		fmt.Fprintf(&b, "request = %s\n", workload)
	case workMix:
		b.WriteString("function request()\n  local r = math.random(1, 100)\n")
		bound := 0
		for i, w := range mixWeights {
			bound += w.percent
			kw := "elseif"
			if i == 0 {
				kw = "if"
			}
			if i == len(mixWeights)-1 {
				fmt.Fprintf(&b, "  else return %s() end\n", w.workload)
				break
			}
			fmt.Fprintf(&b, "  %s r <= %d then return %s()\n", kw, bound, w.workload)
		}
		b.WriteString("end\n")
	default:
		return "", fmt.Errorf("unknown workload %q", workload)
	}
	b.WriteString(doneFunction)
	return b.String(), nil
}

// doneFunction prints wrk's summary as one JSON line that run parses.
const doneFunction = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`

// peerUserPrefix starts the displayName of every user seeded in the peer.
const peerUserPrefix = "Peer User "

// peerUserName is the displayName of seeded peer user i (i < 1000): the
// filter workload's prefixes take them by the hundred.
func peerUserName(i int) string { return fmt.Sprintf("%s%03d", peerUserPrefix, i) }
