package postgres_test

import (
	"github.com/latchid/latch/store/postgres/pgtest"
	"testing"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/storetest"
)

// BenchmarkSignInWrites measures the store's share of one passkey
// sign-in: the ceremony put and taken, the user read, the passkey's
// counter updated, the session put and the audit event appended, in one
// Update; the same benchmark as the bbolt store's, for the ratio of the
// two backends.
func BenchmarkSignInWrites(b *testing.B) {
	open := func(b *testing.B) store.Store { return open(b, pgtest.URL(b)) }
	b.Run("serial", func(b *testing.B) { storetest.BenchSignIn(b, open(b), 1) })
	b.Run("parallel16", func(b *testing.B) { storetest.BenchSignIn(b, open(b), 16) })
}
