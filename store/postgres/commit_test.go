package postgres

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store/conformance"
	"github.com/extdir/extdir/store/sqlstore"
)

// heldStore is a store whose one committer waits, before it takes a batch,
// until the test releases it: creates started meanwhile all queue, and go
// out as one batch.
type heldStore struct {
	*Store
	url     string
	release chan struct{}
	once    sync.Once
}

func openHeld(t *testing.T) *heldStore {
	t.Helper()
	url := schemaURL(t)
	s, err := Open(context.Background(), url, Options{MaxConns: 4, Committers: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := &heldStore{Store: s, url: url, release: make(chan struct{})}
	s.commits.beforeTake = func() { <-h.release }
	t.Cleanup(func() {
		h.open()
		_ = s.Close()
	})
	return h
}

// open lets the committer run, from now on.
func (h *heldStore) open() { h.once.Do(func() { close(h.release) }) }

// waitQueued waits until n creates are queued.
func (h *heldStore) waitQueued(n int) {
	for h.commits.queued() < n {
		runtime.Gosched()
	}
}

// creates runs one Create per profile at once, each with its ctx (nil: the
// test's), releases the committer once all of them are queued, and returns
// their errors.
func (h *heldStore) creates(t *testing.T, ps []*extdir.Profile, recs []*extdir.AuditRecord, ctxs []context.Context) []error {
	t.Helper()
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		ctx := t.Context()
		if ctxs != nil && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		var rec *extdir.AuditRecord
		if recs != nil {
			rec = recs[i]
		}
		wg.Go(func() { errs[i] = h.Create(ctx, p, rec) })
	}
	h.waitQueued(len(ps))
	h.open()
	wg.Wait()
	return errs
}

// wantOneBatch checks that the committer sent exactly one batch, of n.
func (h *heldStore) wantOneBatch(t *testing.T, n int) {
	t.Helper()
	if b, m := h.commits.batches.Load(), h.commits.members.Load(); b != 1 || m != int64(n) {
		t.Fatalf("%d batches of %d creates in all, want 1 of %d", b, m, n)
	}
}

// auditsOf counts the audit records of a target.
func (h *heldStore) auditsOf(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM audits WHERE target_id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantStored checks that p was created as Create said: readable, under the
// seq Create set, with its audit record.
func (h *heldStore) wantStored(t *testing.T, p *extdir.Profile, audits int) {
	t.Helper()
	got, err := h.Get(context.Background(), p.Tenant, p.ID)
	if err != nil {
		t.Fatalf("get %s: %v", p.ID, err)
	}
	if got.Seq != p.Seq || got.DisplayName != p.DisplayName {
		t.Fatalf("get %s: seq %d %q, want seq %d %q", p.ID, got.Seq, got.DisplayName, p.Seq, p.DisplayName)
	}
	if n := h.auditsOf(t, p.ID); n != audits {
		t.Fatalf("%s has %d audit records, want %d", p.ID, n, audits)
	}
}

// wantAbsent checks that nothing of p was written: the row of its id, if
// any, is another profile's, and rec (if not nil) is not in the log.
func (h *heldStore) wantAbsent(t *testing.T, p *extdir.Profile, rec *extdir.AuditRecord) {
	t.Helper()
	got, err := h.Get(context.Background(), p.Tenant, p.ID)
	switch {
	case extdir.ErrorCode(err) == extdir.ENotFound:
	case err != nil:
		t.Fatalf("get %s: %v", p.ID, err)
	case got.DisplayName == p.DisplayName || got.PhoneNumber == p.PhoneNumber:
		t.Fatalf("%s %q was written", p.ID, p.DisplayName)
	}
	var n int
	if rec != nil {
		if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM audits WHERE id = $1", rec.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("the audit record %s of %s was written", rec.ID, p.ID)
		}
	}
}

// oldCreate is what Create answers with group commit off, on the same
// schema: the answer a batch member must get.
func (h *heldStore) oldCreate(t *testing.T, p *extdir.Profile, rec *extdir.AuditRecord) error {
	t.Helper()
	s, err := Open(context.Background(), h.url, Options{MaxConns: 1, CreateBatch: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Create(context.Background(), p, rec)
}

func TestGroupCommitAClashAbortsNoNeighbour(t *testing.T) {
	h := openHeld(t)
	held := conformance.Profile("tenant", 1)
	if err := h.Import(context.Background(), []*extdir.Profile{held}, nil); err != nil {
		t.Fatal(err)
	}
	var ps []*extdir.Profile
	var recs []*extdir.AuditRecord
	for n := 2; n <= 6; n++ {
		ps = append(ps, conformance.Profile("tenant", n))
	}
	phoneClash, idClash := ps[1], ps[3]
	phoneClash.PhoneNumber = held.PhoneNumber
	idClash.ID = held.ID
	for i, p := range ps {
		recs = append(recs, auditOf(p, i))
	}
	errs := h.creates(t, ps, recs, nil)
	h.wantOneBatch(t, len(ps))
	for i, p := range ps {
		switch p {
		case phoneClash, idClash:
			h.wantAbsent(t, p, recs[i])
			again := *p
			want := h.oldCreate(t, &again, recs[i])
			if errs[i] == nil || want == nil || errs[i].Error() != want.Error() || extdir.ErrorCode(errs[i]) != extdir.ErrorCode(want) {
				t.Errorf("the clash of %s in a batch: %v, want %v, as without group commit", p.ID, errs[i], want)
			}
		default:
			if errs[i] != nil {
				t.Fatalf("create %s beside a clash: %v", p.ID, errs[i])
			}
			h.wantStored(t, p, 1)
		}
	}
	if !errors.Is(errs[1], extdir.ErrPhoneTaken) || !errors.Is(errs[3], sqlstore.ErrDuplicateID) {
		t.Fatalf("the phone clash got %v, the id clash %v: want ErrPhoneTaken and ErrDuplicateID", errs[1], errs[3])
	}
}

func TestGroupCommitTwoCreatesOfOnePhoneInOneBatch(t *testing.T) {
	h := openHeld(t)
	a, b := conformance.Profile("tenant", 1), conformance.Profile("tenant", 2)
	b.PhoneNumber = a.PhoneNumber
	ps := []*extdir.Profile{a, b}
	recs := []*extdir.AuditRecord{auditOf(a, 1), auditOf(b, 2)}
	errs := h.creates(t, ps, recs, nil)
	h.wantOneBatch(t, 2)
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			won = i
		case !errors.Is(err, extdir.ErrPhoneTaken):
			t.Fatalf("create %d: %v, want nil or ErrPhoneTaken", i, err)
		}
	}
	if won < 0 || errs[1-won] == nil {
		t.Fatalf("creates of one phone in one batch: %v, want one nil and one ErrPhoneTaken", errs)
	}
	h.wantStored(t, ps[won], 1)
	h.wantAbsent(t, ps[1-won], recs[1-won])
}

// Two creates of one id in one batch: the statement matches its rows to
// members by id, so the second runs alone, and clashes on the key.
func TestGroupCommitTwoCreatesOfOneIDInOneBatch(t *testing.T) {
	h := openHeld(t)
	a, b := conformance.Profile("tenant", 1), conformance.Profile("tenant", 2)
	b.ID = a.ID
	errs := h.creates(t, []*extdir.Profile{a, b}, []*extdir.AuditRecord{auditOf(a, 1), auditOf(b, 2)}, nil)
	h.wantOneBatch(t, 1)
	won := 0
	if errs[0] != nil {
		won = 1
	}
	if errs[won] != nil || !errors.Is(errs[1-won], sqlstore.ErrDuplicateID) {
		t.Fatalf("creates of one id in one batch: %v, want one nil and one ErrDuplicateID", errs)
	}
	h.wantStored(t, []*extdir.Profile{a, b}[won], 1)
}

// A caller whose context ends while its create is queued is answered at
// once, and its create is never sent; one whose context ends once its batch
// is on its way is answered with the batch's outcome.
func TestGroupCommitCancelledCallers(t *testing.T) {
	h := openHeld(t)
	ps := []*extdir.Profile{conformance.Profile("tenant", 1), conformance.Profile("tenant", 2), conformance.Profile("tenant", 3)}
	queuedCtx, cancelQueued := context.WithCancel(t.Context())
	sentCtx, cancelSent := context.WithCancel(t.Context())
	defer cancelSent()
	// The batch is built by now: cancel the context of one of its members.
	h.commits.inject = func(*pgx.Batch) { cancelSent() }

	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = h.Create(t.Context(), ps[0], nil) })
	wg.Go(func() { errs[1] = h.Create(sentCtx, ps[1], nil) })
	h.waitQueued(2)
	cancelled := make(chan error)
	go func() { cancelled <- h.Create(queuedCtx, ps[2], nil) }()
	h.waitQueued(3)
	cancelQueued()
	// Answered while the committer is still held.
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("create whose context ended in the queue: %v, want context.Canceled", err)
	}
	h.open()
	wg.Wait()
	h.wantOneBatch(t, 2)
	for i, err := range errs[:2] {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		h.wantStored(t, ps[i], 0)
	}
	h.wantAbsent(t, ps[2], nil)
	if sentCtx.Err() == nil {
		t.Fatal("the context of the member sent was not cancelled: the test tests nothing")
	}
}

