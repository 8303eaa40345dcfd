package store

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestSignInFailuresPersistAndGoWithTheAccount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	putTestUsers(t, db, "u1")
	mustView(t, db, func(tx *boltTx) error {
		f, err := tx.SignInFailures("u1")
		if err != nil || f.UserID != "u1" || f.Failures != 0 {
			t.Fatalf("fresh state %+v, %v", f, err)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutSignInFailures(&SignInFailures{UserID: "u1", Failures: 3, Lockouts: 1, LockedUntil: t0})
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	mustView(t, db, func(tx *boltTx) error {
		f, err := tx.SignInFailures("u1")
		if err != nil || f.Failures != 3 || f.Lockouts != 1 || !f.LockedUntil.Equal(t0) {
			t.Fatalf("after reopening: %+v, %v", f, err)
		}
		// The entry is no passkey and no session of the account.
		if creds, err := tx.CredentialsByUser("u1"); err != nil || len(creds) != 0 {
			t.Fatalf("credentials %v, %v", creds, err)
		}
		return nil
	})
	err = db.Update(t.Context(), func(tx Tx) error { return tx.PutSignInFailures(&SignInFailures{UserID: "nobody", Failures: 1}) })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("state for a missing account: %v", err)
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteUser("u1") })
	putTestUsers(t, db, "u1")
	mustView(t, db, func(tx *boltTx) error {
		if f, _ := tx.SignInFailures("u1"); f.Failures != 0 || f.Lockouts != 0 {
			t.Fatalf("a deleted account's state came back: %+v", f)
		}
		return nil
	})
	// A zero state leaves no entry behind.
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutSignInFailures(&SignInFailures{UserID: "u1", Failures: 1}) })
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutSignInFailures(&SignInFailures{UserID: "u1"}) })
	mustView(t, db, func(tx *boltTx) error {
		if tx.raw(bucketAccounts, entryKey("u1", entrySignInFailures, nil)) != nil {
			t.Fatal("a cleared state is still stored")
		}
		return nil
	})
}
