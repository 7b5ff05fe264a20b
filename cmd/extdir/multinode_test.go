package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/extdir/extdir/store/postgres/pgtest"
)

// The multi-node tests run what a scaled-out deployment runs: several real
// `extdir serve` processes on one PostgreSQL database, sharing one data
// directory (the built-in issuer's signing keys and token clients; with a
// PostgreSQL store it holds nothing else). Each test gets a database of its
// own (pgtest) and is skipped when EXTDIR_TEST_POSTGRES_URL is not set.

// cluster is n nodes of one deployment.
type cluster struct {
	t     *testing.T
	db    string // the database URL every node is given
	dir   string // the data directory every node shares
	nodes []*testServer
	procs []*proc
	logs  []*nodeLog
}

// startCluster starts n nodes on a new, empty database, all at the same
// moment, so that every multi-node test also has its nodes race to migrate
// the schema.
func startCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, db: withPassword(t, pgtest.NewDatabase(t)), dir: t.TempDir()}
	c.procs, c.logs = startNodes(t, extdirBinary(t), c.dir, n, nil, append([]string{"--database", c.db}, extra...)...)
	for _, p := range c.procs {
		c.nodes = append(c.nodes, c.client(p.base))
	}
	return c
}

// testPassword is put in every cluster's database URL, so that the tests can
// show that no node ever logs it. The test server trusts local connections,
// so it is never checked.
const testPassword = "pw-never-logged"

func withPassword(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.User == nil {
		u.User = url.UserPassword("postgres", testPassword)
	} else {
		u.User = url.UserPassword(u.User.Username(), testPassword)
	}
	return u.String()
}

// client is a testServer that only sends requests, to one node.
func (c *cluster) client(base string) *testServer {
	return &testServer{t: c.t, dir: c.dir, base: base, client: &http.Client{Timeout: 30 * time.Second}}
}

// nodeLog keeps a node's log lines, to show them when a test fails.
type nodeLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *nodeLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

// errors returns the lines logged at level ERROR.
func (l *nodeLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	return out
}

