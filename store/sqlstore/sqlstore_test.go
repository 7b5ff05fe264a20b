package sqlstore

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

func TestLoadMigrations(t *testing.T) {
	file := func(text string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(text)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []string // names in order
		wantErr string
	}{
		{"in version order", fstest.MapFS{
			"migrations/0002_b.sql": file("B"),
			"migrations/0001_a.sql": file("A"),
			"migrations/README":     file("not a migration"),
		}, []string{"0001_a.sql", "0002_b.sql"}, ""},
		{"none", fstest.MapFS{}, nil, ""},
		{"a gap", fstest.MapFS{"migrations/0001_a.sql": file(""), "migrations/0003_c.sql": file("")}, nil, "0003_c.sql: expected version 2"},
		{"a repeat", fstest.MapFS{"migrations/0001_a.sql": file(""), "migrations/0001_b.sql": file("")}, nil, "expected version 2"},
		{"no version", fstest.MapFS{"migrations/first.sql": file("")}, nil, "first.sql: name must be NNNN_what.sql"},
		{"version zero", fstest.MapFS{"migrations/0000_a.sql": file("")}, nil, "name must be NNNN_what.sql"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := LoadMigrations(tc.files)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for i, m := range ms {
				if m.Version != i+1 || string(tc.files["migrations/"+m.Name].Data) != m.SQL {
					t.Errorf("migration %d: %+v", i, m)
				}
				names = append(names, m.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("migrations %v, want %v", names, tc.want)
			}
		})
	}
}

func TestPending(t *testing.T) {
	ms := []Migration{{Version: 1, Name: "0001_a.sql"}, {Version: 2, Name: "0002_b.sql"}}
	tests := []struct {
		name    string
		current int
		readErr error
		want    int // pending migrations
		wantErr string
	}{
		{"new database", 0, nil, 2, ""},
		{"one behind", 1, nil, 1, ""},
		{"up to date", 2, nil, 0, ""},
		{"newer than this build", 3, nil, 0, "newer than this build knows (2)"},
		{"unreadable version", 0, errors.New("no table"), 0, "read schema version: no table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pending, err := Pending(ms, func(query string) (int, error) {
				if !strings.Contains(query, "schema_migrations") {
					t.Errorf("version query %q does not read schema_migrations", query)
				}
				return tc.current, tc.readErr
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(pending) != tc.want || (tc.want > 0 && pending[0].Version != tc.current+1) {
				t.Fatalf("pending %+v, %v; want the last %d", pending, err, tc.want)
			}
		})
	}
}

