//go:build unix

package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes flock(2) on the file at path, creating it: shared, for a
// Store or a backup that has the database open, or exclusive, for a
// restore that replaces it. It never waits: a lock held the other way is
// errLocked. The kernel drops the lock with the process, however it ends,
// so no stale lock outlives a crash.
func lockFile(path string, exclusive bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}

// locksWork reports whether lockFile can tell a live store from one that
// nobody has open.
const locksWork = true
