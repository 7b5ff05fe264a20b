// Package sqlstore is what the SQL backends of store.Store (store/sqlite,
// store/postgres) share, written once: the keyset paging statements
// (page.go), the migration loader and the schema check (migrate.go), the
// encoding of property values into columns (columns.go), the retention
// sweep (expire.go), the reset and the batched export (admin.go), and the
// gate that lets Close wait for the calls in flight (this file).
//
// Where the databases differ, the code asks a sqlfilter.Dialect; what a
// driver does (how a statement runs, how a row is scanned, how a
// transaction is retried or group-committed) stays in each backend.
package sqlstore

import (
	"sync"

	"github.com/extdir/extdir"
)

// ErrClosed is what every call of a store returns once its Close has begun.
var ErrClosed = &extdir.Error{Code: extdir.EUnavailable, Message: "The directory is shutting down."}

// ErrDuplicateID is the clash of a create on (tenant, id): Graph's message
// for an id that another object already has.
var ErrDuplicateID = &extdir.Error{Code: extdir.EConflict, Message: "Another object with the same value for property id already exists."}

// Gate admits a store's calls until Close, which then waits for those
// admitted to leave. The zero value is open. It is safe for concurrent use.
type Gate struct {
	mu     sync.Mutex
	closed bool
	active int
	// idle is made by Close while calls are in flight, and closed by the
	// last of them to leave.
	idle chan struct{}
}

// Enter admits a call, or returns ErrClosed once Close has begun. Every
// call admitted must Leave.
func (g *Gate) Enter() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.active++
	return nil
}

// Leave ends a call that Enter admitted.
func (g *Gate) Leave() {
	g.mu.Lock()
	g.active--
	if g.active == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

// Close refuses every later Enter and waits until the calls admitted have
// left. It reports whether it was the first Close, which alone should
// release the store; a later one returns at once.
func (g *Gate) Close() bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.closed = true
	if g.active == 0 {
		g.mu.Unlock()
		return true
	}
	idle := make(chan struct{})
	g.idle = idle
	g.mu.Unlock()
	<-idle
	return true
}
