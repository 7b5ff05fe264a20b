package sqlite

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/extdir/extdir"
)

// The profile cache. A GET by id is most of a directory's traffic, and on
// SQLite a third of its processor time was the store's read: a read
// transaction (two fcntl calls on the WAL index), the B-tree descent, and
// decoding the row (the profile in docs/benchmarks.md). This store is its
// database's only writer (the lock file keeps other processes out), so it
// knows of every change, and a bounded cache of the profiles it read
// answers a repeated GET from memory.
//
// Coherence: an entry holds a profile as a read returned it, after that
// read's durability barrier, so a hit never shows what a crash could undo.
// Every change drops what it changes:
//
//   - a write of the group commit (Update, Purge, Reset) drops its entries
//     after its COMMIT and before the syncer may answer anyone (commit.go):
//     a read that sees the change waits for that sync, so no read that
//     follows it can still hit the old entry;
//   - Expire commits on its own; while it runs the cache is suspended,
//     neither answering nor filling, and emptied first. (Import, the other
//     write outside the group commit, only adds rows, which no entry can
//     hold: reads that find nothing store nothing.)
//
// A read that misses fills the cache only if nothing in its shard changed
// while it read (the shard's epoch) and no suspension began (the
// generation): otherwise it might store what it read before a change that
// has dropped its entry already.
type profileCache struct {
	seed      maphash.Seed
	perShard  int
	shards    [cacheShards]cacheShard
	gen       atomic.Uint64 // bumped when a suspension begins
	suspended atomic.Int32
}

const cacheShards = 64

type cacheShard struct {
	mu    sync.Mutex
	epoch uint64
	m     map[string]*extdir.Profile
}

// newProfileCache holds up to size profiles; nil (no cache) for size < 1.
func newProfileCache(size int) *profileCache {
	if size < 1 {
		return nil
	}
	c := &profileCache{seed: maphash.MakeSeed(), perShard: max(size/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*extdir.Profile)
	}
	return c
}

func cacheKey(tenant, id string) string { return tenant + "\x00" + id }

func (c *profileCache) shard(key string) *cacheShard {
	return &c.shards[maphash.String(c.seed, key)%cacheShards]
}

// ticket is what a read that missed needs to fill the cache afterwards.
type ticket struct {
	epoch, gen uint64
	ok         bool
}

// get returns a copy of the cached profile, or a ticket to fill the entry
// once the read that replaces the lookup is done.
func (c *profileCache) get(key string) (*extdir.Profile, ticket) {
	if c.suspended.Load() > 0 {
		return nil, ticket{}
	}
	gen := c.gen.Load()
	sh := c.shard(key)
	sh.mu.Lock()
	p, ok := sh.m[key]
	epoch := sh.epoch
	sh.mu.Unlock()
	if ok {
		return p.Clone(), ticket{}
	}
	return nil, ticket{epoch: epoch, gen: gen, ok: true}
}

// fill stores a copy of p, read under t, unless something changed since.
func (c *profileCache) fill(key string, t ticket, p *extdir.Profile) {
	if !t.ok || c.suspended.Load() > 0 || c.gen.Load() != t.gen {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.epoch != t.epoch {
		return
	}
	if len(sh.m) >= c.perShard {
		// Evict one entry, whichever the map's iteration gives first: a
		// random one, which needs no bookkeeping on hits.
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[key] = p.Clone()
}

// drop removes the entry of key.
func (c *profileCache) drop(key string) {
	sh := c.shard(key)
	sh.mu.Lock()
	sh.epoch++
	delete(sh.m, key)
	sh.mu.Unlock()
}

// dropFunc is the committed hook of a write of (tenant, id); nil without a
// cache.
func (c *profileCache) dropFunc(tenant, id string) func() {
	if c == nil {
		return nil
	}
	return func() { c.drop(cacheKey(tenant, id)) }
}

// clearFunc is the committed hook of a write of many rows; nil without a
// cache.
func (c *profileCache) clearFunc() func() {
	if c == nil {
		return nil
	}
	return c.clear
}

// clear removes every entry.
func (c *profileCache) clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.epoch++
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// suspend turns the cache off until the returned function is called, and
// empties it if empty is set.
func (c *profileCache) suspend(empty bool) (resume func()) {
	c.suspended.Add(1)
	c.gen.Add(1)
	if empty {
		c.clear()
	}
	return func() { c.suspended.Add(-1) }
}

// len is the number of entries, for tests and statistics.
func (c *profileCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
