// Package store persists Latch's records in a single bbolt file.
//
// The store owns the records and their encoding; the service layer composes
// operations on them inside transactions obtained from [DB.Update] and
// [DB.View]. The hot records (users, credentials, sessions, audit events)
// are in a compact binary encoding, the rest JSON with a version field
// ("v":1), so later fields can be added without migrations (codec.go). Secrets (signing keys, TOTP seeds)
// are sealed with AES-256-GCM under a key-encryption key before they reach
// the file. Records are keyed so that the ones written together share pages:
// an account (user, passkeys, session list) is one run of keys (see
// accounts.go), and sessions and refresh tokens have time-ordered keys. A
// file in an earlier layout is moved over at Open (see migrate.go).
//
// Writes go through a single writer goroutine that commits whatever is
// queued in one fsync'd transaction (natural group commit), so many
// concurrent callers share the cost of one fsync while each still returns
// only after its write is durable.
package store
