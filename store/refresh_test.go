package store

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRotationIndexesBothTokensForOneSweep: the rotated token and its
// successor share one expiry and are swept together at the end of its
// hour. (What a rotation reads as is checked by the conformance suite,
// store/storetest.)
func TestRotationIndexesBothTokensForOneSweep(t *testing.T) {
	db := openTestDB(t)
	exp := t0.Add(time.Hour)
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutRefreshToken(&RefreshToken{Hash: "old", SessionID: "s", UserID: "u", ExpiresAt: exp})
	})
	mustUpdate(t, db, func(tx *boltTx) error {
		old, err := tx.RefreshToken("old")
		if err != nil {
			return err
		}
		return tx.RotateRefreshToken(old, t0, &RefreshToken{Hash: "new", SessionID: "s", UserID: "u", ExpiresAt: exp})
	})
	mustView(t, db, func(tx *boltTx) error {
		if n := tx.btx.Bucket(bucketRefreshExpiry).Stats().KeyN; n != 2 {
			t.Errorf("refresh expiry index has %d entries, want 2", n)
		}
		return nil
	})
	if n, err := db.Sweep(t.Context(), refreshSweepAt(exp).Add(-time.Nanosecond)); err != nil || n != 0 {
		t.Fatalf("sweep before the end of the hour removed %d, %v", n, err)
	}
	if n, err := db.Sweep(t.Context(), refreshSweepAt(exp)); err != nil || n != 2 {
		t.Fatalf("sweep removed %d, %v; want 2", n, err)
	}
}

func TestRefreshTokensAreSweptByTheHour(t *testing.T) {
	db := openTestDB(t)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutRefreshToken(&RefreshToken{Hash: "rt", SessionID: "s", UserID: "u", ExpiresAt: exp})
	})
	for _, tt := range []struct {
		at      time.Time
		removed int
	}{
		{exp, 0},
		{exp.Add(55 * time.Minute), 0},
		{time.Date(2030, 1, 2, 4, 0, 0, 0, time.UTC), 1},
	} {
		if n, err := db.Sweep(t.Context(), tt.at); err != nil || n != tt.removed {
			t.Fatalf("sweep at %s removed %d, %v; want %d", tt.at.Format(time.TimeOnly), n, err, tt.removed)
		}
	}
	if got := refreshSweepAt(exp.Truncate(time.Hour)); !got.Equal(exp.Truncate(time.Hour)) {
		t.Errorf("an expiry on the hour is swept at %s", got)
	}
}

// Tokens of different sessions ending in the same hour are indexed in the
// order they were issued, so tokens issued together sit together.
func TestRefreshIndexKeepsIssueOrderWithinTheHour(t *testing.T) {
	db := openTestDB(t)
	hour := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	mustUpdate(t, db, func(tx *boltTx) error {
		// Issued in key order a, b, c by sessions ending at different
		// minutes of the same hour, the latest-ending first.
		for i, k := range []string{"a", "b", "c"} {
			exp := hour.Add(time.Duration(50-10*i) * time.Minute)
			if err := tx.PutRefreshToken(&RefreshToken{Hash: k, SessionID: k, UserID: "u", ExpiresAt: exp}); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *boltTx) error {
		var order []string
		c := tx.btx.Bucket(bucketRefreshExpiry).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			order = append(order, string(k[8:]))
		}
		if strings.Join(order, "") != "abc" {
			t.Errorf("index order %q, want abc", order)
		}
		return nil
	})
}

// Databases written before refresh tokens were indexed by the hour hold
// entries at the exact expiry; a sweep removes them with their tokens and
// does not find them again.
func TestSweepRemovesExactTimeRefreshEntriesOfEarlierVersions(t *testing.T) {
	db := openTestDB(t)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	const n = sweepChunk + 5 // more than one sweep transaction's worth
	mustUpdate(t, db, func(tx *boltTx) error {
		for i := range n {
			key := fmt.Sprintf("rt%05d", i)
			rec := refreshTokenRecord{header: current(), RefreshToken: RefreshToken{Hash: key, SessionID: "s", UserID: "u", ExpiresAt: exp}}
			if err := tx.put(bucketRefreshTokens, []byte(key), &rec); err != nil {
				return err
			}
			if err := tx.putIndex(bucketRefreshExpiry, expiryKey(exp, []byte(key))); err != nil {
				return err
			}
		}
		return nil
	})
	removed, err := db.Sweep(t.Context(), exp)
	if err != nil || removed != n {
		t.Fatalf("Sweep removed %d, %v; want %d", removed, err, n)
	}
	mustView(t, db, func(tx *boltTx) error {
		for _, b := range [][]byte{bucketRefreshTokens, bucketRefreshExpiry} {
			if k := tx.btx.Bucket(b).Stats().KeyN; k != 0 {
				t.Errorf("%s has %d entries after the sweep", b, k)
			}
		}
		return nil
	})
	if removed, err := db.Sweep(t.Context(), exp.Add(time.Hour)); err != nil || removed != 0 {
		t.Errorf("second sweep removed %d, %v", removed, err)
	}
}
