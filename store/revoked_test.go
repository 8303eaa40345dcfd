package store

import (
	"testing"
	"time"
)

// TestRevocationKeepsOneIndexEntry: revoking a key again, later or
// earlier, leaves it one expiry index entry. (Which end wins is checked by
// the conformance suite, store/storetest.)
func TestRevocationKeepsOneIndexEntry(t *testing.T) {
	for _, second := range []time.Time{t0.Add(2 * time.Hour), t0.Add(time.Minute)} {
		db := openTestDB(t)
		mustUpdate(t, db, func(tx *boltTx) error { return tx.PutRevoked("k", t0.Add(time.Hour)) })
		mustUpdate(t, db, func(tx *boltTx) error { return tx.PutRevoked("k", second) })
		mustView(t, db, func(tx *boltTx) error {
			if n := tx.btx.Bucket(bucketRevokedExpiry).Stats().KeyN; n != 1 {
				t.Errorf("revoked again until %v: expiry index has %d entries, want 1", second, n)
			}
			return nil
		})
	}
}
