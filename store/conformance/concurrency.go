package conformance

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// workers is how many goroutines each concurrency test runs at once.
const workers = 20

// together runs fn(i) for i in [0, n) on n goroutines released at the same
// moment, and returns their errors by i.
func together(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneSucceeds checks that exactly one error is nil and every other one is
// ErrPhoneTaken.
func oneSucceeds(t *testing.T, errs []error, what string) {
	t.Helper()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, extdir.ErrPhoneTaken):
			t.Errorf("%s %d: %v, want nil or ErrPhoneTaken", what, i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%s: %d succeeded, want exactly 1", what, ok)
	}
}

var concurrencyTests = []test{
	{"concurrent creates with one phone number: exactly one succeeds", func(t *testing.T, s store.Store) {
		var f fixture
		ps := make([]*extdir.Profile, workers)
		for i := range ps {
			ps[i] = f.sparse(tenantA, extdir.Kinds[i%2])
			ps[i].PhoneNumber = "+15555550100"
		}
		oneSucceeds(t, together(workers, func(i int) error { return s.Create(t.Context(), ps[i], nil) }), "create")
		var n int64
		for _, k := range extdir.Kinds {
			c, err := s.Count(t.Context(), store.Query{Tenant: tenantA, Kind: k, Top: 1})
			if err != nil {
				t.Fatalf("count: %v", err)
			}
			n += c
		}
		if n != 1 {
			t.Fatalf("%d live profiles after the race, want 1", n)
		}
	}},
	{"concurrent restores of one phone number: exactly one succeeds", func(t *testing.T, s store.Store) {
		var f fixture
		ps := make([]*extdir.Profile, workers)
		for i := range ps {
			p := f.sparse(tenantA, extdir.Kinds[i%2])
			p.PhoneNumber = "+15555550100"
			ps[i] = softDelete(t, s, create(t, s, p), base)
		}
		oneSucceeds(t, together(workers, func(i int) error {
			_, err := s.Update(t.Context(), tenantA, ps[i].ID, store.Unaudited(func(p *extdir.Profile) error {
				p.DeletedDateTime = nil
				return nil
			}))

			return err
		}), "restore")
	}},
	{"concurrent updates of one row lose nothing", func(t *testing.T, s store.Store) {
		var f fixture
		p := f.full(tenantA, extdir.KindPending)
		p.Epoch = 5
		create(t, s, p)
		epochs := make([]int64, workers)
		errs := together(workers, func(i int) error {
			q, err := s.Update(t.Context(), tenantA, p.ID, store.Unaudited(func(p *extdir.Profile) error {
				p.Patch(setJobTitle(fmt.Sprintf("writer %d", i)))
				return nil
			}))

			if err == nil {
				epochs[i] = q.Epoch
			}
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("updates: %v", err)
		}
		if got := get(t, s, tenantA, p.ID).Epoch; got != p.Epoch+workers {
			t.Fatalf("epoch %d after %d increments from %d, want %d", got, workers, p.Epoch, p.Epoch+workers)
		}
		slices.Sort(epochs)
		for i, e := range epochs {
			if e != p.Epoch+int64(i)+1 {
				t.Fatalf("updates returned epochs %v, want each of %d..%d once", epochs, p.Epoch+1, p.Epoch+workers)
			}
		}
	}},
	{"reads run beside writes without errors", func(t *testing.T, s store.Store) {
		var f fixture
		const writers, perWriter = 4, 15
		ps := make([]*extdir.Profile, writers*perWriter)
		for i := range ps {
			ps[i] = f.full(tenantA, extdir.KindPending)
		}
		done := make(chan struct{})
		var readers sync.WaitGroup
		readErrs := make(chan error, workers)
		for range 4 {
			readers.Go(func() {
				q := store.Query{Tenant: tenantA, Kind: extdir.KindPending, OrderBy: []store.Order{{Prop: displayName}}, Top: 10}
				for {
					select {
					case <-done:
						return
					default:
					}
					page, err := s.List(t.Context(), q)
					if err == nil && len(page.Profiles) > 0 {
						_, err = s.Get(t.Context(), tenantA, page.Profiles[0].ID)
					}
					if err == nil {
						_, err = s.Count(t.Context(), q)
					}
					if err != nil {
						readErrs <- err
						return
					}
				}
			})
		}
		errs := together(writers, func(w int) error {
			for i := w * perWriter; i < (w+1)*perWriter; i++ {
				if err := s.Create(t.Context(), ps[i], nil); err != nil {
					return err
				}
				if _, err := s.Update(t.Context(), tenantA, ps[i].ID, store.Unaudited(func(p *extdir.Profile) error {
					p.Patch(setJobTitle("updated"))
					return nil
				})); err != nil {
					return err
				}
			}
			return nil
		})
		close(done)
		readers.Wait()
		close(readErrs)
		for err := range readErrs {
			t.Errorf("read beside writes: %v", err)
		}
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("writes beside reads: %v", err)
		}
		if n, err := s.Count(t.Context(), store.Query{Tenant: tenantA, Kind: extdir.KindPending, Top: 1}); err != nil || n != int64(len(ps)) {
			t.Fatalf("count = %d, %v; want %d", n, err, len(ps))
		}
	}},
	{"concurrent purges delete each row once", func(t *testing.T, s store.Store) {
		var f fixture
		const rows = 30
		for range rows {
			softDelete(t, s, create(t, s, f.sparse(tenantA, extdir.KindPending)), base)
		}
		var total int64
		var mu sync.Mutex
		errs := together(4, func(int) error {
			n, err := s.Expire(t.Context(), base.Add(time.Hour), nil)
			mu.Lock()
			total += n
			mu.Unlock()
			return err
		})
		if err := errors.Join(errs...); err != nil || total != rows {
			t.Fatalf("purges deleted %d in all, %v; want %d", total, err, rows)
		}
	}},
}

