package store

import (
	"errors"
	"testing"
	"time"
)

// TestSweepLeavesOneIndexEntryPerLiveRecord: after a sweep each expiry
// index holds the entries of the live records only. (What the sweep
// removes is checked by the conformance suite, store/storetest.)
func TestSweepLeavesOneIndexEntryPerLiveRecord(t *testing.T) {
	db := openTestDB(t)
	past, future := t0.Add(-time.Minute), t0.Add(time.Minute)
	mustUpdate(t, db, func(tx *boltTx) error {
		return errors.Join(
			tx.PutCeremony(&Ceremony{ID: "cer-old", ExpiresAt: past}),
			tx.PutCeremony(&Ceremony{ID: "cer-new", ExpiresAt: future}),
			tx.PutRevoked("rev-old", past),
			tx.PutRevoked("rev-new", future),
			tx.PutSession(&Session{ID: "ses-old", UserID: "u", ExpiresAt: past}),
			tx.PutSession(&Session{ID: "ses-new", UserID: "u", ExpiresAt: future}),
			tx.PutSession(&Session{ID: "ses-forever", UserID: "u"}),
			tx.PutRefreshToken(&RefreshToken{Hash: "rt-old", SessionID: "ses-new", ExpiresAt: t0.Truncate(time.Hour)}),
			tx.PutRefreshToken(&RefreshToken{Hash: "rt-new", SessionID: "ses-new", ExpiresAt: future}),
		)
	})
	if removed, err := db.Sweep(t.Context(), t0); err != nil || removed != 4 {
		t.Fatalf("Sweep removed %d, %v; want 4", removed, err)
	}
	mustView(t, db, func(tx *boltTx) error {
		for _, index := range [][]byte{bucketCeremonyExpiry, bucketRevokedExpiry, bucketSessionExpiry, bucketRefreshExpiry} {
			if n := tx.btx.Bucket(index).Stats().KeyN; n != 1 {
				t.Errorf("%s has %d entries after sweep, want 1", index, n)
			}
		}
		return nil
	})
}
