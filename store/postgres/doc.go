// Package postgres keeps Latch's store in a PostgreSQL database that
// several nodes share: a [store.Store] and a [store.Shared], behaving as
// the bbolt store does (store/storetest checks both). It is the only
// package that imports the driver (github.com/jackc/pgx/v5).
//
// # Schema
//
// Open creates and migrates the schema: under pg_advisory_lock, so that
// nodes starting together migrate once, it applies the migrations not yet
// listed in latch_schema_migrations, each in a transaction with its row.
// It then checks the key: latch_meta holds a constant sealed under the
// key-encryption key, and another key is refused with store.ErrWrongKey.
//
// A table per kind of record, with the columns that find it (primary and
// unique keys, the owning user, an expiry) and rec, the record itself:
// CBOR of the record struct (JSON's names and data model, and a "v"
// version field), which keeps strings that are not UTF-8 exactly. Ids and
// keys are bytea, so that order is byte order, as in the bbolt file, and
// times compared in SQL are Unix nanoseconds (bigint). TOTP seeds and
// signing keys are sealed with AES-256-GCM under the key-encryption key,
// bound to their kind and id, with the bbolt store's own sealing
// (store.Sealer).
//
//	users            id, username (unique), handle (unique, an own-id one too)
//	credentials      id, user_id -> users ON DELETE CASCADE
//	totp, recovery_codes, signin_failures
//	                 user_id -> users ON DELETE CASCADE
//	sessions         id, user_id (never changes: a trigger), expires_ns
//	refresh_tokens   hash, sweep_ns (the end of the expiry's hour, as bbolt)
//	revoked          key, until_ns
//	ceremonies       id, expires_ns (codes, PAR requests, recovery links)
//	pending          id, expires_ns (WebAuthn ceremonies; UNLOGGED)
//	audit            seq, mac; audit_queue id (bigserial); audit_head
//	signing_keys, clients   id
//	consents         (user_id, client_id)
//	status_lists     id; status_entries (list_id, idx), status
//	spent            key, until_ns (SpendOnce)
//	latch_meta       name -> value (key check, current status list, probe)
//
// DeleteUser deletes the user row, which cascades to what needs an
// account, and in the same statement the user's sessions and consents.
// pending is UNLOGGED: a ceremony is a challenge answered within seconds,
// and a crash of the database losing the ones in flight costs their users
// a retry, as a crash of a bbolt node does (it holds them in memory). A
// take is one DELETE ... RETURNING, so a ceremony begun on any node is
// finished once, on any node.
//
// # Isolation
//
// Update runs its function in a SERIALIZABLE transaction, so what it read
// is still true when its writes commit, whichever node wrote meanwhile: of
// two nodes rotating one refresh token, both having read it unrotated,
// PostgreSQL commits one and fails the other with a serialisation failure.
// Update then runs the function again, and this run reads the token
// rotated: reuse detected. The first three runs are optimistic, after a
// jittered back-off growing from 1ms; an Update that lost three times is
// contended (many writers of one row, such as one passkey's counter) and
// could starve, so it then takes turns with the cluster's other contended
// Updates: one per node waits for a session-level advisory lock, taken
// before BEGIN so that its snapshot begins after the previous holder's
// commit, and holds it for its remaining runs (40 in all). Deadlocks
// (40P01) and unique violations are retried the same
// way (a run that sees the row another transaction committed answers
// ErrUsernameTaken and the like itself, from its own read); a unique
// violation left after the last run is translated into the store's error.
// Most writes are one statement each (an upsert with its condition: a
// passkey's owner, a blacklist entry that only grows; a session's user is
// kept by the trigger of migration 2). A transaction is pipelined on its
// connection: BEGIN, and the writes whose answer the function does not
// look at (sessions, refresh tokens, ceremonies, audit events, change
// notices), wait for the next statement or the COMMIT and go to the
// server in its round trip; so does a passkey's update when the
// transaction read that passkey, for its owner (the sign-in's counter),
// since then nothing can make it write no row. With SignInState's one
// joined read, a sign-in's Update takes three round trips. A queued write
// that fails fails that round trip and the transaction. Each round trip
// may take as long as its statements each may (statement_timeout), and
// the one that carries the COMMIT is not cut short by the caller's
// context: once the function has returned, Update waits for the commit. View is REPEATABLE READ,
// READ ONLY: one snapshot, never blocking writers. A statement failing
// aborts the transaction, whatever the function makes of the error, and
// Update returns that error.
//
// Every connection has statement_timeout and lock_timeout set to
// Options.StatementTimeout, and each statement and connection wait is
// bounded by it: while the database is away, calls fail with errors
// wrapping store.ErrWriteFailed within that time, and succeed again once
// it is back. WriteHealth, Ping and ProbeWrite report it.
//
// # The audit chain
//
// One chain, as in bbolt: event seq carries store.AuditMAC over its
// position, the previous event's MAC and its fields; audit_head holds the
// chain's first and last positions and the last MAC. Appending in the
// sign-in's own transaction would make every sign-in on every node update
// that one head row: each would wait for the previous one's commit, and
// under SERIALIZABLE most would fail and run again. So AppendAudit inserts
// into audit_queue (a sequence key; concurrent inserts share no row), and
// after the commit Update chains what is queued: a READ COMMITTED
// transaction under a transaction-scoped advisory lock (one chainer in the
// cluster at a time, reading the head its predecessor committed) moves up
// to 1000 queued events, in queue order, into audit with their positions
// and MACs and moves the head. Callers waiting for the lock find their
// events chained already, so under load one chaining transaction serves
// many sign-ins. It does not wait for its flush: a crash losing it also
// undoes its taking the events from the queue, and they chain again, in
// the same order after the same head. Events whose chaining failed (the
// database went away between the two transactions) stay queued, durable,
// until the next Update that audits, Sweep or Open chains them; reads see
// chained events only.
//
// # Several nodes
//
// Watch listens on a connection of its own for the notifications that
// writes send with pg_notify inside their transactions (so they fire at
// commit, and not at all for a rollback): users and their factors,
// blacklist entries, signing keys, clients. It reports ChangeResync first
// and after every reconnection. SpendOnce is an INSERT ... ON CONFLICT DO
// UPDATE ... WHERE expired into spent: exactly one of concurrent calls
// wins, and an expired key is taken over. Sweep deletes every kind of
// expired row in chunks; every node may run the sweeper.
package postgres
