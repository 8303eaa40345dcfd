package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSweepRemovesExpiredAndKeepsLive(t *testing.T) {
	db := openTestDB(t)
	past, future := t0.Add(-time.Minute), t0.Add(time.Minute)
	mustUpdate(t, db, func(tx *boltTx) error {
		return errors.Join(
			tx.PutCeremony(&Ceremony{ID: "cer-old", ExpiresAt: past}),
			tx.PutCeremony(&Ceremony{ID: "cer-new", ExpiresAt: future}),
			tx.PutRevoked("rev-old", past),
			tx.PutRevoked("rev-edge", t0),
			tx.PutRevoked("rev-new", future),
			tx.PutSession(&Session{ID: "ses-old", UserID: "u", ExpiresAt: past}),
			tx.PutSession(&Session{ID: "ses-new", UserID: "u", ExpiresAt: future}),
			tx.PutSession(&Session{ID: "ses-forever", UserID: "u"}),
			// A session's tokens expire with it (the service gives them the
			// session's expiry) and are swept on their own index, by the
			// hour: these expiries are on the hour, so swept at once.
			tx.PutRefreshToken(&RefreshToken{Hash: "rt-of-old-session", SessionID: "ses-old", ExpiresAt: t0.Truncate(time.Hour)}),
			tx.PutRefreshToken(&RefreshToken{Hash: "rt-old", SessionID: "ses-new", ExpiresAt: t0.Truncate(time.Hour).Add(-time.Hour)}),
			tx.PutRefreshToken(&RefreshToken{Hash: "rt-new", SessionID: "ses-new", ExpiresAt: future}),
		)
	})

	removed, err := db.Sweep(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	// cer-old, rev-old, rev-edge, ses-old, rt-of-old-session, rt-old.
	if removed != 6 {
		t.Errorf("removed = %d, want 6", removed)
	}

	type check struct {
		name string
		find func(tx *boltTx) error
		gone bool
	}
	checks := []check{
		{"expired ceremony is removed", func(tx *boltTx) error { return rawGet(tx, bucketCeremonies, "cer-old") }, true},
		{"live ceremony is kept", func(tx *boltTx) error { _, err := tx.Ceremony("cer-new", t0); return err }, false},
		{"expired session is removed", func(tx *boltTx) error { _, err := tx.Session("ses-old"); return err }, true},
		{"live session is kept", func(tx *boltTx) error { _, err := tx.Session("ses-new"); return err }, false},
		{"session without expiry is kept", func(tx *boltTx) error { _, err := tx.Session("ses-forever"); return err }, false},
		{"token of expired session is removed", func(tx *boltTx) error { _, err := tx.RefreshToken("rt-of-old-session"); return err }, true},
		{"expired refresh token is removed", func(tx *boltTx) error { _, err := tx.RefreshToken("rt-old"); return err }, true},
		{"live refresh token is kept", func(tx *boltTx) error { _, err := tx.RefreshToken("rt-new"); return err }, false},
		{"expired revocation is removed", func(tx *boltTx) error { return rawGet(tx, bucketRevoked, "rev-old") }, true},
		{"revocation ending now is removed", func(tx *boltTx) error { return rawGet(tx, bucketRevoked, "rev-edge") }, true},
		{"live revocation is kept", func(tx *boltTx) error { return rawGet(tx, bucketRevoked, "rev-new") }, false},
	}
	mustView(t, db, func(tx *boltTx) error {
		for _, c := range checks {
			err := c.find(tx)
			switch {
			case c.gone && !errors.Is(err, ErrNotFound):
				t.Errorf("%s: err = %v, want ErrNotFound", c.name, err)
			case !c.gone && err != nil:
				t.Errorf("%s: err = %v", c.name, err)
			}
		}
		sessions, err := tx.SessionsByUser("u")
		if err != nil {
			return err
		}
		if len(sessions) != 2 {
			t.Errorf("user index lists %d sessions, want 2", len(sessions))
		}
		for _, index := range [][]byte{bucketCeremonyExpiry, bucketRevokedExpiry, bucketSessionExpiry, bucketRefreshExpiry} {
			if n := tx.btx.Bucket(index).Stats().KeyN; n != 1 {
				t.Errorf("%s has %d entries after sweep, want 1", index, n)
			}
		}
		return nil
	})

	again, err := db.Sweep(t.Context(), t0)
	if err != nil || again != 0 {
		t.Fatalf("second sweep removed %d (err %v), want 0", again, err)
	}
}

// rawGet reports whether key exists in bucket, as ErrNotFound or nil.
func rawGet(tx *boltTx, bucket []byte, key string) error {
	if tx.btx.Bucket(bucket).Get([]byte(key)) == nil {
		return ErrNotFound
	}
	return nil
}

func TestSweepClearsBacklogLargerThanOneChunk(t *testing.T) {
	db := openTestDB(t)
	const n = sweepChunk + 10
	mustUpdate(t, db, func(tx *boltTx) error {
		for i := range n {
			if err := tx.PutRevoked(fmt.Sprint("jti-", i), t0); err != nil {
				return err
			}
		}
		return nil
	})
	removed, err := db.Sweep(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if removed != n {
		t.Fatalf("removed = %d, want %d", removed, n)
	}
}

func TestRunSweeperSweepsUntilCancelled(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutRevoked("old", t0) })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		db.RunSweeper(ctx, time.Millisecond, func() time.Time { return t0.Add(time.Hour) })
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left int
		mustView(t, db, func(tx *boltTx) error { left = tx.btx.Bucket(bucketRevoked).Stats().KeyN; return nil })
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sweeper did not remove the expired entry")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunSweeper did not return after cancel")
	}
}
