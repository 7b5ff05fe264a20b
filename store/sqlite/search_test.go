package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/odata"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlfilter"
	"github.com/extdir/extdir/store/sqlstore"
)

// likeOnly is the SQLite dialect without its search index: a search tests
// every row of the listing with SearchWhere's LIKEs, as before migration
// 0004. What the index finds must be exactly what this finds.
type likeOnly struct{ sqlfilter.SQLite }

func (likeOnly) SearchIndex() string { return "" }

const searchTenant = "5ea5c000-0000-4000-8000-000000000001"

func searchProfile(n int, display, phone string, company *string) *extdir.Profile {
	p := extdir.NewPending(searchTenant, fmt.Sprintf("5ea5c000-0000-4000-8000-%012d", n),
		"1f0c5d2a-0000-4000-8000-0000000000c1", time.Date(2026, 3, 1, 0, 0, n, 0, time.UTC))
	p.DisplayName, p.PhoneNumber, p.CompanyName = display, phone, company
	return p
}

func term(t testing.TB, name, text string) odata.SearchTerm {
	t.Helper()
	p, ok := extdir.PropertyByName(name)
	if !ok || !p.Searchable {
		t.Fatalf("%s is not searchable", name)
	}
	return odata.SearchTerm{Prop: p, Text: text}
}

func search(groups ...[]odata.SearchTerm) *odata.Search { return &odata.Search{Any: groups} }

// listAll reads every page of q through the store (the index, where the
// search can use it), Top rows at a time, and returns the ids in order.
func listAll(t testing.TB, s *Store, q store.Query) []string {
	t.Helper()
	var ids []string
	for {
		page, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Profiles {
			ids = append(ids, p.ID)
		}
		if page.Next == nil {
			return ids
		}
		q.After = page.Next
	}
}

