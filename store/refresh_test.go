package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRefreshTokenRoundTrip(t *testing.T) {
	db := openTestDB(t)
	want := RefreshToken{
		Hash: "h1", SessionID: "s1", UserID: "u1", ClientID: "app", Scope: "openid",
		JKT: "jkt", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), RotatedAt: t0.Add(time.Minute),
	}
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutRefreshToken(&want) })
	mustView(t, db, func(tx *Tx) error {
		got, err := tx.RefreshToken("h1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		if _, err := tx.RefreshToken("unknown"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown hash: err = %v", err)
		}
		return nil
	})
}

func TestRotateRefreshToken(t *testing.T) {
	db := openTestDB(t)
	exp := t0.Add(time.Hour)
	mustUpdate(t, db, func(tx *Tx) error {
		return tx.PutRefreshToken(&RefreshToken{Hash: "old", SessionID: "s", UserID: "u", ExpiresAt: exp})
	})
	mustUpdate(t, db, func(tx *Tx) error {
		old, err := tx.RefreshToken("old")
		if err != nil {
			return err
		}
		return tx.RotateRefreshToken(old, t0, &RefreshToken{Hash: "new", SessionID: "s", UserID: "u", ExpiresAt: exp})
	})
	mustView(t, db, func(tx *Tx) error {
		old, err := tx.RefreshToken("old")
		if err != nil || !old.RotatedAt.Equal(t0) || !old.ExpiresAt.Equal(exp) {
			t.Errorf("old token after rotation: %+v, %v", old, err)
		}
		if next, err := tx.RefreshToken("new"); err != nil || !next.RotatedAt.IsZero() {
			t.Errorf("new token: %+v, %v", next, err)
		}
		if n := tx.btx.Bucket(bucketRefreshExpiry).Stats().KeyN; n != 2 {
			t.Errorf("refresh expiry index has %d entries, want 2", n)
		}
		return nil
	})
	// Both expire and are swept together.
	if n, err := db.Sweep(t.Context(), exp); err != nil || n != 2 {
		t.Fatalf("sweep removed %d, %v; want 2", n, err)
	}
}
