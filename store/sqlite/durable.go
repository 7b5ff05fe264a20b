package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
)

// Durability, pipelined. With synchronous=FULL, SQLite fsyncs the WAL inside
// every COMMIT, and the single writer sits idle for the length of that fsync
// before it can start the next batch: on this project's machine the fsync was
// a third of a durable write's time. So the connections run with
// synchronous=NORMAL, under which SQLite never syncs the WAL on commit (it
// still syncs it before every checkpoint, and the database file after), and
// the store syncs the WAL file itself, on a goroutine of its own: while batch
// N's fsync runs, the committer already executes batch N+1.
//
// The guarantees stay those of FULL:
//
//   - No write is acknowledged before an fsync that began after its COMMIT
//     returned: the committer hands each committed batch to the syncer, and
//     only the syncer answers the batch's callers (failed writes too, since a
//     failure such as a phone clash may rest on a neighbour's write).
//   - No read returns data before it is durable: a read, once it has its
//     rows, waits until every commit begun before it ended is synced
//     (readBarrier). Commits are counted before they start, so a commit a
//     read could have seen is always counted by then.
//   - A failed fsync is final, as in PostgreSQL: the kernel may have dropped
//     the dirty pages it could not write, so a later fsync that succeeds
//     proves nothing. Every later write, read and Ping fails with the error,
//     and the process must be restarted (SQLite recovers from the WAL).
//
// Expire, Import, Analyze and the migrations commit outside the batches and
// wait for their own commit the same way.
type durability struct {
	wal, db string   // paths of the WAL and of the database; "" in memory
	f       *os.File // the WAL, opened by the syncer

	// committing counts the commits begun; synced is the highest such count
	// known durable.
	committing atomic.Uint64
	synced     atomic.Uint64

	queue chan pendingBatch // committer → syncer; closed by the committer
	// ready holds a token while the syncer has no batch: the committer takes
	// it to hand one over, the syncer puts it back once it has answered.
	ready chan struct{}
	kick  chan struct{} // a waiter asks for a sync
	done  chan struct{} // closed when the syncer has stopped

	mu     sync.Mutex // guards err; with cond, the waiters' wake-up
	cond   *sync.Cond
	err    error       // sticky: the first fsync failure
	failed atomic.Bool // err != nil, for the fast paths

	// checkpoint gets a token after every fsync that made commits durable:
	// the checkpointer's cue (checkpoint.go).
	checkpoint chan struct{}
}

// pendingBatch is a committed batch waiting for its fsync.
type pendingBatch struct {
	seq     uint64
	ops     []*writeOp
	results []error
}

func newDurability(dbPath string) *durability {
	d := &durability{
		queue: make(chan pendingBatch, 1),
		ready: make(chan struct{}, 1),
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),

		checkpoint: make(chan struct{}, 1),
	}
	if dbPath != Memory {
		d.db, d.wal = dbPath, dbPath+"-wal"
	}
	d.cond = sync.NewCond(&d.mu)
	d.ready <- struct{}{}
	go d.syncLoop()
	return d
}

// begin counts a commit about to start and returns its number.
func (d *durability) begin() uint64 { return d.committing.Add(1) }

// failure is the sticky fsync error, or nil.
func (d *durability) failure() error {
	if !d.failed.Load() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// await returns once commit seq is durable, or the sync failed.
func (d *durability) await(seq uint64) error {
	if d.synced.Load() >= seq {
		return d.failure()
	}
	select {
	case d.kick <- struct{}{}:
	default: // a sync is already asked for
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.synced.Load() < seq && d.err == nil {
		d.cond.Wait()
	}
	return d.err
}

// readBarrier returns once everything a read that has just ended could have
// seen is durable.
func (d *durability) readBarrier() error {
	return d.await(d.committing.Load())
}

// syncLoop is the syncer goroutine. It ends when the queue is closed, after
// a last sync.
func (d *durability) syncLoop() {
	defer close(d.done)
	defer func() {
		if d.f != nil {
			_ = d.f.Close()
		}
	}()
	var batches []pendingBatch
	for {
		batches = batches[:0]
		open := true
		select {
		case b, ok := <-d.queue:
			if ok {
				batches = append(batches, b)
			}
			open = ok
		case <-d.kick:
		}
	drain:
		for open {
			select {
			case b, ok := <-d.queue:
				if !ok {
					open = false
					break drain
				}
				batches = append(batches, b)
			default:
				break drain
			}
		}
		d.syncAndAnswer(batches)
		if !open {
			return
		}
		if len(batches) > 0 {
			d.ready <- struct{}{}
		}
	}
}

// syncAndAnswer makes every commit begun so far durable, then answers the
// batches and wakes the waiters.
func (d *durability) syncAndAnswer(batches []pendingBatch) {
	target := d.committing.Load()
	err := d.failure()
	synced := false
	if err == nil && target > d.synced.Load() {
		if serr := d.fsync(); serr != nil {
			err = fmt.Errorf("sqlite: write not durable: %w", serr)
		} else {
			synced = true
		}
	}
	d.mu.Lock()
	if err != nil && d.err == nil {
		d.err = err
		d.failed.Store(true)
	}
	if err == nil {
		d.synced.Store(target)
	}
	d.cond.Broadcast()
	d.mu.Unlock()
	if synced {
		select {
		case d.checkpoint <- struct{}{}:
		default: // one is already due
		}
	}
	for _, b := range batches {
		for i, op := range b.ops {
			if b.results[i] == nil {
				b.results[i] = err
			}
			op.done <- b.results[i]
		}
	}
}

// fsync flushes the WAL to stable storage. The file is reopened whenever
// the WAL on disk is no longer the one held open (SQLite keeps it while a
// connection is open, but a sync of a replaced file would prove nothing);
// with no WAL at all, every commit has been checkpointed into the database
// file, which SQLite syncs itself, and that file is synced again for good
// measure.
func (d *durability) fsync() error {
	if d.wal == "" {
		return nil
	}
	if d.f != nil {
		held, err1 := d.f.Stat()
		onDisk, err2 := os.Stat(d.wal)
		if err1 != nil || err2 != nil || !os.SameFile(held, onDisk) {
			_ = d.f.Close()
			d.f = nil
		}
	}
	if d.f == nil {
		f, err := os.OpenFile(d.wal, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			db, err := os.OpenFile(d.db, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer db.Close()
			return datasync(db)
		}
		if err != nil {
			return err
		}
		d.f = f
	}
	return datasync(d.f)
}
