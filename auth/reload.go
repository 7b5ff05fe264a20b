package auth

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReloadInterval is how often a running issuer looks at its keys
// folder. A look is one stat of the folder; the keys are read again only
// when the folder changed.
const DefaultReloadInterval = 2 * time.Second

// Key reloading. `extdir keys rotate` and `extdir keys retire` change the
// folder while a server runs, and the server must follow: sign with the new
// key, and stop accepting a retired one. A key file is only ever linked in
// or removed, never rewritten in place, and both change the folder's
// modification time, so watching that one time is enough.
//
// Looks happen lazily, on the requests that need the keys, rather than in a
// goroutine, so that an Issuer needs no Close. Besides the periodic look, a
// token with an unknown kid triggers one at once (a token minted right after
// a rotation should not fail for two seconds), at most every
// forcedLookInterval: a stat costs an attacker's token nothing to trigger,
// but a reload parses every key.
const forcedLookInterval = 250 * time.Millisecond

// unstableAge: a folder modified this recently may change again within the
// same timestamp tick on a coarse file system, so its time is not trusted
// and the next look reads the keys again.
const unstableAge = 2 * time.Second

type keyReloader struct {
	folder     string // "" for an issuer that does not follow a folder
	interval   time.Duration
	log        *slog.Logger
	nextLook   atomic.Int64 // UnixNano of the next periodic look
	nextForced atomic.Int64 // UnixNano before which unknown kids trigger no look

	mu   sync.Mutex // one reload at a time; guards seen
	seen time.Time  // folder time of the loaded keys; zero: read them at the next look
}

func (r *keyReloader) init(folder string, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r.folder, r.interval, r.log = folder, interval, log
	// Taken after the first load, so a change in between makes the time
	// recent, hence untrusted, hence reloaded at the first look.
	if fi, err := os.Stat(folder); err == nil && time.Since(fi.ModTime()) >= unstableAge {
		r.seen = fi.ModTime()
	}
	r.nextLook.Store(time.Now().Add(interval).UnixNano())
}

// due reports, to exactly one caller per interval, that a look is due.
func due(next *atomic.Int64, interval time.Duration) bool {
	n := next.Load()
	now := time.Now().UnixNano()
	return now >= n && next.CompareAndSwap(n, now+int64(interval))
}

// keySet returns the keys, looking at the folder first when a look is due.
func (i *Issuer) keySet() *keySet {
	if i.reload.folder != "" && due(&i.reload.nextLook, i.reload.interval) {
		i.reloadIfChanged()
	}
	return i.keys.Load()
}

// publicKey implements keySource for the issuer's own keys.
func (i *Issuer) publicKey(kid string, hasKID bool) (any, error) {
	set := i.keySet()
	if !hasKID {
		if set.only == nil {
			return nil, errAmbiguousKeys
		}
		return set.only, nil
	}
	if pub, ok := set.byKID[kid]; ok {
		return pub, nil
	}
	if i.reload.folder != "" && due(&i.reload.nextForced, forcedLookInterval) {
		i.reloadIfChanged()
		if pub, ok := i.keys.Load().byKID[kid]; ok {
			return pub, nil
		}
	}
	return nil, errUnknownKey
}

// reloadIfChanged reads the keys again when the folder changed since they
// were loaded. On failure (a folder emptied by hand, an unreadable file) the
// keys in use stay, the failure is logged, and the next look tries again.
func (i *Issuer) reloadIfChanged() {
	r := &i.reload
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(r.folder)
	if err != nil {
		r.log.Error("signing keys: look at the keys folder", "error", err)
		return
	}
	mod := fi.ModTime()
	if !r.seen.IsZero() && mod.Equal(r.seen) {
		return
	}
	if err := i.reloadKeys(); err != nil {
		r.log.Error("signing keys: reload failed; the keys loaded before stay in use", "folder", r.folder, "error", err)
		return
	}
	r.seen = time.Time{}
	if time.Since(mod) >= unstableAge {
		r.seen = mod
	}
}

// reloadKeys swaps in the folder's keys, logging when they differ.
func (i *Issuer) reloadKeys() error {
	keys, err := loadKeys(i.reload.folder)
	if err != nil {
		return err
	}
	set, err := newKeySet(keys)
	if err != nil {
		return fmt.Errorf("reload keys: %w", err)
	}
	old := i.keys.Swap(set)
	if old == nil || old.current.kid != set.current.kid || len(old.byKID) != len(set.byKID) {
		i.reload.log.Info("signing keys reloaded", "signing_kid", set.current.kid, "keys", len(set.byKID))
	}
	return nil
}
