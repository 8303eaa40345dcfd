package store_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/storetest"
)

// BenchmarkSignInWrites measures the store's share of one passkey
// sign-in: the ceremony put and taken, the user read, the passkey's
// counter updated, the session put and the audit event appended, in one
// Update. store/postgres has the same benchmark, for the ratio of the two
// backends.
func BenchmarkSignInWrites(b *testing.B) {
	open := func(b *testing.B) store.Store {
		db, err := store.Open(store.Options{Path: filepath.Join(b.TempDir(), "latch.db"), KEK: bytes.Repeat([]byte{1}, store.KeySize)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		return db
	}
	b.Run("serial", func(b *testing.B) { storetest.BenchSignIn(b, open(b), 1) })
	b.Run("parallel16", func(b *testing.B) { storetest.BenchSignIn(b, open(b), 16) })
}
