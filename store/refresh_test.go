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
