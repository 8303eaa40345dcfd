package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"
)

// testKEK is a fixed key so tests can reopen a database with it.
var testKEK = bytes.Repeat([]byte{0x42}, KeySize)

// t0 is a fixed reference time; tests never depend on the wall clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)

// openTestDB opens a fresh database in a temporary directory and closes it
// when the test ends.
func openTestDB(tb testing.TB) *DB {
	tb.Helper()
	return openAt(tb, filepath.Join(tb.TempDir(), "latch.db"))
}

// openAt opens the database at path and closes it when the test ends.
func openAt(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// mustUpdate runs fn in a write transaction and fails the test on error.
func mustUpdate(tb testing.TB, db *DB, fn func(tx *boltTx) error) {
	tb.Helper()
	if err := db.update(context.Background(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

// mustView runs fn in a read transaction and fails the test on error.
func mustView(tb testing.TB, db *DB, fn func(tx *boltTx) error) {
	tb.Helper()
	if err := db.View(context.Background(), func(tx Tx) error { return fn(tx.(*boltTx)) }); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

// putTestUsers creates a bare account for each id: passkeys and TOTP
// factors can only be stored under an existing account.
func putTestUsers(tb testing.TB, db *DB, ids ...string) {
	tb.Helper()
	mustUpdate(tb, db, func(tx *boltTx) error {
		for _, id := range ids {
			if err := tx.PutUser(&User{ID: id, Handle: []byte(id), Username: "u:" + id[:min(len(id), 64)]}); err != nil {
				return err
			}
		}
		return nil
	})
}
