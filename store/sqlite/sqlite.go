// Package sqlite is the SQLite backend of store.Store, in pure Go
// (modernc.org/sqlite): a durable single-file directory, or an in-memory one
// for tests and development.
//
// SQLite allows one writer at a time, so the Store keeps one dedicated write
// connection, on which every write runs as a BEGIN IMMEDIATE transaction
// (read-modify-write callbacks then hold the write lock from their first read,
// so they can neither deadlock on a lock upgrade nor lose an update), and a
// separate pool of read-only connections for Get, List and Count. On a file
// the journal is a WAL, so readers never wait for the writer.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/sqlfilter"
	"github.com/extdir/extdir/store/sqlstore"

	// The driver registers itself as "sqlite".
	_ "modernc.org/sqlite"
)

// Memory is the path that selects an in-memory database; ":memory:" does too.
const Memory = ""

// Options tunes a Store; the zero value is ready to use.
type Options struct {
	// BusyTimeout bounds how long a statement waits for a lock held by
	// another connection or process before failing; zero means 5 seconds.
	BusyTimeout time.Duration
	// Readers is the size of the read pool; zero means GOMAXPROCS, at least 4.
	Readers int
	// OnCommit, when set, is told the number of writes in each transaction
	// the group commit committed (commit.go), for the batch-size metric. It
	// runs on the committer goroutine, which every write waits for: it must
	// be quick and must not call the store.
	OnCommit func(writes int)
	// CacheSize bounds the profile cache that answers repeated reads by id
	// from memory (cache.go), in profiles; zero means 65,536, negative no
	// cache. Full, it costs the server about 110 MB of resident memory, the
	// garbage collector's headroom included (docs/benchmarks.md, round two).
	CacheSize int
}

// ErrClosed is what every call returns once Close has begun; it is
// sqlstore.ErrClosed, the same value for every SQL backend.
var ErrClosed = sqlstore.ErrClosed

// dialect is how the shared SQL (store/sqlstore, store/sqlfilter) is
// written for SQLite.
var dialect = sqlfilter.SQLite{}

// Store is a store.Store on one SQLite database. It is safe for concurrent
// use.
type Store struct {
	path   string // "" in memory
	writer *sql.DB
	reader *sql.DB
	// anchor keeps an in-memory database alive: SQLite frees it when its last
	// connection closes, and the pools may close idle connections at will.
	anchor *sql.Conn

	// Statements prepared once at Open, on the pool that runs them.
	get                  *sql.Stmt // reader
	insert, lock, remove *sql.Stmt // writer
	insertAuditStmt      *sql.Stmt // writer
	// updates holds the UPDATE statements, one per set of changed columns.
	updates updateCache
	// reads holds the listing and counting statements, which vary with the
	// query's shape.
	reads *stmtCache
	// purgeBatch bounds the rows one purge transaction deletes, so that a
	// large purge never holds the write lock for long.
	purgeBatch int

	// ops feeds the group-commit goroutine (commit.go), which closes
	// committerDone when ops is closed and drained.
	ops           chan *writeOp
	committerDone chan struct{}
	// durable syncs the WAL behind the committer and holds back answers
	// and reads until what they rest on is durable (durable.go).
	durable *durability
	// checkpoints folds the WAL back into the database beside the writer
	// (checkpoint.go); nil in memory.
	checkpoints *checkpointer
	// cache answers repeated reads by id (cache.go); nil when off.
	cache *profileCache

	// gate admits calls until Close, which waits for those in flight.
	gate sqlstore.Gate
	// onCommit is Options.OnCommit.
	onCommit func(writes int)
	// fileLock is the shared lock on the database's lock file, held while
	// the Store is open, so that Restore cannot replace the file under it
	// (backup.go); nil in memory.
	fileLock *os.File
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if need be) the database at path and brings its
// schema up to date. A path of "" (Memory) or ":memory:" opens a fresh
// in-memory database that lives as long as the Store and is shared by all of
// its connections (memory has no WAL: a read waits while a write
// transaction is open, which a test or a development server never notices);
// anything else is a file, opened durable: WAL journal, every write synced
// before it returns (a write that returned survives a crash of the process
// or the machine; see durable.go for how), foreign keys on.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.Readers <= 0 {
		opts.Readers = max(runtime.GOMAXPROCS(0), 4)
	}
	if path == ":memory:" {
		path = Memory
	}
	writerDSN, readerDSN, err := dataSourceNames(path, opts)
	if err != nil {
		return nil, err
	}

	if opts.CacheSize == 0 {
		opts.CacheSize = 65536
	}
	s := &Store{path: path, purgeBatch: 1000, durable: newDurability(path), onCommit: opts.OnCommit, cache: newProfileCache(opts.CacheSize)}
	if path != Memory {
		if s.fileLock, err = lockFile(lockPath(path), false); err != nil {
			close(s.durable.queue)
			<-s.durable.done
			if errors.Is(err, errLocked) {
				return nil, fmt.Errorf("sqlite: open %s: a restore is replacing it", path)
			}
			return nil, fmt.Errorf("sqlite: open %s: lock: %w", path, err)
		}
	}
	ok := false
	defer func() {
		if !ok {
			// The committer never started: the syncer's queue is still open.
			close(s.durable.queue)
			<-s.durable.done
			s.release()
		}
	}()

	if s.reader, err = sql.Open("sqlite", readerDSN); err != nil {
		return nil, fmt.Errorf("sqlite: open reader pool: %w", err)
	}
	// The anchor is one more connection than the readers get to use.
	s.reader.SetMaxOpenConns(opts.Readers + 1)
	s.reader.SetMaxIdleConns(opts.Readers + 1)
	if path == Memory {
		if s.anchor, err = s.reader.Conn(ctx); err != nil {
			return nil, fmt.Errorf("sqlite: open in-memory database: %w", err)
		}
	}

	if s.writer, err = sql.Open("sqlite", writerDSN); err != nil {
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)

	if path != Memory {
		// journal_mode=WAL can silently stay as it was (a file system without
		// shared memory): durability and concurrency both rest on it.
		var mode string
		if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		if !strings.EqualFold(mode, "wal") {
			return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, want wal", path, mode)
		}
	}
	if err := migrate(ctx, s.writer); err != nil {
		return nil, err
	}
	// The migrations committed without a sync of their own (synchronous is
	// NORMAL, see durable.go).
	if err := s.durable.await(s.durable.begin()); err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, s.writer); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	if path != Memory {
		db, err := sql.Open("sqlite", writerDSN)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open checkpointer: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.checkpoints = newCheckpointer(db, s.durable.checkpoint)
	}
	s.ops = make(chan *writeOp, maxBatch)
	s.committerDone = make(chan struct{})
	go s.commitLoop()
	ok = true
	return s, nil
}

