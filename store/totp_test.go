package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestTOTPRoundTrip(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u1")
	want := TOTP{
		UserID: "u1", Secret: []byte("seed"), Confirmed: true, CreatedAt: t0,
		LastStep: 12345, Failures: 2, Lockouts: 1, LockedUntil: t0.Add(time.Minute),
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutTOTP(&want) })
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.TOTP("u1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteTOTP("u1") })
	tests := []struct {
		name string
		call func(tx Tx) error
	}{
		{"deleted factor is not found", func(tx Tx) error { _, err := tx.TOTP("u1"); return err }},
		{"deleting again is not found", func(tx Tx) error { return tx.DeleteTOTP("u1") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.Update(t.Context(), tt.call); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestPutTOTPWithoutSecretIsRefused(t *testing.T) {
	db := openTestDB(t)
	if err := db.Update(t.Context(), func(tx Tx) error { return tx.PutTOTP(&TOTP{UserID: "u"}) }); err == nil {
		t.Fatal("PutTOTP accepted a factor without secret")
	}
}

// TestTOTPStatusLeavesTheSecretSealed checks the status read: the same
// throttling state as TOTP, and no secret.
func TestTOTPStatusLeavesTheSecretSealed(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u1")
	want := TOTP{UserID: "u1", Secret: []byte("seed"), Confirmed: true, Lockouts: 2}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutTOTP(&want) })
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.TOTPStatus("u1")
		if err != nil || !got.Confirmed || got.Lockouts != 2 || got.Secret != nil {
			t.Errorf("TOTPStatus = %+v, %v", got, err)
		}
		if _, err := tx.TOTPStatus("u2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("TOTPStatus of a user without one: %v", err)
		}
		return nil
	})
}
