package store

import (
	"path/filepath"
	"testing"
)

// TestSignInFailuresPersistAndAClearedStateLeavesNoEntry: the state
// survives a reopen of the file, and a zero state leaves no entry behind.
// (What the state reads as, and that it goes with its account, is checked
// by the conformance suite, store/storetest.)
func TestSignInFailuresPersistAndAClearedStateLeavesNoEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db := openAt(t, path)
	putTestUsers(t, db, "u1")
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
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutSignInFailures(&SignInFailures{UserID: "u1"}) })
	mustView(t, db, func(tx *boltTx) error {
		if tx.raw(bucketAccounts, entryKey("u1", entrySignInFailures, nil)) != nil {
			t.Fatal("a cleared state is still stored")
		}
		return nil
	})
}