// dataSourceNames builds the DSNs of the write connection and of the read
// pool. Pragmas go in the DSN so that the driver applies them to every
// connection it opens, including those the pool opens later.
func dataSourceNames(path string, opts Options) (writer, reader string, err error) {
	var name string
	common := url.Values{}
	common.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "temp_store(memory)")
	if path == Memory {
		// The memdb VFS shares one database between the connections that
		// open the same name starting with "/"; the random name keeps two
		// Stores of one process apart.
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", fmt.Errorf("sqlite: name in-memory database: %w", err)
		}
		name = "file:/extdir-" + hex.EncodeToString(b[:])
		common.Set("vfs", "memdb")
	} else {
		name = "file:" + (&url.URL{Path: path}).EscapedPath()
		// NORMAL, not FULL: the store syncs the WAL itself, behind the
		// committer, before it answers (durable.go).
		common.Add("_pragma", "synchronous(normal)")
	}

	w := cloneValues(common)
	w.Set("_txlock", "immediate")
	if path != Memory {
		w.Add("_pragma", "journal_mode(wal)")
		// The checkpointer's connection does it instead (checkpoint.go).
		w.Add("_pragma", "wal_autocheckpoint(0)")
	}
	r := cloneValues(common)
	r.Set("_query_only", "1")
	return name + "?" + w.Encode(), name + "?" + r.Encode(), nil
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// prepare compiles the hot statements once, so that no call pays for
// parsing and planning.
func (s *Store) prepare(ctx context.Context) error {
	stmts := []struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&s.get, s.reader, selectByID},
		{&s.insert, s.writer, insertProfile},
		{&s.lock, s.writer, selectByID},
		{&s.remove, s.writer, "DELETE FROM profiles WHERE seq = ?"},
		{&s.insertAuditStmt, s.writer, sqlstore.AuditInsertSQL(dialect)},
	}
	for _, st := range stmts {
		stmt, err := st.db.PrepareContext(ctx, st.query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", st.query, err)
		}
		*st.dst = stmt
	}
	s.reads = newStmtCache(s.reader, 64)
	return s.updates.prepare(ctx, s.writer)
}

// Ping reports whether both the read pool and the write connection answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.gate.Enter(); err != nil {
		return err
	}
	defer s.gate.Leave()
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping reader: %w", err)
	}
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", err)
	}
	return s.durable.failure()
}

// Close refuses new calls (they get ErrClosed), waits for the calls in
// flight, then releases the database. On a file it first folds the WAL back
// into the database file, so that a closed database is a single file. Calling
// Close again does nothing.
func (s *Store) Close() error {
	if !s.gate.Close() {
		return nil
	}
	// Every write call has returned, so no op is queued or in flight.
	close(s.ops)
	<-s.committerDone
	<-s.durable.done
	if s.checkpoints != nil {
		s.checkpoints.close()
	}

	var errs []error
	if s.path != Memory {
		// optimize refreshes the planner's statistics where they have drifted;
		// the checkpoint leaves an empty WAL behind.
		for _, pragma := range []string{"PRAGMA optimize", "PRAGMA wal_checkpoint(TRUNCATE)"} {
			if _, err := s.writer.Exec(pragma); err != nil {
				errs = append(errs, fmt.Errorf("sqlite: close: %s: %w", pragma, err))
			}
		}
	}
	if err := s.release(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// release finalizes the statements and closes the connections; it is also
// how a failed Open cleans up after itself.
func (s *Store) release() error {
	var errs []error
	if s.reads != nil {
		if err := s.reads.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.updates.close(); err != nil {
		errs = append(errs, fmt.Errorf("sqlite: close statement: %w", err))
	}
	for _, st := range []*sql.Stmt{s.get, s.insert, s.lock, s.remove, s.insertAuditStmt} {
		if st != nil {
			if err := st.Close(); err != nil {
				errs = append(errs, fmt.Errorf("sqlite: close statement: %w", err))
			}
		}
	}
	if s.checkpoints != nil {
		if err := s.checkpoints.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close checkpointer: %w", err))
		}
	}
	if s.writer != nil {
		if err := s.writer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close writer: %w", err))
		}
	}
	// The anchor goes last but one: the in-memory database dies with it.
	if s.anchor != nil {
		if err := s.anchor.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close in-memory database: %w", err))
		}
	}
	if s.reader != nil {
		if err := s.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close reader pool: %w", err))
		}
	}
	// The lock goes last, once no connection is left to the file.
	if s.fileLock != nil {
		if err := s.fileLock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: close lock file: %w", err))
		}
	}
	return errors.Join(errs...)
}