// A batch that fails for any other reason than a clash committed nothing,
// so each member runs alone and gets its own answer.
func TestGroupCommitFallsBackOnABatchError(t *testing.T) {
	t.Run("a value the database refuses", func(t *testing.T) {
		h := openHeld(t)
		var ps []*extdir.Profile
		var recs []*extdir.AuditRecord
		for n := 1; n <= 4; n++ {
			p := conformance.Profile("tenant", n)
			ps = append(ps, p)
			recs = append(recs, auditOf(p, n))
		}
		bad := ps[2]
		bad.DisplayName = "Nul\x00Byte" // text holds no NUL character
		errs := h.creates(t, ps, recs, nil)
		h.wantOneBatch(t, len(ps))
		for i, p := range ps {
			if p != bad {
				if errs[i] != nil {
					t.Fatalf("create %s in a batch with a refused value: %v", p.ID, errs[i])
				}
				h.wantStored(t, p, 1)
				continue
			}
			var pe *pgconn.PgError
			if !errors.As(errs[i], &pe) || pe.Code != "22021" {
				t.Fatalf("create of a NUL in displayName: %v, want SQLSTATE 22021", errs[i])
			}
			h.wantAbsent(t, p, recs[i])
		}
	})
	t.Run("a batch of one", func(t *testing.T) {
		h := openHeld(t)
		p := conformance.Profile("tenant", 1)
		p.DisplayName = "Nul\x00Byte"
		rec := auditOf(p, 1)
		errs := h.creates(t, []*extdir.Profile{p}, []*extdir.AuditRecord{rec}, nil)
		h.wantOneBatch(t, 1)
		var pe *pgconn.PgError
		if !errors.As(errs[0], &pe) || pe.Code != "22021" {
			t.Fatalf("lone create of a NUL in displayName: %v, want SQLSTATE 22021", errs[0])
		}
		h.wantAbsent(t, p, rec)
	})
	t.Run("an error after every member's insert", func(t *testing.T) {
		// Every insert of the batch returns its seq, then the transaction
		// fails: no member may be answered with a seq that was rolled back.
		h := openHeld(t)
		h.commits.inject = func(b *pgx.Batch) { b.Queue("SELECT 1 / (SELECT count(*) - count(*) FROM profiles)") }
		var ps []*extdir.Profile
		var recs []*extdir.AuditRecord
		for n := 1; n <= 3; n++ {
			p := conformance.Profile("tenant", n)
			ps = append(ps, p)
			recs = append(recs, auditOf(p, n))
		}
		errs := h.creates(t, ps, recs, nil)
		h.wantOneBatch(t, len(ps))
		for i, p := range ps {
			if errs[i] != nil {
				t.Fatalf("create %s: %v", p.ID, errs[i])
			}
			h.wantStored(t, p, 1)
		}
	})
}