func TestSchemaCheck(t *testing.T) {
	schema := Schema{
		Fixed: map[string]Column{"seq": {Type: "int"}},
		Types: map[extdir.Type]string{
			extdir.TypeString: "text", extdir.TypeBoolean: "bool", extdir.TypeDateTimeOffset: "int", extdir.TypeInt32: "int",
		},
	}
	// matching is the table the migrations should have built.
	matching := func() map[string]Column {
		table := map[string]Column{"seq": {Type: "int"}}
		for _, p := range extdir.Columns {
			table[p.Column] = Column{Type: schema.Types[p.Type], NotNull: !p.Nullable}
		}
		return table
	}
	jobTitle, _ := extdir.PropertyByName("jobTitle")
	tests := []struct {
		name    string
		change  func(map[string]Column)
		wantErr string
	}{
		{"matching", func(map[string]Column) {}, ""},
		{"a property's column missing", func(c map[string]Column) { delete(c, jobTitle.Column) }, "profiles has no column " + jobTitle.Column},
		{"a fixed column missing", func(c map[string]Column) { delete(c, "seq") }, "profiles has no column seq"},
		{"a wrong type", func(c map[string]Column) { c[jobTitle.Column] = Column{Type: "int"} }, jobTitle.Column + " is int (not null: false), want text"},
		{"a wrong nullability", func(c map[string]Column) { c[jobTitle.Column] = Column{Type: "text", NotNull: true} }, "(not null: true), want text (not null: false)"},
		{"a column no property has", func(c map[string]Column) { c["shoe_size"] = Column{Type: "int"} }, "profiles.shoe_size is not in extdir.Columns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := matching()
			tc.change(table)
			err := schema.Check(table)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
	noBooleans := Schema{Types: map[extdir.Type]string{extdir.TypeString: "text"}}
	if err := noBooleans.Check(matching()); err == nil || !strings.Contains(err.Error(), "has no column type") {
		t.Fatalf("a schema without a column type for every property type: %v", err)
	}
}

func TestGate(t *testing.T) {
	var g Gate
	if err := g.Enter(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan bool)
	go func() { closed <- g.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a call was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	// Once Close has begun, nothing more gets in, while the call in flight
	// goes on.
	for g.Enter() == nil {
		g.Leave()
		time.Sleep(time.Millisecond)
	}
	if err := g.Enter(); err != ErrClosed {
		t.Fatalf("Enter during Close: %v, want ErrClosed", err)
	}
	g.Leave()
	if first := <-closed; !first {
		t.Fatal("the first Close reported it was not the first")
	}
	if g.Close() {
		t.Fatal("a second Close reported it was the first")
	}
}

func TestExpireCutsOffInWholeSeconds(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		deletedBefore time.Time
		batch         int
		batches       []int64 // rows each call deletes
		want          int64
		calls         int
		cutoff        int64
	}{
		{"a whole second", at, 10, []int64{3}, 3, 1, at.Unix()},
		{"within a second counts it", at.Add(500 * time.Millisecond), 10, []int64{3}, 3, 1, at.Unix() + 1},
		{"full batches go on", at, 2, []int64{2, 2, 1}, 5, 3, at.Unix()},
		{"an empty batch ends it", at, 2, []int64{2, 0}, 2, 2, at.Unix()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			n, err := Expire(tc.deletedBefore, tc.batch, func(cutoff int64, limit int) (int64, error) {
				if cutoff != tc.cutoff || limit != tc.batch {
					t.Errorf("batch with cutoff %d, limit %d; want %d, %d", cutoff, limit, tc.cutoff, tc.batch)
				}
				calls++
				return tc.batches[calls-1], nil
			})
			if err != nil || n != tc.want || calls != tc.calls {
				t.Fatalf("Expire = %d, %v after %d batches; want %d after %d", n, err, calls, tc.want, tc.calls)
			}
		})
	}
	failure := errors.New("disk full")
	calls := 0
	n, err := Expire(at, 2, func(int64, int) (int64, error) {
		if calls++; calls == 2 {
			return 0, failure
		}
		return 2, nil
	})
	if n != 2 || !errors.Is(err, failure) {
		t.Fatalf("Expire failing in its second batch = %d, %v; want the first batch's 2 and the error", n, err)
	}
}

func TestRunUpdate(t *testing.T) {
	refuse := errors.New("refused")
	tests := []struct {
		name    string
		fn      func(*extdir.Profile) error
		wantErr error // nil: success; errIdentityChanged: that bug
	}{
		{"a change", func(p *extdir.Profile) error { p.DisplayName = "new"; return nil }, nil},
		{"the callback's error", func(*extdir.Profile) error { return refuse }, refuse},
		{"tenant", func(p *extdir.Profile) error { p.Tenant = "other"; return nil }, errIdentityChanged},
		{"seq", func(p *extdir.Profile) error { p.Seq++; return nil }, errIdentityChanged},
		{"id", func(p *extdir.Profile) error { p.ID = "other"; return nil }, errIdentityChanged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := extdir.NewPending("t", "id", "creator", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			p.Seq = 7
			before, _, err := RunUpdate(p, store.Unaudited(tc.fn))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || before != nil {
					t.Fatalf("RunUpdate = %v, %v; want error %v", before, err, tc.wantErr)
				}
				if tc.wantErr == refuse && err != refuse {
					t.Fatalf("the callback's error came back as %v, not unchanged", err)
				}
				return
			}
			if err != nil || before.DisplayName != "" || p.DisplayName != "new" {
				t.Fatalf("RunUpdate = %+v, %v; want the profile as it was before", before, err)
			}
		})
	}
	p := extdir.NewPending("t", "id", "creator", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("+1", 3600)))
	if _, _, err := RunUpdate(p, store.Unaudited(func(p *extdir.Profile) error { p.CreatedDateTime = p.CreatedDateTime.Add(time.Millisecond); return nil })); err != nil {
		t.Fatal(err)
	}
	if p.CreatedDateTime.Location() != time.UTC || p.CreatedDateTime.Nanosecond() != 0 {
		t.Fatalf("createdDateTime %v after the update, want whole seconds in UTC", p.CreatedDateTime)
	}
}
