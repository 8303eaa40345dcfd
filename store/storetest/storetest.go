// Package storetest is the conformance suite of Latch's store: the
// behaviour every backend of [store.Store] must show, checked through the
// exported API only. A backend's tests call [Run] with a function that
// opens a new, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openEmpty(t) })
//	}
//
// Every test uses fixed times (T0 and offsets from it), never the wall
// clock, and every one of them can fail. The store may run an Update's fn
// more than once; no test counts on it running once.
//
// Beyond the contract written on store.Store, the suite holds a backend to
// what the service relies on and the bbolt store does:
//   - Identifiers (user, session, credential, client, ceremony and
//     revocation ids, usernames, handles, refresh token hashes) of 1 to
//     1024 bytes are accepted, and longer or empty ones refused with an
//     error; a lookup of an empty or oversized one is ErrNotFound.
//   - Lists come in a fixed order: users by username and clients by id in
//     byte order (not a locale's collation), consents by client id,
//     credentials, sessions and signing keys oldest first (then by id),
//     refresh tokens scanned by hash, audit events by position.
//   - Strings and byte slices round trip byte for byte, invalid UTF-8
//     included (an audit detail value of "\xff"), and times come back in
//     UTC, equal to the instant written. Every time the suite stores is a
//     whole microsecond, so a backend may keep microseconds only.
//   - Expiry is at the instant: a ceremony is refused and swept, and a
//     blacklist entry, session or pending ceremony swept, at now ==
//     ExpiresAt (or until). A refresh token is never swept before its
//     expiry and always by an hour after it (bbolt sweeps them by the
//     hour). Sweep returns the number of records it removed.
//   - Audit positions are dense from 1: an event of a rolled-back
//     transaction leaves no gap.
//   - Pending ceremonies are put in the order they expire, as the service
//     does (they all live the same time); a store may sweep them in the
//     order they were put.
//   - DeleteUser removes the account's passkeys, sessions, TOTP factor,
//     recovery codes, sign-in failures and consents, and keeps the
//     blacklist and the audit log.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

// T0 is the fixed reference time of the suite; no test depends on the wall
// clock.
var T0 = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)

// opener makes a new, empty store for one test and closes it when the
// test ends (t.Cleanup): the function given to Run.
type opener func(t *testing.T) store.Store

// Run runs every conformance test against stores made by open (a new,
// empty store per call).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name string
		run  func(t *testing.T, open opener)
	}{
		{"Users", testUsers},
		{"Credentials", testCredentials},
		{"Sessions", testSessions},
		{"RefreshTokens", testRefreshTokens},
		{"Blacklist", testBlacklist},
		{"Ceremonies", testCeremonies},
		{"Audit", testAudit},
		{"SigningKeys", testSigningKeys},
		{"Clients", testClients},
		{"Consents", testConsents},
		{"TOTP", testTOTP},
		{"RecoveryCodes", testRecoveryCodes},
		{"SignInFailures", testSignInFailures},
		{"StatusLists", testStatusLists},
		{"Sweep", testSweep},
		{"Transactions", testTransactions},
		{"Concurrency", testConcurrency},
		{"Copies", testCopies},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, open) })
	}
}

// cases runs each named case as a subtest.
func cases(t *testing.T, open opener, tests map[string]func(t *testing.T, s store.Store)) {
	t.Helper()
	for _, name := range sortedKeys(tests) {
		fn := tests[name]
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
}

// mustUpdate runs fn in a write transaction and fails the test on error.
func mustUpdate(tb testing.TB, s store.Store, fn func(tx store.Tx) error) {
	tb.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

// mustView runs fn in a read transaction and fails the test on error.
func mustView(tb testing.TB, s store.Store, fn func(tx store.Tx) error) {
	tb.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

// putUsers creates a bare account for each id: passkeys and TOTP factors
// can only be stored under an existing account.
func putUsers(tb testing.TB, s store.Store, ids ...string) {
	tb.Helper()
	mustUpdate(tb, s, func(tx store.Tx) error {
		for _, id := range ids {
			if err := tx.PutUser(&store.User{ID: id, Handle: []byte(id), Username: "u:" + id[:min(len(id), 64)]}); err != nil {
				return err
			}
		}
		return nil
	})
}

// second returns the error of a two-value call.
func second[T any](_ T, err error) error { return err }
