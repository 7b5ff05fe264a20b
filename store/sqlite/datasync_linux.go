package sqlite

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2), which SQLite itself uses on Linux: the data and
// the metadata needed to read it back (the size of a grown WAL), without
// the timestamps.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
