//go:build !unix

package sqlite

import "os"

// lockFile opens the lock file without locking it: this platform has no
// flock(2), so a restore cannot tell whether a server has the database
// open, and Restore refuses to run (locksWork).
func lockFile(path string, exclusive bool) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

const locksWork = false
