package sqlstore

import "time"

// Expire is the retention sweep of a SQL backend (store.Store.Expire): it
// calls deleteBatch until a batch deletes fewer than batch rows, and returns
// how many were deleted in all. deleteBatch deletes, in one transaction of
// its own, at most limit rows whose stored deleted_at (Unix seconds) is
// below cutoff, so that no sweep holds locks for long; a batch that comes
// back short means nothing due is left, or what is left is locked by a
// concurrent sweep or writer, which deals with it. On an error, the rows of
// the batches before it stay deleted and are counted.
func Expire(deletedBefore time.Time, batch int, deleteBatch func(cutoff int64, limit int) (int64, error)) (int64, error) {
	cutoff := expireCutoff(deletedBefore)
	var total int64
	for {
		n, err := deleteBatch(cutoff, batch)
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}

// expireCutoff is the stored deletion time below which a profile was
// soft-deleted before deletedBefore. Stored times are whole seconds: a row
// deleted at second t is before a cutoff of t+0.5s, which the comparison
// must see as before t+1.
func expireCutoff(deletedBefore time.Time) int64 {
	cutoff := deletedBefore.Unix()
	if deletedBefore.Nanosecond() > 0 {
		cutoff++
	}
	return cutoff
}