func (l *nodeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startNodes launches n `extdir serve` processes of the binary bin before
// waiting for any of them, then waits until each listens, and returns them
// with their logs. It is startProcess for many at once; env is added to
// each one's environment.
func startNodes(t testing.TB, bin, dir string, n int, env []string, extra ...string) ([]*proc, []*nodeLog) {
	t.Helper()
	type starting struct {
		p    *proc
		urls chan string
		log  *nodeLog
	}
	var all []starting
	for range n {
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json"}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		s := starting{p: &proc{cmd: cmd, exit: make(chan error, 1)}, urls: make(chan string, 1), log: &nodeLog{}}
		go func() {
			sc := bufio.NewScanner(stderr)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			sent := false
			for sc.Scan() {
				s.log.add(sc.Text())
				var e struct{ Msg, URL string }
				if !sent && json.Unmarshal(sc.Bytes(), &e) == nil && e.Msg == "listening" {
					s.urls <- strings.TrimSuffix(e.URL, "/beta")
					sent = true
				}
			}
			s.p.exit <- cmd.Wait()
		}()
		all = append(all, s)
	}
	t.Cleanup(func() {
		for i, s := range all {
			if t.Failed() {
				t.Logf("node %d log:\n%s", i, s.log)
			} else if errs := s.log.errors(); len(errs) > 0 {
				t.Errorf("node %d logged errors:\n%s", i, strings.Join(errs, "\n"))
			}
		}
	})
	procs := make([]*proc, n)
	logs := make([]*nodeLog, n)
	for i, s := range all {
		logs[i] = s.log
		select {
		case s.p.base = <-s.urls:
		case err := <-s.p.exit:
			t.Fatalf("node %d exited before listening: %v\n%s", i, err, s.log)
		case <-time.After(60 * time.Second):
			t.Fatalf("node %d did not start\n%s", i, s.log)
		}
		procs[i] = s.p
	}
	return procs, logs
}

// send is one request for use off the test goroutine: it reports instead
// of failing the test.
func send(client *http.Client, method, url, token, body string, headers ...string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// entity drops what depends on the node that answered (the context URL
// holds its address), leaving what the directory holds.
func entity(t *testing.T, r response) map[string]any {
	t.Helper()
	m := r.json(t)
	delete(m, "@odata.context")
	return m
}

func TestMultiNodeAWriteOnOneNodeIsReadAtOnceOnTheOther(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	tok := a.token()

	created := a.req("POST", pendingPath, tok, map[string]any{"displayName": "Ada", "phoneNumber": "+15550100001", "companyName": "Contoso"})
	if created.status != 201 {
		t.Fatalf("create on A: %d %s", created.status, created.body)
	}
	id := created.json(t)["id"].(string)
	onB := b.req("GET", pendingPath+"/"+id, tok, nil)
	if onB.status != 200 {
		t.Fatalf("B does not see A's create at once: %d %s", onB.status, onB.body)
	}
	if want, got := entity(t, created), entity(t, onB); !jsonEqual(want, got) {
		t.Fatalf("B reads\n%v\nA wrote\n%v", got, want)
	}

	// B updates with the ETag A handed out; A sees the update and the new ETag.
	if r := b.req("PATCH", pendingPath+"/"+id, tok, `{"jobTitle":"Engineer"}`, "If-Match", created.json(t)["@odata.etag"].(string)); r.status != 204 {
		t.Fatalf("PATCH on B with A's ETag: %d %s", r.status, r.body)
	}
	onA := a.req("GET", pendingPath+"/"+id, tok, nil).json(t)
	if onA["jobTitle"] != "Engineer" || onA["@odata.etag"] != `W/"2"` {
		t.Fatalf("A after B's PATCH: jobTitle %v, etag %v", onA["jobTitle"], onA["@odata.etag"])
	}
	if r := a.req("PATCH", pendingPath+"/"+id, tok, `{"jobTitle":"x"}`, "If-Match", `W/"1"`); r.status != 412 {
		t.Fatalf("PATCH on A with the ETag B replaced: %d, want 412", r.status)
	}

	// A deletes; B no longer lists it, but has it among the deleted items
	// and restores it; A sees it live again.
	if r := a.req("DELETE", pendingPath+"/"+id, tok, nil); r.status != 204 {
		t.Fatalf("DELETE on A: %d %s", r.status, r.body)
	}
	if r := b.req("GET", pendingPath+"/"+id, tok, nil); r.status != 404 {
		t.Fatalf("B still serves the profile A deleted: %d", r.status)
	}
	if r := b.req("GET", deletedPath+"/"+id, tok, nil); r.status != 200 {
		t.Fatalf("B has no deleted item for A's delete: %d %s", r.status, r.body)
	}
	if r := b.req("POST", deletedPath+"/"+id+"/restore", tok, nil); r.status != 200 {
		t.Fatalf("restore on B: %d %s", r.status, r.body)
	}
	if r := a.req("GET", pendingPath+"/"+id, tok, nil); r.status != 200 {
		t.Fatalf("A does not see B's restore: %d", r.status)
	}
	if r := b.req("GET", pendingPath+"/$count", tok, nil, "ConsistencyLevel", "eventual"); r.status != 200 || string(r.body) != "1" {
		t.Fatalf("count on B: %d %s, want 1", r.status, r.body)
	}
	for i, l := range c.logs {
		if text := l.String(); strings.Contains(text, testPassword) || !strings.Contains(text, "postgres:xxxxx@") {
			t.Fatalf("node %d logs the database password, or no database at all:\n%s", i, text)
		}
	}
}

func TestPostgresABadDatabaseStopsTheStartWithoutShowingThePassword(t *testing.T) {
	bin := extdirBinary(t)
	for _, tc := range []struct{ name, url string }{
		{"nothing listens", "postgres://extdir:" + testPassword + "@127.0.0.1:1/extdir?sslmode=disable&connect_timeout=5"},
		{"not a URL", "postgres://extdir:" + testPassword + "@127.0.0.1:notaport/extdir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", tc.url)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\n%s", err, out)
			}
			if strings.Contains(string(out), testPassword) || !strings.Contains(string(out), "postgres") {
				t.Fatalf("output shows the password, or does not name the database:\n%s", out)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestMultiNodeANextLinkFromOneNodeIsFollowedOnTheOther(t *testing.T) {
	c := startCluster(t, 2)
	tok := c.nodes[0].token()
	var want []string
	for i := range 23 {
		node := c.nodes[i%2]
		r := node.req("POST", pendingPath, tok, map[string]any{"displayName": fmt.Sprintf("Guest %02d", (i*7)%23), "phoneNumber": fmt.Sprintf("+1555020%04d", i)})
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		want = append(want, r.json(t)["id"].(string))
	}
	for _, tc := range []struct{ name, order string }{{"insertion order", ""}, {"displayName desc", "&$orderby=displayName desc"}} {
		order := tc.order
		t.Run(tc.name, func(t *testing.T) {
			var got, names []string
			next := c.nodes[0].base + pendingPath + "?$top=5" + strings.ReplaceAll(order, " ", "%20")
			for hop := 0; next != ""; hop++ {
				// Every hop goes to the other node than the link came from.
				node := c.nodes[hop%2]
				u, err := url.Parse(next)
				if err != nil {
					t.Fatal(err)
				}
				r := node.req("GET", u.RequestURI(), tok, nil)
				if r.status != 200 {
					t.Fatalf("page %d on node %d: %d %s", hop, hop%2, r.status, r.body)
				}
				var page struct {
					Value []struct {
						ID          string `json:"id"`
						DisplayName string `json:"displayName"`
					} `json:"value"`
					NextLink string `json:"@odata.nextLink"`
				}
				if err := json.Unmarshal(r.body, &page); err != nil {
					t.Fatal(err)
				}
				for _, p := range page.Value {
					got = append(got, p.ID)
					names = append(names, p.DisplayName)
				}
				if page.NextLink != "" && !strings.HasPrefix(page.NextLink, node.base) {
					t.Fatalf("nextLink %s does not name the node that wrote it (%s)", page.NextLink, node.base)
				}
				next = page.NextLink
			}
			if order == "" && !slices.Equal(got, want) {
				t.Fatalf("paged across nodes:\n %v\nwant (insertion order)\n %v", got, want)
			}
			if order != "" {
				// Names are distinct, so the order is total.
				if !slices.IsSortedFunc(names, func(x, y string) int { return strings.Compare(y, x) }) || len(got) != len(want) {
					t.Fatalf("paged across nodes by displayName desc: %v", names)
				}
				seen := map[string]bool{}
				for _, id := range got {
					seen[id] = true
				}
				for _, id := range want {
					if !seen[id] {
						t.Fatalf("%s was skipped", id)
					}
				}
			}
		})
	}
}

func TestMultiNodeConcurrentCreatesWithOnePhoneNumber(t *testing.T) {
	c := startCluster(t, 2)
	tok := c.nodes[0].token()
	const requests = 50
	statuses := make([]int, requests)
	bodies := make([][]byte, requests)
	errs := make([]error, requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range requests {
		wg.Go(func() {
			<-start
			body := fmt.Sprintf(`{"displayName":"racer %d","phoneNumber":"+15550300000"}`, i)
			statuses[i], bodies[i], errs[i] = send(client, "POST", c.nodes[i%2].base+pendingPath, tok, body)
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i := range requests {
		switch {
		case errs[i] != nil:
			t.Fatalf("request %d: %v", i, errs[i])
		case statuses[i] == 201:
			created++
		case statuses[i] == 400 && strings.Contains(string(bodies[i]), "phoneNumber already exists"):
		default:
			t.Fatalf("request %d on node %d: %d %s, want 201 or the phone clash", i, i%2, statuses[i], bodies[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d creates of one phone number succeeded across two nodes, want exactly 1", created)
	}
	for _, node := range c.nodes {
		r := node.req("GET", pendingPath+"?$filter="+url.QueryEscape("phoneNumber eq '+15550300000'"), tok, nil)
		if n := len(r.json(t)["value"].([]any)); r.status != 200 || n != 1 {
			t.Fatalf("profiles with the phone number on %s: %d (%d), want 1", node.base, n, r.status)
		}
	}
}

func TestMultiNodeConcurrentPatchesWithOneIfMatch(t *testing.T) {
	c := startCluster(t, 2)
	tok := c.nodes[0].token()
	id := c.nodes[0].create(tok, map[string]any{"displayName": "target", "phoneNumber": "+15550400000"})["id"].(string)
	const requests = 100
	statuses := make([]int, requests)
	errs := make([]error, requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range requests {
		wg.Go(func() {
			<-start
			statuses[i], _, errs[i] = send(client, "PATCH", c.nodes[i%2].base+pendingPath+"/"+id, tok,
				fmt.Sprintf(`{"jobTitle":"writer %d"}`, i), "If-Match", `W/"1"`)
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i := range requests {
		switch {
		case errs[i] != nil:
			t.Fatalf("request %d: %v", i, errs[i])
		case statuses[i] == 204 && won >= 0:
			t.Fatalf("requests %d and %d both won with If-Match W/\"1\"", won, i)
		case statuses[i] == 204:
			won = i
		case statuses[i] != 412:
			t.Fatalf("request %d: %d, want 204 or 412", i, statuses[i])
		}
	}
	if won < 0 {
		t.Fatal("no PATCH won")
	}
	for _, node := range c.nodes {
		got := node.req("GET", pendingPath+"/"+id, tok, nil).json(t)
		if got["jobTitle"] != fmt.Sprintf("writer %d", won) || got["@odata.etag"] != `W/"2"` {
			t.Fatalf("on %s: jobTitle %v etag %v, want the winner's (writer %d) and W/\"2\"", node.base, got["jobTitle"], got["@odata.etag"], won)
		}
	}
}

// TestMultiNodeAcknowledgedWritesSurviveKill9 writes through both nodes
// until both are killed with SIGKILL at once, then starts a third node on
// the database: every create answered 201 and every PATCH answered 204 is
// there.
func TestMultiNodeAcknowledgedWritesSurviveKill9(t *testing.T) {
	c := startCluster(t, 2)
	tok := c.nodes[0].token()
	var mu sync.Mutex
	created := map[string]bool{} // id → its PATCH was acknowledged
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 6 {
		base := c.nodes[w%2].base
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, body, err := send(client, "POST", base+pendingPath, tok,
					fmt.Sprintf(`{"displayName":"w%d-%d","phoneNumber":"+1%d%09d"}`, w, i, w+2, i))
				if err != nil {
					return // the node is gone
				}
				var m struct{ ID string }
				if status != 201 || json.Unmarshal(body, &m) != nil {
					continue
				}
				mu.Lock()
				created[m.ID] = false
				mu.Unlock()
				status, _, err = send(client, "PATCH", base+pendingPath+"/"+m.ID, tok, `{"jobTitle":"patched"}`, "If-Match", `W/"1"`)
				if err != nil {
					return
				}
				if status == 204 {
					mu.Lock()
					created[m.ID] = true
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	for _, p := range c.procs {
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	for _, p := range c.procs {
		<-p.exit
	}
	patched := 0
	for _, ok := range created {
		if ok {
			patched++
		}
	}
	if len(created) == 0 || patched == 0 {
		t.Fatalf("%d creates and %d patches acknowledged before the kill, want some of each", len(created), patched)
	}

	after := c.client(startProcess(t, c.dir, "--database", c.db).base)
	for id, wasPatched := range created {
		r := after.req("GET", pendingPath+"/"+id, tok, nil)
		if r.status != 200 {
			t.Fatalf("acknowledged create %s lost after kill -9 of both nodes: %d %s", id, r.status, r.body)
		}
		if wasPatched && r.json(t)["jobTitle"] != "patched" {
			t.Fatalf("acknowledged PATCH of %s lost after kill -9 of both nodes: %s", id, r.body)
		}
	}
	t.Logf("%d acknowledged creates and %d acknowledged PATCHes all present after kill -9 of both nodes", len(created), patched)
}

// TestMultiNodeTokensAreValidOnEveryNode gets a token from node A's token
// endpoint and uses it on node B; after a key rotation in the shared data
// directory, tokens of the new key are accepted by both; a token signed by
// another data directory's key is refused by both, which is what shows
// that the nodes check signatures rather than accept anything.
func TestMultiNodeTokensAreValidOnEveryNode(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]

	// A client of the token endpoint, registered in the shared directory.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"client", "add", "--data-dir", c.dir, "--tenant", defaultTenant,
		"--roles", "PendingExternalUserProfile.ReadWrite.All"}, noEnv, &out, io.Discard); err != nil {
		t.Fatalf("client add: %v", err)
	}
	var cl struct {
		ClientID      string `json:"client_id"`
		ClientSecret  string `json:"client_secret"`
		TokenEndpoint string `json:"token_endpoint"`
		Scope         string `json:"scope"`
	}
	if err := json.Unmarshal(out.Bytes(), &cl); err != nil {
		t.Fatalf("client add printed %s: %v", out.String(), err)
	}
	tokenFrom := func(node *testServer) string {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ClientID}, "client_secret": {cl.ClientSecret}, "scope": {cl.Scope}}
		resp, err := node.client.PostForm(node.base+cl.TokenEndpoint, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.AccessToken == "" {
			t.Fatalf("token endpoint of %s: %d, %v", node.base, resp.StatusCode, err)
		}
		return tr.AccessToken
	}
	accepted := func(node *testServer, tok string) int {
		return node.req("GET", pendingPath, tok, nil).status
	}

	fromA := tokenFrom(a)
	if s := accepted(b, fromA); s != 200 {
		t.Fatalf("a token from A's endpoint on B: %d, want 200", s)
	}
	if s := accepted(a, tokenFrom(b)); s != 200 {
		t.Fatalf("a token from B's endpoint on A: %d, want 200", s)
	}

	// A key of another deployment signs tokens no node accepts.
	stranger := (&testServer{t: t, dir: t.TempDir()}).token()
	for _, node := range c.nodes {
		if s := accepted(node, stranger); s != 401 {
			t.Fatalf("a token signed by another data directory's key on %s: %d, want 401", node.base, s)
		}
	}

	// Rotation in the shared directory reaches every node: the new key
	// signs the tokens of both endpoints, and both nodes accept them, as
	// well as the tokens of the old key.
	if err := run(context.Background(), []string{"keys", "rotate", "--data-dir", c.dir}, noEnv, io.Discard, io.Discard); err != nil {
		t.Fatalf("keys rotate: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		newA, newB := tokenFrom(a), tokenFrom(b)
		if kid(t, newA) != kid(t, fromA) && kid(t, newB) != kid(t, fromA) {
			for _, node := range c.nodes {
				for _, tok := range []string{newA, newB, fromA} {
					if s := accepted(node, tok); s != 200 {
						t.Fatalf("after rotation, %s refuses a token (kid %s): %d", node.base, kid(t, tok), s)
					}
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the nodes still sign with the old key 30 s after the rotation")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// kid returns the key id in a JWT's header.
func kid(t *testing.T, token string) string {
	t.Helper()
	header, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h.Kid
}

// TestMultiNodeRetentionPurgeRunsOnEveryNode deletes items through both
// nodes, each of which purges every second: the items are deleted items on
// both nodes at once, then gone from both, and no purge logs an error
// (startNodes fails the test on any ERROR line).
func TestMultiNodeRetentionPurgeRunsOnEveryNode(t *testing.T) {
	c := startCluster(t, 2, "--retention", "2s")
	tok := c.nodes[0].token()
	var ids []string
	for i := range 20 {
		node := c.nodes[i%2]
		id := node.create(tok, map[string]any{"displayName": "short-lived", "phoneNumber": fmt.Sprintf("+1555050%04d", i)})["id"].(string)
		if r := node.req("DELETE", pendingPath+"/"+id, tok, nil); r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		if r := c.nodes[(i+1)%2].req("GET", deletedPath+"/"+id, tok, nil); r.status != 200 {
			t.Fatalf("the other node has no deleted item %s: %d", id, r.status)
		}
		ids = append(ids, id)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for _, node := range c.nodes {
			for {
				r := node.req("GET", deletedPath+"/"+id, tok, nil)
				if r.status == 404 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("deleted item %s still on %s long after its retention: %d", id, node.base, r.status)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
}
