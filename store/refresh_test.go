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

func TestDeleteSessionRefreshTokensRemovesOnlyThatSession(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *Tx) error {
		for _, rt := range []RefreshToken{
			{Hash: "a1", SessionID: "s1", UserID: "u", ExpiresAt: t0},
			{Hash: "a2", SessionID: "s1", UserID: "u", ExpiresAt: t0},
			{Hash: "b1", SessionID: "s10", UserID: "u", ExpiresAt: t0},
		} {
			if err := tx.PutRefreshToken(&rt); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error { return tx.DeleteSessionRefreshTokens("s1") })
	mustView(t, db, func(tx *Tx) error {
		tests := []struct {
			hash string
			want error
		}{
			{"a1", ErrNotFound},
			{"a2", ErrNotFound},
			{"b1", nil},
		}
		for _, tt := range tests {
			_, err := tx.RefreshToken(tt.hash)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("token %s: err = %v, want %v", tt.hash, err, tt.want)
			}
		}
		if n := tx.btx.Bucket(bucketRefreshExpiry).Stats().KeyN; n != 1 {
			t.Errorf("refresh expiry index has %d entries, want 1", n)
		}
		return nil
	})
}