// listLike reads every row of q through the LIKEs alone, in one statement.
func listLike(t testing.TB, s *Store, q store.Query) []string {
	t.Helper()
	q.Top, q.After = 1_000_000, nil
	query, args, err := sqlstore.ListSQL(likeOnly{}, selectProfile, q)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(query, "profiles_search") {
		t.Fatalf("the LIKE-only statement uses the index: %s", query)
	}
	rows, err := s.reader.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// searchAlphabet is what the random values and terms are made of: ASCII
// of both cases and digits, the word separators and other punctuation
// unicode61 splits at, LIKE's and FTS5's own syntax, letters whose case
// SQLite's NOCASE does not fold but unicode61 does, a combining mark, a
// non-breaking space, and letters beyond ASCII and beyond the basic plane.
var searchAlphabet = []string{
	"a", "b", "A", "B", "z", "Z", "o", "O", "0", "4", "2", "9",
	" ", " ", "-", "_", ".", "+", "/", "@", "'", `"`, "*", "%", `\`, ":", "(", ")", "^",
	"é", "É", "e\u0301", "ß", "σ", "Σ", "İ", "ı", "\u212a", "k", "K", "日", "😀", "·", "\u00a0", "ﬁ",
}

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(searchAlphabet[r.IntN(len(searchAlphabet))])
	}
	return b.String()
}

// flipCase swaps the case of some ASCII letters: the LIKEs ignore it.
func flipCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if r.IntN(2) == 0 && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			b[i] = c ^ 0x20
		}
	}
	return string(b)
}

// TestSearchIndexFindsWhatLikeFinds holds the index to the superset rule
// and the LIKEs to exactness: on random values, for random terms (pieces
// of the values cut anywhere, with their case flipped, and random text),
// the store's search returns exactly the rows the LIKE-only statement
// returns, in the same order (insertion order, or an $orderby), page after
// page, and counts them alike.
func TestSearchIndexFindsWhatLikeFinds(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 1))
	s := openTest(t, Memory)
	const rows = 600
	ps := make([]*extdir.Profile, rows)
	var values []string
	for i := range ps {
		display := randomText(r, 1+r.IntN(14))
		var company *string
		if r.IntN(5) > 0 {
			c := randomText(r, r.IntN(12))
			company = &c
			values = append(values, c)
		}
		phone := fmt.Sprintf("+%d %s", i, randomText(r, r.IntN(4))) // unique among live rows
		ps[i] = searchProfile(i, display, phone, company)
		values = append(values, display, phone)
	}
	// A few known shapes besides the random ones.
	fixed := []string{"John Smith", "john-smith", "John_Smith.jr", "Jo Smith", "Müller-Lüdenscheidt", "O'Brien", "x+1555 0100", "C++ & Co.", "--lead", "trail--", "日本 語", "ΣΟΦΙΑ σοφία"}
	for i, v := range fixed {
		c := v
		ps[i].DisplayName, ps[len(fixed)+i].CompanyName = v, &c
		values = append(values, v)
	}
	if err := s.Import(context.Background(), ps, nil); err != nil {
		t.Fatal(err)
	}

	props := []string{"displayName", "companyName", "phoneNumber"}
	randomTerm := func() odata.SearchTerm {
		var text string
		switch r.IntN(4) {
		case 0:
			text = randomText(r, 1+r.IntN(4))
		default:
			v := values[r.IntN(len(values))]
			if v == "" {
				v = "a"
			}
			// A piece cut at byte offsets, trimmed back to whole runes.
			i := r.IntN(len(v))
			j := i + 1 + r.IntN(len(v)-i)
			for i > 0 && !utf8.RuneStart(v[i]) {
				i--
			}
			for j < len(v) && !utf8.RuneStart(v[j]) {
				j++
			}
			text = flipCase(r, v[i:j])
		}
		text = strings.TrimSpace(text)
		if text == "" {
			text = "a"
		}
		return term(t, props[r.IntN(len(props))], text)
	}
	var indexed, fallback, nonEmpty int
	for i := range 1500 {
		var groups [][]odata.SearchTerm
		for range 1 + r.IntN(2) {
			var g []odata.SearchTerm
			for range 1 + r.IntN(2) {
				g = append(g, randomTerm())
			}
			groups = append(groups, g)
		}
		sr := search(groups...)
		q := store.Query{Tenant: searchTenant, Kind: extdir.KindPending, Search: sr, Top: 1 + r.IntN(7)}
		// A third of the searches sort, and page by the sort key's cursor.
		if by := []string{"", "", "", "", "displayName", "createdDateTime desc"}[r.IntN(6)]; by != "" {
			ob, err := odata.ParseOrderBy(by, extdir.KindPending)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range ob {
				q.OrderBy = append(q.OrderBy, store.Order(o))
			}
		}
		if _, ok := sqlfilter.SearchMatch(sr); ok {
			indexed++
		} else {
			fallback++
		}
		want := listLike(t, s, q)
		got := listAll(t, s, q)
		if len(want) > 0 {
			nonEmpty++
		}
		if !slices.Equal(got, want) {
			match, _ := sqlfilter.SearchMatch(sr)
			t.Fatalf("search %d %s (FTS5 %q): the index finds %d rows, the LIKEs %d", i, sr, match, len(got), len(want))
		}
		n, err := s.Count(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(len(want)) {
			t.Fatalf("search %s: count %d, want %d", sr, n, len(want))
		}
	}
	t.Logf("%d searches through the index, %d without (no token), %d with matches", indexed, fallback, nonEmpty)
	if indexed < 800 || nonEmpty < 400 {
		t.Errorf("too few searches exercised the index (%d) or matched (%d)", indexed, nonEmpty)
	}
}

// TestSearchTokenRunes checks sqlfilter.HasSearchToken against the linked
// SQLite: every rune it takes for a token is one for unicode61, so that a
// term it sends to the index never becomes an empty phrase, which would
// match nothing.
func TestSearchTokenRunes(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE VIRTUAL TABLE runes USING fts5(x, tokenize='unicode61 remove_diacritics 0')"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := rune(1); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) || !sqlfilter.HasSearchToken(string(r)) {
			continue
		}
		if _, err := tx.Exec("INSERT INTO runes (rowid, x) VALUES (?, ?)", int64(r), string(r)); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// runes_docsize holds each row's token count, a varint: 0 is X'00'.
	rows, err := db.Query("SELECT id FROM runes_docsize WHERE sz = X'00' ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		bad = append(bad, fmt.Sprintf("U+%04X", r))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d runes checked", n)
	if len(bad) > 0 {
		t.Errorf("%d runes HasSearchToken takes for tokens are none to unicode61: %v", len(bad), bad[:min(len(bad), 50)])
	}
}

// TestSearchPlans holds a search's pages to a plan that reads about a
// page: the index's matches in rowid (seq) order, each row of profiles
// found by its seq, no SCAN of profiles and no sort; on a fresh database
// and on one with a million profiles' statistics. An $orderby sorts the
// matches (the index has no displayName order), as does a count; a term
// without a token keeps the listing index's plan.
func TestSearchPlans(t *testing.T) {
	const tenant = "00000000-0000-0000-0000-0000000000e1"
	parse := func(s string) *odata.Search {
		sr, err := odata.ParseSearch(s, extdir.KindPending)
		if err != nil {
			t.Fatal(err)
		}
		return sr
	}
	base := store.Query{Tenant: tenant, Kind: extdir.KindPending, Top: 100, Search: parse(`"companyName:042"`)}
	next := base
	next.After = &store.Cursor{Seq: 500_000}
	deleted := base
	deleted.Deleted = true
	two := base
	two.Search = parse(`"displayName:John Sm" AND "companyName:042" OR "phoneNumber:+1555"`)
	filtered := base
	var err error
	if filtered.Filter, err = odata.Filter("startswith(supervisorId,'sup-0004')", extdir.KindPending); err != nil {
		t.Fatal(err)
	}
	ordered := base
	ob, err := odata.ParseOrderBy("displayName", extdir.KindPending)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ob {
		ordered.OrderBy = append(ordered.OrderBy, store.Order(o))
	}
	orderedNext := ordered
	orderedNext.After = &store.Cursor{Seq: 500_000, Keys: []extdir.Value{extdir.StringValue("User 0500000")}}
	noToken := base
	noToken.Search = parse(`"displayName:-"`)

	cases := []struct {
		name  string
		q     store.Query
		index bool // must drive from profiles_search
		sorts bool // may sort
	}{
		{"first page", base, true, false},
		{"nextLink page", next, true, false},
		{"deleted items", deleted, true, false},
		{"two groups", two, true, false},
		// Without statistics the planner may drive from the filter's
		// index instead, probing the search index by rowid, and sort.
		{"with $filter", filtered, false, true},
		{"$orderby=displayName", ordered, true, true},
		{"$orderby=displayName, nextLink page", orderedNext, true, true},
		{"a term without a token", noToken, false, false},
	}
	for _, stats := range []string{"no statistics", "a million profiles"} {
		t.Run(stats, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "extdir.db")
			if stats != "no statistics" {
				loadStats(t, path, millionStats)
			}
			s := openTest(t, path)
			for _, c := range cases {
				list, args, err := listSQL(c.q)
				if err != nil {
					t.Fatal(err)
				}
				plan := explain(t, s, list, args)
				t.Logf("%s: %s", c.name, plan)
				const drive = "SCAN profiles_search VIRTUAL TABLE INDEX "
				// Each match is one row of profiles, found by its seq: by the
				// table's key, or (deleted items) the partial index's.
				if c.index && (!strings.HasPrefix(plan, drive) || !strings.Contains(plan, "rowid=?)") || !strings.Contains(plan, "; SEARCH profiles USING ")) {
					t.Errorf("%s: plan %q, want the index's matches joined by seq", c.name, plan)
				}
				if c.index && !c.sorts && !strings.HasPrefix(plan, drive+"64:") {
					// FTS5's idxStr: 64 is ORDER BY rowid served by the index.
					t.Errorf("%s: plan %q, want the index in rowid order", c.name, plan)
				}
				if c.q.After != nil && len(c.q.OrderBy) == 0 && !strings.Contains(plan, ">;") {
					t.Errorf("%s: plan %q, want the cursor as a rowid bound of the index", c.name, plan)
				}
				if strings.Contains(plan, "SCAN profiles ") || strings.HasSuffix(plan, "SCAN profiles") {
					t.Errorf("%s: plan %q scans profiles", c.name, plan)
				}
				if !c.sorts && strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("%s: plan %q sorts", c.name, plan)
				}
				if c.q.After != nil || len(c.q.OrderBy) > 0 {
					continue
				}
				count, cargs, err := countSQL(c.q)
				if err != nil {
					t.Fatal(err)
				}
				plan = explain(t, s, count, cargs)
				t.Logf("count of %s: %s", c.name, plan)
				if c.index && !strings.HasPrefix(plan, drive) || strings.Contains(plan, "SCAN profiles ") || strings.HasSuffix(plan, "SCAN profiles") {
					t.Errorf("count of %s: plan %q, want the index's matches", c.name, plan)
				}
			}
		})
	}
}

// fts reads what the index holds: a digest of its segments, which any
// write to it changes.
func fts(t *testing.T, s *Store) string {
	t.Helper()
	var digest string
	if err := s.reader.QueryRow("SELECT count(*) || '/' || total(length(block)) || '/' || group_concat(hex(block), '') FROM profiles_search_data").Scan(&digest); err != nil {
		t.Fatal(err)
	}
	return digest
}

// TestSearchIndexFollowsWrites checks that the triggers keep the index in
// step with every write: a search finds a profile by its current values
// and no longer by those it had, through create, PATCH, soft delete,
// restore, purge, import and reset; and a PATCH of a property that is not
// searchable does not write the index at all.
func TestSearchIndexFollowsWrites(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Memory)
	find := func(deleted bool, terms ...string) []string {
		t.Helper()
		var g []odata.SearchTerm
		for _, tm := range terms {
			name, text, _ := strings.Cut(tm, ":")
			g = append(g, term(t, name, text))
		}
		q := store.Query{Tenant: searchTenant, Kind: extdir.KindPending, Deleted: deleted, Search: search(g), Top: 10}
		if list, _, _ := listSQL(q); !strings.Contains(list, "profiles_search") {
			t.Fatalf("%v does not use the index", terms)
		}
		return listAll(t, s, q)
	}
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s: found %v, want %v", what, got, want)
		}
	}
	update := func(id string, fn func(p *extdir.Profile)) {
		t.Helper()
		if _, err := s.Update(ctx, searchTenant, id, func(p *extdir.Profile) (*extdir.AuditRecord, error) {
			fn(p)
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	company := "Fabrikam"
	p := searchProfile(1, "Ada Lovelace", "+15550001", &company)
	if err := s.Create(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	expect("created", find(false, "displayName:love"), p.ID)
	expect("created, by company and phone", find(false, "companyName:fab", "phoneNumber:+1555"), p.ID)

	update(p.ID, func(p *extdir.Profile) { p.DisplayName = "Grace Hopper" })
	expect("renamed, new name", find(false, "displayName:hop"), p.ID)
	expect("renamed, old name", find(false, "displayName:Ada"))
	expect("renamed, company kept", find(false, "companyName:Fabrikam"), p.ID)

	update(p.ID, func(p *extdir.Profile) { p.CompanyName = nil })
	expect("company cleared", find(false, "companyName:Fabrikam"))

	before := fts(t, s)
	update(p.ID, func(p *extdir.Profile) { title := "Admiral"; p.JobTitle = &title })
	if after := fts(t, s); after != before {
		t.Errorf("a PATCH of jobTitle wrote the index")
	}
	update(p.ID, func(p *extdir.Profile) { p.PhoneNumber = "+15559999" })
	if after := fts(t, s); after == before {
		t.Errorf("a PATCH of phoneNumber did not write the index (is the digest blind?)")
	}
	expect("new phone", find(false, "phoneNumber:+1555999"), p.ID)
	expect("old phone", find(false, "phoneNumber:+15550001"))

	update(p.ID, func(p *extdir.Profile) {
		if err := p.SoftDelete(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	})
	expect("deleted, live", find(false, "displayName:Grace"))
	expect("deleted, deleted items", find(true, "displayName:Grace"), p.ID)
	update(p.ID, func(p *extdir.Profile) {
		if err := p.Restore(); err != nil {
			t.Fatal(err)
		}
	})
	expect("restored", find(false, "displayName:Grace"), p.ID)

	update(p.ID, func(p *extdir.Profile) {
		if err := p.SoftDelete(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	})
	if err := s.Purge(ctx, searchTenant, p.ID, func(*extdir.Profile) (*extdir.AuditRecord, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	expect("purged", find(true, "displayName:Grace"))

	imported := []*extdir.Profile{searchProfile(2, "Katherine Johnson", "+15550002", nil), searchProfile(3, "Dorothy Vaughan", "+15550003", &company)}
	if err := s.Import(ctx, imported, nil); err != nil {
		t.Fatal(err)
	}
	expect("imported", find(false, "displayName:John"), imported[0].ID)
	expect("imported, company", find(false, "companyName:fabrik"), imported[1].ID)

	if _, err := s.Reset(ctx, searchTenant); err != nil {
		t.Fatal(err)
	}
	expect("reset", find(false, "phoneNumber:+1555"))
	var rows int
	if err := s.reader.QueryRow("SELECT count(*) FROM profiles_search WHERE profiles_search MATCH 'johnson OR vaughan'").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("after a reset the index still matches %d rows", rows)
	}
	// rank 1: also compare the index with the content of profiles.
	if _, err := s.writer.Exec("INSERT INTO profiles_search (profiles_search, rank) VALUES ('integrity-check', 1)"); err != nil {
		t.Errorf("integrity-check: %v", err)
	}
}