var closeTests = []test{
	{"calls after close fail cleanly", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		ctx := t.Context()
		never := func(*extdir.Profile) error {
			t.Error("callback called on a closed store")
			return nil
		}
		q := store.Query{Tenant: tenantA, Kind: extdir.KindPending, Top: 10}
		calls := map[string]error{
			"create": s.Create(ctx, f.sparse(tenantA, extdir.KindPending), nil),
			"purge":  s.Purge(ctx, tenantA, p.ID, store.Unaudited(never)),
			"ping":   s.Ping(ctx),
		}
		_, calls["get"] = s.Get(ctx, tenantA, p.ID)
		_, calls["update"] = s.Update(ctx, tenantA, p.ID, store.Unaudited(never))
		_, calls["list"] = s.List(ctx, q)
		_, calls["count"] = s.Count(ctx, q)
		_, calls["expire"] = s.Expire(ctx, base, nil)
		calls["import"] = s.Import(ctx, []*extdir.Profile{f.sparse(tenantA, extdir.KindPending)}, nil)
		_, calls["reset"] = s.Reset(ctx, tenantA)
		calls["export"] = s.Export(ctx, "", never)
		for name, err := range calls {
			if err == nil {
				t.Errorf("%s on a closed store succeeded", name)
			}
		}
	}},
	{"close waits for an update in flight", func(t *testing.T, s store.Store) {
		var f fixture
		p := create(t, s, f.full(tenantA, extdir.KindPending))
		entered, release := make(chan struct{}), make(chan struct{})
		updated := make(chan error, 1)
		go func() {
			_, err := s.Update(t.Context(), tenantA, p.ID, store.Unaudited(func(p *extdir.Profile) error {
				close(entered)
				<-release
				p.Patch(setJobTitle("in flight"))
				return nil
			}))

			updated <- err
		}()
		<-entered
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			close(release)
			t.Fatalf("close returned (%v) while an update was in flight", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		if err := <-updated; err != nil {
			t.Fatalf("the update in flight failed: %v", err)
		}
		if err := <-closed; err != nil {
			t.Fatalf("close: %v", err)
		}
	}},
}
