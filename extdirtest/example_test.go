package extdirtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/extdir/extdir/extdirtest"
)

// A test of code that invites people: start extdir, let the code under test
// call it, then ask the journal what it sent. In a real test, t is the
// test's *testing.T.
func Example() {
	t := newExampleT()
	defer t.done()

	srv := extdirtest.Start(t)
	tn := srv.Tenant(t) // a tenant of this test's own

	// The code under test, with plain net/http.
	invite := func(name, phone string) int {
		body := fmt.Sprintf(`{"displayName":%q,"phoneNumber":%q}`, name, phone)
		req, _ := http.NewRequest("POST", srv.URL+"/beta/directory/pendingExternalUserProfiles", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tn.AppToken(t))
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("invite: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(invite("Ada Lovelace", "+14255550100"))
	fmt.Println(invite("Ada again", "+14255550100")) // the number is taken: 400, as Graph answers

	for _, r := range tn.Requests(t) {
		fmt.Println(r.Method, r.Path, r.Status)
	}
	// Output:
	// 201
	// 400
	// POST /beta/directory/pendingExternalUserProfiles 201
	// POST /beta/directory/pendingExternalUserProfiles 400
}

// Seed known data, then make a month pass: the soft-deleted profile is
// purged, as Graph purges deleted items after 30 days.
func ExampleClock() {
	t := newExampleT()
	defer t.done()

	srv := extdirtest.Start(t)
	tn := srv.Tenant(t)
	ids := tn.Seed(t, "displayName,phoneNumber\nAda Lovelace,+14255550100\n")

	get := func(method, path string) int {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tn.AppToken(t))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		var body struct {
			DeletedDateTime *time.Time `json:"deletedDateTime"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(get("DELETE", "/beta/directory/pendingExternalUserProfiles/"+ids[0]))
	fmt.Println(get("GET", "/beta/directory/deletedItems/"+ids[0]))
	srv.Clock().Advance(t, 31*24*time.Hour)
	fmt.Println(get("GET", "/beta/directory/deletedItems/"+ids[0]))
	// Output:
	// 204
	// 200
	// 404
}

// exampleT stands in for *testing.T so that the examples run as examples;
// a test passes its own t.
type exampleT struct {
	cleanups []func()
	dirs     []string
}

func newExampleT() *exampleT { return &exampleT{} }

func (t *exampleT) Helper()                           {}
func (t *exampleT) Log(args ...any)                   {}
func (t *exampleT) Errorf(format string, args ...any) { fmt.Printf("error: "+format+"\n", args...) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) TempDir() string {
	d, err := os.MkdirTemp("", "extdirtest-example-")
	if err != nil {
		panic(err)
	}
	t.dirs = append(t.dirs, d)
	return d
}

func (t *exampleT) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	for _, d := range t.dirs {
		os.RemoveAll(d)
	}
}
