package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints, off the writer. SQLite's automatic checkpoint runs inside the
// COMMIT that takes the WAL past 1,000 pages, on the connection that
// committed: here the single writer, every one of whose microseconds is a
// write some caller waits for. Under a load of creates that checkpoint was
// a sixth of the whole process's CPU and a quarter of the committer's time
// (the profile in docs/benchmarks.md). So the writer runs with
// wal_autocheckpoint=0, and a goroutine of its own, on a connection of its
// own, runs PASSIVE checkpoints beside it: a PASSIVE checkpoint never takes
// the write lock, copies what no reader still needs into the database file,
// and lets the next write transaction start the WAL over once all of it is
// copied, as the automatic one did.
//
// Durability is untouched: SQLite syncs the WAL before a checkpoint copies
// any of it and syncs the database file before it lets the WAL be reused,
// whichever connection runs it; the syncer (durable.go) still answers no
// write before its own fsync of the WAL.

// The WAL starts over only when a write transaction begins with all of it
// in the database file, which under a steady load of writes never happens
// by itself: the checkpointer copies what was there when it began, and the
// writer has appended more by the time it ends. So once a checkpoint finds
// the WAL longer than restartFrames, the committer, between two batches,
// runs one more PASSIVE checkpoint itself, which has only the frames since
// the checkpointer's to copy, and the next batch starts the WAL over. The
// writer thus pays for a few milliseconds' worth of frames every
// restartFrames, where the automatic checkpoint made it pay for all of them
// every 1,000.
//
// checkpointEvery is the least time between two checkpoints while writes
// arrive: fewer, larger checkpoints copy a page that many batches rewrote
// once; more frequent ones keep the WAL, which every read consults, short.
const (
	checkpointEvery = 100 * time.Millisecond
	restartFrames   = 4096 // 16 MiB of 4 KiB pages
)

// checkpointer runs PASSIVE checkpoints on db when kick says that commits
// have been made durable.
type checkpointer struct {
	db   *sql.DB // one connection, the checkpointer's own
	kick <-chan struct{}
	stop chan struct{}
	done chan struct{}

	// restart asks the committer to catch up and start the WAL over.
	restart atomic.Bool

	mu   sync.Mutex
	last checkpointResult // of the latest checkpoint, for tests and stats
	runs int
	err  error // the latest failure, nil after a success
}

// checkpointResult is what PRAGMA wal_checkpoint answers: whether it was
// blocked, the WAL's size in frames, and how many of them are in the
// database file now.
type checkpointResult struct {
	Busy, Log, Checkpointed int64
}

func newCheckpointer(db *sql.DB, kick <-chan struct{}) *checkpointer {
	c := &checkpointer{db: db, kick: kick, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// loop checkpoints at most every checkpointEvery while commits arrive, and
// once more after they stop, so that an idle database's WAL is folded back.
func (c *checkpointer) loop() {
	defer close(c.done)
	var last time.Time
	pending := false
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-c.stop:
			timer.Stop()
			return
		case <-c.kick:
			if pending {
				continue
			}
			if wait := checkpointEvery - time.Since(last); wait > 0 {
				pending = true
				timer.Reset(wait)
				continue
			}
		case <-timer.C:
			pending = false
		}
		c.run()
		last = time.Now()
	}
}

// run makes one PASSIVE checkpoint. A failure is kept and retried at the
// next commit; the WAL only grows meanwhile, which costs reads some speed
// and loses nothing.
func (c *checkpointer) run() {
	var r checkpointResult
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&r.Busy, &r.Log, &r.Checkpointed)
	c.mu.Lock()
	c.runs++
	c.err = err
	if err == nil {
		c.last = r
	}
	c.mu.Unlock()
	if err == nil && r.Log >= restartFrames {
		c.restart.Store(true)
	}
}

// catchUp is the committer's part, run between two batches on the writer's
// connection: once the WAL has grown past restartFrames, a checkpoint of
// what the checkpointer has not copied yet, so that the next write
// transaction starts the WAL over. A failure leaves the WAL as it is (the
// next checkpoint asks again).
func (c *checkpointer) catchUp(writer *sql.DB) {
	if c == nil || !c.restart.Load() {
		return
	}
	c.restart.Store(false)
	var r checkpointResult
	_ = writer.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&r.Busy, &r.Log, &r.Checkpointed)
}

// close stops the goroutine and waits for it; the caller closes db.
func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
}

// state is the latest result, how many checkpoints ran, and the latest
// failure.
func (c *checkpointer) state() (checkpointResult, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.runs, c.err
}
