//go:build !linux

package sqlite

import "os"

// datasync is fsync(2) where fdatasync(2) is not to be had.
func datasync(f *os.File) error { return f.Sync() }
