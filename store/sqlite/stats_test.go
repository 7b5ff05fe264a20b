package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/extdir/extdir/store/conformance"
)

func TestStats(t *testing.T) {
	t.Run("memory", func(t *testing.T) { conformance.RunStats(t, openTest(t, Memory)) })
	t.Run("file", func(t *testing.T) {
		conformance.RunStats(t, openTest(t, filepath.Join(t.TempDir(), "extdir.db")))
	})
}

// TestOnCommitCountsEveryWrite checks the group commit's hook: the batch
// sizes it is told add up to the writes made, whatever the batching.
func TestOnCommitCountsEveryWrite(t *testing.T) {
	var total, batches int
	s, err := Open(t.Context(), Memory, Options{OnCommit: func(n int) {
		// The committer goroutine is the only caller, and Close waits for
		// it, so reading after Close needs no lock.
		total += n
		batches++
	}})
	if err != nil {
		t.Fatal(err)
	}
	const writes = 20
	errs := make(chan error, writes)
	for i := range writes {
		go func() { errs <- s.Create(t.Context(), conformance.Profile("t", i+1), nil) }()
	}
	for range writes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if total != writes || batches < 1 || batches > writes {
		t.Errorf("OnCommit told %d writes in %d batches, want %d writes in 1 to %d batches", total, batches, writes, writes)
	}
}
